package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/server"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/clickhouse"
	"github.com/candor-dev/candor/internal/store/duckdb"
	"github.com/candor-dev/candor/internal/store/duckdb/duckdbtest"
	"github.com/candor-dev/candor/internal/store/journal"
)

func TestMigrateFlagErrors(t *testing.T) {
	data := newDataFolder(t)
	empty := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no database", []string{"--data", empty}, "no database candor.duckdb in " + empty},
		{"empty data", []string{"--data", ""}, "missing --data"},
		{"batch 0", []string{"--data", data, "--batch", "0"}, "invalid --batch 0: use 1 to 100000 events"},
		{"batch too large", []string{"--data", data, "--batch", "100001"}, "invalid --batch 100001"},
		{"invalid URL", []string{"--data", data, "--clickhouse-url", "nope"}, `invalid --clickhouse-url "nope"`},
		{"URL with query", []string{"--data", data, "--clickhouse-url", "http://127.0.0.1:19499/?x=1"}, "remove the query string"},
		{"invalid database", []string{"--data", data, "--clickhouse-database", "1-bad"}, `invalid clickhouse database "1-bad"`},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			code, _, stderr := runCommand(t, append([]string{"migrate"}, test.args...)...)
			if code != exitUsage {
				t.Errorf("candor migrate %v exited with %d, want %d", test.args, code, exitUsage)
			}
			if !strings.Contains(stderr, test.want) {
				t.Errorf("candor migrate %v printed %q, want %q", test.args, stderr, test.want)
			}
		})
	}
}

func TestMigrateLockedDataFolder(t *testing.T) {
	data := newDataFolder(t)
	lock, err := server.LockDataDir(data)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()

	// The lock is checked before ClickHouse is opened, so no server is
	// needed at this URL.
	code, _, stderr := runCommand(t, "migrate", "--data", data, "--clickhouse-url", "http://127.0.0.1:19499")
	want := fmt.Sprintf("data folder %s is in use by another candor process (pid %d)", data, os.Getpid())
	if code != exitFailure || !strings.Contains(stderr, want) {
		t.Errorf("candor migrate of a locked data folder exited with %d: %q, want %d and %q", code, stderr, exitFailure, want)
	}
}

// TestMigrateForeignDuckDBFile runs migrate on a data folder whose
// candor.duckdb is a DuckDB database of another program, and checks that
// it fails before it connects to ClickHouse, leaves the file without
// candor's tables and adds no file to the folder.
func TestMigrateForeignDuckDBFile(t *testing.T) {
	data := t.TempDir()
	path := filepath.Join(data, server.DatabaseFile)
	duckdbtest.CreateForeignDatabase(t, path)
	before := folderEntries(t, data)

	// No server is needed at this URL, because the check comes first.
	code, _, stderr := runCommand(t, "migrate", "--data", data, "--clickhouse-url", "http://127.0.0.1:19499")
	want := "not a candor database"
	if code != exitFailure || !strings.Contains(stderr, want) {
		t.Errorf("candor migrate of a foreign DuckDB file exited with %d: %q, want %d and %q", code, stderr, exitFailure, want)
	}
	if d := cmp.Diff(before, folderEntries(t, data)); d != "" {
		t.Errorf("files in the foreign folder after candor migrate (-before +after):\n%s", d)
	}

	if d := cmp.Diff([]string{"orders"}, duckdbtest.ListTables(t, path)); d != "" {
		t.Errorf("tables after candor migrate (-want +got):\n%s", d)
	}
}

// folderEntries returns the names of the entries of dir.
func folderEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, entry := range entries {
		names = append(names, entry.Name())
	}
	return names
}

func TestMigrateUnreachableClickHouse(t *testing.T) {
	data := newDataFolder(t)
	code, _, stderr := runCommand(t, "migrate", "--data", data, "--clickhouse-url", "http://127.0.0.1:19499")
	if code != exitFailure || !strings.Contains(stderr, `open clickhouse database "candor" at http://127.0.0.1:19499`) {
		t.Errorf("candor migrate to a closed port exited with %d: %q, want %d and the URL", code, stderr, exitFailure)
	}
	if strings.Count(stderr, "open clickhouse database") != 1 {
		t.Errorf("candor migrate to a closed port printed %q, want the database named once", stderr)
	}
}

