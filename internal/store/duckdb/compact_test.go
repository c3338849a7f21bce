package duckdb

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/duckdb/duckdbtest"
)

// deletedInstall is the distinct ID whose events TestCompactRemovesDeletedValues
// deletes. No other value of the test contains it.
const deletedInstall = "zq7-deleted-install-5c1e"

func TestCompactRemovesDeletedValues(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	events := muxBenchEvents(0, 3000)
	for i := range events {
		if i%2 == 0 {
			events[i].DistinctID = deletedInstall
		}
	}
	if _, err := s.Insert(ctx, events); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterInstallSecret(ctx, "mux", "kept-install", "ab12", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteInstall(ctx, "mux", deletedInstall); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !fileContains(t, path, deletedInstall) {
		t.Log("the deleted distinct ID is gone from the file before Compact; DuckDB now rewrites the blocks itself")
	}

	before, after, err := Compact(ctx, path)
	if err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if before <= 0 || after <= 0 {
		t.Errorf("Compact sizes %d and %d, want both positive", before, after)
	}
	if fileContains(t, path, deletedInstall) {
		t.Error("the deleted distinct ID is still in the database file after Compact")
	}
	for _, leftover := range []string{path + compactSuffix, path + ".wal"} {
		if _, err := os.Stat(leftover); err == nil {
			t.Errorf("%s is left after Compact", leftover)
		}
	}

	s, err = Open(path)
	if err != nil {
		t.Fatalf("Open after Compact: %v", err)
	}
	defer s.Close()
	overview, err := s.Overview(ctx, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if overview.TotalEvents != 1500 {
		t.Errorf("events after Compact = %d, want the 1,500 not deleted", overview.TotalEvents)
	}
	if hash, err := s.InstallSecretHash(ctx, "mux", "kept-install"); err != nil || hash != "ab12" {
		t.Errorf("install secret after Compact = %q, %v; want ab12", hash, err)
	}
	// The primary key still makes Insert skip stored events: of events 1
	// and 2, only event 2, deleted before, is stored again.
	if stored, err := s.Insert(ctx, events[1:3]); err != nil || stored != 1 {
		t.Errorf("Insert of a stored and a deleted event after Compact = %d, %v; want 1", stored, err)
	}
}

func TestCompactRefusesOpenDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	_, _, err = Compact(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "already open") {
		t.Errorf("Compact of a database in use = %v, want an error that says it is open", err)
	}
}

func TestCompactMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.duckdb")
	if _, _, err := Compact(context.Background(), path); err == nil || !strings.Contains(err.Error(), "none.duckdb") {
		t.Errorf("Compact of a missing file = %v, want an error naming it", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("Compact of a missing file created it")
	}
}

// fileContains reports whether the file at path contains text.
func fileContains(t *testing.T, path, text string) bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(data, []byte(text))
}

// TestCompactKeepsEveryRow compares every table, its definition and its
// rows before and after Compact, with either properties type, after an
// install's deletion and a retention deletion.
func TestCompactKeepsEveryRow(t *testing.T) {
	forEachPropertyColumn(t, testCompactKeepsEveryRow)
}

func testCompactKeepsEveryRow(t *testing.T, column propertyColumn) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	s := mustOpenColumn(t, path, column)
	events := muxBenchEvents(0, 3000)
	for i := range events {
		if i%3 == 0 {
			events[i].DistinctID = deletedInstall
		}
	}
	if _, err := s.Insert(ctx, events); err != nil {
		t.Fatal(err)
	}
	// DeleteInstall keeps the secret of the deleted install, and so does
	// Compact.
	for _, install := range []string{"install-0001", "install-0002", deletedInstall} {
		if err := s.RegisterInstallSecret(ctx, "mux", install, "hash-of-"+install, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteInstall(ctx, "mux", deletedInstall); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteBefore(ctx, events[500].Timestamp); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	before := dumpDatabase(t, path)
	if _, _, err := Compact(ctx, path); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if d := cmp.Diff(before, dumpDatabase(t, path)); d != "" {
		t.Errorf("tables after Compact (-before +after):\n%s", d)
	}
}

// TestCompactKeepsOldSchema compacts databases of schema versions 1 and
// 2 with JSON properties and checks that Compact leaves their migration
// to candor serve, which picks the properties type of version 2 with
// --duckdb-properties.
func TestCompactKeepsOldSchema(t *testing.T) {
	for _, version := range []int{1, 2} {
		t.Run(fmt.Sprintf("version %d", version), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "candor.duckdb")
			if version == 1 {
				writeVersion1(t, path)
			} else {
				old := testEvents(1)[0]
				old.Properties = map[string]any{"model": "m1", "n": 1.25}
				writeVersion2(t, path, jsonProperties, old)
			}
			before := dumpDatabase(t, path)

			if _, _, err := Compact(context.Background(), path); err != nil {
				t.Fatalf("Compact: %v", err)
			}
			if d := cmp.Diff(before, dumpDatabase(t, path)); d != "" {
				t.Errorf("tables after Compact (-before +after):\n%s", d)
			}
			s := mustOpenColumn(t, path, jsonProperties)
			if got := s.PropertiesType(); got != PropertiesJSON {
				t.Errorf("properties type after Compact and OpenWith json = %s, want json", got)
			}
		})
	}
}

func TestCompactRejectsNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	newest := len(migrations(newPropertyColumn))
	db := createSchema(t, path, newest, variantProperties)
	if _, err := db.Exec(`UPDATE schema_version SET version = ?`, newest+1); err != nil {
		t.Fatal(err)
	}
	db.Close()

	_, _, err := Compact(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "upgrade candor") {
		t.Errorf("Compact of schema version %d = %v, want an error that says to upgrade candor", newest+1, err)
	}
}

func TestCompactRejectsForeignDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	duckdbtest.CreateForeignDatabase(t, path)

	_, _, err := Compact(context.Background(), path)
	if !errors.Is(err, ErrNotCandorDatabase) {
		t.Errorf("Compact of a foreign database = %v, want ErrNotCandorDatabase", err)
	}
	if tables := duckdbtest.ListTables(t, path); len(tables) != 1 || tables[0] != "orders" {
		t.Errorf("tables after Compact of a foreign database = %q, want only orders", tables)
	}
}

// TestCompactSymlinkedDatabase compacts a database whose path is a
// symbolic link and checks that the file the link points to is the one
// rewritten, and that the link stays.
func TestCompactSymlinkedDatabase(t *testing.T) {
	ctx := context.Background()
	realPath := filepath.Join(t.TempDir(), "events.duckdb")
	dataDir := t.TempDir()
	path := filepath.Join(dataDir, "candor.duckdb")
	if err := os.Symlink(realPath, path); err != nil {
		t.Skipf("create a symbolic link: %v", err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	events := muxBenchEvents(0, 1000)
	for i := range events {
		if i%2 == 0 {
			events[i].DistinctID = deletedInstall
		}
	}
	if _, err := s.Insert(ctx, events); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteInstall(ctx, "mux", deletedInstall); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	if _, _, err := Compact(ctx, path); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if link, err := os.Readlink(path); err != nil || link != realPath {
		t.Errorf("%s after Compact: link to %q, %v; want the link to %s", path, link, err, realPath)
	}
	if fileContains(t, realPath, deletedInstall) {
		t.Errorf("the deleted distinct ID is still in %s, the file the link points to", realPath)
	}
	for _, leftover := range []string{path + compactSuffix, realPath + compactSuffix} {
		if _, err := os.Lstat(leftover); err == nil {
			t.Errorf("%s is left after Compact", leftover)
		}
	}
	s, err = Open(path)
	if err != nil {
		t.Fatalf("Open after Compact: %v", err)
	}
	defer s.Close()
	if overview, err := s.Overview(ctx, store.Filter{}); err != nil || overview.TotalEvents != 500 {
		t.Errorf("events after Compact = %d, %v; want the 500 not deleted", overview.TotalEvents, err)
	}
}

// TestCompactKeepsCopyOfRunningCompaction checks that a Compact that
// finds the database in use leaves the file that a compaction in progress
// writes.
func TestCompactKeepsCopyOfRunningCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := os.WriteFile(path+compactSuffix, []byte("copy in progress"), 0o600); err != nil {
		t.Fatal(err)
	}

	if _, _, err := Compact(context.Background(), path); err == nil {
		t.Fatal("Compact of a database in use succeeded, want an error")
	}
	if _, err := os.Stat(path + compactSuffix); err != nil {
		t.Errorf("Compact of a database in use removed %s: %v", path+compactSuffix, err)
	}
}

// dumpDatabase returns the definition of every table of the database at
// path and its rows in key order, one line each, with properties as JSON
// text.
func dumpDatabase(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("duckdb", path+"?access_mode=read_only")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	var tables []string
	lines := queryLines(t, db, `SELECT table_name, sql FROM duckdb_tables() ORDER BY table_name`)
	for _, line := range lines {
		tables = append(tables, strings.Fields(line)[0])
	}
	for _, table := range tables {
		columns := queryLines(t, db, `SELECT CASE WHEN data_type IN ('JSON', 'VARIANT')
				THEN 'CAST(CAST(' || column_name || ' AS JSON) AS VARCHAR)' ELSE column_name END
			FROM information_schema.columns WHERE table_name = '`+table+`' ORDER BY ordinal_position`)
		lines = append(lines, queryLines(t, db, `SELECT `+strings.Join(columns, ", ")+` FROM `+table+` ORDER BY ALL`)...)
	}
	return lines
}

// queryLines returns the rows of query, each as its values joined by tabs.
func queryLines(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	columns, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		values := make([]any, len(columns))
		pointers := make([]any, len(columns))
		for i := range values {
			pointers[i] = &values[i]
		}
		if err := rows.Scan(pointers...); err != nil {
			t.Fatal(err)
		}
		texts := make([]string, len(values))
		for i, v := range values {
			texts[i] = fmt.Sprint(v)
		}
		lines = append(lines, strings.Join(texts, "\t"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}
