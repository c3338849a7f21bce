package storetest

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// testActiveInstalls uses installs active on these days of March 2025:
//
//	a  3, 4, 11
//	b  3, 22
//	c  6
//	d  1 (before the range of most cases)
//
// Over the 7-day windows, d counts on March 3 to 7 through its event on
// March 1, and b stops counting after March 9.
func testActiveInstalls(t *testing.T, s store.Store, a store.Analytics) {
	mustInsert(t, s, makeEvents(0,
		eventSpec{Name: "app_started", Install: "a", Time: at(3, 10, 0)},
		eventSpec{Name: "message_sent", Install: "a", Time: at(3, 11, 0)},
		eventSpec{Name: "app_started", Install: "a", Time: at(4, 23, 59)},
		eventSpec{Name: "app_started", Install: "a", Time: at(11, 0, 0)},
		eventSpec{Name: "app_started", Install: "b", Time: at(3, 0, 0)},
		eventSpec{Name: "app_started", Install: "b", Time: at(22, 12, 0)},
		eventSpec{Name: "message_sent", Install: "c", Time: at(6, 8, 0)},
		eventSpec{Name: "app_started", Install: "d", Time: at(1, 8, 0)},
	))
	rows := func(window int, days ...any) []store.ActiveRow {
		var active []store.ActiveRow
		for i := 0; i < len(days); i += 2 {
			active = append(active, store.ActiveRow{Day: days[i].(string), Window: window, Installs: int64(days[i+1].(int))})
		}
		return active
	}
	march3to11 := store.Filter{From: at(3, 0, 0), To: at(12, 0, 0)}

	tests := []struct {
		name  string
		query store.ActiveQuery
		want  []store.ActiveRow
	}{
		{"daily", store.ActiveQuery{Filter: march3to11, Windows: []int{1}},
			rows(1, "2025-03-03", 2, "2025-03-04", 1, "2025-03-06", 1, "2025-03-11", 1)},
		{"weekly reaches before From", store.ActiveQuery{Filter: march3to11, Windows: []int{7}},
			rows(7, "2025-03-03", 3, "2025-03-04", 3, "2025-03-05", 3, "2025-03-06", 4, "2025-03-07", 4,
				"2025-03-08", 3, "2025-03-09", 3, "2025-03-10", 2, "2025-03-11", 2)},
		{"windows in order", store.ActiveQuery{Filter: store.Filter{From: at(10, 0, 0), To: at(12, 0, 0)}, Windows: []int{7, 1, 30}},
			append(append(rows(1, "2025-03-11", 1),
				rows(7, "2025-03-10", 2, "2025-03-11", 2)...),
				rows(30, "2025-03-10", 4, "2025-03-11", 4)...)},
		{"unbounded range", store.ActiveQuery{Windows: []int{1}},
			rows(1, "2025-03-01", 1, "2025-03-03", 2, "2025-03-04", 1, "2025-03-06", 1, "2025-03-11", 1, "2025-03-22", 1)},
		// b's event on March 22 falls after To, so no window counts it.
		{"events after to", store.ActiveQuery{Filter: store.Filter{From: at(20, 0, 0), To: at(22, 0, 0)}, Windows: []int{14}},
			rows(14, "2025-03-20", 1, "2025-03-21", 1)},
		// The range ends long after the last event: the rows end with the
		// last day of its window.
		{"range past the data", store.ActiveQuery{Filter: store.Filter{From: at(20, 0, 0), To: at(40, 0, 0)}, Windows: []int{7}},
			rows(7, "2025-03-22", 1, "2025-03-23", 1, "2025-03-24", 1, "2025-03-25", 1, "2025-03-26", 1, "2025-03-27", 1, "2025-03-28", 1)},
		{"event filter", store.ActiveQuery{Filter: store.Filter{Events: []string{"message_sent"}}, Windows: []int{1}},
			rows(1, "2025-03-03", 1, "2025-03-06", 1)},
		{"no windows", store.ActiveQuery{Filter: march3to11}, nil},
		{"no events", store.ActiveQuery{Filter: store.Filter{Project: "nope"}, Windows: []int{1, 7}}, nil},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := a.ActiveInstalls(context.Background(), test.query)
			if err != nil {
				t.Fatalf("ActiveInstalls(%+v): %v", test.query, err)
			}
			if d := diff(test.want, got); d != "" {
				t.Errorf("ActiveInstalls(%+v) (-want +got):\n%s", test.query, d)
			}
		})
	}

	for _, windows := range [][]int{{0}, {-7}, {1, 100000}} {
		if _, err := a.ActiveInstalls(context.Background(), store.ActiveQuery{Windows: windows}); err == nil {
			t.Errorf("ActiveInstalls(windows %v) succeeded, want an error", windows)
		}
	}
}

