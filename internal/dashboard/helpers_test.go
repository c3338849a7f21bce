package dashboard_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/duckdb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const adminToken = "test-admin-token-5f1c9a7e"

// openStore opens an empty in-memory DuckDB store that the test closes
// when it ends.
func openStore(t *testing.T) *duckdb.Store {
	t.Helper()
	s, err := duckdb.Open("")
	if err != nil {
		t.Fatalf("open in-memory DuckDB: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close DuckDB: %v", err)
		}
	})
	return s
}

// storeWith opens a store that holds events.
func storeWith(t *testing.T, events []store.Event) *duckdb.Store {
	t.Helper()
	s := openStore(t)
	insertEvents(t, s, events)
	return s
}

// fixtureEvents is the small dataset the API tests compute their expected
// numbers from. Install a runs 1.0.0 on darwin, b runs 1.1.0 on linux and
// c runs 1.1.0 on win32, all in project mux. Install d runs 2.0.0 on freebsd
// and is the only install of project other.
//
//	day         a                          b                              c
//	2024-05-01  app_started, message_sent  app_started (23:59:59)
//	2024-05-02  message_sent               message_sent (00:00:00)
//	2024-05-03                                                            app_started, 4 × message_sent
//	2024-05-04  (no events)
//	2024-05-05                             error_occurred, app_started
func fixtureEvents() []store.Event {
	type install struct{ id, version, platform string }
	a := install{"install-a", "1.0.0", "darwin"}
	b := install{"install-b", "1.1.0", "linux"}
	c := install{"install-c", "1.1.0", "win32"}
	d := install{"install-d", "2.0.0", "freebsd"}
	at := func(day, hour, minute, second int) time.Time {
		return time.Date(2024, time.May, day, hour, minute, second, 0, time.UTC)
	}

	rows := []struct {
		project string
		install install
		name    string
		time    time.Time
	}{
		{"mux", a, "app_started", at(1, 10, 0, 0)},
		{"mux", a, "message_sent", at(1, 11, 0, 0)},
		{"mux", b, "app_started", at(1, 23, 59, 59)},
		{"mux", b, "message_sent", at(2, 0, 0, 0)},
		{"mux", a, "message_sent", at(2, 9, 0, 0)},
		{"mux", c, "app_started", at(3, 12, 0, 0)},
		{"mux", c, "message_sent", at(3, 12, 5, 0)},
		{"mux", c, "message_sent", at(3, 12, 6, 0)},
		{"mux", c, "message_sent", at(3, 12, 7, 0)},
		{"mux", c, "message_sent", at(3, 12, 8, 0)},
		{"mux", b, "error_occurred", at(5, 8, 0, 0)},
		{"mux", b, "app_started", at(5, 8, 30, 0)},
		{"other", d, "app_started", at(2, 15, 0, 0)},
	}

	events := make([]store.Event, len(rows))
	for i, row := range rows {
		events[i] = store.Event{
			Project:    row.project,
			UUID:       fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			Name:       row.name,
			DistinctID: row.install.id,
			Timestamp:  row.time,
			ReceivedAt: row.time.Add(time.Second),
			Properties: map[string]any{
				"version":          row.install.version,
				"backend_platform": row.install.platform,
			},
		}
	}
	return events
}

func insertEvents(t *testing.T, s store.Store, events []store.Event) {
	t.Helper()
	stored, err := s.Insert(context.Background(), events)
	if err != nil {
		t.Fatalf("Insert: %v", err)
	}
	if stored != len(events) {
		t.Fatalf("Insert stored %d events, want %d", stored, len(events))
	}
}

// startServer serves a Handler over cfg on a loopback test server. An empty
// cfg.AdminToken becomes adminToken.
func startServer(t *testing.T, cfg dashboard.Config) *httptest.Server {
	t.Helper()
	if cfg.AdminToken == "" {
		cfg.AdminToken = adminToken
	}
	handler, err := dashboard.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)
	return server
}

// requestOption changes a request before send sends it.
type requestOption func(*http.Request)

func withBearer(token string) requestOption {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func withHeader(name, value string) requestOption {
	return func(r *http.Request) { r.Header.Set(name, value) }
}

func withCookie(cookie *http.Cookie) requestOption {
	return func(r *http.Request) { r.AddCookie(cookie) }
}

func withForm(form url.Values) requestOption {
	return func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader(form.Encode()))
		r.ContentLength = int64(len(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
}

// send sends one request to server without following redirects and returns
// the response with its body read.
func send(t *testing.T, server *httptest.Server, method, path string, options ...requestOption) (*http.Response, string) {
	t.Helper()
	request, err := http.NewRequest(method, server.URL+path, nil)
	if err != nil {
		t.Fatalf("NewRequest(%s %s): %v", method, path, err)
	}
	for _, option := range options {
		option(request)
	}

	client := server.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	response, err := client.Do(request)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		t.Fatalf("read body of %s %s: %v", method, path, err)
	}
	return response, string(body)
}

// sessionCookie returns the session cookie that response sets, or nil.
func sessionCookie(response *http.Response) *http.Cookie {
	for _, cookie := range response.Cookies() {
		if cookie.Name == dashboard.SessionCookie {
			return cookie
		}
	}
	return nil
}

// login posts the admin token to the login form and returns the session
// cookie.
func login(t *testing.T, server *httptest.Server) *http.Cookie {
	t.Helper()
	response, _ := send(t, server, http.MethodPost, "/login", withForm(url.Values{"token": {adminToken}}))
	if response.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /login status = %d, want %d", response.StatusCode, http.StatusSeeOther)
	}
	cookie := sessionCookie(response)
	if cookie == nil {
		t.Fatal("POST /login set no session cookie")
	}
	return cookie
}

// fakeClock is a settable Config.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// logBuffer returns a logger that writes text lines into the returned buffer.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buffer bytes.Buffer
	return slog.New(slog.NewTextHandler(&buffer, &slog.HandlerOptions{Level: slog.LevelDebug})), &buffer
}

// countInstalls counts the distinct installs of events, which all belong to
// one project.
func countInstalls(events []store.Event) int {
	installs := map[string]bool{}
	for _, e := range events {
		installs[e.DistinctID] = true
	}
	return len(installs)
}

func utcDay(t time.Time) string {
	return t.UTC().Format("2006-01-02")
}
