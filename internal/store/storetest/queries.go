package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// testFilter checks every Filter field against every query method. Each
// fixture event has its own name and install, so the names in the result
// show exactly which events a filter selected.
func testFilter(t *testing.T, s store.Store) {
	hour := func(n int) time.Time { return day.Add(time.Duration(n) * time.Hour) }
	mustInsert(t, s, makeEvents(0,
		eventSpec{Name: "e1", Install: "i1", Time: hour(0), Version: "1.0.0", Platform: "darwin"},
		eventSpec{Name: "e2", Install: "i2", Time: hour(1), Version: "2.0.0", Platform: "linux"},
		eventSpec{Name: "e3", Install: "i3", Time: hour(2), Version: "2.0.0"},
		eventSpec{Project: "demo", Name: "e4", Install: "i4", Time: hour(3), Version: "1.0.0", Platform: "win32"},
		eventSpec{Name: "e5", Install: "i5", Time: hour(4), Platform: "linux"},
	))
	utcPlus2 := time.FixedZone("UTC+2", 2*60*60)

	tests := []struct {
		name   string
		filter store.Filter
		want   []string
	}{
		{"zero", store.Filter{}, []string{"e1", "e2", "e3", "e4", "e5"}},
		{"project", store.Filter{Project: "mux"}, []string{"e1", "e2", "e3", "e5"}},
		{"unknown project", store.Filter{Project: "nope"}, nil},
		{"projects", store.Filter{Projects: []string{"mux"}}, []string{"e1", "e2", "e3", "e5"}},
		{"two projects", store.Filter{Projects: []string{"demo", "mux"}}, []string{"e1", "e2", "e3", "e4", "e5"}},
		{"unknown projects", store.Filter{Projects: []string{"nope"}}, nil},
		{"project outside projects", store.Filter{Project: "mux", Projects: []string{"demo"}}, nil},
		{"from is inclusive", store.Filter{From: hour(1)}, []string{"e2", "e3", "e4", "e5"}},
		{"to is exclusive", store.Filter{To: hour(1)}, []string{"e1"}},
		{"from and to", store.Filter{From: hour(1), To: hour(3)}, []string{"e2", "e3"}},
		{"from in another zone", store.Filter{From: hour(1).In(utcPlus2)}, []string{"e2", "e3", "e4", "e5"}},
		{"to in another zone", store.Filter{To: hour(1).In(utcPlus2)}, []string{"e1"}},
		{"one version", store.Filter{Versions: []string{"2.0.0"}}, []string{"e2", "e3"}},
		{"versions skip events without one", store.Filter{Versions: []string{"1.0.0", "2.0.0"}}, []string{"e1", "e2", "e3", "e4"}},
		{"one platform", store.Filter{Platforms: []string{"linux"}}, []string{"e2", "e5"}},
		{"two platforms", store.Filter{Platforms: []string{"darwin", "win32"}}, []string{"e1", "e4"}},
		{"events", store.Filter{Events: []string{"e1", "e4"}}, []string{"e1", "e4"}},
		{"unknown event", store.Filter{Events: []string{"nope"}}, nil},
		{"empty lists select all", store.Filter{Projects: []string{}, Versions: []string{}, Platforms: []string{}, Events: []string{}}, []string{"e1", "e2", "e3", "e4", "e5"}},
		{"all fields", store.Filter{
			Project:   "mux",
			From:      hour(0),
			To:        hour(4),
			Versions:  []string{"1.0.0", "2.0.0"},
			Platforms: []string{"darwin", "linux"},
			Events:    []string{"e1", "e2", "e3", "e4"},
		}, []string{"e1", "e2"}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			checkFilterResult(t, s, test.filter, test.want)
		})
	}
}

