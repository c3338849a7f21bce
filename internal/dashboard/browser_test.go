package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/browsertest"
	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

// browserNow is the clock of the browser test. The seeded events cover the
// 30 days up to it, which is the dashboard's default range.
var browserNow = time.Date(2025, time.March, 31, 18, 0, 0, 0, time.UTC)

// chartIDs are the canvases of the dashboard, one per chart.
var chartIDs = []string{
	"trends-chart", "active-chart", "new-installs-chart", "histogram-chart", "funnel-chart",
	"errors-chart", "versions-chart", "platforms-chart",
}

// panelIDs are the panels of the dashboard.
var panelIDs = []string{"trends", "active", "new-installs", "histogram", "funnel", "errors", "retention", "versions", "platforms"}

// chartInfo is what the browser test reads about one chart.
type chartInfo struct {
	ID       string  `json:"id"`
	Width    float64 `json:"width"`
	Height   float64 `json:"height"`
	Drawn    bool    `json:"drawn"`
	Datasets int     `json:"datasets"`
	Sum      float64 `json:"sum"`
	Points   int     `json:"points"`
	Painted  bool    `json:"painted"`
}

// readChartsScript returns, for each chart canvas, its size, the sum and
// number of the non-null values Chart.js keeps for it and whether it
// differs from a blank canvas of its size. It compares data URLs because
// reading pixels with getImageData makes Chromium log a performance
// warning.
const readChartsScript = `%s.map((id) => {
  const canvas = document.getElementById(id);
  const box = canvas.getBoundingClientRect();
  const chart = Chart.getChart(canvas);
  const blank = document.createElement('canvas');
  blank.width = canvas.width;
  blank.height = canvas.height;
  const datasets = chart ? chart.data.datasets : [];
  const values = datasets.flatMap((d) => d.data).filter((v) => v !== null);
  return {
    id: id,
    width: box.width,
    height: box.height,
    drawn: Boolean(chart),
    datasets: datasets.length,
    sum: values.reduce((a, b) => a + b, 0),
    points: values.length,
    painted: canvas.toDataURL() !== blank.toDataURL(),
  };
})`

// contrastScript returns the WCAG contrast ratio of the text of each
// selector's first element against the background behind it, the lowest
// for the heat cells of the retention table.
const contrastScript = `(() => {
  const parse = (color) => {
    const probe = document.createElement('canvas').getContext('2d', { willReadFrequently: true });
    probe.fillStyle = color;
    probe.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = probe.getImageData(0, 0, 1, 1).data;
    return [r, g, b, a / 255];
  };
  const luminance = (rgb) => {
    const [r, g, b] = rgb.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const color = parse(getComputedStyle(e).backgroundColor);
      if (color[3] > 0.5) {
        return color;
      }
    }
    return parse(getComputedStyle(document.body).backgroundColor);
  };
  const ratio = (element) => {
    const a = luminance(parse(getComputedStyle(element).color));
    const b = luminance(background(element));
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  };
  const result = {};
  ['body', '.metric-label', '.panel-hint', '.downloads a', 'td.suppressed', 'th', 'label', '.button-primary', 'summary']
    .forEach((selector) => {
      const element = document.querySelector(selector);
      if (element) {
        result[selector] = ratio(element);
      }
    });
  const heat = Array.from(document.querySelectorAll('#retention-table td[class*="heat-"]')).map(ratio);
  if (heat.length > 0) {
    result['retention heat cells'] = Math.min(...heat);
  }
  return result;
})()`

