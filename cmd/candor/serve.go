package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/server"
	"github.com/candor-dev/candor/internal/store/clickhouse"
	"github.com/candor-dev/candor/internal/store/duckdb"
	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

type serveFlags struct {
	data, listen, writeKey, adminToken, logLevel string
	store, clickhouseURL, clickhouseDatabase     string
	duckdbProperties                             string
	duckdbMemoryMiB                              int

	projects         []collector.Project
	retention        time.Duration
	metricsPublic    bool
	kAnonymity       int
	rateLimit        float64
	rateBurst        int
	maxPendingEvents int
	maxBufferedMiB   int64
	maxDecoding      int
	requestTimeout   time.Duration
	maxConnections   int
	minFreeMiB       int64
	journal          bool

	// flags is the flag set that register filled, which records the
	// flags that the command line set.
	flags *flag.FlagSet
}

// storeFlags maps each serve flag that only one store reads to that
// store's --store value.
var storeFlags = map[string]string{
	"duckdb-properties":   server.StoreDuckDB,
	"duckdb-memory-mib":   server.StoreDuckDB,
	"journal":             server.StoreDuckDB,
	"min-free-mib":        server.StoreDuckDB,
	"clickhouse-url":      server.StoreClickHouse,
	"clickhouse-database": server.StoreClickHouse,
}

// storeNames are the names of the stores in messages.
var storeNames = map[string]string{server.StoreDuckDB: "DuckDB", server.StoreClickHouse: "ClickHouse"}

// Defaults of the serve flags that differ from the collector's defaults.
const (
	defaultRateLimit = 10_000 // events per second per write key
)

