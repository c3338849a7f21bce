package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// RunAnalytics runs the conformance suite of store.Analytics. open must
// return a new store with no events that implements store.Analytics. Each
// subtest opens its own store and closes it when it ends.
//
// The expected results are counted by hand from small fixtures, which the
// comment of each test lays out.
func RunAnalytics(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store, a store.Analytics)
	}{
		{"Summary", testSummary},
		{"Trend", testTrend},
		{"TrendBreakdown", testTrendBreakdown},
		{"TrendLimit", testTrendLimit},
		{"TrendInvalid", testTrendInvalid},
		{"ActiveInstalls", testActiveInstalls},
		{"Histogram", testHistogram},
		{"Funnel", testFunnel},
		{"Retention", testRetention},
		{"ExportEvents", testExportEvents},
		{"BaseProperties", testBaseProperties},
		{"AnalyticsErrClosed", testAnalyticsErrClosed},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			a, ok := s.(store.Analytics)
			if !ok {
				t.Fatalf("store %T does not implement store.Analytics", s)
			}
			test.run(t, s, a)
		})
	}
}

// monday is 2025-03-03 00:00 UTC, the first day of the week most analytics
// fixtures use.
var monday = time.Date(2025, time.March, 3, 0, 0, 0, 0, time.UTC)

// at returns the time on the given March 2025 or later day and hour, in UTC.
// Days past 31 run into April.
func at(day, hour, minute int) time.Time {
	return time.Date(2025, time.March, day, hour, minute, 0, 0, time.UTC)
}

// testSummary uses the fixture of testOverview: in project mux, install a
// sends 3 events on 1.0.0/darwin, b sends 4 on 1.1.0/linux, c sends 1 on
// 1.1.0/win32 and d sends 1 without version or platform. Project demo has
// its own install a with 1 event on 9.0.0/linux.
func testSummary(t *testing.T, s store.Store, a store.Analytics) {
	ctx := context.Background()
	empty, err := a.Summary(ctx, store.Filter{})
	if err != nil {
		t.Fatalf("Summary of an empty store: %v", err)
	}
	if d := diff(store.Summary{}, empty); d != "" {
		t.Errorf("Summary of an empty store (-want +got):\n%s", d)
	}

	minute := func(n int) time.Time { return day.Add(10*time.Hour + time.Duration(n)*time.Minute) }
	mustInsert(t, s, makeEvents(0,
		eventSpec{Name: "app_started", Install: "a", Time: minute(0), Version: "1.0.0", Platform: "darwin"},
		eventSpec{Name: "message_sent", Install: "a", Time: minute(1), Version: "1.0.0", Platform: "darwin"},
		eventSpec{Name: "message_sent", Install: "a", Time: minute(2), Version: "1.0.0", Platform: "darwin"},
		eventSpec{Name: "app_started", Install: "b", Time: minute(3), Version: "1.1.0", Platform: "linux"},
		eventSpec{Name: "message_sent", Install: "b", Time: minute(4), Version: "1.1.0", Platform: "linux"},
		eventSpec{Name: "message_sent", Install: "b", Time: minute(5), Version: "1.1.0", Platform: "linux"},
		eventSpec{Name: "message_sent", Install: "b", Time: minute(6), Version: "1.1.0", Platform: "linux"},
		eventSpec{Name: "app_started", Install: "c", Time: minute(7), Version: "1.1.0", Platform: "win32"},
		eventSpec{Name: "app_started", Install: "d", Time: minute(8)},
		eventSpec{Project: "demo", Name: "app_started", Install: "a", Time: minute(9), Version: "9.0.0", Platform: "linux"},
	))

	tests := []struct {
		name   string
		filter store.Filter
		want   store.Summary
	}{
		{"project", store.Filter{Project: "mux"}, store.Summary{
			Total:  store.KeyCount{Events: 9, Installs: 4},
			Events: []store.KeyCount{{Key: "message_sent", Events: 5, Installs: 2}, {Key: "app_started", Events: 4, Installs: 4}},
			Versions: []store.KeyCount{
				{Key: "1.1.0", Events: 5, Installs: 2},
				{Key: "1.0.0", Events: 3, Installs: 1},
			},
			Platforms: []store.KeyCount{
				{Key: "linux", Events: 4, Installs: 1},
				{Key: "darwin", Events: 3, Installs: 1},
				{Key: "win32", Events: 1, Installs: 1},
			},
		}},
		// Install a of mux and install a of demo are two installs, and
		// the events tie at 5, so their names decide the order.
		{"all projects", store.Filter{}, store.Summary{
			Total:  store.KeyCount{Events: 10, Installs: 5},
			Events: []store.KeyCount{{Key: "app_started", Events: 5, Installs: 5}, {Key: "message_sent", Events: 5, Installs: 2}},
			Versions: []store.KeyCount{
				{Key: "1.1.0", Events: 5, Installs: 2},
				{Key: "1.0.0", Events: 3, Installs: 1},
				{Key: "9.0.0", Events: 1, Installs: 1},
			},
			Platforms: []store.KeyCount{
				{Key: "linux", Events: 5, Installs: 2},
				{Key: "darwin", Events: 3, Installs: 1},
				{Key: "win32", Events: 1, Installs: 1},
			},
		}},
		{"filtered", store.Filter{Project: "mux", Events: []string{"app_started"}, Platforms: []string{"linux", "win32"}}, store.Summary{
			Total:     store.KeyCount{Events: 2, Installs: 2},
			Events:    []store.KeyCount{{Key: "app_started", Events: 2, Installs: 2}},
			Versions:  []store.KeyCount{{Key: "1.1.0", Events: 2, Installs: 2}},
			Platforms: []store.KeyCount{{Key: "linux", Events: 1, Installs: 1}, {Key: "win32", Events: 1, Installs: 1}},
		}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := a.Summary(ctx, test.filter)
			if err != nil {
				t.Fatalf("Summary(%+v): %v", test.filter, err)
			}
			if d := diff(test.want, got); d != "" {
				t.Errorf("Summary(%+v) (-want +got):\n%s", test.filter, d)
			}
		})
	}
}

