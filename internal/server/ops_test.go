package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/clickhouse"
	"github.com/candor-dev/candor/internal/store/duckdb"
	"github.com/candor-dev/candor/sdk/catalog"
)

const (
	testWriteKey   = "phc_ops_write_key"
	testAdminToken = "cadm_ops_admin_token"
)

// send makes one request and returns its status and body. auth, if set, is
// sent as a Bearer token.
func send(t *testing.T, method, url, auth, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}

// commandEvent returns a valid Mux command_used event.
func commandEvent(id, distinctID string) string {
	return `{"event":"command_used","distinct_id":"` + distinctID + `","uuid":"` + id + `","properties":{"command":"clear","version":"1.4.2"}}`
}

func batch(key string, events ...string) string {
	return `{"api_key":"` + key + `","batch":[` + strings.Join(events, ",") + `]}`
}

func TestDoubleSlashBatchIsServed(t *testing.T) {
	srv := startServer(t, Config{WriteKey: testWriteKey, AdminToken: testAdminToken})
	for i, path := range []string{"//batch/", "//batch", "/batch//", "//i/v0/e/"} {
		id := "0b7e7a38-6c1d-4f7e-9b1a-5d2c8e4f6a1" + string(rune('0'+i))
		status, body := send(t, http.MethodPost, srv.URL()+path, "", batch(testWriteKey, commandEvent(id, "install-1")))
		if status != http.StatusOK || !strings.Contains(body, `"accepted":1`) {
			t.Errorf("POST %s = %d %s, want 200 with one accepted event", path, status, body)
		}
	}
}

func TestWriteKeyCannotRead(t *testing.T) {
	srv := startServer(t, Config{WriteKey: testWriteKey, AdminToken: testAdminToken})
	requests := []struct{ method, path string }{
		{http.MethodGet, "/api/v1/overview"},
		{http.MethodGet, "/api/v1/events_per_day"},
		{http.MethodGet, "/api/v1/active_installs"},
		{http.MethodDelete, "/api/v1/installs/install-1?project=mux"},
		{http.MethodGet, "/metrics"},
	}
	for _, r := range requests {
		for _, auth := range []string{testWriteKey, "", "wrong"} {
			if status, body := send(t, r.method, srv.URL()+r.path, auth, ""); status != http.StatusUnauthorized {
				t.Errorf("%s %s with token %q = %d %s, want 401", r.method, r.path, auth, status, body)
			}
		}
	}
	// The admin token opens them.
	for _, r := range requests {
		if status, body := send(t, r.method, srv.URL()+r.path, testAdminToken, ""); status != http.StatusOK {
			t.Errorf("%s %s with the admin token = %d %s, want 200", r.method, r.path, status, body)
		}
	}
}

// The routes behind the admin token word their 401 alike. Only the
// dashboard's routes also take the login's session cookie.
func TestUnauthorizedMessagesAgree(t *testing.T) {
	srv := startServer(t, Config{WriteKey: testWriteKey, AdminToken: testAdminToken})
	const bearerOnly = `missing or invalid admin token: send "Authorization: Bearer ADMIN_TOKEN"`
	for _, r := range []struct{ method, path, want string }{
		{http.MethodGet, "/metrics", bearerOnly},
		{http.MethodDelete, "/api/v1/installs/install-1?project=mux", bearerOnly},
		{http.MethodGet, "/api/v1/overview", bearerOnly + " or log in at /"},
	} {
		status, body := send(t, r.method, srv.URL()+r.path, "", "")
		var decoded struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &decoded); err != nil {
			t.Fatalf("%s %s body %q: %v", r.method, r.path, body, err)
		}
		if status != http.StatusUnauthorized || decoded.Error != r.want {
			t.Errorf("%s %s without a token = %d %q, want 401 %q", r.method, r.path, status, decoded.Error, r.want)
		}
	}
}

// The 404 for an unknown path under /api/ lists the server's own API
// routes next to the query API's.
func TestUnknownAPIPathListsAdminRoutes(t *testing.T) {
	srv := startServer(t, Config{WriteKey: testWriteKey, AdminToken: testAdminToken})
	for _, path := range []string{"/api/v1/installs/", "/api/v1/installs", "/api/v1/nope"} {
		status, body := send(t, http.MethodGet, srv.URL()+path, testAdminToken, "")
		if status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, status)
		}
		for _, want := range []string{"/api/v1/overview", "DELETE /api/v1/installs/{distinct_id}?project=NAME", "POST /api/v1/self/delete"} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s = %s, want %q in the error", path, body, want)
			}
		}
	}
}

func TestAdminRouteWrongMethodGets405(t *testing.T) {
	srv := startServer(t, Config{WriteKey: testWriteKey, AdminToken: testAdminToken})
	tests := []struct{ method, path, allow string }{
		{http.MethodGet, "/api/v1/installs/install-1?project=mux", "DELETE"},
		{http.MethodPost, "/api/v1/installs/install-1", "DELETE"},
		{http.MethodGet, "/api/v1/self/delete", "POST"},
		{http.MethodDelete, "/api/v1/self/delete", "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL()+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+testAdminToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tt.method, tt.path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("status = %d %s, want 405", resp.StatusCode, body)
			}
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if !strings.Contains(string(body), "use "+tt.allow) {
				t.Errorf("body = %s, want it to name the method to use, %s", body, tt.allow)
			}
		})
	}
}

