// Package clickhouse is the storage backend of the collector for large
// installations: it stores events in a ClickHouse server and talks to it
// over ClickHouse's HTTP interface with net/http alone.
//
// Several collectors may share one database. Each Store merges concurrent
// Insert calls into one INSERT per FlushInterval or per MaxBatchRows events,
// because ClickHouse writes a new part for every INSERT and does best with
// few large ones. Inserts, deletions and queries are safe for concurrent use.
//
// Events live in a ReplacingMergeTree table ordered by (project, uuid) and
// partitioned by the month of their timestamp. Each Store skips the events
// it finds already stored, so one collector never writes a duplicate. Two
// collectors that receive the same event at the same moment may both write
// it: the table merges such duplicates away in the background, and until it
// does, every query counts each (project, uuid) once.
//
// The SQL runs on ClickHouse 18.16 (the version Debian 12 ships) and on
// current releases: the tests run on 18.16.1 and on 26.7.2.1 through chDB
// 3.4.0 behind scripts/chdb_http.cjs. Timestamps are stored in UTC, to the
// second in a DateTime column and to the microsecond in an Int64 column
// that filters use, so filters cut at the same instants as the DuckDB
// backend. DateTime covers 1970-01-01 to 2106-02-07, and Insert rejects
// events outside it.
// The "version" and "backend_platform" properties are copied into their own
// columns when they are non-empty strings, and an event without them is left
// out of the version and platform breakdowns of Overview.
//
// The Store also implements store.Analytics with the results of the DuckDB
// backend. The queries read each property from the arrays prop_keys and
// prop_values, which Insert fills with every value of the event by its
// dotted path, because ClickHouse 18.16 cannot read a key from JSON text.
// They use no window functions, because 18.16 has none. ExportEvents
// writes Parquet through an in-memory DuckDB database, the one part of the
// package that does not go through the HTTP interface.
package clickhouse

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

var _ store.Store = (*Store)(nil)

// Defaults for the zero fields of Config.
const (
	DefaultURL           = "http://127.0.0.1:8123"
	DefaultDatabase      = "candor"
	DefaultFlushInterval = time.Second
	DefaultMaxBatchRows  = 10000
)

// openTimeout bounds the requests that Open sends to check the server and
// migrate the schema, except the rewrite of stored events that a migration
// may need, which only Open's context bounds.
const openTimeout = 30 * time.Second

// Config configures Open. The zero Config connects to DefaultURL as the
// server's default user and uses the database DefaultDatabase.
type Config struct {
	// URL is the base URL of the server's HTTP interface, such as
	// "http://127.0.0.1:8123". Empty means DefaultURL.
	URL string

	// Database is the database that holds candor's tables. Open creates it
	// when it is missing. It must be a plain identifier (letters, digits
	// and underscores, not starting with a digit). Empty means DefaultDatabase.
	Database string

	// User and Password authenticate with HTTP basic authentication. An
	// empty User and Password send no credentials, so the server uses its
	// "default" user.
	User     string
	Password string

	// HTTPClient sends the requests. Nil means a client of the Store's own
	// whose idle connections Close closes. Its Timeout, if set, bounds
	// every request including slow queries.
	HTTPClient *http.Client

	// FlushInterval is the maximum time an Insert waits for other calls to
	// join its batch. Zero means DefaultFlushInterval.
	FlushInterval time.Duration

	// MaxBatchRows is the number of events at which a batch is sent without
	// waiting for FlushInterval to pass. One Insert call with more events
	// is sent as one INSERT. Zero means DefaultMaxBatchRows.
	MaxBatchRows int
}

// identifierPattern matches database names that need no quoting in either
// ClickHouse version.
var identifierPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reservedDatabases are the databases that ClickHouse creates for its own
// tables. The store would otherwise take system.events, ClickHouse's
// table of event counters, for its events table.
var reservedDatabases = map[string]bool{"system": true, "information_schema": true, "INFORMATION_SCHEMA": true}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.MaxBatchRows == 0 {
		c.MaxBatchRows = DefaultMaxBatchRows
	}
	return c
}

// Validate reports the first invalid field of c. Zero fields are valid.
func (c Config) Validate() error {
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("invalid clickhouse URL %q: use the server's HTTP interface, such as %q", c.URL, DefaultURL)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("invalid clickhouse URL %q: remove the query string; set Database, User and Password in Config", u.Redacted())
		}
		if u.User != nil {
			// Errors and logs name the URL, so a password in it would leak.
			return fmt.Errorf("invalid clickhouse URL %q: set User and Password in Config instead of in the URL", u.Redacted())
		}
	}
	if c.Database != "" && !identifierPattern.MatchString(c.Database) {
		return fmt.Errorf("invalid clickhouse database %q: use letters, digits and underscores, not starting with a digit", c.Database)
	}
	if reservedDatabases[c.Database] {
		return fmt.Errorf("invalid clickhouse database %q: the name is reserved by ClickHouse for its own tables, so pick another, such as %q", c.Database, DefaultDatabase)
	}
	if c.FlushInterval < 0 {
		return fmt.Errorf("invalid clickhouse FlushInterval %s: must not be negative", c.FlushInterval)
	}
	if c.MaxBatchRows < 0 {
		return fmt.Errorf("invalid clickhouse MaxBatchRows %d: must not be negative", c.MaxBatchRows)
	}
	return nil
}

