package duckdb

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"
	"go.uber.org/goleak"

	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/duckdb/duckdbtest"
	"github.com/candor-dev/candor/internal/store/storetest"
)

func TestMain(m *testing.M) {
	// When lockHolderEnv is set, this binary is the second process of
	// TestOpenLockedByOtherProcess: it holds the file open until stdin closes.
	if path := os.Getenv(lockHolderEnv); path != "" {
		holdLock(path)
		return
	}
	// When crashWriterEnv is set, this binary is the process that
	// TestInsertSurvivesCrash kills right after an Insert returns.
	if path := os.Getenv(crashWriterEnv); path != "" {
		insertAndWait(path, 0)
		return
	}
	// With largeCrashWriterEnv it also inserts largeWALEvents events for
	// TestCrashReplaysLargeWAL.
	if path := os.Getenv(largeCrashWriterEnv); path != "" {
		insertAndWait(path, largeWALEvents)
		return
	}
	goleak.VerifyTestMain(m)
}

func TestConformanceInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return mustOpen(t, "")
	})
}

func TestConformanceFile(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return mustOpen(t, filepath.Join(t.TempDir(), "candor.duckdb"))
	})
}

func mustOpen(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testEvents(count int) []store.Event {
	start := time.Date(2025, time.March, 1, 0, 0, 0, 0, time.UTC)
	events := make([]store.Event, count)
	for i := range events {
		events[i] = store.Event{
			Project:    "mux",
			UUID:       testUUID(i),
			Name:       "message_sent",
			DistinctID: "install-a",
			Timestamp:  start.Add(time.Duration(i) * time.Second),
			ReceivedAt: start.Add(time.Duration(i) * time.Second),
			Properties: map[string]any{"version": "1.0.0", "backend_platform": "linux"},
		}
	}
	return events
}

func TestReopenKeepsEvents(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "candor.duckdb")

	s := mustOpen(t, path)
	if _, err := s.Insert(ctx, testEvents(5)); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	reopened := mustOpen(t, path)
	overview, err := reopened.Overview(ctx, store.Filter{})
	if err != nil {
		t.Fatalf("Overview after reopen: %v", err)
	}
	if overview.TotalEvents != 5 {
		t.Errorf("TotalEvents after reopen = %d, want 5", overview.TotalEvents)
	}
	stored, err := reopened.Insert(ctx, testEvents(6))
	if err != nil {
		t.Fatalf("Insert after reopen: %v", err)
	}
	if stored != 1 {
		t.Errorf("Insert of 5 known and 1 new event after reopen stored %d, want 1", stored)
	}
}

func TestOpenTwiceInProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	mustOpen(t, path)

	second, err := Open(path)
	if err == nil {
		second.Close()
		t.Fatal("second Open of an open file succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "is another candor serve using this data folder?") {
		t.Errorf("second Open error = %q, want it to name the likely cause", err)
	}
}

func TestOpenInvalidPath(t *testing.T) {
	for _, path := range []string{
		filepath.Join(t.TempDir(), "what?.duckdb"),
		filepath.Join(t.TempDir(), "issue#1.duckdb"),
		filepath.Join(t.TempDir(), "100%.duckdb"),
		filepath.Join(t.TempDir(), "missing", "candor.duckdb"),
	} {
		s, err := Open(path)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("Open(%q) error = %q, want it to contain the path", path, err)
		}
	}
}

func TestSchemaVersionNewerThanCode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	s := mustOpen(t, path)
	if _, err := s.db.Exec(`UPDATE schema_version SET version = 99`); err != nil {
		t.Fatalf("set schema version: %v", err)
	}
	s.Close()

	newer, err := Open(path)
	if err == nil {
		newer.Close()
		t.Fatal("Open of a database with schema version 99 succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "schema version 99 is newer") {
		t.Errorf("Open error = %q, want it to name the schema version", err)
	}
}

const (
	lockHolderEnv       = "CANDOR_DUCKDB_TEST_LOCK_HOLDER"
	crashWriterEnv      = "CANDOR_DUCKDB_TEST_CRASH_WRITER"
	largeCrashWriterEnv = "CANDOR_DUCKDB_TEST_LARGE_CRASH_WRITER"

	// largeWALEvents Mux events in commits of 2,000 leave about 195 MiB
	// of WAL, below checkpointThreshold, so none of them is checkpointed.
	largeWALEvents = 200_000
)

