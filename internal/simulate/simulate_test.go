package simulate

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/sdk/mux"
)

var fixedNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func TestPlanSameSeedSameEvents(t *testing.T) {
	cfg := Config{Installs: 20, Days: 30, Seed: 42, Now: fixedNow}
	first, second := Plan(cfg), Plan(cfg)
	if diff := cmp.Diff(first, second, cmp.AllowUnexported(install{}, timedEvent{})); diff != "" {
		t.Errorf("two plans with one seed differ (-first +second):\n%s", diff)
	}
	cfg.Seed = 43
	if cmp.Equal(first, Plan(cfg), cmp.AllowUnexported(install{}, timedEvent{})) {
		t.Error("seeds 42 and 43 gave the same plan")
	}
}

func TestPlanShape(t *testing.T) {
	const days = 30
	installs := Plan(Config{Installs: 200, Days: days, Seed: 1, Now: fixedNow})
	start := fixedNow.Add(-days * 24 * time.Hour)
	counts := map[string]int{}
	firstLaunches := 0
	for _, in := range installs {
		if len(in.events) == 0 {
			continue
		}
		if name := in.events[0].event.EventName(); name != "app_started" {
			t.Errorf("install %d starts with %s, want app_started", in.index, name)
		}
		last := start
		for _, e := range in.events {
			counts[e.event.EventName()]++
			if e.at.Before(last) || !e.at.Before(fixedNow) {
				t.Fatalf("install %d: event at %v out of order or outside [%v, %v)", in.index, e.at, start, fixedNow)
			}
			last = e.at
			if s, ok := e.event.(mux.AppStarted); ok && s.IsFirstLaunch {
				firstLaunches++
			}
		}
		if firstLaunches != 1 {
			t.Errorf("install %d: %d first launches, want 1", in.index, firstLaunches)
		}
		firstLaunches = 0
	}
	for _, name := range []string{"app_started", "workspace_created", "workspace_switched", "message_sent", "stream_completed", "command_used", "error_occurred"} {
		if counts[name] == 0 {
			t.Errorf("no %s events in 200 installs", name)
		}
	}
	if counts["message_sent"] < counts["app_started"] {
		t.Errorf("message_sent %d < app_started %d: sessions should hold several messages", counts["message_sent"], counts["app_started"])
	}
	t.Logf("event counts: %v", counts)
}

func TestRunSendsNothingWhenSwitchedOff(t *testing.T) {
	for _, env := range []map[string]string{{"MUX_DISABLE_TELEMETRY": "1"}, {"DO_NOT_TRACK": "1"}} {
		var name string
		for k := range env {
			name = k
		}
		t.Run(name, func(t *testing.T) {
			summary, err := Run(context.Background(), Config{
				Endpoint: "http://127.0.0.1:1", // nothing listens: a send would count as dropped
				WriteKey: "phc_test",
				Installs: 3,
				Days:     2,
				Seed:     1,
				Getenv:   func(k string) string { return env[k] },
			})
			if err != nil {
				t.Fatal(err)
			}
			if summary.EventsSent != 0 {
				t.Errorf("events_sent = %d, want 0", summary.EventsSent)
			}
			if summary.EventsDropped != 0 {
				t.Errorf("events_dropped = %d, want 0", summary.EventsDropped)
			}
			if !strings.Contains(summary.Disabled, name) {
				t.Errorf("disabled = %q, want it to name %s", summary.Disabled, name)
			}
		})
	}
}

