package telemetry

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/candor-dev/candor/sdk/internal/safelogtest"
	"github.com/candor-dev/candor/sdk/mux"
)

// TestPanickingLoggerContained logs through a handler that panics, on the
// caller's goroutine (New's state change) and on the sender's (a failed
// upload and the recovery after it). Neither panic may leave the client,
// and Stats.LogFailures counts them.
func TestPanickingLoggerContained(t *testing.T) {
	col := newCollector(t)
	col.failFirst(http.StatusServiceUnavailable)
	cfg := testConfig(t, col.srv.URL)
	cfg.Logger = slog.New(safelogtest.PanickingHandler{InHandle: true})

	c := newClient(t, cfg)
	c.Capture(mux.CommandUsed{Command: "new"})
	waitFor(t, "the event after the failed upload", func() bool { return len(col.accepted()) == 1 })
	st := closeClient(t, c)

	// New logs the state change, and the sender logs the failed upload
	// and the collector being reachable again.
	if st.LogFailures < 3 {
		t.Errorf("LogFailures = %d, want at least 3", st.LogFailures)
	}
	if st.Sent != 1 {
		t.Errorf("Sent = %d, want 1", st.Sent)
	}
}
