package clickhouse

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

	if err := first.RegisterInstallSecret(ctx, "mux", "a", "hash-1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := second.RegisterInstallSecret(ctx, "mux", "a", "hash-2", time.Time{}); err != nil {
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
	if err := s.RegisterInstallSecret(ctx, "mux", "install-a", "hash-a", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.client.exec(ctx, `INSERT INTO `+s.secretsTable()+
		` SELECT 'mux', concat('install-', toString(number)), 'hash', 0, 0 FROM system.numbers LIMIT 50000`); err != nil {
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

// countingTransport counts the requests other than /ping.
type countingTransport struct {
	base     http.RoundTripper
	requests *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.URL.Path, "/ping") {
		c.requests.Add(1)
	}
	return c.base.RoundTrip(r)
}

// TestSecretRenewalOneRequest checks that registering a new install and
// renewing a stored one each take one request to the server.
func TestSecretRenewalOneRequest(t *testing.T) {
	var requests atomic.Int64
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	s := openTest(t, newDatabase(t), Config{HTTPClient: &http.Client{Transport: countingTransport{transport, &requests}}})
	ctx := t.Context()
	// The first call also creates the table.
	if err := s.RegisterInstallSecret(ctx, "mux", "warm-up", "hash-0", time.Time{}); err != nil {
		t.Fatal(err)
	}

	requests.Store(0)
	if err := s.RegisterInstallSecret(ctx, "mux", "a", "hash-1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got := requests.Load(); got != 1 {
		t.Errorf("requests to register a new install = %d, want 1", got)
	}

	requests.Store(0)
	if err := s.RegisterInstallSecret(ctx, "mux", "a", "hash-2", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := requests.Load(); got != 1 {
		t.Errorf("requests to register and renew a stored install = %d, want 1", got)
	}
}

// TestSecretRenewalsMergeToOneRow renews one install several times and
// checks that the table keeps one row for it once its parts are merged,
// with the first hash and the latest registration time.
func TestSecretRenewalsMergeToOneRow(t *testing.T) {
	s := openTest(t, newDatabase(t), Config{})
	ctx := t.Context()
	if err := s.RegisterInstallSecret(ctx, "mux", "a", "hash-1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	var renewed time.Time
	for i := range 5 {
		renewed = time.Now()
		if err := s.RegisterInstallSecret(ctx, "mux", "a", fmt.Sprintf("hash-%d", i+2), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}

	// OPTIMIZE does nothing while a background merge holds some of the
	// parts, so it is repeated until it merged them into one.
	var rows [][]string
	for range 50 {
		if err := s.client.exec(ctx, `OPTIMIZE TABLE `+s.secretsTable()+` FINAL`); err != nil {
			t.Fatal(err)
		}
		parts, err := s.client.query(ctx, `SELECT count() FROM system.parts WHERE active AND database = `+
			quoteString(s.config.Database)+` AND table = `+quoteString(secretsTableName))
		if err != nil {
			t.Fatal(err)
		}
		rows, err = s.client.query(ctx, `SELECT count() FROM `+s.secretsTable())
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) == 1 && len(parts[0]) == 1 && parts[0][0] == "1" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(rows) != 1 || len(rows[0]) != 1 || rows[0][0] != "1" {
		t.Errorf("rows of one install after 5 renewals and a merge = %v, want 1", rows)
	}
	if hash, err := s.InstallSecretHash(ctx, "mux", "a"); err != nil || hash != "hash-1" {
		t.Errorf("InstallSecretHash after the merge = %q, %v; want hash-1", hash, err)
	}
	var registered time.Time
	err := s.ReadInstallSecrets(ctx, 10, func(secrets []store.InstallSecret) error {
		registered = secrets[0].Registered
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if registered.Before(renewed.Truncate(time.Microsecond)) {
		t.Errorf("registration time after the merge = %s, want the last renewal's, at or after %s", registered, renewed)
	}
}

// TestSecretsMovedFromLegacyTable fills the MergeTree table of earlier
// releases, with a registration, its renewals and a losing registration
// of another hash, and checks that the first call of a Store moves the
// rows and drops that table.
func TestSecretsMovedFromLegacyTable(t *testing.T) {
	s := openTest(t, newDatabase(t), Config{})
	ctx := t.Context()
	legacy := "`" + s.config.Database + "`." + legacySecretsTableName
	if err := s.client.exec(ctx, `CREATE TABLE `+legacy+` (project String, distinct_id String, hash String, registered_us Int64)
		ENGINE = MergeTree ORDER BY (project, distinct_id)`); err != nil {
		t.Fatal(err)
	}
	if err := s.client.exec(ctx, `INSERT INTO `+legacy+` VALUES
		('mux', 'a', 'hash-1', 1000), ('mux', 'a', 'hash-2', 1001), ('mux', 'a', 'hash-1', 2000), ('mux', 'a', 'hash-1', 3000),
		('mux', 'b', 'hash-3', 1500)`); err != nil {
		t.Fatal(err)
	}

	if hash, err := s.InstallSecretHash(ctx, "mux", "a"); err != nil || hash != "hash-1" {
		t.Errorf("InstallSecretHash(mux, a) after the move = %q, %v; want hash-1", hash, err)
	}
	var got []store.InstallSecret
	err := s.ReadInstallSecrets(ctx, 10, func(secrets []store.InstallSecret) error {
		got = append(got, secrets...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.InstallSecret{
		{Project: "mux", DistinctID: "a", Hash: "hash-1", Registered: time.UnixMicro(3000).UTC()},
		{Project: "mux", DistinctID: "b", Hash: "hash-3", Registered: time.UnixMicro(1500).UTC()},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ReadInstallSecrets after the move = %v, want %v", got, want)
	}
	if exists, err := s.legacySecretsExist(ctx); err != nil || exists {
		t.Errorf("legacy table exists after the move = %v, %v; want false, nil", exists, err)
	}
}

// settingTransport adds a ClickHouse setting to every request that does
// not set it, as a settings profile of the server's user would.
type settingTransport struct {
	base        http.RoundTripper
	name, value string
}

func (s settingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/ping") {
		return s.base.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	query := r.URL.Query()
	if !query.Has(s.name) {
		query.Set(s.name, s.value)
	}
	r.URL.RawQuery = query.Encode()
	return s.base.RoundTrip(r)
}

// TestSecretRegisterWithJoinUseNulls registers and renews an install for
// a user whose profile sets join_use_nulls = 1, under which the columns of
// a missing row of a LEFT JOIN read NULL instead of their defaults.
func TestSecretRegisterWithJoinUseNulls(t *testing.T) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: settingTransport{base: transport, name: "join_use_nulls", value: "1"}}
	s := openTest(t, newDatabase(t), Config{HTTPClient: client})
	ctx := t.Context()

	if err := s.RegisterInstallSecret(ctx, "mux", "a", "hash-1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if hash, err := s.InstallSecretHash(ctx, "mux", "a"); err != nil || hash != "hash-1" {
		t.Errorf("InstallSecretHash after the registration = %q, %v; want hash-1", hash, err)
	}
	if err := s.RegisterInstallSecret(ctx, "mux", "a", "hash-2", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if hash, err := s.InstallSecretHash(ctx, "mux", "a"); err != nil || hash != "hash-1" {
		t.Errorf("InstallSecretHash after the renewal = %q, %v; want hash-1", hash, err)
	}
}

// TestSecretsMoveOutlivesCaller moves a legacy table whose copy takes
// longer than the first caller waits. ClickHouse goes on with an INSERT ...
// SELECT whose client went away, so the move must still end with the
// legacy table dropped and one copy of its rows.
func TestSecretsMoveOutlivesCaller(t *testing.T) {
	const installs = 2_000_000
	s := openTest(t, newDatabase(t), Config{})
	ctx := t.Context()
	legacy := "`" + s.config.Database + "`." + legacySecretsTableName
	if err := s.client.exec(ctx, `CREATE TABLE `+legacy+` (project String, distinct_id String, hash String, registered_us Int64)
		ENGINE = MergeTree ORDER BY (project, distinct_id)`); err != nil {
		t.Fatal(err)
	}
	if err := s.client.exec(ctx, fmt.Sprintf(`INSERT INTO %s SELECT 'mux', concat('install-', toString(number)), 'hash', number
		FROM system.numbers LIMIT %d`, legacy, installs)); err != nil {
		t.Fatal(err)
	}

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	// The call may fail once its context has ended, but not the move.
	s.RegisterInstallSecret(short, "mux", "new", "hash-new", time.Time{})

	if exists, err := s.legacySecretsExist(ctx); err != nil || exists {
		t.Errorf("legacy table exists after the first call = %v, %v; want false, nil", exists, err)
	}
	rows, err := s.client.query(ctx, `SELECT count() FROM `+s.secretsTable()+` WHERE distinct_id != 'new'`)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprint(installs); len(rows) != 1 || len(rows[0]) != 1 || rows[0][0] != want {
		t.Errorf("rows moved from the legacy table = %v, want %s", rows, want)
	}
	if err := s.RegisterInstallSecret(ctx, "mux", "new", "hash-new", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if hash, err := s.InstallSecretHash(ctx, "mux", "install-5"); err != nil || hash != "hash" {
		t.Errorf("InstallSecretHash of a moved install = %q, %v; want hash", hash, err)
	}
}
