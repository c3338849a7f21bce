// Package journal puts a write-ahead log in front of a store.Store.
//
// Insert appends the events of a call to a journal file in its own
// folder and syncs the file, so the caller may acknowledge them as soon as
// it returns. One goroutine then loads the events into the store in
// batches of up to Options.MaxLoad events. A database such as DuckDB spends
// a fixed time on every commit, so one commit per load instead of one per
// Insert call lets many small requests share that cost.
//
// Reads and deletes first wait until every event journaled before them is
// loaded, so they see what Insert accepted. After a crash, Open loads the
// events left in the journal before it returns. Events the store held
// already are skipped there as everywhere, so loading one twice is
// harmless. A deletion first writes a checkpoint, the sequence number of
// the last record loaded, and Open loads only the records after it, so
// that deleted events do not come back from the journal. After the
// deletion it starts a new journal file, removes the loaded ones and
// removes the deleted events from the files of events the store rejected,
// so that the deleted events do not stay on disk in the journal folder.
//
// A write that fails, such as on a full disk, is cut off the journal file
// before Insert returns the error, so a later Insert appends once the
// disk has room. If the cut fails too, the Store is broken: Insert and
// Ping fail until one of them has opened the file again and cut it.
package journal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/candor-dev/candor/internal/fsutil"
	"github.com/candor-dev/candor/internal/logutil"
	"github.com/candor-dev/candor/internal/store"
)

// Defaults of Options.
const (
	// DefaultMaxPending is the default bound on events journaled but not
	// yet loaded, which the Store keeps in memory until they are loaded.
	DefaultMaxPending = 10_000
	// DefaultMaxLoad is the default size limit of one load.
	DefaultMaxLoad = 5_000
	// DefaultSegmentBytes is the default size at which Insert starts a new
	// journal file. Under steady traffic the active file is never fully
	// loaded, so it is removed only after this size, and a crash leaves
	// up to this much of loaded events for Open to load again.
	DefaultSegmentBytes = 4 << 20
	// DefaultLoadDelay is how long the loader waits by default for more
	// events before a load smaller than MaxLoad.
	DefaultLoadDelay = 100 * time.Millisecond
	// DefaultCloseTimeout is how long Close keeps loading by default.
	DefaultCloseTimeout = 30 * time.Second
)

// maxSegmentFactor bounds the active journal file at this many times
// Options.SegmentBytes when no new file can be created.
const maxSegmentFactor = 4

// idleRotateBytes is the size from which a journal file whose records
// are all loaded is replaced by a new one and removed, so that Open does
// not load many events again after a crash.
const idleRotateBytes = 1 << 20

// loadTimeout bounds one Insert call into the store.
const loadTimeout = time.Minute

// readFailAfter is the number of failed loads in a row after which a read
// or deletion that waits for a load fails. A store may fail one commit now
// and then, and the first two retries come within 0.3 s.
const readFailAfter = 3

// The waits between failed loads grow from minRetry to maxRetry.
const (
	minRetry = 100 * time.Millisecond
	maxRetry = 5 * time.Second
)

// Options are the settings of Open. The zero value gives the defaults.
type Options struct {
	// MaxPending bounds the events written to the journal but not loaded
	// yet. Insert waits while its events would pass it, unless none are
	// pending. Zero means DefaultMaxPending.
	MaxPending int
	// MaxLoad is the most events one load hands to the store, unless one
	// Insert call had more. Zero means DefaultMaxLoad.
	MaxLoad int
	// LoadDelay is how long the oldest pending event waits for more before
	// a load of fewer than MaxLoad events, unless a read, a deletion, an
	// Insert or Close waits for the load. Each load costs the store a
	// commit, so waiting makes loads larger and cheaper per event. Zero
	// means DefaultLoadDelay.
	LoadDelay time.Duration
	// SegmentBytes is the size at which Insert starts a new journal file.
	// Zero means DefaultSegmentBytes.
	SegmentBytes int64
	// CloseTimeout bounds how long Close keeps loading what is pending:
	// it stops retrying failed loads then and cancels a load that still
	// runs. The events not loaded stay in the journal, and the next Open
	// loads them. Zero means DefaultCloseTimeout.
	CloseTimeout time.Duration
	// Logger receives failed loads, at most one line per 10 seconds, and
	// what Open recovers. Nil discards.
	Logger *slog.Logger

	// openFile opens the journal files, os.OpenFile when nil. Tests set
	// it to make writes fail as on a full disk.
	openFile openFunc
}

