package dashboard_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/store"
)

const chromiumPath = "/usr/bin/chromium"

// browserNow is the clock of the browser test. The seeded events cover the
// 30 days up to it, which is the dashboard's default range.
var browserNow = time.Date(2025, time.March, 31, 18, 0, 0, 0, time.UTC)

// chartInfo is what the browser test reads about one chart.
type chartInfo struct {
	ID       string  `json:"id"`
	Width    float64 `json:"width"`
	Height   float64 `json:"height"`
	Drawn    bool    `json:"drawn"`
	Datasets int     `json:"datasets"`
	Sum      float64 `json:"sum"`
	Painted  bool    `json:"painted"`
}

// readChartsScript returns, for each chart canvas, its size, the sum of the
// data Chart.js keeps for it and whether it differs from a blank canvas of
// its size. It compares data URLs because reading pixels with getImageData
// makes Chromium log a performance warning.
const readChartsScript = `['events-chart', 'active-chart', 'versions-chart', 'platforms-chart'].map((id) => {
  const canvas = document.getElementById(id);
  const box = canvas.getBoundingClientRect();
  const chart = Chart.getChart(canvas);
  const blank = document.createElement('canvas');
  blank.width = canvas.width;
  blank.height = canvas.height;
  const datasets = chart ? chart.data.datasets : [];
  return {
    id: id,
    width: box.width,
    height: box.height,
    drawn: Boolean(chart),
    datasets: datasets.length,
    sum: datasets.reduce((total, d) => total + d.data.reduce((a, b) => a + b, 0), 0),
    painted: canvas.toDataURL() !== blank.toDataURL(),
  };
})`

func TestDashboardInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("skip browser test: Chromium not found at %s (%v); install the chromium package to run it", chromiumPath, err)
	}

	events := seededEvents()
	backend := testStores[len(testStores)-1]
	s := backend.open(t)
	insertEvents(t, s, events)
	server := startLoopbackServer(t, dashboard.Config{Store: s, Project: "mux", Now: func() time.Time { return browserNow }})
	t.Logf("store %s with %d seeded events", backend.name, len(events))

	ctx := newBrowser(t)
	console := collectConsole(t, ctx)

	screenshots := os.Getenv("CANDOR_SCREENSHOTS")
	if screenshots == "" {
		screenshots = t.TempDir()
	}

	// Log in with the keyboard only: the token field has focus, and Enter
	// submits the form.
	mustDo(t, ctx, chromedp.Navigate(server.URL+"/"))
	// Chromium applies autofocus after the load event, so poll for it.
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.activeElement && document.activeElement.id === 'token'`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		focused := mustRun(t, ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ''`))
		t.Fatalf("focused element on the login page = %q, want the token field: %v", focused, err)
	}
	saveScreenshot(t, ctx, filepath.Join(screenshots, "login.png"))
	mustDo(t, ctx, chromedp.SendKeys(chromedp.CSS("#token"), adminToken+kb.Enter))
	waitForDashboard(t, ctx)

	if cookies := mustRun(t, ctx, chromedp.Evaluate[string](`document.cookie`)); cookies != "" {
		t.Errorf("document.cookie = %q, want the session cookie hidden from scripts", cookies)
	}
	checkPanels(t, ctx, events)
	saveScreenshot(t, ctx, filepath.Join(screenshots, "dashboard.png"))

	mustDo(t, ctx, chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		})
		return err
	}))
	background := mustRun(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	if background != "rgb(14, 18, 23)" {
		t.Errorf("dark mode body background = %s, want rgb(14, 18, 23)", background)
	}
	checkPanels(t, ctx, events)
	saveScreenshot(t, ctx, filepath.Join(screenshots, "dashboard-dark.png"))

	// A shared link with a filter shows the filtered numbers.
	mustDo(t, ctx, chromedp.Navigate(server.URL+"/?platform=linux&from=2025-03-02&to=2025-03-31"))
	waitForDashboard(t, ctx)
	linux := filterEvents(events, func(e store.Event) bool { return e.Properties["backend_platform"] == "linux" })
	checkMetric(t, ctx, "total_events", len(linux))
	checkMetric(t, ctx, "installs", countInstalls(linux))

	for _, message := range console.errors() {
		t.Errorf("browser console: %s", message)
	}
	t.Logf("screenshots in %s", screenshots)
}

