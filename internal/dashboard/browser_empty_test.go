package dashboard_test

import (
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// readPanelStatusScript returns the status line of each panel that draws
// a chart or table.
const readPanelStatusScript = `Object.fromEntries(['trends', 'active', 'new-installs', 'histogram', 'retention', 'versions', 'platforms']
  .map((id) => {
    const line = document.getElementById(id).querySelector('.panel-status');
    return [id, line ? line.textContent : 'no status line'];
  }))`

func TestEmptyPanelsInBrowser(t *testing.T) {
	ctx, console := openDashboard(t, nil, 1, "/")

	statuses := mustRun(t, ctx, chromedp.Evaluate[map[string]string](readPanelStatusScript))
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

	checkConsole(t, console)
}