// checkFilterResult checks that every query method selects exactly the
// events named want, which all fall on fixture day and have one install each.
func checkFilterResult(t *testing.T, s store.Store, f store.Filter, want []string) {
	ctx := context.Background()

	overview := mustOverview(t, s, f)
	var overviewNames []string
	for name := range overview.Events {
		overviewNames = append(overviewNames, name)
	}
	slices.Sort(overviewNames)
	if d := diff(want, overviewNames); d != "" {
		t.Errorf("Overview(%+v).Events names (-want +got):\n%s", f, d)
	}
	if overview.TotalEvents != int64(len(want)) {
		t.Errorf("Overview(%+v).TotalEvents = %d, want %d", f, overview.TotalEvents, len(want))
	}
	if overview.Installs != int64(len(want)) {
		t.Errorf("Overview(%+v).Installs = %d, want %d", f, overview.Installs, len(want))
	}

	perDay, err := s.EventsPerDay(ctx, f)
	if err != nil {
		t.Fatalf("EventsPerDay(%+v): %v", f, err)
	}
	var wantPerDay []store.DayCount
	for _, name := range want {
		wantPerDay = append(wantPerDay, store.DayCount{Day: "2025-03-01", Event: name, Count: 1})
	}
	if d := diff(wantPerDay, perDay); d != "" {
		t.Errorf("EventsPerDay(%+v) (-want +got):\n%s", f, d)
	}

	installs, err := s.ActiveInstallsPerDay(ctx, f)
	if err != nil {
		t.Fatalf("ActiveInstallsPerDay(%+v): %v", f, err)
	}
	var wantInstalls []store.DayValue
	if len(want) > 0 {
		wantInstalls = []store.DayValue{{Day: "2025-03-01", Value: int64(len(want))}}
	}
	if d := diff(wantInstalls, installs); d != "" {
		t.Errorf("ActiveInstallsPerDay(%+v) (-want +got):\n%s", f, d)
	}
}

