package clickhouse

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/duckdb"
)

func TestNumberText(t *testing.T) {
	// The texts DuckDB v2.0.0 printed for these JSON numbers, stored as
	// VARIANT by the DuckDB backend.
	tests := map[string]string{
		"512":                   "512",
		"-3":                    "-3",
		"-0":                    "0",
		"0.5":                   "0.5",
		"-0.0001":               "-0.0001",
		"0.00001":               "1e-05",
		"0.000025":              "2.5e-05",
		"1e-7":                  "1e-07",
		"123456.789":            "123456.789",
		"1000000000000000.5":    "1000000000000000.5",
		"10000000000000000":     "10000000000000000",
		"9007199254740993":      "9007199254740993",
		"18446744073709551615":  "18446744073709551615",
		"20000000000000000000":  "2e+19",
		"100000000000000000000": "1e+20",
		"1e+21":                 "1e+21",
		"-1e+22":                "-1e+22",
		"0.3333333333333333":    "0.3333333333333333",
	}
	for literal, want := range tests {
		if got := numberText(literal); got != want {
			t.Errorf("numberText(%q) = %q, want %q", literal, got, want)
		}
	}
}

func TestFlattenProperties(t *testing.T) {
	properties := map[string]any{
		"model":            "m1",
		"isFirstLaunch":    true,
		"duration_b2":      16.0,
		"ratio":            0.5,
		"tiny":             1e-7,
		"count":            int64(3),
		"small":            int32(7),
		"missing":          nil,
		"frontendPlatform": map[string]any{"platform": "macOS", "inner": map[string]any{"deep": false}},
		"dotted.key":       "unreachable",
		"":                 "unreachable",
		"list":             []any{"a", 1},
		"number":           json.Number("1e21"),
	}
	got, err := flattenProperties(properties)
	if err != nil {
		t.Fatalf("flattenProperties: %v", err)
	}
	want := flatProperties{
		keys: []string{"count", "duration_b2", "frontendPlatform.inner.deep", "frontendPlatform.platform",
			"isFirstLaunch", "list", "model", "number", "ratio", "small", "tiny"},
		values: []string{"3", "16", "false", "macOS", "true", `["a",1]`, "m1", "1e+21", "0.5", "7", "1e-07"},
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(flatProperties{})); d != "" {
		t.Errorf("flattenProperties (-want +got):\n%s", d)
	}

	empty, err := flattenProperties(nil)
	if err != nil || empty.keys == nil || empty.values == nil {
		t.Errorf("flattenProperties(nil) = %+v, %v; want empty non-nil slices", empty, err)
	}
}

// matchEvents returns a fleet's events over three weeks from March 3,
// 2025: app starts with a first launch per install, workspaces, messages
// with models, thinking levels, lengths and a nested platform, streams and
// errors, on versions and platforms that some events lack, in two
// projects. Timestamps have microseconds, and received_at whole seconds,
// which is all the ClickHouse schema keeps of it.
func matchEvents() []store.Event {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2025, time.March, 3, 0, 0, 0, 0, time.UTC)
	pick := func(values ...string) string { return values[rng.IntN(len(values))] }
	var events []store.Event
	for install := range 40 {
		project := "mux"
		if install%8 == 7 {
			project = "demo"
		}
		first := start.Add(time.Duration(rng.IntN(14*24*3600)) * time.Second)
		properties := func() map[string]any {
			p := map[string]any{}
			if install%5 != 0 {
				p["version"] = fmt.Sprintf("0.%d.0", install%3)
			}
			if install%6 != 0 {
				p["backend_platform"] = []string{"darwin", "linux", "win32"}[install%3]
			}
			return p
		}
		add := func(name string, ts time.Time, extra map[string]any) {
			p := properties()
			for k, v := range extra {
				p[k] = v
			}
			ts = ts.Add(time.Duration(rng.IntN(1_000_000)) * time.Microsecond)
			events = append(events, store.Event{
				Project:    project,
				UUID:       fmt.Sprintf("%08x-0000-4000-8000-%012x", rng.Uint32(), len(events)),
				Name:       name,
				DistinctID: fmt.Sprintf("install-%02d", install),
				Timestamp:  ts,
				ReceivedAt: ts.Truncate(time.Second).Add(time.Second),
				Properties: p,
			})
		}

		add("app_started", first, map[string]any{"isFirstLaunch": true})
		ts := first
		for range 10 + rng.IntN(50) {
			ts = ts.Add(time.Duration(rng.IntN(20*3600)) * time.Second)
			switch rng.IntN(10) {
			case 0:
				add("app_started", ts, map[string]any{"isFirstLaunch": false})
			case 1:
				add("workspace_created", ts, map[string]any{"runtimeType": pick("local", "ssh")})
			case 2, 3, 4, 5:
				message := map[string]any{
					"model":             pick("m1", "m1", "m2", "m3", "m4"),
					"message_length_b2": []float64{0.5, 1, 16, 512, 4096}[rng.IntN(5)],
					"frontendPlatform":  map[string]any{"platform": pick("macOS", "Windows")},
				}
				if rng.IntN(4) != 0 {
					message["thinkingLevel"] = pick("off", "low", "high")
				}
				add("message_sent", ts, message)
			case 6, 7, 8:
				add("stream_completed", ts, map[string]any{
					"model": pick("m1", "m2"), "duration_b2": []int{1, 2, 16, 64}[rng.IntN(4)], "wasInterrupted": rng.IntN(5) == 0,
				})
			default:
				add("error_occurred", ts, map[string]any{"errorType": pick("TypeError", "NetworkError"), "context": pick("send", "git")})
			}
		}
	}
	return events
}

