package telemetry

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/sdk/internal/leakcheck"
	"github.com/candor-dev/candor/sdk/mux"
)

func TestCaptureSendsWireEvent(t *testing.T) {
	leakcheck.Check(t)
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	at := time.Date(2026, 3, 15, 14, 30, 0, 123456789, time.FixedZone("CET", 3600))
	cfg.Clock = func() time.Time { return at }
	cfg.Platform = "windows"
	c := newClient(t, cfg)

	c.SetFeatureFlagVariant("new-onboarding", "treatment")
	c.Capture(validMessage())
	flush(t, c)
	st := closeClient(t, c)

	events := col.accepted()
	if len(events) != 1 {
		t.Fatalf("got %d events, want 1", len(events))
	}
	ev := events[0]
	if ev.Event != "message_sent" {
		t.Errorf("event = %q, want message_sent", ev.Event)
	}
	if ev.DistinctID != c.InstallID() && c.InstallID() != "" {
		t.Errorf("distinct_id = %q, want the install ID %q", ev.DistinctID, c.InstallID())
	}
	if !isV4(ev.UUID) {
		t.Errorf("uuid = %q, want a UUIDv4", ev.UUID)
	}
	if ev.Timestamp != "2026-03-15T13:30:00.123456789Z" {
		t.Errorf("timestamp = %q, want the clock's time in UTC", ev.Timestamp)
	}
	want := map[string]any{
		"workspaceId":             "3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b",
		"model":                   "anthropic/claude-sonnet-4-5",
		"message_length_b2":       512.0,
		"runtimeType":             "local",
		"thinkingLevel":           "medium",
		"frontendPlatform":        map[string]any{"userAgent": "Chrome 131 (macOS)", "platform": "macOS"},
		"version":                 "1.2.3",
		"backend_platform":        "win32",
		"electronVersion":         "unknown",
		"nodeVersion":             "unknown",
		"bunVersion":              "unknown",
		"goVersion":               runtime.Version(),
		"catalogFingerprint":      mux.Catalog().Fingerprint(),
		"$lib":                    "candor-go",
		"$lib_version":            LibraryVersion,
		"$geoip_disable":          true,
		"$feature/new-onboarding": "treatment",
	}
	if diff := diff(want, ev.Properties); diff != "" {
		t.Errorf("properties (-want +got):\n%s", diff)
	}
	if st.Captured != 1 || st.Sent != 1 || st.Dropped != 0 || st.Queued != 0 {
		t.Errorf("stats = %+v, want 1 captured and sent", st)
	}
}

func TestRequestShape(t *testing.T) {
	col := newCollector(t)
	c := newClient(t, testConfig(t, col.srv.URL))
	c.Capture(mux.CommandUsed{Command: "compact"})
	flush(t, c)
	closeClient(t, c)

	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.requests) != 1 {
		t.Fatalf("got %d requests, want 1", len(col.requests))
	}
	r := col.requests[0]
	if r.APIKey != "phc_test" {
		t.Errorf("api_key = %q, want phc_test", r.APIKey)
	}
	if _, err := time.Parse(time.RFC3339Nano, r.SentAt); err != nil {
		t.Errorf("sent_at %q: %v", r.SentAt, err)
	}
	if got := r.header.Get("Content-Encoding"); got != "gzip" {
		t.Errorf("Content-Encoding = %q, want gzip", got)
	}
	if got := r.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if got := r.header.Get("User-Agent"); !strings.HasPrefix(got, "candor-go/") {
		t.Errorf("User-Agent = %q, want candor-go/<version>", got)
	}
}