// Store is a store.Store that journals each Insert call and loads the
// events into the store it wraps in the background. Its methods are safe
// for concurrent use.
type Store struct {
	inner     store.Store
	analytics store.Analytics
	secrets   store.InstallSecrets // nil when inner has no install secrets
	dir       string
	opts      Options
	logger    *slog.Logger

	// writeMu serializes writes to the journal files. It guards active,
	// segments, buf and broken, and is taken before mu.
	writeMu  sync.Mutex
	active   segmentFile
	segments []segment // oldest first; the last is active
	buf      []byte
	// broken is set when a failed write left the active file with bytes
	// that may not form a record, and cutting them off failed too. Until
	// repair clears it, Insert and Ping fail with it. It is set and
	// cleared with mu held too, so that Ping can read it under mu alone.
	broken error

	// mu guards the fields below. changed is closed and replaced when
	// pending shrinks or grows, loaded grows, or Close starts.
	mu            sync.Mutex
	changed       chan struct{}
	pending       []record // written and not loaded, oldest first
	pendingEvents int
	written       uint64 // sequence number of the last record written
	loaded        uint64 // every record up to this one is loaded
	closing       bool
	closed        bool
	closeBy       time.Time
	// waiters counts the reads, deletions and Insert calls that wait for
	// a load, which then starts without LoadDelay.
	waiters int
	report  func(project string, events, stored int)
	// loadFailures counts the failed loads and failedInRow those since
	// the last load that succeeded. loadErr is the error of the last one.
	loadFailures uint64
	failedInRow  int
	loadErr      error
	// partial is set while the oldest pending batch is partly loaded: a
	// failed load inserted the events of some of its projects.
	partial bool

	// loadSlot is held by the loader while it loads and by a deletion
	// while it runs, so that no record is loaded between the checkpoint
	// and the deletion. Close takes it before it removes the files and
	// closes the store, so that no deletion runs meanwhile. checkpoint is
	// guarded by loadSlot.
	loadSlot   chan struct{}
	checkpoint uint64
	// afterDeleteBarrier, when set by a test, runs in each deletion after
	// its wait for the loads.
	afterDeleteBarrier func()
	// reported counts, by project and UUID, the copies of each event of
	// the oldest pending batch that were reported since insertOneByOne
	// first ran on it, so that a later load of the batch does not report
	// them again, as duplicates. inLoad counts the copies of each event in
	// the events of the load under way. A client that resent a request
	// puts two copies of its events in the batch, and the second is a true
	// duplicate, so an event is reported again up to its copies in the
	// load. Both are nil until insertOneByOne runs, and guarded by
	// loadSlot.
	reported map[eventKey]int
	inLoad   map[eventKey]int

	wake chan struct{} // closed by Close to cut a retry wait short
	// loadCtx is the parent of every load's context. Close cancels it
	// with stopLoads when Options.CloseTimeout has passed, so that a load
	// that hangs does not hold Close for the whole loadTimeout.
	loadCtx   context.Context
	stopLoads context.CancelFunc
	done      chan struct{} // closed when the loader returns
	// closeDone is closed when the first Close returns, which a second
	// Close waits for.
	closeDone chan struct{}
	errLog    logutil.Limiter
}

// record is the events of one Insert call.
type record struct {
	seq     uint64
	events  []store.Event
	written time.Time
}

var (
	_ store.Store          = (*Store)(nil)
	_ store.Analytics      = (*Store)(nil)
	_ store.InstallSecrets = (*Store)(nil)
)

// Open opens the journal in dir, creating the folder if needed, and
// returns a Store that journals in front of inner. inner must implement
// store.Analytics. Events left in the journal by a process that stopped
// without Close are loaded into inner before Open returns. If that fails,
// Open fails and leaves them in the journal. Close closes inner too.
func Open(dir string, inner store.Store, opts Options) (*Store, error) {
	analytics, ok := inner.(store.Analytics)
	if !ok {
		return nil, fmt.Errorf("journal: the store %T has no analytics queries", inner)
	}
	opts = opts.withDefaults()
	if err := makeDir(dir); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}

	s := &Store{
		inner:     inner,
		analytics: analytics,
		dir:       dir,
		opts:      opts,
		logger:    opts.Logger,
		changed:   make(chan struct{}),
		loadSlot:  make(chan struct{}, 1),
		wake:      make(chan struct{}),
		done:      make(chan struct{}),
		closeDone: make(chan struct{}),
	}
	s.loadCtx, s.stopLoads = context.WithCancel(context.Background())
	s.secrets, _ = inner.(store.InstallSecrets)
	if err := s.recover(); err != nil {
		s.stopLoads()
		return nil, err
	}
	f, seg, err := createSegment(opts.openFile, dir, 1)
	if err != nil {
		s.stopLoads()
		return nil, fmt.Errorf("journal: create file: %w", err)
	}
	s.active, s.segments = f, []segment{seg}
	go s.run()
	return s, nil
}

// Recover loads the events left in the journal in dir, if there is one,
// into inner and removes the journal files, without journaling anything
// after. It serves a process that stops using the journal.
func Recover(dir string, inner store.Store, opts Options) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	s := &Store{inner: inner, dir: dir, opts: opts.withDefaults(), loadCtx: context.Background()}
	s.logger = s.opts.Logger
	return s.recover()
}

