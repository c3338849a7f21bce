package collector

import (
	"maps"
	"sync"

	"github.com/candor-dev/candor/internal/store"
)

// Stats are the collector's counters since New. Every count only grows,
// except the gauges PendingEvents, DecodingRequests and BufferedBytes. The
// map keys are status codes, error codes, drop reasons, limits or project
// names, each a small fixed set fit for metric labels.
type Stats struct {
	Requests  int64            // capture requests handled, OPTIONS preflights excluded
	Responses map[int]int64    // capture responses by HTTP status code, OPTIONS preflights included
	Rejected  map[string]int64 // requests that got an error status, by error code

	// RateLimited counts requests rejected with 429 because their write
	// key was over its rate limit. Overloaded counts requests rejected with
	// 503 because a limit of the whole collector was reached, by limit (see
	// LimitDecoding and the other Limit constants).
	RateLimited int64
	Overloaded  map[string]int64

	// Received counts the events of requests that passed decoding,
	// authentication and the limits. It counts them when their commit
	// succeeds, or at once when the request has no events left to commit.
	// A request whose commit failed is not counted, so its retry counts
	// once. A request that timed out waiting for a commit that then
	// succeeded is counted, and its retry counts again, so every accepted
	// event is also a received one.
	Received          int64
	Accepted          int64            // events committed by the store, duplicates included
	Stored            int64            // accepted events the store newly stored; with a journal, counted when loaded
	Duplicates        int64            // accepted events the store already held; with a journal, counted when loaded
	Dropped           map[string]int64 // events not stored, by reason
	DroppedProperties map[string]int64 // properties left out of accepted events, by reason

	// Projects holds the event counts above and RateLimited per project
	// name. Every configured project has an entry.
	Projects map[string]ProjectStats

	Commits           int64 // successful Store.Insert calls
	CommittedRequests int64 // requests whose events those calls committed; divided by Commits, the mean requests per commit
	CommitErrors      int64 // failed Store.Insert calls

	PendingEvents    int64 // events handed to the committer and not yet committed
	DecodingRequests int64 // requests holding a decoding slot
	BufferedBytes    int64 // memory reserved by requests for bodies and decoded payloads
}

// ProjectStats are the counters of one project; each field means what the
// field of the same name in Stats means.
type ProjectStats struct {
	RateLimited       int64
	Received          int64
	Accepted          int64
	Stored            int64
	Duplicates        int64
	Dropped           map[string]int64
	DroppedProperties map[string]int64
}

// Stats returns a copy of the counters.
func (c *Collector) Stats() Stats {
	s := c.stats.snapshot()
	s.PendingEvents = c.pending.inUse()
	s.DecodingRequests = int64(c.decoding.inUse())
	s.BufferedBytes = c.buffered.inUse()
	return s
}

// counters holds Stats behind a mutex; each request takes it a few times.
type counters struct {
	mu sync.Mutex
	s  Stats
}

func newCounters(projects []string) *counters {
	k := &counters{s: Stats{
		Responses:         map[int]int64{},
		Rejected:          map[string]int64{},
		Overloaded:        map[string]int64{},
		Dropped:           map[string]int64{},
		DroppedProperties: map[string]int64{},
		Projects:          map[string]ProjectStats{},
	}}
	for _, name := range projects {
		k.s.Projects[name] = ProjectStats{Dropped: map[string]int64{}, DroppedProperties: map[string]int64{}}
	}
	return k
}

func (k *counters) snapshot() Stats {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.s
	s.Responses = maps.Clone(k.s.Responses)
	s.Rejected = maps.Clone(k.s.Rejected)
	s.Overloaded = maps.Clone(k.s.Overloaded)
	s.Dropped = maps.Clone(k.s.Dropped)
	s.DroppedProperties = maps.Clone(k.s.DroppedProperties)
	s.Projects = make(map[string]ProjectStats, len(k.s.Projects))
	for name, p := range k.s.Projects {
		p.Dropped = maps.Clone(p.Dropped)
		p.DroppedProperties = maps.Clone(p.DroppedProperties)
		s.Projects[name] = p
	}
	return s
}

// updateProject applies f to the counters of project; the caller holds mu.
func (k *counters) updateProject(project string, f func(p *ProjectStats)) {
	p := k.s.Projects[project]
	f(&p)
	k.s.Projects[project] = p
}

