package dashboard_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/store"
)

// smallCellEvents is a dataset in which every table route has rows built
// from 5 or more installs and rows built from 1 to 4. In May 2024:
//
//	q01-q08  1.0.0/darwin  first launch, workspace and a 256-character message on May 1;
//	                       errors TypeError (q01-q06) and GitError (q07-q08)
//	q09-q12  2.0.0/linux   the same with 4096-character messages and NetworkError
//	q01-q06                back on May 9
//	q07-q09                back on May 16
//	q13      2.0.0/linux   first launch and a command on May 20
func smallCellEvents() []store.Event {
	var events []store.Event
	add := func(install int, name string, at time.Time, properties map[string]any) {
		version, platform := "1.0.0", "darwin"
		if install > 8 {
			version, platform = "2.0.0", "linux"
		}
		properties["version"] = version
		properties["backend_platform"] = platform
		events = append(events, store.Event{
			Project:    "mux",
			UUID:       fmt.Sprintf("00000000-0000-4000-b000-%012d", len(events)),
			Name:       name,
			DistinctID: fmt.Sprintf("q%02d", install),
			Timestamp:  at,
			ReceivedAt: at,
			Properties: properties,
		})
	}
	day := func(d, minute int) time.Time { return time.Date(2024, time.May, d, 10, minute, 0, 0, time.UTC) }

	for i := 1; i <= 12; i++ {
		length, errorType := 256, "TypeError"
		switch {
		case i > 8:
			length, errorType = 4096, "NetworkError"
		case i > 6:
			errorType = "GitError"
		}
		add(i, "app_started", day(1, i), map[string]any{"isFirstLaunch": true})
		add(i, "workspace_created", day(1, 20+i), map[string]any{"runtimeType": "local"})
		add(i, "message_sent", day(1, 40+i), map[string]any{"model": "m1", "thinkingLevel": "high", "message_length_b2": length})
		add(i, "error_occurred", day(2, i), map[string]any{"errorType": errorType, "context": "message-send"})
	}
	for i := 1; i <= 6; i++ {
		add(i, "app_started", day(9, i), map[string]any{"isFirstLaunch": false})
	}
	for i := 7; i <= 9; i++ {
		add(i, "app_started", day(16, i), map[string]any{"isFirstLaunch": false})
	}
	add(13, "app_started", day(20, 0), map[string]any{"isFirstLaunch": true})
	add(13, "command_used", day(20, 1), map[string]any{"command": "clear"})
	return events
}

// routeQueries are the parameters each table route is requested with in
// the k-anonymity test, besides the date range. A new route must be added
// here, or the test fails.
var routeQueries = map[string]string{
	"/api/v1/overview":         "",
	"/api/v1/trends":           "",
	"/api/v1/events_per_day":   "",
	"/api/v1/active_installs":  "",
	"/api/v1/new_installs":     "",
	"/api/v1/histogram":        "event=message_sent&property=message_length_b2",
	"/api/v1/errors":           "",
	"/api/v1/funnel":           "step=app_started[isFirstLaunch=true]&step=error_occurred[errorType=GitError]",
	"/api/v1/retention":        "",
	"/api/v1/export/aggregate": "",
	"/api/v1/export/events":    "",
	"/api/v1/catalog":          "",
}

// measureColumns are the result columns that count events or installs or
// derive from those counts.
var measureColumns = []string{"events", "installs", "conversion", "step_conversion", "cohort_size", "retention", "total_events"}

// releasedRow is one row of any API response, in any format, as the
// k-anonymity test reads it: the measures it shows and whether it is
// marked suppressed.
type releasedRow struct {
	measures   map[string]string
	suppressed bool
}

// TestKAnonymityOnEveryRoute requests every API route in every format with
// k = 5 over smallCellEvents, and checks that no row built from fewer than
// 5 installs shows a count. It also checks that each table route has both
// kinds of rows, so the check cannot pass by hiding everything or by
// finding nothing small, and that with k = 1 nothing is hidden.
func TestKAnonymityOnEveryRoute(t *testing.T) {
	s := storeWith(t, smallCellEvents())
	protected := startServer(t, dashboard.Config{Store: s, Project: "mux", KAnonymity: 5})
	open := startServer(t, dashboard.Config{Store: s, Project: "mux", KAnonymity: 1})

	for _, route := range dashboard.APIRoutes() {
		extra, ok := routeQueries[route.Path]
		if !ok {
			t.Errorf("route %s has no entry in routeQueries: add the parameters to request it with", route.Path)
			continue
		}
		query := "from=2024-05-01&to=2024-05-31"
		if extra != "" {
			query += "&" + extra
		}
		switch route.Kind {
		case dashboard.TableRoute:
			for _, format := range []string{"json", "csv", "parquet"} {
				t.Run(route.Path+"/"+format, func(t *testing.T) {
					checkTableRoute(t, protected, open, route.Path, query, format)
				})
			}
		case dashboard.RawEventsRoute:
			t.Run(route.Path, func(t *testing.T) { checkRawEventsRoute(t, protected, open, route.Path, query) })
		case dashboard.CatalogRoute:
			t.Run(route.Path, func(t *testing.T) { checkCatalogRoute(t, protected, route.Path) })
		default:
			t.Errorf("route %s has kind %q, which this test does not check: add a case for it", route.Path, route.Kind)
		}
	}
}

