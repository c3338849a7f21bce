package collector

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/candor-dev/candor/internal/logutil"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/sdk/catalog"
)

// Defaults of Config. The body and event sizes are those of PostHog's
// capture service, except DefaultMaxDecompressed: PostHog allows 100 MiB,
// but this collector holds the decompressed payload and its decoded events
// in memory. PostHog has no depth or member limits.
const (
	DefaultMaxBatchBody    = 20 << 20  // compressed body of a /batch request
	DefaultMaxEventBody    = 2 << 20   // compressed body on every other path
	DefaultMaxDecompressed = 32 << 20  // payload after decompression and decoding
	DefaultMaxEventSize    = 1_000_000 // JSON text of one event
	DefaultMaxDepth        = 64        // nesting of JSON arrays and objects
	DefaultMaxProperties   = 1000      // members of any one JSON object
	DefaultBodyReadTimeout = 30 * time.Second
	DefaultCommitInterval  = 2 * time.Millisecond
	DefaultMaxCommitBatch  = 5000
	DefaultCommitTimeout   = 30 * time.Second
	DefaultRetryAfter      = 5 * time.Second
	DefaultSummaryInterval = time.Minute

	DefaultDecodeWait       = 500 * time.Millisecond
	DefaultMaxBufferedBytes = 256 << 20
	DefaultMaxPendingEvents = 20_000
	DefaultRequestTimeout   = time.Minute
	// DefaultRateBurstSeconds sizes the default RateBurst: this many
	// seconds of RateLimit.
	DefaultRateBurstSeconds = 10
)

// DefaultMaxDecoding returns the default of Config.MaxDecoding: twice
// GOMAXPROCS and at least 4. Decoding is CPU-bound, so more slots than
// cores add memory but no throughput.
func DefaultMaxDecoding() int {
	return max(4, 2*runtime.GOMAXPROCS(0))
}

// Project is one application whose events the collector accepts.
type Project struct {
	// Name is stored with every event of the project, such as "mux".
	Name string
	// WriteKey is the token the project's clients send as api_key or token.
	// It lets a client add events and nothing else.
	WriteKey string
	// Catalog lists the events and properties the project may store.
	Catalog *catalog.Catalog
}