func (f *serveFlags) register(fs *flag.FlagSet, defaultData string) {
	f.flags = fs
	fs.StringVar(&f.data, "data", defaultData, "data folder for the database and keys.json")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8787", "address to listen on (host:port)")
	fs.StringVar(&f.writeKey, "write-key", "", "write key SDKs send as api_key (default: generated once and kept in the data folder)")
	fs.StringVar(&f.adminToken, "admin-token", "", "token for the dashboard and query API, at least 16 characters\n"+
		"(default: generated once and kept in the data folder)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&f.store, "store", server.StoreDuckDB, "storage backend: duckdb (a file in --data), clickhouse, or null (keeps nothing; for load tests)")
	fs.StringVar(&f.duckdbProperties, "duckdb-properties", duckdb.PropertiesVariant, "how a new DuckDB database stores event properties, with --store duckdb: variant (typed values;\n"+
		"dashboard queries are faster) or json (JSON text; commits take less than half the CPU); an existing\n"+
		"database keeps its type")
	fs.IntVar(&f.duckdbMemoryMiB, "duckdb-memory-mib", duckdb.DefaultMemoryLimitMiB,
		"memory in MiB for DuckDB's buffer manager, with --store duckdb; queries that need more spill to disk")
	fs.BoolVar(&f.journal, "journal", true, "with --store duckdb, answer requests once their events are synced to a journal in the\n"+
		"data folder and load them into DuckDB in larger batches; false commits each group of requests to DuckDB first")
	fs.StringVar(&f.clickhouseURL, "clickhouse-url", clickhouse.DefaultURL, "ClickHouse HTTP interface, with --store clickhouse; user and password may go in the URL")
	fs.StringVar(&f.clickhouseDatabase, "clickhouse-database", clickhouse.DefaultDatabase, "ClickHouse database, created when missing, with --store clickhouse")

	fs.Func("project", "`NAME=CATALOG.json:WRITEKEY`: accept another app's events, checked against the catalog in\n"+
		"CATALOG.json (what the app's Catalog.MarshalIndent writes), from clients that send WRITEKEY as api_key;\n"+
		"NAME has letters, digits, - and _; repeatable (the built-in project mux uses --write-key)", f.addProject)
	fs.Func("retention", "delete events older than `DURATION` at start and then daily, and drop such events\n"+
		"on arrival, such as 400d or 36h "+
		"(units d, h, m, s; at least 1d; 0 keeps events forever, the default)", func(v string) error {
		d, err := parseRetention(v)
		f.retention = d
		return err
	})
	fs.IntVar(&f.kAnonymity, "k-anonymity", dashboard.DefaultKAnonymity, "least number of distinct installs behind every number the dashboard, the API and\n"+
		"the exports show; smaller cells are shown as \"< k\"; 1 turns suppression off")
	fs.BoolVar(&f.metricsPublic, "metrics-public", false, "serve /metrics without authentication; otherwise it needs\n"+
		"Authorization: Bearer ADMIN_TOKEN")
	fs.Float64Var(&f.rateLimit, "rate-limit", defaultRateLimit, "events per second one write key may send on average; 0 turns the limit off;\n"+
		"requests over it get 429 with Retry-After")
	fs.IntVar(&f.rateBurst, "rate-burst", 0, "events one write key may send at once after a quiet period (default: 10 seconds of --rate-limit)")
	fs.IntVar(&f.maxPendingEvents, "max-pending-events", collector.DefaultMaxPendingEvents,
		"events waiting for their commit before requests get 503 with Retry-After")
	fs.Int64Var(&f.maxBufferedMiB, "max-buffered-mib", collector.DefaultMaxBufferedBytes>>20,
		"memory in MiB that requests may hold for bodies and decoded payloads before requests get 503;\n"+
			"a body, or a payload to decode, that alone needs more gets 413")
	fs.IntVar(&f.maxDecoding, "max-decoding", collector.DefaultMaxDecoding(), "requests that may decode their payloads at once; the default is twice the CPUs, at least 4")
	fs.IntVar(&f.maxConnections, "max-connections", server.DefaultMaxConnections,
		"open client connections; at the limit, responses close their connections and keep-alive connections\n"+
			"idle for 0.5s are closed, so that a waiting client gets one; a client that stalls keeps its connection\n"+
			"for up to 10s (request header), 40s (header and body) or 30s (each 64 KiB of a response)")
	fs.DurationVar(&f.requestTimeout, "request-timeout", collector.DefaultRequestTimeout,
		"longest time from a request's body to the commit of its events; then 503")
	fs.Int64Var(&f.minFreeMiB, "min-free-mib", server.DefaultMinFreeBytes>>20,
		"free space in MiB that the file system of --data needs for /readyz to report ready, with --store duckdb;\n"+
			"0 turns the check off")
}

// addProject parses one --project value: NAME=CATALOG.json:WRITEKEY. The
// write key follows the last colon, so the file path may contain colons.
func (f *serveFlags) addProject(v string) error {
	name, rest, ok := strings.Cut(v, "=")
	i := strings.LastIndex(rest, ":")
	if !ok || name == "" || i <= 0 || i == len(rest)-1 {
		return fmt.Errorf("invalid --project %q: use NAME=CATALOG.json:WRITEKEY, such as shop=shop-catalog.json:phc_shop_key", v)
	}
	file, key := rest[:i], rest[i+1:]
	// The name goes into query strings, such as ?project=NAME of the
	// query API, and into file and table data, so it is kept plain.
	if strings.IndexFunc(name, func(r rune) bool { return !isProjectNameRune(r) }) >= 0 {
		return fmt.Errorf("invalid project name %q in --project: use letters, digits, - or _", name)
	}
	if name == mux.App {
		return fmt.Errorf("project name %q in --project is the built-in Mux project, which takes --write-key: choose another name", name)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read catalog of project %q: %w (pass the JSON file that the app's Catalog.MarshalIndent writes, "+
			"as \"candor catalog --format json\" prints it for the built-in catalog)", name, err)
	}
	c, err := catalog.Parse(data)
	if err != nil {
		return fmt.Errorf("read catalog %q of project %q: %w (write the file with Catalog.MarshalIndent from the app's event types)", file, name, err)
	}
	f.projects = append(f.projects, collector.Project{Name: name, WriteKey: key, Catalog: c})
	return nil
}

func isProjectNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// minRetention is the shortest retention period that --retention takes.
const minRetention = 24 * time.Hour

// parseRetention reads a duration with the units of time.ParseDuration
// plus d for days of 24 hours, such as 400d, 36h or 0. It rejects periods
// shorter than minRetention except 0, which keeps events forever.
func parseRetention(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(v, "d"); ok {
		var n float64
		n, err = strconv.ParseFloat(days, 64)
		d = time.Duration(n * float64(24*time.Hour))
		if err == nil && (n*24 > float64(1<<63-1)/float64(time.Hour)) {
			err = errors.New("too long")
		}
	} else if v == "0" {
		return 0, nil
	} else {
		d, err = time.ParseDuration(v)
	}
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid retention %q: use a positive duration such as 400d or 36h, or 0 to keep events forever", v)
	}
	if d > 0 && d < minRetention {
		return 0, fmt.Errorf("invalid retention %q: must be at least 1d (24h), because the collector drops events that "+
			"arrive older than the period: use a period such as 400d, or 0 to keep events forever", v)
	}
	return d, nil
}