// testHistogram uses stream_completed events with duration_b2 16, 16 and
// 64 from install a, 16 and 0.5 from b, none from c and the string "fast"
// from d, and one compaction_completed with duration_b2 8 from a.
func testHistogram(t *testing.T, s store.Store, a store.Analytics) {
	stream := func(install string, minute int, props map[string]any) eventSpec {
		return eventSpec{Name: "stream_completed", Install: install, Time: at(3, 10, minute), Props: props}
	}
	mustInsert(t, s, makeEvents(0,
		stream("a", 0, map[string]any{"duration_b2": 16, "model": "m1", "wasInterrupted": true}),
		stream("a", 1, map[string]any{"duration_b2": 16, "model": "m2", "wasInterrupted": false}),
		stream("a", 2, map[string]any{"duration_b2": 64, "model": "m1"}),
		stream("b", 3, map[string]any{"duration_b2": 16, "model": "m1"}),
		stream("b", 4, map[string]any{"duration_b2": 0.5, "model": "m1"}),
		stream("c", 5, map[string]any{"model": "m1"}),
		stream("d", 6, map[string]any{"duration_b2": "fast"}),
		eventSpec{Name: "compaction_completed", Install: "a", Time: at(3, 11, 0), Props: map[string]any{"duration_b2": 8}},
	))
	streams := store.Filter{Events: []string{"stream_completed"}}

	tests := []struct {
		name  string
		query store.HistogramQuery
		want  []store.HistogramRow
	}{
		{"one event", store.HistogramQuery{Filter: streams, Property: "duration_b2"}, []store.HistogramRow{
			{Event: "stream_completed", Value: 0.5, Events: 1, Installs: 1},
			{Event: "stream_completed", Value: 16, Events: 3, Installs: 2},
			{Event: "stream_completed", Value: 64, Events: 1, Installs: 1},
		}},
		{"every event", store.HistogramQuery{Property: "duration_b2"}, []store.HistogramRow{
			{Event: "compaction_completed", Value: 8, Events: 1, Installs: 1},
			{Event: "stream_completed", Value: 0.5, Events: 1, Installs: 1},
			{Event: "stream_completed", Value: 16, Events: 3, Installs: 2},
			{Event: "stream_completed", Value: 64, Events: 1, Installs: 1},
		}},
		{"condition", store.HistogramQuery{Filter: streams, Property: "duration_b2", Where: []store.Condition{{Property: "model", Value: "m1"}}}, []store.HistogramRow{
			{Event: "stream_completed", Value: 0.5, Events: 1, Installs: 1},
			{Event: "stream_completed", Value: 16, Events: 2, Installs: 2},
			{Event: "stream_completed", Value: 64, Events: 1, Installs: 1},
		}},
		{"booleans are no numbers", store.HistogramQuery{Filter: streams, Property: "wasInterrupted"}, nil},
		{"strings are no numbers", store.HistogramQuery{Filter: streams, Property: "model"}, nil},
		{"date range", store.HistogramQuery{Filter: store.Filter{From: at(3, 10, 2), To: at(3, 10, 4)}, Property: "duration_b2"}, []store.HistogramRow{
			{Event: "stream_completed", Value: 16, Events: 1, Installs: 1},
			{Event: "stream_completed", Value: 64, Events: 1, Installs: 1},
		}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := a.Histogram(context.Background(), test.query)
			if err != nil {
				t.Fatalf("Histogram(%+v): %v", test.query, err)
			}
			if d := diff(test.want, got); d != "" {
				t.Errorf("Histogram(%+v) (-want +got):\n%s", test.query, d)
			}
		})
	}
}