func (opts Options) withDefaults() Options {
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.MaxLoad <= 0 {
		opts.MaxLoad = DefaultMaxLoad
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if opts.LoadDelay <= 0 {
		opts.LoadDelay = DefaultLoadDelay
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = DefaultCloseTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.openFile == nil {
		opts.openFile = openOSFile
	}
	return opts
}

// recover loads the events of every journal file in dir into the store,
// except for the records up to the checkpoint, and removes the files and
// the checkpoint.
func (s *Store) recover() error {
	paths, err := listSegments(s.dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	checkpoint, err := readCheckpoint(s.dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	total := 0
	for i, path := range paths {
		events, err := s.eventsAfter(path, checkpoint, i == len(paths)-1)
		if err != nil {
			return err
		}
		for chunk := range slices.Chunk(events, s.opts.MaxLoad) {
			if err := s.recoverChunk(path, chunk); err != nil {
				return fmt.Errorf("journal: load %d events of %s into the store: %w", len(events), path, err)
			}
		}
		total += len(events)
	}

	for _, path := range paths {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
	}
	// The next journal numbers its records from 1 again, so the
	// checkpoint must be gone before it starts.
	if err := removeCheckpoint(s.dir); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := fsutil.SyncDir(s.dir); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if len(paths) > 0 {
		s.logger.Info("journal loaded", "files", len(paths), "events", total, "checkpoint", checkpoint)
	}
	return nil
}

// recoverChunk loads events from the journal file at path into the store.
// When the load fails, it inserts them one by one, and sets aside the
// events the store rejects while it takes others. It sets none aside while
// the store fails with store.ErrUnavailable.
func (s *Store) recoverChunk(path string, events []store.Event) error {
	_, err := s.loadGroups(groupByProject(events))
	if err == nil {
		return nil
	}
	loaded, rejected, unavailable := s.insertOneByOne(events)
	s.reported, s.inLoad = nil, nil // Open loads each chunk once
	if unavailable != nil {
		return unavailable
	}
	if loaded == 0 && len(rejected) > 0 {
		return err
	}
	if len(rejected) == 0 {
		return nil
	}
	first, seqErr := firstSequence(path)
	if seqErr != nil {
		return seqErr
	}
	if keepErr := s.keepRejected(first, rejected); keepErr != nil {
		return errors.Join(err, keepErr)
	}
	return nil
}

// eventsAfter returns the events of the records after checkpoint in the
// journal file at path. If the file is the newest one and ends in a
// damaged record, it returns the events before that record: Insert had
// not returned for it.
func (s *Store) eventsAfter(path string, checkpoint uint64, newest bool) ([]store.Event, error) {
	first, err := firstSequence(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	records, damagedAt, err := readSegment(path)
	if errors.Is(err, errDamaged) && newest {
		s.logger.Warn("journal file ends in a record that was never acknowledged; reading up to it",
			"file", path, "offset", damagedAt)
		err = nil
	}
	if errors.Is(err, errDamaged) {
		return nil, fmt.Errorf("journal: %s is damaged at byte %d, before newer files: move it out of %s to start without its events", path, damagedAt, s.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}

	var events []store.Event
	for i, record := range records {
		if first+uint64(i) > checkpoint {
			events = append(events, record...)
		}
	}
	return events, nil
}

// ReportLoads makes the Store call report after each load into the store,
// with the number of events of one project it loaded and how many of them
// the store newly stored. report must not block.
func (s *Store) ReportLoads(report func(project string, events, stored int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.report = report
}

// Pending returns the number of events journaled but not loaded yet.
func (s *Store) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pendingEvents
}

// Insert writes events to the journal and syncs it. When it returns nil,
// the events are durable, and it returns store.StoredUnknown: which of
// them the store held already is known only when they are loaded. Insert
// keeps events until then, so the caller must not change them.
//
// Insert waits while the events would take the pending events past
// Options.MaxPending, until ctx ends.
func (s *Store) Insert(ctx context.Context, events []store.Event) (int, error) {
	if len(events) == 0 {
		if s.isClosing() {
			return 0, store.ErrClosed
		}
		return 0, nil
	}
	if err := s.waitForRoom(ctx, len(events)); err != nil {
		return 0, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.isClosing() {
		return 0, store.ErrClosed
	}
	if s.broken != nil {
		if err := s.repair(); err != nil {
			return 0, err
		}
	}
	active := s.segments[len(s.segments)-1]
	if active.size > int64(len(segmentMagic)) && active.size >= maxSegmentFactor*s.opts.SegmentBytes {
		// Every try to start a new file failed since the file reached
		// SegmentBytes. One more, then the journal takes no more events,
		// so that it does not fill the disk.
		if err := s.rotate(); err != nil {
			return 0, fmt.Errorf("journal: %s has reached %d bytes, and no new journal file can be created (%w): free space in %s or let candor serve write there", active.path, active.size, err, s.dir)
		}
	}

	buf, err := appendRecord(s.buf[:0], events)
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	s.buf = buf
	if err := s.append(buf); err != nil {
		return 0, err
	}

	seg := &s.segments[len(s.segments)-1]
	s.mu.Lock()
	s.written++
	seq := s.written
	s.pending = append(s.pending, record{seq: seq, events: events, written: time.Now()})
	s.pendingEvents += len(events)
	s.broadcast()
	s.mu.Unlock()
	seg.last = seq
	seg.size += int64(len(buf))

	if seg.size >= s.opts.SegmentBytes {
		if err := s.rotate(); err != nil {
			s.errLog.Error(s.logger, "journal: could not start a new file; writing on in the old one", "err", err)
		}
	}
	if cap(s.buf) > 4<<20 {
		s.buf = nil // one large call does not keep its buffer
	}
	return store.StoredUnknown, nil
}

// waitForRoom waits until n more events fit in Options.MaxPending.
// Concurrent calls may pass it together, so the bound is exceeded by at
// most their events.
func (s *Store) waitForRoom(ctx context.Context, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closing {
			return store.ErrClosed
		}
		if s.pendingEvents == 0 || s.pendingEvents+n <= s.opts.MaxPending {
			return nil
		}
		if err := s.waitForChange(ctx); err != nil {
			return fmt.Errorf("journal: wait for room for %d events while %d are being loaded: %w", n, s.pendingEvents, err)
		}
	}
}

// append writes one record to the active file and syncs it. After a
// failure, such as on a full disk, it cuts the file back to its previous
// size and syncs the cut. The file then ends in its last acknowledged
// record, also after a crash, and the next Insert can append to it. If
// the cut fails too, append marks the Store broken. The caller holds
// writeMu.
func (s *Store) append(b []byte) error {
	seg := s.segments[len(s.segments)-1]
	err := writeFull(s.active, b)
	if err == nil {
		err = s.active.Sync()
	}
	if err == nil {
		return nil
	}
	err = fmt.Errorf("journal: write %s: %w", seg.path, err)
	cutErr := s.active.Truncate(seg.size)
	if cutErr == nil {
		cutErr = s.active.Sync()
	}
	if cutErr != nil {
		return s.setBroken(err, cutErr)
	}
	return err
}

// setBroken marks the Store broken after writeErr left the active file
// with a partial record and cutErr kept it from being cut off. It returns
// the error that Insert and Ping return until repair succeeds.
func (s *Store) setBroken(writeErr, cutErr error) error {
	seg := s.segments[len(s.segments)-1]
	broken := fmt.Errorf("%w; then cutting %s back to %d bytes failed (%v), so the journal takes no events "+
		"until the cut succeeds: free space in %s", writeErr, seg.path, seg.size, cutErr, s.dir)
	s.mu.Lock()
	s.broken = broken
	s.mu.Unlock()
	return broken
}

// repair makes a broken Store take events again. It opens the active
// file again, cuts it back to its last acknowledged record and syncs the
// cut, and appends through the new descriptor from then on, so no record
// follows the bytes of the failed write. While that fails, such as on a
// file system that needs free space to truncate, the Store stays broken
// and repair returns the error of the write. The caller holds writeMu.
func (s *Store) repair() error {
	seg := s.segments[len(s.segments)-1]
	s.mu.Lock()
	writeErr := s.broken
	s.mu.Unlock()
	f, err := reopenSegment(s.opts.openFile, seg.path, seg.size)
	if err != nil {
		s.errLog.Error(s.logger, "journal: still broken: cutting the file back failed", "file", seg.path, "size", seg.size, "err", err)
		return writeErr
	}
	// Every acknowledged record was synced through the old descriptor,
	// and its last write or sync failed, so an error of Close is ignored.
	s.active.Close()
	s.active = f
	s.mu.Lock()
	s.broken = nil
	s.mu.Unlock()
	s.logger.Info("journal: taking events again after a failed write", "file", seg.path, "size", seg.size)
	return nil
}

// tryRepair runs repair for Ping unless an Insert holds writeMu: that
// Insert runs repair itself. It returns the error of the broken Store, or
// nil once it is repaired.
func (s *Store) tryRepair() error {
	if !s.writeMu.TryLock() {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.broken
	}
	defer s.writeMu.Unlock()
	s.mu.Lock()
	broken, closing := s.broken, s.closing
	s.mu.Unlock()
	if broken == nil || closing {
		return broken
	}
	return s.repair()
}

// rotate closes the active file and starts a new one. The caller holds
// writeMu.
func (s *Store) rotate() error {
	last := s.segments[len(s.segments)-1].last
	f, seg, err := createSegment(s.opts.openFile, s.dir, last+1)
	if err != nil {
		return err
	}
	closeErr := s.active.Close()
	s.active = f
	s.segments = append(s.segments, seg)
	return closeErr
}

// waitForChange counts the caller as waiting for a load, so the loader
// starts one at once, and waits until the next change or until ctx ends.
// The caller holds mu, which waitForChange releases while it waits.
func (s *Store) waitForChange(ctx context.Context) error {
	s.waiters++
	if s.waiters == 1 {
		s.broadcast()
	}
	changed := s.changed
	s.mu.Unlock()
	var err error
	select {
	case <-changed:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	s.waiters--
	return err
}

// broadcast wakes every goroutine that waits for a change. The caller
// holds mu.
func (s *Store) broadcast() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Store) isPartial() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.partial
}

func (s *Store) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// run is the loader: it hands the pending records to the store, oldest
// first, until Close is called and nothing is pending, or Close's time is
// up.
func (s *Store) run() {
	defer close(s.done)
	retry := minRetry
	var batch []record
	var groups [][]store.Event // the events of batch not loaded yet, by project
	for {
		if batch == nil {
			var ok bool
			if batch, ok = s.nextBatch(); !ok {
				return
			}
			groups = groupByProject(batchEvents(batch))
		}
		var err error
		if groups, err = s.load(batch, groups); err != nil {
			s.mu.Lock()
			s.loadFailures++
			s.failedInRow++
			s.loadErr = err
			failedInRow := s.failedInRow
			s.broadcast()
			s.mu.Unlock()
			s.errLog.Error(s.logger, "journal: load failed; retrying", "events", len(slices.Concat(groups...)), "pending", s.Pending(), "err", err)
			if failedInRow >= readFailAfter {
				if s.setAside(batch, groups) {
					batch = nil
					retry = minRetry
					s.retire()
					continue
				}
				// The next try takes the batch again with the records
				// journaled since: a batch of events the store rejects,
				// alone, would never be set aside. A partly loaded batch
				// keeps its groups, so that no project is loaded twice.
				if !s.isPartial() {
					batch = nil
				}
			}
			if !s.waitToRetry(retry) {
				return
			}
			retry = min(2*retry, maxRetry)
			continue
		}
		batch = nil
		retry = minRetry
		s.retire()
	}
}

// batchEvents returns the events of the records of batch in one slice.
func batchEvents(batch []record) []store.Event {
	if len(batch) == 1 {
		return batch[0].events
	}
	var events []store.Event
	for _, r := range batch {
		events = append(events, r.events...)
	}
	return events
}

// load inserts groups, the events of the records of batch by project,
// into the store and marks the records loaded. When an insert fails, it
// returns the groups not loaded, so that a retry does not load and report
// the others again. It holds loadSlot meanwhile.
func (s *Store) load(batch []record, groups [][]store.Event) ([][]store.Event, error) {
	s.loadSlot <- struct{}{}
	defer func() { <-s.loadSlot }()
	if s.reported != nil {
		s.inLoad = countCopies(slices.Concat(groups...))
	}
	loaded, err := s.loadGroups(groups)
	if err != nil {
		if loaded > 0 {
			s.mu.Lock()
			s.partial = true
			s.mu.Unlock()
		}
		return groups[loaded:], err
	}

	s.markLoaded(batch)
	return nil, nil
}

// markLoaded removes batch, the oldest pending records, from pending and
// marks them loaded. The caller holds loadSlot.
func (s *Store) markLoaded(batch []record) {
	events := 0
	for _, r := range batch {
		events += len(r.events)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.pending[:len(batch)])
	s.pending = s.pending[len(batch):]
	s.pendingEvents -= events
	s.loaded = batch[len(batch)-1].seq
	s.failedInRow = 0
	s.partial = false
	s.reported, s.inLoad = nil, nil
	s.broadcast()
}

// setAside inserts the events of groups, what is left of batch after
// failed loads, one at a time, and tries each one that fails once more.
// When some of them are stored, the store works, and the ones that failed
// twice are events it rejects whatever the retries. setAside writes those
// to a file in the rejected folder, logs them and marks batch loaded, so
// they no longer hold up every later event. It reports whether batch is
// loaded. When no event is stored, it changes nothing, and the loader
// retries as before.
//
// An event whose insert failed with store.ErrUnavailable, such as on a
// full disk, is never set aside: the batch stays pending, and the loader
// retries it.
func (s *Store) setAside(batch []record, groups [][]store.Event) bool {
	s.loadSlot <- struct{}{}
	defer func() { <-s.loadSlot }()
	loaded, rejected, unavailable := s.insertOneByOne(slices.Concat(groups...))
	if loaded == 0 {
		return false
	}
	if s.loadCtx.Err() != nil || unavailable != nil {
		// Close stopped the loads, or the store failed on its own: the
		// events that failed may be good ones, so they stay in the
		// journal for the next try or the next start.
		if unavailable != nil {
			s.errLog.Error(s.logger, "journal: the store is unavailable; the events it did not take stay in the journal", "err", unavailable)
		}
		s.mu.Lock()
		s.partial = true
		s.mu.Unlock()
		return false
	}
	if len(rejected) > 0 {
		if err := s.keepRejected(batch[0].seq, rejected); err != nil {
			// The batch stays pending, and the next pass tries its events
			// again. Those stored now are skipped then.
			s.errLog.Error(s.logger, "journal: could not write the events the store rejects", "events", len(rejected), "err", err)
			s.mu.Lock()
			s.partial = true
			s.mu.Unlock()
			return false
		}
	}
	s.markLoaded(batch)
	return true
}

// insertOneByOne inserts each event on its own, and tries each one that
// fails once more, so that a store that failed for a moment does not get
// events set aside. It returns how many events it inserted, the events
// that failed twice, and the first error that matched
// store.ErrUnavailable or a context error, if any. It stops at that
// error: each insert into a store on a full disk may take some of the
// room that is left, as DuckDB's WAL does, and the loader retries the
// events later anyway.
func (s *Store) insertOneByOne(events []store.Event) (loaded int, rejected []rejectedEvent, unavailable error) {
	if s.reported == nil {
		s.reported = map[eventKey]int{}
	}
	s.inLoad = countCopies(events)
	loaded, failed, unavailable := s.insertEach(events)
	if unavailable != nil || len(failed) == 0 {
		return loaded, nil, unavailable
	}
	again := make([]store.Event, len(failed))
	for i, f := range failed {
		again[i] = f.event
	}
	more, rejected, unavailable := s.insertEach(again)
	if unavailable != nil {
		return loaded + more, nil, unavailable
	}
	return loaded + more, rejected, nil
}

// insertEach inserts each of events on its own. It returns how many it
// inserted and those that failed, with their errors, and stops at an
// error that matches isUnavailable.
func (s *Store) insertEach(events []store.Event) (loaded int, failed []rejectedEvent, unavailable error) {
	for _, e := range events {
		_, err := s.loadGroups([][]store.Event{{e}})
		switch {
		case err == nil:
			loaded++
		case isUnavailable(err):
			return loaded, failed, err
		default:
			failed = append(failed, rejectedEvent{e, err})
		}
	}
	return loaded, failed, nil
}

// isUnavailable reports whether err is a failure of the store itself or
// the end of a load's time, after which the events must stay pending.
func isUnavailable(err error) bool {
	return errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// keepRejected writes rejected to a file in the rejected folder, named
// after first, and logs the file.
func (s *Store) keepRejected(first uint64, rejected []rejectedEvent) error {
	path, err := writeRejected(filepath.Join(s.dir, rejectedDir), first, rejected)
	if err != nil {
		return err
	}
	s.logger.Error("journal: the store rejected events that other events of their load passed; they are kept in a file and not loaded",
		"events", len(rejected), "file", path, "err", rejected[0].err)
	return nil
}

// nextBatch waits until a load is due and returns the oldest pending
// records, up to Options.MaxLoad events and at least one record. A load is
// due when MaxLoad events are pending, when the oldest has waited
// LoadDelay, or at once when a caller waits for it or Close was called.
// nextBatch reports false when Close was called and nothing is pending.
func (s *Store) nextBatch() ([]record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		var timer *time.Timer
		var delay <-chan time.Time
		if len(s.pending) > 0 {
			if s.closing || s.waiters > 0 || s.pendingEvents >= s.opts.MaxLoad {
				break
			}
			wait := time.Until(s.pending[0].written.Add(s.opts.LoadDelay))
			if wait <= 0 {
				break
			}
			timer = time.NewTimer(wait)
			delay = timer.C
		} else if s.closing {
			return nil, false
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-delay:
		}
		if timer != nil {
			timer.Stop()
		}
		s.mu.Lock()
	}
	n, count := 0, 0
	for n < len(s.pending) && (n == 0 || count+len(s.pending[n].events) <= s.opts.MaxLoad) {
		count += len(s.pending[n].events)
		n++
	}
	return slices.Clone(s.pending[:n]), true
}

// waitToRetry waits d before the next try and reports whether to try
// again: after Close's deadline it reports false.
func (s *Store) waitToRetry(d time.Duration) bool {
	s.mu.Lock()
	closing, closeBy := s.closing, s.closeBy
	s.mu.Unlock()
	wake := s.wake
	if closing {
		if time.Now().After(closeBy) {
			return false
		}
		d = min(d, time.Until(closeBy))
		// Close leaves wake closed, so a wait on it would end at once and
		// the loader would retry without a pause.
		wake = nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-wake:
		// Close started; the next try is checked against its deadline.
	}
	return true
}

// loadGroups inserts each group of events into the store, one call per
// group, and reports each call. It returns how many groups it loaded.
func (s *Store) loadGroups(groups [][]store.Event) (int, error) {
	s.mu.Lock()
	report := s.report
	s.mu.Unlock()
	for i, group := range groups {
		ctx, cancel := context.WithTimeout(s.loadCtx, loadTimeout)
		stored, err := s.inner.Insert(ctx, group)
		cancel()
		if err != nil {
			return i, err
		}
		if report != nil {
			report(group[0].Project, s.unreported(group), stored)
		}
	}
	return len(groups), nil
}

// eventKey names an event by project and UUID.
type eventKey struct{ project, uuid string }

// unreported returns how many events of group the Store has not reported
// yet, and marks them reported, when insertOneByOne reported some events
// of the batch already. A copy counts as unreported while fewer copies of
// its event were reported than the load holds. The caller holds loadSlot.
func (s *Store) unreported(group []store.Event) int {
	if s.reported == nil {
		return len(group)
	}
	n := 0
	for _, e := range group {
		key := eventKey{e.Project, e.UUID}
		if s.reported[key] < s.inLoad[key] {
			s.reported[key]++
			n++
		}
	}
	return n
}

// countCopies counts the copies of each event in events.
func countCopies(events []store.Event) map[eventKey]int {
	copies := make(map[eventKey]int, len(events))
	for _, e := range events {
		copies[eventKey{e.Project, e.UUID}]++
	}
	return copies
}

// groupByProject groups events by project, in the order of each
// project's first event. Requests of one project are the rule, so it is
// usually one group.
func groupByProject(events []store.Event) [][]store.Event {
	if len(events) == 0 {
		return nil
	}
	if !slices.ContainsFunc(events, func(e store.Event) bool { return e.Project != events[0].Project }) {
		return [][]store.Event{events}
	}
	index := map[string]int{}
	var groups [][]store.Event
	for _, e := range events {
		i, ok := index[e.Project]
		if !ok {
			i = len(groups)
			index[e.Project] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], e)
	}
	return groups
}

// retire removes the journal files whose records are all loaded. The
// active file is replaced first when it is fully loaded and has grown past
// idleRotateBytes.
func (s *Store) retire() {
	s.retireFiles(false)
}

// retireFiles removes the journal files whose records are all loaded.
// With replaceActive, the active file is replaced first whenever it
// contains a record, and a later retire removes it once its records are
// loaded. Without it, the active file is replaced as described at retire.
func (s *Store) retireFiles(replaceActive bool) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	loaded, closing := s.loaded, s.closing
	s.mu.Unlock()
	if closing || s.broken != nil {
		return
	}
	active := s.segments[len(s.segments)-1]
	replace := active.last <= loaded && active.size >= idleRotateBytes
	if replaceActive {
		replace = active.size > int64(len(segmentMagic))
	}
	if replace {
		if err := s.rotate(); err != nil {
			s.errLog.Error(s.logger, "journal: could not start a new file", "err", err)
		}
	}
	removed := 0
	for len(s.segments) > 1 && s.segments[0].last <= loaded {
		if err := os.Remove(s.segments[0].path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.errLog.Error(s.logger, "journal: could not remove a loaded file", "err", err)
			break
		}
		s.segments = s.segments[1:]
		removed++
	}
	if removed > 0 {
		if err := fsutil.SyncDir(s.dir); err != nil {
			s.errLog.Error(s.logger, "journal: could not sync the folder", "err", err)
		}
	}
}

// Close loads what is pending into the store, for up to
// Options.CloseTimeout, then closes the journal and the store. Events it could not load stay in the journal for the next Open,
// and Close reports how many. Close is idempotent.
func (s *Store) Close() error {
	// Taking writeMu first lets an Insert that is writing finish, and
	// every later Insert then finds closing set.
	s.writeMu.Lock()
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.writeMu.Unlock()
		<-s.closeDone
		return nil
	}
	defer close(s.closeDone)
	s.closing = true
	s.closeBy = time.Now().Add(s.opts.CloseTimeout)
	s.broadcast()
	close(s.wake)
	s.mu.Unlock()
	s.writeMu.Unlock()
	stop := time.AfterFunc(s.opts.CloseTimeout, s.stopLoads)
	<-s.done
	stop.Stop()
	defer s.stopLoads()

	// A deletion that holds loadSlot runs on and may write the checkpoint,
	// so Close waits for it. A deletion that takes loadSlot after Close
	// finds closed set.
	s.loadSlot <- struct{}{}
	defer func() { <-s.loadSlot }()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	left := s.pendingEvents
	s.closed = true
	s.broadcast()
	s.mu.Unlock()

	err := s.active.Close()
	if left == 0 && s.broken == nil {
		var removeErr error
		for _, seg := range s.segments {
			removeErr = errors.Join(removeErr, os.Remove(seg.path))
		}
		// A file left behind still holds records up to the checkpoint,
		// which the next start must skip.
		if removeErr == nil {
			removeErr = removeCheckpoint(s.dir)
		}
		err = errors.Join(err, removeErr, fsutil.SyncDir(s.dir))
	} else if left > 0 {
		err = errors.Join(err, fmt.Errorf("journal: %d events were not loaded into the store; they stay in %s and the next start loads them", left, s.dir))
	}
	return errors.Join(err, s.inner.Close())
}

// barrier waits until every event journaled before the call is loaded.
// It returns the error of a load that fails meanwhile once readFailAfter
// loads in a row have failed. That way reads and deletions do not wait
// for as long as the store rejects loads, such as while its disk is full.
func (s *Store) barrier(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	target, failures := s.written, s.loadFailures
	for s.loaded < target {
		if s.closed {
			return store.ErrClosed
		}
		if s.loadFailures != failures && s.failedInRow >= readFailAfter {
			return fmt.Errorf("journal: load the %d events journaled before this call: %w", s.pendingEvents, s.loadErr)
		}
		if err := s.waitForChange(ctx); err != nil {
			return fmt.Errorf("journal: wait for %d events to be loaded: %w", s.pendingEvents, err)
		}
	}
	return nil
}

// Ping checks the store with its Ping method, if it has one, without
// waiting for loads. While readFailAfter or more loads in a row have
// failed, it returns the last load's error, so /readyz reports a store
// that takes no events. After a write left the journal broken, it first
// tries to repair it, so that the journal takes events again once the
// disk has room even when no Insert comes, and returns the write's error
// while that fails.
func (s *Store) Ping(ctx context.Context) error {
	s.mu.Lock()
	broken := s.broken
	s.mu.Unlock()
	if broken != nil {
		if err := s.tryRepair(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	failing, loadErr := s.failedInRow >= readFailAfter, s.loadErr
	s.mu.Unlock()
	if failing {
		return fmt.Errorf("journal: the last %d loads into the store failed: %w", readFailAfter, loadErr)
	}
	return store.Ping(ctx, s.inner)
}

// Overview waits for the loads, then runs the store's Overview.
func (s *Store) Overview(ctx context.Context, f store.Filter) (store.Overview, error) {
	if err := s.barrier(ctx); err != nil {
		return store.Overview{}, err
	}
	return s.inner.Overview(ctx, f)
}

// EventsPerDay waits for the loads, then runs the store's EventsPerDay.
func (s *Store) EventsPerDay(ctx context.Context, f store.Filter) ([]store.DayCount, error) {
	if err := s.barrier(ctx); err != nil {
		return nil, err
	}
	return s.inner.EventsPerDay(ctx, f)
}

// ActiveInstallsPerDay waits for the loads, then runs the store's
// ActiveInstallsPerDay.
func (s *Store) ActiveInstallsPerDay(ctx context.Context, f store.Filter) ([]store.DayValue, error) {
	if err := s.barrier(ctx); err != nil {
		return nil, err
	}
	return s.inner.ActiveInstallsPerDay(ctx, f)
}

// DeleteInstall waits for the loads, so that no event of the install
// journaled before the call is loaded after it, then deletes in the
// store and in the rejected-events files.
func (s *Store) DeleteInstall(ctx context.Context, project, distinctID string) (int64, error) {
	return s.deleteLoaded(ctx, func() (int64, error) {
		return s.inner.DeleteInstall(ctx, project, distinctID)
	}, func(key rejectedKey) bool {
		return key.Project == project && key.DistinctID == distinctID
	})
}

// DeleteBefore waits for the loads, then deletes in the store and in the
// rejected-events files.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	return s.deleteLoaded(ctx, func() (int64, error) {
		return s.inner.DeleteBefore(ctx, t)
	}, func(key rejectedKey) bool {
		// A line written without the event's fields has no timestamp.
		return !key.Timestamp.IsZero() && key.Timestamp.Before(t)
	})
}

// deleteLoaded waits until every event journaled before the call is
// loaded, then runs del while no load runs, and removes the set-aside
// events that rejected matches. Before del it writes the
// checkpoint, so that Open does not load the events del removes again
// after a crash. While a failed load has left a batch partly loaded, it
// waits for the retry: the events already in the store come after the
// checkpoint, and del could remove them.
func (s *Store) deleteLoaded(ctx context.Context, del func() (int64, error), rejected func(rejectedKey) bool) (int64, error) {
	if err := s.barrier(ctx); err != nil {
		return 0, err
	}
	if s.afterDeleteBarrier != nil {
		s.afterDeleteBarrier()
	}
	if err := s.takeSlotWhole(ctx); err != nil {
		return 0, err
	}
	defer func() { <-s.loadSlot }()

	s.mu.Lock()
	loaded, closed := s.loaded, s.closed
	s.mu.Unlock()
	if closed {
		return 0, store.ErrClosed
	}
	if loaded > s.checkpoint {
		if err := writeCheckpoint(s.dir, loaded); err != nil {
			return 0, fmt.Errorf("journal: write the checkpoint before a deletion: %w", err)
		}
		s.checkpoint = loaded
	}
	deleted, err := del()
	if err != nil {
		return deleted, err
	}
	// The journal files still contain the deleted events. Removing the
	// loaded files now keeps those events from staying on disk until the
	// active file grows past idleRotateBytes.
	s.retireFiles(true)
	// Writers of the rejected-events files hold loadSlot, as this call does.
	if err := removeRejected(s.dir, rejected); err != nil {
		return deleted, fmt.Errorf("journal: remove deleted events from the files in %s: %w", filepath.Join(s.dir, rejectedDir), err)
	}
	return deleted, nil
}

// takeSlotWhole takes loadSlot at a moment when no batch is partly
// loaded. It gives up with the load's error when readFailAfter loads in a
// row have failed.
func (s *Store) takeSlotWhole(ctx context.Context) error {
	for {
		select {
		case s.loadSlot <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("journal: wait for the load in progress: %w", ctx.Err())
		}
		s.mu.Lock()
		if !s.partial || s.closed {
			// deleteLoaded itself returns store.ErrClosed after Close.
			s.mu.Unlock()
			return nil
		}
		<-s.loadSlot
		if s.failedInRow >= readFailAfter {
			err := s.loadErr
			s.mu.Unlock()
			return fmt.Errorf("journal: retry a partly loaded batch: %w", err)
		}
		err := s.waitForChange(ctx)
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("journal: wait for the retry of a partly loaded batch: %w", err)
		}
	}
}

