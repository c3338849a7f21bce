package telemetry

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candor-dev/candor/sdk/internal/leakcheck"
	"github.com/candor-dev/candor/sdk/mux"
)

// captureN captures n command_used events.
func captureN(c *Client, n int) {
	for range n {
		c.Capture(mux.CommandUsed{Command: "compact"})
	}
}

// assertExactlyOnce checks that the collector accepted want events with
// distinct UUIDs.
func assertExactlyOnce(t *testing.T, col *collector, want int) []decoded {
	t.Helper()
	events := col.accepted()
	seen := map[string]int{}
	for _, ev := range events {
		seen[ev.UUID]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("event %s arrived %d times", id, n)
		}
	}
	if len(seen) != want {
		t.Errorf("collector accepted %d distinct events, want %d", len(seen), want)
	}
	return events
}

// listenOn listens on addr again after a server there was closed.
func listenOn(t *testing.T, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	var err error
	for range 50 {
		if l, err = net.Listen("tcp", addr); err == nil {
			return l
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("listen on %s again: %v", addr, err)
	return nil
}

func TestCollectorDownThenBack(t *testing.T) {
	leakcheck.Check(t)
	col := newCollector(t)
	addr := col.srv.Listener.Addr().String()
	url := col.srv.URL
	col.srv.Close() // down: connections are refused

	cfg := testConfig(t, url)
	cfg.BatchSize = 10
	c := newClient(t, cfg)
	captureN(c, 35)
	waitFor(t, "batches to reach the spool", func() bool {
		st := c.Stats()
		return st.Spooled == 35 && st.Queued == 0
	})
	if n := spoolFiles(t, cfg.Home); n == 0 {
		t.Fatalf("no spool files while the collector is down")
	}

	// Back: a new server on the same address.
	back := newCollector(t)
	back.srv.Close()
	back.srv = httptest.NewUnstartedServer(http.HandlerFunc(back.serve))
	back.srv.Listener = listenOn(t, addr)
	back.srv.Start()
	t.Cleanup(back.srv.Close)

	captureN(c, 5)
	flushUntilDone(t, c)
	st := closeClient(t, c)
	assertExactlyOnce(t, back, 40)
	if st.Sent != 40 || st.Dropped != 0 || st.Spooled != 0 {
		t.Errorf("stats: sent %d dropped %d spooled %d, want 40, 0, 0", st.Sent, st.Dropped, st.Spooled)
	}
	if st.Retries == 0 {
		t.Errorf("no retries counted during the outage")
	}
	if n := spoolFiles(t, cfg.Home); n != 0 {
		t.Errorf("%d spool files left after delivery", n)
	}
}

// flushUntilDone calls Flush until it succeeds, since a Flush during a
// retry delay reports the last failure.
func flushUntilDone(t *testing.T, c *Client) {
	t.Helper()
	deadline := time.Now().Add(testDeadline)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Flush(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Flush kept failing: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func spoolFiles(t *testing.T, home string) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(home, SpoolDir))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), spoolExt) {
			n++
		}
	}
	return n
}