func TestFeatureFlagRemovedByNil(t *testing.T) {
	col := newCollector(t)
	c := newClient(t, testConfig(t, col.srv.URL))
	c.SetFeatureFlagVariant("exp", true)
	c.Capture(mux.CommandUsed{Command: "new"})
	flush(t, c)
	c.SetFeatureFlagVariant("exp", nil)
	c.Capture(mux.CommandUsed{Command: "new"})
	c.SetFeatureFlagVariant("bad flag name", "x")
	c.SetFeatureFlagVariant("exp2", "/home/alice/secret")
	flush(t, c)
	st := closeClient(t, c)

	events := col.accepted()
	if len(events) != 2 {
		t.Fatalf("got %d events, want 2", len(events))
	}
	if events[0].Properties["$feature/exp"] != true {
		t.Errorf("first event $feature/exp = %v, want true", events[0].Properties["$feature/exp"])
	}
	if _, ok := events[1].Properties["$feature/exp"]; ok {
		t.Errorf("second event still has $feature/exp after nil")
	}
	for k := range events[1].Properties {
		if strings.HasPrefix(k, "$feature/") {
			t.Errorf("second event has %s, want no rejected flag", k)
		}
	}
	if st.Violations["unknown_property"]+st.Violations["looks_like_path"] != 2 {
		t.Errorf("violations = %v, want the two rejected flags counted", st.Violations)
	}
}

func TestBatchesByCount(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.BatchSize = 10
	cfg.FlushInterval = time.Hour
	c := newClient(t, cfg)
	for range 25 {
		c.Capture(mux.CommandUsed{Command: "new"})
	}
	waitFor(t, "two full batches", func() bool { return col.requestCount() == 2 })
	flush(t, c)
	closeClient(t, c)

	col.mu.Lock()
	defer col.mu.Unlock()
	var sizes []int
	for _, r := range col.requests {
		sizes = append(sizes, len(r.Batch))
	}
	if diff := diff([]int{10, 10, 5}, sizes); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
}

func TestBatchesByAge(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.FlushInterval = 30 * time.Millisecond
	c := newClient(t, cfg)
	c.Capture(mux.CommandUsed{Command: "new"})
	waitFor(t, "the batch timer", func() bool { return len(col.accepted()) == 1 })
	closeClient(t, c)
}

func TestQueueFullDropsNewest(t *testing.T) {
	col := newCollector(t)
	block := make(chan struct{})
	col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
		<-block
		return false
	})
	cfg := testConfig(t, col.srv.URL)
	cfg.QueueSize = 5
	cfg.BatchSize = 1
	c := newClient(t, cfg)

	c.Capture(mux.CommandUsed{Command: "new"}) // taken by the sender, which then blocks
	waitFor(t, "the first upload", func() bool { return c.Stats().Queued == 1 && len(c.queue) == 0 })
	for range 20 {
		c.Capture(mux.CommandUsed{Command: "new"})
	}
	st := c.Stats()
	if st.DroppedByReason[DropQueueFull] != 15 {
		t.Errorf("queue_full drops = %d, want 15 (20 captured, 5 fit)", st.DroppedByReason[DropQueueFull])
	}
	close(block)
	flush(t, c)
	st = closeClient(t, c)
	if st.Sent != 6 || st.Captured != 21 || st.Dropped != 15 {
		t.Errorf("stats = sent %d captured %d dropped %d, want 6, 21, 15", st.Sent, st.Captured, st.Dropped)
	}
}

