package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/candor-dev/candor/internal/browsertest"
	"github.com/candor-dev/candor/internal/server"
	"github.com/candor-dev/candor/internal/store"
)

const writeKey = "phc_muxapp_test_write_key"

// collector is a real candor collector behind a loopback proxy that counts
// the requests reaching it and keeps their decoded bodies.
type collector struct {
	srv   *server.Server
	proxy *httptest.Server

	mu       sync.Mutex
	requests int
	bodies   []string // decompressed request bodies
	events   []sentEvent
}

// sentEvent is one event of a batch as the proxy decoded it.
type sentEvent struct {
	Event      string         `json:"event"`
	DistinctID string         `json:"distinct_id"`
	Properties map[string]any `json:"properties"`
}

func startCollector(t *testing.T) *collector {
	t.Helper()
	srv, err := server.New(server.Config{
		DataDir:    t.TempDir(),
		Listen:     "127.0.0.1:0",
		WriteKey:   writeKey,
		AdminToken: "muxapp-test-admin-token",
	})
	if err != nil {
		t.Fatalf("start collector: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("shut down collector: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("collector: %v", err)
		}
	})

	target, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{srv: srv}
	proxy := httputil.NewSingleHostReverseProxy(target)
	c.proxy = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.record(t, r)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(c.proxy.Close)
	return c
}

// record counts a request and decodes its batch, leaving the body for the
// proxy to forward.
func (c *collector) record(t *testing.T, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("proxy: read body: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))

	body := raw
	if r.Header.Get("Content-Encoding") == "gzip" {
		if gz, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
			body, _ = io.ReadAll(gz)
		}
	}
	var batch struct {
		Batch []sentEvent `json:"batch"`
	}
	json.Unmarshal(body, &batch)

	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	c.bodies = append(c.bodies, string(body))
	c.events = append(c.events, batch.Batch...)
}

func (c *collector) snapshot() (requests int, bodies []string, events []sentEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests, append([]string(nil), c.bodies...), append([]sentEvent(nil), c.events...)
}

// stored returns the number of stored events by name.
func (c *collector) stored(t *testing.T) map[string]int64 {
	t.Helper()
	ov, err := c.srv.Store().Overview(context.Background(), store.Filter{Project: "mux"})
	if err != nil {
		t.Fatalf("overview: %v", err)
	}
	if ov.Events == nil {
		return map[string]int64{}
	}
	return ov.Events
}

// waitStored flushes the app's telemetry until the collector stores the
// expected counts, then checks that no further event arrives.
func waitStored(t *testing.T, a *App, c *collector, want map[string]int64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var got map[string]int64
	for {
		flush(t, a)
		got = c.stored(t)
		if equalCounts(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !equalCounts(got, want) {
		t.Fatalf("collector stored %v, want %v", got, want)
	}
	// A late event would show up now.
	time.Sleep(300 * time.Millisecond)
	flush(t, a)
	time.Sleep(200 * time.Millisecond)
	if got := c.stored(t); !equalCounts(got, want) {
		t.Fatalf("collector stored %v after settling, want exactly %v", got, want)
	}
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func flush(t *testing.T, a *App) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Telemetry().Flush(ctx); err != nil {
		t.Fatalf("flush telemetry: %v", err)
	}
}

// env is an environment injected into the app's telemetry client.
type env map[string]string

func (e env) get(name string) string { return e[name] }

// appOptions adjusts the app a test starts.
type appOptions struct {
	env        env                             // the environment the SDK reads
	wrap       func(http.Handler) http.Handler // wraps the app's handler, if not nil
	replyDelay time.Duration                   // 0 means 50ms
}

// startApp runs the app on a loopback port with its SDK pointed at the
// collector's proxy.
func startApp(t *testing.T, c *collector, opts appOptions) (*App, string) {
	t.Helper()
	if opts.replyDelay == 0 {
		opts.replyDelay = 50 * time.Millisecond
	}
	a, err := newApp(Config{
		Endpoint:        c.proxy.URL,
		WriteKey:        writeKey,
		Home:            t.TempDir(),
		ReplyDelay:      opts.replyDelay,
		AllowAutomation: true, // go test and CI count as automation
		FlushInterval:   100 * time.Millisecond,
		Getenv:          opts.env.get,
	})
	if err != nil {
		t.Fatalf("start app: %v", err)
	}
	var handler http.Handler = a
	if opts.wrap != nil {
		handler = opts.wrap(a)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Errorf("close app: %v", err)
		}
	})
	return a, srv.URL
}

