package telemetry

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/candor-dev/candor/sdk/mux"
)

// The tests in this file give the client hooks that panic where the
// sender goroutine calls them. A panic there would end the app, which has
// no way to recover it, so each test passes only when the client contains
// the panic.

// panickingWriter is a DebugOutput whose Write panics.
type panickingWriter struct{}

func (panickingWriter) Write([]byte) (int, error) { panic("debug output failed") }

func TestPanickingDebugOutputContained(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.Getenv = env{"MUX_TELEMETRY_DEBUG": DebugTee}.get
	cfg.DebugOutput = panickingWriter{}
	c := newClient(t, cfg)

	c.Capture(mux.CommandUsed{Command: "new"})
	st := closeClient(t, c)

	if st.Printed != 1 {
		t.Errorf("Printed = %d, want 1", st.Printed)
	}
	if st.Sent != 1 {
		t.Errorf("Sent = %d, want 1: tee mode sends the event after printing it", st.Sent)
	}
}

// panickingTransport panics in its first calls of RoundTrip, then
// forwards the requests to http.DefaultTransport.
type panickingTransport struct {
	panics atomic.Int64 // panics left
}

func (p *panickingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if p.panics.Add(-1) >= 0 {
		panic("transport failed")
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestPanickingTransportRetried(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	transport := &panickingTransport{}
	transport.panics.Store(1)
	cfg.HTTPClient = &http.Client{Transport: transport}
	c := newClient(t, cfg)

	c.Capture(mux.CommandUsed{Command: "new"})
	waitFor(t, "the event after the panicking upload", func() bool { return len(col.accepted()) == 1 })
	st := closeClient(t, c)

	if st.Retries < 1 {
		t.Errorf("Retries = %d, want at least 1 after the upload whose transport panicked", st.Retries)
	}
	if st.Sent != 1 {
		t.Errorf("Sent = %d, want 1", st.Sent)
	}
}

func TestPanickingCheckRedirectRetried(t *testing.T) {
	col := newCollector(t)
	var redirects atomic.Int64
	redirects.Store(1)
	col.setRespond(func(_ int, _ *received, w http.ResponseWriter) bool {
		if redirects.Add(-1) >= 0 {
			w.Header().Set("Location", "/batch/")
			w.WriteHeader(http.StatusTemporaryRedirect)
			return true
		}
		return false
	})
	cfg := testConfig(t, col.srv.URL)
	var panics atomic.Int64
	panics.Store(1)
	cfg.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		if panics.Add(-1) >= 0 {
			panic("redirect check failed")
		}
		return nil
	}}
	c := newClient(t, cfg)

	c.Capture(mux.CommandUsed{Command: "new"})
	waitFor(t, "the event after the panicking redirect check", func() bool { return len(col.accepted()) == 1 })
	st := closeClient(t, c)

	if st.Sent != 1 {
		t.Errorf("Sent = %d, want 1", st.Sent)
	}
}

func TestForgetPanickingTransportFails(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	transport := &panickingTransport{}
	cfg.HTTPClient = &http.Client{Transport: transport}
	c := newClient(t, cfg)
	c.Capture(mux.CommandUsed{Command: "new"})
	flush(t, c) // creates the deletion secret, so Forget posts a deletion request

	transport.panics.Store(1)
	_, err := c.Forget(context.Background(), ForgetOptions{})
	if err == nil || !strings.Contains(err.Error(), "HTTPClient panicked") {
		t.Errorf("Forget error = %v, want one that names the panicking HTTPClient", err)
	}
}

func TestPanickingGetenvTurnsTelemetryOff(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	var broken atomic.Bool
	cfg.Getenv = func(string) string {
		if broken.Load() {
			panic("getenv failed")
		}
		return ""
	}
	c := newClient(t, cfg)

	broken.Store(true)
	c.Capture(mux.CommandUsed{Command: "new"})
	st := c.Status()
	if st.Enabled {
		t.Errorf("Status.Enabled = true while Config.Getenv panics, so no opt-out can be read")
	}
	if st.Switch != SwitchGetenv {
		t.Errorf("Status.Switch = %q, want %q", st.Switch, SwitchGetenv)
	}
	if len(st.Reasons) == 0 || !strings.Contains(st.Reasons[len(st.Reasons)-1], "Config.Getenv panicked") {
		t.Errorf("Status.Reasons = %q, want a last reason that names the panicking Config.Getenv", st.Reasons)
	}
	var decided []string
	for _, sw := range c.Switches() {
		if sw.Decides {
			decided = append(decided, sw.Name)
		}
	}
	if len(decided) != 1 || decided[0] != SwitchGetenv {
		t.Errorf("Switches decided by %q, want only %q", decided, SwitchGetenv)
	}
	closeClient(t, c)
	if n := col.requestCount(); n != 0 {
		t.Errorf("collector got %d requests, want none", n)
	}
}