func TestReadyz(t *testing.T) {
	srv, err := New(Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", WriteKey: testWriteKey, AdminToken: testAdminToken})
	if err != nil {
		t.Fatal(err)
	}
	readyz := func() (int, string) {
		rec := httptest.NewRecorder()
		srv.httpServer.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code, strings.TrimSpace(rec.Body.String())
	}

	if status, body := readyz(); status != http.StatusServiceUnavailable || body != "starting" {
		t.Errorf("before Serve: /readyz = %d %q, want 503 starting", status, body)
	}

	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	waitUntil(t, "ready", func() bool { status, _ := readyz(); return status == http.StatusOK })
	if status, body := send(t, http.MethodGet, srv.URL()+"/readyz", "", ""); status != http.StatusOK || body != "ready\n" {
		t.Errorf("GET /readyz = %d %q, want 200 ready", status, body)
	}

	// A store that fails makes the server unready.
	srv.store.Close()
	if status, body := readyz(); status != http.StatusServiceUnavailable || body != "store unavailable" {
		t.Errorf("with a closed store: /readyz = %d %q, want 503 store unavailable", status, body)
	}

	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if status, body := readyz(); status != http.StatusServiceUnavailable || body != "draining" {
		t.Errorf("after Shutdown: /readyz = %d %q, want 503 draining", status, body)
	}
}

// pingFailingStore is a store whose Ping returns pingErr while that is set,
// like a ClickHouse store whose server is stopped.
type pingFailingStore struct {
	store.Store
	mu      sync.Mutex
	pingErr error
}

func (s *pingFailingStore) Ping(ctx context.Context) error {
	s.mu.Lock()
	err := s.pingErr
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return store.Ping(ctx, s.Store)
}

func (s *pingFailingStore) setPingErr(err error) {
	s.mu.Lock()
	s.pingErr = err
	s.mu.Unlock()
}

func TestReadyzLogsRecovery(t *testing.T) {
	logs := &syncBuffer{}
	failing := &pingFailingStore{}
	srv := startTunedServer(t, Config{
		WriteKey: testWriteKey, AdminToken: testAdminToken,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	}, func(s *Server) {
		failing.Store = s.store
		s.store = failing
	})
	readyz := func() int {
		status, _ := send(t, http.MethodGet, srv.URL()+"/readyz", "", "")
		return status
	}
	waitUntil(t, "ready", func() bool { return readyz() == http.StatusOK })

	failing.setPingErr(store.Unavailable(errors.New("connection refused")))
	for range 3 {
		if status := readyz(); status != http.StatusServiceUnavailable {
			t.Fatalf("GET /readyz while the ping fails = %d, want 503", status)
		}
	}
	time.Sleep(20 * time.Millisecond)
	failing.setPingErr(nil)
	for range 2 {
		if status := readyz(); status != http.StatusOK {
			t.Fatalf("GET /readyz after the ping works again = %d, want 200", status)
		}
	}

	var recovered []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "/readyz reports ready again") {
			recovered = append(recovered, line)
		}
	}
	if len(recovered) != 1 {
		t.Fatalf("logged %d recovery lines, want 1:\n%s", len(recovered), logs.String())
	}
	if !strings.Contains(recovered[0], "level=INFO") {
		t.Errorf("recovery line is not at level INFO: %s", recovered[0])
	}
	if !strings.Contains(recovered[0], `reason="store ping failed"`) {
		t.Errorf("recovery line does not name the store ping as the reason: %s", recovered[0])
	}
	_, after, ok := strings.Cut(recovered[0], "unavailable_for=")
	if !ok {
		t.Fatalf("recovery line has no unavailable_for: %s", recovered[0])
	}
	unavailable, err := time.ParseDuration(strings.Fields(after)[0])
	if err != nil || unavailable < 20*time.Millisecond {
		t.Errorf("unavailable_for = %q, want a duration of at least 20ms", strings.Fields(after)[0])
	}
}

// waitUntil polls cond for up to 10 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// shopCatalog is a catalog file as candor catalog --format json writes it.
const shopCatalog = `{
  "app": "shop",
  "events": [
    {"name": "order_placed", "properties": [
      {"name": "items", "class": "count", "type": "number", "max": 50},
      {"name": "payment", "class": "enum", "type": "string", "values": ["card", "invoice"]}
    ]}
  ]
}`

func shopProject(t *testing.T) collector.Project {
	t.Helper()
	c, err := catalog.Parse([]byte(shopCatalog))
	if err != nil {
		t.Fatal(err)
	}
	return collector.Project{Name: "shop", WriteKey: "phc_shop_key", Catalog: c}
}

