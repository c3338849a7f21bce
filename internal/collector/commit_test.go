package collector_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/internal/store"
)

func TestConcurrentRequestsShareCommits(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.CommitInterval = 5 * time.Millisecond })
	e.store.setDelay(10 * time.Millisecond)

	const requests = 40
	var wg sync.WaitGroup
	results := make([]response, requests)
	for i := range requests {
		wg.Go(func() {
			results[i] = e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(2*i)), messageEvent(uuidN(2*i+1))))
		})
	}
	wg.Wait()

	for i, r := range results {
		if r.status != http.StatusOK {
			t.Fatalf("request %d: status %d, body %s", i, r.status, r.body)
		}
	}
	if got := len(e.store.stored()); got != 2*requests {
		t.Errorf("stored %d events, want %d", got, 2*requests)
	}
	calls := e.store.insertCalls()
	t.Logf("%d requests committed in %d Insert calls", requests, calls)
	if calls >= requests {
		t.Errorf("Insert calls = %d, want fewer than the %d requests", calls, requests)
	}

	stats := e.collector.Stats()
	if stats.Commits != int64(calls) || stats.CommittedRequests != requests {
		t.Errorf("Stats commits %d for %d requests, want %d for %d", stats.Commits, stats.CommittedRequests, calls, requests)
	}
	if stats.Accepted != 2*requests || stats.Stored != 2*requests {
		t.Errorf("Stats accepted %d stored %d, want %d each", stats.Accepted, stats.Stored, 2*requests)
	}
}

func TestMaxCommitBatchEndsWait(t *testing.T) {
	// With a long interval, only the batch size can end the wait quickly.
	e := newEnv(t, func(c *collector.Config) {
		c.CommitInterval = time.Minute
		c.MaxCommitBatch = 2
	})
	start := time.Now()
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(1)), messageEvent(uuidN(2)))))
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("request took %s, want the commit not to wait for the interval", elapsed)
	}
}

// batchSizeStore records the largest Insert call.
type batchSizeStore struct {
	*fakeStore
	mu      sync.Mutex
	largest int
}

func (s *batchSizeStore) Insert(ctx context.Context, events []store.Event) (int, error) {
	s.mu.Lock()
	s.largest = max(s.largest, len(events))
	s.mu.Unlock()
	return s.fakeStore.Insert(ctx, events)
}

func TestCommitsStayUnderMaxCommitBatch(t *testing.T) {
	st := &batchSizeStore{fakeStore: newFakeStore()}
	st.setDelay(20 * time.Millisecond) // requests queue up behind each commit
	e := newEnv(t, func(c *collector.Config) {
		c.Store = st
		c.CommitInterval = 10 * time.Millisecond
		c.MaxCommitBatch = 3
	})

	const requests = 20
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() { mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(i))))) })
	}
	wg.Wait()

	if got := len(st.stored()); got != requests {
		t.Errorf("stored %d events, want %d", got, requests)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.largest > 3 {
		t.Errorf("an Insert call got %d events, want at most MaxCommitBatch (3)", st.largest)
	}
	if st.largest < 2 {
		t.Errorf("the largest Insert call got %d events, want requests merged", st.largest)
	}
}

func TestNoWaitCommitInterval(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.CommitInterval = -1 })
	for i := range 3 {
		mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(i)))))
	}
	if got := e.store.insertCalls(); got != 3 {
		t.Errorf("Insert calls = %d, want 3", got)
	}
}

func TestDuplicatesReported(t *testing.T) {
	e := newEnv(t)
	body := batchBody(muxKey, messageEvent(uuidN(1)), messageEvent(uuidN(2)))
	first := mustOK(t, e.postJSON("/batch/", body))
	if first.Duplicates == nil || *first.Duplicates != 0 {
		t.Errorf("first send: duplicates = %v, want 0", first.Duplicates)
	}
	retry := mustOK(t, e.postJSON("/batch/", body))
	if retry.Accepted != 2 || retry.Duplicates == nil || *retry.Duplicates != 2 {
		t.Errorf("retry: accepted %d duplicates %v, want 2 and 2", retry.Accepted, retry.Duplicates)
	}
	if got := len(e.store.stored()); got != 2 {
		t.Errorf("stored %d events, want 2", got)
	}
	if stats := e.collector.Stats(); stats.Duplicates != 2 {
		t.Errorf("Stats.Duplicates = %d, want 2", stats.Duplicates)
	}
}

