package clientjs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/candor-dev/candor/internal/browsertest"
	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
	"github.com/candor-dev/candor/sdk/telemetry"
	"github.com/candor-dev/candor/sdk/webtelemetry"
)

// bulkLoaded is an event of about 1 KiB of JSON, so that 100 of them
// exceed the 64 KiB that Chromium lets a page's keepalive requests carry.
type bulkLoaded struct {
	Index int    `json:"index" candor:"count,max=100000"`
	P0    string `json:"p0" candor:"identifier"`
	P1    string `json:"p1" candor:"identifier"`
	P2    string `json:"p2" candor:"identifier"`
	P3    string `json:"p3" candor:"identifier"`
	P4    string `json:"p4" candor:"identifier"`
	P5    string `json:"p5" candor:"identifier"`
	P6    string `json:"p6" candor:"identifier"`
	P7    string `json:"p7" candor:"identifier"`
	P8    string `json:"p8" candor:"identifier"`
	P9    string `json:"p9" candor:"identifier"`
}

func (bulkLoaded) EventName() string { return "bulk_loaded" }

// bulkValue is the value of each p property, 99 characters long.
const bulkValue = "alpha-bravo-charlie-delta-echo-foxtrot-golf-hotel-india-juliet-kilo-lima-mike-november-oscar-papa-q"

// unsentKey is the sessionStorage key under which client.js keeps the
// events that did not fit into the keepalive budget.
const unsentKey = "candor-telemetry-unsent"

// testPage imports the client from the handler and defines bulk(from, to),
// which tracks bulk_loaded with the indexes from to to-1.
const testPage = `<!doctype html>
<meta charset="utf-8">
<title>webtelemetry browser test</title>
<script type="module">
import * as client from "/api/telemetry/client.js";
client.configure({ allowAutomation: true, dev: true });
const value = %q;
window.client = client;
window.bulk = (from, to) => {
  for (let index = from; index < to; index++) {
    const properties = { index };
    for (let p = 0; p < 10; p++) properties["p" + p] = value;
    client.track("bulk_loaded", properties);
  }
};
// fillKeepalive posts a keepalive request of size bytes to POST /hold,
// which the server holds open until the test ends, so that its body stays
// in the page's keepalive budget.
window.fillKeepalive = (size) => {
  fetch("/hold", { method: "POST", body: "x".repeat(size), keepalive: true }).catch(() => {});
};
// keepaliveTracks counts the keepalive requests to POST track that the
// client has handed to fetch.
window.keepaliveTracks = 0;
const pageFetch = window.fetch;
window.fetch = (input, init) => {
  if (String(input).endsWith("/track") && init && init.keepalive) window.keepaliveTracks++;
  return pageFetch(input, init);
};
window.ready = true;
</script>
`

// trackRecorder counts the bulk_loaded indexes that reach POST track,
// before the handler checks them, and holds the first requests until
// release is called. Between holdStatus and releaseStatus it also holds
// GET status requests.
type trackRecorder struct {
	next    http.Handler
	hold    int
	release func()
	gate    chan struct{}

	mu         sync.Mutex
	seen       map[int]int
	arrived    int
	statusGate chan struct{} // nil unless GET status requests are held
}

func newTrackRecorder(next http.Handler, hold int) *trackRecorder {
	r := &trackRecorder{next: next, hold: hold, gate: make(chan struct{}), seen: map[int]int{}}
	r.release = sync.OnceFunc(func() { close(r.gate) })
	return r
}

func (r *trackRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodGet && req.URL.Path == "status" {
		r.mu.Lock()
		gate := r.statusGate
		r.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-req.Context().Done():
				return
			}
		}
	}
	if req.Method != http.MethodPost || req.URL.Path != "track" {
		r.next.ServeHTTP(w, req)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	var ev struct {
		Event      string `json:"event"`
		Properties struct {
			Index int `json:"index"`
		} `json:"properties"`
	}
	held := false
	if err := json.Unmarshal(body, &ev); err == nil && ev.Event == "bulk_loaded" {
		r.mu.Lock()
		r.seen[ev.Properties.Index]++
		r.arrived++
		held = r.arrived <= r.hold
		r.mu.Unlock()
	}
	if held {
		select {
		case <-r.gate:
		case <-req.Context().Done():
			return
		}
	}
	r.next.ServeHTTP(w, req)
}