func TestRetryOn503(t *testing.T) {
	col := newCollector(t)
	col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
		if n < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	c := newClient(t, testConfig(t, col.srv.URL))
	c.Capture(mux.CommandUsed{Command: "new"})
	waitFor(t, "the fourth attempt", func() bool { return len(col.accepted()) == 1 })
	st := closeClient(t, c)
	if st.Retries != 3 || st.Sent != 1 {
		t.Errorf("retries %d sent %d, want 3 and 1", st.Retries, st.Sent)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	uuids := map[string]bool{}
	for _, r := range col.requests {
		for _, raw := range r.Batch {
			uuids[string(raw[:50])] = true
		}
	}
	if len(uuids) != 1 {
		t.Errorf("retries sent %d different event prefixes, want the same event each time", len(uuids))
	}
}

func TestDropOn400(t *testing.T) {
	col := newCollector(t)
	col.failFirst(http.StatusBadRequest)
	c := newClient(t, testConfig(t, col.srv.URL))
	c.Capture(mux.CommandUsed{Command: "new"})
	flush(t, c)
	c.Capture(mux.CommandUsed{Command: "fork"})
	flush(t, c)
	st := closeClient(t, c)
	if st.DroppedByReason[DropRejected] != 1 || st.Sent != 1 {
		t.Errorf("stats = %+v, want 1 rejected and 1 sent", st)
	}
}

func TestInvalidEventDroppedByReason(t *testing.T) {
	col := newCollector(t)
	c := newClient(t, testConfig(t, col.srv.URL))
	c.Capture(mux.ErrorOccurred{ErrorType: "/home/alice/project", Context: "git-operation"})
	c.Capture(mux.CommandUsed{Command: "rm -rf"})
	c.Capture(nil)
	flush(t, c)
	st := closeClient(t, c)
	want := map[string]int64{"looks_like_path": 1, "not_in_enum": 1, DropEncodeFailed: 1}
	if diff := diff(want, st.DroppedByReason); diff != "" {
		t.Errorf("drops (-want +got):\n%s", diff)
	}
	if n := len(col.accepted()); n != 0 {
		t.Errorf("collector got %d events, want 0", n)
	}
}

func TestCloseIdempotent(t *testing.T) {
	leakcheck.Check(t)
	col := newCollector(t)
	c := newClient(t, testConfig(t, col.srv.URL))
	c.Capture(mux.CommandUsed{Command: "new"})
	first := closeClient(t, c)
	second := closeClient(t, c)
	if diff := diff(first, second); diff != "" {
		t.Errorf("second Close differs (-first +second):\n%s", diff)
	}
	if first.Sent != 1 {
		t.Errorf("Close sent %d events, want the queued one", first.Sent)
	}
	c.Capture(mux.CommandUsed{Command: "new"})
	if got := c.Stats().DroppedByReason[DropClosed]; got != 1 {
		t.Errorf("closed drops = %d, want 1", got)
	}
	if err := c.Flush(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
}

func TestInstallIDFile(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.Home = filepath.Join(t.TempDir(), "home", ".mux")
	c := newClient(t, cfg)
	id := c.InstallID()
	if !isV4(id) {
		t.Fatalf("InstallID = %q, want a UUIDv4", id)
	}
	if !c.FirstLaunch() {
		t.Errorf("FirstLaunch = false on the first start")
	}
	data, err := os.ReadFile(filepath.Join(cfg.Home, InstallIDFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(data)) != id {
		t.Errorf("file holds %q, want %q", data, id)
	}
	if runtime.GOOS != "windows" {
		assertMode(t, filepath.Join(cfg.Home, InstallIDFile), 0o600)
		assertMode(t, cfg.Home, 0o700)
	}
	closeClient(t, c)

	again := newClient(t, cfg)
	if again.InstallID() != id {
		t.Errorf("second start ID = %q, want %q", again.InstallID(), id)
	}
	if again.FirstLaunch() {
		t.Errorf("FirstLaunch = true on the second start")
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("%s mode = %o, want %o", filepath.Base(path), got, want)
	}
}

func TestValidateNamesField(t *testing.T) {
	base := Config{App: "mux", Catalog: mux.Catalog(), Endpoint: "http://127.0.0.1:1", WriteKey: "k", Version: "1.2.3"}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"empty app", func(c *Config) { c.App = "" }, "App is empty"},
		{"bad app", func(c *Config) { c.App = "my app" }, `App "my app"`},
		{"app starting with a digit", func(c *Config) { c.App = "1notes" }, `App "1notes" starts with a digit`},
		{"nil catalog", func(c *Config) { c.Catalog = nil }, "Catalog is nil"},
		{"empty endpoint", func(c *Config) { c.Endpoint = "" }, `Endpoint ""`},
		{"ftp endpoint", func(c *Config) { c.Endpoint = "ftp://127.0.0.1" }, `Endpoint "ftp://127.0.0.1"`},
		{"endpoint with query", func(c *Config) { c.Endpoint = "http://127.0.0.1/?a=b" }, "remove the query"},
		{"endpoint with batch path", func(c *Config) { c.Endpoint = "http://127.0.0.1:8787/batch/" }, `use "http://127.0.0.1:8787"`},
		{"endpoint with batch path, no slash", func(c *Config) { c.Endpoint = "http://127.0.0.1:8787/batch" }, `use "http://127.0.0.1:8787"`},
		{"empty key", func(c *Config) { c.WriteKey = " " }, "WriteKey is empty"},
		{"empty version", func(c *Config) { c.Version = "" }, "Version is empty: set it to the app's version"},
		{"invalid version", func(c *Config) { c.Version = "build 7" }, `Version "build 7": invalid_version`},
		{"invalid electron version", func(c *Config) { c.ElectronVersion = "/opt/electron" }, `ElectronVersion "/opt/electron": invalid_version`},
		{"unknown platform", func(c *Config) { c.Platform = "Linux" }, `Platform "Linux": use`},
		{"negative queue", func(c *Config) { c.QueueSize = -1 }, "QueueSize -1"},
		{"queue too large", func(c *Config) { c.QueueSize = 1 << 40 }, "QueueSize 1099511627776 is over 1048576"},
		{"negative spool", func(c *Config) { c.Spool.MaxBytes = -1 }, "Spool.MaxBytes -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.change(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want it to contain %q", err, tt.want)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

// TestValidateNamesOnlyNegativeField checks that a negative size or
// duration fails with an error that names that field and no other.
func TestValidateNamesOnlyNegativeField(t *testing.T) {
	base := Config{App: "mux", Catalog: mux.Catalog(), Endpoint: "http://127.0.0.1:1", WriteKey: "k", Version: "1.2.3"}
	fields := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"QueueSize", func(c *Config) { c.QueueSize = -1 }, "QueueSize -1"},
		{"BatchSize", func(c *Config) { c.BatchSize = -1 }, "BatchSize -1"},
		{"FlushInterval", func(c *Config) { c.FlushInterval = -time.Second }, "FlushInterval -1s"},
		{"MaxRetryDelay", func(c *Config) { c.MaxRetryDelay = -time.Second }, "MaxRetryDelay -1s"},
		{"Spool.MaxEvents", func(c *Config) { c.Spool.MaxEvents = -1 }, "Spool.MaxEvents -1"},
		{"Spool.MaxBytes", func(c *Config) { c.Spool.MaxBytes = -1 }, "Spool.MaxBytes -1"},
		{"SentLogMaxBytes", func(c *Config) { c.SentLogMaxBytes = -1 }, "SentLogMaxBytes -1"},
	}
	for _, field := range fields {
		t.Run(field.name, func(t *testing.T) {
			cfg := base
			field.change(&cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatalf("Validate with %s succeeded, want an error", field.want)
			}
			if !strings.Contains(err.Error(), field.want) {
				t.Errorf("error %q does not contain %q", err, field.want)
			}
			for _, other := range fields {
				if other.name != field.name && strings.Contains(err.Error(), other.name+" ") {
					t.Errorf("error %q names %s, which is valid", err, other.name)
				}
			}
		})
	}
}

func isV4(s string) bool {
	return len(s) == 36 && s[14] == '4' && strings.ContainsRune("89ab", rune(s[19])) && strings.ToLower(s) == s
}

type panickyEvent struct{}

func (panickyEvent) EventName() string { panic("broken event type") }

func TestCaptureNeverPanics(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	calls := 0
	cfg.Clock = func() time.Time {
		calls++
		if calls == 1 {
			panic("broken clock")
		}
		return time.Now()
	}
	c := newClient(t, cfg)
	c.Capture(mux.CommandUsed{Command: "new"}) // the clock panics
	c.Capture(panickyEvent{})                  // EventName panics on the sender goroutine
	var nilPointer *mux.CommandUsed
	c.Capture(nilPointer)
	c.Capture(mux.CommandUsed{Command: "new"})
	flush(t, c)
	st := closeClient(t, c)
	if st.Sent != 1 {
		t.Errorf("sent %d, want the one good event", st.Sent)
	}
	if st.Captured != st.Sent+st.Dropped {
		t.Errorf("captured %d != sent %d + dropped %d", st.Captured, st.Sent, st.Dropped)
	}
	if st.DroppedByReason[DropEncodeFailed] != 3 {
		t.Errorf("encode_failed drops = %d, want 3 (%v)", st.DroppedByReason[DropEncodeFailed], st.DroppedByReason)
	}
}
