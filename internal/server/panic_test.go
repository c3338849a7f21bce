package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDashboardPanicAnswers500 checks that a panic outside the capture
// paths, in the dashboard or the API, gets a 500 and one log line, as the
// collector's own panics do, instead of a dropped connection.
func TestDashboardPanicAnswers500(t *testing.T) {
	logs := &syncBuffer{}
	srv := startServer(t, Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	routes := http.NewServeMux()
	routes.HandleFunc("/api/v1/overview", func(http.ResponseWriter, *http.Request) { panic("broken query") })
	ts := httptest.NewServer(srv.route(routes))
	defer ts.Close()

	for range 3 {
		resp, err := http.Get(ts.URL + "/api/v1/overview")
		if err != nil {
			t.Fatalf("GET after a panic: %v, want a 500 response", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusInternalServerError {
			t.Errorf("status = %d, want 500", resp.StatusCode)
		}
		if !strings.Contains(string(body), "internal error") {
			t.Errorf("body = %q, want it to say internal error", body)
		}
	}
	if n := strings.Count(logs.String(), "handler panicked"); n != 1 {
		t.Errorf("%d log lines about the panic, want 1 (rate-limited):\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "broken query") || !strings.Contains(logs.String(), "/api/v1/overview") {
		t.Errorf("log does not name the panic and the path:\n%s", logs.String())
	}
}

// TestPanicLogOmitsInstallID checks that the panic log line of a route with
// a wildcard names the route pattern, not the path, because the path of
// DELETE /api/v1/installs/{distinct_id} contains an install ID and the log
// outlives the deletion.
func TestPanicLogOmitsInstallID(t *testing.T) {
	logs := &syncBuffer{}
	srv := startServer(t, Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	routes := http.NewServeMux()
	routes.HandleFunc("DELETE /api/v1/installs/{distinct_id}", func(http.ResponseWriter, *http.Request) { panic("broken delete") })
	ts := httptest.NewServer(srv.route(routes))
	defer ts.Close()

	req, err := http.NewRequest(http.MethodDelete, ts.URL+"/api/v1/installs/install-4f7a9c", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("DELETE after a panic: %v, want a 500 response", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", resp.StatusCode)
	}
	if strings.Contains(logs.String(), "install-4f7a9c") {
		t.Errorf("panic log contains the install ID:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "/api/v1/installs/{distinct_id}") {
		t.Errorf("panic log does not name the route pattern:\n%s", logs.String())
	}
}

// TestRejectedAdminLogOmitsInstallID checks that the log line of a
// DELETE /api/v1/installs/{distinct_id} with a wrong admin token names the
// route pattern, not the install ID in the path.
func TestRejectedAdminLogOmitsInstallID(t *testing.T) {
	logs := &syncBuffer{}
	srv := startServer(t, Config{WriteKey: testWriteKey, AdminToken: testAdminToken,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})

	status, _ := send(t, http.MethodDelete, srv.URL()+"/api/v1/installs/install-4f7a9c?project=mux", "wrong-token", "")
	if status != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", status)
	}
	if strings.Contains(logs.String(), "install-4f7a9c") {
		t.Errorf("log contains the install ID:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "/api/v1/installs/{distinct_id}") {
		t.Errorf("log does not name the route pattern:\n%s", logs.String())
	}
}

// TestPanicAfterBodyAbortsResponse checks that a panic after a handler has
// started its body, such as in the middle of an event export, ends the
// connection, so the client sees a failed read instead of a complete but
// cut response.
func TestPanicAfterBodyAbortsResponse(t *testing.T) {
	logs := &syncBuffer{}
	srv := startServer(t, Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	routes := http.NewServeMux()
	routes.HandleFunc("/api/v1/export/events", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"event":"first"}`+"\n")
		_ = http.NewResponseController(w).Flush()
		panic("broken export")
	})
	ts := httptest.NewServer(srv.route(routes))
	defer ts.Close()

	resp, err := http.Get(ts.URL + "/api/v1/export/events")
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Errorf("reading the body of a response cut by a panic succeeded with %q, want an error", body)
	}
	if !strings.Contains(logs.String(), "broken export") {
		t.Errorf("log does not name the panic:\n%s", logs.String())
	}
}
