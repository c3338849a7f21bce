// Package server assembles a collector process. It opens the store and
// mounts the ingestion handler, the dashboard, the query and admin API, the
// health endpoints and the Prometheus metrics on one HTTP server. It runs
// the retention job and shuts everything down in order.
//
// # Endpoints
//
//   - the capture paths of the collector (/batch/, /i/v0/e/, /e/, /capture/,
//     /track/, /engage/), with any run of slashes, such as the //batch/ that
//     posthog-go sends when its endpoint ends in a slash: the write key.
//     Other paths under their first segments, such as /batch/x, and the
//     PostHog endpoints /decide, /flags and /s, which candor does not
//     serve, get the collector's JSON 404 with the list of capture paths;
//   - /healthz: 200 while the process serves requests;
//   - /readyz: 200 once start-up work is done and the store answers a
//     ping. 503 while starting, while shutting down, when the store fails,
//     and while commits keep failing over 5 s with no successful one
//     between them. With the DuckDB store, also 503 while the file system
//     of the data folder has less free space than Config.MinFreeBytes;
//   - /metrics: Prometheus metrics named candor_*, with the Go and process
//     metrics; the admin token as a Bearer token, unless Config.MetricsPublic
//     is set;
//   - DELETE /api/v1/installs/{distinct_id}?project=NAME: deletes one
//     install's events and then its deletion key hash, and returns
//     {"deleted": n}, or 503 when either deletion failed, which a retry
//     completes. NAME may be a project no longer configured while events
//     of it are stored. A NAME that is neither configured nor stored gets
//     404, unless this server deleted events of NAME since it started:
//     the retry of a deletion of a project's last install gets 200
//     {"deleted": 0}. A repeated project or another parameter gets 400
//     and deletes nothing. The admin token as a Bearer token;
//   - POST /api/v1/self/delete: self-service deletion (collector.SelfDeletePath);
//   - everything else: the dashboard and the query API (internal/dashboard).
//
// Another method on the install or self-service deletion path gets 405
// with an Allow header.
//
// A write key only adds events: it opens none of the other endpoints.
package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/fsutil"
	"github.com/candor-dev/candor/internal/logutil"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/clickhouse"
	"github.com/candor-dev/candor/internal/store/duckdb"
	"github.com/candor-dev/candor/internal/store/journal"
	"github.com/candor-dev/candor/sdk/mux"
)

// JournalDir is the folder in the data folder that holds the journal of
// the DuckDB store.
const JournalDir = "journal"

// DatabaseFile is the name of the DuckDB database in the data folder.
const DatabaseFile = "candor.duckdb"

