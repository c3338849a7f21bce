package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candor-dev/candor/sdk/internal/leakcheck"
	"github.com/candor-dev/candor/sdk/mux"
)

func TestSetEnabledKeepsOtherKeys(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	path := filepath.Join(cfg.Home, ConfigFile)
	writeFile(t, path, `{"theme": "dark", "recentProjects": ["a", "b"], "nested": {"x": 1}}`)
	c := newClient(t, cfg)

	if err := c.SetEnabled(false); err != nil {
		t.Fatalf("SetEnabled(false): %v", err)
	}
	if c.IsEnabled() || !c.IsExplicitlyDisabled() || c.Status().Switch != ConfigFile {
		t.Errorf("after SetEnabled(false): %s", c.Status())
	}
	var keys map[string]any
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &keys); err != nil {
		t.Fatalf("config.json after SetEnabled: %v\n%s", err, data)
	}
	want := map[string]any{
		"theme": "dark", "recentProjects": []any{"a", "b"}, "nested": map[string]any{"x": 1.0}, "telemetryEnabled": false,
	}
	if d := diff(want, keys); d != "" {
		t.Errorf("config.json: %s", d)
	}
	if runtime.GOOS != "windows" {
		assertMode(t, path, 0o600)
	}

	c.Capture(mux.CommandUsed{Command: "new"})
	if err := c.SetEnabled(true); err != nil {
		t.Fatalf("SetEnabled(true): %v", err)
	}
	if !c.IsEnabled() {
		t.Errorf("after SetEnabled(true): %s", c.Status())
	}
	c.Capture(mux.CommandUsed{Command: "new"})
	st := closeClient(t, c)
	if st.Ignored != 1 || st.Sent != 1 {
		t.Errorf("ignored %d sent %d, want 1 and 1", st.Ignored, st.Sent)
	}
}

func TestSetEnabledCreatesConfig(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.Home = filepath.Join(t.TempDir(), ".mux")
	e := &syncEnv{}
	e.set("MUX_DISABLE_TELEMETRY", "1")
	cfg.Getenv = e.get
	c := newClient(t, cfg)
	if err := c.SetEnabled(false); err != nil {
		t.Fatalf("SetEnabled(false): %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Home, InstallIDFile)); !os.IsNotExist(err) {
		t.Errorf("SetEnabled(false) created an install ID")
	}
	data, _ := os.ReadFile(filepath.Join(cfg.Home, ConfigFile))
	if strings.TrimSpace(string(data)) != "{\n  \"telemetryEnabled\": false\n}" {
		t.Errorf("config.json = %q", data)
	}
	if runtime.GOOS != "windows" {
		assertMode(t, cfg.Home, 0o700)
	}
}

func TestSetEnabledEnvStillWins(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.Getenv = env{"MUX_DISABLE_TELEMETRY": "1"}.get
	c := newClient(t, cfg)
	if err := c.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	st := c.Status()
	if st.Enabled || st.Switch != "MUX_DISABLE_TELEMETRY" {
		t.Errorf("status %s, want disabled by the variable", st)
	}
	if !strings.Contains(st.String(), "telemetryEnabled: true") {
		t.Errorf("status %q does not show the persisted true", st)
	}
}

func TestSetEnabledCorruptConfigUnchanged(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	path := filepath.Join(cfg.Home, ConfigFile)
	writeFile(t, path, `{"theme": `)
	c := newClient(t, cfg)
	if c.IsEnabled() {
		t.Errorf("enabled with a corrupt config.json")
	}
	err := c.SetEnabled(true)
	if err == nil || !strings.Contains(err.Error(), "fix or remove it") {
		t.Errorf("SetEnabled error = %v, want one that says to fix the file", err)
	}
	data, _ := os.ReadFile(path)
	if string(data) != `{"theme": ` {
		t.Errorf("config.json changed to %q", data)
	}
	if c.IsEnabled() {
		t.Errorf("enabled after a failed SetEnabled")
	}
}

func TestSetEnabledFalsePurgesQueueAndSpool(t *testing.T) {
	col := newCollector(t)
	url := col.srv.URL
	col.srv.Close()
	cfg := testConfig(t, url)
	cfg.BatchSize = 5
	c := newClient(t, cfg)
	captureN(c, 10)
	waitFor(t, "the spool", func() bool { return c.Stats().Spooled == 10 })
	captureN(c, 2)
	if err := c.SetEnabled(false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the queue to be dropped", func() bool { return c.Stats().Queued == 0 })
	checkPurged(t, closeClient(t, c), cfg.Home, 12)
}

// TestOptOutDuringSpoolUpload opts out while the sender uploads a batch it
// took from the spool. The upload then fails, which puts the batch back in
// the spool, and the sender must delete it there.
func TestOptOutDuringSpoolUpload(t *testing.T) {
	for _, tc := range []struct {
		name   string
		optOut func(t *testing.T, c *Client, home string)
	}{
		{"SetEnabled", func(t *testing.T, c *Client, home string) {
			if err := c.SetEnabled(false); err != nil {
				t.Fatal(err)
			}
		}},
		{"another process", func(t *testing.T, c *Client, home string) {
			writeFile(t, filepath.Join(home, ConfigFile), `{"telemetryEnabled": false}`)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := newCollector(t)
			uploading, release := make(chan struct{}), make(chan struct{})
			col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
				if n == 1 {
					close(uploading)
					<-release
				}
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			})
			cfg := testConfig(t, col.srv.URL)
			cfg.BatchSize = 5
			c := newClient(t, cfg)
			captureN(c, 5) // the first upload fails, the batch is spooled and retried
			<-uploading
			tc.optOut(t, c, cfg.Home)
			close(release)

			waitFor(t, "the returned batch to be purged", func() bool {
				return c.Stats().DroppedByReason[DropDisabled] == 5
			})
			checkPurged(t, closeClient(t, c), cfg.Home, 5)
		})
	}
}

