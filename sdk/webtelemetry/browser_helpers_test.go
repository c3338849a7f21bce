package webtelemetry_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// chromiumPath is Debian's Chromium, which scripts/test.sh installs.
const chromiumPath = "/usr/bin/chromium"

// browser is headless Chromium driven through the Chrome DevTools Protocol
// over --remote-debugging-pipe: the browser reads commands from file
// descriptor 3 and writes responses and events to descriptor 4, each
// message a JSON object followed by a NUL byte. The SDK module depends on
// no DevTools library, so these helpers speak the protocol themselves.
type browser struct {
	cmd      *exec.Cmd
	commands *os.File // our end of descriptor 3
	done     chan struct{}

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan cdpResponse
	readErr error
}

type cdpResponse struct {
	ID     int64           `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// startBrowser starts headless Chromium with a fresh profile and the
// browser's own network traffic off. Every host name but 127.0.0.1 fails
// to resolve, so pages reach only the test's loopback servers. It skips
// the test when Chromium is missing and stops the browser in t.Cleanup.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("skip browser test: Chromium not found at %s (%v); install the chromium package to run it", chromiumPath, err)
	}
	browserReads, commands, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	messages, browserWrites, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(chromiumPath,
		"--headless",
		"--no-sandbox",
		"--disable-gpu",
		"--remote-debugging-pipe",
		"--no-first-run",
		"--no-default-browser-check",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--disable-default-apps",
		"--disable-extensions",
		"--disable-domain-reliability",
		"--disable-client-side-phishing-detection",
		"--disable-quic",
		"--metrics-recording-only",
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		"--user-data-dir="+t.TempDir(),
		"about:blank",
	)
	cmd.ExtraFiles = []*os.File{browserReads, browserWrites}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start Chromium at %s: %v", chromiumPath, err)
	}
	browserReads.Close()
	browserWrites.Close()

	b := &browser{cmd: cmd, commands: commands, done: make(chan struct{}), pending: map[int64]chan cdpResponse{}}
	go b.read(messages)
	t.Cleanup(func() { b.stop(t) })
	return b
}

// read delivers each response to the call that waits for it, and drops
// the protocol's events, which the tests do not use.
func (b *browser) read(messages *os.File) {
	defer close(b.done)
	defer messages.Close()
	r := bufio.NewReader(messages)
	for {
		message, err := r.ReadBytes(0)
		if err != nil {
			b.fail(fmt.Errorf("read from Chromium: %w", err))
			return
		}
		var resp cdpResponse
		if err := json.Unmarshal(message[:len(message)-1], &resp); err != nil || resp.ID == 0 {
			continue
		}
		b.mu.Lock()
		ch := b.pending[resp.ID]
		delete(b.pending, resp.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- resp
		}
	}
}

// fail ends every waiting call with err once the browser's output closes.
func (b *browser) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.readErr = err
	for id, ch := range b.pending {
		close(ch)
		delete(b.pending, id)
	}
}

func (b *browser) stop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = b.call(ctx, "", "Browser.close", nil)
	b.commands.Close()
	exited := make(chan error, 1)
	go func() { exited <- b.cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Errorf("Chromium did not exit within 10 s of Browser.close; killing it")
		b.cmd.Process.Kill()
		<-exited
	}
	<-b.done
}

// call sends one command, to the page of sessionID or to the browser when
// it is empty, and returns its result.
func (b *browser) call(ctx context.Context, sessionID, method string, params any) (json.RawMessage, error) {
	ch := make(chan cdpResponse, 1)
	b.mu.Lock()
	if b.readErr != nil {
		b.mu.Unlock()
		return nil, b.readErr
	}
	b.nextID++
	id := b.nextID
	b.pending[id] = ch
	b.mu.Unlock()

	command := map[string]any{"id": id, "method": method}
	if params != nil {
		command["params"] = params
	}
	if sessionID != "" {
		command["sessionId"] = sessionID
	}
	data, err := json.Marshal(command)
	if err != nil {
		return nil, err
	}
	if _, err := b.commands.Write(append(data, 0)); err != nil {
		return nil, fmt.Errorf("send %s to Chromium: %w", method, err)
	}

	select {
	case resp, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("%s: Chromium closed the pipe: %w", method, b.readErr)
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, resp.Error.Message)
		}
		return resp.Result, nil
	case <-ctx.Done():
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// page is one tab of the browser.
type page struct {
	browser   *browser
	targetID  string
	sessionID string
}

// newPage opens a blank tab in a window of its own.
func (b *browser) newPage(t *testing.T) *page {
	t.Helper()
	var target struct {
		TargetID string `json:"targetId"`
	}
	b.mustCall(t, "", "Target.createTarget", map[string]any{"url": "about:blank", "newWindow": true}, &target)
	var session struct {
		SessionID string `json:"sessionId"`
	}
	b.mustCall(t, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &session)
	return &page{browser: b, targetID: target.TargetID, sessionID: session.SessionID}
}

func (b *browser) mustCall(t *testing.T, sessionID, method string, params, result any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	raw, err := b.call(ctx, sessionID, method, params)
	if err != nil {
		t.Fatal(err)
	}
	if result != nil {
		if err := json.Unmarshal(raw, result); err != nil {
			t.Fatalf("decode the result of %s %s: %v", method, raw, err)
		}
	}
}

// navigate loads url in the tab and waits until its document has loaded.
func (p *page) navigate(t *testing.T, url string) {
	t.Helper()
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	p.browser.mustCall(t, p.sessionID, "Page.navigate", map[string]any{"url": url}, &nav)
	if nav.ErrorText != "" {
		t.Fatalf("navigate to %s: %s", url, nav.ErrorText)
	}
	p.waitUntil(t, "the page at "+url+" has loaded",
		fmt.Sprintf(`location.href === %q && document.readyState === "complete"`, url))
}

// evaluate runs expression in the tab, awaits it when it is a promise, and
// decodes its value into result unless result is nil.
func (p *page) evaluate(t *testing.T, expression string, result any) {
	t.Helper()
	if err := p.tryEvaluate(t.Context(), expression, result); err != nil {
		t.Fatal(err)
	}
}

func (p *page) tryEvaluate(ctx context.Context, expression string, result any) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	raw, err := p.browser.call(ctx, p.sessionID, "Runtime.evaluate", map[string]any{
		"expression":    expression,
		"awaitPromise":  true,
		"returnByValue": true,
	})
	if err != nil {
		return err
	}
	var out struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return fmt.Errorf("decode the result of %s: %w", expression, err)
	}
	if out.ExceptionDetails != nil {
		return fmt.Errorf("evaluate %s: %s %s", expression, out.ExceptionDetails.Text, out.ExceptionDetails.Exception.Description)
	}
	if result == nil || len(out.Result.Value) == 0 {
		return nil
	}
	return json.Unmarshal(out.Result.Value, result)
}

// waitUntil evaluates condition every 50 ms until it is true, and fails
// the test after 10 s. An evaluation that fails, as one does while a
// navigation replaces the document, counts as false.
func (p *page) waitUntil(t *testing.T, what, condition string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		var ok bool
		lastErr = p.tryEvaluate(t.Context(), "Boolean("+condition+")", &ok)
		if lastErr == nil && ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	if lastErr != nil && !errors.Is(lastErr, io.EOF) {
		t.Fatalf("timed out after 10 s waiting until %s: %v", what, lastErr)
	}
	t.Fatalf("timed out after 10 s waiting until %s", what)
}
