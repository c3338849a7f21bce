package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/candor-dev/candor/internal/simulate"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/clickhouse"
	"github.com/candor-dev/candor/internal/store/duckdb/duckdbtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startServer runs a server on a free loopback port over a fresh data
// folder and shuts it down when the test ends.
func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	return startTunedServer(t, cfg, func(*Server) {})
}

// startTunedServer is startServer with tune applied before the server
// serves, so a test can shorten its timeouts without a data race.
func startTunedServer(t *testing.T, cfg Config, tune func(*Server)) *Server {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Listen = "127.0.0.1:0"
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tune(srv)
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return srv
}

func TestSimulateEndToEnd(t *testing.T) {
	srv := startServer(t, Config{})
	ctx := context.Background()
	summary, err := simulate.Run(ctx, simulate.Config{
		Endpoint: srv.URL(),
		WriteKey: srv.Keys().WriteKey,
		Installs: 25,
		Days:     14,
		Seed:     7,
		HomeDir:  t.TempDir(),
		Getenv:   func(string) string { return "" },
	})
	if err != nil {
		t.Fatalf("simulate: %v", err)
	}
	if summary.EventsDropped != 0 {
		t.Errorf("events_dropped = %d, want 0", summary.EventsDropped)
	}
	if summary.EventsSent == 0 {
		t.Fatal("events_sent = 0")
	}

	ov := getOverview(t, srv, "")
	if ov.TotalEvents != summary.EventsSent {
		t.Errorf("total_events = %d, events_sent = %d", ov.TotalEvents, summary.EventsSent)
	}
	if diff := cmp.Diff(summary.Captured, ov.Events); diff != "" {
		t.Errorf("stored counts per event differ from captured (-captured +stored):\n%s", diff)
	}
	if ov.Installs != int64(summary.Installs) {
		t.Errorf("installs = %d, want %d", ov.Installs, summary.Installs)
	}
}

func TestKeysGeneratedAndReused(t *testing.T) {
	dir := t.TempDir()
	first, created, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !created || first.WriteKey == "" || first.AdminToken == "" {
		t.Fatalf("first load: created=%v keys=%+v", created, first)
	}
	info, err := os.Stat(filepath.Join(dir, KeysFile))
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("keys file mode = %o, want 600", mode)
	}
	second, created, err := LoadOrCreateKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if created || second != first {
		t.Errorf("second load: created=%v keys=%+v, want the first keys", created, second)
	}
}

// TestBadListenLeavesNoDataFolder checks that New fails on an address it
// cannot listen on before it creates the data folder.
func TestBadListenLeavesNoDataFolder(t *testing.T) {
	occupied, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer occupied.Close()

	for _, listen := range []string{"nonsense", occupied.Addr().String()} {
		dir := filepath.Join(t.TempDir(), "data")
		_, err := New(Config{DataDir: dir, Listen: listen})
		if err == nil || !strings.Contains(err.Error(), "--listen") {
			t.Errorf("New with --listen %s: %v, want an error that names --listen", listen, err)
		}
		if _, statErr := os.Stat(dir); !errors.Is(statErr, os.ErrNotExist) {
			t.Errorf("New with --listen %s left the data folder %s: %v", listen, dir, statErr)
		}
	}
}

func TestHealthz(t *testing.T) {
	srv := startServer(t, Config{})
	resp, err := http.Get(srv.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200", resp.StatusCode)
	}
}

func TestOverviewNeedsToken(t *testing.T) {
	srv := startServer(t, Config{WriteKey: "phc_test", AdminToken: "admin-secret"})
	for _, auth := range []string{"", "Bearer wrong", "Bearer phc_test"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/api/v1/overview", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", auth, resp.StatusCode)
		}
	}
}

func getOverview(t *testing.T, srv *Server, query string) store.Overview {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/api/v1/overview"+query, nil)
	req.Header.Set("Authorization", "Bearer "+srv.Keys().AdminToken)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/overview%s = %d", query, resp.StatusCode)
	}
	var ov store.Overview
	if err := json.NewDecoder(resp.Body).Decode(&ov); err != nil {
		t.Fatal(err)
	}
	return ov
}