// holdLock opens path, writes "ready" to stdout and keeps the store open
// until stdin reaches EOF.
func holdLock(path string) {
	s, err := Open(path)
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("ready\n")
	io.Copy(io.Discard, os.Stdin)
	s.Close()
}

// insertAndWait opens path, inserts 5 events and then extra Mux events in
// commits of 2,000, with UUIDs apart from the first 5, writes "ready" to
// stdout and blocks on stdin without closing the store.
func insertAndWait(path string, extra int) {
	s, err := Open(path)
	if err == nil {
		_, err = s.Insert(context.Background(), testEvents(5))
	}
	for first := 0; err == nil && first < extra; first += 2000 {
		_, err = s.Insert(context.Background(), muxBenchEvents(1_000_000+first, min(2000, extra-first)))
	}
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("ready\n")
	io.Copy(io.Discard, os.Stdin)
}

// startHelper runs this test binary as a second process in the mode that
// env selects and waits until it writes "ready". The returned function ends
// the process: it closes its stdin, or kills it if kill is true.
func startHelper(t *testing.T, env, path string) (stop func(kill bool)) {
	t.Helper()
	helper := exec.Command(os.Args[0])
	helper.Env = append(os.Environ(), env+"="+path)
	helper.Stderr = os.Stderr
	stdin, err := helper.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatalf("start helper process: %v", err)
	}

	stop = func(kill bool) {
		if kill {
			helper.Process.Kill()
		}
		stdin.Close()
		helper.Wait()
	}
	ready, err := bufio.NewReader(stdout).ReadString('\n')
	if ready != "ready\n" {
		stop(true)
		t.Fatalf("helper process did not get ready: read %q, %v", ready, err)
	}
	return stop
}

func TestInsertSurvivesCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	stop := startHelper(t, crashWriterEnv, path)
	stop(true)

	s := mustOpen(t, path)
	overview, err := s.Overview(context.Background(), store.Filter{})
	if err != nil {
		t.Fatalf("Overview after crash: %v", err)
	}
	if overview.TotalEvents != 5 {
		t.Errorf("TotalEvents after the writer was killed = %d, want 5", overview.TotalEvents)
	}
}

// TestCrashReplaysLargeWAL kills a writer whose WAL holds about 195 MiB of
// commits and checks that opening the database replays all of them within
// DuckDB's memory limit.
func TestCrashReplaysLargeWAL(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 200,000 events")
	}
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	stop := startHelper(t, largeCrashWriterEnv, path)
	stop(true)

	wal, err := os.Stat(path + ".wal")
	if err != nil {
		t.Fatalf("no WAL after the writer was killed: %v", err)
	}
	if wal.Size() < 100<<20 {
		t.Errorf("WAL has %d MiB after the writer was killed, want more than 100", wal.Size()>>20)
	}
	s := mustOpen(t, path)
	overview, err := s.Overview(context.Background(), store.Filter{})
	if err != nil {
		t.Fatalf("Overview after crash: %v", err)
	}
	if want := int64(5 + largeWALEvents); overview.TotalEvents != want {
		t.Errorf("TotalEvents after the writer was killed = %d, want %d", overview.TotalEvents, want)
	}
}

func TestOpenLockedByOtherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	stop := startHelper(t, lockHolderEnv, path)
	defer stop(false)

	s, err := Open(path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a file another process holds succeeded, want an error")
	}
	t.Logf("Open error: %v", err)
	if !strings.Contains(err.Error(), "is another candor serve using this data folder?") {
		t.Errorf("Open error = %q, want it to name the likely cause", err)
	}
}

func testUUID(n int) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012x", n)
}

func TestInsertInvalidUUID(t *testing.T) {
	s := mustOpen(t, "")
	events := testEvents(3)
	events[1].UUID = "not-a-uuid"

	_, err := s.Insert(context.Background(), events)
	if err == nil || !strings.Contains(err.Error(), `"not-a-uuid"`) {
		t.Errorf("Insert with an invalid UUID: error %v, want one that names the UUID", err)
	}
	overview, err := s.Overview(context.Background(), store.Filter{})
	if err != nil {
		t.Fatalf("Overview: %v", err)
	}
	if overview.TotalEvents != 0 {
		t.Errorf("TotalEvents after a failed Insert = %d, want 0", overview.TotalEvents)
	}
}