func checkTableRoute(t *testing.T, protected, open *httptest.Server, path, query, format string) {
	rows := releasedRows(t, protected, path+"?"+query+"&format="+format, format)
	suppressed := 0
	for i, r := range rows {
		if r.suppressed {
			suppressed++
			for name, value := range r.measures {
				if value != "" {
					t.Errorf("row %d is suppressed but shows %s = %s", i, name, value)
				}
			}
			continue
		}
		installs, err := strconv.ParseFloat(r.measures["installs"], 64)
		if err != nil || installs < 5 {
			t.Errorf("row %d is not suppressed and has installs %q, want 5 or more", i, r.measures["installs"])
		}
	}
	if suppressed == 0 || suppressed == len(rows) {
		t.Errorf("%d of %d rows suppressed, want some but not all: the dataset no longer tests this route", suppressed, len(rows))
	}

	for i, r := range releasedRows(t, open, path+"?"+query+"&format="+format, format) {
		if r.suppressed {
			t.Errorf("with k = 1, row %d is suppressed", i)
		}
	}
}

// releasedRows requests path and reads its rows in format. The overview's
// totals count as one more row.
func releasedRows(t *testing.T, server *httptest.Server, path, format string) []releasedRow {
	t.Helper()
	switch format {
	case "csv":
		records := readCSV(t, getBody(t, server, path, "text/csv; charset=utf-8"))
		return recordRows(t, records[0], records[1:], "")
	case "parquet":
		columns, records := readParquet(t, getBody(t, server, path, "application/vnd.apache.parquet"))
		return recordRows(t, columns, records, "NULL")
	}

	if strings.HasPrefix(path, "/api/v1/overview") {
		return overviewRows(t, server, path)
	}
	body := getJSON[struct {
		Rows []map[string]any `json:"rows"`
	}](t, server, path)
	rows := make([]releasedRow, len(body.Rows))
	for i, item := range body.Rows {
		rows[i] = jsonRow(item)
	}
	return rows
}

// overviewRows reads the overview's totals, each event name and each
// version and platform row as rows.
func overviewRows(t *testing.T, server *httptest.Server, path string) []releasedRow {
	t.Helper()
	body := getJSON[map[string]any](t, server, path)
	rows := []releasedRow{jsonRow(body)}
	events := body["events"].(map[string]any)
	installs := body["event_installs"].(map[string]any)
	for name, n := range events {
		rows = append(rows, releasedRow{measures: map[string]string{
			"events": fmt.Sprint(n), "installs": fmt.Sprint(installs[name]),
		}})
	}
	for _, name := range body["suppressed_events"].([]any) {
		if _, ok := events[name.(string)]; ok {
			t.Errorf("event %v is both suppressed and counted", name)
		}
		rows = append(rows, releasedRow{measures: map[string]string{}, suppressed: true})
	}
	for _, list := range []string{"top_versions", "top_platforms"} {
		for _, item := range body[list].([]any) {
			rows = append(rows, jsonRow(item.(map[string]any)))
		}
	}
	return rows
}

func jsonRow(object map[string]any) releasedRow {
	r := releasedRow{measures: map[string]string{}, suppressed: object["suppressed"] == true}
	for _, name := range measureColumns {
		if value, ok := object[name]; ok {
			r.measures[name] = fmt.Sprint(value)
		}
	}
	return r
}

// recordRows reads CSV or Parquet records. null is how the format writes a
// missing value.
func recordRows(t *testing.T, header []string, records [][]string, null string) []releasedRow {
	t.Helper()
	suppressedColumn := slices.Index(header, "suppressed")
	if suppressedColumn < 0 {
		t.Fatalf("columns %q lack suppressed", header)
	}
	rows := make([]releasedRow, len(records))
	for i, record := range records {
		r := releasedRow{measures: map[string]string{}, suppressed: record[suppressedColumn] == "true"}
		for j, name := range header {
			if slices.Contains(measureColumns, name) && record[j] != null {
				r.measures[name] = record[j]
			}
		}
		rows[i] = r
	}
	return rows
}

func checkRawEventsRoute(t *testing.T, protected, open *httptest.Server, path, query string) {
	for _, format := range []string{"csv", "parquet", "json"} {
		response, body := send(t, protected, http.MethodGet, path+"?"+query+"&format="+format, withBearer(adminToken))
		if response.StatusCode != http.StatusForbidden {
			t.Errorf("raw events as %s with k = 5: status %d, want 403", format, response.StatusCode)
		}
		if strings.Contains(body, "q01") || strings.Contains(body, "message_sent") {
			t.Errorf("raw events as %s with k = 5: body %.200s shows event data", format, body)
		}
	}
	records := readCSV(t, getBody(t, open, path+"?"+query+"&format=csv", "text/csv; charset=utf-8"))
	if want := len(smallCellEvents()) + 1; len(records) != want {
		t.Errorf("raw events with k = 1: %d CSV records, want %d", len(records), want)
	}
}

// checkCatalogRoute checks that the catalog is the same with and without
// events, so it cannot carry event data.
func checkCatalogRoute(t *testing.T, protected *httptest.Server, path string) {
	_, withEvents := send(t, protected, http.MethodGet, path, withBearer(adminToken))
	empty := startServer(t, dashboard.Config{Store: openStore(t), Project: "mux"})
	_, withoutEvents := send(t, empty, http.MethodGet, path, withBearer(adminToken))
	if withEvents != withoutEvents {
		t.Errorf("catalog differs between a store with events and an empty one")
	}
}