// Config configures a Server.
type Config struct {
	// DataDir holds the database and keys.json; it is created (mode 0700)
	// when missing. Required.
	DataDir string
	// Listen is the TCP address to listen on, such as 127.0.0.1:8787;
	// port 0 picks a free port. Required.
	Listen string
	// WriteKey and AdminToken, if set, replace the keys kept in DataDir.
	// Each one left empty is read from DataDir, or generated and saved there
	// on first start.
	WriteKey   string
	AdminToken string
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// ShutdownTimeout bounds how long Shutdown waits for in-flight requests
	// when its context has no deadline. Zero means 10 seconds.
	ShutdownTimeout time.Duration
	// Store selects the storage backend: StoreDuckDB (the zero value) keeps
	// the events in DataDir; StoreClickHouse writes them to ClickHouse, so
	// several servers can share one database.
	Store string
	// ClickHouse configures the ClickHouse backend when Store is
	// StoreClickHouse.
	ClickHouse clickhouse.Config
	// DuckDBProperties is the type a new DuckDB database gives its
	// properties column: duckdb.PropertiesVariant (the zero value), whose
	// dashboard queries are faster, or duckdb.PropertiesJSON, whose commits
	// are cheaper. A database that exists keeps its type.
	DuckDBProperties string
	// DuckDBMemoryMiB bounds the memory of DuckDB's buffer manager, in MiB:
	// duckdb.DefaultMemoryLimitMiB when 0.
	DuckDBMemoryMiB int
	// DuckDBNoJournal makes the DuckDB store commit each group of requests
	// to the database before the responses. By default the responses go
	// out once the group is synced to the journal in JournalDir, and the
	// events are loaded into the database in larger batches.
	DuckDBNoJournal bool

	// Projects are applications whose events the server accepts next to
	// the built-in Mux project (named "mux", with WriteKey), each with its
	// own write key and catalog.
	Projects []collector.Project
	// Collector holds the collector's limits and tuning: rate limits,
	// backpressure bounds, timeouts. Its zero fields select the collector's
	// defaults. The server sets Store, Projects and Logger itself.
	Collector collector.Config
	// Retention, if positive, is how long events are kept: the server
	// deletes events whose timestamp is older than Retention when Serve
	// starts and then once a day, and the collector drops such events when
	// they arrive (collector.Config.MaxEventAge). Zero keeps events forever.
	Retention time.Duration
	// KAnonymity is the least number of distinct installs behind every
	// number the dashboard, the query API and the exports show; smaller
	// cells are suppressed. Zero means dashboard.DefaultKAnonymity (5) and
	// 1 turns suppression off.
	KAnonymity int
	// MetricsPublic serves /metrics without authentication, for a scraper
	// on a trusted network. When false, /metrics requires the admin token
	// as a Bearer token.
	MetricsPublic bool
	// MinFreeBytes is the free space, in bytes, that the file system of
	// DataDir needs for /readyz to report ready with the DuckDB store, so
	// that a load balancer stops sending events before writes fail.
	// Events that come anyway are still taken while they fit. Zero means
	// DefaultMinFreeBytes, and a negative value turns the check off. The
	// other stores keep no events in DataDir and are not checked.
	MinFreeBytes int64
	// MaxConnections bounds the open client connections
	// (DefaultMaxConnections when zero). A further client waits for a
	// connection to close. Meanwhile responses close their connections,
	// and a keep-alive connection idle for half a second is closed. A
	// client that stalls keeps its connection until a time limit ends it:
	// 10 s for a request header, 10 s plus Collector.BodyReadTimeout for
	// a header and its body, or 30 s to accept each 64 KiB of a response.
	MaxConnections int
}

// The storage backends of Config.Store.
const (
	StoreDuckDB     = "duckdb"
	StoreClickHouse = "clickhouse"
	// StoreNull discards every event and finds none, for load tests that
	// measure the HTTP and decoding work alone.
	StoreNull = "null"
)

// retentionInterval is the time between two retention passes.
const retentionInterval = 24 * time.Hour

// retentionRetry is the time between a failed retention pass and the
// next one.
const retentionRetry = 5 * time.Minute

// readHeaderTimeout bounds reading a request header.
const readHeaderTimeout = 10 * time.Second

// Server is a running collector: ingestion, dashboard, query API and health
// endpoints on one listener.
type Server struct {
	cfg        Config
	keys       Keys
	keysSaved  bool
	store      store.Store
	dataLock   *fsutil.Lock // nil unless the store keeps events in DataDir
	collector  *collector.Collector
	httpServer *http.Server
	listener   *limitListener
	logger     *slog.Logger
	admin      tokenChecker
	projects   []string // names of the projects the collector accepts, mux first
	authLog    logutil.Limiter
	readyLog   logutil.Limiter
	diskLog    logutil.Limiter
	panicLog   logutil.Limiter
	outage     outage // of /readyz, for the line that logs its end

	// removedProjects contains the projects, not configured, in which
	// serveDeleteInstall has deleted events since the server started.
	removedProjects removedProjects

	// ready is set once the start-up work of Serve is done; draining once
	// Shutdown starts. /readyz reports 503 unless ready and not draining.
	ready    atomic.Bool
	draining atomic.Bool

	// retentionInterval and retentionRetry are the constants of the same
	// names, shorter in tests.
	retentionInterval time.Duration
	retentionRetry    time.Duration
	// secretExpiry is secretExpiry(Config.Retention), shorter in tests.
	secretExpiry time.Duration
	// failingCommitsSpan and failedCommitsExpiry are the constants of the
	// same names, shorter in tests.
	failingCommitsSpan  time.Duration
	failedCommitsExpiry time.Duration
	// freeBytes returns the free space of the file system that holds a
	// path: fsutil.FreeBytes, or a fake full disk in tests.
	freeBytes func(path string) (uint64, error)
	// stopJobs ends the background jobs that Serve starts; jobs waits for
	// them.
	stopJobs context.CancelFunc
	jobsCtx  context.Context
	jobs     sync.WaitGroup
	// jobsMu orders Serve's jobs.Add before Shutdown's jobs.Wait: once
	// jobsStopped is set, Serve starts no jobs.
	jobsMu      sync.Mutex
	jobsStarted bool
	jobsStopped bool
}