// testFunnel uses the funnel app_started with isFirstLaunch true, then
// workspace_created, then message_sent. Times are on March 3 unless noted.
//
//	a  first start 10:00, workspace 10:05, message 10:10            completes all
//	b  first start 12:00, message 12:01, workspace 13:00, message 14:00
//	c  first start 09:00, workspace on March 4 at 10:00 (after 24 h)
//	d  start that is not the first, workspace, message              never enters
//	e  workspace 08:00, first start 08:30, workspace 09:00, message March 4 08:30 (exactly 24 h)
//	f  first start on March 2, before the range, then workspace and message
//	g  like a, on version 2.0.0; every other install runs 1.0.0
//
// With the same event twice, every install with a message in the range
// enters (a, b, d, e and f), and only b sends a second one within a day.
func testFunnel(t *testing.T, s store.Store, a store.Analytics) {
	first := map[string]any{"isFirstLaunch": true}
	notFirst := map[string]any{"isFirstLaunch": false}
	event := func(install, name string, when time.Time, props map[string]any) eventSpec {
		version := "1.0.0"
		if install == "g" {
			version = "2.0.0"
		}
		return eventSpec{Name: name, Install: install, Time: when, Version: version, Props: props}
	}
	mustInsert(t, s, makeEvents(0,
		event("a", "app_started", at(3, 10, 0), first),
		event("a", "workspace_created", at(3, 10, 5), nil),
		event("a", "message_sent", at(3, 10, 10), nil),
		event("b", "app_started", at(3, 12, 0), first),
		event("b", "message_sent", at(3, 12, 1), nil),
		event("b", "workspace_created", at(3, 13, 0), nil),
		event("b", "message_sent", at(3, 14, 0), nil),
		event("c", "app_started", at(3, 9, 0), first),
		event("c", "workspace_created", at(4, 10, 0), nil),
		event("d", "app_started", at(3, 9, 0), notFirst),
		event("d", "workspace_created", at(3, 9, 1), nil),
		event("d", "message_sent", at(3, 9, 2), nil),
		event("e", "workspace_created", at(3, 8, 0), nil),
		event("e", "app_started", at(3, 8, 30), first),
		event("e", "workspace_created", at(3, 9, 0), nil),
		event("e", "message_sent", at(4, 8, 30), nil),
		event("f", "app_started", at(2, 23, 0), first),
		event("f", "workspace_created", at(3, 1, 0), nil),
		event("f", "message_sent", at(3, 2, 0), nil),
		event("g", "app_started", at(3, 10, 0), first),
		event("g", "workspace_created", at(3, 10, 5), nil),
		event("g", "message_sent", at(3, 10, 10), nil),
	))
	steps := []store.FunnelStep{
		{Event: "app_started", Where: []store.Condition{{Property: "isFirstLaunch", Value: "true"}}},
		{Event: "workspace_created"},
		{Event: "message_sent"},
	}
	march3to4 := store.Filter{From: at(3, 0, 0), To: at(5, 0, 0)}
	version1 := march3to4
	version1.Versions = []string{"1.0.0"}
	counts := func(installs ...int64) []store.FunnelRow {
		rows := make([]store.FunnelRow, len(installs))
		for i, n := range installs {
			rows[i] = store.FunnelRow{Step: i, Installs: n}
		}
		return rows
	}

	tests := []struct {
		name  string
		query store.FunnelQuery
		want  []store.FunnelRow
	}{
		{"one day", store.FunnelQuery{Filter: version1, Steps: steps, Window: 24 * time.Hour}, counts(4, 3, 3)},
		{"one hour", store.FunnelQuery{Filter: version1, Steps: steps, Window: time.Hour}, counts(4, 3, 1)},
		{"every version", store.FunnelQuery{Filter: march3to4, Steps: steps, Window: 24 * time.Hour}, counts(5, 4, 4)},
		// Only the first step must fall in the range: c's workspace on
		// March 4 falls after To and still counts.
		{"range of one day", store.FunnelQuery{Filter: store.Filter{From: at(3, 0, 0), To: at(4, 0, 0), Versions: []string{"1.0.0"}}, Steps: steps, Window: 48 * time.Hour}, counts(4, 4, 3)},
		{"same event twice", store.FunnelQuery{Filter: version1, Steps: []store.FunnelStep{{Event: "message_sent"}, {Event: "message_sent"}}, Window: 24 * time.Hour}, counts(5, 1)},
		{"nobody enters", store.FunnelQuery{Filter: version1, Steps: []store.FunnelStep{{Event: "nope"}, {Event: "message_sent"}}, Window: time.Hour}, counts(0, 0)},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := a.Funnel(context.Background(), test.query)
			if err != nil {
				t.Fatalf("Funnel(%+v): %v", test.query, err)
			}
			if d := diff(test.want, got); d != "" {
				t.Errorf("Funnel(%+v) (-want +got):\n%s", test.query, d)
			}
		})
	}

	for _, q := range []store.FunnelQuery{
		{Steps: steps[:1], Window: time.Hour},
		{Steps: steps, Window: 0},
		{Steps: []store.FunnelStep{{Event: "a"}, {Event: ""}}, Window: time.Hour},
		{Steps: make([]store.FunnelStep, store.MaxFunnelSteps+1), Window: time.Hour},
	} {
		if _, err := a.Funnel(context.Background(), q); err == nil {
			t.Errorf("Funnel(%+v) succeeded, want an error", q)
		}
	}
}