// trendFixture is the dataset of the trend tests. Days are in March 2025
// unless noted; March 3 is a Monday.
//
//	install  version  time           event         model  thinkingLevel  other properties
//	a        1.0.0    03-03 10:00    message_sent  m1     high           message_length_b2 512, frontendPlatform.platform macOS
//	a        1.0.0    03-03 11:00    message_sent  m1     low
//	b        1.1.0    03-03 12:00    message_sent  m2     high           message_length_b2 0.5
//	b        1.1.0    03-04 09:00    message_sent  m1     -
//	c        -        03-11 08:00    message_sent  m3     high
//	a        1.0.0    03-11 09:00    app_started   -      -              isFirstLaunch true
//	c        -        04-01 10:00    message_sent  m1     high
//
// Install a also runs on platform darwin.
func trendFixture() []store.Event {
	return makeEvents(0,
		eventSpec{Name: "message_sent", Install: "a", Time: at(3, 10, 0), Version: "1.0.0", Platform: "darwin",
			Props: map[string]any{"model": "m1", "thinkingLevel": "high", "message_length_b2": 512,
				"frontendPlatform": map[string]any{"platform": "macOS"}}},
		eventSpec{Name: "message_sent", Install: "a", Time: at(3, 11, 0), Version: "1.0.0", Platform: "darwin",
			Props: map[string]any{"model": "m1", "thinkingLevel": "low"}},
		eventSpec{Name: "message_sent", Install: "b", Time: at(3, 12, 0), Version: "1.1.0",
			Props: map[string]any{"model": "m2", "thinkingLevel": "high", "message_length_b2": 0.5}},
		eventSpec{Name: "message_sent", Install: "b", Time: at(4, 9, 0), Version: "1.1.0",
			Props: map[string]any{"model": "m1"}},
		eventSpec{Name: "message_sent", Install: "c", Time: at(11, 8, 0),
			Props: map[string]any{"model": "m3", "thinkingLevel": "high"}},
		eventSpec{Name: "app_started", Install: "a", Time: at(11, 9, 0), Version: "1.0.0", Platform: "darwin",
			Props: map[string]any{"isFirstLaunch": true}},
		eventSpec{Name: "message_sent", Install: "c", Time: at(32, 10, 0),
			Props: map[string]any{"model": "m1", "thinkingLevel": "high"}},
	)
}