// migrationFixture is a data folder filled through the real stores, and
// what it holds.
type migrationFixture struct {
	data string
	// events are the events that DuckDB holds once the journal is loaded.
	events []store.Event
	// secrets maps each install ("project/distinct_id") that keeps its
	// deletion key to the key's hash.
	secrets map[string]string
	deleted store.Event // an event of the deleted install
}

// newMigrationFixture fills a data folder with events of two projects,
// with nested objects and base properties, and deletion keys. It deletes
// one install with its key, as the collector does, and leaves some events
// in the journal, as a collector that stopped without loading them does.
func newMigrationFixture(t *testing.T) migrationFixture {
	t.Helper()
	ctx := context.Background()
	f := migrationFixture{data: t.TempDir(), secrets: map[string]string{}}
	start := time.Date(2025, time.June, 1, 8, 0, 0, 250000000, time.UTC)

	var events []store.Event
	for i := range 40 {
		project, name := "mux", "message_sent"
		if i%3 == 0 {
			project, name = "shop", "checkout"
		}
		e := store.Event{
			Project:    project,
			UUID:       fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			Name:       name,
			DistinctID: fmt.Sprintf("install-%d", i%5),
			Timestamp:  start.Add(time.Duration(i) * 90 * time.Minute),
			ReceivedAt: start.Add(time.Duration(i)*90*time.Minute + 1500*time.Millisecond),
			Properties: map[string]any{
				"version": fmt.Sprintf("1.%d.0", i%2), "backend_platform": "linux",
				"$lib": "candor-go", "$lib_version": "0.4.0", "$geoip_disable": true, "catalogFingerprint": "f00d",
				"tokens": float64(i * 10), "ratio": 0.1 * float64(i),
				"model": map[string]any{"name": "m1", "limits": map[string]any{"context": 200000.0, "beta": nil}},
			},
		}
		if i%7 == 0 {
			e.Properties["version"] = 2.0 // a base property that does not fit its column
		}
		events = append(events, e)
	}
	stored, journaled := events[:34], events[34:]

	path := filepath.Join(f.data, server.DatabaseFile)
	db, err := duckdb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Insert(ctx, stored); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		for _, project := range []string{"mux", "shop"} {
			install := fmt.Sprintf("install-%d", i)
			hash := fmt.Sprintf("%064x", 100*i+len(project))
			if err := db.RegisterInstallSecret(ctx, project, install, hash, time.Time{}); err != nil {
				t.Fatal(err)
			}
			f.secrets[project+"/"+install] = hash
		}
	}
	if _, err := db.DeleteInstall(ctx, "mux", "install-1"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteInstallSecret(ctx, "mux", "install-1"); err != nil {
		t.Fatal(err)
	}
	delete(f.secrets, "mux/install-1")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	writeJournal(t, filepath.Join(f.data, server.JournalDir), journaled)
	for _, e := range events {
		if e.Project == "mux" && e.DistinctID == "install-1" {
			if f.deleted.UUID == "" {
				f.deleted = e
			}
			continue
		}
		f.events = append(f.events, e)
	}
	return f
}

