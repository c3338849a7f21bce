package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/storetest"
)

// urlEnv names the environment variable with the base URL of the ClickHouse
// server the tests use. Tests that need a server skip when it is unset.
const urlEnv = "CANDOR_CLICKHOUSE_URL"

// testFlushInterval keeps tests fast: most of them make one Insert call at
// a time, which waits this long for company.
const testFlushInterval = 5 * time.Millisecond

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// serverURL returns the test server's URL or skips the test.
func serverURL(t testing.TB) string {
	t.Helper()
	serverURL := os.Getenv(urlEnv)
	if serverURL == "" {
		t.Skipf("%s is not set: start a server with scripts/clickhouse.sh start DIR PORT and set %s=http://127.0.0.1:PORT", urlEnv, urlEnv)
	}
	return serverURL
}

// newDatabase returns a database name that no other test uses and drops
// that database when the test ends.
func newDatabase(t *testing.T) string {
	t.Helper()
	serverURL := serverURL(t)
	random := make([]byte, 6)
	rand.Read(random)
	database := "candor_test_" + hex.EncodeToString(random)

	t.Cleanup(func() {
		admin, closeAdmin := newAdmin(serverURL)
		defer closeAdmin()
		if err := admin.exec(context.Background(), "DROP DATABASE IF EXISTS "+database); err != nil {
			t.Errorf("drop test database %s: %v", database, err)
		}
	})
	return database
}

// newAdmin returns a client for statements the Store does not send itself,
// and a function that closes its connections.
func newAdmin(serverURL string) (*client, func()) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	c := &client{url: strings.TrimSuffix(serverURL, "/") + "/", http: &http.Client{Transport: transport}}
	return c, transport.CloseIdleConnections
}

// openTest opens a Store on database with config's other fields and closes
// it when the test ends. A zero FlushInterval becomes testFlushInterval.
func openTest(t *testing.T, database string, config Config) *Store {
	t.Helper()
	config.URL = serverURL(t)
	config.Database = database
	if config.FlushInterval == 0 {
		config.FlushInterval = testFlushInterval
	}
	s, err := Open(context.Background(), config)
	if err != nil {
		t.Fatalf("Open(%+v): %v", config, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	serverURL(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTest(t, newDatabase(t), Config{})
	})
}

// TestConformancePolledMutations runs the suite with the polling of
// system.mutations that servers without mutations_sync need, so that path
// is tested on every server.
func TestConformancePolledMutations(t *testing.T) {
	serverURL(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openTest(t, newDatabase(t), Config{})
		s.mutationsSync = false
		return s
	})
}

func day(hour int) time.Time {
	return time.Date(2025, time.March, 1, hour, 0, 0, 0, time.UTC)
}

func testUUID(n int) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012x", n)
}

// testEvents returns count events of project mux, one second apart, with
// UUIDs testUUID(first) onwards and one install per 10 events.
func testEvents(first, count int) []store.Event {
	events := make([]store.Event, count)
	for i := range events {
		n := first + i
		events[i] = store.Event{
			Project:    "mux",
			UUID:       testUUID(n),
			Name:       "message_sent",
			DistinctID: fmt.Sprintf("install-%d", n/10),
			Timestamp:  day(0).Add(time.Duration(n) * time.Second),
			ReceivedAt: day(0).Add(time.Duration(n) * time.Second),
			Properties: map[string]any{"version": "1.0.0", "backend_platform": "linux"},
		}
	}
	return events
}

func mustOverview(t *testing.T, s store.Store, f store.Filter) store.Overview {
	t.Helper()
	overview, err := s.Overview(context.Background(), f)
	if err != nil {
		t.Fatalf("Overview(%+v): %v", f, err)
	}
	return overview
}