// trendCase is one query of a trend test and its expected rows.
type trendCase struct {
	name  string
	query store.TrendQuery
	want  []store.TrendRow
}

func runTrendCases(t *testing.T, a store.Analytics, tests []trendCase) {
	t.Helper()
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := a.Trend(context.Background(), test.query)
			if err != nil {
				t.Fatalf("Trend(%+v): %v", test.query, err)
			}
			if d := diff(test.want, got); d != "" {
				t.Errorf("Trend(%+v) (-want +got):\n%s", test.query, d)
			}
		})
	}
}

func testTrend(t *testing.T, s store.Store, a store.Analytics) {
	mustInsert(t, s, trendFixture())
	messages := store.Filter{Events: []string{"message_sent"}}

	runTrendCases(t, a, []trendCase{
		{"per day", store.TrendQuery{Filter: messages, Interval: store.Day}, []store.TrendRow{
			{Period: "2025-03-03", Event: "message_sent", Events: 3, Installs: 2},
			{Period: "2025-03-04", Event: "message_sent", Events: 1, Installs: 1},
			{Period: "2025-03-11", Event: "message_sent", Events: 1, Installs: 1},
			{Period: "2025-04-01", Event: "message_sent", Events: 1, Installs: 1},
		}},
		{"zero interval is day", store.TrendQuery{Filter: store.Filter{From: at(4, 0, 0), To: at(12, 0, 0)}}, []store.TrendRow{
			{Period: "2025-03-04", Event: "message_sent", Events: 1, Installs: 1},
			{Period: "2025-03-11", Event: "app_started", Events: 1, Installs: 1},
			{Period: "2025-03-11", Event: "message_sent", Events: 1, Installs: 1},
		}},
		// Weeks start on Monday, so April 1 falls in the week of March 31.
		{"per week", store.TrendQuery{Interval: store.Week}, []store.TrendRow{
			{Period: "2025-03-03", Event: "message_sent", Events: 4, Installs: 2},
			{Period: "2025-03-10", Event: "app_started", Events: 1, Installs: 1},
			{Period: "2025-03-10", Event: "message_sent", Events: 1, Installs: 1},
			{Period: "2025-03-31", Event: "message_sent", Events: 1, Installs: 1},
		}},
		{"per month", store.TrendQuery{Interval: store.Month}, []store.TrendRow{
			{Period: "2025-03-01", Event: "app_started", Events: 1, Installs: 1},
			{Period: "2025-03-01", Event: "message_sent", Events: 5, Installs: 3},
			{Period: "2025-04-01", Event: "message_sent", Events: 1, Installs: 1},
		}},
		{"all", store.TrendQuery{Interval: store.All}, []store.TrendRow{
			{Period: "", Event: "app_started", Events: 1, Installs: 1},
			{Period: "", Event: "message_sent", Events: 6, Installs: 3},
		}},
		{"string condition", store.TrendQuery{
			Interval: store.All,
			Where:    []store.Condition{{Property: "thinkingLevel", Value: "high"}},
		}, []store.TrendRow{
			{Period: "", Event: "message_sent", Events: 4, Installs: 3},
		}},
		{"boolean condition", store.TrendQuery{
			Interval: store.Day,
			Where:    []store.Condition{{Property: "isFirstLaunch", Value: "true"}},
		}, []store.TrendRow{
			{Period: "2025-03-11", Event: "app_started", Events: 1, Installs: 1},
		}},
		{"two conditions", store.TrendQuery{
			Interval: store.All,
			Where:    []store.Condition{{Property: "thinkingLevel", Value: "high"}, {Property: "model", Value: "m1"}},
		}, []store.TrendRow{
			{Period: "", Event: "message_sent", Events: 2, Installs: 2},
		}},
		{"no match", store.TrendQuery{Filter: store.Filter{Versions: []string{"9.9.9"}}}, nil},
	})
}

