package collector_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/internal/store"
)

// clock is a settable time source for Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// messageEvents returns n valid message_sent events with uuids from first on.
func messageEvents(first, n int) []string {
	events := make([]string, n)
	for i := range events {
		events[i] = messageEvent(uuidN(first + i))
	}
	return events
}

// The start-up log leaves out rate_burst when RateLimit turns the limit
// off, because no write key then has a bucket.
func TestStartLogOmitsBurstWithoutRateLimit(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.RateBurst = 5 })
	logs := e.logs.String()
	if !strings.Contains(logs, "rate_limit=0") {
		t.Errorf("start-up log %q does not contain rate_limit=0", logs)
	}
	if strings.Contains(logs, "rate_burst") {
		t.Errorf("start-up log %q contains rate_burst, want it left out with rate_limit=0", logs)
	}

	limited := newEnv(t, func(c *collector.Config) { c.RateLimit = 10; c.RateBurst = 5 })
	if logs := limited.logs.String(); !strings.Contains(logs, "rate_burst=5") {
		t.Errorf("start-up log %q does not contain rate_burst=5", logs)
	}
}

func TestRateLimitPerWriteKey(t *testing.T) {
	clk := &clock{now: testNow}
	e := newEnv(t, func(c *collector.Config) {
		c.RateLimit = 10
		c.RateBurst = 5
		c.Now = clk.Now
	})

	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvents(0, 3)...)))
	// Two tokens are left and the request costs 3: one token comes back
	// after 100 ms, so Retry-After rounds up to 1 second.
	r := e.postJSON("/batch/", batchBody(muxKey, messageEvents(10, 3)...))
	mustFail(t, r, http.StatusTooManyRequests, "rate_limited")
	if got := r.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want \"1\"", got)
	}

	// Another write key has its own bucket.
	mustOK(t, e.postJSON("/batch/", batchBody(otherKey, messageEvents(20, 5)...)))

	clk.advance(100 * time.Millisecond)
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvents(10, 3)...)))

	stats := e.collector.Stats()
	if stats.RateLimited != 1 || stats.Projects["mux"].RateLimited != 1 || stats.Projects["other"].RateLimited != 0 {
		t.Errorf("rate limited: total %d, mux %d, other %d; want 1, 1, 0",
			stats.RateLimited, stats.Projects["mux"].RateLimited, stats.Projects["other"].RateLimited)
	}
	if got := stats.Responses[http.StatusTooManyRequests]; got != 1 {
		t.Errorf("Responses[429] = %d, want 1", got)
	}
	if got := len(e.store.stored()); got != 11 {
		t.Errorf("stored %d events, want 11", got)
	}
}

func TestRateLimitAdmitsBatchOverBurst(t *testing.T) {
	clk := &clock{now: testNow}
	e := newEnv(t, func(c *collector.Config) {
		c.RateLimit = 2
		c.RateBurst = 4
		c.Now = clk.Now
	})

	// A full bucket admits a request over the burst, and its debt of 6
	// tokens holds back the next request for 3 + 0.5 seconds.
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvents(0, 10)...)))
	r := e.postJSON("/batch/", batchBody(muxKey, messageEvents(100, 1)...))
	mustFail(t, r, http.StatusTooManyRequests, "rate_limited")
	if got := r.header.Get("Retry-After"); got != "4" {
		t.Errorf("Retry-After = %q, want \"4\"", got)
	}
	clk.advance(3500 * time.Millisecond)
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvents(100, 1)...)))
}

func TestRateLimitDefaultBurst(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.RateLimit = 0.5 })
	// Ten seconds of 0.5 events per second: 5 events, then nothing more
	// with the test's fixed clock.
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvents(0, 5)...)))
	mustFail(t, e.postJSON("/batch/", batchBody(muxKey, messageEvents(5, 1)...)), http.StatusTooManyRequests, "rate_limited")
}