// New opens the store in cfg.DataDir, builds the handlers and starts
// listening, so URL is valid when it returns. Call Serve to accept requests.
func New(cfg Config) (*Server, error) {
	return NewContext(context.Background(), cfg)
}

// NewContext is like New, but it stops waiting for the ClickHouse server
// and returns an error once ctx ends, such as at a signal during the start.
func NewContext(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: missing data folder: set --data")
	}
	if cfg.Listen == "" {
		return nil, errors.New("server: missing listen address: set --listen, such as 127.0.0.1:8787")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.MaxConnections < 0 {
		return nil, fmt.Errorf("server: negative MaxConnections %d: use 0 for the default of %d or a positive number", cfg.MaxConnections, DefaultMaxConnections)
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.Retention < 0 {
		return nil, fmt.Errorf("server: negative retention %s: use 0 to keep events forever or a positive duration", cfg.Retention)
	}

	// The server listens first, so that an invalid or busy address leaves
	// no data folder behind.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %q: %w (pick a free address with --listen)", cfg.Listen, err)
	}
	s, err := newServer(ctx, cfg, ln)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return s, nil
}

// newServer opens the data folder and the store of a server that listens
// on ln.
func newServer(ctx context.Context, cfg Config, ln net.Listener) (_ *Server, err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w: pass --data a folder that candor can create and write", err)
	}
	// The DuckDB store keeps its events in the data folder, and two
	// processes must not write them at once.
	var dataLock *fsutil.Lock
	lockCreated := false
	if cfg.Store == "" || cfg.Store == StoreDuckDB {
		_, statErr := os.Stat(filepath.Join(cfg.DataDir, LockFile))
		lockCreated = errors.Is(statErr, fs.ErrNotExist)
		if dataLock, err = LockDataDir(cfg.DataDir); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				dataLock.Unlock()
			}
		}()
	}

	keys, created, err := LoadOrCreateKeys(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if cfg.WriteKey != "" {
		keys.WriteKey = cfg.WriteKey
	}
	if cfg.AdminToken != "" {
		keys.AdminToken = cfg.AdminToken
	} else if err := checkStoredAdminToken(cfg.DataDir, keys.AdminToken); err != nil {
		return nil, err
	}
	if keys.WriteKey == keys.AdminToken {
		return nil, errors.New("server: the write key and the admin token are equal: give them different values")
	}
	for _, p := range cfg.Projects {
		if p.WriteKey == keys.AdminToken {
			return nil, fmt.Errorf("server: the write key of project %q equals the admin token: give them different values", p.Name)
		}
	}
	st, err := openStore(ctx, cfg)
	if errors.Is(err, duckdb.ErrNotCandorDatabase) {
		return nil, errors.Join(err, leaveForeignFolder(cfg.DataDir, dataLock, lockCreated, created))
	}
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, keys: keys, keysSaved: created, store: st, dataLock: dataLock, logger: cfg.Logger,
		admin:               newTokenChecker(keys.AdminToken),
		retentionInterval:   retentionInterval,
		retentionRetry:      retentionRetry,
		secretExpiry:        secretExpiry(cfg.Retention),
		failingCommitsSpan:  failingCommitsSpan,
		failedCommitsExpiry: failedCommitsExpiry,
		freeBytes:           fsutil.FreeBytes,
	}
	s.jobsCtx, s.stopJobs = context.WithCancel(context.Background())
	if err := s.buildHandlers(); err != nil {
		st.Close()
		return nil, err
	}

	s.listener = newLimitListener(ln, cfg.MaxConnections)
	s.httpServer.ConnState = s.listener.trackState
	return s, nil
}

