package dashboard_test

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/store"
)

// productEvents is the dataset of the analytics route tests. Every event is
// in project mux; days are in 2024, and Monday April 29 starts the first
// week.
//
//	install  version/platform  time         event              properties
//	p1       1.0.0/darwin      05-01 09:00  app_started        isFirstLaunch true
//	p1                         05-01 09:05  workspace_created  runtimeType local
//	p1                         05-01 09:10  message_sent       m1, high, message_length_b2 256
//	p1                         05-02 10:00  message_sent       m1, low, 512
//	p1                         05-08 10:00  app_started        isFirstLaunch false
//	p2       1.0.0/linux       05-01 12:00  app_started        isFirstLaunch true
//	p2                         05-01 12:30  workspace_created  runtimeType worktree
//	p2                         05-01 13:00  message_sent       m2, high, 256
//	p2                         05-01 13:05  error_occurred     TypeError in message-send
//	p3       1.1.0/linux       05-02 08:00  app_started        isFirstLaunch true
//	p3                         05-02 08:01  message_sent       m1, medium, 1024
//	p3                         05-03 09:00  error_occurred     TypeError in message-send
//	p3                         05-03 09:30  error_occurred     GitError in git-operation
//	p4       1.1.0/win32       04-30 10:00  app_started        isFirstLaunch true
//	p4                         05-06 10:00  message_sent       m1, high, 256
//
// The message_sent properties are model, thinkingLevel and
// message_length_b2.
func productEvents() []store.Event {
	type install struct{ id, version, platform string }
	p1 := install{"p1", "1.0.0", "darwin"}
	p2 := install{"p2", "1.0.0", "linux"}
	p3 := install{"p3", "1.1.0", "linux"}
	p4 := install{"p4", "1.1.0", "win32"}
	at := func(month time.Month, day, hour, minute int) time.Time {
		return time.Date(2024, month, day, hour, minute, 0, 0, time.UTC)
	}
	started := func(first bool) map[string]any {
		return map[string]any{"isFirstLaunch": first, "vimModeEnabled": false}
	}
	workspace := func(runtime string) map[string]any { return map[string]any{"runtimeType": runtime} }
	message := func(model, level string, length int) map[string]any {
		return map[string]any{"model": model, "thinkingLevel": level, "message_length_b2": length}
	}
	failure := func(errorType, context string) map[string]any {
		return map[string]any{"errorType": errorType, "context": context}
	}

	rows := []struct {
		install    install
		name       string
		time       time.Time
		properties map[string]any
	}{
		{p1, "app_started", at(time.May, 1, 9, 0), started(true)},
		{p1, "workspace_created", at(time.May, 1, 9, 5), workspace("local")},
		{p1, "message_sent", at(time.May, 1, 9, 10), message("m1", "high", 256)},
		{p1, "message_sent", at(time.May, 2, 10, 0), message("m1", "low", 512)},
		{p1, "app_started", at(time.May, 8, 10, 0), started(false)},
		{p2, "app_started", at(time.May, 1, 12, 0), started(true)},
		{p2, "workspace_created", at(time.May, 1, 12, 30), workspace("worktree")},
		{p2, "message_sent", at(time.May, 1, 13, 0), message("m2", "high", 256)},
		{p2, "error_occurred", at(time.May, 1, 13, 5), failure("TypeError", "message-send")},
		{p3, "app_started", at(time.May, 2, 8, 0), started(true)},
		{p3, "message_sent", at(time.May, 2, 8, 1), message("m1", "medium", 1024)},
		{p3, "error_occurred", at(time.May, 3, 9, 0), failure("TypeError", "message-send")},
		{p3, "error_occurred", at(time.May, 3, 9, 30), failure("GitError", "git-operation")},
		{p4, "app_started", at(time.April, 30, 10, 0), started(true)},
		{p4, "message_sent", at(time.May, 6, 10, 0), message("m1", "high", 256)},
	}

	events := make([]store.Event, len(rows))
	for i, row := range rows {
		properties := map[string]any{"version": row.install.version, "backend_platform": row.install.platform}
		for name, value := range row.properties {
			properties[name] = value
		}
		events[i] = store.Event{
			Project:    "mux",
			UUID:       fmt.Sprintf("00000000-0000-4000-a000-%012d", i),
			Name:       row.name,
			DistinctID: row.install.id,
			Timestamp:  row.time,
			ReceivedAt: row.time.Add(time.Second),
			Properties: properties,
		}
	}
	return events
}

