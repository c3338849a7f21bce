package journal

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/store"
)

func TestRecordRoundTrip(t *testing.T) {
	events := []store.Event{
		{
			Project:    "mux",
			UUID:       "0f8b5c2a-1d2e-4f3a-9b7c-123456789abc",
			Name:       "message_sent",
			DistinctID: "install-ä",
			Timestamp:  time.Date(2025, 3, 1, 12, 30, 15, 123456789, time.UTC),
			ReceivedAt: time.Date(2025, 3, 1, 12, 30, 16, 0, time.UTC),
			Properties: map[string]any{
				"none":   nil,
				"yes":    true,
				"no":     false,
				"text":   "claude-sonnet-4 \x00 ✓",
				"int":    42,
				"int64":  int64(math.MinInt64),
				"float":  0.1,
				"nan":    math.Inf(1),
				"uint":   uint64(math.MaxUint64),
				"nested": map[string]any{"a": []any{1.5, "b"}},
			},
		},
		{
			Project:    "other",
			UUID:       "",
			Name:       "",
			DistinctID: "",
			Timestamp:  time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
			ReceivedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		},
	}
	record, err := appendRecord(nil, events)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := nextPayload(record)
	if err != nil {
		t.Fatalf("nextPayload: %v", err)
	}
	got, err := decodePayload(payload)
	if err != nil {
		t.Fatalf("decodePayload: %v", err)
	}

	want := events
	want[0].Properties = map[string]any{
		"none":   nil,
		"yes":    true,
		"no":     false,
		"text":   "claude-sonnet-4 \x00 ✓",
		"int":    int64(42),
		"int64":  int64(math.MinInt64),
		"float":  0.1,
		"nan":    math.Inf(1),
		"uint":   json.Number("18446744073709551615"),
		"nested": map[string]any{"a": []any{json.Number("1.5"), "b"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded events differ (-want +got):\n%s", diff)
	}
}

func TestRecordDamageDetected(t *testing.T) {
	record, err := appendRecord(nil, testEvents("mux", 0, 2))
	if err != nil {
		t.Fatal(err)
	}
	for i := range record {
		damaged := append([]byte(nil), record...)
		damaged[i] ^= 0x01
		if payload, err := nextPayload(damaged); err == nil {
			if _, err := decodePayload(payload); err == nil {
				t.Errorf("flipping a bit of byte %d went unnoticed", i)
			}
		}
	}
	for n := range len(record) {
		if _, err := nextPayload(record[:n]); err == nil {
			t.Errorf("a record cut to %d of %d bytes went unnoticed", n, len(record))
		}
	}
}

func TestRecordRejectsUnencodableValue(t *testing.T) {
	events := testEvents("mux", 0, 1)
	events[0].Properties["bad"] = make(chan int)
	if _, err := appendRecord(nil, events); err == nil {
		t.Fatal("appendRecord accepted a channel value")
	}
}

// FuzzDecodePayload checks that no payload makes the reader panic, and
// that a payload it reads encodes back to events that read the same.
func FuzzDecodePayload(f *testing.F) {
	record, err := appendRecord(nil, testEvents("mux", 0, 2))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(record[headerSize:])
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, payload []byte) {
		events, err := decodePayload(payload)
		if err != nil {
			return
		}
		again, err := appendRecord(nil, events)
		if err != nil {
			return // such as a float NaN inside JSON text
		}
		decoded, err := decodePayload(again[headerSize:])
		if err != nil {
			t.Fatalf("re-encoded payload does not read: %v", err)
		}
		if diff := cmp.Diff(events, decoded, cmp.Comparer(func(a, b float64) bool {
			return a == b || math.IsNaN(a) && math.IsNaN(b)
		})); diff != "" {
			t.Fatalf("round trip changed events (-first +second):\n%s", diff)
		}
	})
}
