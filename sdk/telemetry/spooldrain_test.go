package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/sdk/mux"
)

// newHangingCollector returns a collector that delays every request by
// a second and then responds 503, so that Close's context ends while the
// first upload waits.
func newHangingCollector(t *testing.T) *collector {
	t.Helper()
	col := newCollector(t)
	col.setRespond(func(_ int, _ *received, w http.ResponseWriter) bool {
		time.Sleep(time.Second)
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	return col
}

// closeWithin closes c with a context that ends after d.
func closeWithin(t *testing.T, c *Client, d time.Duration) (Stats, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.Close(ctx)
}

// TestCloseSpoolsBatchesInFewFiles closes a client with 500 queued
// one-event batches while the collector hangs. Close writes them into a
// few spool files instead of one file per batch, because each file costs
// a sync of the file and of its folder. It lists the spool folder a few
// times in all instead of once per batch, because a listing reads the
// size of every file, so listing per batch takes quadratic time. A large
// Spool.MaxBytes does not make the files smaller.
func TestCloseSpoolsBatchesInFewFiles(t *testing.T) {
	for _, maxBytes := range []int64{0, 1 << 30} {
		t.Run(fmt.Sprintf("MaxBytes %d", maxBytes), func(t *testing.T) {
			testCloseSpoolsBatchesInFewFiles(t, maxBytes)
		})
	}
}

func testCloseSpoolsBatchesInFewFiles(t *testing.T, maxBytes int64) {
	col := newHangingCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.BatchSize = 1
	cfg.Spool.MaxBytes = maxBytes
	c := newClient(t, cfg)
	const events = 500
	for range events {
		c.Capture(mux.CommandUsed{Command: "new"})
	}
	waitFor(t, "the first upload", col.inFlight)

	st, err := closeWithin(t, c, 100*time.Millisecond)
	if err != nil {
		t.Fatalf("Close: %v", err)
	}

	if st.Spooled != events {
		t.Errorf("Spooled = %d, want %d: %v", st.Spooled, events, st.DroppedByReason)
	}
	if n := spoolFiles(t, cfg.Home); n > 3 {
		t.Errorf("Close wrote %d spool files for %d one-event batches of about 0.5 KiB, want at most 3", n, events)
	}
	if n := c.spool.listings.Load(); n > 20 {
		t.Errorf("the spool folder was listed %d times for %d batches, want a few", n, events)
	}
}

// TestCloseSpoolsBoundedPastDeadline closes a client whose context ends
// while the collector hangs, with every batch in a file of its own. Past
// the deadline Close writes only as many files as it takes to fill an
// empty spool, Spool.MaxBytes over the largest file (5 MiB over 512 KiB),
// and drops the other events as shutdown drops.
func TestCloseSpoolsBoundedPastDeadline(t *testing.T) {
	col := newHangingCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.BatchSize = 1
	c := newClient(t, cfg)
	c.spool.maxFileBytes = 1 // one batch per file
	const events = 100
	for range events {
		c.Capture(mux.CommandUsed{Command: "new"})
	}
	waitFor(t, "the first upload", col.inFlight)

	st, err := closeWithin(t, c, 100*time.Millisecond)

	late := int(DefaultSpoolMaxBytes / maxBatchBytes)
	if err == nil {
		t.Errorf("Close returned nil, want an error for the events dropped at shutdown")
	}
	if n := spoolFiles(t, cfg.Home); n != late {
		t.Errorf("Close wrote %d spool files past its deadline, want %d", n, late)
	}
	if st.Spooled != int64(late) {
		t.Errorf("Spooled = %d, want %d", st.Spooled, late)
	}
	if got, want := st.DroppedByReason[DropShutdown], int64(events-late); got != want {
		t.Errorf("shutdown drops = %d, want %d: %v", got, want, st.DroppedByReason)
	}
}

// spoolTestLine is a spooled command_used event whose UUID starts with
// the eight hex digits of i.
func spoolTestLine(i int) string {
	return fmt.Sprintf(`{"uuid":"%08x-9a4d-4c1e-8b2a-5d6e7f809a1b","event":"command_used","distinct_id":"x","timestamp":"2026-01-01T00:00:00Z","properties":{"command":"new"}}`, i)
}

// plantSpoolFile writes a spool file, stamped stamp, with the events
// numbered from first to first+events-1.
func plantSpoolFile(t *testing.T, home string, stamp, first, events int) {
	t.Helper()
	var lines []string
	for i := first; i < first+events; i++ {
		lines = append(lines, spoolTestLine(i))
	}
	name := fmt.Sprintf("%020d-%d-%08x%s", stamp, events, stamp, spoolExt)
	writeFile(t, filepath.Join(home, SpoolDir, name), strings.Join(lines, "\n")+"\n")
}

// assertSpoolOrder checks that the collector accepted the planted events
// 0 to want-1 once each, in their order.
func assertSpoolOrder(t *testing.T, col *collector, want int) {
	t.Helper()
	events := assertExactlyOnce(t, col, want)
	for i, ev := range events {
		if prefix := fmt.Sprintf("%08x", i); !strings.HasPrefix(ev.UUID, prefix) {
			t.Errorf("event %d has UUID %s, want the planted event %s…", i, ev.UUID, prefix)
			return
		}
	}
}

// requestSizes returns the number of events of each request, accepted or
// not.
func (c *collector) requestSizes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var sizes []int
	for _, r := range c.requests {
		sizes = append(sizes, len(r.Batch))
	}
	return sizes
}

// TestSpoolDrainMergesSmallFiles starts a client on a spool of 300
// one-event files, as an app that runs often while offline leaves. It
// sends them in requests of BatchSize events and lists the spool folder a
// few times in all, instead of once per file claimed and removed.
func TestSpoolDrainMergesSmallFiles(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	const files = 300
	for i := range files {
		plantSpoolFile(t, cfg.Home, i+1, i, 1)
	}

	c := newClient(t, cfg)
	waitFor(t, "the spooled events", func() bool { return len(col.accepted()) == files })
	st := closeClient(t, c)

	assertSpoolOrder(t, col, files)
	if sizes := col.requestSizes(); len(sizes) != files/DefaultBatchSize {
		t.Errorf("sent %d requests, want %d of %d events each, and the first carried %v events",
			len(sizes), files/DefaultBatchSize, DefaultBatchSize, sizes[:min(len(sizes), 5)])
	}
	if n := c.spool.listings.Load(); n > 10 {
		t.Errorf("the spool folder was listed %d times to send %d files, want a few", n, files)
	}
	if n := spoolFiles(t, cfg.Home); n != 0 {
		t.Errorf("%d spool files left after their events were sent", n)
	}
	if st.Spooled != 0 || st.Sent != files {
		t.Errorf("Spooled = %d, Sent = %d, want 0 and %d", st.Spooled, st.Sent, files)
	}
}

// TestSpoolLargeFileSentInParts starts a client on a spool file of 250
// events, more than BatchSize, as Close writes them. Each request carries
// at most BatchSize events.
func TestSpoolLargeFileSentInParts(t *testing.T) {
	drainLargeSpoolFile(t, newCollector(t), "[100 100 50]", "")
}

// TestSpoolLargeFileRetryKeepsRest fails the second request for a spool
// file of 250 events. The file then contains only the 150 events not yet
// acknowledged, which are sent once the collector takes them again.
func TestSpoolLargeFileRetryKeepsRest(t *testing.T) {
	col := newCollector(t)
	col.setRespond(func(n int, _ *received, w http.ResponseWriter) bool {
		if n != 1 {
			return false
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	drainLargeSpoolFile(t, col, "[100 100 100 50]", ": the first part, the failed one, and the rest")
}

// drainLargeSpoolFile starts a client that sends to col on a spool file of
// 250 events and closes it once col has accepted them all. It checks that
// col accepted each event once and in order, in requests of wantSizes
// events (explained by sizesNote in the failure message), and that no
// spool file or spooled event is left.
func drainLargeSpoolFile(t *testing.T, col *collector, wantSizes, sizesNote string) {
	t.Helper()
	cfg := testConfig(t, col.srv.URL)
	plantSpoolFile(t, cfg.Home, 1, 0, 250)

	c := newClient(t, cfg)
	waitFor(t, "the spooled events", func() bool { return len(col.accepted()) == 250 })
	st := closeClient(t, c)

	assertSpoolOrder(t, col, 250)
	if sizes := col.requestSizes(); fmt.Sprint(sizes) != wantSizes {
		t.Errorf("requests carried %v events, want %s%s", sizes, wantSizes, sizesNote)
	}
	if n := spoolFiles(t, cfg.Home); n != 0 {
		t.Errorf("%d spool files left after their events were sent", n)
	}
	if st.Spooled != 0 || st.Sent != 250 {
		t.Errorf("Spooled = %d, Sent = %d, want 0 and 250", st.Spooled, st.Sent)
	}
}

// TestSpoolMerged413Halves responds 413 to every request of more than two
// events. The client sends the eight one-event spool files it merged in
// ever fewer files per request, each event once and in order.
func TestSpoolMerged413Halves(t *testing.T) {
	col := newCollector(t)
	col.setRespond(func(_ int, r *received, w http.ResponseWriter) bool {
		if len(r.Batch) <= 2 {
			return false
		}
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return true
	})
	cfg := testConfig(t, col.srv.URL)
	for i := range 8 {
		plantSpoolFile(t, cfg.Home, i+1, i, 1)
	}

	c := newClient(t, cfg)
	waitFor(t, "the spooled events", func() bool { return len(col.accepted()) == 8 })
	st := closeClient(t, c)

	assertSpoolOrder(t, col, 8)
	if n := st.DroppedByReason[DropTooLarge]; n != 0 {
		t.Errorf("%d events dropped as too large, want none: each fits a request alone", n)
	}
	if n := spoolFiles(t, cfg.Home); n != 0 {
		t.Errorf("%d spool files left after their events were sent", n)
	}
}

// TestOptOutDropsRestOfSpoolFile turns telemetry off in config.json, as
// another process's opt-out does, while the first 100 events of a spool
// file of 250 are being uploaded. The other 150 events, whose file the
// client still has claimed, are dropped with the file instead of going
// back to the spool.
func TestOptOutDropsRestOfSpoolFile(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	col.setRespond(func(n int, _ *received, _ http.ResponseWriter) bool {
		if n == 0 {
			writeFile(t, filepath.Join(cfg.Home, ConfigFile), `{"telemetryEnabled": false}`)
		}
		return false
	})
	plantSpoolFile(t, cfg.Home, 1, 0, 250)

	c := newClient(t, cfg)
	waitFor(t, "the rest of the file to be dropped", func() bool {
		return c.Stats().DroppedByReason[DropDisabled] == 150
	})
	st := closeClient(t, c)

	if n := len(col.accepted()); n != 100 {
		t.Errorf("collector accepted %d events, want the 100 of the request before the opt-out", n)
	}
	checkPurged(t, st, cfg.Home, 150)
}

// TestForgetDuringSpoolDrain calls Forget while the sender uploads a
// spooled file in parts. Forget runs between two requests, so it returns
// without waiting for the whole spool to drain, and deletes the events
// not yet acknowledged instead of letting them go out.
func TestForgetDuringSpoolDrain(t *testing.T) {
	const events = slowDrainEvents
	col, cfg, c := startSlowSpoolDrain(t)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	res, err := c.Forget(ctx, ForgetOptions{LocalOnly: true})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Forget: %v", err)
	}
	if _, err := c.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}

	if took > 500*time.Millisecond {
		t.Errorf("Forget took %v, want it to wait for one request of 100 ms, not the whole drain", took)
	}
	if res.DroppedSpooled == 0 {
		t.Errorf("Forget dropped no spooled event, want those not yet acknowledged")
	}
	if got := int64(len(col.accepted())) + res.DroppedSpooled; got != events {
		t.Errorf("accepted %d + dropped %d = %d, want %d", len(col.accepted()), res.DroppedSpooled, got, events)
	}
	if n := spoolFiles(t, cfg.Home); n != 0 {
		t.Errorf("%d spool files left after Forget, want 0", n)
	}
}

// slowDrainEvents is the size of the spool file that startSlowSpoolDrain
// plants: ten requests of five events, about a second in all.
const slowDrainEvents = 50

// startSlowSpoolDrain starts a client on a spool file of slowDrainEvents
// events, with BatchSize 5 and a collector that takes 100 ms per request,
// and returns once the first request is in flight.
func startSlowSpoolDrain(t *testing.T) (*collector, Config, *Client) {
	t.Helper()
	col := newSlowCollector(t, 100*time.Millisecond)
	cfg := testConfig(t, col.srv.URL)
	cfg.BatchSize = 5
	plantSpoolFile(t, cfg.Home, 1, 0, slowDrainEvents)
	c := newClient(t, cfg)
	waitFor(t, "the first upload", col.inFlight)
	return col, cfg, c
}

// TestCloseSpoolsWithinMaxEvents closes a client while the collector
// hangs, with Spool.MaxEvents far below the events that
// one spool file of Spool.MaxBytes could hold. The spool keeps the newest
// MaxEvents events instead of dropping every file for containing more.
func TestCloseSpoolsWithinMaxEvents(t *testing.T) {
	for _, tc := range []struct {
		name      string
		maxEvents int
	}{
		{"several batches", 500},
		{"part of one batch", 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := newHangingCollector(t)
			cfg := testConfig(t, col.srv.URL)
			cfg.BatchSize = 100
			cfg.MaxRetryDelay = time.Hour
			cfg.Spool.MaxEvents = tc.maxEvents
			c := newClient(t, cfg)
			const events = 3000
			for range events {
				c.Capture(mux.CommandUsed{Command: "new"})
			}
			waitFor(t, "the first upload", col.inFlight)

			st, err := closeWithin(t, c, 5*time.Second)
			if err != nil {
				t.Fatalf("Close: %v", err)
			}

			if st.Spooled != int64(tc.maxEvents) {
				t.Errorf("Spooled = %d, want Spool.MaxEvents %d: %v", st.Spooled, tc.maxEvents, st.DroppedByReason)
			}
			if got, want := st.DroppedByReason[DropSpoolFull], int64(events-tc.maxEvents); got != want {
				t.Errorf("spool_full drops = %d, want %d: %v", got, want, st.DroppedByReason)
			}
		})
	}
}

// TestCloseDuringSpoolDrain closes a client while it uploads a spooled
// file in parts. Close stops the drain after the request in flight and
// leaves the rest in the spool for the next start, instead of draining the
// whole spool while its context allows.
func TestCloseDuringSpoolDrain(t *testing.T) {
	const events = slowDrainEvents
	col, _, c := startSlowSpoolDrain(t)

	start := time.Now()
	st, err := closeWithin(t, c, 3*time.Second)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Close: %v", err)
	}

	if took > 500*time.Millisecond {
		t.Errorf("Close took %v, want it to wait for one request of 100 ms, not the whole drain", took)
	}
	if st.Spooled == 0 {
		t.Errorf("Spooled = 0 after Close, want the events not yet acknowledged")
	}
	if got := int64(len(col.accepted())) + st.Spooled; got != events {
		t.Errorf("accepted %d + spooled %d = %d, want %d", len(col.accepted()), st.Spooled, got, events)
	}
}