// productRange is the date range most analytics route tests query.
const productRange = "from=2024-05-01&to=2024-05-08"

func startProductServer(t *testing.T, k int) *httptest.Server {
	t.Helper()
	return startServer(t, dashboard.Config{Store: storeWith(t, productEvents()), Project: "mux", KAnonymity: k})
}

// tableBody is the JSON body of a table route.
type tableBody struct {
	K    int              `json:"k_anonymity"`
	Rows []map[string]any `json:"rows"`
}

// row builds an expected JSON row from name, value pairs. Numbers become
// float64, as encoding/json decodes them.
func row(pairs ...any) map[string]any {
	r := map[string]any{}
	for i := 0; i < len(pairs); i += 2 {
		value := pairs[i+1]
		switch v := value.(type) {
		case int:
			value = float64(v)
		}
		r[pairs[i].(string)] = value
	}
	return r
}

func checkRows(t *testing.T, server *httptest.Server, path string, want []map[string]any) {
	t.Helper()
	got := getJSON[tableBody](t, server, path)
	if d := cmp.Diff(want, got.Rows); d != "" {
		t.Errorf("GET %s rows (-want +got):\n%s", path, d)
	}
}

func TestTrendsRoute(t *testing.T) {
	server := startProductServer(t, 1)

	checkRows(t, server, "/api/v1/trends?"+productRange+"&event=message_sent&interval=day", []map[string]any{
		row("period", "2024-05-01", "event", "message_sent", "events", 2, "installs", 2),
		row("period", "2024-05-02", "event", "message_sent", "events", 2, "installs", 2),
		row("period", "2024-05-06", "event", "message_sent", "events", 1, "installs", 1),
	})
	checkRows(t, server, "/api/v1/trends?"+productRange+"&event=message_sent&interval=week&breakdown=model", []map[string]any{
		row("period", "2024-04-29", "event", "message_sent", "model", "m1", "events", 3, "installs", 2),
		row("period", "2024-04-29", "event", "message_sent", "model", "m2", "events", 1, "installs", 1),
		row("period", "2024-05-06", "event", "message_sent", "model", "m1", "events", 1, "installs", 1),
	})
	checkRows(t, server, "/api/v1/trends?"+productRange+"&event=message_sent&interval=all&breakdown=model,thinkingLevel", []map[string]any{
		row("period", "", "event", "message_sent", "model", "m1", "thinkingLevel", "high", "events", 2, "installs", 2),
		row("period", "", "event", "message_sent", "model", "m1", "thinkingLevel", "low", "events", 1, "installs", 1),
		row("period", "", "event", "message_sent", "model", "m1", "thinkingLevel", "medium", "events", 1, "installs", 1),
		row("period", "", "event", "message_sent", "model", "m2", "thinkingLevel", "high", "events", 1, "installs", 1),
	})
	checkRows(t, server, "/api/v1/trends?"+productRange+"&event=message_sent&interval=all&breakdown=model&limit=1", []map[string]any{
		row("period", "", "event", "message_sent", "model", store.OtherValue, "events", 1, "installs", 1),
		row("period", "", "event", "message_sent", "model", "m1", "events", 4, "installs", 3),
	})
	checkRows(t, server, "/api/v1/trends?"+productRange+"&interval=all&where=thinkingLevel=high", []map[string]any{
		row("period", "", "event", "message_sent", "events", 3, "installs", 3),
	})
	// Without an event, the breakdown by a base property covers every event.
	checkRows(t, server, "/api/v1/trends?from=2024-05-03&to=2024-05-08&interval=all&breakdown=version", []map[string]any{
		row("period", "", "event", "app_started", "version", "1.0.0", "events", 1, "installs", 1),
		row("period", "", "event", "error_occurred", "version", "1.1.0", "events", 2, "installs", 1),
		row("period", "", "event", "message_sent", "version", "1.1.0", "events", 1, "installs", 1),
	})
}