// holdPending blocks the store's commits and posts a batch of n events,
// which then waits for its commit in the pending-events budget. Closing
// block lets the commit finish, and first receives the batch's response.
func holdPending(t *testing.T, e *env, n int) (block chan struct{}, first <-chan response) {
	t.Helper()
	block = make(chan struct{})
	e.store.setBlock(block)
	responses := make(chan response, 1)
	go func() { responses <- e.postJSON("/batch/", batchBody(muxKey, messageEvents(0, n)...)) }()
	waitFor(t, func() bool { return e.collector.Stats().PendingEvents == int64(n) })
	return block, responses
}

func TestPendingEventsLimit(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.MaxPendingEvents = 3 })
	block, first := holdPending(t, e, 2)

	r := e.postJSON("/batch/", batchBody(muxKey, messageEvents(10, 2)...))
	mustFail(t, r, http.StatusServiceUnavailable, "service_unavailable")
	if got := r.header.Get("Retry-After"); got == "" {
		t.Error("503 without Retry-After")
	}
	// One more event still fits.
	second := make(chan response, 1)
	go func() { second <- e.postJSON("/batch/", batchBody(muxKey, messageEvents(20, 1)...)) }()
	waitFor(t, func() bool { return e.collector.Stats().PendingEvents == 3 })

	close(block)
	mustOK(t, <-first)
	mustOK(t, <-second)
	stats := e.collector.Stats()
	if diff := cmp.Diff(map[string]int64{collector.LimitPendingEvents: 1}, stats.Overloaded); diff != "" {
		t.Errorf("Stats.Overloaded mismatch (-want +got):\n%s", diff)
	}
	if stats.PendingEvents != 0 {
		t.Errorf("PendingEvents = %d after the commits, want 0", stats.PendingEvents)
	}
}

func TestFullPendingBudgetRejectsBeforeDecoding(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.MaxPendingEvents = 2 })
	block, first := holdPending(t, e, 2)

	// Decoding this body would fail with 400, so a 503 shows that the
	// request was rejected before decoding.
	r := e.postJSON("/batch/", `{"api_key": not json`)
	mustFail(t, r, http.StatusServiceUnavailable, "service_unavailable")
	if got := r.header.Get("Retry-After"); got == "" {
		t.Error("503 without Retry-After")
	}

	close(block)
	mustOK(t, <-first)
	if got := e.collector.Stats().Overloaded[collector.LimitPendingEvents]; got != 1 {
		t.Errorf("Overloaded[pending_events] = %d, want 1", got)
	}
}

func TestPendingEventsAdmitsOversizedRequestAlone(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.MaxPendingEvents = 2 })
	res := mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvents(0, 5)...)))
	if res.Accepted != 5 {
		t.Errorf("accepted = %d, want 5", res.Accepted)
	}
}

func TestRequestTimeout(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.RequestTimeout = 100 * time.Millisecond })
	block := make(chan struct{})
	e.store.setBlock(block)
	defer close(block)

	start := time.Now()
	mustFail(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(1)))), http.StatusServiceUnavailable, "service_unavailable")
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("answered after %s, want about 100ms", elapsed)
	}
	if got := e.collector.Stats().Overloaded[collector.LimitRequestTimeout]; got != 1 {
		t.Errorf("Overloaded[request_timeout] = %d, want 1", got)
	}
}

// A request whose wait for the commit timed out gets 503, but its events
// are committed later. The client's retry then commits them again, as
// duplicates, so every accepted event must also be counted as received.
func TestRequestTimeoutThenRetryCountsReceived(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.RequestTimeout = 100 * time.Millisecond })
	block := make(chan struct{})
	e.store.setBlock(block)
	body := batchBody(muxKey, messageEvents(0, 2)...)

	mustFail(t, e.postJSON("/batch/", body), http.StatusServiceUnavailable, "service_unavailable")
	close(block)
	waitFor(t, func() bool { return e.collector.Stats().Accepted == 2 })

	res := mustOK(t, e.postJSON("/batch/", body))
	if res.Duplicates == nil || *res.Duplicates != 2 {
		t.Errorf("retry: duplicates = %v, want 2", res.Duplicates)
	}
	stats := e.collector.Stats()
	if stats.Received != 4 {
		t.Errorf("Received = %d, want 4: both requests' events reached the store", stats.Received)
	}
	if stats.Accepted != 4 {
		t.Errorf("Accepted = %d, want 4", stats.Accepted)
	}
	if stats.Duplicates != 2 {
		t.Errorf("Duplicates = %d, want 2", stats.Duplicates)
	}
	if got := stats.Projects["mux"].Received; got != 4 {
		t.Errorf("Projects[mux].Received = %d, want 4", got)
	}
	if stats.Requests != 2 {
		t.Errorf("Requests = %d, want 2", stats.Requests)
	}
}