// leaveForeignFolder removes the lock file and keys.json from a data
// folder whose database belongs to another program, if newServer created
// them, so the folder is left as it was.
func leaveForeignFolder(dir string, lock *fsutil.Lock, lockCreated, keysCreated bool) error {
	var errs []error
	if keysCreated {
		errs = append(errs, os.Remove(filepath.Join(dir, KeysFile)))
	}
	if lockCreated {
		lock.Unlock()
		errs = append(errs, os.Remove(filepath.Join(dir, LockFile)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing the files that candor created in %s failed too: %w: delete %s and %s", dir, err, KeysFile, LockFile)
	}
	return nil
}

func openStore(ctx context.Context, cfg Config) (store.Store, error) {
	switch cfg.Store {
	case "", StoreDuckDB:
		db, err := duckdb.OpenWith(filepath.Join(cfg.DataDir, DatabaseFile), duckdb.Options{
			Properties:     cfg.DuckDBProperties,
			MemoryLimitMiB: cfg.DuckDBMemoryMiB,
		})
		if errors.Is(err, duckdb.ErrNotCandorDatabase) {
			return nil, fmt.Errorf("%w: pass --data a new folder or a data folder of candor serve", err)
		}
		if errors.Is(err, duckdb.ErrNotDuckDBFile) {
			return nil, fmt.Errorf("%w: move %s away, and candor serve starts a new database in its place, or pass another --data",
				err, filepath.Join(cfg.DataDir, DatabaseFile))
		}
		if err != nil {
			return nil, err
		}
		if cfg.DuckDBNoJournal {
			// Events left in the journal by an earlier run are loaded all
			// the same.
			if err := journal.Recover(filepath.Join(cfg.DataDir, JournalDir), db, journal.Options{Logger: cfg.Logger}); err != nil {
				db.Close()
				return nil, err
			}
			return db, nil
		}
		st, err := journal.Open(filepath.Join(cfg.DataDir, JournalDir), db, journal.Options{Logger: cfg.Logger})
		if err != nil {
			db.Close()
			return nil, err
		}
		return st, nil
	case StoreClickHouse:
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return clickhouse.Open(ctx, cfg.ClickHouse)
	case StoreNull:
		return nullStore{}, nil
	}
	return nil, fmt.Errorf("server: unknown store %q: use %s, %s or %s", cfg.Store, StoreDuckDB, StoreClickHouse, StoreNull)
}

func (s *Server) buildHandlers() error {
	projects := append([]collector.Project{{Name: mux.App, WriteKey: s.keys.WriteKey, Catalog: mux.Catalog()}}, s.cfg.Projects...)
	s.projects = nil
	for _, p := range projects {
		s.projects = append(s.projects, p.Name)
	}
	colCfg := s.cfg.Collector
	colCfg.Store, colCfg.Projects, colCfg.Logger = s.store, projects, s.logger
	if s.cfg.Retention > 0 && colCfg.SecretRenewal == 0 {
		colCfg.SecretRenewal = secretRenewal(s.cfg.Retention)
	}
	if s.cfg.Retention > 0 && colCfg.MaxEventAge == 0 {
		// The next retention pass would delete such events.
		colCfg.MaxEventAge = s.cfg.Retention
	}
	if s.cfg.Store == StoreClickHouse && colCfg.CommitInterval == 0 && colCfg.MaxCommitBatch == 0 {
		// ClickHouse wants few large inserts: gather requests for up to a
		// second or 10,000 events per Store.Insert. The collector commits one
		// insert at a time, so the store itself must not wait for more.
		colCfg.CommitInterval = time.Second
		colCfg.MaxCommitBatch = clickhouse.DefaultMaxBatchRows
	}
	col, err := collector.New(colCfg)
	if err != nil {
		return err
	}
	s.collector = col
	dashProjects := make([]dashboard.Project, 0, len(projects))
	for _, p := range projects {
		dashProjects = append(dashProjects, dashboard.Project{Name: p.Name, Catalog: p.Catalog})
	}
	dash, err := dashboard.New(dashboard.Config{
		Store:      s.store,
		AdminToken: s.keys.AdminToken,
		Logger:     s.logger,
		KAnonymity: s.cfg.KAnonymity,
		Projects:   dashProjects,
		OtherAPIRoutes: []string{
			"DELETE /api/v1/installs/{distinct_id}?project=NAME",
			"POST " + collector.SelfDeletePath,
		},
	})
	if err != nil {
		col.Close(context.Background())
		return err
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(col, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if j, ok := s.store.(*journal.Store); ok {
		registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "candor_journal_pending_events",
			Help: "Events synced to the journal and not yet loaded into the database.",
		}, func() float64 { return float64(j.Pending()) }))
	}
	if _, err := fsutil.FreeBytes(s.cfg.DataDir); !errors.Is(err, fsutil.ErrFreeBytesUnsupported) {
		registry.MustRegister(newDiskSpaceCollector(s))
	}

	routes := http.NewServeMux()
	routes.HandleFunc("GET /healthz", serveHealthz)
	routes.HandleFunc("GET /readyz", s.serveReadyz)
	routes.Handle("GET /metrics", s.metricsHandler(registry))
	routes.Handle("DELETE /api/v1/installs/{distinct_id}", s.requireAdmin(http.HandlerFunc(s.serveDeleteInstall)))
	routes.Handle("POST "+collector.SelfDeletePath, col.SelfDeleteHandler())
	// Without these, another method on the two paths would fall through
	// to the dashboard's catch-all and get 404 instead of 405.
	routes.Handle("/api/v1/installs/{distinct_id}", methodNotAllowed(http.MethodDelete))
	routes.Handle(collector.SelfDeletePath, methodNotAllowed(http.MethodPost))
	routes.Handle("/", dash)

	s.httpServer = &http.Server{
		Handler:           s.route(routes),
		ReadHeaderTimeout: readHeaderTimeout,
		// ReadTimeout bounds the header and body of a request, so a client
		// that stops sending a body cannot hold its connection for good.
		// The collector replaces it with a deadline of BodyReadTimeout when
		// it starts to read a capture body.
		ReadTimeout: readHeaderTimeout + cmp.Or(s.cfg.Collector.BodyReadTimeout, collector.DefaultBodyReadTimeout),
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	return nil
}

// route sends capture paths to the collector before the ServeMux matches
// them. The ServeMux redirects a path such as //batch/ with a 307, and
// posthog-go sends that path when its endpoint ends in a slash. The other
// paths that the collector owns, such as /decide/ of posthog-js, get its
// JSON 404 in place of the dashboard's plain-text one.
func (s *Server) route(routes *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.listener.closeAfterResponse() {
			w.Header().Set("Connection", "close")
		}
		if s.collector.OwnsPath(r.URL.Path) {
			s.collector.ServeHTTP(w, r)
			return
		}
		rw := &headerWatch{ResponseWriter: w}
		defer s.recoverPanic(rw, r)
		routes.ServeHTTP(rw, r)
	})
}

