package telemetry

import (
	"context"
	"fmt"
	"time"

	"github.com/candor-dev/candor/sdk/catalog"
)

// batch is a list of encoded events uploaded in one request.
type batch struct {
	events [][]byte
	bytes  int
	// spoolPath is the claimed spool file the batch was read from, "" for
	// a batch built in this run and not spooled.
	spoolPath string
}

// sender is the one goroutine that encodes, batches, uploads, retries and
// spools. Its fields are touched by that goroutine only.
type sender struct {
	c   *Client
	cfg *Config

	current    batch
	batchTimer *time.Timer
	pending    []*batch // sealed batches, oldest first
	retryAt    time.Time
	attempt    int
	retryTimer *time.Timer
	waiters    []chan error
	failing    bool // the last upload failed and was logged

	loggedViolations map[catalog.Violation]bool
}

func newSender(c *Client) *sender {
	s := &sender{c: c, cfg: &c.cfg, loggedViolations: map[catalog.Violation]bool{}}
	s.batchTimer = time.NewTimer(time.Hour)
	s.batchTimer.Stop()
	s.retryTimer = time.NewTimer(time.Hour)
	s.retryTimer.Stop()
	return s
}

func (s *sender) run() {
	defer close(s.c.done)
	poll := time.NewTicker(configPollInterval)
	defer poll.Stop()
	defer s.batchTimer.Stop()
	defer s.retryTimer.Stop()

	s.deliver()
	for {
		select {
		case it := <-s.c.queue:
			s.add(it)
		case <-s.batchTimer.C:
			s.seal()
			s.deliver()
		case <-s.retryTimer.C:
			s.deliver()
		case <-poll.C:
			if !s.c.refresh(false).Enabled {
				s.discard(DropDisabled)
			}
		case reply := <-s.c.flushReq:
			s.drainQueue()
			s.seal()
			s.waiters = append(s.waiters, reply)
			s.deliver()
		case <-s.c.quit:
			s.shutdown(s.c.closeCtx)
			return
		}
	}
}

// drainQueue encodes the events that are in the channel now.
func (s *sender) drainQueue() {
	for range len(s.c.queue) {
		select {
		case it := <-s.c.queue:
			s.add(it)
		default:
			return
		}
	}
}

// add encodes one event and appends it to the current batch, sealing and
// sending the batch when it is full.
func (s *sender) add(it item) {
	if !s.c.enabled.Load() {
		s.c.stats.drop(DropDisabled, 1)
		return
	}
	res := s.c.encoder.encode(it, s.c.InstallID())
	s.recordViolations(res.violations)
	if res.dropReason != "" {
		s.c.stats.drop(res.dropReason, 1)
		return
	}

	switch s.c.debugMode() {
	case DebugPrint:
		s.print(res.json)
		return
	case DebugTee:
		s.print(res.json)
	}

	if s.current.bytes+len(res.json) > maxBatchBytes && len(s.current.events) > 0 {
		s.seal()
	}
	s.current.events = append(s.current.events, res.json)
	s.current.bytes += len(res.json)
	s.c.stats.queued.Add(1)
	if len(s.current.events) == 1 {
		s.batchTimer.Reset(s.cfg.FlushInterval)
	}
	if len(s.current.events) >= s.cfg.BatchSize {
		s.seal()
		s.deliver()
	}
}

// print writes one event's exact JSON to DebugOutput.
func (s *sender) print(event []byte) {
	line := make([]byte, 0, len(event)+1)
	line = append(append(line, event...), '\n')
	if _, err := s.cfg.DebugOutput.Write(line); err != nil {
		s.c.log.Warn("telemetry: debug output failed", "error", err)
	}
	s.c.stats.printed.Add(1)
}

// recordViolations counts every violation and logs each distinct event,
// property and reason once, never the value.
func (s *sender) recordViolations(violations []catalog.Violation) {
	for _, v := range violations {
		s.c.stats.violation(string(v.Reason))
		if s.loggedViolations[v] {
			continue
		}
		s.loggedViolations[v] = true
		s.c.log.Warn("telemetry: value rejected by its privacy class",
			"event", v.Event, "property", v.Property, "reason", string(v.Reason))
	}
}

// seal moves the current batch to the pending list.
func (s *sender) seal() {
	s.batchTimer.Stop()
	if len(s.current.events) == 0 {
		return
	}
	b := s.current
	s.current = batch{}
	s.pending = append(s.pending, &b)
}

// discard drops everything waiting in memory, used when telemetry is
// switched off.
func (s *sender) discard(reason string) {
	s.seal()
	var n int64
	for _, b := range s.pending {
		n += int64(len(b.events))
	}
	s.pending = nil
	s.c.stats.queued.Add(-n)
	s.c.stats.drop(reason, n)
	for range len(s.c.queue) {
		select {
		case <-s.c.queue:
			s.c.stats.drop(reason, 1)
		default:
		}
	}
	s.answerWaiters(nil)
}

