package duckdb

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
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

// muxBenchEvents returns count events like benchEvents, with the
// properties of a Mux message_sent event as the collector's normalization
// leaves them: numbers as float64 and frontendPlatform as a nested object.
func muxBenchEvents(first, count int) []store.Event {
	events := benchEvents(first, count)
	for i := range events {
		n := first + i
		events[i].Name = "message_sent"
		events[i].Properties = map[string]any{
			"version":            fmt.Sprintf("0.%d.0", 10+n%7),
			"backend_platform":   benchPlatforms[n%3],
			"electronVersion":    "37.2.0",
			"goVersion":          "go1.26.8",
			"$lib":               "candor-go",
			"$lib_version":       "0.1.0",
			"catalogFingerprint": "05d0acf6ab21a34b",
			"model":              "anthropic/claude-sonnet-4-5",
			"agentId":            "exec",
			"message_length_b2":  float64(int(1) << (n % 12)),
			"runtimeType":        "worktree",
			"thinkingLevel":      "medium",
			"workspaceId":        "6c764a3c-abc3-4074-ad49-a354ae485992",
			"frontendPlatform":   map[string]any{"platform": "macOS", "userAgent": "Electron 37 (macOS)"},
		}
	}
	return events
}

// BenchmarkInsert inserts batches of new events into a file database that
// grows with every iteration, with the 4 properties of benchEvents
// ("small") or the 14 of muxBenchEvents ("mux").
func BenchmarkInsert(b *testing.B) {
	generators := []struct {
		name   string
		events func(first, count int) []store.Event
	}{
		{"small", benchEvents},
		{"mux", muxBenchEvents},
	}
	for _, generator := range generators {
		for _, batch := range []int{1, 100, 1_000, 5_000, 10_000} {
			b.Run(fmt.Sprintf("props=%s/batch=%d", generator.name, batch), func(b *testing.B) {
				benchmarkInsert(b, generator.events, batch)
			})
		}
	}
}

func benchmarkInsert(b *testing.B, generate func(first, count int) []store.Event, batch int) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.duckdb"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	ctx := context.Background()
	next := 0
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		events := generate(next, batch)
		next += batch
		before := processCPU(b)
		b.StartTimer()

		if _, err := s.Insert(ctx, events); err != nil {
			b.Fatal(err)
		}

		b.StopTimer()
		cpu += processCPU(b) - before
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(next), "ns/event")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(next), "cpu-ns/event")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// processCPU returns the user and system CPU time the process has used,
// which includes DuckDB's own threads.
func processCPU(b *testing.B) time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		b.Fatal(err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
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