// TestActiveInstallsRoute checks daily and weekly active installs. The
// weekly window of May 1 reaches back to p4's first launch on April 30, and
// on May 8 p2, last seen on May 1, has left it.
func TestActiveInstallsRoute(t *testing.T) {
	server := startProductServer(t, 1)

	active := func(window int, days ...any) []map[string]any {
		var rows []map[string]any
		for i := 0; i < len(days); i += 2 {
			rows = append(rows, row("day", days[i], "window", window, "installs", days[i+1]))
		}
		return rows
	}
	want := append(active(1, "2024-05-01", 2, "2024-05-02", 2, "2024-05-03", 1, "2024-05-06", 1, "2024-05-08", 1),
		active(7, "2024-05-01", 3, "2024-05-02", 4, "2024-05-03", 4, "2024-05-04", 4, "2024-05-05", 4,
			"2024-05-06", 4, "2024-05-07", 4, "2024-05-08", 3)...)
	checkRows(t, server, "/api/v1/active_installs?"+productRange+"&window=1,7", want)

	// The monthly window holds p1, p2 and p4 on May 1, and every install
	// from May 2, when p3 starts.
	got := getJSON[tableBody](t, server, "/api/v1/active_installs?"+productRange)
	monthly := 0
	for _, r := range got.Rows {
		if r["window"] != 30.0 {
			continue
		}
		monthly++
		want := 4.0
		if r["day"] == "2024-05-01" {
			want = 3
		}
		if r["installs"] != want {
			t.Errorf("monthly active installs on %v = %v, want %v", r["day"], r["installs"], want)
		}
	}
	if monthly != 8 {
		t.Errorf("default windows gave %d monthly rows, want one per day of May 1 to 8", monthly)
	}
}

func TestNewInstallsRoute(t *testing.T) {
	server := startProductServer(t, 1)

	// p4's first launch on April 30 falls before the range.
	checkRows(t, server, "/api/v1/new_installs?"+productRange, []map[string]any{
		row("period", "2024-05-01", "installs", 2),
		row("period", "2024-05-02", "installs", 1),
	})
	checkRows(t, server, "/api/v1/new_installs?"+productRange+"&interval=all", []map[string]any{
		row("period", "", "installs", 3),
	})
	checkRows(t, server, "/api/v1/new_installs?from=2024-04-01&to=2024-05-31&interval=month&platform=linux,win32", []map[string]any{
		row("period", "2024-04-01", "installs", 1),
		row("period", "2024-05-01", "installs", 2),
	})
}

func TestHistogramRoute(t *testing.T) {
	server := startProductServer(t, 1)

	checkRows(t, server, "/api/v1/histogram?"+productRange+"&event=message_sent&property=message_length_b2", []map[string]any{
		row("event", "message_sent", "value", 256, "events", 3, "installs", 3),
		row("event", "message_sent", "value", 512, "events", 1, "installs", 1),
		row("event", "message_sent", "value", 1024, "events", 1, "installs", 1),
	})
	checkRows(t, server, "/api/v1/histogram?"+productRange+"&event=message_sent&property=message_length_b2&where=model=m1&version=1.1.0", []map[string]any{
		row("event", "message_sent", "value", 256, "events", 1, "installs", 1),
		row("event", "message_sent", "value", 1024, "events", 1, "installs", 1),
	})
}

func TestErrorsRoute(t *testing.T) {
	server := startProductServer(t, 1)

	checkRows(t, server, "/api/v1/errors?"+productRange+"&interval=all", []map[string]any{
		row("period", "", "errorType", "GitError", "context", "git-operation", "events", 1, "installs", 1),
		row("period", "", "errorType", "TypeError", "context", "message-send", "events", 2, "installs", 2),
	})
	checkRows(t, server, "/api/v1/errors?"+productRange+"&breakdown=errorType", []map[string]any{
		row("period", "2024-05-01", "errorType", "TypeError", "events", 1, "installs", 1),
		row("period", "2024-05-03", "errorType", "GitError", "events", 1, "installs", 1),
		row("period", "2024-05-03", "errorType", "TypeError", "events", 1, "installs", 1),
	})
}