func TestInsertUppercaseUUIDIsSameEvent(t *testing.T) {
	s := mustOpen(t, "")
	lower := testEvents(1)
	upper := testEvents(1)
	upper[0].UUID = strings.ToUpper(upper[0].UUID)

	if stored, err := s.Insert(context.Background(), lower); err != nil || stored != 1 {
		t.Fatalf("Insert(lowercase UUID) = %d, %v, want 1, nil", stored, err)
	}
	if stored, err := s.Insert(context.Background(), upper); err != nil || stored != 0 {
		t.Errorf("Insert(same UUID in uppercase) = %d, %v, want 0, nil", stored, err)
	}
}

func TestAnalyticsConformanceInMemory(t *testing.T) {
	storetest.RunAnalytics(t, func(t *testing.T) store.Store {
		return mustOpen(t, "")
	})
}

func TestAnalyticsConformanceFile(t *testing.T) {
	storetest.RunAnalytics(t, func(t *testing.T) store.Store {
		return mustOpen(t, filepath.Join(t.TempDir(), "candor.duckdb"))
	})
}

// The store also reads databases whose properties column is JSON text.
func TestConformanceJSONProperties(t *testing.T) {
	open := func(t *testing.T) store.Store { return mustOpenColumn(t, "", jsonProperties) }
	storetest.Run(t, open)
	storetest.RunAnalytics(t, open)
}

// forEachPropertyColumn runs test as a subtest for each type of the
// properties column.
func forEachPropertyColumn(t *testing.T, test func(t *testing.T, column propertyColumn)) {
	t.Helper()
	for _, column := range []propertyColumn{variantProperties, jsonProperties} {
		t.Run(string(column), func(t *testing.T) { test(t, column) })
	}
}

func mustOpenColumn(t *testing.T, path string, column propertyColumn) *Store {
	t.Helper()
	s, err := open(path, column, DefaultMemoryLimitMiB, false)
	if err != nil {
		t.Fatalf("open(%q, %s): %v", path, column, err)
	}
	t.Cleanup(func() { s.Close() })
	if s.properties != column {
		t.Fatalf("open(%q, %s) gave properties of type %s", path, column, s.properties)
	}
	return s
}

func TestOpenWithKeepsExistingType(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.duckdb")
	s, err := OpenWith(path, Options{Properties: PropertiesJSON})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.PropertiesType(); got != PropertiesJSON {
		t.Errorf("new database: PropertiesType() = %q, want %q", got, PropertiesJSON)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = OpenWith(path, Options{Properties: PropertiesVariant})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.PropertiesType(); got != PropertiesJSON {
		t.Errorf("reopened with %q: PropertiesType() = %q, want the %q it was created with", PropertiesVariant, got, PropertiesJSON)
	}
}

func TestOpenWithRejectsUnknownType(t *testing.T) {
	_, err := OpenWith(filepath.Join(t.TempDir(), "events.duckdb"), Options{Properties: "parquet"})
	if err == nil || !strings.Contains(err.Error(), `invalid properties type "parquet": use "variant" or "json"`) {
		t.Errorf("OpenWith(parquet) = %v, want an error naming the type and the choices", err)
	}
}

func TestOpenRejectsForeignDatabase(t *testing.T) {
	foreign := filepath.Join(t.TempDir(), "candor.duckdb")
	duckdbtest.CreateForeignDatabase(t, foreign)

	s, err := Open(foreign)
	if err == nil {
		s.Close()
	}
	if !errors.Is(err, ErrNotCandorDatabase) {
		t.Errorf("Open(foreign file) = %v, want ErrNotCandorDatabase", err)
	}
	if err != nil && !strings.Contains(err.Error(), foreign) {
		t.Errorf("Open(foreign file) = %v, want the path in the message", err)
	}
	if tables := duckdbtest.ListTables(t, foreign); len(tables) != 1 || tables[0] != "orders" {
		t.Errorf("tables after Open(foreign file) = %q, want only orders", tables)
	}
}

func TestOpenRejectsInvalidFile(t *testing.T) {
	for name, content := range map[string]string{"empty": "", "garbage": "not a database\n"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "candor.duckdb")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(path)
			if !errors.Is(err, ErrNotDuckDBFile) {
				t.Errorf("Open(%s file) = %v, want ErrNotDuckDBFile", name, err)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("Open(%s file) = %v, want the path in the message", name, err)
			}
		})
	}
}

// A DuckDB file without tables, as a crash between the file's creation
// and the first migration leaves it, gets candor's schema.
func TestOpenMigratesEmptyDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	mustOpen(t, path).Close()
	if tables := duckdbtest.ListTables(t, path); !slices.Contains(tables, "schema_version") || !slices.Contains(tables, "events") {
		t.Errorf("tables after Open(empty database) = %q, want schema_version and events", tables)
	}
}

