package telemetry

import (
	"maps"
	"sync"
	"sync/atomic"

	"github.com/candor-dev/candor/sdk/catalog"
)

// Reasons an event is dropped, the keys of Stats.DroppedByReason. Events
// that break their catalog class are dropped with the catalog's reason,
// such as "looks_like_path" or "not_in_enum".
const (
	DropQueueFull        = "queue_full"        // Capture found the queue full
	DropClosed           = "closed"            // captured after Close
	DropDisabled         = "disabled"          // queued when telemetry was switched off
	DropRejected         = "rejected"          // the collector responded with a 4xx other than 408, 413 and 429
	DropTooLarge         = "too_large"         // a single event the collector rejected with 413
	DropInsecureRedirect = "insecure_redirect" // the collector redirected from https to http
	DropRetryBufferFull  = "retry_buffer_full" // waiting in memory for a retry with the spool off
	DropSpoolFull        = "spool_full"        // the oldest spooled batches, evicted by newer ones
	DropSpoolCorrupt     = "spool_corrupt"     // events a spool file's name counts that are missing from its lines or not valid JSON, or a whole file (one each) whose name or size is wrong
	DropShutdown         = "shutdown"          // left at Close with nowhere to keep it: the spool is off or failing, or Close's context ended before it was spooled
	DropEncodeFailed     = "encode_failed"     // the event could not be turned into JSON

	// DropSpoolCatalogRejected counts spooled events that the running
	// client's catalog rejects when it checks them again before sending,
	// such as after an upgrade removed the event, removed an enum value of
	// a required property or tightened its class. The catalog's reason is
	// counted in Stats.Violations.
	DropSpoolCatalogRejected = "spool_catalog_rejected"

	// DropCollectorPrefix starts the keys of events that the collector
	// acknowledged but did not store, as its response lists them, such as
	// "collector_expired" or "collector_unknown_event". A reason that is
	// not a plain lowercase name, or that comes after the first 16 reasons
	// a client counted, is counted as "collector_other".
	DropCollectorPrefix = "collector_"
)

// Stats counts what happened to the events since New. Each captured event
// is counted once in Sent, Dropped, Queued or Spooled, except while it is
// being uploaded; Sent and Spooled also count spooled events of earlier
// runs.
type Stats struct {
	// Captured counts the Capture calls while enabled, including events
	// dropped at once because the queue was full or the client closed.
	Captured int64
	// Sent counts the events the collector acknowledged with a 2xx status
	// and did not list as dropped in its response. Those it listed count
	// in DroppedByReason under DropCollectorPrefix.
	Sent int64
	// Dropped counts the events that will never be sent, in total and by
	// reason (see the Drop constants and the catalog's reasons).
	Dropped         int64
	DroppedByReason map[string]int64
	// Violations counts property values that broke their class, by the
	// catalog's reason, including optional properties that were left out of
	// an event that was still sent.
	Violations map[string]int64
	// ViolationsByProperty splits Violations by event and property, keyed
	// as catalog.Catalog.ViolationKey writes them, such as
	// "message_sent frontendPlatform.userAgent wrong_type". Keys contain
	// only names that the catalog declares. A feature flag that
	// SetFeatureFlagVariant rejected is counted under its reason alone.
	ViolationsByProperty map[string]int64
	// Queued counts the events waiting in memory.
	Queued int64
	// Spooled counts the events waiting in the spool on disk, including
	// spooled events of earlier runs.
	Spooled int64
	// Ignored counts the Capture calls while telemetry was disabled; those
	// events were never queued.
	Ignored int64
	// Printed counts the events written to DebugOutput.
	Printed int64
	// Retries counts failed uploads that were retried.
	Retries int64
	// LogFailures counts the calls into Config.Logger's handler that
	// panicked. The client recovers those panics and loses the records.
	LogFailures int64
}

// counters backs Stats. The fields Capture touches are atomics; the maps
// are guarded by mu.
type counters struct {
	// Capture's counters, written on the callers' goroutines.
	captured atomic.Int64
	ignored  atomic.Int64
	queueFul atomic.Int64
	closed   atomic.Int64
	// The padding keeps the sender's counters, which it updates for every
	// event, off the cache line Capture writes.
	_ [64]byte

	sent    atomic.Int64
	queued  atomic.Int64 // in the sender's batches, not counting the channel
	spooled atomic.Int64
	printed atomic.Int64
	retries atomic.Int64

	mu                   sync.Mutex
	dropped              map[string]int64
	violations           map[string]int64
	violationsByProperty map[string]int64
}

func (c *counters) drop(reason string, n int64) {
	if n <= 0 {
		return
	}
	c.mu.Lock()
	if c.dropped == nil {
		c.dropped = map[string]int64{}
	}
	c.dropped[reason] += n
	c.mu.Unlock()
}

// violation counts a value that broke its class outside any event, such
// as a feature flag variant.
func (c *counters) violation(reason string) {
	c.violationOf(catalog.Reason(reason), reason)
}

// violationOf counts a value that broke its class, under the key that
// Catalog.ViolationKey returns for it.
func (c *counters) violationOf(reason catalog.Reason, key string) {
	c.mu.Lock()
	if c.violations == nil {
		c.violations = map[string]int64{}
		c.violationsByProperty = map[string]int64{}
	}
	c.violations[string(reason)]++
	c.violationsByProperty[key]++
	c.mu.Unlock()
}

// snapshot returns the counters; queueLen is the number of events in the
// capture channel.
func (c *counters) snapshot(queueLen int) Stats {
	// Capture counts an event as captured before it counts it as dropped
	// for a full queue or a closed client, so those two are read before
	// Captured, and a snapshot never shows more of them than captured.
	queueFull, closed := c.queueFul.Load(), c.closed.Load()
	s := Stats{
		Captured: c.captured.Load(),
		Sent:     c.sent.Load(),
		Queued:   c.queued.Load() + int64(queueLen),
		Spooled:  c.spooled.Load(),
		Ignored:  c.ignored.Load(),
		Printed:  c.printed.Load(),
		Retries:  c.retries.Load(),
	}
	c.mu.Lock()
	s.DroppedByReason = maps.Clone(c.dropped)
	s.Violations = maps.Clone(c.violations)
	s.ViolationsByProperty = maps.Clone(c.violationsByProperty)
	c.mu.Unlock()
	if s.DroppedByReason == nil {
		s.DroppedByReason = map[string]int64{}
	}
	if s.Violations == nil {
		s.Violations = map[string]int64{}
	}
	if s.ViolationsByProperty == nil {
		s.ViolationsByProperty = map[string]int64{}
	}
	if queueFull > 0 {
		s.DroppedByReason[DropQueueFull] += queueFull
	}
	if closed > 0 {
		s.DroppedByReason[DropClosed] += closed
	}
	for _, n := range s.DroppedByReason {
		s.Dropped += n
	}
	return s
}