func TestProjectsUseTheirCatalogs(t *testing.T) {
	srv := startServer(t, Config{KAnonymity: 1, WriteKey: testWriteKey, AdminToken: testAdminToken, Projects: []collector.Project{shopProject(t)}})

	// The shop key stores shop events and drops Mux events.
	status, body := send(t, http.MethodPost, srv.URL()+"/batch/", "", batch("phc_shop_key",
		`{"event":"order_placed","distinct_id":"c1","uuid":"6b1a3c5e-0d2f-4a7b-8c9d-0e1f2a3b4c01","properties":{"items":70,"payment":"card","coupon":"X"}}`,
		`{"event":"order_placed","distinct_id":"c2","uuid":"6b1a3c5e-0d2f-4a7b-8c9d-0e1f2a3b4c02","properties":{"items":2,"payment":"cash"}}`,
		commandEvent("6b1a3c5e-0d2f-4a7b-8c9d-0e1f2a3b4c03", "c1")))
	var res struct {
		Accepted          int            `json:"accepted"`
		Dropped           map[string]int `json:"dropped"`
		DroppedProperties map[string]int `json:"dropped_properties"`
	}
	if err := json.Unmarshal([]byte(body), &res); status != http.StatusOK || err != nil {
		t.Fatalf("POST shop batch = %d %s", status, body)
	}
	if res.Accepted != 1 || !cmp.Equal(res.Dropped, map[string]int{"not_in_enum": 1, "unknown_event": 1}) ||
		!cmp.Equal(res.DroppedProperties, map[string]int{"unknown_property": 1}) {
		t.Errorf("shop batch: accepted %d, dropped %v, dropped properties %v", res.Accepted, res.Dropped, res.DroppedProperties)
	}
	// The Mux key drops shop events.
	status, body = send(t, http.MethodPost, srv.URL()+"/batch/", "", batch(testWriteKey,
		`{"event":"order_placed","distinct_id":"c1","uuid":"6b1a3c5e-0d2f-4a7b-8c9d-0e1f2a3b4c04","properties":{"items":2,"payment":"card"}}`))
	if status != http.StatusOK || !strings.Contains(body, `"unknown_event":1`) {
		t.Errorf("POST shop event with the Mux key = %d %s, want it dropped as unknown_event", status, body)
	}

	shop := getOverview(t, srv, "?project=shop")
	if shop.TotalEvents != 1 || shop.Events["order_placed"] != 1 {
		t.Errorf("shop overview %+v, want one order_placed", shop)
	}

	// The drops are in the metrics, by project and reason.
	_, metrics := send(t, http.MethodGet, srv.URL()+"/metrics", testAdminToken, "")
	for _, line := range []string{
		`candor_events_dropped_total{project="shop",reason="not_in_enum"} 1`,
		`candor_events_dropped_total{project="shop",reason="unknown_event"} 1`,
		`candor_events_dropped_total{project="mux",reason="unknown_event"} 1`,
		`candor_properties_dropped_total{project="shop",reason="unknown_property"} 1`,
		`candor_events_stored_total{project="shop"} 1`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}

func TestMetrics(t *testing.T) {
	srv := startServer(t, Config{
		WriteKey: testWriteKey, AdminToken: testAdminToken,
		Collector: collector.Config{RateLimit: 1, RateBurst: 2},
	})
	events := []string{
		commandEvent("5c2d8e1a-3b4f-4c6d-9e7f-8a9b0c1d2e01", "install-1"),
		commandEvent("5c2d8e1a-3b4f-4c6d-9e7f-8a9b0c1d2e02", "install-1"),
	}
	if status, body := send(t, http.MethodPost, srv.URL()+"/batch/", "", batch(testWriteKey, events...)); status != http.StatusOK {
		t.Fatalf("first batch = %d %s", status, body)
	}
	if status, body := send(t, http.MethodPost, srv.URL()+"/batch/", "", batch(testWriteKey, events...)); status != http.StatusTooManyRequests {
		t.Fatalf("second batch = %d %s, want 429", status, body)
	}
	send(t, http.MethodPost, srv.URL()+"/batch/", "", batch("phc_unknown", events...))

	// The store counts the stored events when it loads them from the
	// journal, shortly after the response: wait for the count itself,
	// which may come after the journal reports none pending.
	var metrics string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var status int
		status, metrics = send(t, http.MethodGet, srv.URL()+"/metrics", testAdminToken, "")
		if status != http.StatusOK {
			t.Fatalf("GET /metrics = %d", status)
		}
		loaded := strings.Contains(metrics, "candor_journal_pending_events 0\n") &&
			strings.Contains(metrics, `candor_events_stored_total{project="mux"} 2`)
		if loaded || time.Now().After(deadline) {
			break
		}
	}
	for _, line := range []string{
		`candor_events_accepted_total{project="mux"} 2`,
		`candor_events_stored_total{project="mux"} 2`,
		`candor_events_duplicates_total{project="mux"} 0`,
		`candor_rate_limited_requests_total{project="mux"} 1`,
		`candor_capture_requests_total{code="200"} 1`,
		`candor_capture_requests_total{code="429"} 1`,
		`candor_capture_requests_total{code="401"} 1`,
		`candor_capture_errors_total{code="ingest_key_unknown"} 1`,
		`candor_commit_duration_seconds_count 1`,
		`candor_commit_queue_events 0`,
		`candor_commits_total 1`,
		`candor_journal_pending_events 0`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "candor_buffered_bytes", "candor_decoding_requests"} {
		if !strings.Contains(metrics, "\n"+name+" ") {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func TestMetricsPublic(t *testing.T) {
	srv := startServer(t, Config{WriteKey: testWriteKey, AdminToken: testAdminToken, MetricsPublic: true})
	if status, body := send(t, http.MethodGet, srv.URL()+"/metrics", "", ""); status != http.StatusOK || !strings.Contains(body, "candor_commits_total") {
		t.Errorf("GET /metrics without a token = %d, want 200 with candor metrics", status)
	}
}

func TestDeleteInstall(t *testing.T) {
	srv := startServer(t, Config{KAnonymity: 1, WriteKey: testWriteKey, AdminToken: testAdminToken})
	send(t, http.MethodPost, srv.URL()+"/batch/", "", batch(testWriteKey,
		commandEvent("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c01", "install-gone"),
		commandEvent("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c02", "install-gone"),
		commandEvent("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c03", "install-kept")))

	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/api/v1/installs/install-gone?project=mux", http.StatusOK, `{"deleted":2}`},
		{"/api/v1/installs/install-gone?project=mux", http.StatusOK, `{"deleted":0}`},
		{"/api/v1/installs/install-kept", http.StatusBadRequest, ""},
		{"/api/v1/installs/install-kept?project=nope", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		status, body := send(t, http.MethodDelete, srv.URL()+tt.path, testAdminToken, "")
		if status != tt.status || (tt.body != "" && strings.TrimSpace(body) != tt.body) {
			t.Errorf("DELETE %s = %d %s, want %d %s", tt.path, status, body, tt.status, tt.body)
		}
	}
	ov := getOverview(t, srv, "")
	if ov.TotalEvents != 1 || ov.Installs != 1 {
		t.Errorf("after delete: %d events of %d installs, want 1 of 1", ov.TotalEvents, ov.Installs)
	}
}

// batchWithKey is batch with hash as the request's deletion key hash.
func batchWithKey(key, hash string, events ...string) string {
	return `{"api_key":"` + key + `","` + collector.DeletionKeyHashField + `":"` + hash + `","batch":[` + strings.Join(events, ",") + `]}`
}

// deletionKey returns a deletion secret and the hex SHA-256 that an SDK
// sends for it.
func deletionKey(secret string) (string, string) {
	sum := sha256.Sum256([]byte(secret))
	return secret, hex.EncodeToString(sum[:])
}

func selfDeleteBody(install, secret string) string {
	return `{"api_key":"` + testWriteKey + `","distinct_id":"` + install + `","secret":"` + secret + `"}`
}

// TestDeleteInstallDeletesDeletionKey checks that the operator's deletion
// leaves no deletion key hash of the install, and that the install's next
// batch registers its hash as a first batch does.
func TestDeleteInstallDeletesDeletionKey(t *testing.T) {
	t.Run("DuckDB", func(t *testing.T) {
		testDeleteInstallDeletesDeletionKey(t, Config{})
	})
	t.Run("ClickHouse", func(t *testing.T) {
		chURL := os.Getenv("CANDOR_CLICKHOUSE_URL")
		if chURL == "" {
			t.Skip("CANDOR_CLICKHOUSE_URL is not set: start a server with scripts/clickhouse.sh start DIR 18123 and export CANDOR_CLICKHOUSE_URL=http://127.0.0.1:18123")
		}
		database := fmt.Sprintf("candor_test_%d", time.Now().UnixNano())
		t.Cleanup(func() { dropClickHouseDatabase(t, chURL, database) })
		testDeleteInstallDeletesDeletionKey(t, Config{
			Store:      StoreClickHouse,
			ClickHouse: clickhouse.Config{URL: chURL, Database: database, FlushInterval: 100 * time.Millisecond},
		})
	})
}

func testDeleteInstallDeletesDeletionKey(t *testing.T, cfg Config) {
	cfg.KAnonymity, cfg.WriteKey, cfg.AdminToken = 1, testWriteKey, testAdminToken
	srv := startServer(t, cfg)
	selfDeleteURL := srv.URL() + collector.SelfDeletePath
	oldSecret, oldHash := deletionKey("first secret of install-gone")
	keptSecret, keptHash := deletionKey("secret of install-kept")
	send(t, http.MethodPost, srv.URL()+"/batch/", "", batchWithKey(testWriteKey, oldHash,
		commandEvent("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c11", "install-gone")))
	send(t, http.MethodPost, srv.URL()+"/batch/", "", batchWithKey(testWriteKey, keptHash,
		commandEvent("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c12", "install-kept")))

	status, body := send(t, http.MethodDelete, srv.URL()+"/api/v1/installs/install-gone?project=mux", testAdminToken, "")
	if status != http.StatusOK || strings.TrimSpace(body) != `{"deleted":1}` {
		t.Fatalf("DELETE install-gone = %d %s, want 200 {\"deleted\":1}", status, body)
	}
	secrets := srv.store.(store.InstallSecrets)
	if hash, err := secrets.InstallSecretHash(context.Background(), "mux", "install-gone"); !errors.Is(err, store.ErrSecretNotFound) {
		t.Errorf("deletion key hash of install-gone after DELETE = %q, %v; want store.ErrSecretNotFound", hash, err)
	}

	newSecret, newHash := deletionKey("second secret of install-gone")
	send(t, http.MethodPost, srv.URL()+"/batch/", "", batchWithKey(testWriteKey, newHash,
		commandEvent("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c13", "install-gone")))
	status, body = send(t, http.MethodPost, selfDeleteURL, "", selfDeleteBody("install-gone", oldSecret))
	if status != http.StatusForbidden || !strings.Contains(body, "secret_mismatch") {
		t.Errorf("self-service deletion with the secret from before DELETE = %d %s, want 403 secret_mismatch", status, body)
	}
	status, body = send(t, http.MethodPost, selfDeleteURL, "", selfDeleteBody("install-gone", newSecret))
	if status != http.StatusOK || strings.TrimSpace(body) != `{"deleted":1}` {
		t.Errorf("self-service deletion with the secret of the next batch = %d %s, want 200 {\"deleted\":1}", status, body)
	}

	status, body = send(t, http.MethodPost, selfDeleteURL, "", selfDeleteBody("install-kept", keptSecret))
	if status != http.StatusOK || strings.TrimSpace(body) != `{"deleted":1}` {
		t.Errorf("self-service deletion of install-kept = %d %s, want 200 {\"deleted\":1}", status, body)
	}
}

// TestUnknownProjectResponsesAgree checks that the query API and the
// install deletion respond alike to a project that is not configured.
func TestUnknownProjectResponsesAgree(t *testing.T) {
	srv := startServer(t, Config{WriteKey: testWriteKey, AdminToken: testAdminToken})
	for _, request := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/overview?project=shop"},
		{http.MethodGet, "/api/v1/export/aggregate?project=shop&format=csv"},
		{http.MethodDelete, "/api/v1/installs/install-1?project=shop"},
	} {
		status, body := send(t, request.method, srv.URL()+request.path, testAdminToken, "")
		if status != http.StatusNotFound {
			t.Errorf("%s %s = %d, want 404", request.method, request.path, status)
		}
		var decoded struct {
			Error    string   `json:"error"`
			Projects []string `json:"projects"`
		}
		if err := json.Unmarshal([]byte(body), &decoded); err != nil {
			t.Fatalf("%s %s body %q: %v", request.method, request.path, body, err)
		}
		if want := `unknown project "shop": use one of the configured projects "mux"`; !strings.HasPrefix(decoded.Error, want) {
			t.Errorf("%s %s error %q, want it to start with %q", request.method, request.path, decoded.Error, want)
		}
		if d := cmp.Diff([]string{"mux"}, decoded.Projects); d != "" {
			t.Errorf("%s %s projects (-want +got):\n%s", request.method, request.path, d)
		}
	}
}

func TestRetentionDeletesOldEvents(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC()
	db, err := duckdb.Open(dir + "/" + DatabaseFile)
	if err != nil {
		t.Fatal(err)
	}
	old := store.Event{Project: "mux", UUID: "3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a01", Name: "command_used", DistinctID: "i1",
		Timestamp: now.AddDate(0, 0, -401), ReceivedAt: now.AddDate(0, 0, -401)}
	recent := old
	recent.UUID, recent.Timestamp = "3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a02", now.AddDate(0, 0, -399)
	if _, err := db.Insert(context.Background(), []store.Event{old, recent}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	srv, err := New(Config{KAnonymity: 1, DataDir: dir, Listen: "127.0.0.1:0", WriteKey: testWriteKey, AdminToken: testAdminToken, Retention: 400 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv.retentionInterval = 50 * time.Millisecond
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	defer func() {
		srv.Shutdown(context.Background())
		<-done
	}()

	waitUntil(t, "ready", func() bool {
		status, _ := send(t, http.MethodGet, srv.URL()+"/readyz", "", "")
		return status == http.StatusOK
	})
	if ov := getOverview(t, srv, ""); ov.TotalEvents != 1 {
		t.Errorf("after the first pass: %d events, want 1", ov.TotalEvents)
	}

	// An event older than the retention that arrives later is dropped as
	// expired, and its install gets no deletion key, having nothing stored.
	late := `{"event":"command_used","distinct_id":"i2","uuid":"3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a03","timestamp":"` +
		now.AddDate(0, 0, -500).Format(time.RFC3339) + `","properties":{"command":"clear"}}`
	_, lateHash := deletionKey("secret of install i2")
	status, body := send(t, http.MethodPost, srv.URL()+"/batch/", "", batchWithKey(testWriteKey, lateHash, late))
	if status != http.StatusOK || !strings.Contains(body, `"expired":1`) {
		t.Fatalf("POST late event = %d %s, want 200 with one event dropped as expired", status, body)
	}
	if ov := getOverview(t, srv, ""); ov.TotalEvents != 1 {
		t.Errorf("after the late event: %d events, want 1", ov.TotalEvents)
	}
	hash, err := srv.store.(store.InstallSecrets).InstallSecretHash(context.Background(), "mux", "i2")
	if !errors.Is(err, store.ErrSecretNotFound) {
		t.Errorf("deletion key hash of i2 = %q, %v; want %v", hash, err, store.ErrSecretNotFound)
	}
}

// TestRetentionExpiresDeletionKeys runs retention of one second: the hash
// of an install that sends nothing expires after the server's
// secretExpiry, while an install that keeps sending keeps its hash,
// renewed by the collector. The test leaves collector.MaxFutureSkew out of
// secretExpiry, so that it can wait for an expiry.
func TestRetentionExpiresDeletionKeys(t *testing.T) {
	dir := t.TempDir()
	db, err := duckdb.Open(dir + "/" + DatabaseFile)
	if err != nil {
		t.Fatal(err)
	}
	_, goneHash := deletionKey("secret of install-gone")
	if err := db.RegisterInstallSecret(context.Background(), "mux", "install-gone", goneHash, time.Time{}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	const retention = time.Second
	cfg := Config{KAnonymity: 1, DataDir: dir, WriteKey: testWriteKey, AdminToken: testAdminToken, Retention: retention,
		Collector: collector.Config{SecretRenewal: retention / 16}}
	srv := startTunedServer(t, cfg, func(srv *Server) {
		srv.retentionInterval = 50 * time.Millisecond
		srv.secretExpiry = retention + retention/4
	})
	waitUntil(t, "ready", func() bool {
		status, _ := send(t, http.MethodGet, srv.URL()+"/readyz", "", "")
		return status == http.StatusOK
	})

	secrets := srv.store.(store.InstallSecrets)
	keptSecret, keptHash := deletionKey("secret of install-kept")
	start := time.Now()
	for i := 0; time.Since(start) < 2*srv.secretExpiry; i++ {
		event := commandEvent(fmt.Sprintf("9a8b7c6d-5e4f-4a3b-8c2d-%012x", i), "install-kept")
		if status, body := send(t, http.MethodPost, srv.URL()+"/batch/", "", batchWithKey(testWriteKey, keptHash, event)); status != http.StatusOK {
			t.Fatalf("POST event %d of install-kept = %d %s", i, status, body)
		}
		if hash, err := secrets.InstallSecretHash(context.Background(), "mux", "install-kept"); err != nil || hash != keptHash {
			t.Fatalf("deletion key hash of install-kept after %v = %q, %v; want %q", time.Since(start), hash, err, keptHash)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if hash, err := secrets.InstallSecretHash(context.Background(), "mux", "install-gone"); !errors.Is(err, store.ErrSecretNotFound) {
		t.Errorf("deletion key hash of install-gone after %v = %q, %v; want store.ErrSecretNotFound", time.Since(start), hash, err)
	}
	status, body := send(t, http.MethodPost, srv.URL()+collector.SelfDeletePath, "", selfDeleteBody("install-kept", keptSecret))
	if status != http.StatusOK || !strings.Contains(body, `"deleted"`) {
		t.Errorf("self-service deletion of install-kept = %d %s, want 200", status, body)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
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

func TestTokensNeverLogged(t *testing.T) {
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	shop := shopProject(t)
	srv := startServer(t, Config{
		WriteKey: testWriteKey, AdminToken: testAdminToken, Logger: logger, Projects: []collector.Project{shop},
		Collector: collector.Config{RateLimit: 1, RateBurst: 1, SummaryInterval: 20 * time.Millisecond},
	})
	const wrongToken = "phc_wrong_token_sent_by_a_client"
	event := commandEvent("1f2e3d4c-5b6a-4978-8a6b-5c4d3e2f1a01", "install-1")

	for _, key := range []string{testWriteKey, testWriteKey, shop.WriteKey, wrongToken, testAdminToken} {
		send(t, http.MethodPost, srv.URL()+"/batch/", "", batch(key, event))
		send(t, http.MethodPost, srv.URL()+"/batch/?api_key="+key, "", `{"api_key":"`+key+`","batch":[{"event":`)
		send(t, http.MethodGet, srv.URL()+"/e/?data="+key, "", "")
		send(t, http.MethodPost, srv.URL()+"/i/v0/e/", "", `{"event":"x","distinct_id":"d","token":"`+key+`","uuid":"not-a-uuid"}`)
		for _, path := range []string{"/api/v1/overview", "/metrics", "/readyz", "/?token=" + key} {
			send(t, http.MethodGet, srv.URL()+path, key, "")
		}
		send(t, http.MethodDelete, srv.URL()+"/api/v1/installs/install-1?project=mux", key, "")
		send(t, http.MethodPost, srv.URL()+"/login", "", "token="+key)
	}
	time.Sleep(50 * time.Millisecond) // one summary line
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	text := logs.String()
	if !strings.Contains(text, "capture summary") || !strings.Contains(text, "capture request rejected") {
		t.Fatalf("the logs lack the summary or the rejections, so the test checks nothing:\n%s", text)
	}
	for _, secret := range []string{testWriteKey, testAdminToken, shop.WriteKey, wrongToken} {
		if strings.Contains(text, secret) {
			t.Errorf("the logs contain the token %q:\n%s", secret, text)
		}
	}
}

func TestMaxConnectionsMakesClientsWait(t *testing.T) {
	srv := startServer(t, Config{WriteKey: testWriteKey, AdminToken: testAdminToken, MaxConnections: 2})
	addr := strings.TrimPrefix(srv.URL(), "http://")
	var idle []net.Conn
	for range 2 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		idle = append(idle, conn)
	}

	client := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	if resp, err := client.Get(srv.URL() + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("GET /healthz with 2 of 2 connections open = %d, want a timeout", resp.StatusCode)
	}

	idle[0].Close()
	client.Timeout = 5 * time.Second
	resp, err := client.Get(srv.URL() + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz after a connection closed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200", resp.StatusCode)
	}
}

func TestMaxConnectionsClosesIdleForNewClient(t *testing.T) {
	srv := startServer(t, Config{WriteKey: testWriteKey, AdminToken: testAdminToken, MaxConnections: 2})
	addr := strings.TrimPrefix(srv.URL(), "http://")

	// Two keep-alive connections that each served a request and stay open.
	var readers []*bufio.Reader
	var conns []net.Conn
	for range 2 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		if resp := getHealthz(t, conn, r); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /healthz on a kept connection = %d, want 200", resp.StatusCode)
		}
		waitIdle(t, srv.listener, len(readers)+1) // so the first one is idle longest
		readers = append(readers, r)
		conns = append(conns, conn)
	}

	expectHealthz(t, srv.URL(), "with 2 of 2 connections idle")

	// The connection idle longest was closed, the other one still works.
	conns[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := readers[0].ReadByte(); err != io.EOF {
		t.Errorf("read on the longest-idle connection = %v, want EOF", err)
	}
	if resp := getHealthz(t, conns[1], readers[1]); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz on the other kept connection = %d, want 200", resp.StatusCode)
	}
}

func TestMaxConnectionsClosesAfterResponse(t *testing.T) {
	srv := startServer(t, Config{WriteKey: testWriteKey, AdminToken: testAdminToken, MaxConnections: 1})
	conn := dialServer(t, srv)
	r := bufio.NewReader(conn)

	// The only slot holds a connection that has sent no request yet, so
	// the client waits.
	done := getInBackground(t, srv.URL()+"/healthz")
	waitUntil(t, "the client to wait for a slot", srv.listener.closeAfterResponse)

	resp := getHealthz(t, conn, r)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz on the first connection = %d, want 200", resp.StatusCode)
	}
	if !resp.Close {
		t.Errorf("response header Connection = %q while a client waits, want close", resp.Header.Get("Connection"))
	}
	res := <-done
	if res.err != nil {
		t.Fatalf("GET /healthz after the first connection's response: %v", res.err)
	}
	if res.status != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200", res.status)
	}
}

func TestMaxConnectionsKeepsConnectionReadingHeader(t *testing.T) {
	srv := startServer(t, Config{WriteKey: testWriteKey, AdminToken: testAdminToken, MaxConnections: 1})
	conn := dialServer(t, srv)
	r := bufio.NewReader(conn)
	if resp := getHealthz(t, conn, r); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz on the kept connection = %d, want 200", resp.StatusCode)
	}
	waitIdle(t, srv.listener, 1)
	time.Sleep(idleCloseAfter + idleCheckInterval)

	// The next request has begun: the server reports the connection idle
	// until its header is complete, yet it must not be closed.
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\n"); err != nil {
		t.Fatal(err)
	}
	// Give the server up to 2 s to read those bytes, well within its 10 s
	// ReadHeaderTimeout, which would close the connection anyway.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		srv.listener.mu.Lock()
		idle := srv.listener.idle.Len()
		srv.listener.mu.Unlock()
		if idle == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	waiter := getInBackground(t, srv.URL()+"/healthz")
	waitUntil(t, "the client to wait for a slot or be served", func() bool {
		return srv.listener.closeAfterResponse() || len(waiter) > 0
	})
	time.Sleep(3 * idleCheckInterval) // the waiting Accept looks for idle connections

	if _, err := io.WriteString(conn, "Host: candor\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("read the response to a request whose header was half sent while a client waited: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz on the kept connection = %d, want 200", resp.StatusCode)
	}
	if res := <-waiter; res.err != nil || res.status != http.StatusOK {
		t.Errorf("GET /healthz of the waiting client = %d, %v; want 200", res.status, res.err)
	}
}

func TestMaxConnectionsClosesSlowRequestBody(t *testing.T) {
	for _, tc := range []struct {
		name, head string
	}{
		{"body read by the handler", "POST /login HTTP/1.1\r\nHost: candor\r\n" +
			"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ntoken="},
		{"body left unread", "GET /healthz HTTP/1.1\r\nHost: candor\r\nContent-Length: 100\r\n\r\nab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startTunedServer(t, Config{WriteKey: testWriteKey, AdminToken: testAdminToken, MaxConnections: 1}, func(s *Server) {
				s.httpServer.ReadTimeout /= 100 // 0.4 s in place of 40 s
			})
			conn := dialServer(t, srv)

			// The request's body stops part way, and the connection holds
			// the only slot.
			if _, err := io.WriteString(conn, tc.head); err != nil {
				t.Fatal(err)
			}
			expectHealthz(t, srv.URL(), "while a request body stalls on the only connection")
		})
	}
}

