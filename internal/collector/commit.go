package collector

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/candor-dev/candor/internal/logutil"
	"github.com/candor-dev/candor/internal/store"
)

// committer is the one goroutine that calls Store.Insert. It merges the
// events of concurrent requests into one Insert call (group commit), so a
// burst of small requests costs one transaction instead of one each.
//
// Requests join a queue under a mutex. Only the request that finds the
// queue empty wakes the committer, which then waits CommitInterval for more
// and takes them all at once, so a request costs no goroutine switch of its
// own until its result arrives.
type committer struct {
	c    *Collector
	done chan struct{} // closed when run returns

	mu      sync.Mutex
	queue   []*pendingCommit // requests waiting for their commit, oldest first
	queued  int              // events in queue
	firstAt time.Time        // when the oldest request in queue arrived, about
	stopped bool

	wake chan struct{} // room for one signal: the queue is no longer empty
	full chan struct{} // room for one signal: queued reached MaxCommitBatch
	quit chan struct{} // closed by stop

	// ctx is the parent of every Insert call; Close cancels it when its own
	// deadline passes.
	ctx    context.Context
	cancel context.CancelFunc

	stopOnce   sync.Once
	errorLog   logutil.Limiter
	summaryLog summaryLogger
	streak     failureStreak
}

// pendingCommit is one request's events waiting for their commit. Its
// events hold a share of the pending-events budget until the commit ends.
type pendingCommit struct {
	project string
	events  []store.Event
	result  chan commitResult // room for the one result, so run does not block when the request has left

	// outcome and received are the request's counts for Stats.Received and
	// Stats.Dropped. The committer counts them with the accepted events of
	// a successful commit, also when the request stopped waiting first
	// (state pendingAbandoned), so that every accepted event is also a
	// received one.
	outcome  eventOutcome
	received int
	state    atomic.Int32
}

// States of a pendingCommit. Exactly one of the committer and the waiting
// request moves it out of pendingWaiting.
const (
	pendingWaiting   = iota // the request waits for its result
	pendingAnswered         // the committer is sending the result, and the request takes it
	pendingAbandoned        // the request stopped waiting; its events may still be committed
)

type commitResult struct {
	err error
	// duplicates is how many of the request's events the store already
	// held; known is false when the commit merged several requests.
	duplicates int
	known      bool
}

func startCommitter(c *Collector) *committer {
	ctx, cancel := context.WithCancel(context.Background())
	m := &committer{
		c:      c,
		done:   make(chan struct{}),
		wake:   make(chan struct{}, 1),
		full:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
	}
	go m.run()
	return m
}

// stop makes run return once every request submitted so far is committed.
// No request may be submitted after stop.
func (m *committer) stop() {
	m.stopOnce.Do(func() {
		m.mu.Lock()
		m.stopped = true
		m.mu.Unlock()
		close(m.quit)
	})
}

// signal sends on a channel with room for one signal, unless a signal is
// already waiting there.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// submit hands the checked events of one project's request to the
// committer and waits for their commit. received is the number of events in
// the request. It returns an *errOverloaded when the events do not fit in
// the pending-events budget, and ctx.Err() or context.DeadlineExceeded if
// ctx ends or the deadline passes first. In that case the events may be
// committed anyway, and the committer then counts them as received.
func (m *committer) submit(ctx context.Context, deadline time.Time, project string, out eventOutcome, received int) (commitResult, error) {
	events := out.events
	n := int64(len(events))
	if !m.c.pending.acquire(n) {
		return commitResult{}, &errOverloaded{limit: LimitPendingEvents}
	}
	p := &pendingCommit{project: project, events: events, result: make(chan commitResult, 1), outcome: out, received: received}

	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		panic("collector: request submitted after the committer stopped")
	}
	first := len(m.queue) == 0
	if first {
		m.firstAt = time.Now()
	}
	m.queue = append(m.queue, p)
	m.queued += len(events)
	full := m.queued >= m.c.cfg.MaxCommitBatch
	m.mu.Unlock()
	if first {
		signal(m.wake)
	}
	if full {
		signal(m.full)
	}

	timer := timerPool.Get().(*time.Timer)
	timer.Reset(time.Until(deadline))
	defer func() {
		timer.Stop()
		timerPool.Put(timer)
	}()
	var err error
	select {
	case res := <-p.result:
		return res, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = context.DeadlineExceeded
	}
	if !p.state.CompareAndSwap(pendingWaiting, pendingAbandoned) {
		// The committer moved the state first, so the result is on
		// its way.
		return <-p.result, nil
	}
	return commitResult{}, err
}

// timerPool holds stopped timers for submit. Since Go 1.23 a stopped timer
// delivers no stale value after Reset, so a timer can serve one request
// after another.
var timerPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

func (m *committer) run() {
	defer close(m.done)
	defer m.cancel()

	var tick <-chan time.Time
	if interval := m.c.cfg.SummaryInterval; interval > 0 {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		tick = ticker.C
	}
	// One timer serves every wait for more requests.
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var spare []*pendingCommit // the slice of the previous batch, reused

	for {
		select {
		case <-m.wake:
		case <-m.quit:
		case <-tick:
			m.summaryLog.log(m.c)
			continue
		}
		// Commit until the queue is empty. Before each commit, waitForMore
		// lets more requests join for up to CommitInterval.
		for m.waitForMore(timer) {
			batch := m.take(spare)
			m.commit(batch)
			clear(batch) // every request has its result; let them be freed
			spare = batch[:0]
		}
		if m.isStopped() {
			m.summaryLog.log(m.c)
			m.c.logger.Info("collector stopped")
			return
		}
	}
}