// Config configures a Collector. Store and Projects are required; every other
// zero value selects the default named on the field. Sizes are in bytes.
type Config struct {
	// Store receives the valid events. Required.
	Store store.Store
	// Projects are the applications that may send events, each with its own
	// write key. Required.
	Projects []Project

	// Logger receives start-up, shutdown, commit failures, panics and a
	// periodic summary; rejected requests go to the debug level. Nil
	// discards everything.
	Logger *slog.Logger
	// Now returns the current time, used as the receive time of events.
	// Nil means time.Now.
	Now func() time.Time

	// MaxBatchBody caps the request body on /batch (DefaultMaxBatchBody) and
	// MaxEventBody on every other path (DefaultMaxEventBody). A larger body
	// gets status 413.
	MaxBatchBody int64
	MaxEventBody int64
	// MaxDecompressed caps the payload after gzip, lz-string or base64
	// decoding (DefaultMaxDecompressed), and a larger payload gets status
	// 413. Decompression stops at the cap: a gzip bomb is measured before
	// any output is kept, and lz-string output is kept up to the cap.
	MaxDecompressed int64
	// MaxEventSize caps the JSON text of one event (DefaultMaxEventSize). A
	// larger event is dropped with reason event_too_large; the rest of its
	// request is stored. A request whose events are all larger gets status
	// 413.
	MaxEventSize int64
	// MaxDepth caps the nesting of JSON arrays and objects in a payload,
	// counted from its top level (DefaultMaxDepth), and MaxProperties the
	// members of any one JSON object (DefaultMaxProperties). An event over
	// either is dropped with reason event_too_deep or
	// event_too_many_members, and the rest of its request is stored. A
	// request whose events are all over the limits per event gets status
	// 413, and so does a payload over MaxDepth or MaxProperties outside
	// its events, or nested deeper than 10,000 levels.
	MaxDepth      int
	MaxProperties int

	// BodyReadTimeout bounds reading one request body
	// (DefaultBodyReadTimeout). A client that sends slower gets status 408.
	BodyReadTimeout time.Duration

	// CommitInterval is how long the committer waits for more requests after
	// the first one before it calls Store.Insert (DefaultCommitInterval). A
	// negative value commits whatever is waiting without delay.
	CommitInterval time.Duration
	// MaxCommitBatch ends the wait early once this many events are waiting
	// (DefaultMaxCommitBatch). A commit never splits a request, so one large
	// request can exceed it.
	MaxCommitBatch int
	// CommitTimeout bounds one Store.Insert call (DefaultCommitTimeout).
	CommitTimeout time.Duration
	// RetryAfter is sent in the Retry-After header of 503 responses, rounded
	// up to whole seconds (DefaultRetryAfter).
	RetryAfter time.Duration
	// SummaryInterval is the period of the summary log line
	// (DefaultSummaryInterval). A negative value turns the summary off.
	SummaryInterval time.Duration

	// MaxDecoding bounds the requests that decompress, parse and check
	// their payloads at once (zero means DefaultMaxDecoding()). A request
	// waits up to DecodeWait (DefaultDecodeWait) for a slot, then gets 503.
	MaxDecoding int
	DecodeWait  time.Duration
	// MaxBufferedBytes bounds the memory that requests reserve for their
	// bodies and decoded payloads (DefaultMaxBufferedBytes). A request that
	// would go over gets 503. A body larger than the whole budget, or a
	// payload whose decoding needs more than the whole budget, gets 413,
	// since no retry can succeed.
	MaxBufferedBytes int64
	// MaxPendingEvents bounds the events handed to the committer and not
	// yet committed (DefaultMaxPendingEvents). A request whose events would
	// go over gets 503; a request with more events than the bound is
	// admitted when nothing else is pending.
	MaxPendingEvents int
	// RequestTimeout bounds a request from the end of its body to the
	// commit of its events (DefaultRequestTimeout). Past it the request gets
	// 503; its events may still be committed, and the client's retry is
	// then counted as duplicates.
	RequestTimeout time.Duration

	// RateLimit is the number of events per second that one write key may
	// send on average. Zero turns the limit off. A request costs one token
	// per event, and a request over the limit gets 429 with Retry-After.
	// The clock is Config.Now.
	RateLimit float64
	// RateBurst is how many events a write key may send at once after a
	// quiet period; zero means DefaultRateBurstSeconds of RateLimit, at
	// least 1. It is unused when RateLimit is zero. A request with more
	// events than RateBurst is admitted when the key's bucket is full and
	// then delays the key's next requests.
	RateBurst int

	// MaxEventAge, if positive, drops events whose timestamp is older than
	// the receive time minus MaxEventAge, counted as ReasonExpired. The
	// server sets it to its retention period, whose next pass would delete
	// them. Zero stores events of any age.
	MaxEventAge time.Duration

	// SecretRenewal is how often the collector renews the deletion key
	// registration of an install it receives events of: it passes now
	// minus SecretRenewal as the renewBefore time of
	// store.InstallSecrets.RegisterInstallSecret. Retention then deletes
	// the hashes of installs that sent nothing for longer than it keeps
	// events. Zero never renews.
	SecretRenewal time.Duration
}

// Collector accepts events over PostHog's capture protocol, checks them
// against each project's catalog and stores them. Create it with New; it is
// an http.Handler and is safe for concurrent use.
type Collector struct {
	cfg      Config
	store    store.Store
	projects []project
	logger   *slog.Logger
	now      func() time.Time

	stats     *counters
	committer *committer
	names     *internTable // property names and enum values of every catalog

	decoding      *slots
	buffered      *budget
	pending       *budget
	commitLatency prometheus.Histogram

	selfDelete selfDeleteState
	// panicLog limits panic log lines to one per logutil.Interval, so that
	// a request that panics every time does not write a stack trace each time.
	panicLog logutil.Limiter

	// mu guards closed and the Add calls of inflight, so that Close's Wait
	// never races with a request that starts.
	mu        sync.Mutex
	closed    bool
	inflight  sync.WaitGroup
	closeOnce sync.Once
}

