package dashboard_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/candor-dev/candor/internal/browsertest"
	"github.com/candor-dev/candor/internal/dashboard"
)

// Modes of outageHandler.
const (
	outageNone        int32 = iota
	outageUnavailable       // every API request gets the 503 of an unavailable store
	outageAbort             // every API request loses its connection without a response
)

// outageHandler serves the dashboard and, while mode is not outageNone,
// fails its API requests as a collector with an unavailable store or a
// collector that went away would. Its 503 carries Retry-After: 1 instead
// of the dashboard's 5 s, so the page retries within the test's time.
type outageHandler struct {
	next http.Handler
	mode atomic.Int32
}

func (h *outageHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/api/") {
		h.next.ServeHTTP(w, r)
		return
	}
	switch h.mode.Load() {
	case outageUnavailable:
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":"query failed because the event store is unavailable: retry later, and see the collector log for the cause"}` + "\n"))
	case outageAbort:
		panic(http.ErrAbortHandler)
	default:
		h.next.ServeHTTP(w, r)
	}
}

// panelOutageScript returns what the trends panel and the page show: the
// states, the status lines, the new installs headline, and whether a
// chart, table rows or download links remain.
const panelOutageScript = `(() => {
  const section = document.getElementById('trends');
  return {
    state: section.dataset.state,
    status: section.querySelector('.panel-status').textContent,
    chart: Boolean(Chart.getChart(document.getElementById('trends-chart'))),
    rows: document.querySelectorAll('#trends-table tbody tr').length,
    downloads: section.querySelectorAll('.downloads a').length,
    newInstalls: document.querySelector('[data-metric="new_installs"]').textContent,
    pageState: document.body.dataset.state,
    pageStatus: document.getElementById('status').textContent,
  };
})()`

type panelOutage struct {
	State       string `json:"state"`
	Status      string `json:"status"`
	Chart       bool   `json:"chart"`
	Rows        int    `json:"rows"`
	Downloads   int    `json:"downloads"`
	NewInstalls string `json:"newInstalls"`
	PageState   string `json:"pageState"`
	PageStatus  string `json:"pageStatus"`
}

