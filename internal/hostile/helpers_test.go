package hostile

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/internal/server"
	"github.com/candor-dev/candor/internal/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Keys of the test servers. They are long and distinctive, so that a grep
// of the logs finds any copy of them.
const (
	writeKey   = "phc_hostile_write_0f3a9c1d7e5b4a2c"
	adminToken = "cadm_hostile_admin_8b6e2d4f1a3c5e7d9b0a"
)

// receiveTime is the collector's clock: every event is received at this
// instant, which makes the stored timestamps exact.
var receiveTime = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// installID is a valid distinct_id.
const installID = "5b0e1c7e-8a41-4f5e-9d0a-2f7f3c1d9e10"

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testServer is a candor server on a free loopback port over a temporary
// DuckDB data folder, logging at the debug level into logs.
type testServer struct {
	t       *testing.T
	srv     *server.Server
	dataDir string
	logs    *syncBuffer
	client  *http.Client
	stopped bool
	done    chan error
}

func startServer(t *testing.T, configure ...func(*server.Config)) *testServer {
	t.Helper()
	ts := &testServer{t: t, dataDir: t.TempDir(), logs: &syncBuffer{}, done: make(chan error, 1)}
	logger := slog.New(slog.NewJSONHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := server.Config{
		DataDir:    ts.dataDir,
		Listen:     "127.0.0.1:0",
		WriteKey:   writeKey,
		AdminToken: adminToken,
		Logger:     logger,
		Collector:  collector.Config{Now: func() time.Time { return receiveTime }},
	}
	for _, f := range configure {
		f(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ts.srv = srv
	ts.client = &http.Client{
		Timeout: 30 * time.Second,
		// The tests read redirects themselves.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	go func() { ts.done <- srv.Serve() }()
	t.Cleanup(ts.stop)
	return ts
}

// stop shuts the server down and closes its store. It is idempotent.
func (ts *testServer) stop() {
	if ts.stopped {
		return
	}
	ts.stopped = true
	ts.client.CloseIdleConnections()
	if err := ts.srv.Shutdown(context.Background()); err != nil {
		ts.t.Errorf("shutdown: %v", err)
	}
	if err := <-ts.done; err != nil {
		ts.t.Errorf("serve: %v", err)
	}
}

// response is one response, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request; headers are name, value pairs.
func (ts *testServer) do(method, path string, body []byte, headers ...string) response {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.srv.URL()+path, bytes.NewReader(body))
	if err != nil {
		ts.t.Fatalf("new request %s %s: %v", method, path, err)
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatalf("read response of %s %s: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

func (ts *testServer) postJSON(path, body string, headers ...string) response {
	ts.t.Helper()
	return ts.do(http.MethodPost, path, []byte(body), append([]string{"Content-Type", "application/json"}, headers...)...)
}

// storedCount returns the number of events in the store, of every project
// and every time.
func (ts *testServer) storedCount() int64 {
	ts.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ov, err := ts.srv.Store().Overview(ctx, store.Filter{})
	if err != nil {
		ts.t.Fatalf("count stored events: %v", err)
	}
	return ov.TotalEvents
}

// commandEvent returns a valid command_used event.
func commandEvent(uuid string) string {
	return `{"event":"command_used","distinct_id":"` + installID + `","uuid":"` + uuid + `","properties":{"command":"clear"}}`
}

// batchBody returns a /batch/ body with the write key.
func batchBody(events ...string) string {
	return `{"api_key":"` + writeKey + `","batch":[` + strings.Join(events, ",") + `]}`
}

// captureResult is the body of a 200 capture response.
type captureResult struct {
	Status            string         `json:"status"`
	Accepted          int            `json:"accepted"`
	Dropped           map[string]int `json:"dropped"`
	DroppedProperties map[string]int `json:"dropped_properties"`
}

// errorResult is the body of a capture error response.
type errorResult struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Error  string `json:"error"`
}

func decodeJSON[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode response body %q: %v", r.body, err)
	}
	return v
}
