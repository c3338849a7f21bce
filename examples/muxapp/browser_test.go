package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"github.com/candor-dev/candor/internal/browsertest"
	"github.com/candor-dev/candor/sdk/telemetry"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// secretMessage holds a path and a name that must never reach the
// collector: only its length, rounded up to a power of two, may.
const secretMessage = "Summarize /home/alice/notes.md for Alice Example, please"

func TestAppSendsExpectedEvents(t *testing.T) {
	c := startCollector(t)
	a, appURL := startApp(t, c, appOptions{})
	ctx := browsertest.NewContext(t, 1280, 800)
	console := browsertest.CollectConsole(t, ctx)
	openApp(t, ctx, appURL)

	if !browsertest.Run(t, ctx, chromedp.Evaluate[bool](`navigator.webdriver === true`)) {
		t.Fatal("navigator.webdriver is not true under chromedp, so the test does not check the automation opt-in")
	}
	reason := browsertest.Run(t, ctx, chromedp.Evaluate[*string](`import("/api/telemetry/client.js").then((m) => m.noopReason())`, chromedp.EvalAwaitPromise))
	if reason != nil {
		t.Fatalf("client noopReason() = %q, want null because the app allowed automation", *reason)
	}

	createWorkspace(t, ctx, "alpha", "local")
	createWorkspace(t, ctx, "beta", "worktree")
	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS(`#workspace-list li:first-child button`)))
	waitUntil(t, ctx, "workspace alpha is open", `document.getElementById("workspace-title").textContent === "alpha"`)
	sendMessage(t, ctx, secretMessage)

	if n := shareButtons(t, ctx); n != 2 {
		t.Errorf("Share buttons = %d, want 2 (one per message) while telemetry is on", n)
	}
	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS(`#messages li.assistant button.share`)))
	waitUntil(t, ctx, "the share link is shown", `document.getElementById("share-result").textContent.includes("/shared/")`)
	saveScreenshot(t, ctx, "workspace")

	want := map[string]int64{"app_started": 1, "workspace_created": 2, "workspace_switched": 1, "message_sent": 1, "stream_completed": 1}
	waitStored(t, a, c, want)
	checkSentEvents(t, c)

	openSettings(t, ctx)
	if got := readToggle(t, ctx); !got.Checked || got.Disabled || got.State != "Usage telemetry is on." {
		t.Errorf("toggle = %+v, want checked and enabled with telemetry on", got)
	}
	saveScreenshot(t, ctx, "settings-on")

	// Turning the toggle off applies at once: the next events reach the
	// backend and stop there.
	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS("#telemetry-toggle")))
	waitUntil(t, ctx, "the toggle reads off", `!document.getElementById("telemetry-toggle").checked && !document.getElementById("telemetry-toggle").disabled`)
	if got := readToggle(t, ctx); got.State != "Usage telemetry is off." || !strings.Contains(got.Note, "You turned usage telemetry off") {
		t.Errorf("toggle after turning off = %+v, want the off state and a note", got)
	}
	saveScreenshot(t, ctx, "settings-off")
	checkConfigFile(t, a, false)

	requestsBefore, _, _ := c.snapshot()
	ignoredBefore := a.Telemetry().Stats().Ignored
	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS("#nav-workspaces")))
	waitUntil(t, ctx, "the workspace view is back", `!document.getElementById("workspaces-view").hidden`)
	if n := shareButtons(t, ctx); n != 0 {
		t.Errorf("Share buttons = %d after the user opted out, want 0", n)
	}
	sendMessage(t, ctx, "A second message, sent while telemetry is off")
	if n := shareButtons(t, ctx); n != 0 {
		t.Errorf("Share buttons = %d on new messages after the user opted out, want 0", n)
	}
	saveScreenshot(t, ctx, "workspace-opted-out")

	// message_sent from the page and stream_completed from the backend
	// both reach the SDK, which ignores them.
	deadline := time.Now().Add(5 * time.Second)
	for a.Telemetry().Stats().Ignored < ignoredBefore+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := a.Telemetry().Stats().Ignored - ignoredBefore; got != 2 {
		t.Errorf("events ignored after turning off = %d, want 2 (message_sent, stream_completed)", got)
	}
	waitStored(t, a, c, want)
	if requests, _, _ := c.snapshot(); requests != requestsBefore {
		t.Errorf("collector got %d requests after the toggle was turned off, want none", requests-requestsBefore)
	}

	if messages := console.Messages(); len(messages) > 0 {
		t.Errorf("console errors and warnings:\n%s", strings.Join(messages, "\n"))
	}
}