func TestTwoCollectorsShareClickHouse(t *testing.T) {
	chURL := os.Getenv("CANDOR_CLICKHOUSE_URL")
	if chURL == "" {
		t.Skip("CANDOR_CLICKHOUSE_URL is not set: start a server with scripts/clickhouse.sh start DIR 18123 and export CANDOR_CLICKHOUSE_URL=http://127.0.0.1:18123")
	}
	database := fmt.Sprintf("candor_test_%d", time.Now().UnixNano())
	t.Cleanup(func() { dropClickHouseDatabase(t, chURL, database) })
	cfg := Config{
		WriteKey:   "phc_shared",
		AdminToken: "admin-shared",
		Store:      StoreClickHouse,
		ClickHouse: clickhouse.Config{URL: chURL, Database: database, FlushInterval: 100 * time.Millisecond},
	}
	servers := []*Server{startServer(t, cfg), startServer(t, cfg)}

	// Each collector gets its own simulated installs, and one batch with
	// fixed event UUIDs goes to both, as a client retrying against another
	// instance behind a load balancer would send it.
	var wg sync.WaitGroup
	summaries := make([]simulate.Summary, len(servers))
	errs := make([]error, len(servers))
	for i, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			summaries[i], errs[i] = simulate.Run(context.Background(), simulate.Config{
				Endpoint: srv.URL(),
				WriteKey: cfg.WriteKey,
				Installs: 10,
				Days:     7,
				Seed:     uint64(100 + i),
				HomeDir:  t.TempDir(),
				Getenv:   func(string) string { return "" },
			})
		}()
	}
	wg.Wait()
	var want int64
	for i := range servers {
		if errs[i] != nil {
			t.Fatalf("simulate against collector %d: %v", i, errs[i])
		}
		want += summaries[i].EventsSent
	}
	batch := `{"api_key":"phc_shared","batch":[` +
		`{"event":"command_used","distinct_id":"5b0e1c7e-8a41-4f5e-9d0a-2f7f3c1d9e10","uuid":"0b7e7a38-6c1d-4f7e-9b1a-5d2c8e4f6a01","properties":{"command":"clear"}},` +
		`{"event":"command_used","distinct_id":"5b0e1c7e-8a41-4f5e-9d0a-2f7f3c1d9e10","uuid":"0b7e7a38-6c1d-4f7e-9b1a-5d2c8e4f6a02","properties":{"command":"model"}}]}`
	for _, srv := range servers {
		resp, err := http.Post(srv.URL()+"/batch/", "application/json", strings.NewReader(batch))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /batch/ to %s = %d", srv.URL(), resp.StatusCode)
		}
	}
	want += 2

	for i, srv := range servers {
		ov := getOverview(t, srv, "")
		if ov.TotalEvents != want {
			t.Errorf("collector %d: total_events = %d, want %d", i, ov.TotalEvents, want)
		}
	}
}

// dropClickHouseDatabase removes a test database through the HTTP interface.
func dropClickHouseDatabase(t *testing.T, chURL, database string) {
	resp, err := http.Post(chURL+"/", "text/plain", strings.NewReader("DROP DATABASE IF EXISTS "+database))
	if err != nil {
		t.Logf("drop database %s: %v", database, err)
		return
	}
	resp.Body.Close()
}