// A request whose wait timed out and whose commit then failed stored
// nothing, so only its retry counts as received.
func TestRequestTimeoutThenFailedCommitNotReceived(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.RequestTimeout = 100 * time.Millisecond })
	block := make(chan struct{})
	e.store.setBlock(block)
	e.store.setErr(errors.New("disk full"))
	body := batchBody(muxKey, messageEvents(0, 2)...)

	mustFail(t, e.postJSON("/batch/", body), http.StatusServiceUnavailable, "service_unavailable")
	close(block)
	waitFor(t, func() bool { return e.collector.Stats().CommitErrors == 1 })

	e.store.setErr(nil)
	mustOK(t, e.postJSON("/batch/", body))
	stats := e.collector.Stats()
	if stats.Received != 2 || stats.Accepted != 2 {
		t.Errorf("Received = %d, Accepted = %d, want 2 and 2", stats.Received, stats.Accepted)
	}
}

// A client that leaves while its events wait for their commit gets no
// response; its events count as received once the commit succeeds.
func TestClientLeftCountsReceivedAfterCommit(t *testing.T) {
	e := newEnv(t)
	block := make(chan struct{})
	e.store.setBlock(block)

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.server.URL+"/batch/", strings.NewReader(batchBody(muxKey, messageEvents(0, 2)...)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sent := make(chan error, 1)
	go func() {
		resp, err := e.server.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		sent <- err
	}()
	waitFor(t, func() bool { return e.collector.Stats().PendingEvents == 2 })
	cancel()
	<-sent
	waitFor(t, func() bool { return e.collector.Stats().Requests == 1 })
	if got := e.collector.Stats().Received; got != 0 {
		t.Errorf("Received = %d before the commit, want 0", got)
	}

	// The committer counts the received events after Accepted, so the
	// test waits for them.
	close(block)
	waitFor(t, func() bool { return e.collector.Stats().Received == 2 })
	if got := e.collector.Stats().Accepted; got != 2 {
		t.Errorf("Accepted = %d after the commit, want 2", got)
	}
}

func TestBufferedBytesLimit(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.MaxBufferedBytes = 64 << 10 })

	// A request that announces 61 KiB and sends 60 KiB of it holds at
	// least the 60 KiB it sent.
	conn := e.startBody(61<<10, strings.Repeat(" ", 60<<10))
	waitFor(t, func() bool { return e.collector.Stats().BufferedBytes >= 60<<10 })

	body := batchBody(muxKey, messageEvent(uuidN(1))) + strings.Repeat(" ", 8<<10)
	mustFail(t, e.postJSON("/batch/", body), http.StatusServiceUnavailable, "service_unavailable")
	if got := e.collector.Stats().Overloaded[collector.LimitBufferedBytes]; got != 1 {
		t.Errorf("Overloaded[buffered_bytes] = %d, want 1", got)
	}

	// A body without Content-Length is reserved chunk by chunk, and is
	// stopped too.
	if status := e.postChunked("/batch/", body); status != http.StatusServiceUnavailable {
		t.Errorf("chunked POST: status = %d, want 503", status)
	}

	// Once the first request ends, its reservation is released.
	conn.Close()
	waitFor(t, func() bool { return e.collector.Stats().BufferedBytes == 0 })
	mustOK(t, e.postJSON("/batch/", body))
}

