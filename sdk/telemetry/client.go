package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/internal/safelog"
)

// Client captures events of one catalog and sends them to a collector in
// the background. All methods are safe for concurrent use.
type Client struct {
	cfg      Config
	switches *switches
	encoder  *encoder
	uploader *uploader
	spool    *spool // nil when the spool is off
	http     *http.Client
	ownsHTTP bool
	log      *slog.Logger // Config.Logger behind safelog, which counts its panics in logFailures
	stats    counters
	// logFailures counts the panics of Config.Logger's handler, which
	// Stats reports as LogFailures.
	logFailures atomic.Int64

	queue    chan item
	flushReq chan chan error
	nudge    chan struct{} // wakes the sender to re-read the switches now
	quit     chan struct{}
	done     chan struct{}

	enabled atomic.Bool
	closed  atomic.Bool

	// optOuts counts the opt-outs of this process. Capture stamps each
	// event with it, so that the sender drops the events captured before
	// an opt-out and keeps those captured after an opt-in that followed
	// it, even when it reads the switches after both.
	optOuts atomic.Uint64
	// ownOptOut is the token of this process's last opt-out, with the
	// optOuts count after it.
	ownOptOut atomic.Pointer[optOut]
	// beforeUpload, when a test sets it, runs on the sender before each
	// upload starts.
	beforeUpload func()

	// refreshMu serializes refresh, so that a read of the switches that
	// began before an opt-out, such as the upload watch's, cannot store
	// its result after the opt-out's read and turn telemetry back on.
	refreshMu sync.Mutex

	// sendCtx is cancelled when Close's context ends, which aborts an
	// upload in flight.
	sendCtx     context.Context
	cancelSends context.CancelFunc

	// cancelUpload cancels the context of the upload in flight, nil
	// between uploads. refresh calls it when telemetry is off.
	uploadMu     sync.Mutex
	cancelUpload context.CancelCauseFunc

	closeOnce  sync.Once
	closeCtx   context.Context // written before quit is closed
	closeDone  chan struct{}   // closed once finalStats and closeErr are set
	finalStats Stats
	closeErr   error

	privacy privacyState // transparency, deletion and notice state

	mu      sync.Mutex // guards the fields below
	ident   identity
	haveID  bool
	idStamp fileStamp // of the install ID file when ident was loaded
	status  Status
	debug   string
}

// New validates cfg, reads the switches and, when telemetry is enabled,
// loads or creates the install ID. It starts the sender goroutine, which
// Close stops.
func New(cfg Config) (*Client, error) {
	c, err := build(cfg)
	if err != nil {
		return nil, err
	}
	go newSender(c).run()
	return c, nil
}

// build returns a client whose sender is not started yet.
func build(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	httpClient, owned := newHTTPClient(cfg.HTTPClient)
	c := &Client{
		cfg:       cfg,
		switches:  newSwitches(&cfg),
		encoder:   newEncoder(&cfg),
		uploader:  newUploader(cfg.Endpoint, cfg.WriteKey, httpClient),
		http:      httpClient,
		ownsHTTP:  owned,
		queue:     make(chan item, cfg.QueueSize),
		flushReq:  make(chan chan error),
		nudge:     make(chan struct{}, 1),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
		closeDone: make(chan struct{}),
	}
	c.log = safelog.New(cfg.Logger, &c.logFailures)
	c.spool = newSpool(&cfg, &c.stats)
	c.sendCtx, c.cancelSends = context.WithCancel(context.Background())
	c.initPrivacy()
	c.refresh()
	if c.spool != nil {
		// Counted here, Stats includes what earlier runs spooled from
		// the start, not only once the sender has listed the spool, and
		// also while an environment switch keeps the spool for later.
		c.spool.recount()
	}
	return c, nil
}