type project struct {
	name    string
	keyHash [sha256.Size]byte
	catalog *catalog.Catalog
	bucket  *tokenBucket // nil when Config.RateLimit is zero
}

// New validates cfg, fills in the defaults and starts the committer
// goroutine. Call Close to stop it.
func New(cfg Config) (*Collector, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.applyDefaults()

	names := make([]string, len(cfg.Projects))
	catalogs := make([]*catalog.Catalog, len(cfg.Projects))
	for i, p := range cfg.Projects {
		names[i] = p.Name
		catalogs[i] = p.Catalog
	}
	c := &Collector{
		cfg:           cfg,
		store:         cfg.Store,
		logger:        cfg.Logger,
		now:           cfg.Now,
		stats:         newCounters(names),
		decoding:      newSlots(cfg.MaxDecoding),
		buffered:      &budget{capacity: cfg.MaxBufferedBytes},
		pending:       &budget{capacity: int64(cfg.MaxPendingEvents)},
		commitLatency: newCommitLatency(),
		names:         newInternTable(catalogs),
	}
	start := cfg.Now()
	for _, p := range cfg.Projects {
		var bucket *tokenBucket
		if cfg.RateLimit > 0 {
			bucket = newTokenBucket(cfg.RateLimit, cfg.RateBurst, start)
		}
		c.projects = append(c.projects, project{
			name:    p.Name,
			keyHash: sha256.Sum256([]byte(p.WriteKey)),
			catalog: p.Catalog,
			bucket:  bucket,
		})
	}
	if r, ok := cfg.Store.(store.LoadReporter); ok {
		r.ReportLoads(c.stats.loaded)
	}
	c.committer = startCommitter(c)

	attrs := []any{"projects", names, "commit_interval", cfg.CommitInterval,
		"max_commit_batch", cfg.MaxCommitBatch, "max_decoding", cfg.MaxDecoding,
		"max_buffered_bytes", cfg.MaxBufferedBytes, "max_pending_events", cfg.MaxPendingEvents,
		"rate_limit", cfg.RateLimit}
	if cfg.RateLimit > 0 {
		// Without a rate limit no bucket exists, and RateBurst is unused.
		attrs = append(attrs, "rate_burst", cfg.RateBurst)
	}
	c.logger.Info("collector started", attrs...)
	return c, nil
}

func (cfg *Config) validate() error {
	if cfg.Store == nil {
		return errors.New("create collector: missing Config.Store: pass the store events go to")
	}
	if len(cfg.Projects) == 0 {
		return errors.New("create collector: missing Config.Projects: configure at least one project with a write key")
	}
	names := map[string]bool{}
	keys := map[string]string{}
	for i, p := range cfg.Projects {
		switch {
		case p.Name == "":
			return fmt.Errorf("create collector: project %d has no name: name every project", i)
		case names[p.Name]:
			return fmt.Errorf("create collector: project %q is configured twice: give each project one entry", p.Name)
		case p.WriteKey == "":
			return fmt.Errorf("create collector: project %q has no write key: set one", p.Name)
		case strings.TrimSpace(p.WriteKey) != p.WriteKey:
			return fmt.Errorf("create collector: write key of project %q starts or ends with white space: remove it, because clients' tokens are trimmed", p.Name)
		case keys[p.WriteKey] != "":
			return fmt.Errorf("create collector: projects %q and %q share a write key: give each project its own", keys[p.WriteKey], p.Name)
		case p.Catalog == nil:
			return fmt.Errorf("create collector: project %q has no catalog: pass the catalog its events are checked against", p.Name)
		}
		names[p.Name] = true
		keys[p.WriteKey] = p.Name
	}

	negative := map[string]int64{
		"MaxBatchBody": cfg.MaxBatchBody, "MaxEventBody": cfg.MaxEventBody,
		"MaxDecompressed": cfg.MaxDecompressed, "MaxEventSize": cfg.MaxEventSize,
		"MaxDepth": int64(cfg.MaxDepth), "MaxProperties": int64(cfg.MaxProperties),
		"MaxCommitBatch": int64(cfg.MaxCommitBatch), "BodyReadTimeout": int64(cfg.BodyReadTimeout),
		"CommitTimeout": int64(cfg.CommitTimeout), "RetryAfter": int64(cfg.RetryAfter),
		"MaxDecoding": int64(cfg.MaxDecoding), "DecodeWait": int64(cfg.DecodeWait),
		"MaxBufferedBytes": cfg.MaxBufferedBytes, "MaxPendingEvents": int64(cfg.MaxPendingEvents),
		"RequestTimeout": int64(cfg.RequestTimeout), "RateBurst": int64(cfg.RateBurst),
	}
	for name, v := range negative {
		if v < 0 {
			return fmt.Errorf("create collector: Config.%s is negative (%d): use 0 for the default or a positive value", name, v)
		}
	}
	if cfg.RateLimit < 0 || math.IsNaN(cfg.RateLimit) || math.IsInf(cfg.RateLimit, 0) {
		return fmt.Errorf("create collector: Config.RateLimit is %v: use 0 for no limit or a positive number of events per second", cfg.RateLimit)
	}
	return nil
}

