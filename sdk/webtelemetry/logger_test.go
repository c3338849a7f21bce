package webtelemetry_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/candor-dev/candor/sdk/internal/safelogtest"
	"github.com/candor-dev/candor/sdk/webtelemetry"
)

// TestPanickingLoggerContained logs through a handler that panics, in New
// (an invalid AllowedOrigins entry) and in a request (a rejected origin).
// Neither panic may leave the handler, and LogFailures counts both.
func TestPanickingLoggerContained(t *testing.T) {
	f := newFixture(t, options{config: webtelemetry.Config{
		AllowedOrigins: []string{"not an origin"},
		Logger:         slog.New(safelogtest.PanickingHandler{InHandle: true}),
	}})

	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/api/telemetry/track",
		strings.NewReader(`{"event":"command_used","properties":{"command":"clear"}}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin track: status %d, want %d", resp.StatusCode, http.StatusForbidden)
	}
	if got := f.handler.LogFailures(); got < 2 {
		t.Errorf("LogFailures = %d, want at least 2", got)
	}
}