func TestOptOutPurgesStaleClaim(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	stale, live := writeClaims(t, cfg.Home)
	writeFile(t, filepath.Join(cfg.Home, ConfigFile), `{"telemetryEnabled": false}`)

	c := newClient(t, cfg)
	st := closeClient(t, c)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale claim after a run with telemetry off: %v, want it deleted", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live claim of another process was touched: %v", err)
	}
	if st.DroppedByReason[DropDisabled] != 1 {
		t.Errorf("disabled drops = %d, want 1", st.DroppedByReason[DropDisabled])
	}
}

// checkPurged checks that the client that ended with st left no spooled
// events under home and dropped want events as disabled.
func checkPurged(t *testing.T, st Stats, home string, want int64) {
	t.Helper()
	if st.Spooled != 0 || spoolFiles(t, home) != 0 {
		t.Errorf("spool holds %d events in %d files after opting out", st.Spooled, spoolFiles(t, home))
	}
	if st.DroppedByReason[DropDisabled] != want {
		t.Errorf("disabled drops = %d, want %d (%v)", st.DroppedByReason[DropDisabled], want, st.DroppedByReason)
	}
}

func TestPersistedOptOutPurgesSpoolAtStart(t *testing.T) {
	for _, tc := range []struct {
		name       string
		config     string
		env        env
		wantSpool  int
		wantPurged int64
	}{
		{"persisted choice off", `{"telemetryEnabled": false}`, env{}, 0, 5},
		{"environment variable", `{"telemetryEnabled": true}`, env{"MUX_DISABLE_TELEMETRY": "1"}, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := newCollector(t)
			url := col.srv.URL
			col.srv.Close()
			cfg := testConfig(t, url)
			cfg.BatchSize = 5
			first := newClient(t, cfg)
			captureN(first, 5)
			waitFor(t, "the spool", func() bool { return first.Stats().Spooled == 5 })
			closeClient(t, first)

			writeFile(t, filepath.Join(cfg.Home, ConfigFile), tc.config)
			cfg.Getenv = tc.env.get
			second := newClient(t, cfg)
			st := closeClient(t, second)
			if got := spoolFiles(t, cfg.Home); got != tc.wantSpool {
				t.Errorf("spool files after a run disabled by the %s = %d, want %d", tc.name, got, tc.wantSpool)
			}
			if got := st.DroppedByReason[DropDisabled]; got != tc.wantPurged {
				t.Errorf("disabled drops = %d, want %d", got, tc.wantPurged)
			}
		})
	}
}

