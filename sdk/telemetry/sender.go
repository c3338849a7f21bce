package telemetry

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/candor-dev/candor/sdk/catalog"
)

// batch is a list of encoded events uploaded in one request.
type batch struct {
	events [][]byte
	bytes  int
	// buf is the storage the sender encoded the events into. It is reused
	// for a later batch once this one is sent, dropped or spooled. It is
	// nil for batches read from the spool and for split halves.
	buf []byte
	// spoolPath is the claimed spool file the batch was read from, "" for
	// a batch held in memory. spoolMore lists the further claimed files
	// whose events follow those of spoolPath, when the batch merges several
	// small files. Such a merged batch is never spoolStale.
	spoolPath string
	spoolMore []string
	// lines counts the non-empty lines of the spool file, valid or not.
	lines int
	// spoolStale is set when the claimed spool file contains lines other
	// than events, or more or fewer lines than its name counts. Such a
	// file is written back from events before it is released.
	spoolStale bool
	// sealedIn is the round of deliver during whose upload the batch was
	// sealed, 0 for a batch sealed outside an upload.
	sealedIn uint64
}

// spoolPaths returns the claimed spool files of b, none for a batch held
// in memory.
func (b *batch) spoolPaths() []string {
	if b.spoolPath == "" {
		return nil
	}
	return append([]string{b.spoolPath}, b.spoolMore...)
}

// sender is the one goroutine that encodes, batches, uploads, retries and
// spools. Its fields are touched by that goroutine only.
type sender struct {
	c       *Client
	cfg     *Config
	spool   *spool   // nil when the spool is off
	sentLog *sentLog // nil when Config.SentLog is ""
	polls   int

	current    batch
	free       []batch // storage of finished batches, for reuse
	batchTimer *time.Timer
	pending    []*batch // sealed batches in memory, oldest first
	retryAt    time.Time
	attempt    int
	retryTimer *time.Timer
	waiters    []chan error
	failing    bool // the last upload failed and was logged
	spoolErr   bool // the last spool write failed and was logged
	// tooLargeLogged is set when an event was dropped as too large and
	// logged. Later such drops are only counted until an upload succeeds,
	// because when a collector rejects every event as too large, the app's
	// log would otherwise get one line per event.
	tooLargeLogged bool
	// collectorDropLogged is set once a response listed events that the
	// collector dropped, which is logged once per client.
	collectorDropLogged bool
	// collectorReasons contains the collector's drop reasons counted in
	// Stats so far, at most maxCollectorDropReasons.
	collectorReasons map[string]bool
	// persistedOff is the persisted choice at the last refresh: true when
	// config.json turns telemetry off.
	persistedOff bool
	// optOutToken is the content of OptOutFile at the last refresh, and
	// sawChoice is false before the first refresh.
	optOutToken string
	sawChoice   bool
	// optOuts is the highest Client.optOuts stamp of the events taken in,
	// or of this process's opt-outs noted by noteChoice. add drops the
	// events stamped below it, which were captured before an opt-out of
	// this process, even when they reach the queue after a newer stamp.
	optOuts uint64

	// loggedViolations contains the catalog.Catalog.ViolationKey of each
	// violation logged. The key leaves out names that the catalog does not
	// declare, so names built at run time cannot grow the set or the log.
	loggedViolations map[string]bool
	// holdDelivery is set while workWhileWaiting runs inside an upload, and
	// while Pending and NextPayload encode the queue, so that a batch they
	// fill is sealed but not delivered from there.
	// closing is set once shutdown starts. spoolHadBatch is set when the
	// last look at the spool found a batch, which then goes before the
	// batches in memory.
	holdDelivery  bool
	closing       bool
	spoolHadBatch bool
	// round counts the calls of deliver. resume wakes the run loop to call
	// deliver again for the batches sealed during the last round.
	round  uint64
	resume chan struct{}

	// spoolTail is the claimed spooled batch that contains more events than
	// one request carries, after its first events were uploaded. deliver
	// uploads it before anything else and releases it when it returns, so
	// no claim outlives a round.
	spoolTail *batch
	// maxPartEvents, when above 0, caps the events of a request that carries
	// part of a spooled batch, and maxMergedFiles the spool files merged
	// into one request. A 413 for such a request halves the cap, and the
	// caps are lifted once the spool is empty.
	maxPartEvents  int
	maxMergedFiles int
	// lateSpoolFiles is how many more spool files may be written after
	// Close's context ended: enough to fill an empty spool once, so that
	// Close keeps what the spool can hold at the cost of a few syncs.
	lateSpoolFiles int
}