func TestDataFolderInUse(t *testing.T) {
	data := t.TempDir()
	first, err := New(Config{DataDir: data, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}

	_, err = New(Config{DataDir: data, Listen: "127.0.0.1:0"})
	want := fmt.Sprintf("data folder %s is in use by another candor process (pid %d): stop it, or pass another --data", data, os.Getpid())
	if err == nil || err.Error() != want {
		t.Errorf("second New on one data folder = %v, want %q", err, want)
	}
	// Stores that keep no events in the data folder do not lock it.
	other, err := New(Config{DataDir: data, Listen: "127.0.0.1:0", Store: StoreNull})
	if err != nil {
		t.Errorf("New with the null store on a data folder in use = %v, want nil", err)
	} else if err := other.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}

	if err := first.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	again, err := New(Config{DataDir: data, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("New after the first server stopped = %v, want nil", err)
	}
	if err := again.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestShutdownRightAfterServe(t *testing.T) {
	for range 20 {
		srv, err := New(Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Store: StoreNull})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- srv.Serve() }()
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
}

// A client that stalls in the middle of its body must not use up the
// whole shutdown time: Shutdown closes its connection halfway and still
// drains the collector.
func TestShutdownClosesStalledRequests(t *testing.T) {
	srv, err := New(Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", ShutdownTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()

	conn, err := net.Dial("tcp", srv.listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /batch/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	time.Sleep(200 * time.Millisecond)

	start := time.Now()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown with a stalled request = %v, want nil", err)
	}
	if took := time.Since(start); took > 1800*time.Millisecond {
		t.Errorf("Shutdown took %v, want about half of the 2s ShutdownTimeout", took)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestShortAdminTokenInKeysFile checks that New rejects an admin token
// from keys.json that is shorter than candor serve's --admin-token
// accepts, and that --admin-token still replaces it.
func TestShortAdminTokenInKeysFile(t *testing.T) {
	dir := t.TempDir()
	keys := `{"write_key": "phc_short_token_test", "admin_token": "short"}`
	if err := os.WriteFile(filepath.Join(dir, KeysFile), []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}

	srv, err := New(Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err == nil {
		srv.Shutdown(context.Background())
		t.Fatal("New with a 5-character admin_token in keys.json succeeded, want an error")
	}
	for _, want := range []string{KeysFile, "5 characters", "16"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	startServer(t, Config{DataDir: dir, AdminToken: "cadm_a_long_enough_token"})
}

// A data folder whose candor.duckdb is another program's DuckDB database
// is rejected and left as it was: no candor tables, no keys.json, no lock
// file and no journal.
func TestForeignDatabaseRejected(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, DatabaseFile)
	duckdbtest.CreateForeignDatabase(t, path)

	srv, err := New(Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err == nil {
		srv.Shutdown(context.Background())
		t.Fatal("New on a foreign database = nil, want an error")
	}
	for _, want := range []string{path, "not a candor database", "--data"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New on a foreign database = %q, want %q in it", err, want)
		}
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, entry := range entries {
		names = append(names, entry.Name())
	}
	if diff := cmp.Diff([]string{DatabaseFile}, names); diff != "" {
		t.Errorf("data folder after New on a foreign database (-want +got):\n%s", diff)
	}

	if diff := cmp.Diff([]string{"orders"}, duckdbtest.ListTables(t, path)); diff != "" {
		t.Errorf("tables of the foreign database after New (-want +got):\n%s", diff)
	}
}

// An empty or damaged candor.duckdb gets an error that names the file and
// the two ways out.
func TestInvalidDatabaseFileRejected(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, DatabaseFile)
	if err := os.WriteFile(path, []byte("not a database\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	srv, err := New(Config{DataDir: dir, Listen: "127.0.0.1:0"})
	if err == nil {
		srv.Shutdown(context.Background())
		t.Fatal("New on an invalid database file = nil, want an error")
	}
	for _, want := range []string{path, "not a DuckDB database file", "move", "--data"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New on an invalid database file = %q, want %q in it", err, want)
		}
	}
}

// Paths that PostHog clients call but candor does not serve get the
// collector's JSON 404, which lists the capture paths, in place of the
// plain-text 404 of net/http.
func TestPostHogLookingPathsGetJSONNotFound(t *testing.T) {
	srv := startServer(t, Config{WriteKey: testWriteKey, AdminToken: testAdminToken})
	for _, r := range []struct{ method, path string }{
		{http.MethodPost, "/decide/?v=3"},
		{http.MethodPost, "/flags/?v=2"},
		{http.MethodPost, "/batch/x"},
		{http.MethodGet, "/i/v0/x"},
	} {
		req, err := http.NewRequest(r.method, srv.URL()+r.path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Code  string `json:"code"`
			Error string `json:"error"`
		}
		decodeErr := json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s = %d, want 404", r.method, r.path, resp.StatusCode)
		}
		if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
			t.Errorf("%s %s Content-Type = %q, want JSON", r.method, r.path, got)
		}
		if decodeErr != nil {
			t.Errorf("%s %s body: %v", r.method, r.path, decodeErr)
			continue
		}
		if body.Code != "not_found" || !strings.Contains(body.Error, "/batch/") {
			t.Errorf("%s %s = code %q error %q, want not_found and the capture paths", r.method, r.path, body.Code, body.Error)
		}
	}
}