func testTrendBreakdown(t *testing.T, s store.Store, a store.Analytics) {
	mustInsert(t, s, trendFixture())
	messages := store.Filter{Events: []string{"message_sent"}}

	runTrendCases(t, a, []trendCase{
		{"string property", store.TrendQuery{Filter: messages, Interval: store.All, Breakdown: []string{"model"}}, []store.TrendRow{
			{Event: "message_sent", Values: []string{"m1"}, Events: 4, Installs: 3},
			{Event: "message_sent", Values: []string{"m2"}, Events: 1, Installs: 1},
			{Event: "message_sent", Values: []string{"m3"}, Events: 1, Installs: 1},
		}},
		// "(none)" sorts before letters and digits.
		{"two properties", store.TrendQuery{Filter: messages, Interval: store.All, Breakdown: []string{"model", "thinkingLevel"}}, []store.TrendRow{
			{Event: "message_sent", Values: []string{"m1", store.NoValue}, Events: 1, Installs: 1},
			{Event: "message_sent", Values: []string{"m1", "high"}, Events: 2, Installs: 2},
			{Event: "message_sent", Values: []string{"m1", "low"}, Events: 1, Installs: 1},
			{Event: "message_sent", Values: []string{"m2", "high"}, Events: 1, Installs: 1},
			{Event: "message_sent", Values: []string{"m3", "high"}, Events: 1, Installs: 1},
		}},
		{"per day", store.TrendQuery{Filter: messages, Interval: store.Day, Breakdown: []string{"thinkingLevel"}}, []store.TrendRow{
			{Period: "2025-03-03", Event: "message_sent", Values: []string{"high"}, Events: 2, Installs: 2},
			{Period: "2025-03-03", Event: "message_sent", Values: []string{"low"}, Events: 1, Installs: 1},
			{Period: "2025-03-04", Event: "message_sent", Values: []string{store.NoValue}, Events: 1, Installs: 1},
			{Period: "2025-03-11", Event: "message_sent", Values: []string{"high"}, Events: 1, Installs: 1},
			{Period: "2025-04-01", Event: "message_sent", Values: []string{"high"}, Events: 1, Installs: 1},
		}},
		{"version column", store.TrendQuery{Filter: messages, Interval: store.All, Breakdown: []string{"version"}}, []store.TrendRow{
			{Event: "message_sent", Values: []string{store.NoValue}, Events: 2, Installs: 1},
			{Event: "message_sent", Values: []string{"1.0.0"}, Events: 2, Installs: 1},
			{Event: "message_sent", Values: []string{"1.1.0"}, Events: 2, Installs: 1},
		}},
		{"platform column", store.TrendQuery{Interval: store.All, Breakdown: []string{"backend_platform"}}, []store.TrendRow{
			{Event: "app_started", Values: []string{"darwin"}, Events: 1, Installs: 1},
			{Event: "message_sent", Values: []string{store.NoValue}, Events: 4, Installs: 2},
			{Event: "message_sent", Values: []string{"darwin"}, Events: 2, Installs: 1},
		}},
		{"nested property", store.TrendQuery{Filter: messages, Interval: store.All, Breakdown: []string{"frontendPlatform.platform"}}, []store.TrendRow{
			{Event: "message_sent", Values: []string{store.NoValue}, Events: 5, Installs: 3},
			{Event: "message_sent", Values: []string{"macOS"}, Events: 1, Installs: 1},
		}},
		{"number property", store.TrendQuery{Filter: messages, Interval: store.All, Breakdown: []string{"message_length_b2"}}, []store.TrendRow{
			{Event: "message_sent", Values: []string{store.NoValue}, Events: 4, Installs: 3},
			{Event: "message_sent", Values: []string{"0.5"}, Events: 1, Installs: 1},
			{Event: "message_sent", Values: []string{"512"}, Events: 1, Installs: 1},
		}},
		{"boolean property", store.TrendQuery{Interval: store.All, Breakdown: []string{"isFirstLaunch"}, Filter: store.Filter{Events: []string{"app_started"}}}, []store.TrendRow{
			{Event: "app_started", Values: []string{"true"}, Events: 1, Installs: 1},
		}},
		{"missing property", store.TrendQuery{Filter: messages, Interval: store.All, Breakdown: []string{"nope"}}, []store.TrendRow{
			{Event: "message_sent", Values: []string{store.NoValue}, Events: 6, Installs: 3},
		}},
	})
}

