package dashboard_test

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// sliceStore is a store.Store over a slice, with the semantics the store
// package documents. It records the last filter it was queried with, and
// every query returns err when err is set.
type sliceStore struct {
	mu         sync.Mutex
	events     []store.Event
	keys       map[[2]string]bool // (Project, UUID) of every stored event
	lastFilter store.Filter
	err        error
}

var _ store.Store = (*sliceStore)(nil)

func (s *sliceStore) Insert(_ context.Context, events []store.Event) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[[2]string]bool{}
	}
	stored := 0
	for _, event := range events {
		key := [2]string{event.Project, event.UUID}
		if !s.keys[key] {
			s.keys[key] = true
			s.events = append(s.events, event)
			stored++
		}
	}
	return stored, nil
}

// selectEvents returns the events f selects and records f.
func (s *sliceStore) selectEvents(f store.Filter) ([]store.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastFilter = f
	if s.err != nil {
		return nil, s.err
	}
	var selected []store.Event
	for _, e := range s.events {
		if matches(e, f) {
			selected = append(selected, e)
		}
	}
	return selected, nil
}

func matches(e store.Event, f store.Filter) bool {
	switch {
	case f.Project != "" && e.Project != f.Project:
		return false
	case !f.From.IsZero() && e.Timestamp.Before(f.From):
		return false
	case !f.To.IsZero() && !e.Timestamp.Before(f.To):
		return false
	case len(f.Versions) > 0 && !slices.Contains(f.Versions, property(e, "version")):
		return false
	case len(f.Platforms) > 0 && !slices.Contains(f.Platforms, property(e, "backend_platform")):
		return false
	case len(f.Events) > 0 && !slices.Contains(f.Events, e.Name):
		return false
	}
	return true
}

func property(e store.Event, name string) string {
	value, _ := e.Properties[name].(string)
	return value
}

func (s *sliceStore) Overview(_ context.Context, f store.Filter) (store.Overview, error) {
	events, err := s.selectEvents(f)
	if err != nil {
		return store.Overview{}, err
	}
	overview := store.Overview{
		TotalEvents: int64(len(events)),
		Installs:    int64(countInstalls(events)),
		Events:      map[string]int64{},
		Versions:    breakdown(events, "version"),
		Platforms:   breakdown(events, "backend_platform"),
	}
	for _, e := range events {
		overview.Events[e.Name]++
	}
	return overview, nil
}

func countInstalls(events []store.Event) int {
	installs := map[string]bool{}
	for _, e := range events {
		installs[e.DistinctID] = true
	}
	return len(installs)
}

// breakdown counts events and installs per value of a property: at most 10
// rows, most events first, ties by key.
func breakdown(events []store.Event, name string) []store.KeyCount {
	byKey := map[string][]store.Event{}
	for _, e := range events {
		if key := property(e, name); key != "" {
			byKey[key] = append(byKey[key], e)
		}
	}
	var rows []store.KeyCount
	for key, keyEvents := range byKey {
		rows = append(rows, store.KeyCount{
			Key:      key,
			Events:   int64(len(keyEvents)),
			Installs: int64(countInstalls(keyEvents)),
		})
	}
	slices.SortFunc(rows, func(a, b store.KeyCount) int {
		return cmp.Or(cmp.Compare(b.Events, a.Events), cmp.Compare(a.Key, b.Key))
	})
	return rows[:min(len(rows), 10)]
}

func (s *sliceStore) EventsPerDay(_ context.Context, f store.Filter) ([]store.DayCount, error) {
	events, err := s.selectEvents(f)
	if err != nil {
		return nil, err
	}
	counts := map[store.DayCount]int64{}
	for _, e := range events {
		counts[store.DayCount{Day: utcDay(e.Timestamp), Event: e.Name}]++
	}
	var days []store.DayCount
	for key, count := range counts {
		key.Count = count
		days = append(days, key)
	}
	slices.SortFunc(days, func(a, b store.DayCount) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Event, b.Event))
	})
	return days, nil
}

func (s *sliceStore) ActiveInstallsPerDay(_ context.Context, f store.Filter) ([]store.DayValue, error) {
	events, err := s.selectEvents(f)
	if err != nil {
		return nil, err
	}
	installs := map[string]map[string]bool{}
	for _, e := range events {
		day := utcDay(e.Timestamp)
		if installs[day] == nil {
			installs[day] = map[string]bool{}
		}
		installs[day][e.DistinctID] = true
	}
	var days []store.DayValue
	for day, ids := range installs {
		days = append(days, store.DayValue{Day: day, Value: int64(len(ids))})
	}
	slices.SortFunc(days, func(a, b store.DayValue) int { return cmp.Compare(a.Day, b.Day) })
	return days, nil
}

func (s *sliceStore) DeleteInstall(_ context.Context, project, distinctID string) (int64, error) {
	return s.deleteFunc(func(e store.Event) bool {
		return e.Project == project && e.DistinctID == distinctID
	}), nil
}

func (s *sliceStore) DeleteBefore(_ context.Context, t time.Time) (int64, error) {
	return s.deleteFunc(func(e store.Event) bool { return e.Timestamp.Before(t) }), nil
}

func (s *sliceStore) deleteFunc(del func(store.Event) bool) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := len(s.events)
	s.events = slices.DeleteFunc(s.events, func(e store.Event) bool {
		if del(e) {
			delete(s.keys, [2]string{e.Project, e.UUID})
			return true
		}
		return false
	})
	return int64(before - len(s.events))
}

func (s *sliceStore) Close() error { return nil }

func (s *sliceStore) filter() store.Filter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastFilter
}

func utcDay(t time.Time) string {
	return t.UTC().Format("2006-01-02")
}
