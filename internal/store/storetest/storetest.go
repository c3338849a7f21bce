// Package storetest is the conformance suite that every store.Store backend
// must pass. A backend's test calls Run with a function that opens a new,
// empty store, and RunAnalytics the same way when the backend implements
// store.Analytics.
//
// Besides the contract in the store package, the suite requires that:
//   - an install is one (project, distinct_id) pair, so one distinct_id in
//     two projects counts as two installs;
//   - an event whose "version" or "backend_platform" property is missing,
//     empty or not a string has no version or platform: it is left out of
//     Overview.Versions or Overview.Platforms and matches no Versions or
//     Platforms filter;
//   - days are cut at midnight UTC, whatever the zone of a Timestamp or of
//     a Filter bound.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/candor-dev/candor/internal/store"
)

// Run runs the conformance suite. open must return a new store with no
// events. Each subtest opens its own store and closes it when it ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"InsertAndCount", testInsertAndCount},
		{"DedupWithinCall", testDedupWithinCall},
		{"DedupAcrossCalls", testDedupAcrossCalls},
		{"ConcurrentInserts", testConcurrentInserts},
		{"Filter", testFilter},
		{"Overview", testOverview},
		{"EventsPerDay", testEventsPerDay},
		{"ActiveInstallsPerDay", testActiveInstallsPerDay},
		{"TopBreakdowns", testTopBreakdowns},
		{"VersionlessEvents", testVersionlessEvents},
		{"DeleteInstall", testDeleteInstall},
		{"DeleteBefore", testDeleteBefore},
		{"DeleteInstallErrorOmitsID", testDeleteInstallErrorOmitsID},
		{"ErrClosed", testErrClosed},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			test.run(t, s)
		})
	}
}

// day is 2025-03-01 00:00 UTC, the day most fixtures use.
var day = time.Date(2025, time.March, 1, 0, 0, 0, 0, time.UTC)

// eventSpec describes a fixture event. Empty Project means "mux", empty
// Version or Platform leaves that property out. Nil Props means the
// properties {"model": "sonnet"}.
type eventSpec struct {
	Project  string
	Name     string
	Install  string
	Time     time.Time
	Version  string
	Platform string
	Props    map[string]any
}

// makeEvents turns specs into events with distinct UUIDs starting at
// testUUID(first).
func makeEvents(first int, specs ...eventSpec) []store.Event {
	events := make([]store.Event, len(specs))
	for i, spec := range specs {
		project := spec.Project
		if project == "" {
			project = "mux"
		}
		properties := map[string]any{"model": "sonnet"}
		if spec.Props != nil {
			properties = maps.Clone(spec.Props)
		}
		if spec.Version != "" {
			properties["version"] = spec.Version
		}
		if spec.Platform != "" {
			properties["backend_platform"] = spec.Platform
		}
		events[i] = store.Event{
			Project:    project,
			UUID:       testUUID(first + i),
			Name:       spec.Name,
			DistinctID: spec.Install,
			Timestamp:  spec.Time,
			ReceivedAt: spec.Time.Add(time.Second),
			Properties: properties,
		}
	}
	return events
}

// testUUID returns a canonical lowercase UUID that is unique for n.
func testUUID(n int) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012x", n)
}

// simpleEvents returns count events of one install, one minute apart, with
// UUIDs testUUID(first) to testUUID(first+count-1).
func simpleEvents(first, count int) []store.Event {
	specs := make([]eventSpec, count)
	for i := range specs {
		specs[i] = eventSpec{Name: "app_started", Install: "install-a", Time: day.Add(time.Duration(i) * time.Minute)}
	}
	return makeEvents(first, specs...)
}

func mustInsert(t *testing.T, s store.Store, events []store.Event) int {
	t.Helper()
	stored, err := s.Insert(context.Background(), events)
	if err != nil {
		t.Fatalf("Insert(%d events): %v", len(events), err)
	}
	return stored
}

func mustOverview(t *testing.T, s store.Store, f store.Filter) store.Overview {
	t.Helper()
	overview, err := s.Overview(context.Background(), f)
	if err != nil {
		t.Fatalf("Overview(%+v): %v", f, err)
	}
	return overview
}

func totalEvents(t *testing.T, s store.Store) int64 {
	t.Helper()
	return mustOverview(t, s, store.Filter{}).TotalEvents
}

// equateEmpty lets a backend return nil or empty maps and slices alike.
var equateEmpty = cmpopts.EquateEmpty()

