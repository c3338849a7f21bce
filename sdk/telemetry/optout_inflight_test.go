package telemetry

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candor-dev/candor/sdk/internal/leakcheck"
)

// holdingCollector is a loopback server that holds every batch request
// open until the client goes away or the test ends. It stores the events
// of a request only when it could hold it to the end and then respond.
type holdingCollector struct {
	srv      *httptest.Server
	arrived  chan struct{} // receives one value per request whose body was read
	gone     chan struct{} // receives one value per request whose client went away
	release  chan struct{}
	requests atomic.Int64
	stored   atomic.Int64
}

func newHoldingCollector(t *testing.T) *holdingCollector {
	t.Helper()
	h := &holdingCollector{
		arrived: make(chan struct{}, 16),
		gone:    make(chan struct{}, 16),
		release: make(chan struct{}),
	}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	t.Cleanup(func() { close(h.release) }) // runs before srv.Close
	return h
}

func (h *holdingCollector) serve(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	// The server notices that the client went away only once the body
	// was read.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	h.arrived <- struct{}{}
	select {
	case <-r.Context().Done():
		h.gone <- struct{}{}
		return
	case <-h.release:
	}

	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		http.Error(w, "bad gzip", http.StatusBadRequest)
		return
	}
	var rec received
	if data, err := io.ReadAll(zr); err != nil || json.Unmarshal(data, &rec) != nil {
		http.Error(w, "bad batch", http.StatusBadRequest)
		return
	}
	h.stored.Add(int64(len(rec.Batch)))
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"status":"Ok"}`)
}

// wait waits up to 5s for a value on ch, far less than
// DefaultRequestTimeout, after which the client would give up by itself.
func wait(t *testing.T, ch <-chan struct{}, event string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", event)
	}
}

// spoolFileNames returns the names of the batch files in home's spool,
// claimed ones included.
func spoolFileNames(t *testing.T, home string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(home, SpoolDir))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.Contains(e.Name(), spoolExt) {
			names = append(names, e.Name())
		}
	}
	return names
}

// writeSpoolBatch writes one spool file of n command_used events to home.
func writeSpoolBatch(t *testing.T, home string, n int) {
	t.Helper()
	var lines []string
	for i := range n {
		lines = append(lines, `{"uuid":"3f1c2b7e-9a4d-4c1e-8b2a-00000000000`+string(rune('0'+i))+
			`","event":"command_used","distinct_id":"x","timestamp":"2026-01-01T00:00:00Z","properties":{"command":"new"}}`)
	}
	name := "00000000000000000001-" + string(rune('0'+n)) + "-aaaa" + spoolExt
	writeFile(t, filepath.Join(home, SpoolDir, name), strings.Join(lines, "\n")+"\n")
}

func TestOptOutCancelsUploadInFlight(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fromSpool bool // the request in flight carries a spooled batch
		// otherProcess opts out through a second client on the same Home,
		// as the app's telemetry command does from its own process.
		otherProcess bool
	}{
		{"batch in memory", false, false},
		{"batch from the spool", true, false},
		{"opt-out by another process", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakcheck.Check(t)
			col := newHoldingCollector(t)
			cfg := testConfig(t, col.srv.URL)
			cfg.BatchSize = 2
			inFlight := 2
			if tc.fromSpool {
				writeSpoolBatch(t, cfg.Home, 3)
				inFlight = 3
			}
			c := newClient(t, cfg)
			if !tc.fromSpool {
				captureCommands(c, "new", "new")
			}
			wait(t, col.arrived, "the first request")
			captureCommands(c, "compact", "compact", "compact") // queued behind the request

			toggler := c
			if tc.otherProcess {
				toggler = newClient(t, cfg)
			}
			start := time.Now()
			if err := toggler.SetEnabled(false); err != nil {
				t.Fatal(err)
			}
			wait(t, col.gone, "the client to cancel the request")
			t.Logf("request cancelled %v after SetEnabled(false) began", time.Since(start))

			st := closeClient(t, c)
			time.Sleep(50 * time.Millisecond) // room for a request that should not come
			if n := col.requests.Load(); n != 1 {
				t.Errorf("collector got %d requests, want only the cancelled one", n)
			}
			if n := col.stored.Load(); n != 0 {
				t.Errorf("collector stored %d events after the opt-out, want 0", n)
			}
			if files := spoolFileNames(t, cfg.Home); len(files) != 0 {
				t.Errorf("spool holds %v after the opt-out, want nothing", files)
			}
			if want := int64(inFlight + 3); st.DroppedByReason[DropDisabled] != want {
				t.Errorf("disabled drops = %d, want %d (%v)", st.DroppedByReason[DropDisabled], want, st.DroppedByReason)
			}
			if st.Sent != 0 || st.Retries != 0 || st.Queued != 0 || st.Spooled != 0 {
				t.Errorf("Sent %d, Retries %d, Queued %d, Spooled %d: want 0 each", st.Sent, st.Retries, st.Queued, st.Spooled)
			}
		})
	}
}