func TestLZBusyBudgetGets503(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.MaxBufferedBytes = 64 << 10 })

	// A stalled request takes 60 KiB of the 64 KiB budget.
	conn := e.startBody(61<<10, strings.Repeat(" ", 60<<10))
	waitFor(t, func() bool { return e.collector.Stats().BufferedBytes >= 60<<10 })

	// The event decompresses to 8 KiB, which fits the whole budget but
	// not what is left of it.
	event := `{"api_key":"` + muxKey + `","event":"app_started","distinct_id":"d","uuid":"` + uuidN(1) + `"}` + strings.Repeat(" ", 8<<10)
	body := []byte(collector.CompressLZBase64(event))
	res := e.do(http.MethodPost, "/e/?compression=lz64", body, "Content-Type", "text/plain")
	mustFail(t, res, http.StatusServiceUnavailable, "service_unavailable")
	if res.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if got := e.collector.Stats().Overloaded[collector.LimitBufferedBytes]; got != 1 {
		t.Errorf("Overloaded[buffered_bytes] = %d, want 1", got)
	}

	conn.Close()
	waitFor(t, func() bool { return e.collector.Stats().BufferedBytes == 0 })
	mustOK(t, e.do(http.MethodPost, "/e/?compression=lz64", body, "Content-Type", "text/plain"))
}

func TestIdleBodiesHoldLittleBudget(t *testing.T) {
	const budget = 256 << 10
	e := newEnv(t, func(c *collector.Config) { c.MaxBufferedBytes = budget })

	// Four requests announce bodies whose sizes add up to the whole budget,
	// then send one byte each and stall.
	for range 4 {
		before := e.collector.Stats().BufferedBytes
		e.startBody(budget/4-512, "{")
		waitFor(t, func() bool { return e.collector.Stats().BufferedBytes > before })
	}

	if got := e.collector.Stats().BufferedBytes; got > budget/2 {
		t.Errorf("BufferedBytes = %d after four stalled bodies of one byte, want at most %d", got, budget/2)
	}
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(1)))))
}

func TestDecodingSlotsLimit(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) {
		c.MaxDecoding = 1
		c.DecodeWait = time.Nanosecond
	})
	// Payloads that take milliseconds to decode, sent at once, meet a busy
	// slot. The rounds repeat in case the scheduler serializes one round.
	payload := gzipBytes(t, batchBody(muxKey, messageEvents(0, 2000)...))
	const parallel = 8
	for round := 0; round < 5 && e.collector.Stats().Overloaded[collector.LimitDecoding] == 0; round++ {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range parallel {
			wg.Go(func() {
				<-start
				if status := postStatus(e, payload); status != http.StatusOK && status != http.StatusServiceUnavailable {
					t.Errorf("status = %d, want 200 or 503", status)
				}
			})
		}
		close(start)
		wg.Wait()
	}
	if got := e.collector.Stats().Overloaded[collector.LimitDecoding]; got == 0 {
		t.Errorf("no request was rejected for a busy decoding slot in 5 rounds of %d parallel requests", parallel)
	}
}

// discardStore counts the events of Insert calls and keeps none, after an
// optional delay per call.
type discardStore struct {
	*fakeStore
	delay  time.Duration
	events atomic.Int64
}

func (s *discardStore) Insert(ctx context.Context, events []store.Event) (int, error) {
	time.Sleep(s.delay)
	s.events.Add(int64(len(events)))
	return len(events), nil
}