// TestAnalyticsMatchDuckDB stores one generated fleet in the DuckDB backend
// and in ClickHouse, where a third of the events is written twice as
// collectors racing each other would, and checks that every query of
// store.Analytics returns the same on both.
func TestAnalyticsMatchDuckDB(t *testing.T) {
	ctx := context.Background()
	events := matchEvents()
	reference, err := duckdb.Open("")
	if err != nil {
		t.Fatalf("open duckdb: %v", err)
	}
	defer reference.Close()
	if _, err := reference.Insert(ctx, events); err != nil {
		t.Fatalf("insert into duckdb: %v", err)
	}

	s := openTest(t, newDatabase(t), Config{})
	if _, err := s.Insert(ctx, events); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	insertDuplicates(t, s, events[:len(events)/3])
	t.Logf("%d events in both stores", len(events))

	week := store.Filter{Project: "mux", From: time.Date(2025, time.March, 10, 6, 30, 0, 500, time.UTC), To: time.Date(2025, time.March, 17, 0, 0, 0, 0, time.UTC)}
	narrow := store.Filter{Project: "mux", Versions: []string{"0.1.0", "0.2.0"}, Platforms: []string{"linux", "win32"}}
	messages := store.Filter{Events: []string{"message_sent"}}
	compare := func(name string, query func(a store.Analytics) (any, error)) {
		t.Helper()
		want, err := query(reference)
		if err != nil {
			t.Fatalf("%s on duckdb: %v", name, err)
		}
		got, err := query(s)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			return
		}
		if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("%s (-duckdb +clickhouse):\n%s", name, d)
		}
	}

	for name, f := range map[string]store.Filter{"all": {}, "week": week, "narrow": narrow, "messages": messages} {
		compare("Summary "+name, func(a store.Analytics) (any, error) { return a.Summary(ctx, f) })
	}
	for name, q := range map[string]store.TrendQuery{
		"per day":           {Filter: week},
		"per week":          {Interval: store.Week},
		"per month":         {Filter: narrow, Interval: store.Month},
		"by model":          {Filter: messages, Interval: store.Day, Breakdown: []string{"model"}},
		"top model":         {Filter: messages, Interval: store.Week, Breakdown: []string{"model"}, Limit: 2},
		"two properties":    {Filter: messages, Interval: store.All, Breakdown: []string{"model", "thinkingLevel"}, Limit: 2},
		"nested":            {Filter: week, Interval: store.All, Breakdown: []string{"frontendPlatform.platform"}},
		"version":           {Interval: store.Week, Breakdown: []string{"version", "backend_platform"}, Limit: 1},
		"number":            {Filter: messages, Interval: store.All, Breakdown: []string{"message_length_b2"}},
		"boolean condition": {Interval: store.Day, Where: []store.Condition{{Property: "isFirstLaunch", Value: "true"}}},
		"errors": {Filter: store.Filter{Events: []string{"error_occurred"}}, Interval: store.All,
			Breakdown: []string{"errorType", "context"}, Where: []store.Condition{{Property: "context", Value: "git"}}},
	} {
		compare("Trend "+name, func(a store.Analytics) (any, error) { return a.Trend(ctx, q) })
	}
	for name, q := range map[string]store.ActiveQuery{
		"week":      {Filter: week, Windows: []int{1, 7, 30}},
		"unbounded": {Windows: []int{7, 1}},
		"messages":  {Filter: messages, Windows: []int{3}},
	} {
		compare("ActiveInstalls "+name, func(a store.Analytics) (any, error) { return a.ActiveInstalls(ctx, q) })
	}
	for name, q := range map[string]store.HistogramQuery{
		"lengths":   {Filter: messages, Property: "message_length_b2"},
		"durations": {Filter: week, Property: "duration_b2", Where: []store.Condition{{Property: "model", Value: "m1"}}},
	} {
		compare("Histogram "+name, func(a store.Analytics) (any, error) { return a.Histogram(ctx, q) })
	}
	steps := []store.FunnelStep{
		{Event: "app_started", Where: []store.Condition{{Property: "isFirstLaunch", Value: "true"}}},
		{Event: "workspace_created"},
		{Event: "message_sent", Where: []store.Condition{{Property: "model", Value: "m1"}}},
		{Event: "message_sent", Where: []store.Condition{{Property: "model", Value: "m1"}}},
	}
	for name, q := range map[string]store.FunnelQuery{
		"two days": {Filter: store.Filter{Project: "mux", From: week.From.AddDate(0, 0, -7), To: week.To}, Steps: steps, Window: 48 * time.Hour},
		"a week":   {Filter: narrow, Steps: steps, Window: 7 * 24 * time.Hour},
		"messages": {Filter: week, Steps: []store.FunnelStep{{Event: "message_sent"}, {Event: "message_sent"}, {Event: "stream_completed"}}, Window: 6 * time.Hour},
	} {
		compare("Funnel "+name, func(a store.Analytics) (any, error) { return a.Funnel(ctx, q) })
	}
	for name, q := range map[string]store.RetentionQuery{
		"from week": {Filter: week, Weeks: 3},
		"unbounded": {Filter: narrow, Weeks: 8},
		"messages":  {Filter: messages, Weeks: 1},
	} {
		compare("Retention "+name, func(a store.Analytics) (any, error) { return a.Retention(ctx, q) })
	}

	for name, f := range map[string]store.Filter{"all": {}, "week": week} {
		compareExports(t, reference, s, f, name)
	}
}