// checkSentEvents checks what the SDK sent: rounded lengths, reduced user
// agents, the first launch, and nothing of the message's text.
func checkSentEvents(t *testing.T, c *collector) {
	t.Helper()
	_, bodies, events := c.snapshot()
	for _, body := range bodies {
		if containsAny(body, "alice", "Alice", "notes.md", "Summarize") {
			t.Errorf("a batch holds part of the message text: %s", body)
		}
	}
	byName := map[string]sentEvent{}
	for _, ev := range events {
		byName[ev.Event] = ev
	}

	if got := byName["app_started"].Properties["isFirstLaunch"]; got != true {
		t.Errorf("app_started isFirstLaunch = %v, want true on a fresh home folder", got)
	}
	sent := byName["message_sent"].Properties
	if got, want := sent["message_length_b2"], 64.0; got != want {
		t.Errorf("message_sent message_length_b2 = %v, want %v for %d characters", got, want, len(secretMessage))
	}
	platform, _ := sent["frontendPlatform"].(map[string]any)
	if ua, _ := platform["userAgent"].(string); !regexp.MustCompile(`^Chrome \d+ \(Linux\)$`).MatchString(ua) {
		t.Errorf("message_sent frontendPlatform.userAgent = %q, want the reduced form such as Chrome 156 (Linux)", ua)
	}
	if got := platform["platform"]; got != "Linux" {
		t.Errorf("message_sent frontendPlatform.platform = %v, want Linux", got)
	}
	if got := sent["thinkingLevel"]; got != "medium" {
		t.Errorf("message_sent thinkingLevel = %v, want medium", got)
	}
	if got := byName["workspace_created"].Properties["runtimeType"]; got != "worktree" && got != "local" {
		t.Errorf("workspace_created runtimeType = %v, want local or worktree", got)
	}
	if got := byName["stream_completed"].Properties["model"]; got != "anthropic/claude-sonnet-4-5" {
		t.Errorf("stream_completed model = %v, want the model picked in the page", got)
	}
	ids := map[string]bool{}
	for _, ev := range events {
		ids[ev.DistinctID] = true
	}
	if len(ids) != 1 {
		t.Errorf("events came with %d install IDs, want 1: %v", len(ids), ids)
	}
}

func checkConfigFile(t *testing.T, a *App, want bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(a.cfg.Home, telemetry.ConfigFile))
	if err != nil {
		t.Fatalf("read config.json: %v", err)
	}
	var cfg struct {
		TelemetryEnabled *bool `json:"telemetryEnabled"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil || cfg.TelemetryEnabled == nil || *cfg.TelemetryEnabled != want {
		t.Errorf("config.json = %s, want telemetryEnabled %v", data, want)
	}
}

func TestAppLockedByEnvironment(t *testing.T) {
	c := startCollector(t)
	a, appURL := startApp(t, c, appOptions{env: env{"MUX_DISABLE_TELEMETRY": "1"}})
	ctx := browsertest.NewContext(t, 1280, 800)
	console := browsertest.CollectConsole(t, ctx)
	openApp(t, ctx, appURL)

	createWorkspace(t, ctx, "locked", "local")
	sendMessage(t, ctx, "Hello from a locked install")
	if n := shareButtons(t, ctx); n != 0 {
		t.Errorf("Share buttons = %d with MUX_DISABLE_TELEMETRY=1, want 0", n)
	}
	saveScreenshot(t, ctx, "workspace-locked")

	openSettings(t, ctx)
	got := readToggle(t, ctx)
	if got.Checked || !got.Disabled {
		t.Errorf("toggle = %+v, want unchecked and disabled", got)
	}
	if !strings.Contains(got.Note, "MUX_DISABLE_TELEMETRY=1") {
		t.Errorf("note = %q, want it to name MUX_DISABLE_TELEMETRY=1", got.Note)
	}
	saveScreenshot(t, ctx, "settings-locked")

	// A click on the disabled toggle changes nothing.
	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS("#telemetry-toggle")))
	time.Sleep(200 * time.Millisecond)
	if got := readToggle(t, ctx); got.Checked || !got.Disabled {
		t.Errorf("toggle after a click = %+v, want unchanged", got)
	}
	if _, err := os.Stat(filepath.Join(a.cfg.Home, telemetry.ConfigFile)); !os.IsNotExist(err) {
		t.Errorf("config.json was written while locked (stat error: %v)", err)
	}

	// The user can still save an opt-out, which outlasts the variable.
	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS("#telemetry-keep-off")))
	waitUntil(t, ctx, "the note says the choice is saved",
		`document.getElementById("telemetry-note").textContent.includes("stays off once the lock is gone") && document.getElementById("telemetry-keep-off").hidden`)
	checkConfigFile(t, a, false)
	saveScreenshot(t, ctx, "settings-locked-kept-off")

	flush(t, a)
	time.Sleep(300 * time.Millisecond)
	flush(t, a)
	if requests, _, _ := c.snapshot(); requests != 0 {
		t.Errorf("collector got %d requests with MUX_DISABLE_TELEMETRY=1, want 0", requests)
	}
	if stored := c.stored(t); len(stored) != 0 {
		t.Errorf("collector stored %v with MUX_DISABLE_TELEMETRY=1, want nothing", stored)
	}
	if _, err := os.Stat(filepath.Join(a.cfg.Home, telemetry.InstallIDFile)); !os.IsNotExist(err) {
		t.Errorf("telemetry_id was created while telemetry is off (stat error: %v)", err)
	}
	if messages := console.Messages(); len(messages) > 0 {
		t.Errorf("console errors and warnings:\n%s", strings.Join(messages, "\n"))
	}
}

// TestAppShowsIgnoredOptOut sets MUX_DISABLE_TELEMETRY to "true", which
// turns nothing off. The settings page shows that telemetry is on and why the
// variable did not turn it off.
func TestAppShowsIgnoredOptOut(t *testing.T) {
	c := startCollector(t)
	_, appURL := startApp(t, c, appOptions{env: env{"MUX_DISABLE_TELEMETRY": "true"}})
	ctx := browsertest.NewContext(t, 1280, 800)
	console := browsertest.CollectConsole(t, ctx)
	openApp(t, ctx, appURL)

	openSettings(t, ctx)
	got := readToggle(t, ctx)
	if !got.Checked || got.Disabled || got.State != "Usage telemetry is on." {
		t.Errorf("toggle = %+v, want checked, enabled and on", got)
	}
	if want := `MUX_DISABLE_TELEMETRY="true" is ignored: only "1" turns telemetry off.`; !strings.Contains(got.Note, want) {
		t.Errorf("note = %q, want it to contain %q", got.Note, want)
	}
	saveScreenshot(t, ctx, "settings-ignored-opt-out")

	if messages := console.Messages(); len(messages) > 0 {
		t.Errorf("console errors and warnings:\n%s", strings.Join(messages, "\n"))
	}
}

func TestToggleSaveFailureReverts(t *testing.T) {
	c := startCollector(t)
	failSaves := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/api/telemetry/enabled" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				w.Write([]byte(`{"error":"save telemetry choice: disk full"}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	a, appURL := startApp(t, c, appOptions{wrap: failSaves})
	ctx := browsertest.NewContext(t, 1280, 800)
	openApp(t, ctx, appURL)
	openSettings(t, ctx)

	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS("#telemetry-toggle")))
	waitUntil(t, ctx, "the failure is reported", `document.getElementById("telemetry-note").classList.contains("error")`)
	got := readToggle(t, ctx)
	if !got.Checked || got.Disabled {
		t.Errorf("toggle after a failed save = %+v, want it back on and enabled", got)
	}
	for _, part := range []string{"Could not save your choice", "disk full", "still on"} {
		if !strings.Contains(got.Note, part) {
			t.Errorf("note = %q, want it to contain %q", got.Note, part)
		}
	}
	saveScreenshot(t, ctx, "settings-save-failed")
	if !a.Telemetry().IsEnabled() {
		t.Error("telemetry is off after a failed save, want it on")
	}
}