func TestDashboardInBrowser(t *testing.T) {
	browsertest.SkipWithoutChromium(t)

	events := seededEvents()
	s := storeWith(t, events)
	server := startLoopbackServer(t, dashboard.Config{Store: s, Project: "mux", Now: func() time.Time { return browserNow }})
	t.Logf("DuckDB store with %d seeded events", len(events))

	ctx := browsertest.NewContext(t, 1360, 900)
	console := browsertest.CollectConsole(t, ctx)

	screenshots := os.Getenv("CANDOR_SCREENSHOTS")
	if screenshots == "" {
		screenshots = t.TempDir()
	} else if err := os.MkdirAll(screenshots, 0o755); err != nil {
		t.Fatalf("create screenshot folder: %v", err)
	}

	// Log in with the keyboard only: the token field has focus, and Enter
	// submits the form.
	browsertest.Do(t, ctx, chromedp.Navigate(server.URL+"/"))
	// Chromium applies autofocus after the load event, so poll for it.
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.activeElement && document.activeElement.id === 'token'`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		focused := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ''`))
		t.Fatalf("focused element on the login page = %q, want the token field: %v", focused, err)
	}
	saveScreenshot(t, ctx, filepath.Join(screenshots, "login.png"))
	start := time.Now()
	browsertest.Do(t, ctx, chromedp.SendKeys(chromedp.CSS("#token"), adminToken+kb.Enter))
	waitForDashboard(t, ctx)
	t.Logf("dashboard with %d events loaded %v after the login", len(events), time.Since(start).Round(time.Millisecond))

	if cookies := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.cookie`)); cookies != "" {
		t.Errorf("document.cookie = %q, want the session cookie hidden from scripts", cookies)
	}
	checkPanels(t, ctx, events)
	checkSuppressedCells(t, ctx)
	checkSameOrigin(t, ctx)
	checkContrast(t, ctx, "light")
	saveScreenshot(t, ctx, filepath.Join(screenshots, "dashboard.png"))
	for _, id := range panelIDs {
		savePanelScreenshot(t, ctx, id, filepath.Join(screenshots, "panel-"+id+".png"))
	}

	browsertest.Do(t, ctx, chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		})
		return err
	}))
	background := browsertest.Run(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	if background != "rgb(14, 18, 23)" {
		t.Errorf("dark mode body background = %s, want rgb(14, 18, 23)", background)
	}
	checkPanels(t, ctx, events)
	checkContrast(t, ctx, "dark")
	saveScreenshot(t, ctx, filepath.Join(screenshots, "dashboard-dark.png"))

	checkKeyboardBreakdown(t, ctx)
	saveScreenshot(t, ctx, filepath.Join(screenshots, "dashboard-breakdown-dark.png"))

	// A shared link with a filter shows the filtered numbers, and the
	// panel settings it names.
	browsertest.Do(t, ctx, chromedp.Navigate(server.URL+"/?platform=linux&from=2025-03-02&to=2025-03-31&breakdown=model&event=message_sent&interval=week"))
	waitForDashboard(t, ctx)
	linux := filterEvents(events, func(e store.Event) bool { return e.Properties["backend_platform"] == "linux" })
	checkMetric(t, ctx, "total_events", len(linux))
	checkMetric(t, ctx, "installs", countInstalls(linux))
	breakdown := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.getElementById('trend-breakdown').value`))
	if breakdown != "model" {
		t.Errorf("breakdown select after opening a shared link = %q, want model", breakdown)
	}

	for _, message := range console.Messages() {
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

// waitForDashboard waits until the page's script has loaded the data and
// fails the test if it reports an error.
func waitForDashboard(t *testing.T, ctx context.Context) {
	t.Helper()
	// Wait for the dashboard's document first, because a poll that starts
	// on the page before a navigation fails.
	browsertest.Do(t, ctx, chromedp.WaitReady(chromedp.CSS("main[data-query]")))
	browsertest.Run(t, ctx, chromedp.Poll[bool](
		`document.body.dataset.state === 'ready' || document.body.dataset.state === 'error'`,
		chromedp.WithPollingTimeout(20*time.Second)))
	state := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.body.dataset.state`))
	status := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.getElementById('status').textContent`))
	if state != "ready" {
		t.Fatalf("dashboard state = %q with status %q, want ready", state, status)
	}
}

