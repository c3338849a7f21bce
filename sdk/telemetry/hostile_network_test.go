package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candor-dev/candor/sdk/internal/leakcheck"
	"github.com/candor-dev/candor/sdk/mux"
)

// behaviour is how a hostile collector responds to one request.
type behaviour int

const (
	behaveOK               behaviour = iota // store the events and respond 200 with JSON
	behaveDown                              // refuse connections: the listener is closed
	behaveReset                             // accept, then reset the connection before reading
	behaveStallMidBody                      // read part of the body, then never respond
	behaveStallAfterStore                   // store the events, then never respond
	behaveStallMidResponse                  // store, send the headers and part of the body, then stall
	behaveNonJSON                           // respond 200 text without storing, as a misconfigured proxy does
	behaveHTML                              // respond 200 with a login page without storing, as a captive portal does
	behaveTruncated                         // store, then close the connection halfway through the body
	behaveTruncatedHeaders                  // store, then close the connection halfway through the status line
	behaveRedirectLoop                      // redirect with 307 to itself
	behaveRedirect307                       // redirect with 307 to the other host
	behaveRedirect308                       // redirect with 308 to the other host
	behaveRedirect301                       // redirect with 301 to the other host
	behaveRedirect302                       // redirect with 302 to the other host
	behaveRedirect303                       // redirect with 303 to the other host
)

// discardLog silences the test servers' logs of reset connections.
var discardLog = log.New(io.Discard, "", 0)

// stallTime bounds every stall, so that a stalled handler ends on its own
// well after the SDK's request timeout in these tests.
const stallTime = time.Second

// ledger records the events that hostile collectors stored, keyed by UUID,
// shared by the collectors of one test.
type ledger struct {
	mu     sync.Mutex
	counts map[string]int
	bodies int // requests without a readable batch
}

func (l *ledger) store(uuids []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range uuids {
		l.counts[id]++
	}
}

func (l *ledger) distinct() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.counts)
}

// hostileCollector is an HTTP server on loopback whose behaviour a test
// switches while an SDK client sends to it.
type hostileCollector struct {
	t      *testing.T
	addr   string
	ledger *ledger
	other  *hostileCollector // the target of cross-host redirects

	mode     atomic.Int32
	emptyGET atomic.Int64 // bodyless requests, as a redirect that drops the body sends
	stop     chan struct{}

	mu     sync.Mutex
	server *http.Server
	serveW sync.WaitGroup
}

// newHostileCollector listens on host (such as 127.0.0.1) and serves.
func newHostileCollector(t *testing.T, host string, l *ledger) *hostileCollector {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Skipf("listen on %s: %v", host, err)
	}
	h := &hostileCollector{t: t, addr: ln.Addr().String(), ledger: l, stop: make(chan struct{})}
	h.start(ln)
	t.Cleanup(h.close)
	return h
}

func (h *hostileCollector) url() string { return "http://" + h.addr }

func (h *hostileCollector) start(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(h.serve), ErrorLog: discardLog}
	h.mu.Lock()
	h.server = srv
	h.mu.Unlock()
	h.serveW.Add(1)
	go func() {
		defer h.serveW.Done()
		srv.Serve(ln)
	}()
}

// set changes the behaviour. Switching to or from behaveDown closes the
// listener and every connection, or listens on the same address again.
func (h *hostileCollector) set(b behaviour) {
	old := behaviour(h.mode.Swap(int32(b)))
	switch {
	case b == behaveDown && old != behaveDown:
		h.mu.Lock()
		srv := h.server
		h.mu.Unlock()
		srv.Close()
		h.serveW.Wait()
	case b != behaveDown && old == behaveDown:
		h.start(listenOn(h.t, h.addr))
	}
}

func (h *hostileCollector) close() {
	select {
	case <-h.stop:
		return
	default:
	}
	close(h.stop)
	h.mu.Lock()
	srv := h.server
	h.mu.Unlock()
	srv.Close()
	h.serveW.Wait()
}

// stall waits for stallTime or the end of the test.
func (h *hostileCollector) stall() {
	select {
	case <-time.After(stallTime):
	case <-h.stop:
	}
}

// readEvents reads a gzip or plain batch and returns its event UUIDs.
// bodyReadError is the error of readEvents when the collector closed the
// request's connection itself before the body was read. A body that the
// client cut short is an unreadable batch instead.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return "read body: " + e.err.Error() }

