package webtelemetry_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candor-dev/candor/sdk/internal/leakcheck"
	"github.com/candor-dev/candor/sdk/mux"
	"github.com/candor-dev/candor/sdk/telemetry"
	"github.com/candor-dev/candor/sdk/webtelemetry"
)

// sentEvent is one event as the test collector decoded it.
type sentEvent struct {
	Event      string         `json:"event"`
	DistinctID string         `json:"distinct_id"`
	Properties map[string]any `json:"properties"`
}

// collector is a real HTTP server on loopback in place of the collector. It
// decodes every batch the telemetry client posts.
type collector struct {
	srv *httptest.Server

	mu       sync.Mutex
	requests int
	events   []sentEvent
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBatch(r)
		if err != nil {
			t.Errorf("collector: read batch: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var batch struct {
			Batch []sentEvent `json:"batch"`
		}
		if err := json.Unmarshal(body, &batch); err != nil {
			t.Errorf("collector: decode batch: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.requests++
		c.events = append(c.events, batch.Batch...)
		c.mu.Unlock()
		w.Write([]byte(`{"status":1}`))
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func readBatch(r *http.Request) ([]byte, error) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		defer gz.Close()
		body = gz
	}
	return io.ReadAll(body)
}

func (c *collector) sent() ([]sentEvent, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sentEvent(nil), c.events...), c.requests
}

// env is an environment the test injects into the telemetry client.
type env map[string]string

func (e env) get(name string) string { return e[name] }

// fixture is a telemetry client, the handler around it and a loopback
// server that mounts the handler at /api/telemetry/ as an app would.
type fixture struct {
	collector *collector
	client    *telemetry.Client
	home      string
	handler   *webtelemetry.Handler
	srv       *httptest.Server
}

// options adjusts a fixture before it starts.
type options struct {
	env        env
	automation *bool // nil allows automation, because the tests run under go test
	config     webtelemetry.Config
	sentLog    bool // set telemetry.Config.SentLog to a file in the home folder
}

func newFixture(t *testing.T, opts options) *fixture {
	t.Helper()
	leakcheck.Check(t)
	f := &fixture{collector: newCollector(t), home: t.TempDir()}
	allowAutomation := true
	if opts.automation != nil {
		allowAutomation = *opts.automation
	}
	sentLog := ""
	if opts.sentLog {
		sentLog = filepath.Join(f.home, "telemetry_sent.jsonl")
	}
	client, err := telemetry.New(telemetry.Config{
		App:             mux.App,
		Catalog:         mux.Catalog(),
		Endpoint:        f.collector.srv.URL,
		WriteKey:        "phc_test_write_key",
		Home:            f.home,
		Version:         "1.2.3",
		AllowAutomation: allowAutomation,
		Getenv:          opts.env.get,
		FlushInterval:   time.Hour, // the tests flush explicitly
		SentLog:         sentLog,
	})
	if err != nil {
		t.Fatalf("telemetry.New: %v", err)
	}
	f.client = client
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		client.Close(ctx)
	})

	cfg := opts.config
	cfg.Client = client
	f.handler = webtelemetry.New(cfg)
	routes := http.NewServeMux()
	routes.Handle("/api/telemetry/", http.StripPrefix("/api/telemetry/", f.handler))
	f.srv = httptest.NewServer(routes)
	t.Cleanup(f.srv.Close)
	return f
}

// flush sends what the client queued and returns what the collector got.
func (f *fixture) flush(t *testing.T) ([]sentEvent, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.client.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	return f.collector.sent()
}

// response is a response with its body read.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request to the handler's endpoint. Header values override the
// defaults: a same-origin page's Origin and Sec-Fetch-Site.
func (f *fixture) do(t *testing.T, method, endpoint, body string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+"/api/telemetry/"+endpoint, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}

	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet && method != http.MethodHead {
		req.Header.Set("Origin", f.srv.URL)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}

	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", method, endpoint, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

// status decodes a status body.
func decodeStatus(t *testing.T, r response) webtelemetry.Status {
	t.Helper()
	var st webtelemetry.Status
	if err := json.NewDecoder(bytes.NewReader([]byte(r.body))).Decode(&st); err != nil {
		t.Fatalf("decode status %q: %v", r.body, err)
	}
	return st
}