// checkPanels checks the headline numbers, that every panel loaded and
// that every chart is drawn. The charts whose values this test can count
// from events must sum to the counts of the cells with at least
// dashboard.DefaultKAnonymity installs.
func checkPanels(t *testing.T, ctx context.Context, events []store.Event) {
	t.Helper()
	checkMetric(t, ctx, "total_events", len(events))
	checkMetric(t, ctx, "installs", countInstalls(events))

	states := browsertest.Run(t, ctx, chromedp.Evaluate[map[string]string](
		`Object.fromEntries(Array.from(document.querySelectorAll('section.panel[data-state]')).map((e) => [e.id, e.dataset.state]))`))
	for _, id := range panelIDs {
		if states[id] != "ready" {
			t.Errorf("panel %s state = %q, want ready", id, states[id])
		}
	}
	rows := browsertest.Run(t, ctx, chromedp.Evaluate[map[string]int](
		`Object.fromEntries(Array.from(document.querySelectorAll('table[id]')).map((e) => [e.id, e.querySelectorAll('tbody tr').length]))`))
	for id, n := range rows {
		if n == 0 {
			t.Errorf("table %s has no rows", id)
		}
	}

	wantSums := expectedChartSums(events)
	ids, _ := json.Marshal(chartIDs)
	charts := browsertest.Run(t, ctx, chromedp.Evaluate[[]chartInfo](fmt.Sprintf(readChartsScript, ids)))
	if len(charts) != len(chartIDs) {
		t.Fatalf("read %d charts, want %d", len(charts), len(chartIDs))
	}
	for _, chart := range charts {
		if !chart.Drawn || chart.Datasets == 0 || chart.Points == 0 {
			t.Errorf("%s: no Chart.js chart with data on the canvas (%d datasets, %d values)", chart.ID, chart.Datasets, chart.Points)
			continue
		}
		if chart.Width < 100 || chart.Height < 100 {
			t.Errorf("%s: canvas is %.0f×%.0f px, want at least 100×100", chart.ID, chart.Width, chart.Height)
		}
		if !chart.Painted {
			t.Errorf("%s: canvas is blank", chart.ID)
		}
		if want, ok := wantSums[chart.ID]; ok && int(chart.Sum) != want {
			t.Errorf("%s: data sums to %.0f, want %d", chart.ID, chart.Sum, want)
		}
	}
}

// expectedChartSums counts, for the charts of the default view, the sum of
// the values that k-anonymity lets through.
func expectedChartSums(events []store.Event) map[string]int {
	k := dashboard.DefaultKAnonymity
	visible := func(cells map[string]map[string]int) int {
		sum := 0
		for _, installs := range cells {
			if len(installs) >= k {
				for _, n := range installs {
					sum += n
				}
			}
		}
		return sum
	}

	// Each map takes a cell key to its installs and their events.
	byDayEvent := map[string]map[string]int{}
	byVersion := map[string]map[string]int{}
	byPlatform := map[string]map[string]int{}
	newInstalls := map[string]map[string]int{}
	add := func(cells map[string]map[string]int, key, install string) {
		if cells[key] == nil {
			cells[key] = map[string]int{}
		}
		cells[key][install]++
	}
	for _, e := range events {
		add(byDayEvent, utcDay(e.Timestamp)+"/"+e.Name, e.DistinctID)
		add(byVersion, e.Properties["version"].(string), e.DistinctID)
		add(byPlatform, e.Properties["backend_platform"].(string), e.DistinctID)
		if e.Name == "app_started" && e.Properties["isFirstLaunch"] == true {
			add(newInstalls, utcDay(e.Timestamp), e.DistinctID)
		}
	}

	newSum := 0
	for _, installs := range newInstalls {
		if len(installs) >= k {
			newSum += len(installs)
		}
	}

	activeSum := 0
	for _, window := range []int{1, 7, 30} {
		for _, installs := range activeInstalls(events, window) {
			if installs >= k {
				activeSum += installs
			}
		}
	}

	return map[string]int{
		"trends-chart":       visible(byDayEvent),
		"versions-chart":     visible(byVersion),
		"platforms-chart":    visible(byPlatform),
		"new-installs-chart": newSum,
		"active-chart":       activeSum,
	}
}

// activeInstalls counts, for each day of the default range, the installs
// with an event in the window of days that ends on it.
func activeInstalls(events []store.Event, window int) map[string]int {
	lastDay := browserNow.Truncate(24 * time.Hour)
	counts := map[string]int{}
	for d := 0; d < 30; d++ {
		day := lastDay.AddDate(0, 0, -d)
		from := day.AddDate(0, 0, 1-window)
		installs := map[string]bool{}
		for _, e := range events {
			if !e.Timestamp.Before(from) && e.Timestamp.Before(day.AddDate(0, 0, 1)) {
				installs[e.DistinctID] = true
			}
		}
		if len(installs) > 0 {
			counts[day.Format("2006-01-02")] = len(installs)
		}
	}
	return counts
}

