package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

// env is an injected environment.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// syncEnv is an environment a test changes while the client runs.
type syncEnv struct {
	mu sync.Mutex
	m  map[string]string
}

func (e *syncEnv) get(k string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.m[k]
}

func (e *syncEnv) set(k, v string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]string{}
	}
	e.m[k] = v
}

// received is one request as the test collector decoded it.
type received struct {
	APIKey   string            `json:"api_key"`
	Batch    []json.RawMessage `json:"batch"`
	SentAt   string            `json:"sent_at"`
	header   http.Header
	rawBody  []byte // decompressed
	accepted bool
}

// decoded is one event of a batch.
type decoded struct {
	UUID       string         `json:"uuid"`
	Event      string         `json:"event"`
	DistinctID string         `json:"distinct_id"`
	Timestamp  string         `json:"timestamp"`
	Properties map[string]any `json:"properties"`
}

// collector is a real HTTP server on loopback that decodes every batch.
// respond, if set, writes the response to each request; when it is nil or
// returns false, the collector responds 200.
type collector struct {
	t   testing.TB
	srv *httptest.Server

	active atomic.Int64 // requests in the respond function

	mu       sync.Mutex
	requests []received
	respond  func(n int, r *received, w http.ResponseWriter) bool // returns true when it responded
}

func newCollector(t testing.TB) *collector {
	t.Helper()
	c := &collector{t: t}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

// newSlowCollector returns a collector that waits delay before it
// responds to each request.
func newSlowCollector(t testing.TB, delay time.Duration) *collector {
	t.Helper()
	c := newCollector(t)
	c.setRespond(func(int, *received, http.ResponseWriter) bool {
		time.Sleep(delay)
		return false
	})
	return c
}

func (c *collector) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var rec received
	rec.header = r.Header.Clone()
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		body, err = io.ReadAll(zr)
		if err != nil {
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
	}
	rec.rawBody = body
	if r.URL.Path != "/batch/" || json.Unmarshal(body, &rec) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}

	c.mu.Lock()
	n := len(c.requests)
	respond := c.respond
	c.mu.Unlock()
	c.active.Add(1)
	answered := respond != nil && respond(n, &rec, w)
	c.active.Add(-1)
	if !answered {
		rec.accepted = true
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"Ok"}`)
	}
	c.mu.Lock()
	c.requests = append(c.requests, rec)
	c.mu.Unlock()
}

func (c *collector) setRespond(f func(n int, r *received, w http.ResponseWriter) bool) {
	c.mu.Lock()
	c.respond = f
	c.mu.Unlock()
}

// failFirst makes the collector respond to its first request with status
// and accept the others.
func (c *collector) failFirst(status int) {
	c.setRespond(func(n int, _ *received, w http.ResponseWriter) bool {
		if n == 0 {
			w.WriteHeader(status)
			return true
		}
		return false
	})
}

// accepted returns the events of every request answered with 200.
func (c *collector) accepted() []decoded {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []decoded
	for _, r := range c.requests {
		if !r.accepted {
			continue
		}
		for _, raw := range r.Batch {
			var d decoded
			if err := json.Unmarshal(raw, &d); err != nil {
				c.t.Errorf("decode event %s: %v", raw, err)
			}
			out = append(out, d)
		}
	}
	return out
}

func (c *collector) inFlight() bool { return c.active.Load() > 0 }

func (c *collector) requestCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.requests)
}

// bodies returns every decompressed request body, accepted or not.
func (c *collector) bodies() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][]byte
	for _, r := range c.requests {
		out = append(out, r.rawBody)
	}
	return out
}

// testConfig returns a config that sends to url with short intervals, an
// empty environment and automation allowed.
func testConfig(t testing.TB, url string) Config {
	t.Helper()
	return Config{
		App:             mux.App,
		Catalog:         mux.Catalog(),
		Endpoint:        url,
		WriteKey:        "phc_test",
		Home:            t.TempDir(),
		Version:         "1.2.3",
		AllowAutomation: true,
		FlushInterval:   20 * time.Millisecond,
		MaxRetryDelay:   20 * time.Millisecond,
		Getenv:          env{}.get,
	}
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// testDeadline bounds the waits of the helpers below. Each returns as soon
// as its condition holds, so the bound only ends a test that would hang,
// and it is generous because CI runs the race detector on 2 loaded cores.
const testDeadline = 30 * time.Second

func closeClient(t *testing.T, c *Client) Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	st, err := c.Close(ctx)
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	return st
}

func flush(t *testing.T, c *Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// waitFor polls cond until it holds or testDeadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// validMessage is a message_sent event that passes every class.
func validMessage() mux.MessageSent {
	return mux.MessageSent{
		WorkspaceID:   "3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b",
		Model:         "anthropic/claude-sonnet-4-5",
		MessageLength: 350,
		RuntimeType:   "local",
		ThinkingLevel: "medium",
		FrontendPlatform: mux.FrontendPlatform{
			UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
			Platform:  "MacIntel",
		},
	}
}

var _ catalog.Event = mux.MessageSent{}

// diff returns "" when want and got are deeply equal, else both values.
// The SDK module has no dependencies, so go-cmp is not available here.
func diff(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return fmt.Sprintf("want %#v\n got %#v", want, got)
}