// testOverview compares Overview with numbers counted by hand. In project
// mux, install a sends 3 events on 1.0.0/darwin, b sends 4 on 1.1.0/linux,
// c sends 1 on 1.1.0/win32 and d sends 1 without version or platform.
// Project demo has its own install a with 1 event on 9.0.0/linux.
func testOverview(t *testing.T, s store.Store) {
	if d := diff(store.Overview{}, mustOverview(t, s, store.Filter{})); d != "" {
		t.Errorf("Overview of an empty store (-want +got):\n%s", d)
	}

	at := func(minute int) time.Time { return day.Add(10*time.Hour + time.Duration(minute)*time.Minute) }
	mustInsert(t, s, makeEvents(0,
		eventSpec{Name: "app_started", Install: "a", Time: at(0), Version: "1.0.0", Platform: "darwin"},
		eventSpec{Name: "message_sent", Install: "a", Time: at(1), Version: "1.0.0", Platform: "darwin"},
		eventSpec{Name: "message_sent", Install: "a", Time: at(2), Version: "1.0.0", Platform: "darwin"},
		eventSpec{Name: "app_started", Install: "b", Time: at(3), Version: "1.1.0", Platform: "linux"},
		eventSpec{Name: "message_sent", Install: "b", Time: at(4), Version: "1.1.0", Platform: "linux"},
		eventSpec{Name: "message_sent", Install: "b", Time: at(5), Version: "1.1.0", Platform: "linux"},
		eventSpec{Name: "message_sent", Install: "b", Time: at(6), Version: "1.1.0", Platform: "linux"},
		eventSpec{Name: "app_started", Install: "c", Time: at(7), Version: "1.1.0", Platform: "win32"},
		eventSpec{Name: "app_started", Install: "d", Time: at(8)},
		eventSpec{Project: "demo", Name: "app_started", Install: "a", Time: at(9), Version: "9.0.0", Platform: "linux"},
	))

	tests := []struct {
		name   string
		filter store.Filter
		want   store.Overview
	}{
		{"project", store.Filter{Project: "mux"}, store.Overview{
			TotalEvents: 9,
			Installs:    4,
			Events:      map[string]int64{"app_started": 4, "message_sent": 5},
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
		// Install a of mux and install a of demo are two installs.
		{"all projects", store.Filter{}, store.Overview{
			TotalEvents: 10,
			Installs:    5,
			Events:      map[string]int64{"app_started": 5, "message_sent": 5},
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
		{"one event name", store.Filter{Project: "mux", Events: []string{"message_sent"}}, store.Overview{
			TotalEvents: 5,
			Installs:    2,
			Events:      map[string]int64{"message_sent": 5},
			Versions: []store.KeyCount{
				{Key: "1.1.0", Events: 3, Installs: 1},
				{Key: "1.0.0", Events: 2, Installs: 1},
			},
			Platforms: []store.KeyCount{
				{Key: "linux", Events: 3, Installs: 1},
				{Key: "darwin", Events: 2, Installs: 1},
			},
		}},
		{"no match", store.Filter{Project: "mux", Versions: []string{"0.1.0"}}, store.Overview{}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if d := diff(test.want, mustOverview(t, s, test.filter)); d != "" {
				t.Errorf("Overview(%+v) (-want +got):\n%s", test.filter, d)
			}
		})
	}
}

// testEventsPerDay checks ordering and that days are cut at midnight UTC,
// whatever the zone of the event's Timestamp.
func testEventsPerDay(t *testing.T, s store.Store) {
	utcPlus2 := time.FixedZone("UTC+2", 2*60*60)
	nextDay := day.AddDate(0, 0, 1)
	// Inserted out of order on purpose.
	mustInsert(t, s, makeEvents(0,
		eventSpec{Name: "app_started", Install: "a", Time: day.AddDate(0, 0, 4).Add(8 * time.Hour)},
		eventSpec{Name: "message_sent", Install: "a", Time: nextDay.Add(12 * time.Hour)},
		eventSpec{Name: "message_sent", Install: "a", Time: nextDay.Add(-time.Second)},
		eventSpec{Name: "app_started", Install: "a", Time: nextDay},
		eventSpec{Name: "message_sent", Install: "a", Time: nextDay.Add(12 * time.Hour)},
		eventSpec{Name: "app_started", Install: "a", Time: day.Add(10 * time.Hour)},
		// 01:30 on March 2 in UTC+2 is 23:30 on March 1 in UTC.
		eventSpec{Name: "message_sent", Install: "a", Time: time.Date(2025, time.March, 2, 1, 30, 0, 0, utcPlus2)},
	))

	tests := []struct {
		name   string
		filter store.Filter
		want   []store.DayCount
	}{
		{"all", store.Filter{}, []store.DayCount{
			{Day: "2025-03-01", Event: "app_started", Count: 1},
			{Day: "2025-03-01", Event: "message_sent", Count: 2},
			{Day: "2025-03-02", Event: "app_started", Count: 1},
			{Day: "2025-03-02", Event: "message_sent", Count: 2},
			{Day: "2025-03-05", Event: "app_started", Count: 1},
		}},
		{"from midnight", store.Filter{From: nextDay}, []store.DayCount{
			{Day: "2025-03-02", Event: "app_started", Count: 1},
			{Day: "2025-03-02", Event: "message_sent", Count: 2},
			{Day: "2025-03-05", Event: "app_started", Count: 1},
		}},
		{"to midnight", store.Filter{To: nextDay}, []store.DayCount{
			{Day: "2025-03-01", Event: "app_started", Count: 1},
			{Day: "2025-03-01", Event: "message_sent", Count: 2},
		}},
		{"no match", store.Filter{Events: []string{"nope"}}, nil},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := s.EventsPerDay(context.Background(), test.filter)
			if err != nil {
				t.Fatalf("EventsPerDay(%+v): %v", test.filter, err)
			}
			if d := diff(test.want, got); d != "" {
				t.Errorf("EventsPerDay(%+v) (-want +got):\n%s", test.filter, d)
			}
		})
	}
}

// testActiveInstallsPerDay uses installs a and b on March 1 (a twice), a on
// March 2, b and c on March 4, and demo's own install a on March 4.
func testActiveInstallsPerDay(t *testing.T, s store.Store) {
	dayN := func(n int, hour int) time.Time { return day.AddDate(0, 0, n-1).Add(time.Duration(hour) * time.Hour) }
	mustInsert(t, s, makeEvents(0,
		eventSpec{Name: "app_started", Install: "a", Time: dayN(1, 0)},
		eventSpec{Name: "message_sent", Install: "a", Time: dayN(1, 23)},
		eventSpec{Name: "app_started", Install: "b", Time: dayN(1, 5)},
		eventSpec{Name: "app_started", Install: "a", Time: dayN(2, 0)},
		eventSpec{Name: "app_started", Install: "b", Time: dayN(4, 1)},
		eventSpec{Name: "message_sent", Install: "c", Time: dayN(4, 2)},
		eventSpec{Project: "demo", Name: "app_started", Install: "a", Time: dayN(4, 3)},
	))

	tests := []struct {
		name   string
		filter store.Filter
		want   []store.DayValue
	}{
		{"all projects", store.Filter{}, []store.DayValue{
			{Day: "2025-03-01", Value: 2},
			{Day: "2025-03-02", Value: 1},
			{Day: "2025-03-04", Value: 3},
		}},
		{"project", store.Filter{Project: "mux"}, []store.DayValue{
			{Day: "2025-03-01", Value: 2},
			{Day: "2025-03-02", Value: 1},
			{Day: "2025-03-04", Value: 2},
		}},
		{"event name", store.Filter{Events: []string{"message_sent"}}, []store.DayValue{
			{Day: "2025-03-01", Value: 1},
			{Day: "2025-03-04", Value: 1},
		}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got, err := s.ActiveInstallsPerDay(context.Background(), test.filter)
			if err != nil {
				t.Fatalf("ActiveInstallsPerDay(%+v): %v", test.filter, err)
			}
			if d := diff(test.want, got); d != "" {
				t.Errorf("ActiveInstallsPerDay(%+v) (-want +got):\n%s", test.filter, d)
			}
		})
	}
}