// checkSuppressedCells checks that the page shows hidden numbers as "< 5"
// and explains why.
func checkSuppressedCells(t *testing.T, ctx context.Context) {
	t.Helper()
	want := "< " + strconv.Itoa(dashboard.DefaultKAnonymity)
	cells := browsertest.Run(t, ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('td.suppressed')).map((e) => e.textContent)`))
	if len(cells) == 0 {
		t.Errorf("no table cell is marked suppressed, want some for the rare events")
	}
	for _, cell := range cells {
		if cell != want {
			t.Errorf("suppressed cell shows %q, want %q", cell, want)
		}
	}
	notes := browsertest.Run(t, ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('.suppressed-note')).map((e) => e.textContent).filter((text) => text !== '')`))
	if len(notes) == 0 {
		t.Errorf("no panel explains its hidden numbers")
	}
}

// checkSameOrigin checks that the page loaded nothing from other origins.
func checkSameOrigin(t *testing.T, ctx context.Context) {
	t.Helper()
	foreign := browsertest.Run(t, ctx, chromedp.Evaluate[[]string](
		`performance.getEntriesByType('resource').map((e) => e.name).filter((url) => !url.startsWith(location.origin))`))
	for _, url := range foreign {
		t.Errorf("page loaded %s from another origin", url)
	}
}

// checkContrast checks that text keeps the WCAG AA contrast of 4.5 to 1
// against its background.
func checkContrast(t *testing.T, ctx context.Context, theme string) {
	t.Helper()
	ratios := browsertest.Run(t, ctx, chromedp.Evaluate[map[string]float64](contrastScript))
	if len(ratios) < 5 {
		t.Errorf("%s theme: measured the contrast of %d elements, want all of them: %v", theme, len(ratios), ratios)
	}
	for selector, ratio := range ratios {
		if ratio < 4.5 {
			t.Errorf("%s theme: contrast of %s is %.2f, want at least 4.5", theme, selector, ratio)
		}
	}
	t.Logf("%s theme contrast ratios: %v", theme, ratios)
}

// checkKeyboardBreakdown picks the first breakdown with the arrow key and
// checks that the URL keeps it and the trends chart splits by it.
func checkKeyboardBreakdown(t *testing.T, ctx context.Context) {
	t.Helper()
	browsertest.Do(t, ctx, chromedp.Focus(chromedp.CSS("#trend-breakdown")))
	browsertest.Do(t, ctx, chromedp.KeyEvent(kb.ArrowDown))
	browsertest.Run(t, ctx, chromedp.Poll[bool](`location.search.includes('breakdown=version') && document.body.dataset.state === 'ready'`,
		chromedp.WithPollingTimeout(20*time.Second)))
	labels := browsertest.Run(t, ctx, chromedp.Evaluate[[]string](
		`Chart.getChart(document.getElementById('trends-chart')).data.datasets.map((d) => d.label)`))
	// Every event is selected, so each series is an event and a version.
	for _, label := range labels {
		if !strings.Contains(label, " · 1.") && !strings.HasPrefix(label, "Other") {
			t.Errorf("trends series %q after picking the version breakdown, want an event and a version", label)
		}
	}
	if len(labels) == 0 {
		t.Error("trends chart has no series after picking the version breakdown")
	}
}

func checkMetric(t *testing.T, ctx context.Context, name string, want int) {
	t.Helper()
	value := browsertest.Run(t, ctx, chromedp.Evaluate[string](
		`document.querySelector('[data-metric="`+name+`"]').dataset.value || ''`))
	if value != strconv.Itoa(want) {
		t.Errorf("headline %s = %q, want %d", name, value, want)
	}
}

func savePanelScreenshot(t *testing.T, ctx context.Context, id, path string) {
	t.Helper()
	png := browsertest.Run(t, ctx, chromedp.Screenshot(chromedp.ID(id)))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
}

func saveScreenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png := browsertest.Run(t, ctx, chromedp.FullScreenshot(100))
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
	{"error_occurred", 35},
	{"stats_tab_opened", 7},
	{"voice_transcription", 5},
	{"provider_configured", 3},
}