// TestFunnelRoute checks the default funnel: p1, p2 and p3 launch for the
// first time in the range, p1 and p2 create a workspace and then send a
// message, and p3 sends a message without a workspace.
func TestFunnelRoute(t *testing.T) {
	server := startProductServer(t, 1)

	checkRows(t, server, "/api/v1/funnel?"+productRange, []map[string]any{
		row("step", 1, "event", "app_started[isFirstLaunch=true]", "installs", 3, "conversion", 1.0, "step_conversion", 1.0),
		row("step", 2, "event", "workspace_created", "installs", 2, "conversion", 2.0/3, "step_conversion", 2.0/3),
		row("step", 3, "event", "message_sent", "installs", 2, "conversion", 2.0/3, "step_conversion", 1.0),
	})
	// Within 5 minutes, p1 creates its workspace and p2 does not.
	checkRows(t, server, "/api/v1/funnel?"+productRange+"&step=app_started[isFirstLaunch=true]&step=workspace_created&window=5m", []map[string]any{
		row("step", 1, "event", "app_started[isFirstLaunch=true]", "installs", 3, "conversion", 1.0, "step_conversion", 1.0),
		row("step", 2, "event", "workspace_created", "installs", 1, "conversion", 1.0/3, "step_conversion", 1.0/3),
	})
	checkRows(t, server, "/api/v1/funnel?"+productRange+"&step=message_sent[thinkingLevel=high]&step=error_occurred[context=message-send]&window=1d", []map[string]any{
		row("step", 1, "event", "message_sent[thinkingLevel=high]", "installs", 3, "conversion", 1.0, "step_conversion", 1.0),
		row("step", 2, "event", "error_occurred[context=message-send]", "installs", 1, "conversion", 1.0/3, "step_conversion", 1.0/3),
	})
}

// TestRetentionRoute: every install is first seen in the week of April 29,
// and p1 (May 8) and p4 (May 6) come back in the week of May 6.
func TestRetentionRoute(t *testing.T) {
	server := startProductServer(t, 1)

	checkRows(t, server, "/api/v1/retention?"+productRange+"&weeks=2", []map[string]any{
		row("cohort", "2024-04-29", "week", 0, "installs", 4, "cohort_size", 4, "retention", 1.0),
		row("cohort", "2024-04-29", "week", 1, "installs", 2, "cohort_size", 4, "retention", 0.5),
	})
	checkRows(t, server, "/api/v1/retention?"+productRange+"&weeks=0&platform=linux", []map[string]any{
		row("cohort", "2024-04-29", "week", 0, "installs", 2, "cohort_size", 2, "retention", 1.0),
	})
}