func (s *sender) answerWaiters(err error) {
	for _, w := range s.waiters {
		w <- err
	}
	s.waiters = nil
}

// deliver uploads pending batches, oldest first, until none is left or an
// upload fails with a retryable error.
func (s *sender) deliver() {
	for {
		if len(s.pending) == 0 {
			s.answerWaiters(nil)
			return
		}
		if wait := time.Until(s.retryAt); wait > 0 {
			s.retryTimer.Reset(wait)
			return
		}
		if !s.c.refresh(true).Enabled {
			s.discard(DropDisabled)
			return
		}
		b := s.pending[0]
		res := s.c.uploader.upload(s.c.sendCtx, b.events)
		if err := s.handle(b, res, false); err != nil {
			s.retryTimer.Reset(time.Until(s.retryAt))
			s.answerWaiters(err)
			return
		}
	}
}

// handle applies an upload's outcome to b, the first pending batch. It
// returns the error of a retryable failure, after which the caller stops
// uploading until the retry delay has passed.
func (s *sender) handle(b *batch, res uploadResult, closing bool) error {
	n := int64(len(b.events))
	switch res.outcome {
	case outcomeSent:
		s.pending = s.pending[1:]
		s.c.stats.queued.Add(-n)
		s.c.stats.sent.Add(n)
		s.attempt, s.retryAt = 0, time.Time{}
		if s.failing {
			s.failing = false
			s.c.log.Info("telemetry: collector reachable again", "events", n)
		}
		return nil

	case outcomeSplit:
		if n == 1 {
			s.pending = s.pending[1:]
			s.c.stats.queued.Add(-1)
			s.c.stats.drop(DropTooLarge, 1)
			s.c.log.Warn("telemetry: event dropped, the collector found it too large", "status", res.status)
			return nil
		}
		half := len(b.events) / 2
		first := &batch{events: b.events[:half]}
		second := &batch{events: b.events[half:]}
		for _, ev := range first.events {
			first.bytes += len(ev)
		}
		second.bytes = b.bytes - first.bytes
		s.pending = append([]*batch{first, second}, s.pending[1:]...)
		return nil

	case outcomeReject:
		s.pending = s.pending[1:]
		s.c.stats.queued.Add(-n)
		s.c.stats.drop(res.dropReason, n)
		s.c.log.Error("telemetry: batch dropped", "events", n, "status", res.status, "reason", res.dropReason, "error", res.err)
		return nil
	}

	s.attempt++
	s.c.stats.retries.Add(1)
	wait := backoff(s.attempt, s.cfg.MaxRetryDelay, res.retryAfter)
	s.retryAt = time.Now().Add(wait)
	if !s.failing || closing {
		s.failing = true
		s.c.log.Warn("telemetry: upload failed, will retry", "status", res.status, "retry_in", wait, "error", res.err)
	}
	s.boundRetryBuffer()
	if res.err == nil {
		return fmt.Errorf("upload telemetry batch: status %d", res.status)
	}
	return fmt.Errorf("upload telemetry batch: %w", res.err)
}

// boundRetryBuffer keeps the events waiting in memory within QueueSize by
// dropping the oldest batches.
func (s *sender) boundRetryBuffer() {
	var total int
	for _, b := range s.pending {
		total += len(b.events)
	}
	for total > s.cfg.QueueSize && len(s.pending) > 1 {
		n := len(s.pending[0].events)
		s.pending = s.pending[1:]
		total -= n
		s.c.stats.queued.Add(-int64(n))
		s.c.stats.drop(DropRetryBufferFull, int64(n))
	}
}

// shutdown sends what is left while ctx allows and drops the rest.
func (s *sender) shutdown(ctx context.Context) {
	s.drainQueue()
	s.seal()
	for len(s.pending) > 0 && ctx.Err() == nil {
		if !s.c.refresh(true).Enabled {
			s.discard(DropDisabled)
			break
		}
		if wait := time.Until(s.retryAt); wait > 0 {
			if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
				break
			}
			s.retryTimer.Reset(wait)
			select {
			case <-s.retryTimer.C:
			case <-ctx.Done():
			}
			continue
		}
		b := s.pending[0]
		res := s.c.uploader.upload(s.c.sendCtx, b.events)
		s.handle(b, res, true)
	}
	var left int64
	for _, b := range s.pending {
		left += int64(len(b.events))
	}
	s.pending = nil
	s.c.stats.queued.Add(-left)
	s.c.stats.drop(DropShutdown, left)
	s.answerWaiters(ErrClosed)
}