// TestStoreOutageInBrowser loads the page, makes the API fail, changes
// the interval, and checks that the reloaded panels show why they are
// empty instead of keeping the chart of the interval before, and that
// they load again on their own once the API responds.
func TestStoreOutageInBrowser(t *testing.T) {
	browsertest.SkipWithoutChromium(t)
	handler, err := dashboard.New(dashboard.Config{
		Store:      storeWith(t, fixtureEvents()),
		AdminToken: adminToken,
		Project:    "mux",
		KAnonymity: 1,
		Now:        func() time.Time { return time.Date(2024, time.May, 5, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	outage := &outageHandler{next: handler}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.1: %v", err)
	}
	server := &httptest.Server{Listener: listener, Config: &http.Server{Handler: outage}}
	server.Start()
	t.Cleanup(server.Close)

	ctx := browsertest.NewContext(t, 1360, 900)
	browsertest.Do(t, ctx, chromedp.Navigate(server.URL+"/?token="+adminToken))
	waitForDashboard(t, ctx)
	before := browsertest.Run(t, ctx, chromedp.Evaluate[panelOutage](panelOutageScript))

	tests := []struct {
		mode       int32
		interval   string
		wantStatus []string
	}{
		{outageUnavailable, "week", []string{"event store is unavailable", "Retrying in 1 s"}},
		{outageAbort, "month", []string{"the collector did not respond", "Retrying in 5 s"}},
	}
	for _, test := range tests {
		outage.mode.Store(test.mode)
		browsertest.Run(t, ctx, chromedp.Evaluate[bool](`(() => {
		  const select = document.getElementById('trend-interval');
		  select.value = '`+test.interval+`';
		  select.dispatchEvent(new Event('change'));
		  return true;
		})()`))
		// The page reports the error once the last panel has failed, which
		// may come after trends on a loaded machine.
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](
			`document.getElementById('trends').dataset.state === 'error' && document.body.dataset.state === 'error'`,
			chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil {
			t.Errorf("interval %s: trends and the page did not both reach the error state: %v", test.interval, err)
		}

		failed := browsertest.Run(t, ctx, chromedp.Evaluate[panelOutage](panelOutageScript))
		for _, want := range test.wantStatus {
			if !strings.Contains(failed.Status, want) {
				t.Errorf("interval %s: trends status = %q, want it to contain %q", test.interval, failed.Status, want)
			}
		}
		if failed.Chart {
			t.Errorf("interval %s: the trends chart of the interval before stays drawn after the load failed", test.interval)
		}
		if failed.Rows != 0 {
			t.Errorf("interval %s: the trends table keeps %d rows of the interval before after the load failed", test.interval, failed.Rows)
		}
		if failed.Downloads != 0 {
			t.Errorf("interval %s: trends keeps %d download links after the load failed", test.interval, failed.Downloads)
		}
		if failed.NewInstalls != "–" {
			t.Errorf("interval %s: new installs headline = %q after its load failed, want –", test.interval, failed.NewInstalls)
		}
		if failed.PageState != "error" || failed.PageStatus == "" {
			t.Errorf("interval %s: page state %q with status %q, want error with a status", test.interval, failed.PageState, failed.PageStatus)
		}

		// The panels load again on their own once the API responds.
		outage.mode.Store(outageNone)
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.body.dataset.state === 'ready'`,
			chromedp.WithPollingTimeout(10*time.Second)))
		recovered := browsertest.Run(t, ctx, chromedp.Evaluate[panelOutage](panelOutageScript))
		if err != nil {
			t.Fatalf("interval %s: page did not recover after the API responded again: %+v", test.interval, recovered)
		}
		if recovered.State != "ready" || !recovered.Chart || recovered.Rows == 0 || recovered.Status != "" {
			t.Errorf("interval %s: trends after recovery = %+v, want ready with a chart, rows and no status", test.interval, recovered)
		}
		if recovered.NewInstalls != before.NewInstalls {
			t.Errorf("interval %s: new installs headline after recovery = %q, want %q as before the outage",
				test.interval, recovered.NewInstalls, before.NewInstalls)
		}
	}
}

// TestInvalidTokenLinkLeavesAddressBar opens a link with a write key in
// place of the admin token: the login page shows its error and takes the
// key out of the address bar and the history entry.
func TestInvalidTokenLinkLeavesAddressBar(t *testing.T) {
	browsertest.SkipWithoutChromium(t)
	server := startLoopbackServer(t, dashboard.Config{Store: openStore(t), Project: "mux"})
	ctx := browsertest.NewContext(t, 1024, 768)
	console := browsertest.CollectConsole(t, ctx)

	browsertest.Do(t, ctx, chromedp.Navigate(server.URL+"/?from=2025-01-01&token=phc_0123456789abcdef0123456789abcdef"))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!location.search.includes('token')`,
		chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Errorf("address bar still holds the token: %s", browsertest.Run(t, ctx, chromedp.Evaluate[string](`location.href`)))
	}
	if got := browsertest.Run(t, ctx, chromedp.Evaluate[string](`location.search`)); got != "?from=2025-01-01" {
		t.Errorf("query after the invalid link = %q, want the other parameters kept: ?from=2025-01-01", got)
	}
	if message := browsertest.Run(t, ctx, chromedp.Evaluate[string](`document.getElementById('login-error').textContent`)); !strings.Contains(message, "write key") {
		t.Errorf("login error = %q, want it to name the write key", message)
	}
	for _, m := range console.Messages() {
		// The 401 of the page itself is expected.
		if !strings.Contains(m, "401") {
			t.Errorf("browser console: %s", m)
		}
	}
}
