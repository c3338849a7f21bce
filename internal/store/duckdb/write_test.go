package duckdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/store"
)

// largeBatch is more events than one chunk of the driver's appender, so
// Insert runs them in an explicit transaction.
var largeBatch = 2*duckdbdriver.GetDataChunkCapacity() + 500

func countEvents(t *testing.T, s *Store) int64 {
	t.Helper()
	overview, err := s.Overview(context.Background(), store.Filter{})
	if err != nil {
		t.Fatalf("Overview: %v", err)
	}
	return overview.TotalEvents
}

func TestInsertLargeBatchSkipsStoredEvent(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "candor.duckdb"))
	ctx := context.Background()
	events := benchEvents(0, largeBatch)

	stored := events[len(events)-10]
	if n, err := s.Insert(ctx, []store.Event{stored}); err != nil || n != 1 {
		t.Fatalf("Insert(1 event) = %d, %v, want 1, nil", n, err)
	}
	if n, err := s.Insert(ctx, events); err != nil || n != len(events)-1 {
		t.Fatalf("Insert(%d events, one stored) = %d, %v, want %d, nil", len(events), n, err, len(events)-1)
	}
	if got := countEvents(t, s); got != int64(len(events)) {
		t.Errorf("stored events = %d, want %d", got, len(events))
	}
}

// TestInsertLargeBatchIsAtomic fails an Insert on a row after the first two
// chunks, which the appender has already handed to DuckDB, and checks that
// none of the rows is stored.
func TestInsertLargeBatchIsAtomic(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "candor.duckdb"))
	ctx := context.Background()
	events := benchEvents(0, largeBatch)
	events[len(events)-1].Timestamp = time.Date(300000, time.January, 1, 0, 0, 0, 0, time.UTC)

	if n, err := s.Insert(ctx, events); err == nil {
		t.Fatalf("Insert with a timestamp in the year 300000 = %d, nil, want an error", n)
	}
	if got := countEvents(t, s); got != 0 {
		t.Errorf("stored events after a failed Insert = %d, want 0", got)
	}
}

func TestInsertAfterFailedInsert(t *testing.T) {
	s := mustOpen(t, "")
	ctx := context.Background()
	events := testEvents(4)
	bad := events[:2:2]
	bad[1].Timestamp = time.Date(300000, time.January, 1, 0, 0, 0, 0, time.UTC)

	if n, err := s.Insert(ctx, bad); err == nil {
		t.Fatalf("Insert with a timestamp in the year 300000 = %d, nil, want an error", n)
	}
	if n, err := s.Insert(ctx, events[2:]); err != nil || n != 2 {
		t.Fatalf("Insert after a failed Insert = %d, %v, want 2, nil", n, err)
	}
	if got := countEvents(t, s); got != 2 {
		t.Errorf("stored events = %d, want 2", got)
	}
}

func TestInsertUnencodablePropertyFails(t *testing.T) {
	s := mustOpen(t, "")
	events := testEvents(3)
	events[1].Properties = map[string]any{"ratio": math.NaN()}

	n, err := s.Insert(context.Background(), events)
	if err == nil {
		t.Fatalf("Insert with a NaN property = %d, nil, want an error", n)
	}
	if got := countEvents(t, s); got != 0 {
		t.Errorf("stored events after a failed Insert = %d, want 0", got)
	}
}

// TestInsertPropertiesRoundTrip checks that properties with escapes and a
// nested object read back as the values that were inserted.
func TestInsertPropertiesRoundTrip(t *testing.T) {
	forEachPropertyColumn(t, func(t *testing.T, column propertyColumn) {
		s := mustOpenColumn(t, "", column)
		events := testEvents(1)
		want := map[string]any{
			"text":   "a \"quoted\" <tag> & \u2028 é \x01",
			"number": 0.5,
			"flag":   true,
			"object": map[string]any{"platform": "macOS"},
		}
		events[0].Properties = want
		if _, err := s.Insert(context.Background(), events); err != nil {
			t.Fatalf("Insert: %v", err)
		}

		if d := cmp.Diff(want, storedProperties(t, s)); d != "" {
			t.Errorf("properties read back (-want +got):\n%s", d)
		}
	})
}

// TestInsertBaseColumns checks that base properties whose values fit
// their columns are stored there and left out of the properties column,
// and that the other values stay in the properties column.
func TestInsertBaseColumns(t *testing.T) {
	forEachPropertyColumn(t, func(t *testing.T, column propertyColumn) {
		s := mustOpenColumn(t, "", column)
		events := testEvents(1)
		events[0].Properties = map[string]any{
			"version":        "1.0.0",
			"goVersion":      "go1.26.8",
			"$lib":           "candor-go",
			"$geoip_disable": false,
			"nodeVersion":    "",
			"$lib_version":   3.0,
			"model":          "m1",
		}
		if _, err := s.Insert(context.Background(), events); err != nil {
			t.Fatalf("Insert: %v", err)
		}

		want := map[string]any{"nodeVersion": "", "$lib_version": 3.0, "model": "m1"}
		if d := cmp.Diff(want, storedProperties(t, s)); d != "" {
			t.Errorf("properties column (-want +got):\n%s", d)
		}

		var version, goVersion, lib, nodeVersion, libVersion sql.NullString
		var geoipDisable sql.NullBool
		err := s.db.QueryRow(`SELECT version, go_version, lib, geoip_disable, node_version, lib_version FROM events`).
			Scan(&version, &goVersion, &lib, &geoipDisable, &nodeVersion, &libVersion)
		if err != nil {
			t.Fatalf("read the base columns: %v", err)
		}
		columns := []any{version, goVersion, lib, geoipDisable, nodeVersion, libVersion}
		wantColumns := []any{
			sql.NullString{String: "1.0.0", Valid: true},
			sql.NullString{String: "go1.26.8", Valid: true},
			sql.NullString{String: "candor-go", Valid: true},
			sql.NullBool{Bool: false, Valid: true},
			sql.NullString{},
			sql.NullString{},
		}
		if d := cmp.Diff(wantColumns, columns); d != "" {
			t.Errorf("base columns version, go_version, lib, geoip_disable, node_version, lib_version (-want +got):\n%s", d)
		}
	})
}