func (cfg *Config) applyDefaults() {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	setDefault(&cfg.MaxBatchBody, DefaultMaxBatchBody)
	setDefault(&cfg.MaxEventBody, DefaultMaxEventBody)
	setDefault(&cfg.MaxDecompressed, DefaultMaxDecompressed)
	setDefault(&cfg.MaxEventSize, DefaultMaxEventSize)
	setDefault(&cfg.MaxDepth, DefaultMaxDepth)
	setDefault(&cfg.MaxProperties, DefaultMaxProperties)
	setDefault(&cfg.BodyReadTimeout, DefaultBodyReadTimeout)
	setDefault(&cfg.CommitInterval, DefaultCommitInterval)
	setDefault(&cfg.MaxCommitBatch, DefaultMaxCommitBatch)
	setDefault(&cfg.CommitTimeout, DefaultCommitTimeout)
	setDefault(&cfg.RetryAfter, DefaultRetryAfter)
	setDefault(&cfg.SummaryInterval, DefaultSummaryInterval)
	setDefault(&cfg.MaxDecoding, DefaultMaxDecoding())
	setDefault(&cfg.DecodeWait, DefaultDecodeWait)
	setDefault(&cfg.MaxBufferedBytes, DefaultMaxBufferedBytes)
	setDefault(&cfg.MaxPendingEvents, DefaultMaxPendingEvents)
	setDefault(&cfg.RequestTimeout, DefaultRequestTimeout)
	if cfg.RateLimit > 0 && cfg.RateBurst == 0 {
		cfg.RateBurst = max(1, int(math.Ceil(cfg.RateLimit*DefaultRateBurstSeconds)))
	}
}

func setDefault[T int | int64 | time.Duration](field *T, def T) {
	if *field == 0 {
		*field = def
	}
}

// Close stops accepting requests (new ones get 503), waits for the requests
// in flight and commits what they handed over, then stops the committer. If
// ctx ends first, Close cancels the commit in progress, so its requests get
// 503, and returns ctx.Err(). Close is idempotent.
func (c *Collector) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		go func() {
			c.inflight.Wait()
			c.committer.stop()
		}()
	})

	select {
	case <-c.committer.done:
		return nil
	case <-ctx.Done():
		c.committer.cancel()
		c.logger.Warn("collector close timed out; in-flight commits were cancelled", "err", ctx.Err())
		return fmt.Errorf("close collector: %w", ctx.Err())
	}
}

// enter registers a request in flight. It reports false once Close has
// started.
func (c *Collector) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.inflight.Add(1)
	return true
}

// findProject returns the project whose write key is token, or nil. It
// compares SHA-256 digests in constant time against every project, so the
// time taken does not reveal how close a token came to a key.
func (c *Collector) findProject(token string) *project {
	digest := sha256.Sum256([]byte(token))
	var found *project
	for i := range c.projects {
		if subtle.ConstantTimeCompare(digest[:], c.projects[i].keyHash[:]) == 1 {
			found = &c.projects[i]
		}
	}
	return found
}
