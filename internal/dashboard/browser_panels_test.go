package dashboard_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/browsertest"
	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/store"
)

// openDashboard starts a dashboard on events with k-anonymity k, opens
// path in headless Chromium after logging in with the token link, and
// waits until every panel has loaded.
func openDashboard(t *testing.T, events []store.Event, k int, path string) (context.Context, *browsertest.Console) {
	t.Helper()
	browsertest.SkipWithoutChromium(t)
	server := startLoopbackServer(t, dashboard.Config{
		Store:      storeWith(t, events),
		Project:    "mux",
		KAnonymity: k,
		Now:        func() time.Time { return browserNow },
	})
	ctx := browsertest.NewContext(t, 1360, 900)
	console := browsertest.CollectConsole(t, ctx)
	browsertest.Do(t, ctx, chromedp.Navigate(server.URL+"/?token="+adminToken))
	waitForDashboard(t, ctx)
	if path != "/" {
		browsertest.Do(t, ctx, chromedp.Navigate(server.URL+path))
		waitForDashboard(t, ctx)
	}
	return ctx, console
}

// checkConsole fails the test for each message the page wrote to the
// browser console.
func checkConsole(t *testing.T, console *browsertest.Console) {
	t.Helper()
	for _, message := range console.Messages() {
		t.Errorf("browser console: %s", message)
	}
}

