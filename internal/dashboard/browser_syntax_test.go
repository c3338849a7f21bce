package dashboard_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/browsertest"
	"github.com/candor-dev/candor/internal/store"
)

// recentAwkwardEvents are awkwardEvents moved into the hours before
// browserNow, the page's default range.
func recentAwkwardEvents() []store.Event {
	events := awkwardEvents()
	for i := range events {
		events[i].Timestamp = browserNow.Add(-time.Duration(len(events)-i) * time.Hour)
		events[i].ReceivedAt = events[i].Timestamp
	}
	return events
}

// TestFunnelQuotedStepInBrowser types a step whose value contains > and
// other separators in double quotes, and checks that the page sends it as
// one step and lists it as the API wrote it.
func TestFunnelQuotedStepInBrowser(t *testing.T) {
	first := "message_sent[thinkingLevel=" + quoteStepValue(awkwardLevel) + "]"
	path := "/?" + url.Values{"steps": {first + " > error_occurred"}}.Encode()
	ctx, console := openDashboard(t, recentAwkwardEvents(), 1, path)

	rows := browsertest.Run(t, ctx, chromedp.Evaluate[[][]string](
		`Array.from(document.querySelectorAll('#funnel-table tbody tr')).map((tr) => Array.from(tr.cells).slice(0, 2).map((cell) => cell.textContent))`))
	want := [][]string{{"1. " + first, "1"}, {"2. error_occurred", "1"}}
	if d := cmp.Diff(want, rows); d != "" {
		t.Errorf("funnel table of a quoted step (-want +got):\n%s", d)
	}

	download := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.querySelector('[data-downloads="funnel"] a').href`))
	link, err := url.Parse(download)
	if err != nil {
		t.Fatalf("parse funnel download link %q: %v", download, err)
	}
	if d := cmp.Diff([]string{first, "error_occurred"}, link.Query()["step"]); d != "" {
		t.Errorf("step parameters of the funnel download link (-want +got):\n%s", d)
	}
	checkConsole(t, console)
}

// TestDeclaredFunnelLeftToAPIInBrowser opens the page with the declared
// funnel in the Steps field. The page must request it without step
// parameters, so that the API counts the projects that declare it only.
func TestDeclaredFunnelLeftToAPIInBrowser(t *testing.T) {
	ctx, console := openDashboard(t, recentAwkwardEvents(), 1, "/")

	steps := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.getElementById('funnel-steps').value`))
	if steps == "" {
		t.Fatal("the Steps field is empty, want the Mux catalog's declared funnel")
	}
	download := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.querySelector('[data-downloads="funnel"] a').href`))
	link, err := url.Parse(download)
	if err != nil {
		t.Fatalf("parse funnel download link %q: %v", download, err)
	}
	if got := link.Query()["step"]; len(got) != 0 || !link.Query().Has("window") {
		t.Errorf("funnel download link %q has step parameters %q, want none and a window", download, got)
	}
	checkConsole(t, console)
}

// TestPlatformWithCommaInBrowser picks a platform that contains a comma
// from the field's suggestions, which the page builds from its top
// platforms table, and checks that applying it selects that platform.
func TestPlatformWithCommaInBrowser(t *testing.T) {
	ctx, console := openDashboard(t, recentAwkwardEvents(), 1, "/")

	suggestions := browsertest.Run(t, ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('#platform-options option')).map((option) => option.value).sort()`))
	if d := cmp.Diff([]string{`"a,b"`, "c"}, suggestions); d != "" {
		t.Errorf("platform suggestions (-want +got):\n%s", d)
	}

	browsertest.Do(t, ctx, chromedp.SetValue(chromedp.CSS("#platform"), `"a,b"`))
	// Submit after the evaluation returns, because the navigation would
	// end it.
	browsertest.Run(t, ctx, chromedp.Evaluate[bool](`setTimeout(() => document.getElementById('filters').requestSubmit(), 0) > 0`))
	browsertest.Do(t, ctx, chromedp.Sleep(500*time.Millisecond))
	waitForDashboard(t, ctx)
	applied := browsertest.Run(t, ctx, chromedp.Evaluate[string](`new URLSearchParams(location.search).get('platform')`))
	if applied != `"a,b"` {
		t.Errorf("platform parameter after applying = %q, want %q", applied, `"a,b"`)
	}
	checkMetric(t, ctx, "total_events", 2)
	field := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.getElementById('platform').value`))
	if field != `"a,b"` {
		t.Errorf("platform field after applying = %q, want %q", field, `"a,b"`)
	}
	checkConsole(t, console)
}

// TestFunnelOneStepInBrowser types a single step and checks that the
// funnel panel names its Steps field instead of the API's parameters.
func TestFunnelOneStepInBrowser(t *testing.T) {
	ctx, console := openDashboard(t, recentAwkwardEvents(), 1, "/")

	browsertest.Do(t, ctx, chromedp.SetValue(chromedp.CSS("#funnel-steps"), "message_sent"))
	browsertest.Run(t, ctx, chromedp.Evaluate[bool](`document.getElementById('funnel-steps').dispatchEvent(new Event('change'))`))
	browsertest.Run(t, ctx, chromedp.Poll[bool](`document.getElementById('funnel').dataset.state === 'error'`,
		chromedp.WithPollingTimeout(10*time.Second)))

	message := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.querySelector('#funnel .panel-status').textContent`))
	want := "The Steps field has 1 step: enter 2 to 10 steps, separated by >."
	if message != want {
		t.Errorf("funnel message for one step = %q, want %q", message, want)
	}
	checkConsole(t, console)
}

// TestFunnelStepsTypoInBrowser types Steps fields that name no step or
// leave a quote open, and checks that the funnel panel names the typo
// instead of counting steps that the field does not show.
func TestFunnelStepsTypoInBrowser(t *testing.T) {
	ctx, console := openDashboard(t, recentAwkwardEvents(), 1, "/")

	tests := []struct {
		steps string
		want  string
	}{
		{
			steps: ` > > `,
			want:  "The Steps field has no step: enter 2 to 10 steps, separated by >.",
		},
		{
			steps: `message_sent[model="m1] > error_occurred`,
			want:  `The Steps field has a quoted value without its closing ": end the value with ", and write \" for a quote inside it.`,
		},
	}
	for _, test := range tests {
		browsertest.Do(t, ctx, chromedp.SetValue(chromedp.CSS("#funnel-steps"), test.steps))
		browsertest.Run(t, ctx, chromedp.Evaluate[bool](`document.getElementById('funnel-steps').dispatchEvent(new Event('change'))`))
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById('funnel').dataset.state === 'error'`,
			chromedp.WithPollingTimeout(5*time.Second)))
		message := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.querySelector('#funnel .panel-status').textContent`))
		if err != nil {
			t.Errorf("steps %q: funnel panel shows no error, status %q", test.steps, message)
			continue
		}
		if message != test.want {
			t.Errorf("steps %q: funnel message = %q, want %q", test.steps, message, test.want)
		}
	}
	checkConsole(t, console)
}