func TestSpoolAtCloseSentOnNextStart(t *testing.T) {
	leakcheck.Check(t)
	col := newCollector(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()

	cfg := testConfig(t, down.URL)
	cfg.FlushInterval = time.Hour
	c := newClient(t, cfg)
	captureN(c, 7)
	st := closeClient(t, c)
	if st.Spooled != 7 || st.Dropped != 0 {
		t.Fatalf("Close: spooled %d dropped %d, want 7 and 0", st.Spooled, st.Dropped)
	}
	spooled := spooledUUIDs(t, cfg.Home)

	cfg.Endpoint = col.srv.URL
	cfg.FlushInterval = 20 * time.Millisecond
	again := newClient(t, cfg)
	again.Capture(mux.CommandUsed{Command: "fork"}) // a new event, sent after the spool
	flush(t, again)
	st = closeClient(t, again)
	events := assertExactlyOnce(t, col, 8)
	for i, ev := range events[:7] {
		if !spooled[ev.UUID] {
			t.Errorf("event %d (%s) arrived before the spooled events or with a new UUID", i, ev.UUID)
		}
	}
	if events[7].Properties["command"] != "fork" {
		t.Errorf("last event is %v, want the new one after the spool", events[7].Properties["command"])
	}
	if st.Spooled != 0 || st.Sent != 8 {
		t.Errorf("second run: spooled %d sent %d, want 0 and 8", st.Spooled, st.Sent)
	}
}

func spooledUUIDs(t *testing.T, home string) map[string]bool {
	t.Helper()
	dir := filepath.Join(home, SpoolDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, e := range entries {
		b, err := readSpoolFile(filepath.Join(dir, e.Name()), 1<<20, DefaultSpoolMaxBytes)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range b.events {
			ids[string(ev[len(`{"uuid":"`):][:36])] = true
		}
	}
	return ids
}

func TestSpoolDisabledDropsAtClose(t *testing.T) {
	leakcheck.Check(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	cfg := testConfig(t, down.URL)
	cfg.Spool.Disabled = true
	c := newClient(t, cfg)
	captureN(c, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	st, err := c.Close(ctx)
	if err == nil {
		t.Errorf("Close returned nil, want an error for the dropped events")
	}
	if st.DroppedByReason[DropShutdown] != 3 {
		t.Errorf("shutdown drops = %d, want 3 (%v)", st.DroppedByReason[DropShutdown], st.DroppedByReason)
	}
	if _, err := os.Stat(filepath.Join(cfg.Home, SpoolDir)); !os.IsNotExist(err) {
		t.Errorf("spool folder exists with the spool off (stat error %v)", err)
	}
}

func TestCloseRetriesWhenSpoolUnwritable(t *testing.T) {
	leakcheck.Check(t)
	col := newCollector(t)
	col.failFirst(http.StatusServiceUnavailable)
	cfg := testConfig(t, col.srv.URL)
	cfg.FlushInterval = time.Hour // the first upload happens in Close
	// A file where the spool folder belongs makes every spool write fail.
	if err := os.WriteFile(filepath.Join(cfg.Home, SpoolDir), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, cfg)
	captureN(c, 3)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.Close(ctx)
	if err != nil {
		t.Errorf("Close: %v, want nil because the retry fits in its context", err)
	}
	if st.Sent != 3 {
		t.Errorf("sent %d, want 3 (dropped %v)", st.Sent, st.DroppedByReason)
	}
	assertExactlyOnce(t, col, 3)
}

func TestSpoolBoundDropsOldest(t *testing.T) {
	col := newCollector(t)
	url := col.srv.URL
	col.srv.Close()
	cfg := testConfig(t, url)
	cfg.BatchSize = 10
	cfg.Spool.MaxEvents = 30
	c := newClient(t, cfg)
	for i := range 6 {
		captureN(c, 10)
		waitFor(t, "the batch to be spooled", func() bool { return c.Stats().Queued == 0 && len(c.queue) == 0 })
		_ = i
	}
	st := closeClient(t, c)
	if st.Spooled != 30 {
		t.Errorf("spooled %d events, want the bound of 30", st.Spooled)
	}
	if st.DroppedByReason[DropSpoolFull] != 30 {
		t.Errorf("spool_full drops = %d, want 30", st.DroppedByReason[DropSpoolFull])
	}
	if st.Captured != st.Spooled+st.Dropped {
		t.Errorf("captured %d != spooled %d + dropped %d", st.Captured, st.Spooled, st.Dropped)
	}
}

func TestSpoolBoundByBytes(t *testing.T) {
	col := newCollector(t)
	url := col.srv.URL
	col.srv.Close()
	cfg := testConfig(t, url)
	cfg.BatchSize = 10
	cfg.Spool.MaxBytes = 6000
	c := newClient(t, cfg)
	captureN(c, 100)
	st := closeClient(t, c)
	var size int64
	entries, _ := os.ReadDir(filepath.Join(cfg.Home, SpoolDir))
	for _, e := range entries {
		info, _ := e.Info()
		size += info.Size()
	}
	if size > 6000 {
		t.Errorf("spool holds %d bytes, want at most 6000", size)
	}
	if st.DroppedByReason[DropSpoolFull] == 0 || st.Spooled+st.DroppedByReason[DropSpoolFull] != 100 {
		t.Errorf("spooled %d, spool_full %d: want drops and a sum of 100", st.Spooled, st.DroppedByReason[DropSpoolFull])
	}
}

func TestSpoolIgnoresTempAndCorrupt(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	dir := filepath.Join(cfg.Home, SpoolDir)
	good := `{"uuid":"3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b","event":"command_used","distinct_id":"x","timestamp":"2026-01-01T00:00:00Z","properties":{"command":"new"}}`
	writeFile(t, filepath.Join(dir, ".tmp-123"), good+"\n")                                                     // a crash mid-write
	writeFile(t, filepath.Join(dir, "00000000000000000001-2-aaaa.batch"), good+"\n{\"uuid\":\"3f1c2b7e-9a4d\n") // torn second line
	writeFile(t, filepath.Join(dir, "notes.txt"), "not a batch")
	c := newClient(t, cfg)
	waitFor(t, "the spooled event", func() bool { return len(col.accepted()) == 1 })
	st := closeClient(t, c)
	if st.DroppedByReason[DropSpoolCorrupt] != 1 {
		t.Errorf("spool_corrupt drops = %d, want 1", st.DroppedByReason[DropSpoolCorrupt])
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("a file that is not a batch was touched: %v", err)
	}
}

func TestSpoolFileAboveBoundDropped(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.Spool.MaxBytes = 64 << 10
	dir := filepath.Join(cfg.Home, SpoolDir)
	event := `{"uuid":"%s","event":"command_used","distinct_id":"x","timestamp":"2026-01-01T00:00:00Z","properties":{"command":"new"%s}}`
	huge := fmt.Sprintf(event, "3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b", `,"pad":"`+strings.Repeat("a", 1<<20)+`"`)
	good := fmt.Sprintf(event, "4f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b", "")
	writeFile(t, filepath.Join(dir, "00000000000000000001-1-aaaa.batch"), huge+"\n")
	writeFile(t, filepath.Join(dir, "00000000000000000002-1-bbbb.batch"), good+"\n")

	c := newClient(t, cfg)
	waitFor(t, "the spooled event within the bound", func() bool { return len(col.accepted()) == 1 })
	st := closeClient(t, c)
	if got := st.DroppedByReason[DropSpoolCorrupt]; got != 1 {
		t.Errorf("spool_corrupt drops = %d, want 1 for the file larger than Spool.MaxBytes", got)
	}
	events := col.accepted()
	if len(events) != 1 || !strings.HasPrefix(events[0].UUID, "4f1c") {
		t.Errorf("sent %v, want only the event of the file within the bound", events)
	}
}

func TestSpoolStaleClaimRecovered(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	_, fresh := writeClaims(t, cfg.Home)

	c := newClient(t, cfg)
	waitFor(t, "the stale claim to be sent", func() bool { return len(col.accepted()) == 1 })
	closeClient(t, c)
	events := col.accepted()
	if len(events) != 1 || !strings.HasPrefix(events[0].UUID, "3f1c") {
		t.Errorf("got %v, want only the stale claim's event", events)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a live claim of another process was touched: %v", err)
	}
}

// writeClaims writes two claimed spool files of one event each under home:
// stale, whose claim is older than spoolStaleClaim, with an event whose
// UUID starts with 3f1c, and live, a fresh claim, with one starting 4f1c.
func writeClaims(t *testing.T, home string) (stale, live string) {
	t.Helper()
	dir := filepath.Join(home, SpoolDir)
	line := `{"uuid":"3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b","event":"command_used","distinct_id":"x","timestamp":"2026-01-01T00:00:00Z","properties":{"command":"new"}}`
	stale = filepath.Join(dir, "00000000000000000001-1-aaaa.batch.sending-dead")
	live = filepath.Join(dir, "00000000000000000002-1-bbbb.batch.sending-live")
	writeFile(t, stale, line+"\n")
	writeFile(t, live, strings.Replace(line, "3f1c", "4f1c", 1)+"\n")
	old := time.Now().Add(-2 * spoolStaleClaim)
	os.Chtimes(stale, old, old)
	return stale, live
}

func TestSlowCollectorCaptureStaysFast(t *testing.T) {
	col := newSlowCollector(t, 150*time.Millisecond)
	cfg := testConfig(t, col.srv.URL)
	cfg.BatchSize = 5
	c := newClient(t, cfg)
	var slowest time.Duration
	for range 50 {
		start := time.Now()
		c.Capture(mux.CommandUsed{Command: "new"})
		slowest = max(slowest, time.Since(start))
	}
	if slowest > 50*time.Millisecond {
		t.Errorf("slowest Capture took %s while the collector was slow", slowest)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	closeClient(t, c)
	assertExactlyOnce(t, col, 50)
}

func TestRetryAfterHonoured(t *testing.T) {
	col := newCollector(t)
	var first, second atomic.Int64
	col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
		if n == 0 {
			first.Store(time.Now().UnixNano())
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		second.CompareAndSwap(0, time.Now().UnixNano())
		return false
	})
	c := newClient(t, testConfig(t, col.srv.URL))
	c.Capture(mux.CommandUsed{Command: "new"})
	waitFor(t, "the retry", func() bool { return len(col.accepted()) == 1 })
	closeClient(t, c)
	gap := time.Duration(second.Load() - first.Load())
	if gap < 950*time.Millisecond {
		t.Errorf("retried after %s, want at least the 1s of Retry-After", gap)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		"0":                             0,
		"-5":                            0,
		"soon":                          0,
		"99999999":                      maxRetryAfter,
		"Thu, 01 Jan 2026 00:00:10 GMT": 10 * time.Second,
		"Wed, 31 Dec 2025 23:00:00 GMT": 0,
		"Fri, 02 Jan 2026 00:00:00 GMT": maxRetryAfter,
	}
	for in, want := range tests {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestBackoffFullJitterCapped(t *testing.T) {
	for attempt := 1; attempt <= 40; attempt++ {
		ceiling := min(retryBase<<min(attempt-1, 20), 2*time.Second)
		for range 100 {
			d := backoff(attempt, 2*time.Second, 0)
			if d <= 0 || d > ceiling+time.Millisecond {
				t.Fatalf("backoff(%d) = %s, want in (0, %s]", attempt, d, ceiling)
			}
		}
	}
	if d := backoff(1, time.Second, 30*time.Second); d != 30*time.Second {
		t.Errorf("backoff with Retry-After 30s = %s, want 30s", d)
	}
	// Full jitter: the first retries are spread, not all at the ceiling.
	var low int
	for range 200 {
		if backoff(3, time.Minute, 0) < retryBase {
			low++
		}
	}
	if low < 20 || low > 180 {
		t.Errorf("%d of 200 waits below half the ceiling, want a uniform spread", low)
	}
}

func TestSplitOn413(t *testing.T) {
	col := newCollector(t)
	col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
		if len(r.Batch) > 6 {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return true
		}
		return false
	})
	cfg := testConfig(t, col.srv.URL)
	cfg.BatchSize = 50
	c := newClient(t, cfg)
	captureN(c, 50)
	flush(t, c)
	st := closeClient(t, c)
	assertExactlyOnce(t, col, 50)
	if st.Sent != 50 || st.Dropped != 0 || st.Queued != 0 {
		t.Errorf("stats: sent %d dropped %d queued %d, want 50, 0, 0", st.Sent, st.Dropped, st.Queued)
	}
}

func TestSingleEvent413Dropped(t *testing.T) {
	col := newCollector(t)
	col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return true
	})
	c := newClient(t, testConfig(t, col.srv.URL))
	captureN(c, 4)
	flush(t, c)
	st := closeClient(t, c)
	if st.DroppedByReason[DropTooLarge] != 4 {
		t.Errorf("too_large drops = %d, want 4", st.DroppedByReason[DropTooLarge])
	}
	if got := col.requestCount(); got != 7 {
		t.Errorf("collector got %d requests, want 7 (4, then 2+2, then 1+1+1+1 halves)", got)
	}
}

func TestSingleEvent413LoggedOnce(t *testing.T) {
	col := newCollector(t)
	col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return true
	})
	var logs bytes.Buffer
	cfg := testConfig(t, col.srv.URL)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	c := newClient(t, cfg)
	captureN(c, 40)
	flush(t, c)
	st := closeClient(t, c)

	if st.DroppedByReason[DropTooLarge] != 40 {
		t.Errorf("too_large drops = %d, want 40", st.DroppedByReason[DropTooLarge])
	}
	if got := strings.Count(logs.String(), "too large"); got != 1 {
		t.Errorf("logged %d too-large drops, want 1 for the whole run:\n%s", got, logs.String())
	}
}