func (f *serveFlags) logger(stderr io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q: use debug, info, warn or error", f.logLevel)
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})), nil
}

// start checks the flags and starts the server. An invalid flag value is
// a usageError, and the errors of server.New, such as a port in use or a
// store that cannot open, are not. When ctx ends, the start stops waiting
// for a ClickHouse server.
func (f *serveFlags) start(ctx context.Context, stderr io.Writer) (*server.Server, error) {
	if err := f.checkProjects(); err != nil {
		if f.flags != nil {
			f.flags.Usage()
		}
		return nil, asUsageError(err)
	}
	cfg, err := f.config(stderr)
	if err != nil {
		return nil, asUsageError(err)
	}
	if cfg.Store == server.StoreClickHouse {
		warnUnmigratedDuckDB(cfg.Logger, cfg.DataDir)
	}
	srv, err := server.NewContext(ctx, cfg)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted before the collector started: %w", err)
	}
	return srv, err
}

// warnUnmigratedDuckDB logs a warning when the data folder contains a DuckDB
// database that candor migrate has not copied. The ClickHouse store reads
// neither that database nor its journal, so their events, acknowledged
// ones included, are missing from ClickHouse until migrate copies them.
func warnUnmigratedDuckDB(logger *slog.Logger, dataDir string) {
	if _, err := os.Stat(filepath.Join(dataDir, server.DatabaseFile)); err != nil {
		return
	}
	if _, err := os.Stat(filepath.Join(dataDir, migratedFile)); err == nil {
		return
	}
	logger.Warn("data folder contains a DuckDB database that candor migrate has not copied, so its events are not in ClickHouse",
		"data", dataDir, "database", server.DatabaseFile,
		"fix", "stop candor serve and run candor migrate with the same --data, --clickhouse-url and --clickhouse-database")
}

// config checks the flags and returns the server's configuration. Each
// error names an invalid flag value.
func (f *serveFlags) config(stderr io.Writer) (server.Config, error) {
	logger, err := f.logger(stderr)
	if err != nil {
		return server.Config{}, err
	}
	if err := checkListen(f.listen); err != nil {
		return server.Config{}, err
	}
	if info, err := os.Stat(f.data); err == nil && !info.IsDir() {
		return server.Config{}, fmt.Errorf("invalid --data %q: it is a file: pass --data a folder that candor can create and write", f.data)
	}
	if _, ok := storeNames[f.store]; !ok && f.store != server.StoreNull {
		return server.Config{}, fmt.Errorf("invalid --store %q: use %s, %s or %s", f.store, server.StoreDuckDB, server.StoreClickHouse, server.StoreNull)
	}
	if err := f.rejectOtherStoreFlags(); err != nil {
		return server.Config{}, err
	}
	if err := f.checkKeys(); err != nil {
		return server.Config{}, err
	}
	if err := f.checkLimits(); err != nil {
		return server.Config{}, err
	}
	if f.kAnonymity < 1 {
		return server.Config{}, fmt.Errorf("invalid --k-anonymity %d: use 1 or more (1 turns suppression off)", f.kAnonymity)
	}
	if f.duckdbMemoryMiB < duckdb.MinMemoryLimitMiB {
		return server.Config{}, fmt.Errorf("invalid --duckdb-memory-mib %d: use %d or more", f.duckdbMemoryMiB, duckdb.MinMemoryLimitMiB)
	}
	if f.duckdbProperties != duckdb.PropertiesVariant && f.duckdbProperties != duckdb.PropertiesJSON {
		return server.Config{}, fmt.Errorf("invalid --duckdb-properties %q: use %s or %s", f.duckdbProperties, duckdb.PropertiesVariant, duckdb.PropertiesJSON)
	}
	minFreeBytes, err := f.minFreeBytes()
	if err != nil {
		return server.Config{}, err
	}
	ch, err := clickhouseConfig(f.clickhouseURL, f.clickhouseDatabase)
	if err != nil {
		return server.Config{}, err
	}
	return server.Config{
		DataDir:          f.data,
		Listen:           f.listen,
		WriteKey:         f.writeKey,
		AdminToken:       f.adminToken,
		Logger:           logger,
		Store:            f.store,
		ClickHouse:       ch,
		DuckDBProperties: f.duckdbProperties,
		DuckDBMemoryMiB:  f.duckdbMemoryMiB,
		DuckDBNoJournal:  !f.journal,
		Projects:         f.projects,
		Retention:        f.retention,
		MetricsPublic:    f.metricsPublic,
		KAnonymity:       f.kAnonymity,
		MaxConnections:   f.maxConnections,
		MinFreeBytes:     minFreeBytes,
		Collector: collector.Config{
			RateLimit:        f.rateLimit,
			RateBurst:        f.rateBurst,
			MaxPendingEvents: f.maxPendingEvents,
			MaxBufferedBytes: f.maxBufferedMiB << 20,
			MaxDecoding:      f.maxDecoding,
			RequestTimeout:   f.requestTimeout,
		},
	}, nil
}