// waitUntil polls a JavaScript condition for up to 10 seconds.
func waitUntil(t *testing.T, ctx context.Context, description, condition string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](condition, chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("wait until %s (%s): %v", description, condition, err)
	}
}

func text(t *testing.T, ctx context.Context, expression string) string {
	t.Helper()
	return browsertest.Run(t, ctx, chromedp.Evaluate[string](expression))
}

func screenshotDir(t *testing.T) string {
	if dir := os.Getenv("CANDOR_SCREENSHOTS"); dir != "" {
		return dir
	}
	return t.TempDir()
}

func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png := browsertest.Run(t, ctx, chromedp.FullScreenshot(100))
	path := filepath.Join(screenshotDir(t), "muxapp-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
}

// openApp loads the app and waits until it has drawn itself.
func openApp(t *testing.T, ctx context.Context, appURL string) {
	t.Helper()
	browsertest.Do(t, ctx, chromedp.Navigate(appURL+"/"))
	waitUntil(t, ctx, "the app is ready", `document.body.dataset.ready === "true"`)
}

func createWorkspace(t *testing.T, ctx context.Context, name, runtime string) {
	t.Helper()
	before := browsertest.Run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#workspace-list li").length`))
	browsertest.Do(t, ctx,
		chromedp.SendKeys(chromedp.CSS("#workspace-name"), name),
		chromedp.SetValue(chromedp.CSS("#workspace-runtime"), runtime),
		chromedp.Click(chromedp.CSS("#create-workspace")),
	)
	waitUntil(t, ctx, "workspace "+name+" is open",
		fmt.Sprintf(`document.querySelectorAll("#workspace-list li").length === %d && document.getElementById("workspace-title").textContent === %q`, before+1, name))
}

func sendMessage(t *testing.T, ctx context.Context, message string) {
	t.Helper()
	before := browsertest.Run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#messages .message.assistant:not(.pending)").length`))
	browsertest.Do(t, ctx,
		chromedp.SendKeys(chromedp.CSS("#message-text"), message),
		chromedp.Click(chromedp.CSS("#send")),
	)
	waitUntil(t, ctx, "the stub model replies",
		fmt.Sprintf(`document.querySelectorAll("#messages .message.assistant:not(.pending)").length === %d`, before+1))
}

func openSettings(t *testing.T, ctx context.Context) {
	t.Helper()
	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS("#nav-settings")))
	waitUntil(t, ctx, "the settings page shows the status", `!document.getElementById("settings-view").hidden && document.getElementById("telemetry-state").textContent.startsWith("Usage telemetry is")`)
}

// toggleState is what the settings page shows.
type toggleState struct {
	Checked  bool   `json:"checked"`
	Disabled bool   `json:"disabled"`
	State    string `json:"state"`
	Note     string `json:"note"`
}

func readToggle(t *testing.T, ctx context.Context) toggleState {
	t.Helper()
	return browsertest.Run(t, ctx, chromedp.Evaluate[toggleState](`(() => {
		const toggle = document.getElementById("telemetry-toggle");
		return {
			checked: toggle.checked,
			disabled: toggle.disabled,
			state: document.getElementById("telemetry-state").textContent,
			note: document.getElementById("telemetry-note").textContent,
		};
	})()`))
}

func shareButtons(t *testing.T, ctx context.Context) int {
	t.Helper()
	return browsertest.Run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#messages button.share").length`))
}

func containsAny(s string, parts ...string) bool {
	for _, p := range parts {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}