// TestMemoryBoundUnderOverload sends many large gzip requests at once, far
// more than the limits admit, and checks that the heap stays bounded.
func TestMemoryBoundUnderOverload(t *testing.T) {
	if testing.Short() {
		t.Skip("sends about a second of overload")
	}
	const (
		maxBuffered = 32 << 20
		clients     = 64
		// Twice the live bound for the garbage collector's headroom
		// (GOGC=100), plus room for connections, gzip readers and the
		// pending events.
		heapBound = 2*maxBuffered + 64<<20
	)
	st := &discardStore{fakeStore: newFakeStore(), delay: 5 * time.Millisecond}
	e := newEnv(t, func(c *collector.Config) {
		c.Store = st
		c.MaxBufferedBytes = maxBuffered
		c.MaxPendingEvents = 5000
		c.DecodeWait = 50 * time.Millisecond
		c.RetryAfter = time.Second
	})

	// About 2.5 MiB of JSON in 60 KiB of gzip: decoding each request takes
	// 40 times the memory of its body.
	payload := gzipBytes(t, batchBody(muxKey, messageEvents(0, 8000)...))
	t.Logf("request body %d KiB", len(payload)>>10)

	stopSampling := sampleHeap()
	total := postConcurrently(clients, 1500*time.Millisecond, func() int { return postStatus(e, payload) })
	peak := stopSampling()

	t.Logf("responses by status %v; peak heap %d MiB; overloaded %v", total, peak>>20, e.collector.Stats().Overloaded)
	for status := range total {
		if status != http.StatusOK && status != http.StatusServiceUnavailable {
			t.Errorf("got status %d, want only 200 and 503", status)
		}
	}
	if total[http.StatusOK] == 0 || total[http.StatusServiceUnavailable] == 0 {
		t.Errorf("responses %v, want both 200s and 503s under overload", total)
	}
	if peak > heapBound {
		t.Errorf("peak heap %d MiB, want at most %d MiB", peak>>20, heapBound>>20)
	}
}

// TestLZMemoryBoundUnderOverload sends lz-string requests at once whose
// output is over MaxDecompressed, with a budget far below that, and checks
// that the heap stays within the budget plus a fixed margin.
func TestLZMemoryBoundUnderOverload(t *testing.T) {
	if testing.Short() {
		t.Skip("sends about a second of overload")
	}
	const (
		maxBuffered = 1 << 20
		clients     = 8
		// Room for the test's own heap, the connections and the
		// garbage collector's headroom. A request that allocated its
		// output before reserving it would take up to 32 MiB.
		heapBound = 48 << 20
	)
	e := newEnv(t, func(c *collector.Config) {
		c.MaxBufferedBytes = maxBuffered
		c.MaxDecoding = clients
	})

	// 40 MiB of one letter compresses to about 18 KB.
	bomb := []byte(collector.CompressLZBase64(strings.Repeat("a", 40<<20)))
	t.Logf("request body %d bytes", len(bomb))
	runtime.GC()

	stopSampling := sampleHeap()
	total := postConcurrently(clients, time.Second, func() int {
		return postBody(e, "/e/?compression=lz64", bomb, "Content-Type", "text/plain")
	})
	peak := stopSampling()

	t.Logf("responses by status %v; peak heap %d MiB", total, peak>>20)
	for status := range total {
		if status != http.StatusRequestEntityTooLarge && status != http.StatusServiceUnavailable {
			t.Errorf("got status %d, want only 413 and 503", status)
		}
	}
	if peak > heapBound {
		t.Errorf("peak heap %d MiB, want at most %d MiB", peak>>20, heapBound>>20)
	}
	if got := e.collector.Stats().BufferedBytes; got != 0 {
		t.Errorf("BufferedBytes = %d after the requests, want 0", got)
	}
}

// sampleHeap samples HeapAlloc every 10 ms until the returned function is
// called, which returns the largest sample.
func sampleHeap() (stop func() uint64) {
	var peak uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-sampled
		return peak
	}
}

// postConcurrently runs post in a loop on each of clients goroutines for
// the given time and returns how many times each status came back.
func postConcurrently(clients int, d time.Duration, post func() int) map[int]int {
	statuses := make([]map[int]int, clients)
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range clients {
		statuses[i] = map[int]int{}
		wg.Go(func() {
			for time.Now().Before(deadline) {
				statuses[i][post()]++
			}
		})
	}
	wg.Wait()

	total := map[int]int{}
	for _, s := range statuses {
		for status, n := range s {
			total[status] += n
		}
	}
	return total
}

