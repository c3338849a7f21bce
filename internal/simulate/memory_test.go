package simulate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"

	"github.com/candor-dev/candor/sdk/telemetry"
)

// Run draws each install's events when a worker takes the install, so the
// memory it holds grows with Concurrency, not with Installs. Drawing all
// 10,000 installs of 30 days up front allocates about 300 MiB, as this
// test measured when Run still did so.
func TestRunPlansInstallsWhenSending(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(cancel)
		w.Write([]byte(`{"status":1}`))
	}))
	defer server.Close()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Run(ctx, Config{
		Endpoint: server.URL, WriteKey: "phc_test", Installs: 10_000, Days: 30, Seed: 1, Now: fixedNow,
		Getenv: func(string) string { return "" },
	})
	runtime.ReadMemStats(&after)

	if err != context.Canceled {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
	const maxAllocated = 100 << 20
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > maxAllocated {
		t.Errorf("Run allocated %d MiB before its first request was cancelled, want at most %d MiB",
			allocated>>20, maxAllocated>>20)
	}
}

// An install with more events than the SDK's default queue holds delivers
// all of them. The simulation captures them in one loop, faster than any
// collector accepts them.
func TestRunLongInstallDropsNothing(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":1}`))
	}))
	defer server.Close()
	cfg := Config{
		Endpoint: server.URL, WriteKey: "phc_test", Installs: 1, Days: 20_000, Seed: 2, Now: fixedNow,
		Getenv: func(string) string { return "" },
	}
	if events := len(Plan(cfg)[0].events); events <= telemetry.DefaultQueueSize {
		t.Fatalf("the install has %d events, want more than the SDK's queue of %d", events, telemetry.DefaultQueueSize)
	}

	summary, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if summary.EventsDropped != 0 {
		t.Errorf("dropped %d events (%v), want 0", summary.EventsDropped, summary.DroppedByReason)
	}
	if captured := captured(summary); summary.EventsSent != captured {
		t.Errorf("sent %d events, want all %d captured", summary.EventsSent, captured)
	}
}