// Capture queues ev to be checked against the catalog and sent. It never
// blocks and never panics: when telemetry is off the event is ignored, and
// when the queue is full it is dropped and counted.
//
// On the caller's goroutine Capture only reads the <APP>_DISABLE_TELEMETRY
// and DO_NOT_TRACK variables, calls Config.Clock, copies a
// catalog.PropertyMap's values and does a non-blocking channel send. The
// values that struct fields point to are read later, so the caller must
// not change them after Capture. The catalog check, JSON encoding, compression and I/O run
// on the sender goroutine.
func (c *Client) Capture(ev catalog.Event) {
	counted := false
	defer func() {
		// A panicking Config.Getenv or Config.Clock loses the event, and
		// the counters still add up.
		if recover() != nil && counted {
			c.stats.drop(DropEncodeFailed, 1)
		}
	}()
	// The stamp is read before the switches: an event that passed them
	// before an opt-out then carries the count from before it, however
	// late it reaches the queue.
	optOuts := c.optOuts.Load()
	if !c.enabled.Load() || c.switches.optedOut() {
		c.stats.ignored.Add(1)
		return
	}
	c.stats.captured.Add(1)
	counted = true
	if ev == nil {
		c.stats.drop(DropEncodeFailed, 1)
		return
	}
	if c.closed.Load() {
		c.stats.closed.Add(1)
		return
	}
	switch m := ev.(type) {
	case catalog.PropertyMap:
		ev = copyPropertyMap(c.cfg.Catalog, m)
	case *catalog.PropertyMap:
		if m != nil {
			ev = copyPropertyMap(c.cfg.Catalog, *m)
		}
	}
	select {
	case c.queue <- item{ev: ev, at: c.cfg.Clock(), optOuts: optOuts}:
	default:
		c.stats.queueFul.Add(1)
	}
}

// IsEnabled reports whether events are captured and sent now. It checks
// every switch again, including config.json.
func (c *Client) IsEnabled() bool {
	return c.refresh().Enabled
}

// IsExplicitlyDisabled reports whether the user switched telemetry off with
// <APP>_DISABLE_TELEMETRY=1, DO_NOT_TRACK or the persisted choice, as
// opposed to a CI, test or end-to-end run. Apps hide features that rely on
// the vendor's services when it is true.
func (c *Client) IsExplicitlyDisabled() bool {
	return c.refresh().ExplicitlyDisabled
}

// Status returns the state and the reason for it, switch by switch.
func (c *Client) Status() Status {
	return c.refresh()
}

// Catalog returns the catalog the client was built with, Config.Catalog.
func (c *Client) Catalog() *catalog.Catalog { return c.cfg.Catalog }

// InstallID returns the random ID sent as distinct_id, or "" while
// telemetry is disabled.
func (c *Client) InstallID() string {
	if !c.enabled.Load() {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ident.id
}

// FirstLaunch reports whether this process created the install ID, which
// is true in exactly one process per install: use it for app_started's
// isFirstLaunch. It is false while telemetry is disabled and when the ID
// could only be kept in memory.
func (c *Client) FirstLaunch() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.haveID && c.ident.created
}

// SetFeatureFlagVariant adds the base property "$feature/<key>" with the
// variant (a string or a bool) to every later event; a nil variant removes
// it. A key or variant that breaks the catalog's variant class is ignored,
// counted in Stats.Violations and logged by key.
func (c *Client) SetFeatureFlagVariant(key string, variant any) {
	if reason := c.encoder.setFlag(key, variant); reason != "" {
		c.stats.violation(string(reason))
		c.log.Warn("telemetry: feature flag variant rejected", "reason", string(reason))
	}
}

// Stats returns the counters. It is cheap and safe to call at any time.
func (c *Client) Stats() Stats {
	st := c.stats.snapshot(len(c.queue))
	st.LogFailures = c.logFailures.Load()
	return st
}

// Flush sends every event captured before the call, waiting for a pending
// retry delay if there is one. It returns nil once all of them were
// acknowledged or dropped, the upload error when the collector could not
// take them (they stay queued or spooled for a later retry), or ctx's error.
func (c *Client) Flush(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	reply := make(chan error, 1)
	select {
	case c.flushReq <- reply:
	case <-c.done:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("flush telemetry: %w", ctx.Err())
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("flush telemetry: %w", ctx.Err())
	}
}

// ErrClosed is returned by Flush after Close.
var ErrClosed = errors.New("telemetry client is closed")

