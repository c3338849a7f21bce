package telemetry

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
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

// strayCommand is an event type that returns the name of a Mux event but
// is not the type registered under that name.
type strayCommand struct {
	Command string `json:"command" candor:"identifier"`
}

func (strayCommand) EventName() string { return "command_used" }

func TestLoggerNamesEventRejections(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	c := newClient(t, cfg)

	c.Capture(strayCommand{Command: "new"})
	c.Capture(catalog.PropertyMap{Name: "not_in_catalog"})
	st := closeClient(t, c)

	if st.DroppedByReason[string(catalog.ReasonWrongType)] != 1 {
		t.Errorf("dropped by wrong_type = %d, want 1: %v", st.DroppedByReason[string(catalog.ReasonWrongType)], st.DroppedByReason)
	}
	out := logs.String()
	if strings.Contains(out, "value rejected") {
		t.Errorf("logs call a rejected event a rejected value:\n%s", out)
	}
	if !strings.Contains(out, `msg="telemetry: event type is not the one registered under its name"`) {
		t.Errorf("logs do not say that strayCommand is not the registered type:\n%s", out)
	}
	if !strings.Contains(out, `msg="telemetry: event not in the catalog"`) {
		t.Errorf("logs do not say that not_in_catalog is not in the catalog:\n%s", out)
	}
}

// TestViolationLogsBoundedByCatalog records violations under thousands of
// event and property names that the catalog does not declare, as an app
// that builds names at run time causes. The sender logs one line for each
// key that the catalog bounds, and remembers no more.
func TestViolationLogsBoundedByCatalog(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1")
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	c, err := build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := newSender(c)
	logs.Reset() // build logs the state change

	for i := range 2000 {
		name := fmt.Sprintf("user-%d", i)
		s.recordViolations([]catalog.Violation{
			{Event: name, Reason: catalog.ReasonUnknownEvent},
			{Event: "command_used", Property: name, Reason: catalog.ReasonUnknownProperty},
		})
	}

	if n := len(s.loggedViolations); n != 2 {
		t.Errorf("sender remembers %d logged violations, want 2", n)
	}
	if n := strings.Count(logs.String(), "\n"); n != 2 {
		t.Errorf("logged %d lines, want 2:\n%.500s", n, logs.String())
	}
}
