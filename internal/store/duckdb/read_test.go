package duckdb

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/store"
)

// readTestEvents returns events whose properties cover every kind of value
// the collector stores: nested objects, null, numbers that need an
// exponent, base properties that fit their columns and some that do not.
func readTestEvents() []store.Event {
	start := time.Date(2025, time.March, 1, 12, 0, 0, 123456000, time.UTC)
	events := []store.Event{
		{
			Project: "mux", UUID: testUUID(3), Name: "message_sent", DistinctID: "install-a",
			Timestamp: start, ReceivedAt: start.Add(time.Second),
			Properties: map[string]any{
				"version": "1.2.0", "backend_platform": "linux", "$lib": "candor-go", "$lib_version": "0.4.1",
				"$geoip_disable": true, "goVersion": "go1.25.1", "catalogFingerprint": "f00d",
				"model":  "m1",
				"tokens": 1234.0, "ratio": 0.1, "tiny": 1e-7, "huge": 1e21, "negative": -2.5,
				"nested": map[string]any{"depth": map[string]any{"leaf": "x", "empty": map[string]any{}}, "n": nil},
				"flag":   false, "nothing": nil, "text": "<quoted \"é\" \t>",
			},
		},
		{
			// The base properties of this event do not fit their columns,
			// so they stay in the properties column.
			Project: "shop", UUID: testUUID(1), Name: "checkout", DistinctID: "install-b",
			Timestamp: start.Add(-time.Hour), ReceivedAt: start,
			Properties: map[string]any{"version": 3.0, "backend_platform": "", "$geoip_disable": "yes", "amount": 19.99},
		},
		{
			Project: "mux", UUID: testUUID(2), Name: "app_started", DistinctID: "install-b",
			Timestamp: start, ReceivedAt: start,
			Properties: map[string]any{},
		},
	}
	return events
}

func TestReadEventsReturnsStoredEvents(t *testing.T) {
	forEachPropertyColumn(t, func(t *testing.T, column propertyColumn) {
		s := mustOpenColumn(t, filepath.Join(t.TempDir(), "candor.duckdb"), column)
		ctx := context.Background()
		events := readTestEvents()
		if _, err := s.Insert(ctx, events); err != nil {
			t.Fatalf("Insert: %v", err)
		}

		var batches [][]store.Event
		err := s.ReadEvents(ctx, 2, func(batch []store.Event) error {
			batches = append(batches, batch)
			return nil
		})
		if err != nil {
			t.Fatalf("ReadEvents: %v", err)
		}
		if len(batches) != 2 || len(batches[0]) != 2 || len(batches[1]) != 1 {
			t.Fatalf("ReadEvents batch sizes = %v, want 2 and 1", batchSizes(batches))
		}
		// Ordered by timestamp, then project and UUID.
		want := []store.Event{events[1], events[2], events[0]}
		got := append(batches[0], batches[1]...)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("ReadEvents (-want +got):\n%s", d)
		}
	})
}

func batchSizes(batches [][]store.Event) []int {
	sizes := make([]int, len(batches))
	for i, b := range batches {
		sizes[i] = len(b)
	}
	return sizes
}

// TestReadEventsVersion2Rows reads a row stored before schema version 3,
// which contains version and backend_platform in both the properties
// column and their own columns.
func TestReadEventsVersion2Rows(t *testing.T) {
	forEachPropertyColumn(t, func(t *testing.T, column propertyColumn) {
		path := filepath.Join(t.TempDir(), "candor.duckdb")
		old := testEvents(1)[0]
		old.Properties = map[string]any{"version": "1.0.0", "backend_platform": "linux", "$lib": "candor-go", "model": "m1"}
		writeVersion2(t, path, column, old)
		s := mustOpenColumn(t, path, column)

		var got []store.Event
		err := s.ReadEvents(context.Background(), 10, func(batch []store.Event) error {
			got = append(got, batch...)
			return nil
		})
		if err != nil {
			t.Fatalf("ReadEvents: %v", err)
		}
		if d := cmp.Diff([]store.Event{old}, got); d != "" {
			t.Errorf("ReadEvents (-want +got):\n%s", d)
		}
	})
}

func TestReadEventsStopsAtCallbackError(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "candor.duckdb"))
	ctx := context.Background()
	if _, err := s.Insert(ctx, testEvents(5)); err != nil {
		t.Fatalf("Insert: %v", err)
	}
	stop := errors.New("stop")
	calls := 0
	err := s.ReadEvents(ctx, 2, func([]store.Event) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("ReadEvents = %v, want the callback's error", err)
	}
	if calls != 1 {
		t.Errorf("callback ran %d times, want 1", calls)
	}
}

func TestReadEventsInvalidBatchSize(t *testing.T) {
	s := mustOpen(t, "")
	err := s.ReadEvents(context.Background(), 0, func([]store.Event) error { return nil })
	if err == nil {
		t.Error("ReadEvents with batch size 0 succeeded, want an error")
	}
}

func TestReadEventsAfterClose(t *testing.T) {
	s := mustOpen(t, "")
	s.Close()
	err := s.ReadEvents(context.Background(), 10, func([]store.Event) error { return nil })
	if !errors.Is(err, store.ErrClosed) {
		t.Errorf("ReadEvents after Close = %v, want store.ErrClosed", err)
	}
}
