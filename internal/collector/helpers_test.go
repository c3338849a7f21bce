package collector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/sdk/catalog"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Write keys of the test projects.
const (
	muxKey   = "phc_test_mux_write_key"
	otherKey = "phc_test_other_write_key"
)

// testNow is the receive time the test collectors see.
var testNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

type messageSent struct {
	WorkspaceID string `json:"workspaceId" candor:"random_id"`
	Model       string `json:"model" candor:"identifier"`
	Length      int    `json:"message_length_b2" candor:"base2"`
	Mode        string `json:"mode,omitempty" candor:"enum=plan|exec,optional"`
}

func (messageSent) EventName() string { return "message_sent" }

type appStarted struct {
	FirstLaunch *bool `json:"first_launch,omitempty" candor:"bool,optional"`
}

func (appStarted) EventName() string { return "app_started" }

func testCatalog() *catalog.Catalog {
	c := catalog.New("testapp")
	c.MustRegister(messageSent{}, "A chat message was sent.")
	c.MustRegister(appStarted{}, "The app started.")
	return c
}

func testProjects() []collector.Project {
	return []collector.Project{
		{Name: "mux", WriteKey: muxKey, Catalog: testCatalog()},
		{Name: "other", WriteKey: otherKey, Catalog: testCatalog()},
	}
}

// workspaceID is a valid random_id value.
const workspaceID = "0b9f7c1e-3f4a-4c2b-9d8e-1a2b3c4d5e6f"

// messageProps are valid properties of message_sent.
const messageProps = `{"workspaceId":"` + workspaceID + `","model":"gpt-4o","message_length_b2":300}`

// messageEvent returns a valid message_sent event with the given uuid.
func messageEvent(uuid string) string {
	return `{"event":"message_sent","distinct_id":"install-1","uuid":"` + uuid + `","properties":` + messageProps + `}`
}

// uuidN returns a distinct version 4 UUID for each n.
func uuidN(n int) string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
}

func batchBody(key string, events ...string) string {
	return `{"api_key":"` + key + `","batch":[` + strings.Join(events, ",") + `]}`
}

// fakeStore is a store.Store in memory that records Insert calls. Only
// Insert and Close do anything.
type fakeStore struct {
	mu      sync.Mutex
	events  []store.Event
	seen    map[[2]string]bool
	inserts int
	err     error         // returned by Insert when set
	delay   time.Duration // Insert sleeps this long first
	block   chan struct{} // when set, Insert waits for it to close or for its context
}

var _ store.Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{seen: map[[2]string]bool{}}
}

func (s *fakeStore) Insert(ctx context.Context, events []store.Event) (int, error) {
	s.mu.Lock()
	s.inserts++
	delay, block, err := s.delay, s.block, s.err
	s.mu.Unlock()

	time.Sleep(delay)
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if err != nil {
		return 0, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	stored := 0
	for _, e := range events {
		key := [2]string{e.Project, e.UUID}
		if s.seen[key] {
			continue
		}
		s.seen[key] = true
		s.events = append(s.events, e)
		stored++
	}
	return stored, nil
}

func (s *fakeStore) stored() []store.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]store.Event(nil), s.events...)
}

func (s *fakeStore) insertCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inserts
}

func (s *fakeStore) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *fakeStore) setDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

func (s *fakeStore) setBlock(block chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.block = block
}

var errNotImplemented = errors.New("not implemented by fakeStore")

func (s *fakeStore) Overview(context.Context, store.Filter) (store.Overview, error) {
	return store.Overview{}, errNotImplemented
}

func (s *fakeStore) EventsPerDay(context.Context, store.Filter) ([]store.DayCount, error) {
	return nil, errNotImplemented
}

func (s *fakeStore) ActiveInstallsPerDay(context.Context, store.Filter) ([]store.DayValue, error) {
	return nil, errNotImplemented
}

func (s *fakeStore) DeleteInstall(context.Context, string, string) (int64, error) {
	return 0, errNotImplemented
}

func (s *fakeStore) DeleteBefore(context.Context, time.Time) (int64, error) {
	return 0, errNotImplemented
}

func (s *fakeStore) Close() error { return nil }

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

// env is a collector behind a loopback HTTP server.
type env struct {
	t         *testing.T
	store     *fakeStore
	collector *collector.Collector
	server    *httptest.Server
	logs      *syncBuffer
}

func newEnv(t *testing.T, configure ...func(*collector.Config)) *env {
	t.Helper()
	e := &env{t: t, store: newFakeStore(), logs: &syncBuffer{}}
	cfg := collector.Config{
		Store:    e.store,
		Projects: testProjects(),
		Logger:   slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:      func() time.Time { return testNow },
	}
	for _, f := range configure {
		f(&cfg)
	}
	c, err := collector.New(cfg)
	if err != nil {
		t.Fatalf("collector.New: %v", err)
	}
	e.collector = c
	e.server = httptest.NewServer(c)
	t.Cleanup(func() {
		e.server.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request; headers are name, value pairs.
func (e *env) do(method, path string, body []byte, headers ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.server.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatalf("new request %s %s: %v", method, path, err)
	}
	if len(body) == 0 {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.server.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read response of %s %s: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

func (e *env) postJSON(path, body string) response {
	e.t.Helper()
	return e.do(http.MethodPost, path, []byte(body), "Content-Type", "application/json")
}

// postChunked sends body without Content-Length, so the server reads it
// chunk by chunk, and returns the response's status.
func (e *env) postChunked(path, body string) int {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.server.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.ContentLength = -1
	resp, err := e.server.Client().Do(req)
	if err != nil {
		e.t.Fatalf("chunked POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// captureResult is the body of a 200 response.
type captureResult struct {
	Status            string         `json:"status"`
	Accepted          int            `json:"accepted"`
	Duplicates        *int           `json:"duplicates"`
	Dropped           map[string]int `json:"dropped"`
	DroppedProperties map[string]int `json:"dropped_properties"`
	Violations        map[string]int `json:"violations"`
}

// errorResult is the body of an error response.
type errorResult struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Error  string `json:"error"`
}

// mustOK checks that r is a 200 JSON response and returns its body.
func mustOK(t *testing.T, r response) captureResult {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var res captureResult
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatalf("decode body %s: %v", r.body, err)
	}
	if res.Status != "Ok" {
		t.Errorf("status field = %q, want Ok", res.Status)
	}
	return res
}

// mustFail checks that r is an error response with status and code.
func mustFail(t *testing.T, r response, status int, code string) errorResult {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	var res errorResult
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatalf("decode error body %s: %v", r.body, err)
	}
	if res.Status != status || res.Code != code {
		t.Errorf("error body = %+v, want status %d and code %q", res, status, code)
	}
	if res.Error == "" {
		t.Errorf("error body has no error message: %s", r.body)
	}
	return res
}

// startBody opens a connection to the collector and sends a POST /batch/
// whose header announces a body of length bytes, then the start of that
// body. The connection stays open, so the request waits for the rest,
// until the test closes it or ends.
func (e *env) startBody(length int, start string) net.Conn {
	e.t.Helper()
	conn, err := net.Dial("tcp", e.server.Listener.Addr().String())
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	e.t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /batch/ HTTP/1.1\r\nHost: collector\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", length, start)
	return conn
}
