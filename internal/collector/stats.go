package collector

import (
	"log/slog"
	"maps"
	"sync"
	"time"
)

// Stats are the collector's counters since New. Every count only grows. The
// map keys are error codes or drop reasons, a small fixed set fit for metric
// labels.
type Stats struct {
	Requests int64            // capture requests handled, OPTIONS preflights excluded
	Rejected map[string]int64 // requests that got an error status, by error code

	Received          int64            // events of requests that passed decoding and authentication and got no 503
	Accepted          int64            // events committed by the store, duplicates included
	Stored            int64            // accepted events the store newly stored
	Duplicates        int64            // accepted events the store already held
	Dropped           map[string]int64 // events not stored, by reason
	DroppedProperties map[string]int64 // properties left out of accepted events, by reason

	Commits           int64 // successful Store.Insert calls
	CommittedRequests int64 // requests whose events those calls committed; divided by Commits, the mean requests per commit
	CommitErrors      int64 // failed Store.Insert calls
}

// Stats returns a copy of the counters.
func (c *Collector) Stats() Stats {
	return c.stats.snapshot()
}

// counters holds Stats behind a mutex; each request takes it once or twice.
type counters struct {
	mu sync.Mutex
	s  Stats
}

func newCounters() *counters {
	return &counters{s: Stats{
		Rejected:          map[string]int64{},
		Dropped:           map[string]int64{},
		DroppedProperties: map[string]int64{},
	}}
}

func (k *counters) snapshot() Stats {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.s
	s.Rejected = maps.Clone(k.s.Rejected)
	s.Dropped = maps.Clone(k.s.Dropped)
	s.DroppedProperties = maps.Clone(k.s.DroppedProperties)
	return s
}

func (k *counters) rejected(code string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.s.Requests++
	k.s.Rejected[code]++
}

func (k *counters) handled(out eventOutcome, received int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.s.Requests++
	k.s.Received += int64(received)
	for reason, n := range out.dropped {
		k.s.Dropped[string(reason)] += int64(n)
	}
	for reason, n := range out.droppedProperties {
		k.s.DroppedProperties[string(reason)] += int64(n)
	}
}

func (k *counters) committed(events, stored, requests int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.s.Commits++
	k.s.CommittedRequests += int64(requests)
	k.s.Accepted += int64(events)
	k.s.Stored += int64(stored)
	k.s.Duplicates += int64(events - stored)
}

func (k *counters) commitFailed() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.s.CommitErrors++
}

// errorLogInterval is the shortest time between two log lines of one
// logLimiter.
const errorLogInterval = 10 * time.Second

// logLimiter logs an error at most once per errorLogInterval and reports
// how many it held back. It is not safe for concurrent use; only the
// committer goroutine calls it.
type logLimiter struct {
	last       time.Time
	suppressed int
}

func (l *logLimiter) log(logger *slog.Logger, msg string, args ...any) {
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < errorLogInterval {
		l.suppressed++
		return
	}
	if l.suppressed > 0 {
		args = append(args, "suppressed", l.suppressed)
	}
	l.last, l.suppressed = now, 0
	logger.Error(msg, args...)
}

// summaryLogger logs what changed in Stats since its previous line, so the
// log grows with time rather than with traffic. It is not safe for
// concurrent use; only the committer goroutine calls it.
type summaryLogger struct {
	previous Stats
}

func (l *summaryLogger) log(c *Collector) {
	now := c.stats.snapshot()
	prev := l.previous
	l.previous = now
	if now.Requests == prev.Requests {
		return
	}
	c.logger.Info("capture summary",
		"requests", now.Requests-prev.Requests,
		"rejected", mapDelta(now.Rejected, prev.Rejected),
		"received", now.Received-prev.Received,
		"accepted", now.Accepted-prev.Accepted,
		"stored", now.Stored-prev.Stored,
		"duplicates", now.Duplicates-prev.Duplicates,
		"dropped", mapDelta(now.Dropped, prev.Dropped),
		"dropped_properties", mapDelta(now.DroppedProperties, prev.DroppedProperties),
		"commits", now.Commits-prev.Commits,
		"commit_errors", now.CommitErrors-prev.CommitErrors,
	)
}

// mapDelta returns the non-zero differences now - prev.
func mapDelta(now, prev map[string]int64) map[string]int64 {
	delta := map[string]int64{}
	for k, v := range now {
		if d := v - prev[k]; d != 0 {
			delta[k] = d
		}
	}
	return delta
}