// insertDuplicates writes events again, bypassing the Store's check for
// stored events, so the table holds two rows of each until a merge.
func insertDuplicates(t *testing.T, s *Store, events []store.Event) {
	t.Helper()
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
	if err := admin.insert(context.Background(), s.events, rows); err != nil {
		t.Fatalf("insert duplicate rows: %v", err)
	}
}

// compareExports checks that both stores export the same CSV records and
// the same Parquet columns and rows. Properties are compared as JSON
// values, because DuckDB prints numbers its own way, such as 1e21 for
// 1e+21.
func compareExports(t *testing.T, reference, s store.Analytics, f store.Filter, name string) {
	t.Helper()
	ctx := context.Background()
	export := func(a store.Analytics, format store.ExportFormat) []byte {
		var out bytes.Buffer
		if err := a.ExportEvents(ctx, f, format, &out); err != nil {
			t.Fatalf("ExportEvents(%s, %s): %v", name, format, err)
		}
		return out.Bytes()
	}

	want, err := csv.NewReader(bytes.NewReader(export(reference, store.CSV))).ReadAll()
	if err != nil {
		t.Fatalf("read duckdb CSV: %v", err)
	}
	got, err := csv.NewReader(bytes.NewReader(export(s, store.CSV))).ReadAll()
	if err != nil {
		t.Fatalf("read CSV: %v", err)
	}
	if d := cmp.Diff(want, got, cmp.Comparer(sameJSONOrText)); d != "" {
		t.Errorf("CSV export of %s (-duckdb +clickhouse):\n%s", name, d)
	}

	dir := t.TempDir()
	wantPath, gotPath := filepath.Join(dir, "duckdb.parquet"), filepath.Join(dir, "clickhouse.parquet")
	if err := os.WriteFile(wantPath, export(reference, store.Parquet), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gotPath, export(s, store.Parquet), 0o600); err != nil {
		t.Fatal(err)
	}
	wantRows, gotRows := readParquet(t, wantPath), readParquet(t, gotPath)
	if d := cmp.Diff(wantRows, gotRows, cmp.Comparer(sameJSONOrText)); d != "" {
		t.Errorf("Parquet export of %s (-duckdb +clickhouse):\n%s", name, d)
	}
}