// Close stops capturing, sends what is queued while ctx allows, spools the
// rest and stops the sender goroutine. Once ctx has ended, it writes at
// most as many spool files as fill an empty spool and drops the events left
// as DropShutdown. It returns the final Stats and an error when events were
// dropped at shutdown. Close is idempotent: later
// calls wait for the first and return its result. A later call whose ctx
// ends first returns the current Stats and ctx's error. No goroutine of
// the client outlives the first Close.
//
// With the spool off or failing, Close retries a failed upload while ctx
// allows, so a ctx without a deadline waits until the collector takes the
// events. Give ctx a timeout where the app must exit promptly.
func (c *Client) Close(ctx context.Context) (Stats, error) {
	first := false
	c.closeOnce.Do(func() {
		first = true
		c.closed.Store(true)
		c.closeCtx = ctx
		close(c.quit)
	})
	if !first {
		select {
		case <-c.closeDone:
			return c.finalStats, c.closeErr
		case <-ctx.Done():
			return c.Stats(), fmt.Errorf("close telemetry: an earlier Close is still running: %w", context.Cause(ctx))
		}
	}
	defer close(c.closeDone)

	select {
	case <-c.done:
	case <-ctx.Done():
		c.cancelSends()
		<-c.done
	}
	c.cancelSends()
	if c.ownsHTTP {
		c.http.CloseIdleConnections()
	}

	// Events captured while Close began can still be in the channel.
	for len(c.queue) > 0 {
		<-c.queue
		c.stats.closed.Add(1)
	}
	c.finalStats = c.Stats()
	shutdownDrops := c.finalStats.DroppedByReason[DropShutdown]
	if shutdownDrops > 0 {
		c.closeErr = fmt.Errorf("close telemetry: %d events dropped at shutdown: %w", shutdownDrops, context.Cause(ctx))
		if ctx.Err() == nil {
			c.closeErr = fmt.Errorf("close telemetry: %d events dropped at shutdown because the collector could not take them", shutdownDrops)
		}
	}
	return c.finalStats, c.closeErr
}

// refresh evaluates the switches and, once telemetry is enabled, loads the
// install ID.
func (c *Client) refresh() Status {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	st := c.applyNotice(c.switches.evaluate())
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.Enabled && !c.haveID {
		ident, err := loadIdentity(c.cfg.Home)
		if err != nil {
			c.log.Warn("telemetry: install ID kept in memory for this run", "error", err)
		}
		c.ident, c.haveID = ident, true
		if ident.persisted {
			c.idStamp, _ = statFile(filepath.Join(c.cfg.Home, InstallIDFile))
		}
	}
	if st.Enabled != c.status.Enabled || st.Switch != c.status.Switch {
		c.log.Info("telemetry: state changed", "enabled", st.Enabled, "switch", st.Switch)
	}
	c.status, c.debug = st, st.Debug
	c.enabled.Store(st.Enabled)
	if !st.Enabled {
		c.abortUpload()
	}
	return st
}

// errSwitchedOff is the cause of an upload's context that refresh
// cancelled because telemetry was off.
var errSwitchedOff = errors.New("telemetry was switched off during the upload")

// startUpload returns the context of an upload, which refresh cancels
// with errSwitchedOff when it finds telemetry off, and the function that
// ends the upload. The context is cancelled already when telemetry is off
// at the call.
//
// SetEnabled(false) in this process cancels the upload at once. While the
// upload lasts, the switches are read again every configPollInterval, so
// an opt-out by another process of the app, such as its telemetry
// command, cancels it within about a second too.
func (c *Client) startUpload() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(c.sendCtx)
	c.uploadMu.Lock()
	c.cancelUpload = cancel
	c.uploadMu.Unlock()
	// refresh stores enabled before it calls abortUpload, so an opt-out
	// that abortUpload ran too early for is seen here.
	if !c.enabled.Load() {
		cancel(errSwitchedOff)
	}
	stopWatch := c.watchSwitches()
	return ctx, func() {
		stopWatch()
		c.uploadMu.Lock()
		c.cancelUpload = nil
		c.uploadMu.Unlock()
		cancel(nil)
	}
}

// watchSwitches calls refresh every configPollInterval until the returned
// function is called or refresh finds telemetry off, which cancels the
// upload. The returned function waits for a call of refresh in progress,
// so no goroutine of the watch outlives it.
func (c *Client) watchSwitches() (stop func()) {
	var (
		mu      sync.Mutex // guards stopped and the timer's arming
		stopped bool
		timer   *time.Timer
		// checks counts the checks that are armed or running. Each arming
		// adds one, which the check's run or a successful Stop removes.
		checks sync.WaitGroup
	)
	check := func() {
		defer checks.Done()
		mu.Lock()
		defer mu.Unlock()
		if stopped || !c.refresh().Enabled {
			return
		}
		checks.Add(1)
		timer.Reset(configPollInterval)
	}

	mu.Lock()
	checks.Add(1)
	timer = time.AfterFunc(configPollInterval, check)
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		if timer.Stop() {
			checks.Done() // the armed check will not run
		}
		mu.Unlock()
		checks.Wait()
	}
}

// abortUpload cancels the upload in flight, if any, with errSwitchedOff.
func (c *Client) abortUpload() {
	c.uploadMu.Lock()
	defer c.uploadMu.Unlock()
	if c.cancelUpload != nil {
		c.cancelUpload(errSwitchedOff)
	}
}

// debugMode returns the <APP>_TELEMETRY_DEBUG mode of the last refresh.
func (c *Client) debugMode() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.debug
}