// TestSuppressionOfSmallCells uses k = 3 on the product events: 4 installs
// sent message_sent and app_started, 2 created a workspace and 2 hit an
// error, and each version has 2 installs.
func TestSuppressionOfSmallCells(t *testing.T) {
	server := startProductServer(t, 3)

	got := getJSON[overview](t, server, "/api/v1/overview?from=2024-04-01&to=2024-05-31")
	events, installs := counts("app_started", 5, 4, "message_sent", 5, 4)
	want := overview{
		K:                3,
		TotalEvents:      count(15),
		Installs:         count(4),
		Events:           events,
		EventInstalls:    installs,
		SuppressedEvents: []string{"error_occurred", "workspace_created"},
		Versions:         []keyCount{{Key: "1.0.0", Suppressed: true}, {Key: "1.1.0", Suppressed: true}},
		Platforms:        []keyCount{{Key: "linux", Suppressed: true}, {Key: "darwin", Suppressed: true}, {Key: "win32", Suppressed: true}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("overview with k = 3 (-want +got):\n%s", d)
	}

	checkRows(t, server, "/api/v1/histogram?"+productRange+"&event=message_sent&property=message_length_b2", []map[string]any{
		row("event", "message_sent", "value", 256, "events", 3, "installs", 3),
		row("event", "message_sent", "value", 512, "suppressed", true),
		row("event", "message_sent", "value", 1024, "suppressed", true),
	})
	// A funnel step of 2 installs is hidden, conversions included.
	checkRows(t, server, "/api/v1/funnel?"+productRange, []map[string]any{
		row("step", 1, "event", "app_started[isFirstLaunch=true]", "installs", 3, "conversion", 1.0, "step_conversion", 1.0),
		row("step", 2, "event", "workspace_created", "suppressed", true),
		row("step", 3, "event", "message_sent", "suppressed", true),
	})
}

// getBody sends an authenticated GET, checks status 200 and the content
// type, and returns the body.
func getBody(t *testing.T, server *httptest.Server, path, contentType string) string {
	t.Helper()
	response, body := send(t, server, http.MethodGet, path, withBearer(adminToken))
	if response.StatusCode != http.StatusOK {
		t.Fatalf("GET %s status = %d, want 200; body: %s", path, response.StatusCode, body)
	}
	if got := response.Header.Get("Content-Type"); got != contentType {
		t.Errorf("GET %s Content-Type = %q, want %q", path, got, contentType)
	}
	if got := response.Header.Get("Content-Disposition"); !strings.HasPrefix(got, `attachment; filename="candor-`) {
		t.Errorf("GET %s Content-Disposition = %q, want an attachment named candor-...", path, got)
	}
	return body
}

func readCSV(t *testing.T, body string) [][]string {
	t.Helper()
	records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("parse CSV %q: %v", body, err)
	}
	return records
}

// readParquet reads a Parquet file with DuckDB and returns its column
// names and its rows as DuckDB casts them to text, NULL as "NULL".
func readParquet(t *testing.T, data string) ([]string, [][]string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "table.parquet")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatalf("open DuckDB: %v", err)
	}
	defer db.Close()

	rows, err := db.QueryContext(context.Background(), "SELECT COLUMNS(*)::VARCHAR FROM read_parquet(?)", path)
	if err != nil {
		t.Fatalf("read Parquet: %v", err)
	}
	defer rows.Close()
	columns, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var records [][]string
	for rows.Next() {
		values := make([]sql.NullString, len(columns))
		targets := make([]any, len(columns))
		for i := range values {
			targets[i] = &values[i]
		}
		if err := rows.Scan(targets...); err != nil {
			t.Fatalf("scan Parquet row: %v", err)
		}
		record := make([]string, len(columns))
		for i, value := range values {
			record[i] = "NULL"
			if value.Valid {
				record[i] = value.String
			}
		}
		records = append(records, record)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read Parquet rows: %v", err)
	}
	return columns, records
}

func TestAggregateExport(t *testing.T) {
	server := startProductServer(t, 1)

	body := getBody(t, server, "/api/v1/export/aggregate?from=2024-05-01&to=2024-05-01&format=csv", "text/csv; charset=utf-8")
	want := [][]string{
		{"day", "event", "version", "backend_platform", "events", "installs", "suppressed"},
		{"2024-05-01", "app_started", "1.0.0", "darwin", "1", "1", "false"},
		{"2024-05-01", "app_started", "1.0.0", "linux", "1", "1", "false"},
		{"2024-05-01", "error_occurred", "1.0.0", "linux", "1", "1", "false"},
		{"2024-05-01", "message_sent", "1.0.0", "darwin", "1", "1", "false"},
		{"2024-05-01", "message_sent", "1.0.0", "linux", "1", "1", "false"},
		{"2024-05-01", "workspace_created", "1.0.0", "darwin", "1", "1", "false"},
		{"2024-05-01", "workspace_created", "1.0.0", "linux", "1", "1", "false"},
	}
	if d := cmp.Diff(want, readCSV(t, body)); d != "" {
		t.Errorf("aggregate CSV (-want +got):\n%s", d)
	}

	body = getBody(t, server, "/api/v1/export/aggregate?from=2024-05-03&to=2024-05-03&format=parquet", "application/vnd.apache.parquet")
	columns, records := readParquet(t, body)
	if d := cmp.Diff(want[0], columns); d != "" {
		t.Errorf("aggregate Parquet columns (-want +got):\n%s", d)
	}
	if d := cmp.Diff([][]string{{"2024-05-03", "error_occurred", "1.1.0", "linux", "2", "1", "false"}}, records); d != "" {
		t.Errorf("aggregate Parquet rows (-want +got):\n%s", d)
	}
}