// testRetention uses the weeks that start on Monday February 24, March 3,
// 10, 17 and 24. Each install's first event decides its cohort:
//
//	a  first March 3, active in the weeks of March 10 and 24
//	b  first March 5, active in the week of March 17
//	c  first March 11, active in the weeks of March 17 and 24
//	d  first February 25, active in the week of March 3
//	e  first March 24
func testRetention(t *testing.T, s store.Store, a store.Analytics) {
	mustInsert(t, s, makeEvents(0,
		eventSpec{Name: "app_started", Install: "a", Time: at(3, 10, 0)},
		eventSpec{Name: "message_sent", Install: "a", Time: at(3, 11, 0)},
		eventSpec{Name: "app_started", Install: "a", Time: at(12, 10, 0)},
		eventSpec{Name: "app_started", Install: "a", Time: at(25, 10, 0)},
		eventSpec{Name: "app_started", Install: "b", Time: at(5, 10, 0)},
		eventSpec{Name: "message_sent", Install: "b", Time: at(18, 10, 0)},
		eventSpec{Name: "app_started", Install: "c", Time: at(11, 10, 0)},
		eventSpec{Name: "app_started", Install: "c", Time: at(17, 0, 0)},
		eventSpec{Name: "app_started", Install: "c", Time: at(24, 0, 0)},
		eventSpec{Name: "app_started", Install: "d", Time: at(-3, 10, 0)},
		eventSpec{Name: "app_started", Install: "d", Time: at(4, 10, 0)},
		eventSpec{Name: "app_started", Install: "e", Time: at(24, 10, 0)},
	))
	cell := func(cohort string, week, installs int) store.RetentionRow {
		return store.RetentionRow{Cohort: cohort, Week: week, Installs: int64(installs)}
	}

	tests := []struct {
		name  string
		query store.RetentionQuery
		want  []store.RetentionRow
	}{
		{"two weeks", store.RetentionQuery{Filter: store.Filter{From: at(3, 0, 0), To: at(31, 0, 0)}, Weeks: 2}, []store.RetentionRow{
			cell("2025-03-03", 0, 2), cell("2025-03-03", 1, 1), cell("2025-03-03", 2, 1),
			cell("2025-03-10", 0, 1), cell("2025-03-10", 1, 1), cell("2025-03-10", 2, 1),
			cell("2025-03-24", 0, 1),
		}},
		{"to cuts activity", store.RetentionQuery{Filter: store.Filter{From: at(3, 0, 0), To: at(24, 0, 0)}, Weeks: 8}, []store.RetentionRow{
			cell("2025-03-03", 0, 2), cell("2025-03-03", 1, 1), cell("2025-03-03", 2, 1),
			cell("2025-03-10", 0, 1), cell("2025-03-10", 1, 1),
		}},
		// From in the middle of a week includes that week's cohort.
		{"from on a wednesday", store.RetentionQuery{Filter: store.Filter{From: at(5, 12, 0), To: at(31, 0, 0)}, Weeks: 0}, []store.RetentionRow{
			cell("2025-03-03", 0, 2), cell("2025-03-10", 0, 1), cell("2025-03-24", 0, 1),
		}},
		{"unbounded", store.RetentionQuery{Weeks: 1}, []store.RetentionRow{
			cell("2025-02-24", 0, 1), cell("2025-02-24", 1, 1),
			cell("2025-03-03", 0, 2), cell("2025-03-03", 1, 1),
			cell("2025-03-10", 0, 1), cell("2025-03-10", 1, 1),
			cell("2025-03-24", 0, 1),
		}},
		// With only message_sent selected, a's cohort is still March 3,
		// b's first selected event is on March 18.
		{"event filter", store.RetentionQuery{Filter: store.Filter{Events: []string{"message_sent"}}, Weeks: 3}, []store.RetentionRow{
			cell("2025-03-03", 0, 1), cell("2025-03-17", 0, 1),
		}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := a.Retention(context.Background(), test.query)
			if err != nil {
				t.Fatalf("Retention(%+v): %v", test.query, err)
			}
			if d := diff(test.want, got); d != "" {
				t.Errorf("Retention(%+v) (-want +got):\n%s", test.query, d)
			}
		})
	}

	if _, err := a.Retention(context.Background(), store.RetentionQuery{Weeks: -1}); err == nil {
		t.Error("Retention(weeks -1) succeeded, want an error")
	}
}