// postStatus posts a gzip batch and returns the response status, or -1 when
// the request failed. Unlike env.do it may run on any goroutine.
func postStatus(e *env, gzipped []byte) int {
	return postBody(e, "/batch/", gzipped, "Content-Encoding", "gzip")
}

// postBody posts body to path with headers given as name, value pairs, and
// returns the response status, or -1 when the request failed.
func postBody(e *env, path string, body []byte, headers ...string) int {
	req, err := http.NewRequest(http.MethodPost, e.server.URL+path, bytes.NewReader(body))
	if err != nil {
		return -1
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.server.Client().Do(req)
	if err != nil {
		return -1
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestDecompressionOverWholeBudgetGets413(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.MaxBufferedBytes = 1 << 20 })

	// Each body is small, but decoding it needs more than the whole 1 MiB
	// budget while no other request holds any of it, so no retry can
	// ever succeed.
	padded := batchBody(muxKey, messageEvent(uuidN(1))) + strings.Repeat(" ", 2<<20)
	tests := []struct {
		name    string
		path    string
		body    []byte
		headers []string
	}{
		{"gzip", "/batch/", gzipBytes(t, padded), []string{"Content-Encoding", "gzip"}},
		{"lz64", "/e/?compression=lz64", []byte(collector.CompressLZBase64(padded)), []string{"Content-Type", "text/plain"}},
		{"base64", "/batch/", []byte(base64.StdEncoding.EncodeToString([]byte(batchBody(muxKey, messageEvent(uuidN(1))) + strings.Repeat(" ", 600<<10)))), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(http.MethodPost, tt.path, tt.body, tt.headers...)
			mustFail(t, res, http.StatusRequestEntityTooLarge, "payload_too_large")
			if got := e.collector.Stats().BufferedBytes; got != 0 {
				t.Errorf("BufferedBytes = %d after the request, want 0", got)
			}
		})
	}
}

func TestPayloadOverWholeBudgetGets413(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.MaxBufferedBytes = 1 << 20 })

	// 20,000 empty events are 60 KB of JSON, but decoding them needs more
	// than the whole 1 MiB budget, so no retry can ever succeed.
	body := `{"api_key":"` + muxKey + `","batch":[` + strings.Repeat(`{},`, 19_999) + `{}]}`
	res := e.postJSON("/batch/", body)
	mustFail(t, res, http.StatusRequestEntityTooLarge, "payload_too_large")
	if got := e.collector.Stats().BufferedBytes; got != 0 {
		t.Errorf("BufferedBytes = %d after the request, want 0", got)
	}

	// A batch that fits is still taken.
	if res := e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(1)))); res.status != http.StatusOK {
		t.Errorf("status = %d for a small batch, want 200: %s", res.status, res.body)
	}
}

func TestBodyOverWholeBudgetGets413(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.MaxBufferedBytes = 1 << 20 })

	// The body alone is larger than the whole 1 MiB budget, so it can never
	// be read, however long the client waits before a retry.
	body := batchBody(muxKey, messageEvent(uuidN(1))) + strings.Repeat(" ", 2<<20)
	res := e.postJSON("/batch/", body)
	mustFail(t, res, http.StatusRequestEntityTooLarge, "payload_too_large")
	if !strings.Contains(string(res.body), "--max-buffered-mib") {
		t.Errorf("413 body %s does not name --max-buffered-mib", res.body)
	}
	if got := e.collector.Stats().Overloaded[collector.LimitBufferedBytes]; got != 0 {
		t.Errorf("Overloaded[buffered_bytes] = %d, want 0", got)
	}

	// A body without Content-Length gets 413 once it has sent more bytes
	// than the whole budget.
	if status := e.postChunked("/batch/", body); status != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked POST: status = %d, want 413", status)
	}

	waitFor(t, func() bool { return e.collector.Stats().BufferedBytes == 0 })
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(2)))))
}