// writeJournal leaves events in a journal folder at dir, synced and not
// loaded, as a collector that stopped without loading them leaves them.
// A journal in front of a throwaway store takes the events, and its
// folder is copied before Close loads them.
func writeJournal(t *testing.T, dir string, events []store.Event) {
	t.Helper()
	inner, err := duckdb.Open("")
	if err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(t.TempDir(), "journal")
	j, err := journal.Open(live, inner, journal.Options{LoadDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.Insert(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(dir, os.DirFS(live)); err != nil {
		t.Fatal(err)
	}
}

// migrationTarget returns the ClickHouse URL of the tests and a new
// database name, which is dropped when the test ends. It skips the test
// when CANDOR_CLICKHOUSE_URL is not set.
func migrationTarget(t *testing.T) (serverURL, database string) {
	t.Helper()
	serverURL = os.Getenv("CANDOR_CLICKHOUSE_URL")
	if serverURL == "" {
		t.Skip("CANDOR_CLICKHOUSE_URL is not set: start a server with scripts/clickhouse.sh start DIR PORT and set CANDOR_CLICKHOUSE_URL=http://127.0.0.1:PORT")
	}
	random := make([]byte, 6)
	rand.Read(random)
	database = "candor_migrate_test_" + hex.EncodeToString(random)
	t.Cleanup(func() {
		response, err := http.Post(serverURL, "text/plain", strings.NewReader("DROP DATABASE IF EXISTS "+database))
		if err != nil {
			t.Errorf("drop test database %s: %v", database, err)
			return
		}
		response.Body.Close()
	})
	return serverURL, database
}

func TestMigrateToClickHouse(t *testing.T) {
	serverURL, database := migrationTarget(t)
	f := newMigrationFixture(t)
	args := []string{"migrate", "--data", f.data, "--clickhouse-url", serverURL, "--clickhouse-database", database, "--batch", "7"}

	code, stdout, stderr := runCommand(t, args...)
	if code != exitOK {
		t.Fatalf("candor migrate exited with %d: %s", code, stderr)
	}
	want := fmt.Sprintf("%d events read, %d inserted, 0 already present; 9 deletion keys read, 9 copied, 0 already present;", len(f.events), len(f.events))
	if !strings.Contains(stdout, want) {
		t.Errorf("candor migrate printed %q, want %q", stdout, want)
	}

	// A second run is refused: the ClickHouse collector may have deleted
	// installs since, which it would copy back.
	code, _, stderr = runCommand(t, args...)
	if code != exitFailure {
		t.Errorf("second candor migrate exited with %d, want %d", code, exitFailure)
	}
	for _, part := range []string{"was migrated to ClickHouse database " + database, "deleted", "--again"} {
		if !strings.Contains(stderr, part) {
			t.Errorf("second candor migrate printed %q, want it to contain %q", stderr, part)
		}
	}

	// With --again it finds every event and key in ClickHouse.
	code, stdout, stderr = runCommand(t, append(args, "--again")...)
	if code != exitOK {
		t.Fatalf("candor migrate --again exited with %d: %s", code, stderr)
	}
	want = fmt.Sprintf("%d events read, 0 inserted, %d already present; 9 deletion keys read, 0 copied, 9 already present;", len(f.events), len(f.events))
	if !strings.Contains(stdout, want) {
		t.Errorf("candor migrate --again printed %q, want %q", stdout, want)
	}

	source, target := openMigrationStores(t, f.data, serverURL, database)
	compareExports(t, source, target)
	compareOverviews(t, source, target)
	compareSecrets(t, f, source, target)
}

// openMigrationStores opens the DuckDB store of data and the ClickHouse
// store of database, and closes both when the test ends.
func openMigrationStores(t *testing.T, data, serverURL, database string) (*duckdb.Store, *clickhouse.Store) {
	t.Helper()
	source, err := duckdb.Open(filepath.Join(data, server.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { source.Close() })
	target, err := clickhouse.Open(context.Background(), clickhouse.Config{URL: serverURL, Database: database})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	return source, target
}

// exportedRecord is one event of a CSV export with its times parsed and
// its properties decoded.
type exportedRecord struct {
	Fields     []string
	Timestamp  time.Time
	ReceivedAt time.Time
	Properties map[string]any
}

// exportRecords returns the events of a CSV export that export writes.
// received_at is cut to the second, because the ClickHouse store keeps
// whole seconds only.
func exportRecords(t *testing.T, name string, export func(*bytes.Buffer) error) []exportedRecord {
	t.Helper()
	var out bytes.Buffer
	if err := export(&out); err != nil {
		t.Fatalf("ExportEvents of %s: %v", name, err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("read the CSV export of %s: %v", name, err)
	}
	var records []exportedRecord
	for _, row := range rows[1:] {
		r := exportedRecord{Fields: append(row[:4:4], row[6:8]...)}
		r.Timestamp = parseExportTime(t, row[4])
		r.ReceivedAt = parseExportTime(t, row[5]).Truncate(time.Second)
		if err := json.Unmarshal([]byte(row[8]), &r.Properties); err != nil {
			t.Fatalf("decode the properties %q exported by %s: %v", row[8], name, err)
		}
		records = append(records, r)
	}
	return records
}

func parseExportTime(t *testing.T, text string) time.Time {
	t.Helper()
	for _, layout := range []string{"2006-01-02 15:04:05.999999-07", "2006-01-02 15:04:05.999999-07:00"} {
		if parsed, err := time.Parse(layout, text); err == nil {
			return parsed.UTC()
		}
	}
	t.Fatalf("exported time %q has no known layout", text)
	return time.Time{}
}

func compareExports(t *testing.T, source *duckdb.Store, target *clickhouse.Store) {
	t.Helper()
	ctx := context.Background()
	want := exportRecords(t, "DuckDB", func(out *bytes.Buffer) error {
		return source.ExportEvents(ctx, store.Filter{}, store.CSV, out)
	})
	got := exportRecords(t, "ClickHouse", func(out *bytes.Buffer) error {
		return target.ExportEvents(ctx, store.Filter{}, store.CSV, out)
	})
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ClickHouse export differs from DuckDB's (-DuckDB +ClickHouse):\n%s", d)
	}
}

func compareOverviews(t *testing.T, source *duckdb.Store, target *clickhouse.Store) {
	t.Helper()
	ctx := context.Background()
	for _, project := range []string{"mux", "shop", ""} {
		filter := store.Filter{Project: project}
		want, err := source.Overview(ctx, filter)
		if err != nil {
			t.Fatal(err)
		}
		got, err := target.Overview(ctx, filter)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("Overview of project %q (-DuckDB +ClickHouse):\n%s", project, d)
		}
		if want.TotalEvents == 0 {
			t.Errorf("Overview of project %q counts no events in DuckDB", project)
		}
	}
	mux, err := target.Overview(ctx, store.Filter{Project: "mux"})
	if err != nil {
		t.Fatal(err)
	}
	if mux.Installs != 4 {
		t.Errorf("ClickHouse counts %d installs of mux, want 4: install-1 was deleted", mux.Installs)
	}
}

func compareSecrets(t *testing.T, f migrationFixture, source *duckdb.Store, target *clickhouse.Store) {
	t.Helper()
	ctx := context.Background()
	for install, hash := range f.secrets {
		project, distinctID, _ := strings.Cut(install, "/")
		got, err := target.InstallSecretHash(ctx, project, distinctID)
		if err != nil || got != hash {
			t.Errorf("ClickHouse deletion key of %s = %q, %v; want %q", install, got, err, hash)
		}
	}
	if _, err := target.InstallSecretHash(ctx, "mux", "install-1"); err == nil {
		t.Error("ClickHouse has a deletion key of the deleted install mux/install-1")
	}

	readAll := func(c store.InstallSecretCopier) []store.InstallSecret {
		var all []store.InstallSecret
		err := c.ReadInstallSecrets(ctx, 100, func(batch []store.InstallSecret) error {
			all = append(all, batch...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return all
	}
	if d := cmp.Diff(readAll(source), readAll(target)); d != "" {
		t.Errorf("deletion keys with registration times (-DuckDB +ClickHouse):\n%s", d)
	}
}

// TestMigrateInterrupted stops a migration after its first batch, as
// Ctrl-C does, and checks that a second run copies the rest.
func TestMigrateInterrupted(t *testing.T) {
	serverURL, database := migrationTarget(t)
	f := newMigrationFixture(t)
	args := []string{"migrate", "--data", f.data, "--clickhouse-url", serverURL, "--clickhouse-database", database, "--batch", "10"}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	afterMigrateBatch = cancel
	defer func() { afterMigrateBatch = nil }()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	afterMigrateBatch = nil
	if code != exitFailure {
		t.Fatalf("interrupted candor migrate exited with %d, want %d: %s", code, exitFailure, stderr.String())
	}
	want := "interrupted after 10 events read, 10 inserted, 0 already present;"
	if !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "run candor migrate again") {
		t.Errorf("interrupted candor migrate printed %q, want %q and how to resume", stderr.String(), want)
	}

	code, out, errOut := runCommand(t, args...)
	if code != exitOK {
		t.Fatalf("candor migrate after an interruption exited with %d: %s", code, errOut)
	}
	want = fmt.Sprintf("%d events read, %d inserted, 10 already present;", len(f.events), len(f.events)-10)
	if !strings.Contains(out, want) {
		t.Errorf("candor migrate after an interruption printed %q, want %q", out, want)
	}
	source, target := openMigrationStores(t, f.data, serverURL, database)
	compareExports(t, source, target)
}

// TestMigrateCountMismatch adds an event to ClickHouse while the
// migration runs, as a collector writing there would, and checks that the
// count check fails with a message that names the cause.
func TestMigrateCountMismatch(t *testing.T) {
	serverURL, database := migrationTarget(t)
	f := newMigrationFixture(t)
	extra, err := clickhouse.Open(context.Background(), clickhouse.Config{URL: serverURL, Database: database, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	added := false
	afterMigrateBatch = func() {
		if added {
			return
		}
		added = true
		e := f.events[0]
		e.UUID = "ffffffff-0000-4000-8000-000000000000"
		if _, err := extra.Insert(context.Background(), []store.Event{e}); err != nil {
			t.Error(err)
		}
	}
	defer func() { afterMigrateBatch = nil }()

	code, _, stderr := runCommand(t, "migrate", "--data", f.data, "--clickhouse-url", serverURL, "--clickhouse-database", database, "--batch", "10")
	if code != exitFailure {
		t.Fatalf("candor migrate with an event added meanwhile exited with %d, want %d: %s", code, exitFailure, stderr)
	}
	for _, want := range []string{"the event counts in ClickHouse differ", `project "shop"`, "make sure that no candor serve writes to ClickHouse database " + database} {
		if !strings.Contains(stderr, want) {
			t.Errorf("candor migrate printed %q, want %q", stderr, want)
		}
	}
}

// TestMigrateProgressOnTicks replaces the progress ticker with a channel,
// ticks once after the first batch and checks that migrate prints one
// line for that tick and a last line, and none for the other batches.
func TestMigrateProgressOnTicks(t *testing.T) {
	serverURL, database := migrationTarget(t)
	f := newMigrationFixture(t)
	ticks := make(chan time.Time)
	stopped := false
	migrateProgressTicks = func() (<-chan time.Time, func()) {
		return ticks, func() { stopped = true }
	}
	batches := 0
	afterMigrateBatch = func() {
		batches++
		if batches != 1 {
			return
		}
		// The send returns once the progress goroutine has the tick, and
		// the goroutine prints its line before it can stop.
		select {
		case ticks <- time.Now():
		case <-time.After(10 * time.Second):
			t.Error("no progress goroutine took the tick within 10 s")
		}
	}
	defer func() {
		migrateProgressTicks = defaultMigrateProgressTicks
		afterMigrateBatch = nil
	}()

	code, _, stderr := runCommand(t, "migrate", "--data", f.data, "--clickhouse-url", serverURL, "--clickhouse-database", database, "--batch", "10")
	if code != exitOK {
		t.Fatalf("candor migrate exited with %d: %s", code, stderr)
	}
	if batches < 3 {
		t.Fatalf("candor migrate copied %d batches, want 3 or more for this test", batches)
	}
	if !stopped {
		t.Error("candor migrate did not stop its progress ticks")
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(line, "candor migrate: ") {
			lines = append(lines, line)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("progress lines = %q, want one for the tick and a last one", lines)
	}
	total := len(f.events)
	if want := fmt.Sprintf(" of %d events read", total); !strings.Contains(lines[0], want) || strings.Contains(lines[0], "(100.0%)") {
		t.Errorf("progress line of the tick after the first batch = %q, want %q below 100%%", lines[0], want)
	}
	if want := fmt.Sprintf("candor migrate: %d of %d events read (100.0%%), %d inserted, 0 already present; 9 deletion keys read;", total, total, total); !strings.HasPrefix(lines[1], want) {
		t.Errorf("last progress line = %q, want it to start with %q", lines[1], want)
	}
}