func TestStoreErrorAnswers503(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) {
		c.RetryAfter = 1500 * time.Millisecond
		c.CommitInterval = 5 * time.Millisecond
	})
	e.store.setErr(errors.New("disk full"))

	const requests = 5
	var wg sync.WaitGroup
	results := make([]response, requests)
	for i := range requests {
		wg.Go(func() {
			results[i] = e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(i))))
		})
	}
	wg.Wait()

	for i, r := range results {
		mustFail(t, r, http.StatusServiceUnavailable, "service_unavailable")
		if got := r.header.Get("Retry-After"); got != "2" {
			t.Errorf("request %d: Retry-After = %q, want \"2\"", i, got)
		}
	}
	if got := len(e.store.stored()); got != 0 {
		t.Errorf("stored %d events, want 0", got)
	}
	stats := e.collector.Stats()
	if stats.Accepted != 0 || stats.CommitErrors == 0 || stats.Rejected["service_unavailable"] != requests {
		t.Errorf("Stats accepted %d, commit errors %d, rejected %v; want 0, at least 1, %d service_unavailable",
			stats.Accepted, stats.CommitErrors, stats.Rejected, requests)
	}

	// The store recovers and the retries are stored.
	e.store.setErr(nil)
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(0)))))
	if got := len(e.store.stored()); got != 1 {
		t.Errorf("after recovery: stored %d events, want 1", got)
	}
}

// TestStoreErrorLoggedOnce checks that the log shows the store's error as
// the store wrote it, whose text already names the insert and its size.
func TestStoreErrorLoggedOnce(t *testing.T) {
	e := newEnv(t)
	e.store.setErr(errors.New("insert 1 events: connection refused"))

	mustFail(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(0)))), http.StatusServiceUnavailable, "service_unavailable")

	logs := e.logs.String()
	if !strings.Contains(logs, "connection refused") {
		t.Fatalf("log %q does not contain the store error", logs)
	}
	if n := strings.Count(logs, "insert 1 events"); n != 1 {
		t.Errorf("log contains \"insert 1 events\" %d times, want once: %s", n, logs)
	}
}

// panicStore panics in Insert.
type panicStore struct{ *fakeStore }

func (panicStore) Insert(context.Context, []store.Event) (int, error) { panic("store bug") }

func TestStorePanicAnswers503(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.Store = panicStore{newFakeStore()} })
	mustFail(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(1)))), http.StatusServiceUnavailable, "service_unavailable")
	// The committer survives.
	mustFail(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(2)))), http.StatusServiceUnavailable, "service_unavailable")
	if !strings.Contains(e.logs.String(), "store bug") {
		t.Errorf("log does not mention the panic:\n%s", e.logs)
	}
}

// newPanickingEnv returns an environment whose clock panics while the
// returned flag is set, which makes every capture request panic.
func newPanickingEnv(t *testing.T) (*env, *atomic.Bool) {
	t.Helper()
	panicking := new(atomic.Bool)
	e := newEnv(t, func(c *collector.Config) {
		c.Now = func() time.Time {
			if panicking.Load() {
				panic("clock broke")
			}
			return testNow
		}
	})
	return e, panicking
}

func TestHandlerPanicAnswers500(t *testing.T) {
	e, panicking := newPanickingEnv(t)
	panicking.Store(true)
	mustFail(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(1)))), http.StatusInternalServerError, "internal_error")
	if logs := e.logs.String(); !strings.Contains(logs, "clock broke") || !strings.Contains(logs, "stack=") {
		t.Errorf("log lacks the panic and its stack:\n%s", logs)
	}

	panicking.Store(false)
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(1)))))
}

func TestRepeatedPanicsLoggedOnce(t *testing.T) {
	e, panicking := newPanickingEnv(t)
	panicking.Store(true)
	for i := range 50 {
		mustFail(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(i)))), http.StatusInternalServerError, "internal_error")
	}

	logs := e.logs.String()
	if n := strings.Count(logs, `msg="capture handler panicked"`); n != 1 {
		t.Errorf("logged %d panic lines for 50 panics in a row, want 1:\n%s", n, logs)
	}
	if got := e.collector.Stats().Rejected["internal_error"]; got != 50 {
		t.Errorf("Stats.Rejected[internal_error] = %d, want 50", got)
	}
}