// waitForMore waits until CommitInterval after the oldest queued request
// arrived, or until MaxCommitBatch events are queued or stop is called, and
// reports whether any request is queued. Requests that queued up during a
// commit longer than CommitInterval are committed without a wait.
func (m *committer) waitForMore(timer *time.Timer) bool {
	m.mu.Lock()
	queued, stopped, firstAt := m.queued, m.stopped, m.firstAt
	empty := len(m.queue) == 0
	m.mu.Unlock()
	interval := m.c.cfg.CommitInterval
	if empty || stopped || interval <= 0 || queued >= m.c.cfg.MaxCommitBatch {
		return !empty
	}
	wait := time.Until(firstAt.Add(interval))
	if wait <= 0 {
		return true
	}

	timer.Reset(wait)
	select {
	case <-timer.C:
	case <-m.full:
		timer.Stop()
	case <-m.quit:
		timer.Stop()
	}
	return true
}

// take removes the oldest requests from the queue, until MaxCommitBatch
// events are taken or the queue is empty, and returns them in spare's
// memory or the queue's. It takes at least one request, so one request
// larger than MaxCommitBatch is committed on its own.
func (m *committer) take(spare []*pendingCommit) []*pendingCommit {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, count := 0, 0
	for n < len(m.queue) && (n == 0 || count < m.c.cfg.MaxCommitBatch) {
		count += len(m.queue[n].events)
		n++
	}
	var batch []*pendingCommit
	if n == len(m.queue) {
		batch, m.queue = m.queue, spare
	} else {
		batch = append(spare, m.queue[:n]...)
		m.queue = slices.Delete(m.queue, 0, n)
	}
	m.queued -= count
	if len(m.queue) > 0 {
		// The requests left behind arrived before now; counting their wait
		// from now may make them wait up to one CommitInterval longer.
		m.firstAt = time.Now()
	}
	if m.queued < m.c.cfg.MaxCommitBatch {
		// A full signal left from the requests just taken would cut the
		// next wait short.
		select {
		case <-m.full:
		default:
		}
	}
	return batch
}

func (m *committer) isStopped() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopped && len(m.queue) == 0
}

// commit stores the events of batch with one Insert call per project, so
// that the stored counts are known per project, and hands each request its
// result. Requests of one project are the rule, so it is usually one call.
func (m *committer) commit(batch []*pendingCommit) {
	byProject := map[string][]*pendingCommit{}
	var order []string
	for _, p := range batch {
		if byProject[p.project] == nil {
			order = append(order, p.project)
		}
		byProject[p.project] = append(byProject[p.project], p)
	}
	for _, project := range order {
		m.commitProject(project, byProject[project])
	}
}

func (m *committer) commitProject(project string, batch []*pendingCommit) {
	events := batch[0].events
	if len(batch) > 1 {
		events = make([]store.Event, 0, len(batch)*len(events))
		for _, p := range batch {
			events = append(events, p.events...)
		}
	}

	start := time.Now()
	stored, err := m.insert(events)
	elapsed := time.Since(start)
	m.c.commitLatency.Observe(elapsed.Seconds())

	if err != nil {
		m.streak.failed(time.Now())
		m.c.stats.commitFailed()
		m.errorLog.Error(m.c.logger, "commit failed; its requests get status 503",
			"project", project, "events", len(events), "requests", len(batch), "elapsed", elapsed, "err", err)
	} else {
		m.streak.succeeded()
		m.c.stats.committed(project, batch, len(events), stored)
	}

	for _, p := range batch {
		m.c.pending.release(int64(len(p.events)))
		res := commitResult{err: err}
		if len(batch) == 1 && stored != store.StoredUnknown {
			res.duplicates, res.known = len(events)-stored, true
		}
		// Once the state has moved, a request that stops waiting takes
		// this result instead of reporting a timeout.
		p.state.CompareAndSwap(pendingWaiting, pendingAnswered)
		p.result <- res
	}
}

// insert calls Store.Insert with CommitTimeout, turning a panic into an
// error so one faulty call cannot stop the committer.
func (m *committer) insert(events []store.Event) (stored int, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("insert %d events: panic: %v", len(events), v)
		}
	}()
	ctx, cancel := context.WithTimeout(m.ctx, m.c.cfg.CommitTimeout)
	defer cancel()
	// The error stays as the store wrote it, because the log line that
	// reports it has the event count. Most errors of the DuckDB and
	// ClickHouse stores begin with "insert N events" already, and those
	// of the journal in front of DuckDB with "journal:".
	return m.c.store.Insert(ctx, events)
}

// CommitFailures describes the failed commits since the last successful
// one. The zero value means that the last commit succeeded or that none
// has run.
type CommitFailures struct {
	Count int       // failed Store.Insert calls since the last successful one
	First time.Time // when the first of them ended
	Last  time.Time // when the last of them ended
}

// CommitFailures returns the failed commits since the last successful one.
// It takes one mutex and calls no store, so a readiness check may call it
// on every request.
func (c *Collector) CommitFailures() CommitFailures {
	return c.committer.streak.get()
}

// failureStreak is the CommitFailures that the committer updates after each
// Insert call.
type failureStreak struct {
	mu sync.Mutex
	f  CommitFailures
}

func (s *failureStreak) failed(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.Count == 0 {
		s.f.First = now
	}
	s.f.Count++
	s.f.Last = now
}

func (s *failureStreak) succeeded() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f = CommitFailures{}
}

func (s *failureStreak) get() CommitFailures {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f
}