// holdStatus makes GET status requests wait until releaseStatus is
// called, so that a test can look at the events a page keeps in
// sessionStorage before the page's status read sends or drops them.
func (r *trackRecorder) holdStatus() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.statusGate == nil {
		r.statusGate = make(chan struct{})
	}
}

// releaseStatus lets the held GET status requests and later ones through.
func (r *trackRecorder) releaseStatus() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.statusGate != nil {
		close(r.statusGate)
		r.statusGate = nil
	}
}

// missing returns the indexes from from to to-1 that have not arrived.
func (r *trackRecorder) missing(from, to int) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for i := from; i < to; i++ {
		if r.seen[i] == 0 {
			out = append(out, i)
		}
	}
	return out
}

// duplicates returns the indexes that arrived more than once.
func (r *trackRecorder) duplicates() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for i, n := range r.seen {
		if n > 1 {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// waitArrived waits up to 10 s until the indexes from from to to-1 have
// all arrived.
func (r *trackRecorder) waitArrived(t *testing.T, from, to int, when string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(r.missing(from, to)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if missing := r.missing(from, to); len(missing) > 0 {
		t.Fatalf("%s: %d of the events %d to %d never reached POST track: %v", when, len(missing), from, to-1, missing)
	}
}

// bulkApp is a telemetry client whose catalog has the bulk_loaded event,
// its webtelemetry handler mounted with the test page on one loopback
// server, and a browser tab.
type bulkApp struct {
	collector *collector
	client    *telemetry.Client
	recorder  *trackRecorder
	url       string
	ctx       context.Context // the chromedp context of the tab

	heldPageRequests atomic.Int64 // POST /hold requests that arrived
	releaseHeld      func()       // ends the POST /hold requests
}

// startBulkApp starts the app and opens its page. The first hold track
// requests wait until recorder.release is called.
func startBulkApp(t *testing.T, hold int) *bulkApp {
	t.Helper()
	events := catalog.New(mux.App)
	if err := events.Register(bulkLoaded{}, "A test event of about 1 KiB."); err != nil {
		t.Fatal(err)
	}
	c := newCollector(t)
	client, err := telemetry.New(telemetry.Config{
		App:             mux.App,
		Catalog:         events,
		Endpoint:        c.srv.URL,
		WriteKey:        "phc_test_write_key",
		Home:            t.TempDir(),
		Version:         "1.2.3",
		AllowAutomation: true, // go test counts as automation
		Getenv:          emptyEnv,
		FlushInterval:   time.Hour, // the tests flush explicitly
	})
	if err != nil {
		t.Fatalf("telemetry.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		client.Close(ctx)
	})

	handler := webtelemetry.New(webtelemetry.Config{Client: client, AllowToggle: true})
	recorder := newTrackRecorder(handler, hold)
	routes := http.NewServeMux()
	routes.Handle("/api/telemetry/", http.StripPrefix("/api/telemetry/", recorder))
	routes.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, testPage, bulkValue)
	})
	app := &bulkApp{
		collector: c,
		client:    client,
		recorder:  recorder,
	}
	holdGate := make(chan struct{})
	app.releaseHeld = sync.OnceFunc(func() { close(holdGate) })
	routes.HandleFunc("POST /hold", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		app.heldPageRequests.Add(1)
		select {
		case <-holdGate:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(routes)
	t.Cleanup(srv.Close)
	// Cleanups run last first: the held requests end before srv.Close
	// waits for them.
	t.Cleanup(recorder.release)
	t.Cleanup(recorder.releaseStatus)
	t.Cleanup(app.releaseHeld)

	app.url = srv.URL + "/page"
	app.ctx = browsertest.NewContext(t, 1280, 800)
	app.open(t, "")
	return app
}

// emptyEnv is an environment without variables, so that no opt-out
// variable of the test's own environment applies to the telemetry client.
func emptyEnv(string) string { return "" }

// open loads the test page with query and waits until it has imported the
// client.
func (a *bulkApp) open(t *testing.T, query string) {
	t.Helper()
	browsertest.Do(t, a.ctx, chromedp.Navigate(a.url+query))
	waitUntil(t, a.ctx, "the page has imported client.js", `window.ready === true`)
}

// evaluate runs expression in the tab and awaits it when it is a promise.
func (a *bulkApp) evaluate(t *testing.T, expression string) {
	t.Helper()
	evaluate(t, a.ctx, expression)
}

// storedCount returns the number of events that the client keeps in
// sessionStorage.
func (a *bulkApp) storedCount(t *testing.T) int {
	t.Helper()
	return browsertest.Run(t, a.ctx, chromedp.Evaluate[int](storedCountScript))
}

// waitStored waits until sessionStorage keeps n events.
func (a *bulkApp) waitStored(t *testing.T, n int, what string) {
	t.Helper()
	waitUntil(t, a.ctx, what, fmt.Sprintf("%s === %d", storedCountScript, n))
}

// storedCountScript evaluates to the number of events that client.js
// keeps in sessionStorage.
var storedCountScript = fmt.Sprintf(`(JSON.parse(sessionStorage.getItem(%q) || "{}").events || []).length`, unsentKey)

// setMinimized minimizes or restores the tab's window, which makes the
// page hidden or visible.
func (a *bulkApp) setMinimized(t *testing.T, minimized bool) {
	t.Helper()
	targetID := chromedp.FromContext(a.ctx).Target.TargetID
	window, err := chromedp.CallBrowser(a.ctx, browser.GetWindowForTarget, browser.GetWindowForTargetParams{TargetID: targetID})
	if err != nil {
		t.Fatalf("get the window of tab %s: %v", targetID, err)
	}
	state, want := browser.WindowStateNormal, "visible"
	if minimized {
		state, want = browser.WindowStateMinimized, "hidden"
	}
	bounds := browser.SetWindowBoundsParams{WindowID: window.WindowID, Bounds: &browser.Bounds{WindowState: state}}
	if _, err := chromedp.CallBrowser(a.ctx, browser.SetWindowBounds, bounds); err != nil {
		t.Fatalf("set the state of window %d to %s: %v", window.WindowID, state, err)
	}
	waitUntil(t, a.ctx, "document.visibilityState is "+want, fmt.Sprintf(`document.visibilityState === %q`, want))
}

// flush sends what the telemetry client queued and returns the events
// that the collector got.
func (a *bulkApp) flush(t *testing.T) []sentEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.client.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	return a.collector.sent()
}

// checkCollected flushes the telemetry client and checks that the
// collector got n bulk_loaded events, so the handler accepted them all.
func (a *bulkApp) checkCollected(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		events := a.flush(t)
		got := 0
		for _, ev := range events {
			if ev.Event == "bulk_loaded" {
				got++
			}
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector got %d bulk_loaded events, want %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPagehideFlushOverKeepaliveBudget queues about 100 KiB of events
// behind two held requests and navigates away. What does not fit into
// Chromium's 64 KiB keepalive budget at pagehide is sent by the next
// page once it calls configure, before any track call.
func TestPagehideFlushOverKeepaliveBudget(t *testing.T) {
	app := startBulkApp(t, 2)

	app.evaluate(t, `bulk(0, 102)`)
	app.recorder.waitArrived(t, 0, 2, "before navigating")
	app.open(t, "?second")
	app.recorder.waitArrived(t, 2, 102, "after the next page called configure, without a track call")
	app.evaluate(t, `bulk(102, 103)`)

	app.recorder.waitArrived(t, 2, 103, "after the next page tracked an event")
	app.recorder.release()
	app.recorder.waitArrived(t, 0, 103, "after the held requests were released")
	if d := app.recorder.duplicates(); len(d) > 0 {
		t.Errorf("events that reached POST track more than once: %v", d)
	}
	if n := app.storedCount(t); n != 0 {
		t.Errorf("sessionStorage keeps %d events after they were sent, want 0", n)
	}
	app.checkCollected(t, 103)
}

// TestHiddenPageFlushes queues events behind two held requests and
// minimizes the window: the page turns hidden, which sends the queue at
// once, and the pagehide that follows sends nothing twice.
func TestHiddenPageFlushes(t *testing.T) {
	app := startBulkApp(t, 2)

	app.evaluate(t, `bulk(0, 10)`)
	app.recorder.waitArrived(t, 0, 2, "before hiding the page")
	app.setMinimized(t, true)
	app.recorder.waitArrived(t, 2, 10, "after the page turned hidden")

	app.setMinimized(t, false)
	app.recorder.release()
	app.evaluate(t, `bulk(10, 11)`)
	app.recorder.waitArrived(t, 0, 11, "after the page turned visible again")
	app.open(t, "?second")
	time.Sleep(300 * time.Millisecond)
	if d := app.recorder.duplicates(); len(d) > 0 {
		t.Errorf("events that reached POST track more than once: %v", d)
	}
	app.checkCollected(t, 11)
}

// TestStoredEventsDroppedAfterOptOut checks that the events kept at
// pagehide are dropped, not sent, when the next page learns that the user
// opted out.
func TestStoredEventsDroppedAfterOptOut(t *testing.T) {
	tests := []struct {
		name   string
		optOut func(t *testing.T, app *bulkApp)
	}{
		{"backend status off", func(t *testing.T, app *bulkApp) {
			if err := app.client.SetEnabled(false); err != nil {
				t.Fatal(err)
			}
		}},
		{"setEnabled false", func(t *testing.T, app *bulkApp) {
			app.evaluate(t, `client.setEnabled(false)`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := startBulkApp(t, 2)
			app.evaluate(t, `bulk(0, 102)`)
			app.recorder.waitArrived(t, 0, 2, "before navigating")
			app.recorder.holdStatus()
			app.open(t, "?second")
			stored := app.storedCount(t)
			if stored == 0 {
				t.Fatal("the client kept no events in sessionStorage at pagehide, want those beyond the 64 KiB keepalive budget")
			}

			tt.optOut(t, app)
			app.recorder.releaseStatus()
			app.evaluate(t, `bulk(102, 103)`)
			waitUntil(t, app.ctx, "sessionStorage keeps no events", fmt.Sprintf(`sessionStorage.getItem(%q) === null`, unsentKey))
			app.recorder.release()
			time.Sleep(500 * time.Millisecond)
			if missing, want := len(app.recorder.missing(0, 102)), stored; missing != want {
				t.Errorf("%d of the first 102 events did not reach POST track, want the %d that were kept at pagehide", missing, want)
			}
		})
	}
}

// TestStoredEventsBeyondQueueSent keeps more events at pagehide than the
// queue of the next page holds: that page sends them all while it is
// visible, and nothing stays in sessionStorage, which closing the tab
// would lose.
func TestStoredEventsBeyondQueueSent(t *testing.T) {
	app := startBulkApp(t, 2)

	app.evaluate(t, `bulk(0, 2)`)
	app.recorder.waitArrived(t, 0, 2, "before hiding the page")
	app.setMinimized(t, true)
	// A hidden page posts what fits into the keepalive budget and stores
	// the rest, then navigates before any held request ends. The second
	// page's status read waits, so that the stored events stay.
	app.recorder.holdStatus()
	app.evaluate(t, `bulk(2, 240); window.ready = false; location.search = "?second"`)
	waitForSecondPage(t, app.ctx)
	if n := app.storedCount(t); n <= 100 {
		t.Fatalf("sessionStorage keeps %d events at the second page, want more than the 100 that its queue holds", n)
	}

	app.setMinimized(t, false)
	app.recorder.release()
	app.recorder.releaseStatus()
	app.evaluate(t, `bulk(240, 241)`)
	app.recorder.waitArrived(t, 0, 241, "after the second page tracked an event")
	if n := app.storedCount(t); n != 0 {
		t.Errorf("sessionStorage keeps %d events after they were sent, want 0", n)
	}
	if d := app.recorder.duplicates(); len(d) > 0 {
		t.Errorf("events that reached POST track more than once: %v", d)
	}
}

// fillStorage is a script that fills the page's sessionStorage, under a
// key of its own, until the number of characters given by its %d verb
// are free. It searches for the longest value that setItem accepts.
const fillStorage = `(() => {
  const free = %d;
  let fits = 0;
  let fails = 1;
  for (;;) {
    try {
      sessionStorage.setItem("page-data", "x".repeat(fails));
      fits = fails;
      fails *= 2;
    } catch {
      break;
    }
  }
  while (fails - fits > 1) {
    const n = Math.floor((fits + fails) / 2);
    try {
      sessionStorage.setItem("page-data", "x".repeat(n));
      fits = n;
    } catch {
      fails = n;
    }
  }
  sessionStorage.setItem("page-data", "x".repeat(fits - free));
  return fits;
})()`

// TestStoredEventsOverQuotaKeepOldest fills sessionStorage with the
// page's own data until 10 Ki characters are free, then navigates away
// with about 40 events beyond the keepalive budget. Chromium's setItem
// rejects them all, so the client keeps the oldest that fit, and the next
// page sends those.
func TestStoredEventsOverQuotaKeepOldest(t *testing.T) {
	app := startBulkApp(t, 2)

	quota := browsertest.Run(t, app.ctx, chromedp.Evaluate[int](fmt.Sprintf(fillStorage, 10*1024)))
	t.Logf("sessionStorage accepted a value of %d characters", quota)
	app.evaluate(t, `bulk(0, 102)`)
	app.recorder.waitArrived(t, 0, 2, "before navigating")
	app.recorder.holdStatus()
	app.open(t, "?second")
	stored := app.storedCount(t)
	if stored == 0 {
		t.Fatal("the client kept no events in sessionStorage with 10 KiB of room, want the oldest that fit")
	}

	app.recorder.releaseStatus()
	app.evaluate(t, `bulk(102, 103)`)
	waitUntil(t, app.ctx, "sessionStorage keeps no events", fmt.Sprintf(`sessionStorage.getItem(%q) === null`, unsentKey))
	app.recorder.release()
	app.recorder.waitArrived(t, 102, 103, "after the second page tracked an event")
	time.Sleep(300 * time.Millisecond)

	// The dropped events are the newest of the first page: indexes k to
	// 101 for some k.
	missing := app.recorder.missing(0, 102)
	if len(missing) == 0 {
		t.Fatal("all 102 events of the first page reached POST track, want those that sessionStorage had no room for dropped")
	}
	if first := missing[0]; len(missing) != 102-first {
		t.Errorf("the events that did not reach POST track are %v, want the newest, %d to 101", missing, first)
	}
	t.Logf("%d events were kept in sessionStorage and %d dropped", stored, len(missing))
	if d := app.recorder.duplicates(); len(d) > 0 {
		t.Errorf("events that reached POST track more than once: %v", d)
	}
}

// fillKeepaliveBudget makes the page post 64 KiB to POST /hold as its own
// keepalive request, which the server holds open, and checks that
// Chromium then rejects a further keepalive fetch of the page.
func (a *bulkApp) fillKeepaliveBudget(t *testing.T) {
	t.Helper()
	a.evaluate(t, `fillKeepalive(64 * 1024)`)
	deadline := time.Now().Add(pollTimeout)
	for a.heldPageRequests.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := a.heldPageRequests.Load(); n < 1 {
		t.Fatalf("the page's keepalive request did not reach POST /hold within %v", pollTimeout)
	}
	probe := `fetch("/hold", { method: "POST", body: "x", keepalive: true }).then(() => "sent", (err) => String(err))`
	got := browsertest.Run(t, a.ctx, chromedp.Evaluate[string](probe, chromedp.EvalAwaitPromise))
	if got != "TypeError: Failed to fetch" {
		t.Fatalf("a keepalive fetch with 64 KiB of the page's own keepalive bodies in flight settled with %q, want the rejection TypeError: Failed to fetch", got)
	}
}

// TestPageKeepaliveBudgetFullVisible fills the keepalive budget with the
// page's own request, held open by the server. Chromium rejects every
// keepalive track request, and the client sends each event again without
// keepalive.
func TestPageKeepaliveBudgetFullVisible(t *testing.T) {
	app := startBulkApp(t, 0)

	app.fillKeepaliveBudget(t)
	app.evaluate(t, `bulk(0, 20)`)
	app.recorder.waitArrived(t, 0, 20, "with the keepalive budget full of the page's own request")
	time.Sleep(300 * time.Millisecond)
	if d := app.recorder.duplicates(); len(d) > 0 {
		t.Errorf("events that reached POST track more than once: %v", d)
	}
	app.checkCollected(t, 20)
}

// TestPageKeepaliveBudgetFullHidden fills the keepalive budget with the
// page's own request and tracks while the page is hidden. The events that
// Chromium rejects as keepalive requests are kept in sessionStorage. Once
// the page's request ends, the hidden page sends them itself.
func TestPageKeepaliveBudgetFullHidden(t *testing.T) {
	app := startBulkApp(t, 0)

	app.fillKeepaliveBudget(t)
	app.setMinimized(t, true)
	app.evaluate(t, `bulk(0, 20)`)
	app.waitStored(t, 20, "sessionStorage keeps the 20 events that Chromium rejected")
	if missing := len(app.recorder.missing(0, 20)); missing != 20 {
		t.Errorf("%d of 20 events reached POST track with the keepalive budget full, want 0", 20-missing)
	}

	app.releaseHeld()
	app.recorder.waitArrived(t, 0, 20, "after the page's own keepalive request ended, with the page still hidden")
	if n := app.storedCount(t); n != 0 {
		t.Errorf("sessionStorage keeps %d events after they were sent, want 0", n)
	}
	if d := app.recorder.duplicates(); len(d) > 0 {
		t.Errorf("events that reached POST track more than once: %v", d)
	}
	app.checkCollected(t, 20)
}

// TestPageKeepaliveBudgetFullShown keeps the events that Chromium rejects
// while the page is hidden, and the page sends them without keepalive
// when it is visible again, with the budget still full.
func TestPageKeepaliveBudgetFullShown(t *testing.T) {
	app := startBulkApp(t, 0)

	app.fillKeepaliveBudget(t)
	app.setMinimized(t, true)
	app.evaluate(t, `bulk(0, 20)`)
	app.waitStored(t, 20, "sessionStorage keeps the 20 events that Chromium rejected")

	app.setMinimized(t, false)
	app.recorder.waitArrived(t, 0, 20, "after the page turned visible, with the keepalive budget still full")
	if n := app.storedCount(t); n != 0 {
		t.Errorf("sessionStorage keeps %d events after they were sent, want 0", n)
	}
	if d := app.recorder.duplicates(); len(d) > 0 {
		t.Errorf("events that reached POST track more than once: %v", d)
	}
	app.checkCollected(t, 20)
}

// storeEvents is a script that stores bulk_loaded events in
// sessionStorage, as a page that turned hidden keeps the events beyond
// the keepalive budget for the next page of the tab. Their indexes run
// from its first %d verb to its second minus 1.
const storeEvents = `(() => {
  const events = [];
  for (let index = %d; index < %d; index++) {
    const properties = { index };
    for (let p = 0; p < 10; p++) properties["p" + p] = %q;
    events.push({ body: JSON.stringify({ event: "bulk_loaded", properties }), trackedAt: Date.now() });
  }
  sessionStorage.setItem(%q, JSON.stringify({ events }));
})()`

// TestPageLoadedHiddenSendsStored loads a page in a minimized window while
// 40 events of an earlier page of the tab wait in sessionStorage and the
// backend holds every track request. The hidden page hands them all to
// fetch at once as keepalive requests, which fit into the budget, instead
// of moving them into its queue in memory, which a discard of the
// background tab would lose.
func TestPageLoadedHiddenSendsStored(t *testing.T) {
	app := startBulkApp(t, 1000)

	app.evaluate(t, fmt.Sprintf(storeEvents, 0, 40, bulkValue, unsentKey))
	app.setMinimized(t, true)
	app.evaluate(t, `window.ready = false; location.search = "?second"`)
	waitForSecondPage(t, app.ctx)
	if state := browsertest.Run(t, app.ctx, chromedp.Evaluate[string](`document.visibilityState`)); state != "hidden" {
		t.Fatalf("the second page loaded with document.visibilityState %q, want hidden", state)
	}
	posted := 0
	for deadline := time.Now().Add(pollTimeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if posted = browsertest.Run(t, app.ctx, chromedp.Evaluate[int](`window.keepaliveTracks`)); posted == 40 {
			break
		}
	}
	if posted != 40 {
		t.Fatalf("the hidden second page posted %d keepalive track requests, want the 40 stored events", posted)
	}
	if n := app.storedCount(t); n != 0 {
		t.Errorf("sessionStorage keeps %d events after they were posted, want 0", n)
	}

	app.recorder.release()
	app.recorder.waitArrived(t, 0, 40, "after the held requests were released")
	app.setMinimized(t, false)
	app.evaluate(t, `bulk(40, 41)`)
	app.recorder.waitArrived(t, 0, 41, "after the second page turned visible and tracked an event")
	if d := app.recorder.duplicates(); len(d) > 0 {
		t.Errorf("events that reached POST track more than once: %v", d)
	}
	app.checkCollected(t, 41)
}

// waitForSecondPage waits until the page that location.search = "?second"
// loads has imported client.js. An evaluation fails while the page
// navigates, which takes longer on a loaded machine, so it retries each
// failure until pollTimeout.
func waitForSecondPage(t *testing.T, ctx context.Context) {
	t.Helper()
	const loaded = `window.ready === true && location.search === "?second"`
	var lastErr error
	for deadline := time.Now().Add(pollTimeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		attempt, cancel := context.WithTimeout(ctx, time.Second)
		ready, err := chromedp.Run(attempt, chromedp.Evaluate[bool](loaded))
		cancel()
		if err == nil && ready {
			return
		}
		lastErr = err
	}
	t.Fatalf("the second page did not import client.js within %v (last evaluation error: %v)", pollTimeout, lastErr)
}
