package telemetry

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/candor-dev/candor/sdk/mux"
)

// captureCommands captures one command_used event per command, so a test
// can tell which of them reached the collector.
func captureCommands(c *Client, commands ...string) {
	for _, command := range commands {
		c.Capture(mux.CommandUsed{Command: command})
	}
}

// sentCommands returns the command property of every accepted event.
func sentCommands(col *collector) map[string]int {
	seen := map[string]int{}
	for _, ev := range col.accepted() {
		command, _ := ev.Properties["command"].(string)
		seen[command]++
	}
	return seen
}

// TestOptOutAndInBeforePoll opts out and in again while the sender is busy
// uploading, so it never reads config.json while telemetry is off there.
// The events captured before the opt-out must still never be sent.
func TestOptOutAndInBeforePoll(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sameHome bool // the toggle comes from a second client on the same Home
	}{
		{"same client", false},
		{"another process", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := newCollector(t)
			uploading, release := make(chan struct{}), make(chan struct{})
			col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
				if n == 0 {
					close(uploading)
					<-release
					w.WriteHeader(http.StatusServiceUnavailable)
					return true
				}
				return false
			})
			cfg := testConfig(t, col.srv.URL)
			cfg.BatchSize = 2
			c := newClient(t, cfg)
			captureCommands(c, "new", "new")
			<-uploading
			captureCommands(c, "new")

			toggler := c
			if tc.sameHome {
				toggler = newClient(t, cfg)
			}
			if err := toggler.SetEnabled(false); err != nil {
				t.Fatal(err)
			}
			if err := toggler.SetEnabled(true); err != nil {
				t.Fatal(err)
			}
			close(release)
			waitFor(t, "the events captured before the opt-out to be dropped", func() bool {
				return c.Stats().DroppedByReason[DropDisabled] == 3
			})

			captureCommands(c, "compact")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := c.Flush(ctx); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			closeClient(t, c)
			got := sentCommands(col)
			if got["new"] != 0 {
				t.Errorf("collector accepted %d events captured before the opt-out, want 0", got["new"])
			}
			if got["compact"] != 1 {
				t.Errorf("collector accepted %d events captured after opting in again, want 1", got["compact"])
			}
		})
	}
}

// TestPendingAfterOtherProcessOptOut lists the pending events right after
// another process opted out, before this client's next poll.
func TestPendingAfterOtherProcessOptOut(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.FlushInterval = time.Hour
	c := newClient(t, cfg)
	other := newClient(t, cfg)
	captureCommands(c, "new", "new")
	waitFor(t, "the events to be encoded", func() bool { return len(c.queue) == 0 })
	if err := other.SetEnabled(false); err != nil {
		t.Fatal(err)
	}

	pending, err := c.Pending(context.Background())
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	if len(pending) != 0 {
		t.Errorf("Pending lists %d events after the opt-out, want 0", len(pending))
	}
	st := closeClient(t, c)
	if st.DroppedByReason[DropDisabled] != 2 {
		t.Errorf("disabled drops = %d, want 2", st.DroppedByReason[DropDisabled])
	}
	if col.requestCount() != 0 {
		t.Errorf("collector got %d requests, want 0", col.requestCount())
	}
}

// TestOptOutStopsSteadyUploads opts out in a second client while the
// first uploads one event after another. The first must stop at its next
// upload, well before its next poll.
func TestOptOutStopsSteadyUploads(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.BatchSize = 1
	c := newClient(t, cfg)
	other := newClient(t, cfg)

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
				captureCommands(c, "new")
			}
		}
	}()
	defer func() {
		close(stop)
		<-done
	}()
	waitFor(t, "uploads to start", func() bool { return col.requestCount() >= 20 })

	if err := other.SetEnabled(false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	before := col.requestCount()
	time.Sleep(300 * time.Millisecond)
	if after := col.requestCount(); after != before {
		t.Errorf("collector got %d requests from 100 to 400 ms after the opt-out, want none before the poll at %v", after-before, configPollInterval)
	}
}

// TestOptOutAndInBetweenUploads opts out and in again in this process
// while the sender uploads batches that wait in memory one after another.
// Telemetry is on again when the sender next checks, yet the batches
// captured before the opt-out must be dropped, the one whose upload the
// opt-out cancelled included.
func TestOptOutAndInBetweenUploads(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.BatchSize = 1
	cfg.Spool.Disabled = true // the batches wait in memory, not in the spool SetEnabled purges
	c := newClient(t, cfg)
	col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
		switch n {
		case 0:
			// The other batches queue up in memory during the wait.
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		case 1:
			if err := c.SetEnabled(false); err != nil {
				t.Error(err)
			}
			if err := c.SetEnabled(true); err != nil {
				t.Error(err)
			}
		}
		return false
	})
	captureCommands(c, "new", "new", "new", "new")
	waitFor(t, "the retry after the opt-out and in", func() bool { return col.requestCount() >= 2 })

	st := closeClient(t, c)
	if n := col.requestCount(); n != 2 {
		t.Errorf("collector got %d requests, want 2: the failed one and the retry in flight during the opt-out", n)
	}
	if st.DroppedByReason[DropDisabled] != 4 {
		t.Errorf("disabled drops = %d, want 4 (%v)", st.DroppedByReason[DropDisabled], st.DroppedByReason)
	}
	if st.Sent != 0 {
		t.Errorf("Sent = %d, want 0: the opt-out cancelled the retry in flight", st.Sent)
	}
}
