package clickhouse

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// benchEvents returns count events that look like a fleet's traffic: 1,000
// installs, 20 event names, 10 versions and 4 platforms over 90 days.
func benchEvents(first, count int) []store.Event {
	platforms := []string{"darwin", "linux", "win32", "freebsd"}
	start := time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)
	events := make([]store.Event, count)
	for i := range events {
		n := first + i
		install := n * 7919 % 1000
		ts := start.Add(time.Duration(n*7777%(90*24*3600)) * time.Second).Add(time.Duration(n%1000) * time.Millisecond)
		events[i] = store.Event{
			Project:    "mux",
			UUID:       fmt.Sprintf("%08x-0000-4000-8000-%012x", n*2654435761%(1<<32), n),
			Name:       fmt.Sprintf("event_%02d", n%20),
			DistinctID: fmt.Sprintf("install-%04d", install),
			Timestamp:  ts,
			ReceivedAt: ts.Add(time.Second),
			Properties: map[string]any{
				"version":          fmt.Sprintf("0.%d.0", install%10),
				"backend_platform": platforms[install%4],
				"model":            "sonnet",
				"tokens":           n % 5000,
			},
		}
	}
	return events
}

// BenchmarkInsert measures Insert calls of 10,000 new events each, which is
// one INSERT per call at the default MaxBatchRows.
func BenchmarkInsert(b *testing.B) {
	s := openBench(b)
	const batch = 10000
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Insert(ctx, benchEvents(i*batch, batch)); err != nil {
			b.Fatalf("Insert: %v", err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkQueries measures each query method on 1,000,000 events.
func BenchmarkQueries(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	const total, batch = 1_000_000, 10000
	seedStart := time.Now()
	for first := 0; first < total; first += batch {
		if _, err := s.Insert(ctx, benchEvents(first, batch)); err != nil {
			b.Fatalf("Insert: %v", err)
		}
	}
	b.Logf("inserted %d events in %s", total, time.Since(seedStart).Round(time.Millisecond))

	month := store.Filter{
		Project: "mux",
		From:    time.Date(2025, time.February, 1, 0, 0, 0, 0, time.UTC),
		To:      time.Date(2025, time.March, 1, 0, 0, 0, 0, time.UTC),
	}
	queries := []struct {
		name string
		run  func(store.Filter) error
	}{
		{"Overview", func(f store.Filter) error { _, err := s.Overview(ctx, f); return err }},
		{"EventsPerDay", func(f store.Filter) error { _, err := s.EventsPerDay(ctx, f); return err }},
		{"ActiveInstallsPerDay", func(f store.Filter) error { _, err := s.ActiveInstallsPerDay(ctx, f); return err }},
	}
	for _, query := range queries {
		for _, filter := range []struct {
			name   string
			filter store.Filter
		}{{"all", store.Filter{}}, {"month", month}} {
			b.Run(query.name+"/"+filter.name, func(b *testing.B) {
				for range b.N {
					if err := query.run(filter.filter); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func openBench(b *testing.B) *Store {
	b.Helper()
	serverURL := serverURL(b)
	database := fmt.Sprintf("candor_bench_%d", time.Now().UnixNano())
	s, err := Open(context.Background(), Config{URL: serverURL, Database: database})
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() {
		s.Close()
		admin, closeAdmin := newAdmin(serverURL)
		defer closeAdmin()
		admin.exec(context.Background(), "DROP DATABASE IF EXISTS "+database)
	})
	return s
}