// checkListen rejects a --listen value without a port or with a port out
// of range. A host that does not resolve fails later, in server.New, with
// the resolver's error.
func checkListen(listen string) error {
	_, port, err := net.SplitHostPort(listen)
	if err == nil {
		// LookupPort reads numbers and the service names of /etc/services,
		// as net.Listen does, and "" means any free port.
		_, err = net.LookupPort("tcp", port)
	}
	if err != nil {
		return fmt.Errorf("invalid --listen %q: use HOST:PORT with a port from 0 to 65535, such as 127.0.0.1:8787", listen)
	}
	return nil
}

// checkKeys rejects a short --admin-token and keys given on the command
// line that equal the admin token. server.New checks the same for keys
// that come from the data folder.
func (f *serveFlags) checkKeys() error {
	// The token opens the dashboard and the admin API, including
	// deletion, and a short one can be guessed.
	if n := utf8.RuneCountInString(f.adminToken); n > 0 && n < server.MinAdminTokenLength {
		// The message leaves the token out, because it is a secret.
		return fmt.Errorf("invalid --admin-token: shorter than %d characters: use a long random token, "+
			"or leave the flag out to generate one", server.MinAdminTokenLength)
	}
	if f.adminToken == "" {
		return nil
	}
	if f.writeKey == f.adminToken {
		return errors.New("invalid --write-key: it equals --admin-token: give them different values")
	}
	for _, p := range f.projects {
		if p.WriteKey == f.adminToken {
			return fmt.Errorf("invalid --project %q: its write key equals --admin-token: give them different values", p.Name)
		}
	}
	return nil
}

// checkProjects rejects --project flags that name the same project twice
// or give a write key that another project takes, which the collector
// would reject after the store is open. A --project key that equals the
// write key in keys.json, with no --write-key given, is left to the
// collector.
func (f *serveFlags) checkProjects() error {
	names := map[string]bool{}
	keys := map[string]string{}
	for _, p := range f.projects {
		switch {
		case names[p.Name]:
			return fmt.Errorf("invalid --project %q: given twice: pass one --project per project", p.Name)
		case keys[p.WriteKey] != "":
			return fmt.Errorf("invalid --project %q: its write key equals that of --project %q: give each project its own write key",
				p.Name, keys[p.WriteKey])
		case f.writeKey != "" && p.WriteKey == f.writeKey:
			return fmt.Errorf("invalid --project %q: its write key equals --write-key, which the built-in project %s takes: "+
				"give each project its own write key", p.Name, mux.App)
		}
		names[p.Name] = true
		keys[p.WriteKey] = p.Name
	}
	return nil
}

// rejectOtherStoreFlags returns an error when the command line sets one
// of storeFlags together with a --store that would ignore it. A flag left
// at its default passes.
func (f *serveFlags) rejectOtherStoreFlags() error {
	if f.flags == nil {
		return nil
	}
	var err error
	f.flags.Visit(func(set *flag.Flag) {
		owner, ok := storeFlags[set.Name]
		if err == nil && ok && owner != f.store {
			err = fmt.Errorf("--%s applies to the %s store only, not to --store %s: remove --%s, or use --store %s",
				set.Name, storeNames[owner], f.store, set.Name, owner)
		}
	})
	return err
}