// startLoopbackServer is startServer on an explicit 127.0.0.1 listener.
func startLoopbackServer(t *testing.T, cfg dashboard.Config) *httptest.Server {
	t.Helper()
	cfg.AdminToken = adminToken
	handler, err := dashboard.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.1: %v", err)
	}
	server := &httptest.Server{Listener: listener, Config: &http.Server{Handler: handler}}
	server.Start()
	t.Cleanup(server.Close)
	return server
}

// newBrowser starts headless Chromium and returns its chromedp context. The
// flags switch off the browser's own network traffic, and the resolver rule
// fails every host name except 127.0.0.1, so the page can reach nothing
// else.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	ctx, cancelTimeout := context.WithTimeout(context.Background(), 90*time.Second)
	allocator, cancelAllocator := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
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
		chromedp.WindowSize(1360, 900),
	)
	browser, cancelBrowser := chromedp.NewContext(allocator)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAllocator()
		cancelTimeout()
	})
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start Chromium at %s: %v", chromiumPath, err)
	}
	return browser
}

// consoleLog collects the errors and warnings that the page writes to the
// browser console.
type consoleLog struct {
	mu       sync.Mutex
	messages []string
	done     chan struct{}
}

func collectConsole(t *testing.T, ctx context.Context) *consoleLog {
	ctx, cancel := context.WithCancel(ctx)
	log := &consoleLog{done: make(chan struct{})}
	messages := chromedp.Console(ctx)
	go func() {
		defer close(log.done)
		for message, err := range messages {
			if err != nil {
				return
			}
			switch message.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				log.mu.Lock()
				log.messages = append(log.messages, fmt.Sprintf("%s (%s:%d)", message, message.URL, message.Line))
				log.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-log.done
	})
	return log
}

func (l *consoleLog) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.messages...)
}

func mustDo(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

func mustRun[T any](t *testing.T, ctx context.Context, action chromedp.Action[T]) T {
	t.Helper()
	value, err := chromedp.Run(ctx, action)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return value
}

// waitForDashboard waits until the page's script has loaded the data and
// fails the test if it reports an error.
func waitForDashboard(t *testing.T, ctx context.Context) {
	t.Helper()
	// Wait for the dashboard's document first, because a poll that starts
	// on the page before a navigation fails.
	mustDo(t, ctx, chromedp.WaitReady(chromedp.CSS("main[data-query]")))
	mustRun(t, ctx, chromedp.Poll[bool](
		`document.body.dataset.state === 'ready' || document.body.dataset.state === 'error'`,
		chromedp.WithPollingTimeout(20*time.Second)))
	state := mustRun(t, ctx, chromedp.Evaluate[string](`document.body.dataset.state`))
	status := mustRun(t, ctx, chromedp.Evaluate[string](`document.getElementById('status').textContent`))
	if state != "ready" {
		t.Fatalf("dashboard state = %q with status %q, want ready", state, status)
	}
}

// checkPanels checks the headline numbers and that every chart is drawn
// with the seeded data.
func checkPanels(t *testing.T, ctx context.Context, events []store.Event) {
	t.Helper()
	checkMetric(t, ctx, "total_events", len(events))
	checkMetric(t, ctx, "installs", countInstalls(events))

	activeSum := 0
	for _, installs := range activeInstallsPerDay(events) {
		activeSum += installs
	}
	wantSums := map[string]int{
		"events-chart":    len(events),
		"active-chart":    activeSum,
		"versions-chart":  len(events), // every seeded event has one of 5 versions
		"platforms-chart": len(events), // and one of 3 platforms
	}

	charts := mustRun(t, ctx, chromedp.Evaluate[[]chartInfo](readChartsScript))
	if len(charts) != len(wantSums) {
		t.Fatalf("read %d charts, want %d", len(charts), len(wantSums))
	}
	for _, chart := range charts {
		if !chart.Drawn || chart.Datasets == 0 {
			t.Errorf("%s: no Chart.js chart with data on the canvas", chart.ID)
			continue
		}
		if chart.Width < 100 || chart.Height < 100 {
			t.Errorf("%s: canvas is %.0f×%.0f px, want at least 100×100", chart.ID, chart.Width, chart.Height)
		}
		if !chart.Painted {
			t.Errorf("%s: canvas is blank", chart.ID)
		}
		if int(chart.Sum) != wantSums[chart.ID] {
			t.Errorf("%s: data sums to %.0f, want %d", chart.ID, chart.Sum, wantSums[chart.ID])
		}
	}
}

func checkMetric(t *testing.T, ctx context.Context, name string, want int) {
	t.Helper()
	value := mustRun(t, ctx, chromedp.Evaluate[string](
		`document.querySelector('[data-metric="`+name+`"]').dataset.value || ''`))
	if value != strconv.Itoa(want) {
		t.Errorf("headline %s = %q, want %d", name, value, want)
	}
}

func saveScreenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png := mustRun(t, ctx, chromedp.FullScreenshot(100))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
}