// TestShareFollowsChoiceFromCLI changes the saved choice behind the open
// page, as "mux telemetry disable" and "enable" do from another process.
func TestShareFollowsChoiceFromCLI(t *testing.T) {
	c := startCollector(t)
	a, appURL := startApp(t, c, appOptions{})
	ctx := browsertest.NewContext(t, 1280, 800)
	openApp(t, ctx, appURL)
	createWorkspace(t, ctx, "cli", "local")
	sendMessage(t, ctx, "Hello before the opt-out")
	if n := shareButtons(t, ctx); n != 2 {
		t.Fatalf("Share buttons = %d, want 2 while telemetry is on", n)
	}

	writeChoice(t, a, false)
	browsertest.Do(t, ctx, chromedp.Click(chromedp.CSS(`#messages li.assistant button.share`)))
	waitUntil(t, ctx, "the rejected share is reported", `document.getElementById("app-error").textContent !== ""`)
	if got := text(t, ctx, `document.getElementById("app-error").textContent`); !strings.Contains(got, "turn it on in Settings") {
		t.Errorf("error = %q, want it to say how to share again", got)
	}
	waitUntil(t, ctx, "the Share buttons are hidden", `document.querySelectorAll("#messages button.share").length === 0`)
	if got := text(t, ctx, `document.getElementById("share-result").textContent`); got != "" {
		t.Errorf("share result = %q after the opt-out, want none", got)
	}

	writeChoice(t, a, true)
	browsertest.Do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.dispatchEvent(new Event("focus"))`))
	waitUntil(t, ctx, "the Share buttons are back after the opt-in", `document.querySelectorAll("#messages button.share").length === 2`)
}

// writeChoice saves the telemetry choice in config.json as another process
// of the app does.
func writeChoice(t *testing.T, a *App, enabled bool) {
	t.Helper()
	data := fmt.Sprintf("{\n  \"telemetryEnabled\": %v\n}\n", enabled)
	if err := os.WriteFile(filepath.Join(a.cfg.Home, telemetry.ConfigFile), []byte(data), 0o600); err != nil {
		t.Fatalf("write config.json: %v", err)
	}
}