func TestConfigChangedByAnotherProcess(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.FlushInterval = time.Hour
	path := filepath.Join(cfg.Home, ConfigFile)
	c := newClient(t, cfg)
	captureN(c, 3)
	waitFor(t, "the events to be encoded", func() bool { return len(c.queue) == 0 })

	// Another process writes the file: no call into this client.
	writeFile(t, path, `{"telemetryEnabled": false}`)
	start := time.Now()
	waitFor(t, "the poll to see the change", func() bool { return c.Stats().DroppedByReason[DropDisabled] == 3 })
	if took := time.Since(start); took > 2*configPollInterval {
		t.Errorf("the change took %s to apply", took)
	}
	if !c.IsExplicitlyDisabled() {
		t.Errorf("status after the change: %s", c.Status())
	}
	c.Capture(mux.CommandUsed{Command: "new"})

	writeFile(t, path, `{"telemetryEnabled": true}`)
	if !c.IsEnabled() {
		t.Errorf("not enabled again: %s", c.Status())
	}
	st := closeClient(t, c)
	if col.requestCount() != 0 {
		t.Errorf("collector got %d requests, want 0", col.requestCount())
	}
	if st.Ignored != 1 {
		t.Errorf("ignored %d captures while off, want 1", st.Ignored)
	}
}

func TestConfigCheckedBeforeSend(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.FlushInterval = time.Hour
	c := newClient(t, cfg)
	captureN(c, 3)
	writeFile(t, filepath.Join(cfg.Home, ConfigFile), `{"telemetryEnabled": false}`)
	flush(t, c) // sends at once, before the next poll
	st := closeClient(t, c)
	if col.requestCount() != 0 || st.DroppedByReason[DropDisabled] != 3 {
		t.Errorf("requests %d, disabled drops %d: want 0 and 3", col.requestCount(), st.DroppedByReason[DropDisabled])
	}
}

func TestEnvOptOutAtCapture(t *testing.T) {
	for _, variable := range []string{"MUX_DISABLE_TELEMETRY", "DO_NOT_TRACK"} {
		t.Run(variable, func(t *testing.T) {
			col := newCollector(t)
			cfg := testConfig(t, col.srv.URL)
			e := &syncEnv{}
			cfg.Getenv = e.get
			c := newClient(t, cfg)
			c.Capture(mux.CommandUsed{Command: "new"})
			flush(t, c)
			e.set(variable, "1")
			c.Capture(mux.CommandUsed{Command: "new"}) // before any poll
			if c.Stats().Ignored != 1 {
				t.Errorf("capture after %s=1 not ignored", variable)
			}
			if c.IsEnabled() || !c.IsExplicitlyDisabled() || c.InstallID() != "" {
				t.Errorf("status %s, InstallID %q", c.Status(), c.InstallID())
			}
			st := closeClient(t, c)
			if st.Sent != 1 {
				t.Errorf("sent %d, want only the event before the switch", st.Sent)
			}
		})
	}
}

// lockedBuffer is a bytes.Buffer safe for the sender's writes and the
// test's reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestDebugPrintSendsNothing(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.Getenv = env{"MUX_TELEMETRY_DEBUG": "print"}.get
	out := &lockedBuffer{}
	cfg.DebugOutput = out
	c := newClient(t, cfg)
	if c.Status().Debug != DebugPrint {
		t.Errorf("status debug = %q, want print", c.Status().Debug)
	}
	c.Capture(validMessage())
	c.Capture(mux.CommandUsed{Command: "new"})
	flush(t, c)
	st := closeClient(t, c)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("printed %d lines, want 2:\n%s", len(lines), out)
	}
	var ev decoded
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil || ev.Event != "message_sent" || ev.Properties["message_length_b2"] != 512.0 {
		t.Errorf("first line %s (error %v), want the normalized message_sent", lines[0], err)
	}
	if col.requestCount() != 0 || st.Printed != 2 || st.Sent != 0 {
		t.Errorf("requests %d printed %d sent %d, want 0, 2, 0", col.requestCount(), st.Printed, st.Sent)
	}
	if _, err := os.Stat(filepath.Join(cfg.Home, SpoolDir)); !os.IsNotExist(err) {
		t.Errorf("spool created in print mode")
	}
}

func TestDebugTeePrintsWhatIsSent(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.Getenv = env{"MUX_TELEMETRY_DEBUG": "tee"}.get
	out := &lockedBuffer{}
	cfg.DebugOutput = out
	c := newClient(t, cfg)
	c.Capture(validMessage())
	flush(t, c)
	closeClient(t, c)

	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.requests) != 1 || len(col.requests[0].Batch) != 1 {
		t.Fatalf("collector got %d requests, want 1 with 1 event", len(col.requests))
	}
	if printed, sent := strings.TrimSpace(out.String()), string(col.requests[0].Batch[0]); printed != sent {
		t.Errorf("printed\n%s\nsent\n%s", printed, sent)
	}
}

