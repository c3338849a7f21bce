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