func (k *counters) responded(status int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.s.Responses[status]++
}

func (k *counters) rejected(code string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.s.Requests++
	k.s.Rejected[code]++
}

func (k *counters) rateLimited(project string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.s.RateLimited++
	k.updateProject(project, func(p *ProjectStats) { p.RateLimited++ })
}

func (k *counters) overloaded(limit string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.s.Overloaded[limit]++
}

// handled counts a request that ended without an error status, with the
// events it received.
func (k *counters) handled(project string, out eventOutcome, received int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.s.Requests++
	k.countReceived(project, out, received)
}

// submitted counts a request that handed its events to the committer and
// then got their commit's result or stopped waiting. The committer counts
// the events through committed.
func (k *counters) submitted() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.s.Requests++
}

// countReceived counts the events of one request; the caller holds mu.
func (k *counters) countReceived(project string, out eventOutcome, received int) {
	k.s.Received += int64(received)
	for reason, n := range out.dropped {
		k.s.Dropped[string(reason)] += int64(n)
	}
	for reason, n := range out.droppedProperties {
		k.s.DroppedProperties[string(reason)] += int64(n)
	}
	k.updateProject(project, func(p *ProjectStats) {
		p.Received += int64(received)
		for reason, n := range out.dropped {
			p.Dropped[string(reason)] += int64(n)
		}
		for reason, n := range out.droppedProperties {
			p.DroppedProperties[string(reason)] += int64(n)
		}
	})
}

// committed counts one commit of events and the received events of the
// requests in batch. Counting both under one lock keeps every snapshot,
// and so every summary line, from showing accepted events whose received
// ones are not counted yet. stored is store.StoredUnknown when the store
// reports the stored events later, through loaded.
func (k *counters) committed(project string, batch []*pendingCommit, events, stored int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.s.Commits++
	k.s.CommittedRequests += int64(len(batch))
	k.s.Accepted += int64(events)
	k.updateProject(project, func(p *ProjectStats) { p.Accepted += int64(events) })
	for _, p := range batch {
		k.countReceived(p.project, p.outcome, p.received)
	}
	if stored != store.StoredUnknown {
		k.countStored(project, events, stored)
	}
}

// loaded counts events that a store with a journal loaded after their
// commit, stored of them newly.
func (k *counters) loaded(project string, events, stored int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.countStored(project, events, stored)
}

func (k *counters) countStored(project string, events, stored int) {
	k.s.Stored += int64(stored)
	k.s.Duplicates += int64(events - stored)
	k.updateProject(project, func(p *ProjectStats) {
		p.Stored += int64(stored)
		p.Duplicates += int64(events - stored)
	})
}

func (k *counters) commitFailed() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.s.CommitErrors++
}

// summaryLogger logs what changed in Stats since its previous line, so the
// log grows with time rather than with traffic. It is not safe for
// concurrent use; only the committer goroutine calls it.
type summaryLogger struct {
	previous Stats
}

func (l *summaryLogger) log(c *Collector) {
	now := c.Stats()
	prev := l.previous
	// A commit counts its events before its requests count themselves, and
	// a store with a journal counts stored and duplicate events when it
	// loads them, so the events can change while Requests does not.
	if now.Requests == prev.Requests && now.Received == prev.Received &&
		now.Stored == prev.Stored && now.Duplicates == prev.Duplicates &&
		now.CommitErrors == prev.CommitErrors {
		return
	}
	l.previous = now
	c.logger.Info("capture summary",
		"requests", now.Requests-prev.Requests,
		"rejected", mapDelta(now.Rejected, prev.Rejected),
		"rate_limited", now.RateLimited-prev.RateLimited,
		"overloaded", mapDelta(now.Overloaded, prev.Overloaded),
		"received", now.Received-prev.Received,
		"accepted", now.Accepted-prev.Accepted,
		"stored", now.Stored-prev.Stored,
		"duplicates", now.Duplicates-prev.Duplicates,
		"dropped", mapDelta(now.Dropped, prev.Dropped),
		"dropped_properties", mapDelta(now.DroppedProperties, prev.DroppedProperties),
		"commits", now.Commits-prev.Commits,
		"commit_errors", now.CommitErrors-prev.CommitErrors,
		"pending_events", now.PendingEvents,
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