func TestMaxConnectionsClosesStalledReader(t *testing.T) {
	srv := startTunedServer(t, Config{WriteKey: testWriteKey, AdminToken: testAdminToken, MaxConnections: 1}, func(s *Server) {
		s.listener.writeStallTimeout = 300 * time.Millisecond
	})
	conn := dialServer(t, srv)

	// The client asks for about 20 MB of responses and reads none of them,
	// more than its 16 KiB receive buffer and the server's send buffer take
	// (Linux allows up to 4 MiB by default in net.ipv4.tcp_wmem).
	if err := conn.(*net.TCPConn).SetReadBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	sent := make(chan error, 1)
	go func() {
		request := "GET /assets/vendor/chart.umd.min.js HTTP/1.1\r\nHost: candor\r\n\r\n"
		_, err := io.WriteString(conn, strings.Repeat(request, 100))
		sent <- err
	}()
	defer func() {
		conn.Close()
		<-sent
	}()
	// Once the buffers are full the server blocks in a write, so it cannot
	// end that connection with "Connection: close" for the next client.
	time.Sleep(500 * time.Millisecond)

	expectHealthz(t, srv.URL(), "while the only connection reads no responses")
}

// getResult is the outcome of a GET that getInBackground makes.
type getResult struct {
	status int
	err    error
}