// exportTimeLayouts are the timestamp forms ExportEvents may write to CSV.
var exportTimeLayouts = []string{
	"2006-01-02 15:04:05Z07",
	"2006-01-02 15:04:05.999999999Z07",
	time.RFC3339Nano,
}

// testExportEvents exports three events of which the filter selects two.
func testExportEvents(t *testing.T, s store.Store, a store.Analytics) {
	events := makeEvents(0,
		eventSpec{Name: "app_started", Install: "a", Time: at(3, 10, 0), Version: "1.0.0", Platform: "linux",
			Props: map[string]any{"isFirstLaunch": true}},
		eventSpec{Name: "message_sent", Install: "b", Time: at(3, 9, 30), Props: map[string]any{"model": "m1", "message_length_b2": 512}},
		eventSpec{Project: "demo", Name: "app_started", Install: "c", Time: at(3, 11, 0)},
	)
	mustInsert(t, s, events)

	var out bytes.Buffer
	if err := a.ExportEvents(context.Background(), store.Filter{Project: "mux"}, store.CSV, &out); err != nil {
		t.Fatalf("ExportEvents(csv): %v", err)
	}
	records, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatalf("read exported CSV %q: %v", out.String(), err)
	}
	if len(records) != 3 {
		t.Fatalf("exported CSV has %d lines, want a header and 2 events:\n%v", len(records), records)
	}
	if d := diff(store.ExportColumns, records[0]); d != "" {
		t.Errorf("exported CSV header (-want +got):\n%s", d)
	}
	// Ordered by timestamp: b's event comes first.
	checkExportedEvent(t, records[1], events[1], "", "")
	checkExportedEvent(t, records[2], events[0], "1.0.0", "linux")

	out.Reset()
	if err := a.ExportEvents(context.Background(), store.Filter{}, store.Parquet, &out); err != nil {
		t.Fatalf("ExportEvents(parquet): %v", err)
	}
	data := out.Bytes()
	if len(data) < 8 || string(data[:4]) != "PAR1" || string(data[len(data)-4:]) != "PAR1" {
		t.Errorf("exported Parquet file of %d bytes lacks the PAR1 magic at its start and end", len(data))
	}

	if err := a.ExportEvents(context.Background(), store.Filter{}, "xlsx", &out); err == nil {
		t.Error("ExportEvents(xlsx) succeeded, want an error")
	}
}