// minFreeBytes converts --min-free-mib to server.Config.MinFreeBytes,
// which turns the check off with a negative value instead of 0.
func (f *serveFlags) minFreeBytes() (int64, error) {
	switch {
	case f.minFreeMiB < 0:
		return 0, fmt.Errorf("invalid --min-free-mib %d: use 0 (no check) or a positive number of MiB", f.minFreeMiB)
	case f.minFreeMiB > math.MaxInt64>>20:
		return 0, fmt.Errorf("invalid --min-free-mib %d: use at most %d MiB", f.minFreeMiB, int64(math.MaxInt64>>20))
	case f.minFreeMiB == 0:
		return -1, nil
	}
	return f.minFreeMiB << 20, nil
}

// clickhouseConfig builds and validates the ClickHouse settings, taking a
// user and password from the URL's user info so they need no flags of
// their own. Its errors name the flag to change.
func clickhouseConfig(rawURL, database string) (clickhouse.Config, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return clickhouse.Config{}, fmt.Errorf("invalid --clickhouse-url %q: use a URL such as %s", rawURL, clickhouse.DefaultURL)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return clickhouse.Config{}, fmt.Errorf("invalid --clickhouse-url %q: use the server's HTTP interface, such as %s", u.Redacted(), clickhouse.DefaultURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return clickhouse.Config{}, fmt.Errorf("invalid --clickhouse-url %q: remove the query string and the fragment, "+
			"because --clickhouse-database picks the database and a user and password go before the host, as in http://USER:PASSWORD@HOST:PORT",
			u.Redacted())
	}
	// The collector already gathers requests into large inserts (see
	// server.Config.Store), so the store sends each one at once.
	cfg := clickhouse.Config{Database: database, FlushInterval: time.Millisecond}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Password, _ = u.User.Password()
		u.User = nil
	}
	cfg.URL = u.String()
	// The checks above leave Validate only the database name to reject.
	if err := cfg.Validate(); err != nil {
		return clickhouse.Config{}, err
	}
	return cfg, nil
}

const serveSynopsis = `[--data DIR] [--listen HOST:PORT] [--write-key KEY] [--admin-token TOKEN]
       [--project NAME=CATALOG.json:WRITEKEY ...] [--retention 400d] [--k-anonymity 5] [--metrics-public]

Run the collector: PostHog-compatible ingestion on /batch/ and the other capture
paths, the dashboard and query API, /healthz, /readyz, and Prometheus metrics on
/metrics. The built-in project mux takes --write-key; each --project adds an app
with its own catalog and write key. The admin token opens the dashboard, the
query API, DELETE /api/v1/installs/{distinct_id}?project=NAME and, unless
--metrics-public is set, /metrics.

A flag whose help says "with --store duckdb" or "with --store clickhouse"
configures that store only, and serve rejects it with another --store.

Memory: DuckDB is limited to --duckdb-memory-mib, and Go's garbage collector
runs at GOGC=400 with a soft limit of half --max-buffered-mib plus 32 MiB,
unless the GOGC or GOMEMLIMIT environment variables are set.`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", serveSynopsis, stderr)
	var f serveFlags
	f.register(fs, "./candor-data")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	// tuneGC runs before start, which opens the store and may replay its WAL.
	tuneGC(os.Getenv, f.maxBufferedMiB<<20)
	srv, err := f.start(ctx, stderr)
	if err != nil {
		return err
	}
	printKeys(stdout, srv, f.writeKey == "", f.adminToken == "")
	// The collector's line gives the base URL, the SDK's Endpoint, first.
	// loadgen and the durability test read that first field.
	fmt.Fprintf(stdout, "Collector:  %s  (the SDK's Endpoint; PostHog clients send to %s/batch/)\nDashboard:  %s/\n",
		srv.URL(), srv.URL(), srv.URL())
	return serveUntilDone(ctx, srv)
}

// printKeys prints the keys that came from the data folder, so the operator
// can configure SDKs and open the dashboard.
func printKeys(w io.Writer, srv *server.Server, writeKeyStored, adminTokenStored bool) {
	keys := srv.Keys()
	where := "kept in"
	if srv.KeysCreated() {
		where = "generated and saved to"
	}
	if writeKeyStored {
		fmt.Fprintf(w, "Write key:   %s (%s %s)\n", keys.WriteKey, where, server.KeysFile)
	}
	if adminTokenStored {
		fmt.Fprintf(w, "Admin token: %s (%s %s)\n", keys.AdminToken, where, server.KeysFile)
	}
}

// serveUntilDone serves until ctx is cancelled (SIGINT or SIGTERM), then
// drains in-flight requests and closes the store.
func serveUntilDone(ctx context.Context, srv *server.Server) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case err := <-errc:
		srv.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return <-errc
}