func TestCloseCancelDoesNotLogRetry(t *testing.T) {
	release := make(chan struct{})
	col := newCollector(t)
	col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
		<-release
		return false
	})
	defer close(release)
	var logs bytes.Buffer
	cfg := testConfig(t, col.srv.URL)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	c := newClient(t, cfg)
	captureN(c, 3)
	waitFor(t, "an upload in flight", col.inFlight)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	st, _ := c.Close(ctx)

	if st.Spooled != 3 {
		t.Errorf("spooled %d events, want 3", st.Spooled)
	}
	if strings.Contains(logs.String(), "will retry") {
		t.Errorf("Close logged a retry for the upload it canceled:\n%s", logs.String())
	}
}

func TestOther4xxDropOnlyThatBatch(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			col := newCollector(t)
			col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
				if n == 1 {
					w.WriteHeader(status)
					return true
				}
				return false
			})
			cfg := testConfig(t, col.srv.URL)
			cfg.BatchSize = 5
			cfg.FlushInterval = time.Hour
			c := newClient(t, cfg)
			for range 3 {
				captureN(c, 5)
				flush(t, c)
			}
			st := closeClient(t, c)
			if st.DroppedByReason[DropRejected] != 5 || st.Sent != 10 {
				t.Errorf("rejected %d sent %d, want 5 and 10", st.DroppedByReason[DropRejected], st.Sent)
			}
			if st.Retries != 0 {
				t.Errorf("retries = %d, want a %d not retried", st.Retries, status)
			}
		})
	}
}