func checkExportedEvent(t *testing.T, record []string, want store.Event, version, platform string) {
	t.Helper()
	got := map[string]string{}
	for i, column := range store.ExportColumns {
		if i < len(record) {
			got[column] = record[i]
		}
	}
	for column, value := range map[string]string{
		"project":          want.Project,
		"uuid":             want.UUID,
		"event":            want.Name,
		"distinct_id":      want.DistinctID,
		"version":          version,
		"backend_platform": platform,
	} {
		if got[column] != value {
			t.Errorf("exported %s = %q, want %q", column, got[column], value)
		}
	}
	for column, value := range map[string]time.Time{"timestamp": want.Timestamp, "received_at": want.ReceivedAt} {
		if !parsesAs(got[column], value) {
			t.Errorf("exported %s = %q, want %s as a timestamp with its zone", column, got[column], value.Format(time.RFC3339))
		}
	}

	var properties map[string]any
	if err := json.Unmarshal([]byte(got["properties"]), &properties); err != nil {
		t.Errorf("exported properties %q are not a JSON object: %v", got["properties"], err)
	}
	wantJSON, _ := json.Marshal(want.Properties)
	var wantProperties map[string]any
	json.Unmarshal(wantJSON, &wantProperties)
	if d := diff(wantProperties, properties); d != "" {
		t.Errorf("exported properties (-want +got):\n%s", d)
	}
}

func parsesAs(text string, want time.Time) bool {
	for _, layout := range exportTimeLayouts {
		if got, err := time.Parse(layout, text); err == nil && got.Equal(want) {
			return true
		}
	}
	return false
}

func testAnalyticsErrClosed(t *testing.T, s store.Store, a store.Analytics) {
	ctx := context.Background()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	calls := map[string]func() error{
		"Summary": func() error { _, err := a.Summary(ctx, store.Filter{}); return err },
		"Trend":   func() error { _, err := a.Trend(ctx, store.TrendQuery{}); return err },
		"ActiveInstalls": func() error {
			_, err := a.ActiveInstalls(ctx, store.ActiveQuery{Windows: []int{1}})
			return err
		},
		"Histogram": func() error {
			_, err := a.Histogram(ctx, store.HistogramQuery{Property: "duration_b2"})
			return err
		},
		"Funnel": func() error {
			_, err := a.Funnel(ctx, store.FunnelQuery{Steps: []store.FunnelStep{{Event: "a"}, {Event: "b"}}, Window: time.Hour})
			return err
		},
		"Retention":    func() error { _, err := a.Retention(ctx, store.RetentionQuery{Weeks: 4}); return err },
		"ExportEvents": func() error { return a.ExportEvents(ctx, store.Filter{}, store.CSV, &bytes.Buffer{}) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: error %v, want store.ErrClosed", name, err)
		}
	}
}

