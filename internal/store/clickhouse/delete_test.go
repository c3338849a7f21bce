package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

func TestInstallKeyMatchesServer(t *testing.T) {
	admin, closeAdmin := newAdmin(serverURL(t))
	defer closeAdmin()

	// Lengths 0 to 17 cover an empty last word, a full one and a partial
	// one after one and two whole words.
	inputs := []string{"", "a", "abcdefg", "abcdefgh", "abcdefghi", "abcdefghijklmnop", "abcdefghijklmnopq",
		"00000000-0000-4000-8000-000000000001", "ünïcode ✓", strings.Repeat("x", 300)}
	for _, input := range inputs {
		rows, err := admin.query(t.Context(), "SELECT toString(sipHash64("+quoteString(input)+"))")
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint(installKey(input)); len(rows) != 1 || rows[0][0] != want {
			t.Errorf("server sipHash64(%q) = %q, installKey = %s", input, rows, want)
		}
	}
}

// requireQueryLog skips the test on a server that keeps no
// system.query_log, which scripts/test.sh marks for its chDB shim.
func requireQueryLog(t *testing.T) {
	t.Helper()
	if os.Getenv("CANDOR_CLICKHOUSE_NO_QUERY_LOG") != "" {
		t.Skip("CANDOR_CLICKHOUSE_NO_QUERY_LOG is set: the server keeps no system.query_log")
	}
}

// logQueriesTransport sends every request with log_queries=1, which current
// ClickHouse releases have on by default and 18.16 has off, so that
// system.query_log records each statement the Store sends.
type logQueriesTransport struct {
	base http.RoundTripper
}

func (l logQueriesTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/ping") {
		// 18.16 serves /ping only without a query string.
		return l.base.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	query := r.URL.Query()
	query.Set("log_queries", "1")
	r.URL.RawQuery = query.Encode()
	return l.base.RoundTrip(r)
}

// TestDeleteInstallLeavesNoID registers, reads and deletes an install the
// way the collector's deletion routes do, and checks that neither
// system.mutations nor system.query_log contains the install ID afterwards.
func TestDeleteInstallLeavesNoID(t *testing.T) {
	for _, sync := range []bool{true, false} {
		t.Run(fmt.Sprintf("mutations_sync=%v", sync), func(t *testing.T) {
			testDeleteInstallLeavesNoID(t, sync)
		})
	}
}

func testDeleteInstallLeavesNoID(t *testing.T, mutationsSync bool) {
	requireQueryLog(t)
	database := newDatabase(t)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	s := openTest(t, database, Config{HTTPClient: &http.Client{Transport: logQueriesTransport{transport}}})
	s.mutationsSync = s.mutationsSync && mutationsSync
	ctx := t.Context()

	random := make([]byte, 8)
	rand.Read(random)
	install := "install-" + hex.EncodeToString(random)
	events := testEvents(0, 20)
	for i := range 3 {
		events[i].DistinctID = install
	}
	if _, err := s.Insert(ctx, events); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	if err := s.RegisterInstallSecret(ctx, "mux", install, "hash-1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterInstallSecret(ctx, "mux", "install-1", "hash-2", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if hash, err := s.InstallSecretHash(ctx, "mux", install); err != nil || hash != "hash-1" {
		t.Fatalf("InstallSecretHash = %q, %v; want hash-1", hash, err)
	}
	if err := s.RegisterInstallSecret(ctx, "mux", install, "hash-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("RegisterInstallSecret with a renewal: %v", err)
	}

	deleted, err := s.DeleteInstall(ctx, "mux", install)
	if err != nil {
		t.Fatalf("DeleteInstall: %v", err)
	}
	if deleted != 3 {
		t.Errorf("DeleteInstall deleted %d events, want 3", deleted)
	}
	if err := s.DeleteInstallSecret(ctx, "mux", install); err != nil {
		t.Fatalf("DeleteInstallSecret: %v", err)
	}
	if _, err := s.InstallSecretHash(ctx, "mux", install); !errors.Is(err, store.ErrSecretNotFound) {
		t.Errorf("InstallSecretHash after the deletion = %v, want store.ErrSecretNotFound", err)
	}
	if hash, err := s.InstallSecretHash(ctx, "mux", "install-1"); err != nil || hash != "hash-2" {
		t.Errorf("InstallSecretHash of another install = %q, %v; want hash-2", hash, err)
	}
	if got := mustOverview(t, s, store.Filter{}).TotalEvents; got != 17 {
		t.Errorf("TotalEvents after the deletion = %d, want 17", got)
	}

	admin, closeAdmin := newAdmin(serverURL(t))
	defer closeAdmin()
	// The checks name the ID as unhex(...), so that their own text, which
	// query_log records too, does not contain it.
	idBytes := "unhex('" + hex.EncodeToString([]byte(install)) + "')"
	inDatabase := "database = " + quoteString(database)
	if n := countRows(t, admin, "system.mutations WHERE "+inDatabase); n < 2 {
		t.Errorf("system.mutations has %d mutations of %s, want at least 2: one per table", n, database)
	}
	if n := countRows(t, admin, "system.mutations WHERE "+inDatabase+" AND position(command, "+idBytes+") > 0"); n != 0 {
		t.Errorf("system.mutations has %d mutations whose command contains the install ID", n)
	}

	if err := admin.exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, admin, "system.query_log WHERE position(query, "+quoteString(database)+") > 0"); n == 0 {
		t.Errorf("system.query_log has no query of %s: the test expects log_queries to record them", database)
	}
	if n := countRows(t, admin, "system.query_log WHERE position(query, "+idBytes+") > 0"); n != 0 {
		t.Errorf("system.query_log has %d queries that contain the install ID", n)
	}
}

// countRows returns the result of SELECT count() FROM from.
func countRows(t *testing.T, c *client, from string) int {
	t.Helper()
	rows, err := c.query(context.Background(), "SELECT count() FROM "+from)
	if err != nil {
		t.Fatalf("count rows of %s: %v", from, err)
	}
	var n int
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("count rows of %s: unexpected result %q", from, rows)
	}
	fmt.Sscan(rows[0][0], &n)
	return n
}