func TestCloseBoundedByContext(t *testing.T) {
	leakcheck.Check(t)
	col := newCollector(t)
	release := make(chan struct{})
	col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
		<-release
		return false
	})
	defer close(release)

	cfg := testConfig(t, col.srv.URL)
	c := newClient(t, cfg)
	captureN(c, 5)
	waitFor(t, "the upload to start", func() bool { return len(c.queue) == 0 && c.Stats().Queued == 5 && col.inFlight() })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	st, err := c.Close(ctx)
	if took := time.Since(start); took > time.Second {
		t.Errorf("Close took %s with a 200ms context", took)
	}
	if err != nil {
		t.Errorf("Close: %v, want nil because the events were spooled", err)
	}
	if st.Spooled != 5 || st.Dropped != 0 {
		t.Errorf("spooled %d dropped %d, want 5 and 0", st.Spooled, st.Dropped)
	}
}

func TestConcurrentCloseBoundedByContext(t *testing.T) {
	leakcheck.Check(t)
	col := newCollector(t)
	release := make(chan struct{})
	col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
		<-release
		return false
	})
	defer close(release)

	c := newClient(t, testConfig(t, col.srv.URL))
	captureN(c, 5)
	waitFor(t, "the upload to start", func() bool { return col.inFlight() })
	firstCtx, cancelFirst := context.WithCancel(context.Background())
	firstDone := make(chan struct{})
	go func() {
		defer close(firstDone)
		c.Close(firstCtx)
	}()
	defer func() {
		cancelFirst()
		<-firstDone
	}()
	waitFor(t, "the first Close to start", c.closed.Load)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Close(ctx)
	if took := time.Since(start); took > time.Second {
		t.Errorf("second Close took %s with a 200ms context while the first waits for the collector", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second Close: %v, want an error that wraps context.DeadlineExceeded", err)
	}
}

func TestForgetInAnotherProcess(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.FlushInterval = time.Hour
	c := newClient(t, cfg)
	other := newClient(t, cfg)
	oldID := c.InstallID()
	oldSecret, _ := c.deletionSecret()
	if oldID == "" || other.InstallID() != oldID {
		t.Fatalf("install IDs %q and %q, want one shared ID", oldID, other.InstallID())
	}
	captureN(c, 3)
	waitFor(t, "the events to be encoded", func() bool { return len(c.queue) == 0 })

	if _, err := other.Forget(context.Background(), ForgetOptions{LocalOnly: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the forgotten events to be dropped", func() bool {
		return c.Stats().DroppedByReason[DropForgotten] == 3
	})
	captureN(c, 1)
	if err := c.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	closeClient(t, c)

	events := col.accepted()
	if len(events) != 1 {
		t.Fatalf("collector got %d events, want only the one captured after forget", len(events))
	}
	if events[0].DistinctID == oldID || events[0].DistinctID == "" {
		t.Errorf("event sent under %q after the install %q was forgotten, want a new ID", events[0].DistinctID, oldID)
	}
	// The old secret's hash would link the new ID to the forgotten one.
	bodies := col.bodies()
	if bytes.Contains(bodies[len(bodies)-1], []byte(HashDeletionSecret(oldSecret))) {
		t.Errorf("the request after forget carries the old deletion key hash")
	}
}

// pauseSender blocks the sender goroutine of c until resume is called.
func pauseSender(t *testing.T, c *Client) (resume func()) {
	t.Helper()
	paused, release := make(chan struct{}), make(chan struct{})
	go c.onSender(context.Background(), func(*sender) {
		close(paused)
		<-release
	})
	<-paused
	return func() { close(release) }
}

func TestOptOutAndInBeforeSenderLooks(t *testing.T) {
	col := newCollector(t)
	c := newClient(t, testConfig(t, col.srv.URL))
	resume := pauseSender(t, c)

	c.Capture(mux.CommandUsed{Command: "new"})
	if err := c.SetEnabled(false); err != nil {
		t.Fatal(err)
	}
	if err := c.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	c.Capture(mux.CommandUsed{Command: "fork"})
	resume()
	st := closeClient(t, c)

	if st.Sent != 1 || st.DroppedByReason[DropDisabled] != 1 {
		t.Errorf("sent %d, dropped %v; want the event captured after the opt-in sent and the one before the opt-out dropped", st.Sent, st.DroppedByReason)
	}
	accepted := col.accepted()
	if len(accepted) != 1 || accepted[0].Properties["command"] != "fork" {
		t.Errorf("collector got %+v, want only the command fork", accepted)
	}
}