func TestRejectedBatchLogsCollectorError(t *testing.T) {
	col := newCollector(t)
	col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"status":401,"code":"ingest_key_unknown","error":"write key is not known to this collector"}`)
		return true
	})
	var logs bytes.Buffer
	cfg := testConfig(t, col.srv.URL)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	c := newClient(t, cfg)
	captureN(c, 2)
	flush(t, c)
	st := closeClient(t, c)

	if st.DroppedByReason[DropRejected] != 2 {
		t.Errorf("rejected %d events, want 2", st.DroppedByReason[DropRejected])
	}
	if !strings.Contains(logs.String(), "write key is not known to this collector") {
		t.Errorf("log does not contain the collector's error message:\n%s", logs.String())
	}
}

func TestRedirectToHTTPRefused(t *testing.T) {
	for _, defaultClient := range []bool{false, true} {
		name := "Config.HTTPClient"
		if defaultClient {
			name = "default client"
		}
		t.Run(name, func(t *testing.T) {
			plain := newCollector(t)
			secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, plain.srv.URL+"/batch/", http.StatusTemporaryRedirect)
			}))
			defer secure.Close()
			cfg := testConfig(t, secure.URL)
			if !defaultClient {
				cfg.HTTPClient = secure.Client()
			}
			c := newClient(t, cfg)
			if defaultClient {
				// The direct transport trusts the test server's certificate.
				roots := x509.NewCertPool()
				roots.AddCert(secure.Certificate())
				c.http.Transport.(*directTransport).fallback.TLSClientConfig = &tls.Config{RootCAs: roots}
			}
			c.Capture(mux.CommandUsed{Command: "new"})
			flush(t, c)
			st := closeClient(t, c)
			if st.DroppedByReason[DropInsecureRedirect] != 1 {
				t.Errorf("insecure_redirect drops = %d, want 1 (%v)", st.DroppedByReason[DropInsecureRedirect], st.DroppedByReason)
			}
			if n := plain.requestCount(); n != 0 {
				t.Errorf("the http server got %d requests, want 0", n)
			}
		})
	}
}

func TestRedirectSameSchemeFollowed(t *testing.T) {
	col := newCollector(t)
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, col.srv.URL+"/batch/", http.StatusPermanentRedirect)
	}))
	defer moved.Close()
	c := newClient(t, testConfig(t, moved.URL))
	c.Capture(mux.CommandUsed{Command: "new"})
	flush(t, c)
	closeClient(t, c)
	assertExactlyOnce(t, col, 1)
}

func TestRedirectToOtherHostNotFollowed(t *testing.T) {
	col := newCollector(t)
	// localhost reaches the collector too, but it is another host name
	// than the Endpoint's 127.0.0.1.
	elsewhere := strings.Replace(col.srv.URL, "127.0.0.1", "localhost", 1)
	moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere+"/batch/", http.StatusTemporaryRedirect)
	}))
	defer moved.Close()
	c := newClient(t, testConfig(t, moved.URL))
	c.Capture(mux.CommandUsed{Command: "new"})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err == nil {
		t.Error("Flush = nil, want the redirect's error")
	}
	st := closeClient(t, c)
	if n := col.requestCount(); n != 0 {
		t.Errorf("the other host got %d requests, want 0", n)
	}
	if st.Spooled != 1 {
		t.Errorf("spooled %d events, want the redirected one kept for a retry (dropped %v)", st.Spooled, st.DroppedByReason)
	}
}

func TestConnectionResetMidBody(t *testing.T) {
	col := newCollector(t)
	var resets atomic.Int64
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if resets.Add(1) <= 2 {
			// Read part of the body, then reset the connection.
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			buf.Reader.Read(make([]byte, 10))
			if tcp, ok := conn.(*net.TCPConn); ok {
				tcp.SetLinger(0)
			}
			conn.Close()
			return
		}
		col.serve(w, r)
	}))
	defer reset.Close()
	cfg := testConfig(t, reset.URL)
	cfg.BatchSize = 10
	c := newClient(t, cfg)
	captureN(c, 10)
	flushUntilDone(t, c)
	st := closeClient(t, c)
	assertExactlyOnce(t, col, 10)
	if st.Retries < 2 {
		t.Errorf("retries = %d, want at least the 2 resets", st.Retries)
	}
}

func TestLongOutageMemoryBounded(t *testing.T) {
	for _, spoolOn := range []bool{false, true} {
		name := "spool off"
		if spoolOn {
			name = "spool on"
		}
		t.Run(name, func(t *testing.T) {
			col := newCollector(t)
			url := col.srv.URL
			col.srv.Close()
			cfg := testConfig(t, url)
			cfg.QueueSize = 200
			cfg.BatchSize = 20
			cfg.Spool.Disabled = !spoolOn
			cfg.Spool.MaxEvents = 300
			c := newClient(t, cfg)

			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			var maxQueued int64
			for i := range 20000 {
				c.Capture(validMessage())
				if i%100 == 0 {
					maxQueued = max(maxQueued, c.Stats().Queued)
					time.Sleep(time.Millisecond)
				}
			}
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)

			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			st, _ := c.Close(ctx)
			// The capture channel and the retry buffer hold QueueSize each,
			// plus the batch being filled.
			if bound := int64(2*cfg.QueueSize + cfg.BatchSize); maxQueued > bound {
				t.Errorf("up to %d events queued in memory, want at most %d", maxQueued, bound)
			}
			if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 8<<20 {
				t.Errorf("heap grew by %d bytes during the outage", grown)
			}
			if st.Spooled > int64(cfg.Spool.MaxEvents) {
				t.Errorf("spooled %d events, want at most %d", st.Spooled, cfg.Spool.MaxEvents)
			}
			if got := st.Sent + st.Dropped + st.Queued + st.Spooled; got != st.Captured {
				t.Errorf("sent+dropped+queued+spooled = %d, captured %d (%+v)", got, st.Captured, st)
			}
		})
	}
}

func TestSentLogRotated(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.SentLog = filepath.Join(t.TempDir(), "sent.jsonl")
	cfg.SentLogMaxBytes = 2000
	cfg.BatchSize = 3
	c := newClient(t, cfg)
	for range 6 {
		captureN(c, 3)
		flush(t, c)
	}
	closeClient(t, c)

	lines := 0
	for _, p := range []string{cfg.SentLog, cfg.SentLog + ".1"} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("read %s: %v", filepath.Base(p), err)
		}
		if len(data) > 2000 {
			t.Errorf("%s has %d bytes, want at most 2000", filepath.Base(p), len(data))
		}
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for sc.Scan() {
			lines++
		}
	}
	if lines == 0 || lines > 18 {
		t.Errorf("sent log holds %d lines, want between 1 and 18", lines)
	}
	info, _ := os.Stat(cfg.SentLog)
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Errorf("sent log mode = %o, want 600", info.Mode().Perm())
	}
}

// TestEncodeDuringUploadKeepsOrder holds the first upload while events
// queue up, so that the uploads after it encode the next batch while they
// wait for their response, and fails one of them once. Every event must
// arrive once, in the order of capture.
func TestEncodeDuringUploadKeepsOrder(t *testing.T) {
	col := newCollector(t)
	holding, release := make(chan struct{}), make(chan struct{})
	col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
		switch n {
		case 0:
			close(holding)
			<-release
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	cfg := testConfig(t, col.srv.URL)
	cfg.BatchSize = 4
	cfg.MaxRetryDelay = 20 * time.Millisecond
	cfg.Clock = tickingClock()
	c := newClient(t, cfg)

	captureN(c, 4)
	<-holding
	captureN(c, 36)
	close(release)
	flushUntilDone(t, c)
	closeClient(t, c)

	assertCaptureOrder(t, assertExactlyOnce(t, col, 40))
	if n := col.requestCount(); n != 11 {
		t.Errorf("collector got %d requests, want 11: 10 batches and one retry", n)
	}
}

// TestSentAtFreshAfterSlowResponse makes each response take longer than
// aheadMaxAge, so that a body compressed while the upload before it waited
// is too old to send. Every request's sent_at must be the time it was
// sent, not the time its body was compressed ahead.
func TestSentAtFreshAfterSlowResponse(t *testing.T) {
	const slowResponse = 25 * aheadMaxAge
	col := newCollector(t)
	var mu sync.Mutex
	var lags []time.Duration
	col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
		sentAt, err := time.Parse(time.RFC3339Nano, r.SentAt)
		if err != nil {
			t.Errorf("request %d: sent_at %q: %v", n, r.SentAt, err)
		}
		mu.Lock()
		lags = append(lags, time.Since(sentAt))
		mu.Unlock()
		time.Sleep(slowResponse)
		return false
	})
	cfg := testConfig(t, col.srv.URL)
	cfg.BatchSize = 2
	c := newClient(t, cfg)
	captureN(c, 8)
	flushUntilDone(t, c)
	closeClient(t, c)
	assertExactlyOnce(t, col, 8)

	mu.Lock()
	defer mu.Unlock()
	// A body compressed ahead would be at least slowResponse old.
	for i, lag := range lags {
		if lag > slowResponse/2 {
			t.Errorf("request %d arrived %v after its sent_at, want at most %v", i, lag, slowResponse/2)
		}
	}
}

// TestFlushDuringSteadyCapture captures faster than a slow collector takes
// events, so every upload has a full batch of queued events to encode
// while it waits. Flush must still return once the events captured before
// it are sent, and Pending must get its turn, while capture goes on.
func TestFlushDuringSteadyCapture(t *testing.T) {
	col := newSlowCollector(t, 2*time.Millisecond)
	cfg := testConfig(t, col.srv.URL)
	cfg.BatchSize = 10
	cfg.QueueSize = 50000
	cfg.FlushInterval = time.Hour
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ticks atomic.Int64
	cfg.Clock = func() time.Time { return start.Add(time.Duration(ticks.Add(1)) * time.Millisecond) }
	c := newClient(t, cfg)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 2000 {
			select {
			case <-stop:
				return
			default:
			}
			captureN(c, 10)
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
		col.setRespond(nil) // so that Close sends the backlog quickly
	}()
	time.Sleep(30 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	before := start.Add(time.Duration(ticks.Load()) * time.Millisecond)
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush while capturing: %v", err)
	}
	arrived := map[time.Time]bool{}
	for _, ev := range col.accepted() {
		at, err := time.Parse(time.RFC3339Nano, ev.Timestamp)
		if err != nil {
			t.Fatalf("timestamp %q: %v", ev.Timestamp, err)
		}
		arrived[at] = true
	}
	for at := start.Add(time.Millisecond); !at.After(before); at = at.Add(time.Millisecond) {
		if !arrived[at] {
			t.Fatalf("event captured at %s, before Flush, had not arrived when Flush returned", at.Format(time.StampMilli))
		}
	}
	if _, err := c.Pending(ctx); err != nil {
		t.Errorf("Pending while capturing: %v", err)
	}
	if st := c.Stats(); st.DroppedByReason[DropQueueFull] != 0 {
		t.Errorf("%d events dropped as queue_full, want none for this test to hold", st.DroppedByReason[DropQueueFull])
	}
}

// TestSplitSpooledBatchKeepsOrder spools three batches while the collector
// is down, then responds to the first spooled batch with 413. Its halves
// must arrive before the batches spooled after it, in the order of capture.
func TestSplitSpooledBatchKeepsOrder(t *testing.T) {
	col := newCollector(t)
	addr := col.srv.Listener.Addr().String()
	url := col.srv.URL
	col.srv.Close() // down: connections are refused

	cfg := testConfig(t, url)
	cfg.BatchSize = 4
	cfg.Clock = tickingClock()
	c := newClient(t, cfg)
	captureN(c, 12)
	waitFor(t, "three batches to reach the spool", func() bool { return c.Stats().Spooled == 12 })

	back := newCollector(t)
	back.failFirst(http.StatusRequestEntityTooLarge)
	back.srv.Close()
	back.srv = httptest.NewUnstartedServer(http.HandlerFunc(back.serve))
	back.srv.Listener = listenOn(t, addr)
	back.srv.Start()
	t.Cleanup(back.srv.Close)

	flushUntilDone(t, c)
	closeClient(t, c)
	assertCaptureOrder(t, assertExactlyOnce(t, back, 12))
}

// tickingClock returns a Config.Clock that moves one millisecond at every
// call, so that the timestamps of captured events show their order.
func tickingClock() func() time.Time {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ticks atomic.Int64
	return func() time.Time { return start.Add(time.Duration(ticks.Add(1)) * time.Millisecond) }
}

// assertCaptureOrder checks that events, captured with a tickingClock,
// arrived in the order of capture.
func assertCaptureOrder(t *testing.T, events []decoded) {
	t.Helper()
	var last time.Time
	for i, ev := range events {
		at, err := time.Parse(time.RFC3339Nano, ev.Timestamp)
		if err != nil {
			t.Fatalf("event %d: timestamp %q: %v", i, ev.Timestamp, err)
		}
		if !at.After(last) {
			t.Fatalf("event %d captured at %s arrived after one captured at %s", i, at.Format(time.StampMilli), last.Format(time.StampMilli))
		}
		last = at
	}
}

// TestCollectorDropsCounted checks that events the collector acknowledges
// but drops, as its response body lists them, count as dropped under the
// collector's reason instead of as sent, and that the drop is logged once.
func TestCollectorDropsCounted(t *testing.T) {
	col := newCollector(t)
	col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"Ok","accepted":2,"dropped":{"expired":2,"unknown_event":1,"Bad Reason!":0}}`)
		return true
	})
	var logs bytes.Buffer
	cfg := testConfig(t, col.srv.URL)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	cfg.BatchSize = 5
	cfg.FlushInterval = time.Hour
	c := newClient(t, cfg)
	for range 2 {
		captureN(c, 5)
		flush(t, c)
	}
	st := closeClient(t, c)

	if st.Sent != 4 {
		t.Errorf("sent = %d, want 4: 2 of each batch of 5 were stored", st.Sent)
	}
	want := map[string]int64{DropCollectorPrefix + "expired": 4, DropCollectorPrefix + "unknown_event": 2}
	if d := diff(want, st.DroppedByReason); d != "" {
		t.Errorf("dropped by reason (-want +got):\n%s", d)
	}
	if n := strings.Count(logs.String(), "collector dropped"); n != 1 {
		t.Errorf("%d log lines about the collector's drops, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "expired") {
		t.Errorf("log does not name the reason expired:\n%s", logs.String())
	}
}