func readEvents(r *http.Request) ([]string, error) {
	body, err := io.ReadAll(r.Body)
	if errors.Is(err, net.ErrClosed) {
		return nil, &bodyReadError{err}
	}
	if err != nil {
		return nil, err
	}
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if body, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	var req struct {
		Batch []struct {
			UUID string `json:"uuid"`
		} `json:"batch"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	if len(req.Batch) == 0 {
		return nil, errors.New("empty batch")
	}
	uuids := make([]string, len(req.Batch))
	for i, e := range req.Batch {
		uuids[i] = e.UUID
	}
	return uuids, nil
}

func (h *hostileCollector) serve(w http.ResponseWriter, r *http.Request) {
	b := behaviour(h.mode.Load())
	switch b {
	case behaveReset:
		resetConnection(w)
		return
	case behaveStallMidBody:
		r.Body.Read(make([]byte, 10))
		h.stall()
		resetConnection(w)
		return
	case behaveRedirectLoop:
		http.Redirect(w, r, h.url()+"/batch/", http.StatusTemporaryRedirect)
		return
	case behaveRedirect301, behaveRedirect302, behaveRedirect303, behaveRedirect307, behaveRedirect308:
		codes := map[behaviour]int{behaveRedirect301: 301, behaveRedirect302: 302, behaveRedirect303: 303, behaveRedirect307: 307, behaveRedirect308: 308}
		http.Redirect(w, r, h.other.url()+"/batch/", codes[b])
		return
	case behaveNonJSON:
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "OK\n")
		return
	case behaveHTML:
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><html><head><title>Sign in to the network</title></head><body><form>Accept the terms</form></body></html>")
		return
	}

	if r.Method != http.MethodPost || r.ContentLength == 0 {
		// What a real collector does with the bodyless GET that a 301,
		// 302 or 303 redirect turns a POST into.
		h.emptyGET.Add(1)
		http.Error(w, `{"status":400,"code":"empty_payload","error":"request has no body"}`, http.StatusBadRequest)
		return
	}
	uuids, err := readEvents(r)
	var readErr *bodyReadError
	if errors.As(err, &readErr) {
		// The collector closed the connection itself when it went down
		// in the middle of the request, so there is no batch to judge.
		resetConnection(w)
		return
	}
	if err != nil {
		h.ledger.mu.Lock()
		h.ledger.bodies++
		h.ledger.mu.Unlock()
		http.Error(w, `{"status":400,"code":"request_parsing_error","error":"invalid batch"}`, http.StatusBadRequest)
		return
	}
	h.ledger.store(uuids)

	switch b {
	case behaveStallAfterStore:
		h.stall()
		resetConnection(w)
	case behaveStallMidResponse:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"status":`)
		http.NewResponseController(w).Flush()
		h.stall()
		resetConnection(w)
	case behaveTruncated:
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{\"status\":")
		buf.Flush()
		conn.Close()
	case behaveTruncatedHeaders:
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		buf.WriteString("HTTP/1.1 200 O")
		buf.Flush()
		conn.Close()
	default:
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"Ok"}`)
	}
}

// resetConnection closes the request's connection with a TCP reset.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}

// phase is one stretch of a scenario: the collector's behaviour, how long
// it lasts and how many events the app captures meanwhile.
type phase struct {
	behave   behaviour
	duration time.Duration
	events   int
}

// networkScenario is one way the network to the collector fails.
type networkScenario struct {
	name   string
	phases []phase
	// allowedDrops are the documented drop reasons the scenario may cause.
	allowedDrops []string
	configure    func(*Config)
	// otherHost serves cross-host redirects on another loopback address.
	otherHost bool
}

func networkScenarios() []networkScenario {
	outage := func(b behaviour, d time.Duration) []phase {
		return []phase{{behaveOK, 100 * time.Millisecond, 20}, {b, d, 60}, {behaveOK, 100 * time.Millisecond, 20}}
	}
	var flapping []phase
	for i := range 12 {
		b := behaveOK
		if i%2 == 0 {
			b = behaveDown
		}
		flapping = append(flapping, phase{b, time.Duration(40+15*i) * time.Millisecond, 15})
	}
	var chaos []phase
	for i, b := range []behaviour{behaveReset, behaveOK, behaveStallAfterStore, behaveTruncated, behaveHTML, behaveOK, behaveTruncatedHeaders, behaveDown, behaveNonJSON, behaveStallMidResponse} {
		chaos = append(chaos, phase{b, time.Duration(150+20*i) * time.Millisecond, 12})
	}

	return []networkScenario{
		{name: "long outage", phases: []phase{
			{behaveOK, 100 * time.Millisecond, 50},
			{behaveDown, 3 * time.Second, 1500},
			{behaveOK, 100 * time.Millisecond, 50},
		}, allowedDrops: []string{DropSpoolFull, DropQueueFull}, configure: func(c *Config) {
			c.QueueSize = 200
			c.Spool.MaxEvents = 400
		}},
		{name: "long outage without spool", phases: []phase{
			{behaveOK, 100 * time.Millisecond, 50},
			{behaveDown, 3 * time.Second, 1500},
			{behaveOK, 100 * time.Millisecond, 50},
		}, allowedDrops: []string{DropRetryBufferFull, DropQueueFull}, configure: func(c *Config) {
			c.QueueSize = 200
			c.Spool.Disabled = true
		}},
		{name: "flapping", phases: flapping},
		{name: "connection resets", phases: outage(behaveReset, 500*time.Millisecond)},
		{name: "stall mid body", phases: outage(behaveStallMidBody, 800*time.Millisecond)},
		{name: "stall after store", phases: outage(behaveStallAfterStore, 800*time.Millisecond)},
		{name: "stall mid response", phases: outage(behaveStallMidResponse, 800*time.Millisecond)},
		{name: "200 with text", phases: outage(behaveNonJSON, 500*time.Millisecond)},
		{name: "200 with HTML", phases: outage(behaveHTML, 500*time.Millisecond)},
		{name: "truncated body", phases: outage(behaveTruncated, 500*time.Millisecond)},
		{name: "truncated status line", phases: outage(behaveTruncatedHeaders, 500*time.Millisecond)},
		{name: "redirect loop", phases: outage(behaveRedirectLoop, 500*time.Millisecond)},
		{name: "307 to another loopback host", phases: outage(behaveRedirect307, 500*time.Millisecond), otherHost: true},
		{name: "308 to another loopback host", phases: outage(behaveRedirect308, 500*time.Millisecond), otherHost: true},
		{name: "301 to another loopback host", phases: outage(behaveRedirect301, 500*time.Millisecond), otherHost: true},
		{name: "302 to another loopback host", phases: outage(behaveRedirect302, 500*time.Millisecond), otherHost: true},
		{name: "303 to another loopback host", phases: outage(behaveRedirect303, 500*time.Millisecond), otherHost: true},
		{name: "everything at once", phases: chaos, otherHost: true},
	}
}

// TestHostileNetwork runs an SDK client against a collector that fails in
// each scenario's ways while the app captures events. Every event that no
// documented policy dropped must be stored exactly once, counting each
// UUID once however often it arrived. Goroutines and heap must stay
// bounded throughout, and no goroutine may outlive Close.
func TestHostileNetwork(t *testing.T) {
	for _, sc := range networkScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			leakcheck.Check(t)
			runNetworkScenario(t, sc)
		})
	}
}

func runNetworkScenario(t *testing.T, sc networkScenario) {
	l := &ledger{counts: map[string]int{}}
	col := newHostileCollector(t, "127.0.0.1", l)
	col.other = col
	if sc.otherHost {
		// Another loopback address is another host to the HTTP client.
		col.other = newHostileCollector(t, "127.0.0.2", l)
	}

	transport := &http.Transport{MaxIdleConnsPerHost: 2}
	t.Cleanup(transport.CloseIdleConnections)
	cfg := testConfig(t, col.url())
	cfg.BatchSize = 10
	cfg.FlushInterval = 10 * time.Millisecond
	cfg.MaxRetryDelay = 40 * time.Millisecond
	cfg.HTTPClient = &http.Client{Transport: transport, Timeout: 250 * time.Millisecond}
	if sc.configure != nil {
		sc.configure(&cfg)
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	baseGoroutines := runtime.NumGoroutine()

	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var maxGoroutines int
	var maxHeap uint64
	sample := func() {
		maxGoroutines = max(maxGoroutines, runtime.NumGoroutine())
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		maxHeap = max(maxHeap, m.HeapAlloc)
	}
	for _, p := range sc.phases {
		col.set(p.behave)
		start := time.Now()
		for i := range p.events {
			c.Capture(mux.CommandUsed{Command: "compact"})
			time.Sleep(time.Until(start.Add(p.duration * time.Duration(i+1) / time.Duration(p.events))))
			if i%10 == 0 {
				sample()
			}
		}
		if sc.otherHost {
			col.other.set(behaveOK)
		}
	}
	col.set(behaveOK)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for c.Flush(ctx) != nil && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	sample()
	st, err := c.Close(ctx)
	if err != nil {
		t.Errorf("Close: %v", err)
	}
	checkDelivery(t, sc, st, l, col)

	// The SDK makes one request at a time, and each stalled handler ends
	// within stallTime, so 64 goroutines cover the servers too.
	if grown := maxGoroutines - baseGoroutines; grown > 64 {
		t.Errorf("goroutines grew by %d during the scenario, want at most 64", grown)
	}
	if grown := int64(maxHeap) - int64(before.HeapAlloc); grown > 32<<20 {
		t.Errorf("heap grew by %d bytes during the scenario, want at most 32 MiB", grown)
	}
}

// checkDelivery compares the client's counts with what the collectors
// stored.
func checkDelivery(t *testing.T, sc networkScenario, st Stats, l *ledger, col *hostileCollector) {
	t.Helper()
	var unexpected []string
	var allowed int64
	for reason, n := range st.DroppedByReason {
		if n == 0 {
			continue
		}
		if !contains(sc.allowedDrops, reason) {
			unexpected = append(unexpected, fmt.Sprintf("%s=%d", reason, n))
			continue
		}
		allowed += n
	}
	sort.Strings(unexpected)
	if len(unexpected) > 0 {
		t.Errorf("events dropped for reasons the scenario does not allow: %s", strings.Join(unexpected, ", "))
	}
	if st.Queued != 0 || st.Spooled != 0 {
		t.Errorf("after Close: %d events queued and %d spooled, want 0 and 0", st.Queued, st.Spooled)
	}

	// A batch the collector stored while its response was lost counts as
	// not sent, and a later drop by policy counts it as dropped, so the
	// stored events lie between the sent ones and all the captured ones.
	stored := int64(l.distinct())
	if stored < st.Sent {
		t.Errorf("collectors stored %d distinct events, fewer than the %d the client counted sent", stored, st.Sent)
	}
	if stored > st.Captured {
		t.Errorf("collectors stored %d distinct events, more than the %d captured", stored, st.Captured)
	}
	if st.Sent+allowed != st.Captured {
		t.Errorf("sent %d + dropped by policy %d = %d, captured %d (%+v)", st.Sent, allowed, st.Sent+allowed, st.Captured, st)
	}
	if len(sc.allowedDrops) > 0 && allowed == 0 {
		t.Errorf("no event was dropped, so the scenario did not reach the bounds it tests (%+v)", st)
	}
	if n := col.emptyGET.Load() + col.other.emptyGET.Load(); n > 0 {
		t.Errorf("the collectors got %d requests without the batch", n)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bodies > 0 {
		t.Errorf("the collectors got %d requests with an unreadable batch", l.bodies)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestAcknowledgementBody(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   bool
	}{
		{200, `{"status":"Ok"}`, true},
		{200, ` {"status":1} ` + "\n", true},
		{200, `{"status":"Ok","accepted":3,"dropped":{}}`, true},
		{204, ``, true},
		{200, ``, false},
		{200, `OK`, false},
		{200, `<!doctype html><title>Sign in</title>`, false},
		{200, `{"status":`, false},
		{200, `["Ok"]`, false},
		{200, `{"status":"Ok"}` + strings.Repeat(" ", maxResponseBody), false},
		{204, `{}`, false},
	}
	for _, tc := range tests {
		resp := &http.Response{StatusCode: tc.status, Body: io.NopCloser(strings.NewReader(tc.body))}
		if _, got := readResponse(resp); got != tc.want {
			t.Errorf("status %d body %.40q: acknowledgement %v, want %v", tc.status, tc.body, got, tc.want)
		}
	}
}