// seededEvents generates a month of plausible Mux usage up to browserNow:
// 200 installs on 5 versions and 3 platforms. Each starts on one of the
// first 20 days with a first launch, a workspace and a message, and is then
// active on about half of the days. The seed is fixed, so every run gets
// the same events.
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
	models := []string{"anthropic/claude-sonnet-4-5", "openai/gpt-5-codex", "anthropic/claude-opus-4-1", "ollama/qwen3-coder:30b"}
	errorTypes := []string{"TypeError", "NetworkError", "GitError"}
	firstDay := browserNow.Truncate(24*time.Hour).AddDate(0, 0, -29)

	var events []store.Event
	add := func(install, version, platform, name string, at time.Time, properties map[string]any) {
		properties["version"] = version
		properties["backend_platform"] = platform
		events = append(events, store.Event{
			Project:    "mux",
			UUID:       fmt.Sprintf("00000000-0000-4000-9000-%012d", len(events)),
			Name:       name,
			DistinctID: install,
			Timestamp:  at,
			ReceivedAt: at,
			Properties: properties,
		})
	}
	message := func() map[string]any {
		return map[string]any{
			"model":             pick(models, []int{50, 25, 15, 10}),
			"thinkingLevel":     pick(mux.ThinkingLevels, []int{10, 20, 40, 20, 5, 5}),
			"runtimeType":       pick(mux.RuntimeTypes, []int{50, 30, 10, 5, 5}),
			"message_length_b2": 1 << (4 + random.IntN(8)),
		}
	}
	stream := func() map[string]any {
		return map[string]any{
			"model":            pick(models, []int{50, 25, 15, 10}),
			"duration_b2":      1 << random.IntN(7),
			"output_tokens_b2": 1 << (6 + random.IntN(8)),
		}
	}
	failure := func() map[string]any {
		return map[string]any{
			"errorType": pick(errorTypes, []int{50, 30, 20}),
			"context":   pick(mux.ErrorContexts, []int{40, 30, 10, 5, 5, 5, 3, 2}),
		}
	}

	for i := range 200 {
		install := fmt.Sprintf("install-%03d", i)
		version := pick(versions, []int{40, 30, 15, 10, 5})
		platform := pick(platforms, []int{50, 30, 20})
		start := random.IntN(20)
		for day := start; day < 30; day++ {
			date := firstDay.AddDate(0, 0, day)
			at := func() time.Time { return date.Add(time.Duration(random.IntN(24*60)) * time.Minute) }
			if day == start {
				first := date.Add(time.Duration(random.IntN(12*60)) * time.Minute)
				add(install, version, platform, "app_started", first, map[string]any{"isFirstLaunch": true})
				add(install, version, platform, "workspace_created", first.Add(3*time.Minute), map[string]any{"runtimeType": "local"})
				add(install, version, platform, "message_sent", first.Add(5*time.Minute), message())
				continue
			}
			activeChance := 55
			if weekday := date.Weekday(); weekday == time.Saturday || weekday == time.Sunday {
				activeChance = 25
			}
			if random.IntN(100) >= activeChance {
				continue
			}
			add(install, version, platform, "app_started", at(), map[string]any{"isFirstLaunch": false})
			messages := random.IntN(14)
			for range messages {
				add(install, version, platform, "message_sent", at(), message())
			}
			for range messages * 3 / 4 {
				add(install, version, platform, "stream_completed", at(), stream())
			}
			for range random.IntN(4) {
				add(install, version, platform, "workspace_switched", at(), map[string]any{})
			}
			for range random.IntN(3) {
				add(install, version, platform, "command_used", at(), map[string]any{"command": pick(mux.Commands, []int{30, 10, 10, 20, 10, 10})})
			}
			for _, occasional := range occasionalEvents {
				if random.IntN(100) >= occasional.percent {
					continue
				}
				properties := map[string]any{}
				if occasional.name == "error_occurred" {
					properties = failure()
				}
				add(install, version, platform, occasional.name, at(), properties)
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

// TestUndeclaredPanelsInBrowser opens the dashboard of a project whose
// catalog declares no first-launch event, funnel or error event, and
// checks that those panels show what is missing while the others load.
func TestUndeclaredPanelsInBrowser(t *testing.T) {
	browsertest.SkipWithoutChromium(t)

	events := gameEvents()
	for i := range events {
		events[i].Timestamp = browserNow.Add(-time.Duration(i+1) * time.Hour)
		events[i].ReceivedAt = events[i].Timestamp
	}
	server := startLoopbackServer(t, dashboard.Config{
		Store:      storeWith(t, events),
		Project:    "game",
		KAnonymity: 1,
		Now:        func() time.Time { return browserNow },
		Projects:   []dashboard.Project{{Name: "mux", Catalog: mux.Catalog()}, {Name: "game", Catalog: gameCatalog(t, catalog.Dashboard{})}},
	})
	ctx := browsertest.NewContext(t, 1360, 900)
	console := browsertest.CollectConsole(t, ctx)

	browsertest.Do(t, ctx, chromedp.Navigate(server.URL+"/?token="+adminToken))
	waitForDashboard(t, ctx)

	states := browsertest.Run(t, ctx, chromedp.Evaluate[map[string]string](
		`Object.fromEntries(Array.from(document.querySelectorAll('section.panel[data-state]')).map((e) => [e.id, e.dataset.state]))`))
	texts := browsertest.Run(t, ctx, chromedp.Evaluate[map[string]string](
		`Object.fromEntries(Array.from(document.querySelectorAll('section.panel[data-state]')).map((e) => [e.id, e.querySelector('.panel-status') ? e.querySelector('.panel-status').textContent : '']))`))
	want := map[string]string{
		"new-installs": `Project "game" declares no first-launch event, so new installs cannot be counted`,
		"funnel":       `Project "game" declares no default funnel, so a funnel needs step parameters`,
		"errors":       `Project "game" declares no error event, so errors cannot be counted`,
	}
	for _, id := range panelIDs {
		text, undeclared := want[id]
		if !undeclared {
			if states[id] != "ready" {
				t.Errorf("panel %s state = %q with status %q, want ready", id, states[id], texts[id])
			}
			continue
		}
		if states[id] != "undeclared" {
			t.Errorf("panel %s state = %q, want undeclared", id, states[id])
		}
		if !strings.HasPrefix(texts[id], text) || !strings.Contains(texts[id], `"dashboard" object of its catalog file`) {
			t.Errorf("panel %s says %q, want %q and how to declare it", id, texts[id], text)
		}
	}

	// The panels that explain what is missing show no chart, table or zeros.
	visible := browsertest.Run(t, ctx, chromedp.Evaluate[[]string](
		`['new-installs', 'funnel', 'errors'].flatMap((id) => Array.from(document.querySelectorAll('#' + id + ' .chart, #' + id + ' .table-scroll, #' + id + ' details'))
		  .filter((e) => e.getBoundingClientRect().height > 0).map((e) => id + ' ' + e.className))`))
	for _, element := range visible {
		t.Errorf("panel part %s is visible, want it hidden", element)
	}
	metric := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.querySelector('[data-metric="new_installs"]').dataset.value`))
	if metric != "undeclared" {
		t.Errorf("new installs headline value = %q, want undeclared", metric)
	}
	checkMetric(t, ctx, "total_events", len(events))
	if screenshots := os.Getenv("CANDOR_SCREENSHOTS"); screenshots != "" {
		saveScreenshot(t, ctx, filepath.Join(screenshots, "dashboard-undeclared.png"))
	}

	// A funnel with typed steps needs no declaration.
	browsertest.Do(t, ctx, chromedp.SetValue(chromedp.CSS("#funnel-steps"), "game_started > round_played"))
	browsertest.Run(t, ctx, chromedp.Evaluate[bool](`document.getElementById('funnel-steps').dispatchEvent(new Event('change'))`))
	browsertest.Run(t, ctx, chromedp.Poll[bool](`document.getElementById('funnel').dataset.state === 'ready'`,
		chromedp.WithPollingTimeout(20*time.Second)))
	steps := browsertest.Run(t, ctx, chromedp.Evaluate[[]string](
		`Chart.getChart(document.getElementById('funnel-chart')).data.labels`))
	if d := cmp.Diff([]string{"1. game_started", "2. round_played"}, steps); d != "" {
		t.Errorf("funnel labels after typing steps (-want +got):\n%s", d)
	}

	for _, message := range console.Messages() {
		t.Errorf("browser console: %s", message)
	}
}
