package dashboard_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/browsertest"
	"github.com/candor-dev/candor/internal/dashboard"
)

// readPanelStatusScript returns the status line of each panel that draws
// a chart or table.
const readPanelStatusScript = `Object.fromEntries(['trends', 'active', 'new-installs', 'histogram', 'retention', 'versions', 'platforms']
  .map((id) => {
    const line = document.getElementById(id).querySelector('.panel-status');
    return [id, line ? line.textContent : 'no status line'];
  }))`

// readMetricsScript returns the text, value and note of each headline.
const readMetricsScript = `Array.from(document.querySelectorAll('[data-metric]')).map((element) => {
  const note = document.querySelector('[data-metric-note="' + element.dataset.metric + '"]');
  return [element.dataset.metric, element.textContent, element.dataset.value, note ? note.textContent : 'no note'];
})`

func TestEmptyPanelsInBrowser(t *testing.T) {
	ctx, console := openDashboard(t, nil, 1, "/")

	statuses := browsertest.Run(t, ctx, chromedp.Evaluate[map[string]string](readPanelStatusScript))
	want := map[string]string{
		"trends":       "No events match these filters.",
		"active":       "No active installs match these filters.",
		"new-installs": "No new installs match these filters.",
		"histogram":    "No values match these filters.",
		"retention":    "No installs match these filters.",
		"versions":     "No events match these filters.",
		"platforms":    "No events match these filters.",
	}
	if d := cmp.Diff(want, statuses); d != "" {
		t.Errorf("panel status lines of an empty store (-want +got):\n%s", d)
	}

	// With k-anonymity off, every headline is a plain zero.
	metrics := browsertest.Run(t, ctx, chromedp.Evaluate[[][]string](readMetricsScript))
	wantMetrics := [][]string{
		{"total_events", "0", "0", ""},
		{"installs", "0", "0", ""},
		{"new_installs", "0", "0", ""},
		{"peak_active", "0", "0", ""},
	}
	if d := cmp.Diff(wantMetrics, metrics); d != "" {
		t.Errorf("headlines of an empty store with k = 1 (-want +got):\n%s", d)
	}
	checkConsole(t, console)
}

func TestEmptyHeadlinesHiddenInBrowser(t *testing.T) {
	ctx, console := openDashboard(t, nil, dashboard.DefaultKAnonymity, "/")

	// Every headline follows the rule of the overview's total: a count
	// from fewer than k installs, none included, is hidden with a note.
	metrics := browsertest.Run(t, ctx, chromedp.Evaluate[[][]string](readMetricsScript))
	hidden := "Hidden: fewer than 5 installs, possibly none"
	want := [][]string{
		{"total_events", "< 5", "suppressed", hidden},
		{"installs", "< 5", "suppressed", hidden},
		{"new_installs", "< 5", "suppressed", hidden},
		{"peak_active", "< 5", "suppressed", hidden},
	}
	if d := cmp.Diff(want, metrics); d != "" {
		t.Errorf("headlines of an empty store with k = 5 (-want +got):\n%s", d)
	}

	note := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.querySelector('#funnel .suppressed-note').textContent`))
	if wantNote := "3 steps are hidden because fewer than 5 installs, possibly none, are behind each."; note != wantNote {
		t.Errorf("funnel note of an empty store = %q, want %q", note, wantNote)
	}
	checkConsole(t, console)
}