// TestSpoolRemovesAbandonedTempFiles plants the temporary file that a
// process killed while writing a spool file leaves, with events in it. A
// new client deletes it once it is older than any write takes, and
// Forget deletes it too, because it contains events of the install.
func TestSpoolRemovesAbandonedTempFiles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		forget bool
	}{
		{"at start", false},
		{"by Forget", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := newCollector(t)
			cfg := testConfig(t, col.srv.URL)
			temp := filepath.Join(cfg.Home, SpoolDir, spoolTempPrefix+"123456")
			writeFile(t, temp, spoolTestLine(0)+"\n")
			old := time.Now().Add(-2 * spoolStaleClaim)
			if err := os.Chtimes(temp, old, old); err != nil {
				t.Fatal(err)
			}
			if tc.forget {
				cfg.Getenv = env{DoNotTrackVar: "1"}.get // no start-up recovery
			}
			c := newClient(t, cfg)
			if tc.forget {
				if _, err := c.Forget(context.Background(), ForgetOptions{LocalOnly: true}); err != nil {
					t.Fatalf("Forget: %v", err)
				}
			}
			c.Close(context.Background())

			if _, err := os.Stat(temp); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("abandoned temporary file %s still exists (Stat: %v)", temp, err)
			}
		})
	}
}