// Summary waits for the loads, then runs the store's query.
func (s *Store) Summary(ctx context.Context, f store.Filter) (store.Summary, error) {
	if err := s.barrier(ctx); err != nil {
		return store.Summary{}, err
	}
	return s.analytics.Summary(ctx, f)
}

// Trend waits for the loads, then runs the store's query.
func (s *Store) Trend(ctx context.Context, q store.TrendQuery) ([]store.TrendRow, error) {
	if err := s.barrier(ctx); err != nil {
		return nil, err
	}
	return s.analytics.Trend(ctx, q)
}

// ActiveInstalls waits for the loads, then runs the store's query.
func (s *Store) ActiveInstalls(ctx context.Context, q store.ActiveQuery) ([]store.ActiveRow, error) {
	if err := s.barrier(ctx); err != nil {
		return nil, err
	}
	return s.analytics.ActiveInstalls(ctx, q)
}

// Histogram waits for the loads, then runs the store's query.
func (s *Store) Histogram(ctx context.Context, q store.HistogramQuery) ([]store.HistogramRow, error) {
	if err := s.barrier(ctx); err != nil {
		return nil, err
	}
	return s.analytics.Histogram(ctx, q)
}

// Funnel waits for the loads, then runs the store's query.
func (s *Store) Funnel(ctx context.Context, q store.FunnelQuery) ([]store.FunnelRow, error) {
	if err := s.barrier(ctx); err != nil {
		return nil, err
	}
	return s.analytics.Funnel(ctx, q)
}

