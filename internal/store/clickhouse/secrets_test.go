package clickhouse

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/storetest"
)

func TestSecretsConformance(t *testing.T) {
	serverURL(t)
	storetest.RunSecrets(t, func(t *testing.T) store.Store {
		return openTest(t, newDatabase(t), Config{})
	})
}

func TestSecretsConformancePolledMutations(t *testing.T) {
	serverURL(t)
	storetest.RunSecrets(t, func(t *testing.T) store.Store {
		s := openTest(t, newDatabase(t), Config{})
		s.mutationsSync = false
		return s
	})
}

// TestSecretsFirstAcrossStores registers one install through two stores
// that share a database, as two collectors do, and checks that both read
// the first hash.
func TestSecretsFirstAcrossStores(t *testing.T) {
	database := newDatabase(t)
	first := openTest(t, database, Config{})
	second := openTest(t, database, Config{})
	ctx := t.Context()

	if err := first.RegisterInstallSecret(ctx, "mux", "a", "hash-1"); err != nil {
		t.Fatal(err)
	}
	if err := second.RegisterInstallSecret(ctx, "mux", "a", "hash-2"); err != nil {
		t.Fatal(err)
	}
	for i, s := range []*Store{first, second} {
		hash, err := s.InstallSecretHash(ctx, "mux", "a")
		if err != nil || hash != "hash-1" {
			t.Errorf("store %d reads %q, %v; want hash-1", i+1, hash, err)
		}
	}
}

// TestSecretLookupReadsOneGranule fills the secrets table with 50,000
// installs and checks in system.query_log that a hash lookup reads one
// index granule (8,192 rows) rather than every row of the project.
func TestSecretLookupReadsOneGranule(t *testing.T) {
	requireQueryLog(t)
	database := newDatabase(t)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	s := openTest(t, database, Config{HTTPClient: &http.Client{Transport: logQueriesTransport{transport}}})
	ctx := t.Context()
	if err := s.RegisterInstallSecret(ctx, "mux", "install-a", "hash-a"); err != nil {
		t.Fatal(err)
	}
	if err := s.client.exec(ctx, `INSERT INTO `+s.secretsTable()+
		` SELECT 'mux', concat('install-', toString(number)), 'hash', 0 FROM system.numbers LIMIT 50000`); err != nil {
		t.Fatal(err)
	}
	if err := s.client.exec(ctx, `OPTIMIZE TABLE `+s.secretsTable()+` FINAL`); err != nil {
		t.Fatal(err)
	}
	if hash, err := s.InstallSecretHash(ctx, "mux", "install-a"); err != nil || hash != "hash-a" {
		t.Fatalf("InstallSecretHash = %q, %v; want hash-a", hash, err)
	}

	admin, closeAdmin := newAdmin(serverURL(t))
	defer closeAdmin()
	if err := admin.exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		t.Fatal(err)
	}
	rows, err := admin.query(ctx, `SELECT read_rows FROM system.query_log
		WHERE type = 2 AND position(query, `+quoteString(database+"`.install_secrets")+`) > 0
			AND position(query, 'SELECT distinct_id, hash') > 0
		ORDER BY event_time DESC LIMIT 1`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("query_log has no finished lookup of %s: %v", database, rows)
	}
	var read int
	fmt.Sscan(rows[0][0], &read)
	if read > 8192 {
		t.Errorf("the lookup read %d rows of 50,001, want at most one granule of 8,192", read)
	}
}

func TestSecretCopyConformance(t *testing.T) {
	serverURL(t)
	storetest.RunSecretCopy(t, func(t *testing.T) store.Store {
		return openTest(t, newDatabase(t), Config{})
	})
}
