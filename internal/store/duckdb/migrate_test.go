package duckdb

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/store"
)

// TestMigrateToVersion2 opens a database at schema version 1, whose
// properties column is JSON text, with either column type of version 2.
// It checks that the migration keeps every event and its properties, and
// that the install gets the same key as an event inserted afterwards.
func TestMigrateToVersion2(t *testing.T) {
	forEachPropertyColumn(t, testMigrateToVersion2)
}

func testMigrateToVersion2(t *testing.T, column propertyColumn) {
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	writeVersion1(t, path)

	s := mustOpenColumn(t, path, column)
	ctx := context.Background()
	later := testEvents(3)[2]
	later.Timestamp = later.Timestamp.Add(time.Hour)
	if stored, err := s.Insert(ctx, []store.Event{later}); err != nil || stored != 1 {
		t.Fatalf("Insert after migration = %d, %v, want 1, nil", stored, err)
	}

	summary, err := s.Summary(ctx, store.Filter{})
	if err != nil {
		t.Fatalf("Summary: %v", err)
	}
	want := store.KeyCount{Events: 3, Installs: 1}
	if summary.Total != want {
		t.Errorf("Summary.Total after migration = %+v, want %+v", summary.Total, want)
	}

	rows, err := s.Trend(ctx, store.TrendQuery{Interval: store.All, Breakdown: []string{"model"}})
	if err != nil {
		t.Fatalf("Trend: %v", err)
	}
	wantRows := []store.TrendRow{
		{Event: "message_sent", Values: []string{store.NoValue}, Events: 1, Installs: 1},
		{Event: "message_sent", Values: []string{"m1"}, Events: 2, Installs: 1},
	}
	if d := cmp.Diff(wantRows, rows); d != "" {
		t.Errorf("Trend by model after migration (-want +got):\n%s", d)
	}
}

// writeVersion1 creates a database at schema version 1 with two events of
// install-a that have a model property.
func writeVersion1(t *testing.T, path string) {
	t.Helper()
	db := createSchema(t, path, 1, variantProperties)
	defer db.Close()
	for i, event := range testEvents(2) {
		_, err := db.Exec(`INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			event.Project, event.UUID, event.Name, event.DistinctID, event.Timestamp, event.ReceivedAt,
			"1.0.0", "linux", `{"model":"m1","n":`+string(rune('0'+i))+`}`)
		if err != nil {
			t.Fatalf("insert version 1 event: %v", err)
		}
	}
}

// TestMigrateToVersion3 opens a database at schema version 2, whose rows
// contain the base properties in the properties column only, and checks that
// they read back as before next to an event stored after the migration.
func TestMigrateToVersion3(t *testing.T) {
	forEachPropertyColumn(t, testMigrateToVersion3)
}

func testMigrateToVersion3(t *testing.T, column propertyColumn) {
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	old := testEvents(1)[0]
	old.Properties = map[string]any{
		"version": "1.0.0", "backend_platform": "linux",
		"$lib": "candor-go", "$geoip_disable": true, "model": "m1",
	}
	writeVersion2(t, path, column, old)

	s := mustOpenColumn(t, path, column)
	ctx := context.Background()
	later := testEvents(2)[1]
	later.Properties = map[string]any{"$lib": "posthog-go", "$geoip_disable": false, "model": "m2"}
	if stored, err := s.Insert(ctx, []store.Event{later}); err != nil || stored != 1 {
		t.Fatalf("Insert after migration = %d, %v, want 1, nil", stored, err)
	}

	for _, breakdown := range [][]string{{"$lib", "model"}, {"$geoip_disable", "model"}, {"version", "model"}} {
		rows, err := s.Trend(ctx, store.TrendQuery{Interval: store.All, Breakdown: breakdown})
		if err != nil {
			t.Fatalf("Trend by %v: %v", breakdown, err)
		}
		want := map[string][]string{
			"$lib":           {"candor-go", "posthog-go"},
			"$geoip_disable": {"true", "false"},
			"version":        {"1.0.0", store.NoValue},
		}[breakdown[0]]
		got := map[string]string{}
		for _, row := range rows {
			got[row.Values[1]] = row.Values[0]
		}
		if got["m1"] != want[0] || got["m2"] != want[1] {
			t.Errorf("Trend by %v after migration = %+v, want m1 with %q and m2 with %q", breakdown, rows, want[0], want[1])
		}
	}

	want := []map[string]any{old.Properties, later.Properties}
	if d := cmp.Diff(want, exportedProperties(t, s)); d != "" {
		t.Errorf("exported properties (-want +got):\n%s", d)
	}
}

// createSchema creates a database at path at the given schema version,
// with properties of type column, and returns it open on one connection.
// SET TimeZone applies to one connection, so every later statement must
// run on it too.
func createSchema(t *testing.T, path string, version int, column propertyColumn) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	db.SetMaxOpenConns(1)

	statements := []string{
		`SET TimeZone = 'UTC'`,
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version VALUES (` + strconv.Itoa(version) + `)`,
	}
	for _, migration := range migrations(column)[:version] {
		statements = append(statements, migration...)
	}
	for _, statement := range statements {
		if _, err := db.Exec(statement); err != nil {
			db.Close()
			t.Fatalf("create version %d schema: %s: %v", version, statement, err)
		}
	}
	return db
}

// exportedProperties returns the properties of every event of s, in the
// order of the CSV export.
func exportedProperties(t *testing.T, s *Store) []map[string]any {
	t.Helper()
	var out bytes.Buffer
	if err := s.ExportEvents(context.Background(), store.Filter{}, store.CSV, &out); err != nil {
		t.Fatalf("ExportEvents: %v", err)
	}
	records, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(records) == 0 {
		t.Fatalf("read exported CSV %q: %v", out.String(), err)
	}
	var properties []map[string]any
	for _, record := range records[1:] {
		var p map[string]any
		text := record[len(record)-1]
		if err := json.Unmarshal([]byte(text), &p); err != nil {
			t.Fatalf("decode exported properties %q: %v", text, err)
		}
		properties = append(properties, p)
	}
	return properties
}

// writeVersion2 creates a database at schema version 2 with properties of
// type column and the given event, stored as version 2 did.
func writeVersion2(t *testing.T, path string, column propertyColumn, event store.Event) {
	t.Helper()
	db := createSchema(t, path, 2, column)
	defer db.Close()
	properties, err := json.Marshal(event.Properties)
	if err != nil {
		t.Fatal(err)
	}
	// database/sql does not pass a uint64 with the high bit set, so the
	// install key goes as text.
	install := strconv.FormatUint(installKey(event.Project, event.DistinctID), 10)
	_, err = db.Exec(`INSERT INTO events VALUES (?, ?, ?, ?, CAST(? AS UBIGINT), ?, ?, ?, ?, CAST(CAST(? AS JSON) AS `+string(column)+`))`,
		event.Project, event.UUID, event.Name, event.DistinctID, install, event.Timestamp, event.ReceivedAt, event.Properties["version"], event.Properties["backend_platform"], string(properties))
	if err != nil {
		t.Fatalf("insert version 2 event: %v", err)
	}
}