// sameJSONOrText reports whether a and b are the same text or JSON objects
// with equal values.
func sameJSONOrText(a, b string) bool {
	if a == b {
		return true
	}
	if !strings.HasPrefix(a, "{") || !strings.HasPrefix(b, "{") {
		return false
	}
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return cmp.Equal(x, y)
}

// readParquet returns the column names and types of a Parquet file as its
// first row, then its rows as text, read with an in-memory DuckDB.
func readParquet(t *testing.T, path string) [][]string {
	t.Helper()
	ctx := context.Background()
	connector, err := duckdbdriver.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer connector.Close()
	conn, err := connector.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	queryer := conn.(driver.QueryerContext)
	if _, err := conn.(driver.ExecerContext).ExecContext(ctx, "SET TimeZone = 'UTC'", nil); err != nil {
		t.Fatal(err)
	}

	source := duckdbString(path)
	schema := readRows(t, queryer, `SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE SELECT * FROM read_parquet(`+source+`))`)
	rows := readRows(t, queryer, `SELECT COLUMNS(*)::VARCHAR FROM read_parquet(`+source+`)`)
	return append(schema, rows...)
}

func readRows(t *testing.T, queryer driver.QueryerContext, query string) [][]string {
	t.Helper()
	rows, err := queryer.QueryContext(context.Background(), query, nil)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var result [][]string
	values := make([]driver.Value, len(rows.Columns()))
	for {
		if err := rows.Next(values); errors.Is(err, io.EOF) {
			return result
		} else if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		row := make([]string, len(values))
		for i, v := range values {
			if v == nil {
				row[i] = "NULL"
			} else {
				row[i] = fmt.Sprint(v)
			}
		}
		result = append(result, row)
	}
}

// TestOpenBackfillsProperties opens a database of schema version 1, whose
// events have no prop_keys, and checks that Open rewrites them, so the
// analytics see their properties and each event is one row again.
func TestOpenBackfillsProperties(t *testing.T) {
	ctx := context.Background()
	database := newDatabase(t)
	admin, closeAdmin := newAdmin(serverURL(t))
	defer closeAdmin()
	for _, statement := range []string{
		"CREATE DATABASE " + database,
		strings.ReplaceAll(migrations[0].statements[0], "{db}", database),
		"CREATE TABLE " + database + ".schema_version (version UInt32, applied_at DateTime('UTC')) ENGINE = ReplacingMergeTree ORDER BY version",
		"INSERT INTO " + database + ".schema_version SELECT 1, now()",
	} {
		if err := admin.exec(ctx, statement); err != nil {
			t.Fatalf("create a version 1 database: %v", err)
		}
	}
	// Events of two months, in JSONEachRow without the new columns, and
	// one event with empty properties.
	events := testEvents(0, 30)
	for i := range events {
		events[i].Properties["model"] = fmt.Sprintf("m%d", i%3)
		events[i].Properties["duration_b2"] = 16
		if i >= 20 {
			events[i].Timestamp = events[i].Timestamp.AddDate(0, 1, 0)
		}
	}
	events[29].Properties = map[string]any{}
	var rows []byte
	for _, e := range events {
		row, err := encodeRow(e)
		if err != nil {
			t.Fatalf("encodeRow: %v", err)
		}
		var fields map[string]any
		json.Unmarshal(row, &fields)
		delete(fields, "prop_keys")
		delete(fields, "prop_values")
		old, _ := json.Marshal(fields)
		rows = append(append(rows, old...), '\n')
	}
	if err := admin.insert(ctx, database+".events", rows); err != nil {
		t.Fatalf("insert version 1 rows: %v", err)
	}

	s := openTest(t, database, Config{})
	trend, err := s.Trend(ctx, store.TrendQuery{Interval: store.Month, Breakdown: []string{"model"}})
	if err != nil {
		t.Fatalf("Trend: %v", err)
	}
	row := func(month, model string, events, installs int64) store.TrendRow {
		return store.TrendRow{Period: month, Event: "message_sent", Values: []string{model}, Events: events, Installs: installs}
	}
	want := []store.TrendRow{
		row("2025-03-01", "m0", 7, 2), row("2025-03-01", "m1", 7, 2), row("2025-03-01", "m2", 6, 2),
		row("2025-04-01", store.NoValue, 1, 1),
		row("2025-04-01", "m0", 3, 1), row("2025-04-01", "m1", 3, 1), row("2025-04-01", "m2", 3, 1),
	}
	if d := cmp.Diff(want, trend); d != "" {
		t.Errorf("Trend by model after the backfill (-want +got):\n%s", d)
	}

	counts, err := admin.query(ctx, "SELECT count(), countIf(length(prop_keys) = 0) FROM "+s.events)
	if err != nil {
		t.Fatalf("count rows: %v", err)
	}
	if d := cmp.Diff([][]string{{"30", "1"}}, counts); d != "" {
		t.Errorf("rows and rows without prop_keys after the backfill (-want +got):\n%s", d)
	}
	if version, err := s.schemaVersion(ctx); err != nil || version != len(migrations) {
		t.Errorf("schemaVersion() = %d, %v; want %d", version, err, len(migrations))
	}
}