func TestRunReportsRejectedEvents(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"invalid write key"}`, http.StatusUnauthorized)
	}))
	defer server.Close()

	summary, err := Run(context.Background(), Config{
		Endpoint: server.URL, WriteKey: "phc_wrong", Installs: 2, Days: 1, Seed: 1,
		Getenv: func(string) string { return "" },
	})
	if err != nil {
		t.Fatal(err)
	}
	captured := captured(summary)
	if summary.EventsSent != 0 || summary.EventsDropped != captured {
		t.Errorf("sent %d, dropped %d, want 0 and all %d", summary.EventsSent, summary.EventsDropped, captured)
	}
	if got := summary.DroppedByReason["rejected"]; got != captured {
		t.Errorf("dropped_by_reason[rejected] = %d, want %d", got, captured)
	}
}

func TestRunRejectsDaysBeforeEpoch(t *testing.T) {
	var requests atomic.Int64
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
	}))
	defer server.Close()

	now := time.Date(1970, time.January, 11, 12, 0, 0, 0, time.UTC)
	if got := MaxDays(now); got != 10 {
		t.Errorf("MaxDays(%s) = %d, want 10", now, got)
	}
	_, err := Run(context.Background(), Config{
		Endpoint: server.URL, WriteKey: "phc_x", Installs: 1, Days: 11, Now: now,
		Getenv: func(string) string { return "" },
	})
	if err == nil || !strings.Contains(err.Error(), "days 11 would start before 1970-01-01: use at most 10") {
		t.Errorf("Run with 11 days ending %s: error %v, want one that names the limit 10", now, err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("Run sent %d requests, want none", n)
	}
}

func TestRunReportsUndeliveredEvents(t *testing.T) {
	server := httptest.NewServer(http.NotFoundHandler())
	endpoint := server.URL
	server.Close() // nothing listens at endpoint any more

	summary, err := Run(context.Background(), Config{
		Endpoint: endpoint, WriteKey: "phc_test", Installs: 2, Days: 1, Seed: 1,
		CloseTimeout: time.Second,
		Getenv:       func(string) string { return "" },
	})
	if err != nil {
		t.Fatal(err)
	}
	captured := captured(summary)
	if summary.EventsSent != 0 || summary.EventsDropped != captured {
		t.Errorf("sent %d, dropped %d, want 0 and all %d", summary.EventsSent, summary.EventsDropped, captured)
	}
	if got := summary.DroppedByReason[DropUndelivered]; got != captured {
		t.Errorf("dropped_by_reason[%s] = %d, want %d", DropUndelivered, got, captured)
	}
}

// captured returns the number of events the simulation handed to the SDK.
func captured(summary Summary) int64 {
	var n int64
	for _, count := range summary.Captured {
		n += count
	}
	return n
}

// TestRunDeliversAcrossOutage checks that every event reaches a collector
// that is unavailable for a second, as during a restart: each install's
// Close retries until the collector takes the events.
func TestRunDeliversAcrossOutage(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T, handler http.Handler) string
	}{
		{"503", startUnavailableForASecond},
		{"connection refused", startListeningAfterASecond},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			var received atomic.Int64
			endpoint := test.start(t, countingCollector(t, &received))

			summary, err := Run(context.Background(), Config{
				Endpoint: endpoint, WriteKey: "phc_test", Installs: 4, Days: 2, Seed: 1,
				Getenv: func(string) string { return "" },
			})
			if err != nil {
				t.Fatal(err)
			}
			captured := captured(summary)
			if summary.EventsSent != captured {
				t.Errorf("events_sent = %d, want all %d captured", summary.EventsSent, captured)
			}
			if summary.EventsDropped != 0 {
				t.Errorf("events_dropped = %d (%v), want 0", summary.EventsDropped, summary.DroppedByReason)
			}
			if got := received.Load(); got != captured {
				t.Errorf("collector received %d events, want %d", got, captured)
			}
		})
	}
}

// countingCollector returns a handler that acknowledges each batch as
// candor's collector does and adds its events to received.
func countingCollector(t *testing.T, received *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Errorf("read gzip body: %v", err)
			http.Error(w, `{"error":"invalid gzip body"}`, http.StatusBadRequest)
			return
		}
		var payload struct {
			Batch []json.RawMessage `json:"batch"`
		}
		if err := json.NewDecoder(body).Decode(&payload); err != nil {
			t.Errorf("decode batch: %v", err)
			http.Error(w, `{"error":"invalid JSON body"}`, http.StatusBadRequest)
			return
		}
		received.Add(int64(len(payload.Batch)))
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"Ok"}`))
	})
}

// startUnavailableForASecond starts a server that responds 503 for its
// first second and then passes requests to handler.
func startUnavailableForASecond(t *testing.T, handler http.Handler) string {
	upAt := time.Now().Add(time.Second)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if time.Now().Before(upAt) {
			http.Error(w, `{"error":"storing events failed; retry later"}`, http.StatusServiceUnavailable)
			return
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(server.Close)
	return server.URL
}

// startListeningAfterASecond returns the URL of a loopback port on which
// nothing listens for a second, so connections are refused, and then a
// server with handler does.
func startListeningAfterASecond(t *testing.T, handler http.Handler) string {
	server := httptest.NewUnstartedServer(handler)
	addr := server.Listener.Addr().String()
	server.Listener.Close()

	started := make(chan struct{})
	timer := time.AfterFunc(time.Second, func() {
		defer close(started)
		listener, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("listen again on %s: %v", addr, err)
			return
		}
		server.Listener = listener
		server.Start()
	})
	t.Cleanup(func() {
		if timer.Stop() {
			return
		}
		<-started
		server.Close()
	})
	return "http://" + addr
}