// getInBackground sends GET url on a new connection and delivers the
// outcome on the returned channel.
func getInBackground(t *testing.T, url string) <-chan getResult {
	t.Helper()
	done := make(chan getResult, 1)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	go func() {
		resp, err := client.Get(url)
		if err != nil {
			done <- getResult{err: err}
			return
		}
		resp.Body.Close()
		done <- getResult{status: resp.StatusCode}
	}()
	return done
}

// dialServer opens a TCP connection to srv that closes when the test ends.
func dialServer(t *testing.T, srv *Server) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// expectHealthz gets /healthz on a new connection and checks that it is
// served within 5 s. while describes the connections already open.
func expectHealthz(t *testing.T, url, while string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(url + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz %s: %v", while, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz %s = %d, want 200", while, resp.StatusCode)
	}
}

// waitIdle waits until l counts n idle connections.
func waitIdle(t *testing.T, l *limitListener, n int) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%d idle connections", n), func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.idle.Len() == n
	})
}

// getHealthz sends GET /healthz on conn and returns the response, with its
// body read.
func getHealthz(t *testing.T, conn net.Conn, r *bufio.Reader) *http.Response {
	t.Helper()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: candor\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// An install ID in standard base64 may contain "+" and "=", which the
// path of the admin deletion carries as they are.
func TestDeleteInstallWithBase64ID(t *testing.T) {
	srv := startServer(t, Config{WriteKey: testWriteKey, AdminToken: testAdminToken})
	const install = "q3Rz+9xWmK2vB7nP0aLfE+=="
	status, body := send(t, http.MethodPost, srv.URL()+"/batch/", "",
		batch(testWriteKey, commandEvent("0b7e7a38-6c1d-4f7e-9b1a-5d2c8e4f6a20", install)))
	if status != http.StatusOK || !strings.Contains(body, `"accepted":1`) {
		t.Fatalf("POST /batch/ with install %q = %d %s, want 200 with one accepted event", install, status, body)
	}

	path := "/api/v1/installs/" + url.PathEscape(install) + "?project=mux"
	status, body = send(t, http.MethodDelete, srv.URL()+path, testAdminToken, "")
	if status != http.StatusOK || body != "{\"deleted\":1}\n" {
		t.Errorf("DELETE %s = %d %q, want 200 {\"deleted\":1}", path, status, body)
	}
}

// TestDeleteInstallOfRemovedProject stores events of a project that the
// server does not configure, as after the project's removal from the
// configuration: the admin API still deletes them.
func TestDeleteInstallOfRemovedProject(t *testing.T) {
	dir := t.TempDir()
	db, err := duckdb.Open(dir + "/" + DatabaseFile)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	removed := store.Event{Project: "removed", UUID: "3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a11", Name: "command_used",
		DistinctID: "install-r", Timestamp: now, ReceivedAt: now}
	if _, err := db.Insert(context.Background(), []store.Event{removed}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	srv := startServer(t, Config{DataDir: dir, WriteKey: testWriteKey, AdminToken: testAdminToken})
	status, body := send(t, http.MethodDelete, srv.URL()+"/api/v1/installs/install-r?project=removed", testAdminToken, "")
	if status != http.StatusOK || strings.TrimSpace(body) != `{"deleted":1}` {
		t.Errorf("DELETE of an install of a removed project = %d %s, want 200 {\"deleted\":1}", status, body)
	}
	// A retry, such as after a lost response, finds nothing to delete, as
	// it would in a configured project.
	status, body = send(t, http.MethodDelete, srv.URL()+"/api/v1/installs/install-r?project=removed", testAdminToken, "")
	if status != http.StatusOK || strings.TrimSpace(body) != `{"deleted":0}` {
		t.Errorf("second DELETE = %d %s, want 200 {\"deleted\":0}", status, body)
	}
}

// TestDeleteInstallOfUnconfiguredProject checks the responses for a
// project that the server does not configure: 200 while events of it are
// stored, and 404 with the reason once none are, unless this server
// deleted its last events.
func TestDeleteInstallOfUnconfiguredProject(t *testing.T) {
	dir := t.TempDir()
	db, err := duckdb.Open(dir + "/" + DatabaseFile)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	events := []store.Event{
		{Project: "removed", UUID: "3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a21", Name: "command_used",
			DistinctID: "install-a", Timestamp: now, ReceivedAt: now},
		{Project: "removed", UUID: "3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a22", Name: "command_used",
			DistinctID: "install-b", Timestamp: now, ReceivedAt: now},
	}
	if _, err := db.Insert(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	db.Close()
	deleteInstall := func(srv *Server, project, install string) (int, string) {
		t.Helper()
		return send(t, http.MethodDelete, srv.URL()+"/api/v1/installs/"+install+"?project="+project, testAdminToken, "")
	}

	srv := startServer(t, Config{DataDir: dir, WriteKey: testWriteKey, AdminToken: testAdminToken})
	status, body := deleteInstall(srv, "removed", "install-never-seen")
	if status != http.StatusOK || strings.TrimSpace(body) != `{"deleted":0}` {
		t.Errorf("DELETE of an unknown install while the project has events = %d %s, want 200 {\"deleted\":0}", status, body)
	}
	status, body = deleteInstall(srv, "typo", "install-a")
	if status != http.StatusNotFound {
		t.Errorf("DELETE in a project that never had events = %d %s, want 404", status, body)
	}
	if want := `no events of \"typo\" are stored either`; !strings.Contains(body, want) {
		t.Errorf("DELETE in a project that never had events = %s, want %q in the error", body, want)
	}
	for _, install := range []string{"install-a", "install-b", "install-b"} {
		if status, body := deleteInstall(srv, "removed", install); status != http.StatusOK {
			t.Errorf("DELETE of %s = %d %s, want 200", install, status, body)
		}
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// A restarted server does not know that the project had events.
	srv = startServer(t, Config{DataDir: dir, WriteKey: testWriteKey, AdminToken: testAdminToken})
	status, body = deleteInstall(srv, "removed", "install-a")
	if status != http.StatusNotFound || !strings.Contains(body, `no events of \"removed\" are stored either`) {
		t.Errorf("DELETE after the restart = %d %s, want 404 that says no events are stored", status, body)
	}
}

// A deletion request whose parameters are ambiguous, such as a repeated
// project or a misspelled parameter, gets 400 and deletes nothing, so an
// operator never takes a partial deletion for the one requested.
func TestDeleteInstallRejectsAmbiguousParameters(t *testing.T) {
	srv := startServer(t, Config{KAnonymity: 1, WriteKey: testWriteKey, AdminToken: testAdminToken})
	send(t, http.MethodPost, srv.URL()+"/batch/", "", batch(testWriteKey,
		commandEvent("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c11", "install-a")))

	tests := []struct {
		query string
		want  string
	}{
		{"?project=mux&project=other", `invalid project [\"mux\" \"other\"]: given 2 times, but a request deletes in one project: pass it once`},
		{"?project=mux&dry_run=1", `unknown parameter \"dry_run\": remove it, because project is the only parameter`},
	}
	for _, tt := range tests {
		status, body := send(t, http.MethodDelete, srv.URL()+"/api/v1/installs/install-a"+tt.query, testAdminToken, "")
		if status != http.StatusBadRequest {
			t.Errorf("DELETE %s = %d %s, want 400", tt.query, status, body)
		}
		if !strings.Contains(body, tt.want) {
			t.Errorf("DELETE %s = %s, want %q in the error", tt.query, body, tt.want)
		}
	}
	if ov := getOverview(t, srv, ""); ov.TotalEvents != 1 {
		t.Errorf("after the rejected deletions: %d events, want 1", ov.TotalEvents)
	}
}