func TestOpenWithExisting(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.duckdb")
	duckdbtest.CreateForeignDatabase(t, foreign)
	if _, err := OpenWith(foreign, Options{Existing: true}); !errors.Is(err, ErrNotCandorDatabase) {
		t.Errorf("OpenWith(foreign file, Existing) = %v, want ErrNotCandorDatabase", err)
	}

	missing := filepath.Join(dir, "missing.duckdb")
	if _, err := OpenWith(missing, Options{Existing: true}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenWith(missing file, Existing) = %v, want an error wrapping os.ErrNotExist", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenWith(missing file, Existing) created the file: stat = %v", err)
	}

	candor := filepath.Join(dir, "candor.duckdb")
	mustOpen(t, candor).Close()
	s, err := OpenWith(candor, Options{Existing: true})
	if err != nil {
		t.Fatalf("OpenWith(candor database, Existing) = %v", err)
	}
	s.Close()
}

func TestSettingsOnEveryConnection(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "candor.duckdb"))
	defer s.Close()

	// Two connections at once: the pool opens the second one after the
	// first, and the settings are global either way.
	ctx := context.Background()
	first, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	for _, conn := range []*sql.Conn{first, second} {
		checkSettings(t, conn.QueryRowContext(ctx, settingsSQL))
	}
}

// settingsSQL reads the settings that openDSN sets.
const settingsSQL = `SELECT current_setting('checkpoint_threshold'), current_setting('memory_limit')`

// checkSettings checks the row of settingsSQL against checkpointThreshold
// and DefaultMemoryLimitMiB, as DuckDB prints them.
func checkSettings(t *testing.T, row *sql.Row) {
	t.Helper()
	var threshold, limit string
	if err := row.Scan(&threshold, &limit); err != nil {
		t.Fatal(err)
	}
	if threshold != "256.0 MiB" {
		t.Errorf("checkpoint_threshold = %q, want 256.0 MiB", threshold)
	}
	if limit != "256.0 MiB" {
		t.Errorf("memory_limit = %q, want 256.0 MiB", limit)
	}
}

// TestOpenDSNAppliesSettings opens a database with openDSN and no
// connection initializer. The settings must come with the DSN, because
// DuckDB replays the WAL before any connection exists.
func TestOpenDSNAppliesSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	connector, err := duckdbdriver.NewConnector(openDSN(path, "256MiB"), nil)
	if err != nil {
		t.Fatalf("NewConnector(%q): %v", openDSN(path, "256MiB"), err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()

	checkSettings(t, db.QueryRow(settingsSQL))
}

func TestOpenWithMemoryLimit(t *testing.T) {
	s, err := OpenWith(filepath.Join(t.TempDir(), "candor.duckdb"), Options{MemoryLimitMiB: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var limit string
	if err := s.db.QueryRow(`SELECT current_setting('memory_limit')`).Scan(&limit); err != nil {
		t.Fatal(err)
	}
	if limit != "512.0 MiB" {
		t.Errorf("memory_limit = %q, want 512.0 MiB", limit)
	}
}

func TestOpenWithRejectsSmallMemoryLimit(t *testing.T) {
	_, err := OpenWith(filepath.Join(t.TempDir(), "candor.duckdb"), Options{MemoryLimitMiB: 8})
	if err == nil || !strings.Contains(err.Error(), "invalid memory limit of 8 MiB: use 32 or more") {
		t.Errorf("OpenWith with 8 MiB = %v, want an error naming the limit and the minimum", err)
	}
}

func TestPingDuringLongQuery(t *testing.T) {
	s := mustOpen(t, "")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	queryDone := make(chan error, 1)
	go func() {
		var n int64
		queryDone <- s.db.QueryRowContext(ctx, `SELECT count(*) FROM range(100000000000) t(i) WHERE i % 7 = 3`).Scan(&n)
	}()
	time.Sleep(200 * time.Millisecond)

	pingCtx, cancelPing := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancelPing()
	if err := s.Ping(pingCtx); err != nil {
		t.Errorf("Ping while a query runs: %v", err)
	}
	select {
	case err := <-queryDone:
		t.Fatalf("the long query ended before the ping: %v", err)
	default:
	}
	cancel()
	<-queryDone

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Ping after Close = %v, want store.ErrClosed", err)
	}
}