// occasionalEvents are the seeded events that an active install sends at
// most once a day, with their chance per day in percent.
var occasionalEvents = []struct {
	name    string
	percent int
}{
	{"workspace_created", 20},
	{"compaction_completed", 25},
	{"mcp_server_tested", 10},
	{"error_occurred", 8},
	{"stats_tab_opened", 7},
	{"voice_transcription", 5},
	{"provider_configured", 3},
}

// seededEvents generates a month of plausible Mux usage up to browserNow:
// 60 installs on 5 versions and 3 platforms that are active on about half
// of the days after their first start, with 12 event names. The seed is
// fixed, so every run gets the same events.
func seededEvents() []store.Event {
	random := rand.New(rand.NewPCG(7, 11))
	pick := func(values []string, weights []int) string {
		n := random.IntN(100)
		for i, weight := range weights {
			if n < weight {
				return values[i]
			}
			n -= weight
		}
		return values[len(values)-1]
	}
	versions := []string{"1.4.0", "1.3.2", "1.3.1", "1.2.0", "1.1.0"}
	platforms := []string{"darwin", "win32", "linux"}
	firstDay := browserNow.Truncate(24*time.Hour).AddDate(0, 0, -29)

	var events []store.Event
	add := func(install, version, platform, name string, at time.Time) {
		events = append(events, store.Event{
			Project:    "mux",
			UUID:       fmt.Sprintf("00000000-0000-4000-9000-%012d", len(events)),
			Name:       name,
			DistinctID: install,
			Timestamp:  at,
			ReceivedAt: at,
			Properties: map[string]any{"version": version, "backend_platform": platform},
		})
	}

	for i := range 60 {
		install := fmt.Sprintf("install-%02d", i)
		version := pick(versions, []int{40, 30, 15, 10, 5})
		platform := pick(platforms, []int{50, 30, 20})
		start := random.IntN(20)
		for day := start; day < 30; day++ {
			date := firstDay.AddDate(0, 0, day)
			activeChance := 55
			if weekday := date.Weekday(); weekday == time.Saturday || weekday == time.Sunday {
				activeChance = 25
			}
			if day != start && random.IntN(100) >= activeChance {
				continue
			}
			at := func() time.Time { return date.Add(time.Duration(random.IntN(24*60)) * time.Minute) }
			add(install, version, platform, "app_started", at())
			messages := random.IntN(14)
			for range messages {
				add(install, version, platform, "message_sent", at())
			}
			for range messages * 3 / 4 {
				add(install, version, platform, "stream_completed", at())
			}
			for range random.IntN(4) {
				add(install, version, platform, "workspace_switched", at())
			}
			for range random.IntN(3) {
				add(install, version, platform, "command_used", at())
			}
			for _, occasional := range occasionalEvents {
				if random.IntN(100) < occasional.percent {
					add(install, version, platform, occasional.name, at())
				}
			}
		}
	}
	return events
}

func filterEvents(events []store.Event, keep func(store.Event) bool) []store.Event {
	var selected []store.Event
	for _, e := range events {
		if keep(e) {
			selected = append(selected, e)
		}
	}
	return selected
}

func activeInstallsPerDay(events []store.Event) map[string]int {
	installs := map[string]map[string]bool{}
	for _, e := range events {
		day := utcDay(e.Timestamp)
		if installs[day] == nil {
			installs[day] = map[string]bool{}
		}
		installs[day][e.DistinctID] = true
	}
	counts := map[string]int{}
	for day, ids := range installs {
		counts[day] = len(ids)
	}
	return counts
}