func TestCloseWaitsForCommit(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	e.store.setBlock(release)

	done := make(chan response)
	go func() { done <- e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(1)))) }()
	waitFor(t, func() bool { return e.store.insertCalls() == 1 })

	closed := make(chan error)
	go func() { closed <- e.collector.Close(context.Background()) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while a commit was in flight", err)
	case <-time.After(50 * time.Millisecond):
	}

	// New requests are turned away while Close waits.
	mustFail(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(2)))), http.StatusServiceUnavailable, "service_unavailable")

	close(release)
	if res := mustOK(t, <-done); res.Accepted != 1 {
		t.Errorf("accepted = %d, want 1", res.Accepted)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := e.collector.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCloseDeadlineCancelsCommit(t *testing.T) {
	e := newEnv(t)
	e.store.setBlock(make(chan struct{})) // never released

	done := make(chan response)
	go func() { done <- e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(1)))) }()
	waitFor(t, func() bool { return e.store.insertCalls() == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.collector.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close error = %v, want context.DeadlineExceeded", err)
	}
	mustFail(t, <-done, http.StatusServiceUnavailable, "service_unavailable")
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLogsSummarizeWithoutPerEventLines(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.SummaryInterval = time.Hour })
	var events []string
	for i := range 20 {
		events = append(events, messageEvent(uuidN(i)))
	}
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, events...)))
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, `{"event":"nope","distinct_id":"d"}`)))
	mustFail(t, e.postJSON("/batch/", `{`), http.StatusBadRequest, "request_parsing_error")

	if err := e.collector.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	logs := e.logs.String()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	// Start, one debug line for the rejected request, the final summary,
	// and stop.
	if len(lines) != 4 {
		t.Fatalf("got %d log lines, want 4:\n%s", len(lines), logs)
	}
	summary := lines[2]
	for _, want := range []string{
		`msg="capture summary"`, "requests=3", "received=21", "accepted=20", "stored=20",
		"dropped=map[unknown_event:1]", "rejected=map[request_parsing_error:1]",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %s:\n%s", want, summary)
		}
	}
	if !strings.Contains(lines[1], `msg="capture request rejected"`) || !strings.Contains(lines[1], "code=request_parsing_error") {
		t.Errorf("second line is not the rejected request: %s", lines[1])
	}
}