// TestStaleResponseInBrowser switches the interval twice while the first
// response is slow, and checks that the late response does not replace
// the chart of the interval the select shows.
func TestStaleResponseInBrowser(t *testing.T) {
	events := seededEvents()
	ctx, console := openDashboard(t, events, 1, "/")

	// Delay every API request for weekly data by 1.5 s, as a slow
	// collector would.
	browsertest.Run(t, ctx, chromedp.Evaluate[bool](`(() => {
	  const original = window.fetch;
	  window.fetch = (url, options) => String(url).includes('interval=week')
	    ? new Promise((resolve) => setTimeout(resolve, 1500)).then(() => original(url, options))
	    : original(url, options);
	  return true;
	})()`))
	for _, interval := range []string{"week", "month"} {
		browsertest.Do(t, ctx, chromedp.SetValue(chromedp.CSS("#trend-interval"), interval))
		browsertest.Run(t, ctx, chromedp.Evaluate[bool](`document.getElementById('trend-interval').dispatchEvent(new Event('change'))`))
	}
	// Wait past the delayed response.
	browsertest.Do(t, ctx, chromedp.Sleep(2500*time.Millisecond))
	browsertest.Run(t, ctx, chromedp.Poll[bool](`document.body.dataset.state === 'ready'`, chromedp.WithPollingTimeout(20*time.Second)))

	type trendsState struct {
		State   string   `json:"state"`
		Labels  []string `json:"labels"`
		Sum     float64  `json:"sum"`
		Periods []string `json:"periods"`
	}
	got := browsertest.Run(t, ctx, chromedp.Evaluate[trendsState](`(() => {
	  const chart = Chart.getChart(document.getElementById('trends-chart'));
	  return {
	    state: document.getElementById('trends').dataset.state,
	    labels: chart.data.labels,
	    sum: chart.data.datasets.flatMap((d) => d.data).reduce((a, b) => a + (b || 0), 0),
	    periods: Array.from(new Set(Array.from(document.querySelectorAll('#trends-table tbody tr')).map((tr) => tr.cells[0].textContent))),
	  };
	})()`))
	if got.State != "ready" {
		t.Errorf("trends panel state = %q, want ready", got.State)
	}
	want := []string{"2025-03-01"}
	if d := cmp.Diff(want, got.Labels); d != "" {
		t.Errorf("trends chart periods with the monthly interval selected (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want, got.Periods); d != "" {
		t.Errorf("trends table periods with the monthly interval selected (-want +got):\n%s", d)
	}
	if got.Sum != float64(len(events)) {
		t.Errorf("trends chart sums to %v events, want %d", got.Sum, len(events))
	}
	checkConsole(t, console)
}

// TestRetentionFutureWeeksInBrowser opens the retention of a cohort too
// small to show, and checks that the weeks after today stay blank instead
// of claiming hidden numbers.
func TestRetentionFutureWeeksInBrowser(t *testing.T) {
	var events []store.Event
	for i := range 3 {
		at := browserNow.Add(-time.Duration(i+1) * time.Hour)
		events = append(events, store.Event{
			Project:    "mux",
			UUID:       fmt.Sprintf("00000000-0000-4000-9000-%012d", i),
			Name:       "app_started",
			DistinctID: fmt.Sprintf("install-%d", i),
			Timestamp:  at,
			ReceivedAt: at,
			Properties: map[string]any{"isFirstLaunch": true},
		})
	}
	ctx, console := openDashboard(t, events, dashboard.DefaultKAnonymity, "/?weeks=3")

	cells := browsertest.Run(t, ctx, chromedp.Evaluate[[][]string](
		`Array.from(document.querySelectorAll('#retention-table tbody tr')).map((tr) => Array.from(tr.cells).map((cell) => cell.textContent))`))
	// browserNow is a Monday, so its cohort has reached week 0 only.
	want := [][]string{{"Mar 31, 2025", "< 5", "< 5", "", "", ""}}
	if d := cmp.Diff(want, cells); d != "" {
		t.Errorf("retention table of a hidden cohort (-want +got):\n%s", d)
	}
	checkConsole(t, console)
}

// TestTrendsOtherSeriesInBrowser breaks message_sent down by a property
// with more values than the chart shows, and checks that the values
// beyond them appear as one grey "Other" series, not next to the API's
// "(other)" bucket.
func TestTrendsOtherSeriesInBrowser(t *testing.T) {
	var events []store.Event
	for model := range 14 {
		for i := range 3 + model%3 {
			at := browserNow.Add(-time.Duration(model*10+i+1) * time.Hour)
			events = append(events, store.Event{
				Project:    "mux",
				UUID:       fmt.Sprintf("00000000-0000-4000-9000-%012d", len(events)),
				Name:       "message_sent",
				DistinctID: fmt.Sprintf("install-%d", i),
				Timestamp:  at,
				ReceivedAt: at,
				Properties: map[string]any{"model": fmt.Sprintf("model-%02d", model), "message_length_b2": 64},
			})
		}
	}
	ctx, console := openDashboard(t, events, 1, "/?event=message_sent&breakdown=model")

	type series struct {
		Label string  `json:"label"`
		Color string  `json:"color"`
		Sum   float64 `json:"sum"`
	}
	datasets := browsertest.Run(t, ctx, chromedp.Evaluate[[]series](
		`Chart.getChart(document.getElementById('trends-chart')).data.datasets.map((d) => ({
		  label: d.label, color: d.backgroundColor, sum: d.data.reduce((a, b) => a + (b || 0), 0) }))`))
	var others []series
	var total float64
	for _, d := range datasets {
		total += d.Sum
		if strings.Contains(strings.ToLower(d.Label), "other") {
			others = append(others, d)
		}
	}
	if len(others) != 1 || others[0].Label != "Other" {
		t.Errorf("trends series about other values = %+v, want one series labeled Other", others)
	}
	if len(datasets) != 10 {
		t.Errorf("trends chart has %d series, want 9 models and Other", len(datasets))
	}
	if total != float64(len(events)) {
		t.Errorf("trends chart sums to %v events, want %d", total, len(events))
	}
	checkConsole(t, console)
}

// TestFunnelLabelsOnPhoneInBrowser opens the funnel on a phone-sized
// screen and checks that every step label fits beside its bar.
func TestFunnelLabelsOnPhoneInBrowser(t *testing.T) {
	ctx, console := openDashboard(t, seededEvents(), 1, "/")
	browsertest.Do(t, ctx, chromedp.EmulateViewport(375, 740))
	browsertest.Do(t, ctx, chromedp.Reload())
	waitForDashboard(t, ctx)

	type label struct {
		Text  string  `json:"text"`
		Width float64 `json:"width"`
		Room  float64 `json:"room"`
	}
	labels := browsertest.Run(t, ctx, chromedp.Evaluate[[]label](`(() => {
	  const chart = Chart.getChart(document.getElementById('funnel-chart'));
	  const scale = chart.scales.y;
	  const context = document.createElement('canvas').getContext('2d');
	  context.font = Chart.helpers.toFont(scale.options.ticks.font).string;
	  return chart.data.labels.flatMap((text) => [].concat(text)).map((line) => ({
	    text: line, width: context.measureText(line).width, room: scale.width - scale.options.ticks.padding,
	  }));
	})()`))
	if len(labels) == 0 {
		t.Fatal("funnel chart has no labels")
	}
	for _, l := range labels {
		if l.Width > l.Room {
			t.Errorf("funnel label %q is %.0f px wide in %.0f px, want it whole", l.Text, l.Width, l.Room)
		}
	}
	checkConsole(t, console)
}