// Retention waits for the loads, then runs the store's query.
func (s *Store) Retention(ctx context.Context, q store.RetentionQuery) ([]store.RetentionRow, error) {
	if err := s.barrier(ctx); err != nil {
		return nil, err
	}
	return s.analytics.Retention(ctx, q)
}

// ExportEvents waits for the loads, then runs the store's export.
func (s *Store) ExportEvents(ctx context.Context, f store.Filter, format store.ExportFormat, w io.Writer) error {
	if err := s.barrier(ctx); err != nil {
		return err
	}
	return s.analytics.ExportEvents(ctx, f, format, w)
}

// errNoSecrets is returned by the install secret methods when the store
// keeps none.
var errNoSecrets = errors.New("journal: the store keeps no install secrets")

// RegisterInstallSecret passes the call to the store.
func (s *Store) RegisterInstallSecret(ctx context.Context, project, distinctID, hash string, renewBefore time.Time) error {
	if s.secrets == nil {
		return errNoSecrets
	}
	return s.secrets.RegisterInstallSecret(ctx, project, distinctID, hash, renewBefore)
}

// InstallSecretHash passes the call to the store.
func (s *Store) InstallSecretHash(ctx context.Context, project, distinctID string) (string, error) {
	if s.secrets == nil {
		return "", errNoSecrets
	}
	return s.secrets.InstallSecretHash(ctx, project, distinctID)
}

// DeleteInstallSecret passes the call to the store.
func (s *Store) DeleteInstallSecret(ctx context.Context, project, distinctID string) error {
	if s.secrets == nil {
		return errNoSecrets
	}
	return s.secrets.DeleteInstallSecret(ctx, project, distinctID)
}

// DeleteInstallSecretsBefore passes the call to the store.
func (s *Store) DeleteInstallSecretsBefore(ctx context.Context, t time.Time) (int64, error) {
	if s.secrets == nil {
		return 0, errNoSecrets
	}
	return s.secrets.DeleteInstallSecretsBefore(ctx, t)
}
