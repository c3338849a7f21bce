package duckdb

import (
	"context"
	"database/sql"
	"path/filepath"
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
	for _, column := range []propertyColumn{variantProperties, jsonProperties} {
		t.Run(string(column), func(t *testing.T) {
			testMigrateToVersion2(t, column)
		})
	}
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
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	// SET TimeZone applies to one connection, so every statement must
	// run on the same one.
	db.SetMaxOpenConns(1)

	statements := append([]string{
		`SET TimeZone = 'UTC'`,
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version VALUES (1)`,
	}, migrations(variantProperties)[0]...)
	for _, statement := range statements {
		if _, err := db.Exec(statement); err != nil {
			t.Fatalf("create version 1 schema: %s: %v", statement, err)
		}
	}
	for i, event := range testEvents(2) {
		_, err := db.Exec(`INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			event.Project, event.UUID, event.Name, event.DistinctID, event.Timestamp, event.ReceivedAt,
			"1.0.0", "linux", `{"model":"m1","n":`+string(rune('0'+i))+`}`)
		if err != nil {
			t.Fatalf("insert version 1 event: %v", err)
		}
	}
}