// testTrendLimit checks that values beyond the limit merge into
// store.OtherValue, ranked by events: m1 has 4, m2 and m3 have 1 each.
func testTrendLimit(t *testing.T, s store.Store, a store.Analytics) {
	mustInsert(t, s, trendFixture())
	messages := store.Filter{Events: []string{"message_sent"}}

	runTrendCases(t, a, []trendCase{
		{"top one", store.TrendQuery{Filter: messages, Interval: store.All, Breakdown: []string{"model"}, Limit: 1}, []store.TrendRow{
			{Event: "message_sent", Values: []string{store.OtherValue}, Events: 2, Installs: 2},
			{Event: "message_sent", Values: []string{"m1"}, Events: 4, Installs: 3},
		}},
		// m2 and m3 tie, so the smaller value wins the second place.
		{"top two", store.TrendQuery{Filter: messages, Interval: store.All, Breakdown: []string{"model"}, Limit: 2}, []store.TrendRow{
			{Event: "message_sent", Values: []string{store.OtherValue}, Events: 1, Installs: 1},
			{Event: "message_sent", Values: []string{"m1"}, Events: 4, Installs: 3},
			{Event: "message_sent", Values: []string{"m2"}, Events: 1, Installs: 1},
		}},
		{"limit above values", store.TrendQuery{Filter: messages, Interval: store.All, Breakdown: []string{"model"}, Limit: 3}, []store.TrendRow{
			{Event: "message_sent", Values: []string{"m1"}, Events: 4, Installs: 3},
			{Event: "message_sent", Values: []string{"m2"}, Events: 1, Installs: 1},
			{Event: "message_sent", Values: []string{"m3"}, Events: 1, Installs: 1},
		}},
		// Missing values stay NoValue and take no place in the top.
		{"missing values", store.TrendQuery{Filter: messages, Interval: store.All, Breakdown: []string{"thinkingLevel"}, Limit: 1}, []store.TrendRow{
			{Event: "message_sent", Values: []string{store.NoValue}, Events: 1, Installs: 1},
			{Event: "message_sent", Values: []string{store.OtherValue}, Events: 1, Installs: 1},
			{Event: "message_sent", Values: []string{"high"}, Events: 4, Installs: 3},
		}},
		{"two properties", store.TrendQuery{Filter: messages, Interval: store.All, Breakdown: []string{"model", "thinkingLevel"}, Limit: 1}, []store.TrendRow{
			{Event: "message_sent", Values: []string{store.OtherValue, "high"}, Events: 2, Installs: 2},
			{Event: "message_sent", Values: []string{"m1", store.NoValue}, Events: 1, Installs: 1},
			{Event: "message_sent", Values: []string{"m1", store.OtherValue}, Events: 1, Installs: 1},
			{Event: "message_sent", Values: []string{"m1", "high"}, Events: 2, Installs: 2},
		}},
	})
}

func testTrendInvalid(t *testing.T, s store.Store, a store.Analytics) {
	mustInsert(t, s, trendFixture())
	for _, q := range []store.TrendQuery{
		{Interval: "hour"},
		{Breakdown: []string{"model", "thinkingLevel", "version"}},
		{Breakdown: []string{"frontendPlatform..platform"}},
		{Breakdown: []string{""}},
		{Where: []store.Condition{{Property: "", Value: "x"}}},
	} {
		if _, err := a.Trend(context.Background(), q); err == nil {
			t.Errorf("Trend(%+v) succeeded, want an error", q)
		}
	}
}
