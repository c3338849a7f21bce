package collector

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/candor-dev/candor/internal/logutil"
	"github.com/candor-dev/candor/internal/store"
)

// committer is the one goroutine that calls Store.Insert. It merges the
// events of concurrent requests into one Insert call (group commit), so a
// burst of small requests costs one transaction instead of one each.
type committer struct {
	c        *Collector
	requests chan *pendingCommit
	done     chan struct{} // closed when run returns

	// ctx is the parent of every Insert call; Close cancels it when its own
	// deadline passes.
	ctx    context.Context
	cancel context.CancelFunc

	stopOnce   sync.Once
	errorLog   logutil.Limiter
	summaryLog summaryLogger
}

// pendingCommit is one request's events waiting for their commit. Its
// events hold a share of the pending-events budget until the commit ends.
type pendingCommit struct {
	project string
	events  []store.Event
	result  chan commitResult // room for the one result, so run does not block when the request has left
}

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
		c:        c,
		requests: make(chan *pendingCommit),
		done:     make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
	}
	go m.run()
	return m
}

// stop makes run return once every request sent so far is committed. No
// request may be submitted after stop.
func (m *committer) stop() {
	m.stopOnce.Do(func() { close(m.requests) })
}

// submit hands the events of one project to the committer and waits for
// their commit. It returns an *errOverloaded when the events do not fit in
// the pending-events budget, and ctx.Err() if ctx ends first; in that case
// the events may be committed anyway.
func (m *committer) submit(ctx context.Context, project string, events []store.Event) (commitResult, error) {
	n := int64(len(events))
	if !m.c.pending.acquire(n) {
		return commitResult{}, &errOverloaded{limit: LimitPendingEvents}
	}
	p := &pendingCommit{project: project, events: events, result: make(chan commitResult, 1)}
	select {
	case m.requests <- p:
	case <-ctx.Done():
		m.c.pending.release(n)
		return commitResult{}, ctx.Err()
	}
	select {
	case res := <-p.result:
		return res, nil
	case <-ctx.Done():
		return commitResult{}, ctx.Err()
	}
}

func (m *committer) run() {
	defer close(m.done)
	defer m.cancel()

	var tick <-chan time.Time
	if interval := m.c.cfg.SummaryInterval; interval > 0 {
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		tick = ticker.C
	}

	for {
		select {
		case first, ok := <-m.requests:
			if !ok {
				m.summaryLog.log(m.c)
				m.c.logger.Info("collector stopped")
				return
			}
			m.commit(m.gather(first))
		case <-tick:
			m.summaryLog.log(m.c)
		}
	}
}

// gather collects the requests that arrive within CommitInterval of first,
// until MaxCommitBatch events are waiting.
func (m *committer) gather(first *pendingCommit) []*pendingCommit {
	batch := []*pendingCommit{first}
	count := len(first.events)
	interval, limit := m.c.cfg.CommitInterval, m.c.cfg.MaxCommitBatch

	var timeout <-chan time.Time
	if interval > 0 {
		timer := time.NewTimer(interval)
		defer timer.Stop()
		timeout = timer.C
	}
	for count < limit {
		if timeout == nil {
			// No wait: take only the requests already waiting.
			select {
			case p, ok := <-m.requests:
				if !ok {
					return batch
				}
				batch, count = append(batch, p), count+len(p.events)
				continue
			default:
				return batch
			}
		}
		select {
		case p, ok := <-m.requests:
			if !ok {
				return batch
			}
			batch, count = append(batch, p), count+len(p.events)
		case <-timeout:
			return batch
		}
	}
	return batch
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
		m.c.stats.commitFailed()
		m.errorLog.Error(m.c.logger, "commit failed; its requests get status 503",
			"project", project, "events", len(events), "requests", len(batch), "elapsed", elapsed, "err", err)
	} else {
		m.c.stats.committed(project, len(events), stored, len(batch))
	}

	for _, p := range batch {
		m.c.pending.release(int64(len(p.events)))
		res := commitResult{err: err}
		if len(batch) == 1 {
			res.duplicates, res.known = len(events)-stored, true
		}
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
	stored, err = m.c.store.Insert(ctx, events)
	if err != nil {
		return 0, fmt.Errorf("insert %d events: %w", len(events), err)
	}
	return stored, nil
}