// TestEnvOptOutCancelsUploadInFlight switches telemetry off with
// MUX_DISABLE_TELEMETRY=1 while a spooled batch is in flight. Status reads
// the switch and cancels the request. The environment switches leave the
// spool for a later run, so the batch goes back to the spool, and nothing
// is sent or retried.
func TestEnvOptOutCancelsUploadInFlight(t *testing.T) {
	leakcheck.Check(t)
	col := newHoldingCollector(t)
	environment := &syncEnv{}
	cfg := testConfig(t, col.srv.URL)
	cfg.Getenv = environment.get
	writeSpoolBatch(t, cfg.Home, 3)
	c := newClient(t, cfg)
	wait(t, col.arrived, "the spooled batch's request")

	environment.set("MUX_DISABLE_TELEMETRY", "1")
	if st := c.Status(); st.Enabled {
		t.Fatalf("Status reports enabled with MUX_DISABLE_TELEMETRY=1: %s", st)
	}
	wait(t, col.gone, "the client to cancel the request")

	st := closeClient(t, c)
	if n := col.requests.Load(); n != 1 {
		t.Errorf("collector got %d requests, want only the cancelled one", n)
	}
	if n := col.stored.Load(); n != 0 {
		t.Errorf("collector stored %d events, want 0", n)
	}
	files := spoolFileNames(t, cfg.Home)
	if len(files) != 1 || strings.Contains(files[0], spoolClaimMarker) {
		t.Errorf("spool holds %v, want the batch back, unclaimed", files)
	}
	if st.Spooled != 3 || st.Dropped != 0 || st.Retries != 0 {
		t.Errorf("Spooled %d, Dropped %d, Retries %d: want 3, 0, 0 (%v)", st.Spooled, st.Dropped, st.Retries, st.DroppedByReason)
	}
}

// TestSlowUploadWhileEnabledCompletes holds an upload open for two reads
// of the switches during it. Telemetry stays on, so the upload completes,
// and the reads leave no goroutine behind.
func TestSlowUploadWhileEnabledCompletes(t *testing.T) {
	if testing.Short() {
		t.Skip("holds an upload open for over two seconds")
	}
	leakcheck.Check(t)
	col := newSlowCollector(t, 2*configPollInterval+200*time.Millisecond)
	c := newClient(t, testConfig(t, col.srv.URL))
	captureCommands(c, "new")
	flush(t, c)

	st := closeClient(t, c)
	if st.Sent != 1 || st.Dropped != 0 || st.Retries != 0 {
		t.Errorf("Sent %d, Dropped %d, Retries %d: want 1, 0, 0 (%v)", st.Sent, st.Dropped, st.Retries, st.DroppedByReason)
	}
}

// pausingEnv is an environment whose next read of one variable, once
// armed, waits until the test releases it.
type pausingEnv struct {
	mu       sync.Mutex
	variable string        // the variable whose next read waits; "" when not armed
	paused   chan struct{} // closed when a read waits
	release  chan struct{}
}

func (e *pausingEnv) get(k string) string {
	e.mu.Lock()
	pause := k == e.variable
	if pause {
		e.variable = ""
	}
	e.mu.Unlock()
	if pause {
		close(e.paused)
		<-e.release
	}
	return ""
}

// pauseNext makes the next read of variable wait until release is closed.
func (e *pausingEnv) pauseNext(variable string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.variable = variable
	e.paused = make(chan struct{})
	e.release = make(chan struct{})
}

// TestStaleSwitchReadKeepsOptOut pauses a read of the switches that the
// upload's watch began before SetEnabled(false), after it read
// config.json, and lets it finish after SetEnabled returned. The older
// read must not turn telemetry back on: a later Capture is ignored.
func TestStaleSwitchReadKeepsOptOut(t *testing.T) {
	leakcheck.Check(t)
	col := newHoldingCollector(t)
	environment := &pausingEnv{}
	cfg := testConfig(t, col.srv.URL)
	cfg.Getenv = environment.get
	c := newClient(t, cfg)
	captureCommands(c, "new")
	wait(t, col.arrived, "the request")

	// The debug variable is read after config.json.
	environment.pauseNext("MUX_TELEMETRY_DEBUG")
	wait(t, environment.paused, "the watch to read the switches")
	optedOut := make(chan error, 1)
	go func() { optedOut <- c.SetEnabled(false) }()
	select {
	case err := <-optedOut:
		if err != nil {
			t.Fatal(err)
		}
		close(environment.release)
	case <-time.After(200 * time.Millisecond):
		// SetEnabled waits for the read in progress.
		close(environment.release)
		if err := <-optedOut; err != nil {
			t.Fatal(err)
		}
	}
	wait(t, col.gone, "the client to cancel the request")

	captureCommands(c, "clear")
	if c.IsEnabled() {
		t.Error("IsEnabled = true after SetEnabled(false)")
	}
	st := closeClient(t, c)
	if st.Ignored != 1 || st.Captured != 1 {
		t.Errorf("Ignored %d, Captured %d: want 1, 1, the Capture after the opt-out ignored (%v)", st.Ignored, st.Captured, st.DroppedByReason)
	}
}