func TestStatsCountRejections(t *testing.T) {
	e := newEnv(t)
	mustFail(t, e.postJSON("/batch/", batchBody("phc_nope", messageEvent(uuidN(1)))), http.StatusUnauthorized, "ingest_key_unknown")
	mustFail(t, e.postJSON("/batch/", `[]`), http.StatusBadRequest, "empty_batch")
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(1)))))
	e.do(http.MethodOptions, "/batch/", nil)

	stats := e.collector.Stats()
	want := map[string]int64{"ingest_key_unknown": 1, "empty_batch": 1}
	if diff := cmp.Diff(want, stats.Rejected); diff != "" {
		t.Errorf("Stats.Rejected mismatch (-want +got):\n%s", diff)
	}
	if stats.Requests != 3 {
		t.Errorf("Stats.Requests = %d, want 3", stats.Requests)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	valid := func() collector.Config {
		return collector.Config{Store: newFakeStore(), Projects: testProjects()}
	}
	tests := []struct {
		name   string
		modify func(*collector.Config)
		want   string
	}{
		{"no store", func(c *collector.Config) { c.Store = nil }, "missing Config.Store"},
		{"no projects", func(c *collector.Config) { c.Projects = nil }, "missing Config.Projects"},
		{"unnamed project", func(c *collector.Config) { c.Projects[0].Name = "" }, "has no name"},
		{"duplicate name", func(c *collector.Config) { c.Projects[1].Name = "mux" }, `project "mux" is configured twice`},
		{"no key", func(c *collector.Config) { c.Projects[0].WriteKey = "" }, "has no write key"},
		{"shared key", func(c *collector.Config) { c.Projects[1].WriteKey = muxKey }, "share a write key"},
		{"key with space", func(c *collector.Config) { c.Projects[0].WriteKey = muxKey + " " }, "white space"},
		{"no catalog", func(c *collector.Config) { c.Projects[0].Catalog = nil }, "has no catalog"},
		{"negative limit", func(c *collector.Config) { c.MaxEventBody = -1 }, "Config.MaxEventBody is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.modify(&cfg)
			c, err := collector.New(cfg)
			if err == nil {
				c.Close(context.Background())
				t.Fatalf("New succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRetryAfterRoundsUp(t *testing.T) {
	for _, tt := range []struct {
		retryAfter time.Duration
		want       int
	}{{0, 5}, {100 * time.Millisecond, 1}, {3 * time.Second, 3}} {
		e := newEnv(t, func(c *collector.Config) { c.RetryAfter = tt.retryAfter })
		e.store.setErr(errors.New("down"))
		r := e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(1))))
		if got := r.header.Get("Retry-After"); got != strconv.Itoa(tt.want) {
			t.Errorf("RetryAfter %s: header = %q, want %d", tt.retryAfter, got, tt.want)
		}
	}
}

// journaledStore returns from Insert like a store with a journal: the
// events are durable, and the stored count comes later through the report.
type journaledStore struct {
	*fakeStore
	report func(project string, events, stored int)
}

func (s *journaledStore) Insert(ctx context.Context, events []store.Event) (int, error) {
	if _, err := s.fakeStore.Insert(ctx, events); err != nil {
		return 0, err
	}
	return store.StoredUnknown, nil
}

func (s *journaledStore) ReportLoads(report func(project string, events, stored int)) {
	s.report = report
}

func TestStoredCountedWhenLoaded(t *testing.T) {
	journaled := &journaledStore{fakeStore: newFakeStore()}
	e := newEnv(t, func(cfg *collector.Config) { cfg.Store = journaled })
	if journaled.report == nil {
		t.Fatal("collector.New did not ask the store for load reports")
	}

	res := mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(1)), messageEvent(uuidN(2)))))
	if res.Accepted != 2 {
		t.Errorf("accepted = %d, want 2", res.Accepted)
	}
	if res.Duplicates != nil {
		t.Errorf("duplicates = %d, want it left out before the load", *res.Duplicates)
	}
	if stats := e.collector.Stats(); stats.Accepted != 2 || stats.Stored != 0 || stats.Duplicates != 0 {
		t.Errorf("Stats before the load: accepted %d stored %d duplicates %d, want 2, 0, 0", stats.Accepted, stats.Stored, stats.Duplicates)
	}

	journaled.report("mux", 2, 1)
	stats := e.collector.Stats()
	if stats.Stored != 1 || stats.Duplicates != 1 {
		t.Errorf("Stats after the load: stored %d duplicates %d, want 1 and 1", stats.Stored, stats.Duplicates)
	}
	if p := stats.Projects["mux"]; p.Accepted != 2 || p.Stored != 1 || p.Duplicates != 1 {
		t.Errorf("mux stats after the load: accepted %d stored %d duplicates %d, want 2, 1, 1", p.Accepted, p.Stored, p.Duplicates)
	}
}

func TestCommitFailuresResetBySuccess(t *testing.T) {
	e := newEnv(t)
	if got := e.collector.CommitFailures(); got != (collector.CommitFailures{}) {
		t.Errorf("CommitFailures before any commit = %+v, want the zero value", got)
	}

	e.store.setErr(errors.New("readonly: cannot insert"))
	start := time.Now()
	for i := range 3 {
		mustFail(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(i)))), http.StatusServiceUnavailable, "service_unavailable")
	}
	failures := e.collector.CommitFailures()
	if failures.Count != 3 {
		t.Errorf("CommitFailures().Count after 3 failed commits = %d, want 3", failures.Count)
	}
	if failures.First.Before(start) {
		t.Errorf("CommitFailures().First = %v, want not before the first request at %v", failures.First, start)
	}
	if failures.Last.Before(failures.First) {
		t.Errorf("CommitFailures().Last = %v, want not before First = %v", failures.Last, failures.First)
	}

	e.store.setErr(nil)
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(10)))))
	if got := e.collector.CommitFailures(); got != (collector.CommitFailures{}) {
		t.Errorf("CommitFailures after a successful commit = %+v, want the zero value", got)
	}
}
