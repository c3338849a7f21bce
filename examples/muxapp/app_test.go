package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// call sends a JSON request to the app as its page would and decodes the
// JSON response into out, if not nil.
func call(t *testing.T, appURL, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, appURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", appURL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: decode response: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

func TestCreateWorkspaceValidation(t *testing.T) {
	c := startCollector(t)
	a, appURL := startApp(t, c, appOptions{})
	tests := []struct {
		body string
		want int
	}{
		{`{"name": "", "runtimeType": "local"}`, http.StatusBadRequest},
		{`{"name": "ok", "runtimeType": "cloud"}`, http.StatusBadRequest},
		{`{"name": "` + strings.Repeat("x", 65) + `", "runtimeType": "local"}`, http.StatusBadRequest},
		{`{"name": "ok", "runtimeType": "local", "extra": 1}`, http.StatusBadRequest},
		{`{"name": "ok", "runtimeType": "ssh"}`, http.StatusCreated},
	}
	for _, tt := range tests {
		if got := call(t, appURL, http.MethodPost, "/api/workspaces", tt.body, nil); got != tt.want {
			t.Errorf("POST /api/workspaces %s = %d, want %d", tt.body, got, tt.want)
		}
	}

	req, _ := http.NewRequest(http.MethodPost, appURL+"/api/workspaces", strings.NewReader(`{"name":"x","runtimeType":"local"}`))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("POST /api/workspaces as text/plain = %d, want 415", resp.StatusCode)
	}

	// Each rejected name or runtime is an error_occurred event; the page
	// sends workspace_created, so the backend does not.
	waitStored(t, a, c, map[string]int64{"app_started": 1, "error_occurred": 3})
}

func TestShareRejectedAfterOptOut(t *testing.T) {
	c := startCollector(t)
	_, appURL := startApp(t, c, appOptions{})
	var ws struct{ ID string }
	call(t, appURL, http.MethodPost, "/api/workspaces", `{"name":"w","runtimeType":"local"}`, &ws)
	var sent struct{ Reply struct{ ID, Text string } }
	if got := call(t, appURL, http.MethodPost, "/api/workspaces/"+ws.ID+"/messages", `{"text":"hi","model":"openai/gpt-5"}`, &sent); got != http.StatusOK {
		t.Fatalf("send message = %d, want 200", got)
	}

	var link struct{ URL string }
	if got := call(t, appURL, http.MethodPost, "/api/share", `{"messageId":"`+sent.Reply.ID+`"}`, &link); got != http.StatusCreated {
		t.Fatalf("share = %d, want 201", got)
	}
	resp, err := http.Get(appURL + link.URL)
	if err != nil {
		t.Fatal(err)
	}
	shared, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.TrimSpace(string(shared)) != sent.Reply.Text {
		t.Errorf("shared page = %q, want the reply %q", shared, sent.Reply.Text)
	}

	if got := call(t, appURL, http.MethodPost, "/api/telemetry/enabled", `{"enabled": false}`, nil); got != http.StatusOK {
		t.Fatalf("turn telemetry off = %d, want 200", got)
	}
	if got := call(t, appURL, http.MethodPost, "/api/share", `{"messageId":"`+sent.Reply.ID+`"}`, nil); got != http.StatusForbidden {
		t.Errorf("share after opting out = %d, want 403", got)
	}
}

func TestInterruptedReply(t *testing.T) {
	c := startCollector(t)
	a, appURL := startApp(t, c, appOptions{replyDelay: 10 * time.Second})
	var ws struct{ ID string }
	call(t, appURL, http.MethodPost, "/api/workspaces", `{"name":"w","runtimeType":"local"}`, &ws)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, appURL+"/api/workspaces/"+ws.ID+"/messages",
		strings.NewReader(`{"text":"stop me","model":"openai/gpt-5"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("send message returned %d before the reply delay, want the request cancelled", resp.StatusCode)
	}

	waitStored(t, a, c, map[string]int64{"app_started": 1, "stream_completed": 1})
	_, _, events := c.snapshot()
	for _, ev := range events {
		if ev.Event == "stream_completed" && ev.Properties["wasInterrupted"] != true {
			t.Errorf("stream_completed wasInterrupted = %v, want true", ev.Properties["wasInterrupted"])
		}
	}
}

func TestRunNeedsWriteKey(t *testing.T) {
	err := run(context.Background(), []string{"--home", t.TempDir(), "--listen", "127.0.0.1:0"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--write-key") {
		t.Errorf("run without --write-key = %v, want an error naming --write-key", err)
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	c := startCollector(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, writer := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--endpoint", c.proxy.URL, "--write-key", writeKey,
			"--home", t.TempDir(), "--allow-automation"}, writer, io.Discard)
		writer.Close()
	}()

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read the address run printed: %v", err)
	}
	appURL := strings.TrimSpace(strings.TrimPrefix(line, "muxapp: serving on "))
	go io.Copy(io.Discard, stdout)
	resp, err := http.Get(appURL + "/")
	if err != nil {
		t.Fatalf("GET %s: %v", appURL, err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `src="/app.js"`) {
		t.Errorf("GET / = %d, want the app's page", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return within 10s of the cancel")
	}
	// run closed the telemetry client, which sent app_started on its way
	// out; the collector commits it shortly after.
	deadline := time.Now().Add(5 * time.Second)
	got := c.stored(t)["app_started"]
	for got != 1 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		got = c.stored(t)["app_started"]
	}
	if got != 1 {
		t.Errorf("stored app_started = %d after run returned, want 1", got)
	}
}
