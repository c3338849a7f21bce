// Package browsertest starts headless Chromium for tests through chromedp,
// with the browser's own network traffic off and every host name but
// 127.0.0.1 unresolvable, so a page under test can reach only loopback
// servers.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is the Chromium binary that the tests run.
const ChromiumPath = "/usr/bin/chromium"

// browserTimeout bounds the whole life of one browser, tests included.
const browserTimeout = 90 * time.Second

// SkipWithoutChromium skips the test when ChromiumPath does not exist.
func SkipWithoutChromium(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Skipf("skip browser test: Chromium not found at %s (%v); install the chromium package to run it", ChromiumPath, err)
	}
}

// NewContext starts headless Chromium with a width × height window and a
// fresh profile in t.TempDir, and returns its chromedp context. It skips the test when Chromium is missing and stops the
// browser in t.Cleanup.
func NewContext(t testing.TB, width, height int) context.Context {
	t.Helper()
	SkipWithoutChromium(t)

	ctx, cancelTimeout := context.WithTimeout(context.Background(), browserTimeout)
	allocator, cancelAllocator := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Env("TMPDIR="+chromiumTempDir(t)),
		chromedp.WindowSize(width, height),
	)
	browser, cancelBrowser := chromedp.NewContext(allocator)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAllocator()
		cancelTimeout()
	})
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start Chromium at %s: %v", ChromiumPath, err)
	}
	return browser
}

// chromiumTempDir returns a new folder for Chromium's TMPDIR, which the
// test removes after it has stopped the browser. Chromium leaves the folder
// of its singleton socket in TMPDIR when it is killed. The folder is not a
// t.TempDir, whose long name would push the socket's path past the 107
// bytes that a Unix socket's path may have on Linux.
func chromiumTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "chromium-")
	if err != nil {
		t.Fatalf("create a TMPDIR for Chromium: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// Console collects the errors, warnings and exceptions that pages write to
// the browser console.
type Console struct {
	mu       sync.Mutex
	messages []string
}

// CollectConsole starts collecting the console messages of the browser in
// ctx until the test ends.
func CollectConsole(t testing.TB, ctx context.Context) *Console {
	ctx, cancel := context.WithCancel(ctx)
	console := &Console{}
	done := make(chan struct{})
	messages := chromedp.Console(ctx)
	go func() {
		defer close(done)
		for message, err := range messages {
			if err != nil {
				return
			}
			switch message.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				console.mu.Lock()
				console.messages = append(console.messages, fmt.Sprintf("%s (%s:%d)", message, message.URL, message.Line))
				console.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return console
}

// Messages returns a copy of the messages collected so far, each with the
// URL and line that wrote it.
func (c *Console) Messages() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.messages...)
}

// Do runs the chromedp steps in ctx and fails the test when one fails.
func Do(t testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// Run runs the chromedp action in ctx and returns its value. It fails the
// test when the action fails.
func Run[T any](t testing.TB, ctx context.Context, action chromedp.Action[T]) T {
	t.Helper()
	value, err := chromedp.Run(ctx, action)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return value
}