// recoverPanic turns a panic of a dashboard, API or operations handler
// into a 500 response and an error log line with the stack, at most one
// per logutil.Interval. After the handler has written its header, it
// aborts the connection instead. The collector recovers its own panics.
func (s *Server) recoverPanic(w *headerWatch, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	s.panicLog.Error(s.logger, "handler panicked", "path", loggedPath(r), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	if w.wroteHeader {
		// The client has part of the body, which may look complete, such
		// as an export cut between two lines. Aborting the connection
		// makes its read fail instead.
		panic(http.ErrAbortHandler)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, `{"error":"internal error: the collector's log has the details"}`+"\n")
}

// loggedPath returns the path of r for a log line. For a route with a
// wildcard it returns the route pattern instead, because the path of
// DELETE /api/v1/installs/{distinct_id} contains an install ID, and the log
// outlives the deletion.
func loggedPath(r *http.Request) string {
	if strings.Contains(r.Pattern, "{") {
		return r.Pattern
	}
	return r.URL.Path
}

// headerWatch records whether a handler has written its response header.
type headerWatch struct {
	http.ResponseWriter
	wroteHeader bool
}

func (w *headerWatch) WriteHeader(status int) {
	w.wroteHeader = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *headerWatch) Write(p []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the server's ResponseWriter.
func (w *headerWatch) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// URL returns the base URL the server listens on, such as
// http://127.0.0.1:8787.
func (s *Server) URL() string { return "http://" + s.listener.Addr().String() }

// Keys returns the write key and admin token in use.
func (s *Server) Keys() Keys { return s.keys }

// KeysCreated reports whether New generated keys and saved them in the data
// folder.
func (s *Server) KeysCreated() bool { return s.keysSaved }

// Store returns the server's store.
func (s *Server) Store() store.Store { return s.store }

// Collector returns the server's collector, for its Stats.
func (s *Server) Collector() *collector.Collector { return s.collector }

// Serve accepts requests until Shutdown is called. It returns nil after a
// clean shutdown. It also starts the background jobs: the retention pass at
// start and then once a day. /readyz reports ready once the first pass is
// done.
func (s *Server) Serve() error {
	s.logger.Info("serving", "addr", s.listener.Addr().String(), "data", s.cfg.DataDir, "store", cmp.Or(s.cfg.Store, StoreDuckDB))
	if s.checksDiskSpace() {
		if err := s.checkDiskSpace(); err != nil {
			s.logger.Warn("/readyz reports not ready until this is fixed", "err", err)
		}
	}
	s.jobsMu.Lock()
	if !s.jobsStarted && !s.jobsStopped {
		s.jobsStarted = true
		s.jobs.Add(1)
		go func() {
			defer s.jobs.Done()
			s.runJobs(s.jobsCtx)
		}()
	}
	s.jobsMu.Unlock()
	err := s.httpServer.Serve(s.listener)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting requests, waits for in-flight ones within ctx
// (or ShutdownTimeout when ctx has no deadline), drains the collector's
// pending commits and closes the store. It is safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
		defer cancel()
	}
	s.draining.Store(true)
	s.jobsMu.Lock()
	s.jobsStopped = true
	s.jobsMu.Unlock()
	s.stopJobs()
	httpErr := s.shutdownHTTP(ctx)
	colErr := s.collector.Close(ctx)
	s.jobs.Wait()
	storeErr := s.store.Close()
	lockErr := s.dataLock.Unlock()
	// The totals include the events that the journal loaded at Close,
	// which the last capture summary may not count yet.
	stats := s.collector.Stats()
	s.logger.Info("stopped", "addr", s.listener.Addr().String(),
		"accepted", stats.Accepted, "stored", stats.Stored, "duplicates", stats.Duplicates)
	return errors.Join(httpErr, colErr, storeErr, lockErr)
}

// shutdownHTTP stops the HTTP server. Requests get half of the time left
// in ctx to finish, so that the collector keeps the other half for its
// commits, and the connections of requests still running then are closed.
// Such a request is often a client that stalls in its body. When its
// events were complete, the collector still commits them, and the client's
// retry is stored once.
func (s *Server) shutdownHTTP(ctx context.Context) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		return s.httpServer.Shutdown(ctx)
	}
	half, cancel := context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)/2))
	defer cancel()
	err := s.httpServer.Shutdown(half)
	if err == nil || ctx.Err() != nil {
		return err
	}
	s.logger.Warn("closing the connections of requests that did not finish in half of the shutdown time",
		"time_left", time.Until(deadline).Round(time.Millisecond), "err", err)
	return s.httpServer.Close()
}
