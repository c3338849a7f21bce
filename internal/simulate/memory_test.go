package simulate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
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