// TestCaptureOverlappingOptOut holds a capture inside Config.Clock while
// the user opts out and in again, and captures once more before it ends.
// The held capture read the switches before the opt-out, so its event must
// be dropped even though it reaches the queue after the opt-in's event.
func TestCaptureOverlappingOptOut(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	var holdNext atomic.Bool
	clockEntered, release := make(chan struct{}), make(chan struct{})
	cfg.Clock = func() time.Time {
		if holdNext.CompareAndSwap(true, false) {
			close(clockEntered)
			<-release
		}
		return time.Now()
	}
	c := newClient(t, cfg)
	resume := pauseSender(t, c)

	holdNext.Store(true)
	captured := make(chan struct{})
	go func() {
		defer close(captured)
		c.Capture(mux.CommandUsed{Command: "new"})
	}()
	<-clockEntered
	if err := c.SetEnabled(false); err != nil {
		t.Fatal(err)
	}
	if err := c.SetEnabled(true); err != nil {
		t.Fatal(err)
	}
	c.Capture(mux.CommandUsed{Command: "fork"})
	close(release)
	<-captured
	resume()
	st := closeClient(t, c)

	got := sentCommands(col)
	if got["new"] != 0 {
		t.Errorf("collector accepted %d events captured before the opt-out, want 0", got["new"])
	}
	if got["fork"] != 1 {
		t.Errorf("collector accepted %d events captured after the opt-in, want 1", got["fork"])
	}
	if st.DroppedByReason[DropDisabled] != 1 {
		t.Errorf("dropped %v, want one DropDisabled", st.DroppedByReason)
	}
}

func TestOptOutAndInJustBeforeUpload(t *testing.T) {
	col := newCollector(t)
	c := newClient(t, testConfig(t, col.srv.URL))
	var once sync.Once
	c.beforeUpload = func() {
		// The sender has read the switches and taken the batch.
		once.Do(func() {
			if err := c.SetEnabled(false); err != nil {
				t.Error(err)
			}
			if err := c.SetEnabled(true); err != nil {
				t.Error(err)
			}
		})
	}

	c.Capture(mux.CommandUsed{Command: "new"})
	flush(t, c)
	c.Capture(mux.CommandUsed{Command: "fork"})
	st := closeClient(t, c)

	accepted := col.accepted()
	if len(accepted) != 1 || accepted[0].Properties["command"] != "fork" {
		t.Errorf("collector got %+v, want only the command fork, captured after the opt-in", accepted)
	}
	if st.Sent != 1 || st.DroppedByReason[DropDisabled] != 1 {
		t.Errorf("sent %d, dropped %v; want 1 sent and 1 dropped as disabled", st.Sent, st.DroppedByReason)
	}
}

func TestDebugModeIgnoresCase(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.Getenv = env{"MUX_TELEMETRY_DEBUG": "PRINT"}.get
	cfg.DebugOutput = &lockedBuffer{}
	c := newClient(t, cfg)
	if got := c.Status().Debug; got != DebugPrint {
		t.Errorf("status debug with PRINT = %q, want %q", got, DebugPrint)
	}
	c.Capture(mux.CommandUsed{Command: "new"})
	flush(t, c)
	st := closeClient(t, c)
	if col.requestCount() != 0 || st.Printed != 1 {
		t.Errorf("requests %d printed %d with PRINT, want 0 and 1", col.requestCount(), st.Printed)
	}
}

func TestDebugUnknownValueIsNoted(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.Getenv = env{"MUX_TELEMETRY_DEBUG": "1"}.get
	c := newClient(t, cfg)
	st := c.Status()
	if st.Debug != "" {
		t.Errorf("status debug with 1 = %q, want empty", st.Debug)
	}
	want := `MUX_TELEMETRY_DEBUG="1" is ignored: only "print" or "tee" writes events to the debug output`
	if len(st.Ignored) != 1 || st.Ignored[0] != want {
		t.Errorf("ignored = %q, want [%q]", st.Ignored, want)
	}
	if len(st.Reasons) != 4 {
		t.Errorf("got %d reasons, want one per switch: %q", len(st.Reasons), st.Reasons)
	}
}