// TestInsertBaseColumnInvalidUTF8 checks that a base property whose
// string is not valid UTF-8 is kept as other properties are, with U+FFFD
// in place of each invalid byte, rather than lost as NULL in its column.
func TestInsertBaseColumnInvalidUTF8(t *testing.T) {
	forEachPropertyColumn(t, func(t *testing.T, column propertyColumn) {
		s := mustOpenColumn(t, "", column)
		events := testEvents(1)
		events[0].Properties = map[string]any{"$lib": "lib\xff", "goVersion": "go1.26.8", "model": "m\xff"}
		if _, err := s.Insert(context.Background(), events); err != nil {
			t.Fatalf("Insert: %v", err)
		}

		want := []map[string]any{{"$lib": "lib\uFFFD", "goVersion": "go1.26.8", "model": "m\uFFFD"}}
		if d := cmp.Diff(want, exportedProperties(t, s)); d != "" {
			t.Errorf("exported properties (-want +got):\n%s", d)
		}

		rows, err := s.Trend(context.Background(), store.TrendQuery{Interval: store.All, Breakdown: []string{"$lib"}})
		if err != nil {
			t.Fatalf("Trend by $lib: %v", err)
		}
		wantRows := []store.TrendRow{{Event: "message_sent", Values: []string{"lib\uFFFD"}, Events: 1, Installs: 1}}
		if d := cmp.Diff(wantRows, rows); d != "" {
			t.Errorf("Trend by $lib (-want +got):\n%s", d)
		}
	})
}

// storedProperties returns the properties column of the one event of s.
func storedProperties(t *testing.T, s *Store) map[string]any {
	t.Helper()
	var text string
	err := s.db.QueryRow(`SELECT CAST(CAST(properties AS JSON) AS VARCHAR) FROM events`).Scan(&text)
	if err != nil {
		t.Fatalf("read properties: %v", err)
	}
	var properties map[string]any
	if err := json.Unmarshal([]byte(text), &properties); err != nil {
		t.Fatalf("decode properties %s: %v", text, err)
	}
	return properties
}

func TestInstallKeyMatchesSQL(t *testing.T) {
	s := mustOpen(t, "")
	pairs := [][2]string{
		{"mux", "install-a"},
		{"", ""},
		{"a", "bc"},
		{"ab", "c"},
		{"projet-é", "e\u0301"},
		{"👨\u200d👩\u200d👧", "6c764a3c-abc3-4074-ad49-a354ae485992"},
		{strings.Repeat("p", 200), strings.Repeat("d", 300)},
	}
	for _, pair := range pairs {
		var want uint64
		query := `SELECT ` + installKeySQL + ` FROM (SELECT ?::VARCHAR AS project, ?::VARCHAR AS distinct_id)`
		if err := s.db.QueryRow(query, pair[0], pair[1]).Scan(&want); err != nil {
			t.Fatalf("compute install key in SQL: %v", err)
		}
		if got := installKey(pair[0], pair[1]); got != want {
			t.Errorf("installKey(%q, %q) = %d, want %d as in SQL", pair[0], pair[1], got, want)
		}
	}
}

func TestMarkUnavailable(t *testing.T) {
	cases := []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"full disk", &duckdbdriver.Error{Type: duckdbdriver.ErrorTypeIO, Msg: "IO Error: Could not write file: No space left on device"}, true},
		{"wrapped out of memory", fmt.Errorf("flush: %w", &duckdbdriver.Error{Type: duckdbdriver.ErrorTypeOutOfMemory}), true},
		{"invalidated database", &duckdbdriver.Error{Type: duckdbdriver.ErrorTypeFatal}, true},
		{"errno", fmt.Errorf("write: %w", syscall.ENOSPC), true},
		{"failed commit", &duckdbdriver.Error{Type: duckdbdriver.ErrorTypeTransaction,
			Msg: `TransactionContext Error: Failed to commit: Could not write file "events.duckdb.wal": No space left on device`}, true},
		{"constraint at commit", &duckdbdriver.Error{Type: duckdbdriver.ErrorTypeTransaction,
			Msg: "TransactionContext Error: Failed to commit: PRIMARY KEY or UNIQUE constraint violation: duplicate key"}, false},
		{"conversion", &duckdbdriver.Error{Type: duckdbdriver.ErrorTypeConversion}, false},
		{"duplicate key", &duckdbdriver.Error{Type: duckdbdriver.ErrorTypeConstraint}, false},
		{"other", errors.New("invalid value"), false},
	}
	for _, c := range cases {
		err := markUnavailable(c.err)
		if got := errors.Is(err, store.ErrUnavailable); got != c.unavailable {
			t.Errorf("%s: errors.Is(markUnavailable(%v), store.ErrUnavailable) = %v, want %v", c.name, c.err, got, c.unavailable)
		}
		if !errors.Is(err, c.err) || err.Error() != c.err.Error() {
			t.Errorf("%s: markUnavailable(%v) = %v, want the same error", c.name, c.err, err)
		}
	}
}

func TestInsertCanceledIsUnavailable(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "events.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err = s.Insert(ctx, muxBenchEvents(0, 3000))
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Insert with a canceled context: %v, want store.ErrUnavailable", err)
	}
}