func testInsertAndCount(t *testing.T, s store.Store) {
	if stored := mustInsert(t, s, nil); stored != 0 && stored != store.StoredUnknown {
		t.Errorf("Insert(nil) stored %d, want 0", stored)
	}
	if got := totalEvents(t, s); got != 0 {
		t.Errorf("TotalEvents of an empty store = %d, want 0", got)
	}

	if stored := mustInsert(t, s, simpleEvents(0, 3)); stored != 3 && stored != store.StoredUnknown {
		t.Errorf("Insert(3 new events) stored %d, want 3", stored)
	}
	if got := totalEvents(t, s); got != 3 {
		t.Errorf("TotalEvents = %d, want 3", got)
	}

	noProperties := simpleEvents(3, 1)
	noProperties[0].Properties = nil
	if stored := mustInsert(t, s, noProperties); stored != 1 && stored != store.StoredUnknown {
		t.Errorf("Insert(event with nil Properties) stored %d, want 1", stored)
	}
	if got := totalEvents(t, s); got != 4 {
		t.Errorf("TotalEvents after event with nil Properties = %d, want 4", got)
	}
}

func testDedupWithinCall(t *testing.T, s store.Store) {
	events := simpleEvents(0, 3)
	events = append(events, events[1], events[1])
	if stored := mustInsert(t, s, events); stored != 3 && stored != store.StoredUnknown {
		t.Errorf("Insert(3 events, one of them 3 times) stored %d, want 3", stored)
	}
	if got := totalEvents(t, s); got != 3 {
		t.Errorf("TotalEvents = %d, want 3", got)
	}

	// (Project, UUID) is the key, so one UUID in two projects is two events.
	sameUUID := simpleEvents(10, 1)
	other := sameUUID[0]
	other.Project = "demo"
	if stored := mustInsert(t, s, []store.Event{sameUUID[0], other}); stored != 2 && stored != store.StoredUnknown {
		t.Errorf("Insert(one UUID in two projects) stored %d, want 2", stored)
	}
}

func testDedupAcrossCalls(t *testing.T, s store.Store) {
	events := simpleEvents(0, 3)

	if stored := mustInsert(t, s, events[:2]); stored != 2 && stored != store.StoredUnknown {
		t.Errorf("first Insert stored %d, want 2", stored)
	}
	if stored := mustInsert(t, s, events[1:]); stored != 1 && stored != store.StoredUnknown {
		t.Errorf("Insert with one known event stored %d, want 1", stored)
	}
	if stored := mustInsert(t, s, events); stored != 0 && stored != store.StoredUnknown {
		t.Errorf("Insert of known events only stored %d, want 0", stored)
	}
	if got := totalEvents(t, s); got != 3 {
		t.Errorf("TotalEvents = %d, want 3", got)
	}
}

// testConcurrentInserts lets 8 goroutines insert overlapping UUID ranges in
// batches: goroutine g inserts testUUID(50*g) to testUUID(50*g+99).
func testConcurrentInserts(t *testing.T, s store.Store) {
	const goroutines, perGoroutine, stride, batch = 8, 100, 50, 25
	const unique = (goroutines-1)*stride + perGoroutine
	all := simpleEvents(0, unique)

	var wg sync.WaitGroup
	storedBy := make([]int, goroutines)
	errs := make([]error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			mine := all[g*stride : g*stride+perGoroutine]
			for start := 0; start < len(mine); start += batch {
				stored, err := s.Insert(context.Background(), mine[start:start+batch])
				if err != nil {
					errs[g] = err
					return
				}
				if stored == store.StoredUnknown || storedBy[g] == store.StoredUnknown {
					storedBy[g] = store.StoredUnknown
				} else {
					storedBy[g] += stored
				}
			}
		})
	}
	wg.Wait()

	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Insert: %v", err)
	}
	sum, known := 0, true
	for _, stored := range storedBy {
		sum += stored
		known = known && stored >= 0
	}
	if known && sum != unique {
		t.Errorf("concurrent Inserts stored %d events in total, want %d", sum, unique)
	}
	if got := totalEvents(t, s); got != unique {
		t.Errorf("TotalEvents = %d, want %d", got, unique)
	}
}

func testErrClosed(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}

	_, err := s.Insert(ctx, simpleEvents(0, 1))
	checkErrClosed(t, "Insert", err)
	_, err = s.Overview(ctx, store.Filter{})
	checkErrClosed(t, "Overview", err)
	_, err = s.EventsPerDay(ctx, store.Filter{})
	checkErrClosed(t, "EventsPerDay", err)
	_, err = s.ActiveInstallsPerDay(ctx, store.Filter{})
	checkErrClosed(t, "ActiveInstallsPerDay", err)
	_, err = s.DeleteInstall(ctx, "mux", "install-a")
	checkErrClosed(t, "DeleteInstall", err)
	_, err = s.DeleteBefore(ctx, day)
	checkErrClosed(t, "DeleteBefore", err)
}

func checkErrClosed(t *testing.T, method string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrClosed) {
		t.Errorf("%s after Close: error %v, want store.ErrClosed", method, err)
	}
}

func diff(want, got any) string {
	return cmp.Diff(want, got, equateEmpty)
}