func TestChartExports(t *testing.T) {
	server := startProductServer(t, 3)

	body := getBody(t, server, "/api/v1/histogram?"+productRange+"&event=message_sent&property=message_length_b2&format=csv", "text/csv; charset=utf-8")
	want := [][]string{
		{"event", "value", "events", "installs", "suppressed"},
		{"message_sent", "256", "3", "3", "false"},
		{"message_sent", "512", "", "", "true"},
		{"message_sent", "1024", "", "", "true"},
	}
	if d := cmp.Diff(want, readCSV(t, body)); d != "" {
		t.Errorf("histogram CSV (-want +got):\n%s", d)
	}

	body = getBody(t, server, "/api/v1/funnel?"+productRange+"&format=parquet", "application/vnd.apache.parquet")
	columns, records := readParquet(t, body)
	wantColumns := []string{"step", "event", "installs", "conversion", "step_conversion", "suppressed"}
	if d := cmp.Diff(wantColumns, columns); d != "" {
		t.Errorf("funnel Parquet columns (-want +got):\n%s", d)
	}
	wantRecords := [][]string{
		{"1", "app_started[isFirstLaunch=true]", "3", "1.0", "1.0", "false"},
		{"2", "workspace_created", "NULL", "NULL", "NULL", "true"},
		{"3", "message_sent", "NULL", "NULL", "NULL", "true"},
	}
	if d := cmp.Diff(wantRecords, records); d != "" {
		t.Errorf("funnel Parquet rows (-want +got):\n%s", d)
	}
}

func TestRawEventsExport(t *testing.T) {
	server := startProductServer(t, 1)

	body := getBody(t, server, "/api/v1/export/events?from=2024-05-03&to=2024-05-03&format=csv", "text/csv; charset=utf-8")
	records := readCSV(t, body)
	if d := cmp.Diff(store.ExportColumns, records[0]); d != "" {
		t.Errorf("raw events CSV header (-want +got):\n%s", d)
	}
	if len(records) != 3 {
		t.Fatalf("raw events CSV of May 3 has %d records, want a header and 2 events", len(records))
	}
	for i, wantType := range []string{"TypeError", "GitError"} {
		record := records[i+1]
		if record[2] != "error_occurred" || record[3] != "p3" || !strings.Contains(record[8], `"errorType":"`+wantType+`"`) {
			t.Errorf("raw event %d = %q, want p3's %s", i, record, wantType)
		}
	}

	body = getBody(t, server, "/api/v1/export/events?format=parquet&event=workspace_created", "application/vnd.apache.parquet")
	columns, rows := readParquet(t, body)
	if d := cmp.Diff(store.ExportColumns, columns); d != "" {
		t.Errorf("raw events Parquet columns (-want +got):\n%s", d)
	}
	if len(rows) != 2 {
		t.Errorf("raw workspace_created events in Parquet = %d, want 2", len(rows))
	}

	response, body := send(t, server, http.MethodGet, "/api/v1/export/events", withBearer(adminToken))
	if response.StatusCode != http.StatusBadRequest || !strings.Contains(body, "missing format") || !strings.Contains(body, "format=csv or format=parquet") {
		t.Errorf("raw events without format: status %d, body %s, want 400 naming the missing format and the formats", response.StatusCode, body)
	}
	response, body = send(t, server, http.MethodGet, "/api/v1/export/events?format=json", withBearer(adminToken))
	if response.StatusCode != http.StatusBadRequest || !strings.Contains(body, `invalid format \"json\"`) {
		t.Errorf("raw events as JSON: status %d, body %s, want 400 naming the format json", response.StatusCode, body)
	}
}