// testBaseProperties stores events with the base properties the SDK sends
// on every event, some of them null or with values of an unusual type, and
// reads each one back through a breakdown, a condition and the export. An
// object holding base property names and a null must export unchanged.
func testBaseProperties(t *testing.T, s store.Store, a store.Analytics) {
	sdkBase := map[string]any{
		"electronVersion":    "37.2.0",
		"nodeVersion":        "unknown",
		"bunVersion":         "unknown",
		"goVersion":          "go1.26.8",
		"catalogFingerprint": "05d0acf6ab21a34b",
		"$lib":               "candor-go",
		"$lib_version":       "0.1.0",
		"$geoip_disable":     true,
		"model":              "m1",
		"frontendPlatform":   map[string]any{"version": "9.9", "$lib": "web", "$geoip_disable": true, "os": nil},
	}
	unusual := map[string]any{
		"electronVersion": "",
		"nodeVersion":     nil,
		"$lib":            7,
		"$lib_version":    map[string]any{"major": 1, "minor": nil},
		"$geoip_disable":  "yes",
		"goVersion":       false,
		"model":           "m2",
		"assignedVariant": nil,
	}
	events := makeEvents(0,
		eventSpec{Name: "message_sent", Install: "a", Time: at(3, 9, 0), Version: "1.0.0", Platform: "linux", Props: sdkBase},
		eventSpec{Name: "message_sent", Install: "b", Time: at(3, 10, 0), Props: unusual},
		eventSpec{Name: "message_sent", Install: "c", Time: at(3, 11, 0), Props: map[string]any{"model": "m3"}},
	)
	mustInsert(t, s, events)

	messages := store.Filter{Events: []string{"message_sent"}}
	breakdown := func(values ...string) []store.TrendRow {
		var rows []store.TrendRow
		for _, v := range values {
			rows = append(rows, store.TrendRow{Event: "message_sent", Values: []string{v}, Events: 1, Installs: 1})
		}
		return rows
	}
	runTrendCases(t, a, []trendCase{
		{"by electronVersion", store.TrendQuery{Filter: messages, Interval: store.All, Breakdown: []string{"electronVersion"}},
			breakdown("", store.NoValue, "37.2.0")},
		{"by $lib", store.TrendQuery{Filter: messages, Interval: store.All, Breakdown: []string{"$lib"}},
			breakdown(store.NoValue, "7", "candor-go")},
		{"by $geoip_disable", store.TrendQuery{Filter: messages, Interval: store.All, Breakdown: []string{"$geoip_disable"}},
			breakdown(store.NoValue, "true", "yes")},
		{"by goVersion", store.TrendQuery{Filter: messages, Interval: store.All, Breakdown: []string{"goVersion"}},
			breakdown(store.NoValue, "false", "go1.26.8")},
		{"where $lib_version", store.TrendQuery{Filter: messages, Interval: store.All,
			Where: []store.Condition{{Property: "$lib_version", Value: "0.1.0"}}, Breakdown: []string{"model"}},
			breakdown("m1")},
		{"where $geoip_disable", store.TrendQuery{Filter: messages, Interval: store.All,
			Where: []store.Condition{{Property: "$geoip_disable", Value: "true"}}, Breakdown: []string{"catalogFingerprint"}},
			breakdown("05d0acf6ab21a34b")},
	})

	var out bytes.Buffer
	if err := a.ExportEvents(context.Background(), store.Filter{}, store.CSV, &out); err != nil {
		t.Fatalf("ExportEvents(csv): %v", err)
	}
	records, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatalf("read exported CSV %q: %v", out.String(), err)
	}
	if len(records) != 4 {
		t.Fatalf("exported CSV has %d lines, want a header and 3 events:\n%v", len(records), records)
	}
	checkExportedEvent(t, records[1], events[0], "1.0.0", "linux")
	checkExportedEvent(t, records[2], events[1], "", "")
	checkExportedEvent(t, records[3], events[2], "", "")
}
