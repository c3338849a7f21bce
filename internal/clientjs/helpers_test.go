package clientjs_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"
)

// TestMain fails the package's run when a goroutine outlives its tests,
// such as a telemetry client's sender that Close did not stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// sentEvent is one event as the test collector decoded it.
type sentEvent struct {
	Event      string         `json:"event"`
	DistinctID string         `json:"distinct_id"`
	Properties map[string]any `json:"properties"`
}

// collector is a real HTTP server on loopback in place of the collector. It
// decodes every batch that the telemetry client posts.
type collector struct {
	srv *httptest.Server

	mu     sync.Mutex
	events []sentEvent
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBatch(r)
		if err != nil {
			t.Errorf("collector: read batch: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var batch struct {
			Batch []sentEvent `json:"batch"`
		}
		if err := json.Unmarshal(body, &batch); err != nil {
			t.Errorf("collector: decode batch: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.events = append(c.events, batch.Batch...)
		c.mu.Unlock()
		w.Write([]byte(`{"status":1}`))
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func readBatch(r *http.Request) ([]byte, error) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		defer gz.Close()
		body = gz
	}
	return io.ReadAll(body)
}

func (c *collector) sent() []sentEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sentEvent(nil), c.events...)
}

// pollTimeout bounds each wait for a condition in the page.
const pollTimeout = 10 * time.Second

// evaluate runs expression in the page and awaits it when it is a promise.
func evaluate(t *testing.T, ctx context.Context, expression string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](expression, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("evaluate %s: %v", expression, err)
	}
}

// waitUntil evaluates condition in the page every 50 ms until it is true,
// and fails the test after pollTimeout. It polls on a timer, not on
// animation frames, because a hidden page gets no animation frames.
func waitUntil(t *testing.T, ctx context.Context, description, condition string) {
	t.Helper()
	poll := chromedp.Poll[bool](condition, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(pollTimeout))
	if _, err := chromedp.Run(ctx, poll); err != nil {
		t.Fatalf("wait until %s (%s): %v", description, condition, err)
	}
}