// TestTwoStoresShareDatabase has two Stores, as two collectors would, insert
// overlapping events into one database at the same time.
func TestTwoStoresShareDatabase(t *testing.T) {
	database := newDatabase(t)
	stores := []*Store{
		openTest(t, database, Config{}),
		openTest(t, database, Config{}),
	}

	// Each of 4 goroutines per Store inserts events 0-399 in batches of 20.
	// Goroutine g of either Store starts at event 100*g, so the same UUIDs
	// reach both Stores at the same moment, and each Store's batcher also
	// gets UUIDs that its own other goroutines insert later.
	const unique, batch, perStore = 400, 20, 4
	all := testEvents(0, unique)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var storedSum int
	var errs []error
	for _, s := range stores {
		for g := range perStore {
			wg.Go(func() {
				offset := g * unique / perStore
				for start := 0; start < unique; start += batch {
					begin := (offset + start) % unique
					stored, err := s.Insert(context.Background(), all[begin:begin+batch])
					mu.Lock()
					storedSum += stored
					if err != nil {
						errs = append(errs, err)
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Insert: %v", err)
	}

	// Each Store counts only what it wrote, and both may write an event
	// that neither had seen stored, so the sum may exceed unique.
	t.Logf("Inserts of both Stores stored %d events for %d unique ones", storedSum, unique)
	if storedSum < unique {
		t.Errorf("Inserts of both Stores stored %d events in total, want at least %d", storedSum, unique)
	}
	want := store.Overview{
		TotalEvents: unique,
		Installs:    unique / 10,
		Events:      map[string]int64{"message_sent": unique},
		Versions:    []store.KeyCount{{Key: "1.0.0", Events: unique, Installs: unique / 10}},
		Platforms:   []store.KeyCount{{Key: "linux", Events: unique, Installs: unique / 10}},
	}
	for i, s := range stores {
		if d := cmp.Diff(want, mustOverview(t, s, store.Filter{})); d != "" {
			t.Errorf("Overview of Store %d (-want +got):\n%s", i, d)
		}
		perDay, err := s.EventsPerDay(context.Background(), store.Filter{})
		if err != nil {
			t.Fatalf("EventsPerDay of Store %d: %v", i, err)
		}
		wantPerDay := []store.DayCount{{Day: "2025-03-01", Event: "message_sent", Count: unique}}
		if d := cmp.Diff(wantPerDay, perDay); d != "" {
			t.Errorf("EventsPerDay of Store %d (-want +got):\n%s", i, d)
		}
	}

	// Deleting through one Store counts each event once, too.
	deleted, err := stores[1].DeleteInstall(context.Background(), "mux", "install-0")
	if err != nil {
		t.Fatalf("DeleteInstall: %v", err)
	}
	if deleted != 10 {
		t.Errorf("DeleteInstall deleted %d events, want 10", deleted)
	}
	if got := mustOverview(t, stores[0], store.Filter{}).TotalEvents; got != unique-10 {
		t.Errorf("TotalEvents after DeleteInstall = %d, want %d", got, unique-10)
	}
}

// activeParts returns the number of active data parts of the events table.
// Each INSERT of events from one month writes one part, and merges only
// lower the count.
func activeParts(t *testing.T, database string) int {
	t.Helper()
	admin, closeAdmin := newAdmin(serverURL(t))
	defer closeAdmin()
	rows, err := admin.query(context.Background(),
		`SELECT count() FROM system.parts WHERE database = `+quoteString(database)+` AND table = 'events' AND active`)
	if err != nil {
		t.Fatalf("count parts: %v", err)
	}
	count, err := parseCount(rows[0][0])
	if err != nil {
		t.Fatalf("count parts: %v", err)
	}
	return int(count)
}

func TestConcurrentInsertsShareOneInsert(t *testing.T) {
	database := newDatabase(t)
	s := openTest(t, database, Config{FlushInterval: 500 * time.Millisecond})

	const calls, perCall = 20, 5
	var wg sync.WaitGroup
	stored := make([]int, calls)
	errs := make([]error, calls)
	for i := range calls {
		wg.Go(func() {
			stored[i], errs[i] = s.Insert(context.Background(), testEvents(i*perCall, perCall))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	for i, n := range stored {
		if n != perCall {
			t.Errorf("Insert call %d stored %d events, want %d", i, n, perCall)
		}
	}

	// All calls start within microseconds of each other, so they should
	// share one batch; a slow scheduler may split them into a few.
	if parts := activeParts(t, database); parts > 3 {
		t.Errorf("%d Insert calls wrote %d parts, want at most 3", calls, parts)
	}
}

func TestMaxBatchRowsSendsFullBatch(t *testing.T) {
	s := openTest(t, newDatabase(t), Config{FlushInterval: time.Hour, MaxBatchRows: 10})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stored, err := s.Insert(ctx, testEvents(0, 10))
	if err != nil {
		t.Fatalf("Insert of a full batch: %v", err)
	}
	if stored != 10 {
		t.Errorf("Insert of a full batch stored %d events, want 10", stored)
	}
}

func TestCloseSendsWaitingBatch(t *testing.T) {
	database := newDatabase(t)
	s := openTest(t, database, Config{FlushInterval: time.Hour})

	type result struct {
		stored int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		stored, err := s.Insert(context.Background(), testEvents(0, 3))
		done <- result{stored, err}
	}()

	// Wait until the call holds the Store open. Close then waits for it,
	// and the batcher sends its batch at once instead of after an hour.
	deadline := time.Now().Add(10 * time.Second)
	for s.lifecycle.TryLock() {
		s.lifecycle.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("Insert did not start within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got := <-done
	if got.err != nil || got.stored != 3 {
		t.Fatalf("Insert during Close = %d, %v; want 3, nil", got.stored, got.err)
	}

	reopened := openTest(t, database, Config{})
	if total := mustOverview(t, reopened, store.Filter{}).TotalEvents; total != 3 {
		t.Errorf("TotalEvents after reopening = %d, want 3", total)
	}
}

func TestInsertCanceledWhileWaiting(t *testing.T) {
	s := openTest(t, newDatabase(t), Config{FlushInterval: time.Hour})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := s.Insert(ctx, testEvents(0, 1))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Insert with a deadline before the flush: error %v, want context.DeadlineExceeded", err)
	}
}

// TestSubSecondBounds checks that filters and DeleteBefore compare
// microseconds, although the DateTime column holds whole seconds.
func TestSubSecondBounds(t *testing.T) {
	s := openTest(t, newDatabase(t), Config{})
	events := testEvents(0, 2)
	events[0].Timestamp = day(0).Add(500 * time.Millisecond)
	events[1].Timestamp = day(0).Add(1250 * time.Millisecond)
	if _, err := s.Insert(context.Background(), events); err != nil {
		t.Fatalf("Insert: %v", err)
	}

	tests := []struct {
		name   string
		filter store.Filter
		want   int64
	}{
		{"from at first event", store.Filter{From: events[0].Timestamp}, 2},
		{"from a microsecond later", store.Filter{From: events[0].Timestamp.Add(time.Microsecond)}, 1},
		{"to at second event", store.Filter{To: events[1].Timestamp}, 1},
		{"to a microsecond later", store.Filter{To: events[1].Timestamp.Add(time.Microsecond)}, 2},
		{"within one second", store.Filter{From: day(0).Add(600 * time.Millisecond), To: day(0).Add(900 * time.Millisecond)}, 0},
		{"before 1970", store.Filter{To: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}, 0},
		{"after 2106", store.Filter{From: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}, 0},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if got := mustOverview(t, s, test.filter).TotalEvents; got != test.want {
				t.Errorf("TotalEvents(%+v) = %d, want %d", test.filter, got, test.want)
			}
		})
	}

	deleted, err := s.DeleteBefore(context.Background(), events[1].Timestamp)
	if err != nil {
		t.Fatalf("DeleteBefore: %v", err)
	}
	if deleted != 1 {
		t.Errorf("DeleteBefore(second event) deleted %d events, want 1", deleted)
	}
}

func TestInsertRejectsTimeOutsideDateTime(t *testing.T) {
	s := openTest(t, newDatabase(t), Config{})
	for _, ts := range []time.Time{{}, time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(2107, 1, 1, 0, 0, 0, 0, time.UTC)} {
		events := testEvents(0, 1)
		events[0].Timestamp = ts
		_, err := s.Insert(context.Background(), events)
		if err == nil || !strings.Contains(err.Error(), "DateTime") {
			t.Errorf("Insert with timestamp %s: error %v, want one about DateTime", ts, err)
		}
	}
	if total := mustOverview(t, s, store.Filter{}).TotalEvents; total != 0 {
		t.Errorf("TotalEvents after rejected Inserts = %d, want 0", total)
	}
}

// TestStringsRoundTrip stores values with the characters that SQL literals,
// JSON and TabSeparated escape, and filters on them.
func TestStringsRoundTrip(t *testing.T) {
	s := openTest(t, newDatabase(t), Config{})
	names := []string{"tab\there", "new\nline", `back\slash`, "quote'd", `double"quoted`, "nul\x00byte", "ünïcødé 😀", "<&>", "\\N", ""}
	var events []store.Event
	for i, name := range names {
		e := testEvents(i, 1)[0]
		e.Name = name
		e.Project = name
		e.DistinctID = name
		e.Properties = map[string]any{"version": name, "nested": map[string]any{"k": name}}
		events = append(events, e)
	}
	if _, err := s.Insert(context.Background(), events); err != nil {
		t.Fatalf("Insert: %v", err)
	}

	for _, name := range names {
		f := store.Filter{Project: name, Events: []string{name}}
		overview := mustOverview(t, s, f)
		if overview.TotalEvents != 1 || overview.Events[name] != 1 {
			t.Errorf("Overview(%q) = %+v, want one event named %q", name, overview, name)
		}
		if name != "" && (len(overview.Versions) != 1 || overview.Versions[0].Key != name) {
			t.Errorf("Overview(%q).Versions = %+v, want one row with key %q", name, overview.Versions, name)
		}
		deleted, err := s.DeleteInstall(context.Background(), name, name)
		if err != nil || deleted != 1 {
			t.Errorf("DeleteInstall(%q, %q) = %d, %v; want 1, nil", name, name, deleted, err)
		}
	}
}

func TestOpenMigratesOnce(t *testing.T) {
	database := newDatabase(t)
	first := openTest(t, database, Config{})
	if _, err := first.Insert(context.Background(), testEvents(0, 2)); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	second := openTest(t, database, Config{})

	version, err := second.schemaVersion(context.Background())
	if err != nil {
		t.Fatalf("schemaVersion: %v", err)
	}
	if version != len(migrations) {
		t.Errorf("schema version = %d, want %d", version, len(migrations))
	}
	if total := mustOverview(t, second, store.Filter{}).TotalEvents; total != 2 {
		t.Errorf("TotalEvents seen by a second Store = %d, want 2", total)
	}
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	database := newDatabase(t)
	openTest(t, database, Config{})
	admin, closeAdmin := newAdmin(serverURL(t))
	defer closeAdmin()
	newer := fmt.Sprintf("INSERT INTO %s.schema_version SELECT %d, now()", database, len(migrations)+1)
	if err := admin.exec(context.Background(), newer); err != nil {
		t.Fatalf("record newer schema version: %v", err)
	}

	s, err := Open(context.Background(), Config{URL: serverURL(t), Database: database})
	if err == nil {
		s.Close()
		t.Fatal("Open of a database with a newer schema succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "upgrade candor") {
		t.Errorf("Open of a database with a newer schema: error %q, want it to say to upgrade candor", err)
	}
}

func TestOpenWithoutServer(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	address := listener.Addr().String()
	listener.Close()

	config := Config{URL: "http://" + address}
	_, err = Open(context.Background(), config)
	if err == nil || !strings.Contains(err.Error(), "start clickhouse-server") {
		t.Errorf("Open(%+v) with no server listening: error %v, want one that says to start clickhouse-server", config, err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		config  Config
		wantErr string // empty when the config is valid
	}{
		{"zero", Config{}, ""},
		{"full", Config{URL: "https://127.0.0.1:8443/", Database: "candor_2", FlushInterval: time.Second, MaxBatchRows: 1}, ""},
		{"no scheme", Config{URL: "127.0.0.1:8123"}, "invalid clickhouse URL"},
		{"native port scheme", Config{URL: "tcp://127.0.0.1:9000"}, "invalid clickhouse URL"},
		{"query string", Config{URL: "http://127.0.0.1:8123/?database=x"}, "remove the query string"},
		{"user in URL", Config{URL: "http://alice:secret@127.0.0.1:8123"}, `invalid clickhouse URL "http://alice:xxxxx@127.0.0.1:8123": set User and Password`},
		{"database with dash", Config{Database: "candor-prod"}, "invalid clickhouse database"},
		{"database with backtick", Config{Database: "a`b"}, "invalid clickhouse database"},
		{"database starting with digit", Config{Database: "1candor"}, "invalid clickhouse database"},
		{"system database", Config{Database: "system"}, `invalid clickhouse database "system": the name is reserved by ClickHouse`},
		{"information schema", Config{Database: "information_schema"}, `invalid clickhouse database "information_schema": the name is reserved`},
		{"information schema upper case", Config{Database: "INFORMATION_SCHEMA"}, `invalid clickhouse database "INFORMATION_SCHEMA": the name is reserved`},
		{"negative interval", Config{FlushInterval: -time.Second}, "FlushInterval"},
		{"negative rows", Config{MaxBatchRows: -1}, "MaxBatchRows"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			err := test.config.Validate()
			if test.wantErr == "" {
				if err != nil {
					t.Errorf("Validate(%+v) = %v, want nil", test.config, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), test.wantErr) {
				t.Errorf("Validate(%+v) = %v, want an error containing %q", test.config, err, test.wantErr)
			}
		})
	}
}

// TestQueriesCountDuplicateRowsOnce writes every event three times, as
// collectors racing each other could before ReplacingMergeTree merges
// the parts, and checks that every method counts each event once.
func TestQueriesCountDuplicateRowsOnce(t *testing.T) {
	database := newDatabase(t)
	s := openTest(t, database, Config{})
	ctx := context.Background()
	events := testEvents(0, 20)
	if _, err := s.Insert(ctx, events); err != nil {
		t.Fatalf("Insert: %v", err)
	}

	// Two more INSERTs of the same rows write two more parts, which the
	// server merges only later.
	admin, closeAdmin := newAdmin(serverURL(t))
	defer closeAdmin()
	var rows []byte
	for _, e := range events {
		row, err := encodeRow(e)
		if err != nil {
			t.Fatalf("encodeRow: %v", err)
		}
		rows = append(rows, row...)
	}
	for range 2 {
		if err := admin.insert(ctx, s.events, rows); err != nil {
			t.Fatalf("insert duplicate rows: %v", err)
		}
	}
	physical, err := admin.query(ctx, "SELECT count() FROM "+s.events)
	if err != nil {
		t.Fatalf("count rows: %v", err)
	}
	t.Logf("events table holds %s rows for %d events", physical[0][0], len(events))

	want := store.Overview{
		TotalEvents: 20,
		Installs:    2,
		Events:      map[string]int64{"message_sent": 20},
		Versions:    []store.KeyCount{{Key: "1.0.0", Events: 20, Installs: 2}},
		Platforms:   []store.KeyCount{{Key: "linux", Events: 20, Installs: 2}},
	}
	if d := cmp.Diff(want, mustOverview(t, s, store.Filter{})); d != "" {
		t.Errorf("Overview (-want +got):\n%s", d)
	}
	perDay, err := s.EventsPerDay(ctx, store.Filter{})
	if err != nil {
		t.Fatalf("EventsPerDay: %v", err)
	}
	if d := cmp.Diff([]store.DayCount{{Day: "2025-03-01", Event: "message_sent", Count: 20}}, perDay); d != "" {
		t.Errorf("EventsPerDay (-want +got):\n%s", d)
	}
	installs, err := s.ActiveInstallsPerDay(ctx, store.Filter{})
	if err != nil {
		t.Fatalf("ActiveInstallsPerDay: %v", err)
	}
	if d := cmp.Diff([]store.DayValue{{Day: "2025-03-01", Value: 2}}, installs); d != "" {
		t.Errorf("ActiveInstallsPerDay (-want +got):\n%s", d)
	}

	if stored, err := s.Insert(ctx, events); err != nil || stored != 0 {
		t.Errorf("Insert of stored events = %d, %v; want 0, nil", stored, err)
	}
	deleted, err := s.DeleteInstall(ctx, "mux", "install-0")
	if err != nil || deleted != 10 {
		t.Errorf("DeleteInstall(mux, install-0) = %d, %v; want 10, nil", deleted, err)
	}
	deleted, err = s.DeleteBefore(ctx, day(1))
	if err != nil || deleted != 10 {
		t.Errorf("DeleteBefore = %d, %v; want 10, nil", deleted, err)
	}
}

func TestAnalyticsConformance(t *testing.T) {
	serverURL(t)
	storetest.RunAnalytics(t, func(t *testing.T) store.Store {
		return openTest(t, newDatabase(t), Config{})
	})
}
