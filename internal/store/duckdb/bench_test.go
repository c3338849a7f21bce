package duckdb

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

var benchPlatforms = []string{"darwin", "linux", "win32"}

// benchEvents returns count events with UUIDs testUUID(first) onwards,
// spread over 90 days, 20 event names, 5,000 installs, 30 versions and 3
// platforms.
func benchEvents(first, count int) []store.Event {
	start := time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)
	events := make([]store.Event, count)
	for i := range events {
		n := first + i
		events[i] = store.Event{
			Project:    "mux",
			UUID:       testUUID(n),
			Name:       fmt.Sprintf("event_%02d", n%20),
			DistinctID: fmt.Sprintf("install-%04d", n%5000),
			Timestamp:  start.Add(time.Duration(n%(90*24*60)) * time.Minute),
			ReceivedAt: start,
			Properties: map[string]any{
				"version":          fmt.Sprintf("1.%d.0", n%30),
				"backend_platform": benchPlatforms[n%3],
				"model":            "sonnet",
				"duration_ms":      n % 1000,
			},
		}
	}
	return events
}

// BenchmarkInsert inserts batches of new events into a file database that
// grows with every iteration.
func BenchmarkInsert(b *testing.B) {
	for _, batch := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "bench.duckdb"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()

			ctx := context.Background()
			next := 0
			for b.Loop() {
				b.StopTimer()
				events := benchEvents(next, batch)
				next += batch
				b.StartTimer()

				if _, err := s.Insert(ctx, events); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(next), "ns/event")
		})
	}
}

// BenchmarkOverview queries a file database of 1,000,000 events, once
// without a filter and once for one week and two platforms.
func BenchmarkOverview(b *testing.B) {
	const total, batch = 1_000_000, 10_000
	s, err := Open(filepath.Join(b.TempDir(), "bench.duckdb"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	for first := 0; first < total; first += batch {
		if _, err := s.Insert(ctx, benchEvents(first, batch)); err != nil {
			b.Fatal(err)
		}
	}

	week := time.Date(2025, time.February, 1, 0, 0, 0, 0, time.UTC)
	filters := map[string]store.Filter{
		"all":  {},
		"week": {Project: "mux", From: week, To: week.AddDate(0, 0, 7), Platforms: []string{"darwin", "linux"}},
	}
	for name, f := range filters {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Overview(ctx, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