// Store is a store.Store backed by one ClickHouse database.
type Store struct {
	config Config
	client *client
	events string // quoted name of the events table, such as "`candor`.events"

	// ownTransport is the transport of the client that Open made when
	// Config.HTTPClient was nil; Close closes its idle connections.
	ownTransport *http.Transport

	// mutationsSync reports whether the server supports the mutations_sync
	// setting, which makes ALTER TABLE ... DELETE return only when the
	// deletion is done. ClickHouse 18.16 does not.
	mutationsSync bool

	// lifecycle is held for reading by every method while it uses the
	// server and for writing by Close, so Close waits for calls in flight.
	lifecycle sync.RWMutex
	closed    bool

	// writeMu serializes the batches of Insert with DeleteInstall and
	// DeleteBefore, so a batch's check for stored events and its INSERT see
	// no deletion of this Store in between.
	writeMu sync.Mutex

	// secretsMu serializes the calls on the secrets table, apart from
	// writeMu so that they do not wait for a batch's INSERT. secretsReady
	// is set once withSecrets has prepared that table.
	secretsMu    sync.Mutex
	secretsReady bool

	// lastFailedPing is the latest ping of whileResponsive that failed, or
	// nil once a later ping succeeded.
	lastFailedPing atomic.Pointer[failedPing]

	requests    chan *insertRequest // Insert calls waiting for the batcher
	closing     chan struct{}       // closed when Close starts: flush without waiting
	closingOnce sync.Once
	stopBatcher chan struct{} // closed by Close once no Insert is in flight
	batcherDone chan struct{} // closed when the batcher goroutine returns
}

// Open connects to the server, creates the database and tables when they
// are missing, brings the schema up to date and starts the goroutine that
// batches inserts. Close stops it.
func Open(ctx context.Context, config Config) (*Store, error) {
	if err := config.Validate(); err != nil {
		return nil, err
	}
	config = config.withDefaults()

	s := &Store{
		config:      config,
		events:      "`" + config.Database + "`.events",
		requests:    make(chan *insertRequest),
		closing:     make(chan struct{}),
		stopBatcher: make(chan struct{}),
		batcherDone: make(chan struct{}),
	}
	httpClient := config.HTTPClient
	if httpClient == nil {
		s.ownTransport = newTransport()
		httpClient = &http.Client{Transport: s.ownTransport}
	}
	s.client = &client{
		url:      strings.TrimSuffix(config.URL, "/") + "/",
		user:     config.User,
		password: config.Password,
		http:     httpClient,
	}

	if err := s.prepare(ctx); err != nil {
		s.closeIdleConnections()
		if isAccessError(err) {
			user := cmp.Or(config.User, "default")
			return nil, fmt.Errorf("open clickhouse database %q at %s: %w: check the user and password (user %s), "+
				"and that user %s may run CREATE DATABASE %s and create, alter and insert into its tables",
				config.Database, config.URL, err, user, user, config.Database)
		}
		return nil, fmt.Errorf("open clickhouse database %q at %s: %w", config.Database, config.URL, err)
	}
	go s.runBatcher()
	return s, nil
}

// prepare checks the server, reads which settings it supports, keeps its
// inserts synchronous and migrates the schema.
func (s *Store) prepare(ctx context.Context) error {
	timed, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()

	if err := s.client.ping(timed); err != nil {
		return err
	}
	settings, err := s.readServerSettings(timed)
	if err != nil {
		return err
	}
	_, s.mutationsSync = settings["mutations_sync"]
	if err := s.turnOffAsyncInserts(timed, settings); err != nil {
		return err
	}

	return s.migrate(timed, ctx)
}

// Close waits for calls in flight, sends the batch that is waiting, stops
// the batcher and closes idle connections. Calls after Close return
// store.ErrClosed. Close is idempotent.
func (s *Store) Close() error {
	// Closing s.closing first makes the batcher send at once, so Inserts in
	// flight return without waiting for FlushInterval.
	s.closingOnce.Do(func() { close(s.closing) })

	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true

	close(s.stopBatcher)
	<-s.batcherDone
	s.closeIdleConnections()
	return nil
}

func (s *Store) closeIdleConnections() {
	if s.ownTransport != nil {
		s.ownTransport.CloseIdleConnections()
	}
}

// acquire holds the store open for one call. The caller must call the
// returned function when the call no longer uses the server.
func (s *Store) acquire() (release func(), err error) {
	s.lifecycle.RLock()
	if s.closed {
		s.lifecycle.RUnlock()
		return nil, store.ErrClosed
	}
	return s.lifecycle.RUnlock, nil
}

// Ping checks that the server responds 200 OK to GET /ping. The server
// runs no query for it, so the ping does not wait behind slow queries.
// store.Ping calls it for the dashboard and /readyz.
func (s *Store) Ping(ctx context.Context) error {
	release, err := s.acquire()
	if err != nil {
		return err
	}
	defer release()
	if err := s.client.ping(ctx); err != nil {
		return err
	}
	s.lastFailedPing.Store(nil)
	return nil
}