// testTopBreakdowns uses 12 versions and 12 platforms. Version 1.0.k and
// platform os-k have k+1 events, from two installs once k >= 1, so the top 10
// are k = 11 down to 2 and no two rows tie.
func testTopBreakdowns(t *testing.T, s store.Store) {
	var specs []eventSpec
	var want []store.KeyCount
	for k := range 12 {
		for i := range k + 1 {
			specs = append(specs, eventSpec{
				Name:     "app_started",
				Install:  fmt.Sprintf("install-%d-%d", k, i%2),
				Time:     day.Add(time.Duration(len(specs)) * time.Second),
				Version:  fmt.Sprintf("1.0.%d", k),
				Platform: fmt.Sprintf("os-%d", k),
			})
		}
	}
	mustInsert(t, s, makeEvents(0, specs...))

	for k := 11; k >= 2; k-- {
		want = append(want, store.KeyCount{Key: fmt.Sprintf("1.0.%d", k), Events: int64(k + 1), Installs: 2})
	}
	overview := mustOverview(t, s, store.Filter{})
	if d := diff(want, overview.Versions); d != "" {
		t.Errorf("Overview.Versions (-want +got):\n%s", d)
	}

	for i := range want {
		want[i].Key = fmt.Sprintf("os-%d", 11-i)
	}
	if d := diff(want, overview.Platforms); d != "" {
		t.Errorf("Overview.Platforms (-want +got):\n%s", d)
	}
}

// testVersionlessEvents checks that a "version" or "backend_platform"
// property that is missing, empty or not a string gives no breakdown row and
// matches no filter.
func testVersionlessEvents(t *testing.T, s store.Store) {
	events := makeEvents(0,
		eventSpec{Name: "app_started", Install: "a", Time: day, Version: "1.0.0", Platform: "linux"},
		eventSpec{Name: "app_started", Install: "b", Time: day},
		eventSpec{Name: "app_started", Install: "c", Time: day},
		eventSpec{Name: "app_started", Install: "d", Time: day},
	)
	events[1].Properties = nil
	events[2].Properties["version"] = 2
	events[2].Properties["backend_platform"] = true
	events[3].Properties["version"] = ""
	events[3].Properties["backend_platform"] = ""
	mustInsert(t, s, events)

	want := store.Overview{
		TotalEvents: 4,
		Installs:    4,
		Events:      map[string]int64{"app_started": 4},
		Versions:    []store.KeyCount{{Key: "1.0.0", Events: 1, Installs: 1}},
		Platforms:   []store.KeyCount{{Key: "linux", Events: 1, Installs: 1}},
	}
	if d := diff(want, mustOverview(t, s, store.Filter{})); d != "" {
		t.Errorf("Overview (-want +got):\n%s", d)
	}

	for _, f := range []store.Filter{
		{Versions: []string{"2"}},
		{Versions: []string{""}},
		{Platforms: []string{"true"}},
		{Platforms: []string{""}},
	} {
		if got := mustOverview(t, s, f).TotalEvents; got != 0 {
			t.Errorf("Overview(%+v).TotalEvents = %d, want 0", f, got)
		}
	}
}