// TestExportStringsRoundTrip exports values with the characters that CSV,
// TabSeparated and JSON escape, and reads them back from both formats.
func TestExportStringsRoundTrip(t *testing.T) {
	s := openTest(t, newDatabase(t), Config{})
	names := []string{"tab\there", "new\nline", "cr\r\nlf", `back\slash`, "quote'd", `double"quoted`, "comma,separated",
		" leading space", "nul\x00byte", "ünïcødé 😀", "\\N", "NULL"}
	var events []store.Event
	for i, name := range names {
		e := testEvents(i, 1)[0]
		e.Name = name
		e.DistinctID = name
		e.Properties = map[string]any{"version": name, "nested": map[string]any{"k": name}}
		events = append(events, e)
	}
	if _, err := s.Insert(context.Background(), events); err != nil {
		t.Fatalf("Insert: %v", err)
	}

	var out bytes.Buffer
	if err := s.ExportEvents(context.Background(), store.Filter{}, store.CSV, &out); err != nil {
		t.Fatalf("ExportEvents(csv): %v", err)
	}
	records, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatalf("read exported CSV: %v", err)
	}
	path := filepath.Join(t.TempDir(), "events.parquet")
	out.Reset()
	if err := s.ExportEvents(context.Background(), store.Filter{}, store.Parquet, &out); err != nil {
		t.Fatalf("ExportEvents(parquet): %v", err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	rows := readParquet(t, path)
	if len(records) != len(names)+1 || len(rows) != len(names)+1 {
		t.Fatalf("exported %d CSV records and %d Parquet rows, want a header and %d events", len(records), len(rows), len(names))
	}

	for i, name := range names {
		csvRecord, parquetRow := records[i+1], rows[i+1]
		// encoding/csv's Reader drops a carriage return before a newline,
		// also inside a quoted field. The JSON of the properties escapes
		// both.
		csvName := strings.ReplaceAll(name, "\r\n", "\n")
		for _, got := range []struct {
			format             string
			want               string
			event, id, version string
			properties         string
		}{
			{"csv", csvName, csvRecord[2], csvRecord[3], csvRecord[6], csvRecord[8]},
			{"parquet", name, parquetRow[2], parquetRow[3], parquetRow[6], parquetRow[8]},
		} {
			if got.event != got.want || got.id != got.want || got.version != got.want {
				t.Errorf("%s export of %q: event %q, distinct_id %q, version %q", got.format, name, got.event, got.id, got.version)
			}
			var properties map[string]any
			if err := json.Unmarshal([]byte(got.properties), &properties); err != nil || properties["version"] != name {
				t.Errorf("%s export of %q: properties %q (%v)", got.format, name, got.properties, err)
			}
		}
	}
}