func newSender(c *Client) *sender {
	s := &sender{
		c:                c,
		cfg:              &c.cfg,
		spool:            c.spool,
		sentLog:          newSentLog(&c.cfg),
		loggedViolations: map[string]bool{},
		resume:           make(chan struct{}, 1),
	}
	if s.spool != nil {
		s.lateSpoolFiles = s.spool.filesToFill()
	}
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

	if s.spool != nil && s.c.enabled.Load() {
		s.spool.recoverStale()
		// A spool filled by another process, or planted, is brought
		// within the bounds before anything of it is sent.
		s.spool.listBounded()
	}
	s.deliver()
	for {
		select {
		case it := <-s.c.queue:
			s.addQueued(it)
		case <-s.batchTimer.C:
			s.seal()
			s.deliver()
		case <-s.retryTimer.C:
			s.deliver()
		case <-s.resume:
			s.deliver()
		case <-poll.C:
			s.poll()
		case <-s.c.nudge:
			s.poll()
		case fn := <-s.c.privacy.inspect:
			fn(s)
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

// poll re-reads the switches: it drops what is queued when telemetry was
// switched off, and picks up batches other processes spooled.
func (s *sender) poll() {
	s.polls++
	if !s.applySwitches().Enabled {
		return
	}
	if s.spool == nil {
		return
	}
	if s.polls%staleCheckPolls == 0 {
		s.spool.recoverStale()
	}
	if time.Until(s.retryAt) <= 0 {
		s.deliver()
	}
}

// applySwitches refreshes the switches, applies an opt-out or a forget
// (noteChoice) and drops what is waiting when telemetry is off. It returns
// the refreshed status and sends nothing.
func (s *sender) applySwitches() Status {
	st := s.c.refresh()
	s.noteChoice(st)
	if !st.Enabled {
		s.discard(DropDisabled)
	}
	return st
}

// staleCheckPolls is how many polls pass between looks for spool claims
// left by a crashed process: about one minute.
const staleCheckPolls = 60

// drainQueue encodes the events that are in the channel now.
func (s *sender) drainQueue() {
	s.receive(len(s.c.queue))
}

// drainQueueHeld encodes the events that are in the channel now, as
// drainQueue does, but leaves the batches it fills to the run loop, so
// that Pending and NextPayload send nothing themselves.
func (s *sender) drainQueueHeld() {
	s.receiveHeld(len(s.c.queue))
	if len(s.pending) > 0 {
		s.resumeDelivery()
	}
}

// receiveHeld adds up to n events from the channel, as receive does, but
// only seals a batch it fills: the delivery loop or the run loop uploads
// it later.
func (s *sender) receiveHeld(n int) {
	s.holdDelivery = true
	s.receive(n)
	s.holdDelivery = false
}

// addQueued adds the event the run loop received and, without going back
// to the loop's select, up to a batch's worth more that are waiting.
func (s *sender) addQueued(it item) {
	s.add(it, s.c.InstallID(), s.c.debugMode())
	s.receive(min(len(s.c.queue), s.cfg.BatchSize-1))
}

// receive adds up to n events from the channel.
func (s *sender) receive(n int) {
	if n <= 0 {
		return
	}
	id, debug := s.c.InstallID(), s.c.debugMode()
	for range n {
		select {
		case it := <-s.c.queue:
			s.add(it, id, debug)
		default:
			return
		}
	}
}

// Storage of batches.
const (
	batchBufSize     = 64 << 10 // the initial room for a batch's JSON
	maxBatchPrealloc = 1024     // bounds the room for events reserved when a batch starts
	maxFreeBatches   = 4
)

// add encodes one event and appends it to the current batch, sealing and
// sending the batch when it is full. id and debug are the install ID and
// the debug mode, read once for the events received together.
func (s *sender) add(it item, id, debug string) {
	if !s.c.enabled.Load() || it.optOuts < s.optOuts {
		s.c.stats.drop(DropDisabled, 1)
		return
	}
	if it.optOuts > s.optOuts {
		// This process opted out, and in again, since the events in
		// memory were captured.
		s.dropBatches(DropDisabled)
		s.optOuts = it.optOuts
	}
	if id == "" {
		id = s.c.InstallID() // telemetry was switched on since id was read
	}
	if s.current.buf == nil {
		s.newBatch()
	}
	var res encodeResult
	s.current.buf, res = s.c.encoder.encode(s.current.buf, it, id)
	s.recordViolations(res.violations)
	if res.dropReason != "" {
		s.c.stats.drop(res.dropReason, 1)
		return
	}

	switch debug {
	case DebugPrint:
		s.print(res.json)
		s.current.buf = s.current.buf[:len(s.current.buf)-len(res.json)]
		return
	case DebugTee:
		s.print(res.json)
	}

	if s.current.bytes+len(res.json) > maxBatchBytes && len(s.current.events) > 0 {
		// The event moves to the next batch, which must not share the
		// full one's storage.
		s.current.buf = s.current.buf[:len(s.current.buf)-len(res.json)]
		s.seal()
		s.newBatch()
		s.current.buf = append(s.current.buf, res.json...)
		res.json = s.current.buf[:len(res.json):len(res.json)]
	}
	s.current.events = append(s.current.events, res.json)
	s.current.bytes += len(res.json)
	s.c.stats.queued.Add(1)
	if len(s.current.events) == 1 {
		s.batchTimer.Reset(s.cfg.FlushInterval)
	}
	if len(s.current.events) >= s.cfg.BatchSize {
		s.seal()
		if !s.holdDelivery {
			s.deliver()
		}
	}
}

// workWhileWaiting runs while an upload waits for its response. It
// encodes the events waiting in the queue, up to the end of the current
// batch, and compresses the body of the batch that goes next. When uploads
// follow each other, the response has then arrived when the sender reads
// it, so the goroutine does not park and no thread has to wake it. That
// took BenchmarkBackground from about 2,150 to about 1,700 ns of CPU time
// per event.
//
// It encodes only while no sealed batch waits in memory, so that uploads
// stay at most about one batch behind the encoding: each batch sealed here
// costs the next round of deliver one upload. Shutdown encodes nothing
// here, because Close counts what is still queued.
func (s *sender) workWhileWaiting() {
	if !s.closing && len(s.pending) == 0 {
		s.receiveHeld(min(len(s.c.queue), s.cfg.BatchSize-len(s.current.events)))
	}
	if len(s.pending) > 0 && !s.spoolHadBatch {
		s.c.uploader.compressAhead(s.pending[0])
	}
}

// newBatch gives the current batch, which is empty, storage: that of a
// finished batch if one is free.
func (s *sender) newBatch() {
	if n := len(s.free); n > 0 {
		s.current.buf, s.current.events = s.free[n-1].buf, s.free[n-1].events
		s.free = s.free[:n-1]
		return
	}
	s.current.buf = make([]byte, 0, batchBufSize)
	s.current.events = make([][]byte, 0, min(s.cfg.BatchSize, maxBatchPrealloc))
}

// recycle keeps the storage of a batch that is no longer needed, sent,
// dropped or spooled, for a later batch.
func (s *sender) recycle(b *batch) {
	if b.buf == nil || len(s.free) >= maxFreeBatches || cap(b.buf) > 2*maxBatchBytes {
		return
	}
	clear(b.events) // drop the references into buf
	s.free = append(s.free, batch{buf: b.buf[:0], events: b.events[:0]})
	b.buf, b.events = nil, nil
}

// print writes one event's exact JSON to DebugOutput.
func (s *sender) print(event []byte) {
	line := make([]byte, 0, len(event)+1)
	line = append(append(line, event...), '\n')
	if err := s.writeDebug(line); err != nil {
		s.c.log.Warn("telemetry: debug output failed", "error", err)
	}
	s.c.stats.printed.Add(1)
}

// writeDebug writes line to DebugOutput. A panic in its Write returns as
// an error, because on the sender goroutine it would end the app.
func (s *sender) writeDebug(line []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("Config.DebugOutput panicked: %v", r)
		}
	}()
	_, err = s.cfg.DebugOutput.Write(line)
	return err
}

// recordViolations counts every violation and logs each distinct event,
// property and reason once, never the value. An event or property name
// that the catalog does not declare is logged the first time only.
func (s *sender) recordViolations(violations []catalog.Violation) {
	for _, v := range violations {
		key := s.c.cfg.Catalog.ViolationKey(v)
		s.c.stats.violationOf(v.Reason, key)
		if s.loggedViolations[key] {
			continue
		}
		s.loggedViolations[key] = true
		if v.Property == "" {
			s.logEventRejected(v)
			continue
		}
		s.c.log.Warn("telemetry: value rejected by its privacy class",
			"event", v.Event, "property", v.Property, "reason", string(v.Reason))
	}
}

// logEventRejected logs a violation of a whole event, which no property
// value caused, with what the app's code has to change.
func (s *sender) logEventRejected(v catalog.Violation) {
	message, fix := "telemetry: event rejected by the catalog", ""
	switch v.Reason {
	case catalog.ReasonUnknownEvent:
		message, fix = "telemetry: event not in the catalog", "register its type in the catalog of Config.Catalog"
	case catalog.ReasonWrongType:
		message, fix = "telemetry: event type is not the one registered under its name", "capture the registered type or a catalog.PropertyMap"
	case catalog.ReasonMissing:
		message, fix = "telemetry: event is a nil pointer", "capture a value of the event's type"
	}
	s.c.log.Warn(message, "event", v.Event, "reason", string(v.Reason), "fix", fix)
}

// seal moves the current batch to the pending list.
func (s *sender) seal() {
	s.batchTimer.Stop()
	if len(s.current.events) == 0 {
		return
	}
	b := s.current
	s.current = batch{}
	if s.holdDelivery {
		b.sealedIn = s.round
	}
	s.pending = append(s.pending, &b)
}

// discard drops everything waiting in memory, used when telemetry is
// switched off.
func (s *sender) discard(reason string) {
	s.dropBatches(reason)
	for range len(s.c.queue) {
		select {
		case <-s.c.queue:
			s.c.stats.drop(reason, 1)
		default:
		}
	}
	s.answerWaiters(nil)
}

// dropBatches drops the events encoded and waiting in memory, but not
// those in the queue.
func (s *sender) dropBatches(reason string) {
	s.seal()
	var n int64
	for _, b := range s.pending {
		n += int64(len(b.events))
		s.recycle(b)
	}
	s.pending = nil
	s.c.stats.queued.Add(-n)
	s.c.stats.drop(reason, n)
}

// noteChoice drops what is waiting when the user opted out since the last
// refresh. The persisted choice turning off, or being off at the first
// refresh, purges the spool. A new opt-out token means the user opted out
// and maybe in again between two refreshes, so it drops the events in
// memory too. The purge also catches a batch that a sender, in this process
// or another, had claimed while SetEnabled(false) purged, and put back in
// the spool after its upload failed. When another process forgot the
// install, noteChoice drops what is waiting and moves to the next ID.
func (s *sender) noteChoice(st Status) {
	if s.c.forgottenElsewhere() {
		s.discard(DropForgotten)
		if s.spool != nil {
			s.dropSpoolTail(DropForgotten)
			s.spool.purge(DropForgotten)
		}
		s.c.dropForgottenIdentity()
		s.c.refresh() // loads or creates the next install ID
		s.c.log.Info("telemetry: install forgotten by another process, events waiting were dropped")
	}
	turnedOff := st.persistedOff && !s.persistedOff
	newToken := s.sawChoice && st.optOutToken != s.optOutToken
	s.persistedOff, s.optOutToken, s.sawChoice = st.persistedOff, st.optOutToken, true
	if newToken {
		s.dropBeforeOptOut(st.optOutToken)
	}
	if (turnedOff || newToken) && s.spool != nil {
		s.dropSpoolTail(DropDisabled)
		s.spool.purge(DropDisabled)
	}
}

// dropBeforeOptOut drops the events captured before the opt-out that
// wrote token. Capture stamps events with Client.optOuts, so after an
// opt-out of this process it keeps the events captured after a later
// opt-in. The encoded events are older than the opt-out unless add saw a
// newer stamp, and add drops the queued ones stamped before it. After an
// opt-out of another process, it drops every event waiting in memory.
func (s *sender) dropBeforeOptOut(token string) {
	own := s.c.ownOptOut.Load()
	if own == nil || own.token != token {
		s.discard(DropDisabled)
		return
	}
	if s.optOuts < own.optOuts {
		s.dropBatches(DropDisabled)
		s.optOuts = own.optOuts
	}
}

func (s *sender) answerWaiters(err error) {
	for _, w := range s.waiters {
		w <- err
	}
	s.waiters = nil
}

// next takes the batch to upload: the rest of a spooled batch in the
// middle of its upload, then the oldest spooled batch, then the oldest
// batch in memory. It returns nil when there is none, or when the oldest
// batch in memory was sealed during this round of deliver. A spooled batch
// is checked against the catalog again first (recheck), and one with no
// event left is skipped.
func (s *sender) next(includeSpool bool) *batch {
	if s.spool != nil && includeSpool {
		b := s.spoolTail
		s.spoolTail = nil
		if b == nil {
			b = s.claimSpooled()
		}
		if b == nil {
			s.maxPartEvents, s.maxMergedFiles = 0, 0
		}
		s.spoolHadBatch = b != nil
		if b != nil {
			return b
		}
	}
	if len(s.pending) == 0 || s.pending[0].sealedIn == s.round {
		return nil
	}
	b := s.pending[0]
	s.pending = s.pending[1:]
	return b
}

// claimSpooled claims the oldest spooled files that still have an event
// to send after recheck, and returns their events as one batch, or nil.
// It merges files while their events fit one request of at most
// BatchSize events and maxBatchBytes bytes, and merges at most
// maxMergedFiles files when that is set. The first file is claimed whatever its size, and upload
// sends a file larger than one request in parts.
func (s *sender) claimSpooled() *batch {
	var merged *batch
	files := 0
	for s.maxMergedFiles == 0 || files < s.maxMergedFiles {
		var b *batch
		var err error
		if merged == nil {
			b, err = s.spool.claimNext()
		} else {
			roomEvents, roomBytes := s.cfg.BatchSize-len(merged.events), maxBatchBytes-merged.bytes
			if roomEvents <= 0 || roomBytes <= 0 {
				break
			}
			b, err = s.spool.claimNextWithin(roomEvents, int64(roomBytes))
		}
		if err != nil {
			s.c.log.Warn("telemetry: spool cannot be read", "error", errorText(err))
		}
		if b == nil {
			break
		}
		if !s.recheck(b) {
			continue
		}
		files++
		if merged == nil {
			merged = b
			if b.spoolPath == "" {
				break // recheck could not write it back, so it is kept in memory
			}
			continue
		}
		if b.spoolPath == "" {
			// It goes after the merged files, before the newer batches
			// of this process.
			s.pending = append([]*batch{b}, s.pending...)
			break
		}
		merged.events = append(merged.events, b.events...)
		merged.bytes += b.bytes
		merged.spoolMore = append(merged.spoolMore, b.spoolPath)
	}
	return merged
}

// deliver uploads batches until none is left or an upload fails with a
// retryable error, then replies to the Flush calls waiting for it.
//
// One call is a round. The batches sealed while its uploads wait hold
// events received after the round began, so the round leaves them to the
// next one. That round starts from the run loop's select, so Flush and
// the poll can take their turn in between. Without that, a steady stream
// of events would keep one call uploading for as long as it lasts. A round
// drains the whole spool, so Pending, NextPayload and Forget run between
// two of its uploads (runWaitingTask), and Close ends it there.
func (s *sender) deliver() {
	s.round++
	defer s.releaseSpoolTail()
	for {
		if s.closeRequested() {
			return // shutdown uploads what waits in memory and leaves the spool
		}
		s.runWaitingTask()
		if wait := time.Until(s.retryAt); wait > 0 {
			s.spoolPending(s.c.sendCtx)
			s.retryTimer.Reset(wait)
			return
		}
		st := s.applySwitches()
		if !st.Enabled {
			return
		}
		if st.Debug == DebugPrint {
			s.answerWaiters(nil) // print mode sends nothing, spooled batches included
			return
		}
		b := s.next(true)
		if b == nil {
			if len(s.pending) > 0 {
				s.resumeDelivery()
			}
			s.answerWaiters(nil)
			return
		}
		err := s.upload(b)
		if errors.Is(err, errSwitchedOff) {
			continue // the next look at the switches drops what waits
		}
		if err != nil {
			s.spoolPending(s.c.sendCtx)
			s.retryTimer.Reset(time.Until(s.retryAt))
			s.answerWaiters(err)
			return
		}
	}
}

// runWaitingTask runs a function that Pending, NextPayload or Forget
// passed to the sender, if one waits. It first writes the rest of a spooled
// file sent in parts back to the spool, so that the function finds those
// events there and Forget deletes them.
func (s *sender) runWaitingTask() {
	select {
	case fn := <-s.c.privacy.inspect:
		s.releaseSpoolTail()
		fn(s)
	default:
	}
}

// closeRequested reports whether Close has been called.
func (s *sender) closeRequested() bool {
	select {
	case <-s.c.quit:
		return true
	default:
		return false
	}
}

// resumeDelivery makes the run loop call deliver again.
func (s *sender) resumeDelivery() {
	select {
	case s.resume <- struct{}{}:
	default:
	}
}

// upload sends one batch and applies the outcome. A retryable failure puts
// the batch back in the spool or in memory and returns the error. The
// caller then stops uploading until the retry delay has passed.
//
// An upload that refresh cancelled because telemetry was switched off is
// not retried: dropSwitchedOff applies it, and upload returns
// errSwitchedOff.
func (s *sender) upload(b *batch) error {
	if s.c.beforeUpload != nil {
		s.c.beforeUpload()
	}
	uploadCtx, end := s.c.startUpload()
	defer end()
	if n := s.c.optOuts.Load(); n > s.optOuts {
		// This process opted out, and in again, since the sender last
		// looked at the switches, so the events of b, and those in
		// memory, were captured before that opt-out. startUpload read
		// the switches before this count, so an opt-in that it saw comes
		// after the count's rise.
		s.optOuts = n
		s.dropBatches(DropDisabled)
		s.dropSwitchedOff(b)
		return errSwitchedOff
	}
	part := s.requestPart(b)
	ctx := whileWaiting(uploadCtx, s.workWhileWaiting)
	res := s.c.uploader.upload(ctx, part)
	if res.outcome == outcomeRetry && errors.Is(context.Cause(uploadCtx), errSwitchedOff) {
		s.dropSwitchedOff(b)
		return errSwitchedOff
	}
	if part != b && res.outcome != outcomeRetry {
		s.applyPart(b, part, res)
		return nil
	}
	n := int64(len(b.events))
	fromSpool := b.spoolPath != ""
	switch res.outcome {
	case outcomeSent:
		s.finish(b)
		s.recordSent(b.events, res)
		s.recycle(b)
		return nil

	case outcomeSplit:
		if n == 1 {
			s.finish(b)
			s.recycle(b)
			s.dropTooLarge(res)
			return nil
		}
		if len(b.spoolMore) > 0 {
			// The files go back to the spool, and the next claims take
			// half as many of them at a time.
			s.spool.release(b)
			s.maxMergedFiles = max(1, (1+len(b.spoolMore))/2)
			return nil
		}
		half := len(b.events) / 2
		first := &batch{events: b.events[:half]}
		second := &batch{events: b.events[half:]}
		for _, ev := range first.events {
			first.bytes += len(ev)
		}
		for _, ev := range second.events {
			second.bytes += len(ev)
		}
		if fromSpool {
			err := s.spool.split(b, first.events, second.events)
			if err == nil {
				return nil
			}
			// The halves are held in memory and go after the spooled
			// batches.
			s.c.log.Warn("telemetry: split batch kept in memory", "error", errorText(err))
			s.spool.remove(b)
			s.c.stats.queued.Add(n)
		}
		s.pending = append([]*batch{first, second}, s.pending...)
		return nil

	case outcomeReject:
		s.finish(b)
		s.recycle(b)
		s.c.stats.drop(res.dropReason, n)
		s.c.log.Error("telemetry: batch dropped", "events", n, "status", res.status, "reason", res.dropReason, "error", res.err)
		return nil
	}

	if fromSpool {
		s.releaseSpooled(b)
	} else {
		s.pending = append([]*batch{b}, s.pending...)
	}
	s.attempt++
	s.c.stats.retries.Add(1)
	wait := backoff(s.attempt, s.cfg.MaxRetryDelay, res.retryAfter)
	s.retryAt = time.Now().Add(wait)
	// An upload that Close canceled is not an outage: Close spools the
	// batch and its Stats report that.
	if !s.failing && s.c.sendCtx.Err() == nil {
		s.failing = true
		s.c.log.Warn("telemetry: upload failed, will retry", "status", res.status, "retry_in", wait, "error", res.err)
	}
	if res.err == nil {
		return fmt.Errorf("upload telemetry batch: status %d", res.status)
	}
	return fmt.Errorf("upload telemetry batch: %w", res.err)
}

// recordSent counts the events of an acknowledged request as sent, or as
// dropped where the collector listed drops, and notes that the collector
// is reachable.
func (s *sender) recordSent(events [][]byte, res uploadResult) {
	n := int64(len(events))
	dropped := s.countCollectorDrops(res.collectorDrops)
	s.c.stats.sent.Add(n - dropped)
	if dropped > 0 && !s.collectorDropLogged {
		s.collectorDropLogged = true
		s.c.log.Warn("telemetry: the collector dropped events it received; later drops are only counted in Stats",
			"events", dropped, "reasons", dropReasons(res.collectorDrops))
	}
	s.attempt, s.retryAt = 0, time.Time{}
	s.tooLargeLogged = false
	if s.failing {
		s.failing = false
		s.c.log.Info("telemetry: collector reachable again", "events", n)
	}
	if s.sentLog != nil {
		if err := s.sentLog.write(events); err != nil {
			s.c.log.Warn("telemetry: sent log write failed", "error", errorText(err))
		}
	}
}

// dropTooLarge counts one event that the collector rejected as too large,
// and logs the first such drop until an upload succeeds.
func (s *sender) dropTooLarge(res uploadResult) {
	s.c.stats.drop(DropTooLarge, 1)
	if !s.tooLargeLogged {
		s.tooLargeLogged = true
		s.c.log.Warn("telemetry: event dropped, the collector rejected it as too large; later ones are only counted until an upload succeeds",
			"status", res.status)
	}
}

// requestPart returns the events of b that one request carries: b itself,
// or, for a batch of one spool file with more than BatchSize events or
// maxBatchBytes bytes, a batch of its first events within those limits and
// maxPartEvents. Files that Close fills with many batches are that large.
func (s *sender) requestPart(b *batch) *batch {
	if b.spoolPath == "" || len(b.spoolMore) > 0 {
		return b
	}
	limit := s.cfg.BatchSize
	if s.maxPartEvents > 0 {
		limit = min(limit, s.maxPartEvents)
	}
	n, size := 0, 0
	for n < len(b.events) && n < limit && (n == 0 || size+len(b.events[n]) <= maxBatchBytes) {
		size += len(b.events[n])
		n++
	}
	if n == len(b.events) {
		return b
	}
	return &batch{events: b.events[:n:n], bytes: size}
}

// applyPart applies the outcome of a request that carried part, the first
// events of the spooled batch b, unless it is to be retried. The events
// that were acknowledged or dropped leave b, and deliver uploads the rest
// next. The claimed file keeps every event until the rest is written back
// or the last part is acknowledged.
func (s *sender) applyPart(b, part *batch, res uploadResult) {
	n := len(part.events)
	switch res.outcome {
	case outcomeSent:
		s.recordSent(part.events, res)
	case outcomeSplit:
		if n > 1 {
			s.maxPartEvents = n / 2
			s.spoolTail = b
			return
		}
		s.dropTooLarge(res)
	case outcomeReject:
		s.c.stats.drop(res.dropReason, int64(n))
		s.c.log.Error("telemetry: batch dropped", "events", n, "status", res.status, "reason", res.dropReason, "error", res.err)
	}

	b.events = b.events[n:]
	b.bytes -= part.bytes
	if len(b.events) == 0 {
		s.spool.remove(b)
		return
	}
	// NOTE: Stats.Spooled counts the acknowledged events of the file, as
	// its name does, until the file is removed or written back.
	b.spoolStale = true
	// A claim keeps its file from recoverStale while it is younger than
	// spoolStaleClaim.
	now := time.Now()
	os.Chtimes(b.spoolPath, now, now)
	s.spoolTail = b
}

// releaseSpooled returns the claimed files of b to the spool. A file that
// no longer contains exactly the events of b is written back from them first.
// When that write fails, the file is deleted and the events wait in
// memory, as those of a batch that Close could not spool.
func (s *sender) releaseSpooled(b *batch) {
	if b.spoolStale {
		if err := s.spool.rewrite(b); err != nil {
			s.c.log.Warn("telemetry: spool batch kept in memory", "error", errorText(err))
			s.spool.remove(b)
			b.spoolPath = ""
			s.c.stats.queued.Add(int64(len(b.events)))
			s.pending = append([]*batch{b}, s.pending...)
			return
		}
	}
	s.spool.release(b)
}

// releaseSpoolTail returns spoolTail, if any, to the spool.
func (s *sender) releaseSpoolTail() {
	if s.spoolTail != nil {
		s.releaseSpooled(s.spoolTail)
		s.spoolTail = nil
	}
}

// dropSpoolTail deletes the file of spoolTail, which a purge leaves alone
// because it is claimed, and counts its events as dropped for reason.
func (s *sender) dropSpoolTail(reason string) {
	if s.spoolTail == nil {
		return
	}
	s.spool.remove(s.spoolTail)
	s.c.stats.drop(reason, int64(len(s.spoolTail.events)))
	s.spoolTail = nil
}

// dropSwitchedOff applies an upload that was cancelled because telemetry
// was switched off. A batch from memory is dropped as DropDisabled, as the
// rest of memory is once the sender finds telemetry off. A spooled batch is
// deleted and dropped too when the persisted choice turned telemetry off,
// or a new opt-out token shows that the user opted out and maybe in again.
// Otherwise an environment switch turned telemetry off, which leaves the
// spool for a later run, so the batch goes back to the spool.
func (s *sender) dropSwitchedOff(b *batch) {
	n := int64(len(b.events))
	if b.spoolPath == "" {
		s.finish(b)
		s.recycle(b)
		s.c.stats.drop(DropDisabled, n)
		return
	}
	st := s.c.refresh()
	if st.persistedOff || st.optOutToken != s.optOutToken {
		s.spool.remove(b)
		s.c.stats.drop(DropDisabled, n)
		return
	}
	s.releaseSpooled(b)
}

// finish releases a batch that was sent or dropped: its spool file is
// deleted, or its events leave the in-memory count.
func (s *sender) finish(b *batch) {
	if b.spoolPath != "" {
		s.spool.remove(b)
		return
	}
	s.c.stats.queued.Add(-int64(len(b.events)))
}

// spoolPending moves the batches waiting in memory to the spool, or, with
// the spool off or failing, or ctx ended, keeps them in memory within
// QueueSize events.
func (s *sender) spoolPending(ctx context.Context) {
	if s.spool != nil {
		s.spoolBatches(ctx)
	}
	s.boundRetryBuffer()
}

// spoolBatches moves the batches waiting in memory to the spool, oldest
// first, until a write fails or ctx has ended, and reports whether all of
// them moved. Once shutdown has started, it goes on past ctx's end until
// lateSpoolFiles are used up, so that the batches that deliver leaves in
// memory after Close's context ended share those files. Each file takes as
// many whole batches as fit in maxFileBytes and maxFileEvents, because
// every file costs a sync of the file and one of its folder. It bounds the
// spool once at the end, because each bounding lists the whole folder.
func (s *sender) spoolBatches(ctx context.Context) bool {
	if len(s.pending) == 0 {
		return true
	}
	defer s.spool.listBounded()
	for len(s.pending) > 0 {
		if ctx.Err() != nil {
			if !s.closing || s.lateSpoolFiles <= 0 {
				return false
			}
			s.lateSpoolFiles--
		}
		n, events := s.nextSpoolFile()
		if err := s.spool.store(events); err != nil {
			if !s.spoolErr {
				s.spoolErr = true
				s.c.log.Warn("telemetry: spool write failed, keeping events in memory", "error", err)
			}
			return false
		}
		s.spoolErr = false
		for _, b := range s.pending[:n] {
			s.c.stats.queued.Add(-int64(len(b.events)))
			s.recycle(b)
		}
		s.pending = s.pending[n:]
	}
	return true
}

// nextSpoolFile returns how many of the oldest pending batches go into the
// next spool file, at least one, and their events.
func (s *sender) nextSpoolFile() (int, [][]byte) {
	first := s.pending[0]
	size := int64(first.bytes + len(first.events)) // a newline ends each line
	count := len(first.events)
	n := 1
	for n < len(s.pending) {
		b := s.pending[n]
		next := size + int64(b.bytes+len(b.events))
		if next > s.spool.maxFileBytes || count+len(b.events) > s.spool.maxFileEvents {
			break
		}
		size = next
		count += len(b.events)
		n++
	}
	if n == 1 {
		return 1, first.events
	}
	var events [][]byte
	for _, b := range s.pending[:n] {
		events = append(events, b.events...)
	}
	return n, events
}

// boundRetryBuffer keeps the events waiting in memory within QueueSize by
// dropping the oldest batches.
func (s *sender) boundRetryBuffer() {
	var total int
	for _, b := range s.pending {
		total += len(b.events)
	}
	for total > s.cfg.QueueSize && len(s.pending) > 0 {
		n := len(s.pending[0].events)
		s.pending = s.pending[1:]
		total -= n
		s.c.stats.queued.Add(-int64(n))
		s.c.stats.drop(DropRetryBufferFull, int64(n))
	}
}

// shutdown uploads the batches in memory while ctx allows. After a failed
// upload, or once ctx has ended, it spools them, and it retries those the
// spool cannot take while ctx allows. Once ctx has ended it writes at most
// lateSpoolFiles more spool files, and what is left then is dropped as
// DropShutdown. Spooled batches, those of earlier runs included, stay for
// the next start.
//
// NOTE: Close can still end past its deadline by those late files, at
// most ten by default and two syncs each, and by encoding the events still
// in the capture queue, which does not check ctx. One run on a 2-core
// cloud VM had a 200 ms deadline and 10,000 one-event batches (BatchSize
// 1) behind a hanging collector. Shutdown took about 48 ms past the
// deadline, 33 ms to encode the queue and 15 ms to write 9 files of about
// 512 KiB.
func (s *sender) shutdown(ctx context.Context) {
	s.closing = true
	// The loop below uploads or spools the batches that the queue fills.
	// Delivering each one as it is sealed would bound the spool, and so
	// list its folder, once per batch.
	s.receiveHeld(len(s.c.queue))
	s.round++ // next takes the batches sealed during the last round and the drain too
	s.seal()
	for len(s.pending) > 0 && ctx.Err() == nil {
		if !s.applySwitches().Enabled {
			break
		}
		if s.c.debugMode() == DebugPrint {
			break
		}
		if wait := time.Until(s.retryAt); wait > 0 {
			// The spool keeps what it takes until the next start. What a
			// failing spool write leaves in memory is retried while ctx
			// allows, as with the spool off.
			if s.spool != nil && s.spoolBatches(ctx) {
				break
			}
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
		s.upload(s.next(false))
	}
	s.spoolPending(ctx)
	s.noteChoice(s.c.refresh())

	var left int64
	for _, b := range s.pending {
		left += int64(len(b.events))
	}
	s.pending = nil
	s.c.stats.queued.Add(-left)
	s.c.stats.drop(DropShutdown, left)
	s.answerWaiters(ErrClosed)
}

// countCollectorDrops counts in Stats the events that the collector
// listed as dropped, and returns their number. Reasons past the first
// maxCollectorDropReasons that the client counted go under "other", so a
// collector that names new reasons in every response cannot grow Stats
// without bound.
func (s *sender) countCollectorDrops(drops map[string]int64) int64 {
	var dropped int64
	for _, reason := range slices.Sorted(maps.Keys(drops)) {
		n := drops[reason]
		if !s.collectorReasons[reason] {
			if len(s.collectorReasons) >= maxCollectorDropReasons {
				reason = "other"
			} else {
				if s.collectorReasons == nil {
					s.collectorReasons = map[string]bool{}
				}
				s.collectorReasons[reason] = true
			}
		}
		s.c.stats.drop(DropCollectorPrefix+reason, n)
		dropped += n
	}
	return dropped
}

// dropReasons returns the reasons of drops, sorted and joined by commas.
func dropReasons(drops map[string]int64) string {
	return strings.Join(slices.Sorted(maps.Keys(drops)), ",")
}