// TestCollectorDropsBounded checks that the counts a collector sends are
// bounded by the batch, whatever their size or sign.
func TestCollectorDropsBounded(t *testing.T) {
	tests := []struct {
		body string
		want map[string]int64
	}{
		{`{"dropped":{"expired":1e300}}`, map[string]int64{"expired": 5}},
		{`{"dropped":{"expired":-5,"unknown_event":2}}`, map[string]int64{"unknown_event": 2}},
		{`{"dropped":{"a":3,"b":3}}`, map[string]int64{"a": 3, "b": 2}},
		{`{"dropped":{"Bad Reason":1}}`, map[string]int64{"other": 1}},
		{`{"dropped":{}}`, nil},
		{`{"status":"Ok"}`, nil},
	}
	for _, tc := range tests {
		if d := diff(tc.want, collectorDrops([]byte(tc.body), 5)); d != "" {
			t.Errorf("collectorDrops(%s, 5) (-want +got):\n%s", tc.body, d)
		}
	}
}

// TestCollectorDropReasonsBoundedAcrossResponses checks that a collector
// naming new reasons in every response cannot grow Stats.DroppedByReason
// past maxCollectorDropReasons reasons and "other".
func TestCollectorDropReasonsBoundedAcrossResponses(t *testing.T) {
	col := newCollector(t)
	col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"Ok","accepted":0,"dropped":{"reason_%d_a":1,"reason_%d_b":1}}`, n, n)
		return true
	})
	cfg := testConfig(t, col.srv.URL)
	cfg.BatchSize = 2
	cfg.FlushInterval = time.Hour
	c := newClient(t, cfg)
	const batches = 3 * maxCollectorDropReasons
	for range batches {
		captureN(c, 2)
		flush(t, c)
	}
	st := closeClient(t, c)

	if st.Sent != 0 {
		t.Errorf("sent = %d, want 0: the collector dropped every event", st.Sent)
	}
	if st.Dropped != 2*batches {
		t.Errorf("dropped = %d, want %d", st.Dropped, 2*batches)
	}
	if n := len(st.DroppedByReason); n > maxCollectorDropReasons+1 {
		t.Errorf("%d reasons in DroppedByReason, want at most %d:\n%v", n, maxCollectorDropReasons+1, st.DroppedByReason)
	}
	if st.DroppedByReason[DropCollectorPrefix+"other"] == 0 {
		t.Errorf("no drops under %sother, want the reasons past the limit there:\n%v", DropCollectorPrefix, st.DroppedByReason)
	}
}
