package dashboard_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/browsertest"
	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/store"
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

// errorsMatrixEvents returns 6 installs with APICallError in message-send
// and 6 others with GitError in git-operation. The errors table then has
// two cells that the API returns no row for. On the day before browserNow
// no install is active, but 6 are active in the 7 days up to it.
func errorsMatrixEvents() []store.Event {
	var events []store.Event
	add := func(install, errorType, context string, at time.Time) {
		events = append(events, store.Event{
			Project:    "mux",
			UUID:       fmt.Sprintf("00000000-0000-4000-a000-%012d", len(events)),
			Name:       "error_occurred",
			DistinctID: install,
			Timestamp:  at,
			ReceivedAt: at,
			Properties: map[string]any{"errorType": errorType, "context": context},
		})
	}
	for i := range 6 {
		add(fmt.Sprintf("install-api-%d", i), "APICallError", "message-send", browserNow.Add(-time.Hour))
		add(fmt.Sprintf("install-git-%d", i), "GitError", "git-operation", browserNow.Add(-49*time.Hour))
	}
	return events
}

// readTableScript is a script that evaluates to the cells of the table
// with the id %q, header row first.
const readTableScript = `Array.from(document.getElementById(%q).querySelectorAll('tr'))
  .map((tr) => Array.from(tr.children).map((cell) => cell.textContent))`

func TestAbsentTableCellsHiddenInBrowser(t *testing.T) {
	events := errorsMatrixEvents()
	yesterday := utcDay(browserNow.AddDate(0, 0, -1))

	for _, test := range []struct {
		k      int
		absent string
	}{{1, "0"}, {dashboard.DefaultKAnonymity, "< 5"}} {
		t.Run(fmt.Sprintf("k=%d", test.k), func(t *testing.T) {
			ctx, console := openDashboard(t, events, test.k, "/")

			// A count with no row in the API is 0, which k-anonymity
			// hides as it hides the API's zero rows, such as a funnel step.
			matrix := browsertest.Run(t, ctx, chromedp.Evaluate[[][]string](fmt.Sprintf(readTableScript, "errors-table")))
			wantMatrix := [][]string{
				{"Error type", "git-operation", "message-send"},
				{"APICallError", test.absent, "6 (6)"},
				{"GitError", "6 (6)", test.absent},
			}
			if d := cmp.Diff(wantMatrix, matrix); d != "" {
				t.Errorf("errors table (-want +got):\n%s", d)
			}

			note := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.querySelector('#errors .suppressed-note').textContent`))
			wantNote := ""
			if test.k > 1 {
				wantNote = "2 cells are hidden because fewer than 5 installs, possibly none, are behind each."
			}
			if note != wantNote {
				t.Errorf("errors note = %q, want %q", note, wantNote)
			}

			active := browsertest.Run(t, ctx, chromedp.Evaluate[[][]string](fmt.Sprintf(readTableScript, "active-table")))
			var row []string
			for _, cells := range active {
				if len(cells) > 0 && cells[0] == yesterday {
					row = cells
				}
			}
			if want := []string{yesterday, test.absent, "6", "6"}; !cmp.Equal(want, row) {
				t.Errorf("active installs table row of %s = %q, want %q", yesterday, row, want)
			}
			// The note counts the hidden cells of the table, those with
			// no row in the API included.
			hidden := 0
			for _, cells := range active {
				for _, cell := range cells {
					if cell == "< 5" {
						hidden++
					}
				}
			}
			activeNote := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.querySelector('#active .suppressed-note').textContent`))
			wantActiveNote := ""
			switch {
			case test.k == 1:
			case hidden == 1:
				wantActiveNote = "1 point is hidden because fewer than 5 installs, possibly none, are behind it."
			default:
				wantActiveNote = fmt.Sprintf("%d points are hidden because fewer than 5 installs, possibly none, are behind each.", hidden)
			}
			if hidden == 0 && test.k > 1 || activeNote != wantActiveNote {
				t.Errorf("active installs note = %q with %d hidden cells, want %q", activeNote, hidden, wantActiveNote)
			}
			checkConsole(t, console)
		})
	}
}
