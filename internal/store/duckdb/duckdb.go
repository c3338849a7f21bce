// Package duckdb is the embedded storage backend of the collector: one DuckDB
// database file holds every project's events.
//
// Only one Store may have a database file open at a time. DuckDB locks the
// file against other processes, and Open rejects a second Store for the same
// path inside one process. All methods are safe for concurrent use. Writes
// (Insert, DeleteInstall, DeleteBefore) are serialized on one connection,
// while queries run in parallel on a connection pool.
//
// Events are stored in UTC. The "version" and "backend_platform" properties
// are copied into their own columns when they are non-empty strings, and an
// event without them is left out of the version and platform breakdowns of
// Overview and never matches a Versions or Platforms filter.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"

	"github.com/candor-dev/candor/internal/store"
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store backed by one DuckDB database.
type Store struct {
	path string // absolute path of the database file; empty in memory

	// lifecycle is held for reading by every method while it uses the
	// database and for writing by Close, so Close waits for calls in flight.
	lifecycle sync.RWMutex
	closed    bool

	db *sql.DB

	// properties is the type of the properties column, which decides how
	// the analytics queries read a property.
	properties propertyColumn

	// writeMu serializes every write on writer, the one connection that owns
	// the temporary staging table and the query appender of Insert.
	writeMu sync.Mutex
	writer  *sql.Conn
	// appender is Insert's query appender on writer, created on first use.
	// It belongs to writer's driver connection and is only used inside
	// writer.Raw.
	appender *duckdbdriver.Appender
	// secretsReady is set once withSecrets has created or upgraded the
	// install_secrets table.
	secretsReady bool
}

// openPaths contains the absolute paths of the database files that a Store
// of this process has open. DuckDB's file lock only stops other processes,
// and the driver shares one database instance between connectors of one
// process, so a second Store on the same file would bypass the write lock.
var (
	openPathsMu sync.Mutex
	openPaths   = map[string]bool{}
)

// Open opens the DuckDB database file at path, creating it if it does not
// exist, and brings its schema up to date. An empty path opens a private
// in-memory database that is lost on Close. A DuckDB file with tables but
// no schema_version table, such as a database of another program, is left
// unchanged, and Open fails with ErrNotCandorDatabase.
func Open(path string) (*Store, error) {
	return open(path, newPropertyColumn, DefaultMemoryLimitMiB, false)
}

// The types OpenWith may give the properties column of a new database.
const (
	// PropertiesVariant stores each property as a typed value (DuckDB's
	// VARIANT), which Open picks. Dashboard queries that read properties
	// run 5 to 38 times faster than on JSON text, and a commit of 1,000
	// events takes about 2.5 times the CPU (docs/benchmarks.md).
	PropertiesVariant = "variant"
	// PropertiesJSON stores the properties as JSON text, which DuckDB parses
	// on every read. It suits a collector that ingests more than it is
	// queried.
	PropertiesJSON = "json"
)

// Options are the choices of OpenWith. The zero value gives Open's.
type Options struct {
	// Properties is the type of the properties column of a new database:
	// PropertiesVariant, PropertiesJSON, or "" for Open's choice. A
	// database that exists keeps the type it was created with;
	// Store.PropertiesType reports it.
	Properties string
	// MemoryLimitMiB bounds the memory of DuckDB's buffer manager, in MiB:
	// DefaultMemoryLimitMiB when 0, and at least MinMemoryLimitMiB.
	MemoryLimitMiB int
	// Existing, if set, makes OpenWith fail with ErrNotCandorDatabase also
	// for a DuckDB file without any table, instead of creating candor's
	// schema in it. A missing file fails with an error that wraps
	// fs.ErrNotExist instead of being created.
	Existing bool
}

// ErrNotCandorDatabase is the error of Open, OpenWith and Compact for a
// DuckDB file that candor did not create: one without a schema_version
// table.
var ErrNotCandorDatabase = errors.New("not a candor database: it has no schema_version table")

// ErrNotDuckDBFile is the error of Open, OpenWith and Compact for a file
// that DuckDB cannot read as a database, such as an empty or damaged one.
var ErrNotDuckDBFile = errors.New("not a DuckDB database file")

// OpenWith opens path like Open, with the choices of opts.
func OpenWith(path string, opts Options) (*Store, error) {
	limit := opts.MemoryLimitMiB
	if limit == 0 {
		limit = DefaultMemoryLimitMiB
	}
	if limit < MinMemoryLimitMiB {
		return nil, fmt.Errorf("open duckdb %q: invalid memory limit of %d MiB: use %d or more", path, limit, MinMemoryLimitMiB)
	}
	switch opts.Properties {
	case "", PropertiesVariant:
		return open(path, variantProperties, limit, opts.Existing)
	case PropertiesJSON:
		return open(path, jsonProperties, limit, opts.Existing)
	}
	return nil, fmt.Errorf("open duckdb %q: invalid properties type %q: use %q or %q", path, opts.Properties, PropertiesVariant, PropertiesJSON)
}

// PropertiesType returns the type of the database's properties column:
// PropertiesVariant or PropertiesJSON.
func (s *Store) PropertiesType() string {
	if s.properties == jsonProperties {
		return PropertiesJSON
	}
	return PropertiesVariant
}

// open opens path like Open, with a memory limit of limitMiB, and migrates
// a database older than version 2 to properties of type column.
func open(path string, column propertyColumn, limitMiB int, existing bool) (*Store, error) {
	if existing {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open duckdb %q: %w", path, err)
		}
	}
	absPath, err := claimPath(path)
	if err != nil {
		return nil, err
	}

	s, err := openClaimed(path, absPath, column, limitMiB, existing)
	if err != nil {
		releasePath(absPath)
		return nil, err
	}
	return s, nil
}

func openClaimed(path, absPath string, column propertyColumn, limitMiB int, existing bool) (*Store, error) {
	db, err := connect(path, absPath, limitMiB)
	if err != nil {
		return nil, err
	}

	ctx := context.Background()
	if err := checkCandorSchema(ctx, db, !existing); err != nil {
		db.Close()
		return nil, fmt.Errorf("open duckdb %q: %w", path, err)
	}
	if err := migrate(ctx, db, column); err != nil {
		db.Close()
		return nil, fmt.Errorf("open duckdb %q: %w", path, err)
	}
	properties, err := readPropertyColumn(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open duckdb %q: %w", path, err)
	}

	writer, err := db.Conn(ctx)
	if err == nil {
		_, err = writer.ExecContext(ctx, createStagingSQL)
	}
	if err != nil {
		if writer != nil {
			writer.Close()
		}
		db.Close()
		return nil, fmt.Errorf("open duckdb %q: create staging table: %w", path, err)
	}

	return &Store{path: absPath, db: db, properties: properties, writer: writer}, nil
}

// checkCandorSchema returns ErrNotCandorDatabase when db has no
// schema_version table, which migrate creates first in every candor
// database. With allowEmpty, a database without any table or view passes
// too: DuckDB creates one when it opens a missing file, and a crash before
// the first migration leaves such a file.
func checkCandorSchema(ctx context.Context, db *sql.DB, allowEmpty bool) error {
	var candor, all int
	err := db.QueryRowContext(ctx, `SELECT
			count(*) FILTER (WHERE table_schema = 'main' AND table_name = 'schema_version'),
			count(*)
		FROM information_schema.tables
		WHERE table_catalog = current_database()`).Scan(&candor, &all)
	if err != nil {
		return fmt.Errorf("look for the schema_version table: %w", err)
	}
	if candor == 0 && (all > 0 || !allowEmpty) {
		return ErrNotCandorDatabase
	}
	return nil
}

// connect opens the database file at absPath, named path in errors, with
// a memory limit of limitMiB, and replays its WAL.
func connect(path, absPath string, limitMiB int) (*sql.DB, error) {
	memoryLimit := strconv.Itoa(limitMiB) + "MiB"
	connector, err := duckdbdriver.NewConnector(openDSN(absPath, memoryLimit), initConn)
	if err != nil {
		if isLockError(err) {
			return nil, fmt.Errorf("open duckdb %q: %w (is another candor serve using this data folder?)", path, err)
		}
		if isInvalidFileError(err) {
			return nil, fmt.Errorf("open duckdb %q: %w (%w)", path, ErrNotDuckDBFile, err)
		}
		return nil, fmt.Errorf("open duckdb %q: %w", path, err)
	}
	return sql.OpenDB(connector), nil
}

// claimPath returns the absolute form of path and records it as open, or
// fails if a Store of this process already has it open.
func claimPath(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	if strings.ContainsAny(path, "?#") {
		return "", fmt.Errorf("open duckdb %q: invalid path: the driver reads the path as a URL, where '?' and '#' end it: rename the file or folder", path)
	}
	if _, err := url.Parse(path); err != nil {
		return "", fmt.Errorf("open duckdb %q: invalid path: the driver reads the path as a URL, and a '%%' must start an escape such as %%20: rename the file or folder", path)
	}
	absPath, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("open duckdb %q: %w", path, err)
	}

	openPathsMu.Lock()
	defer openPathsMu.Unlock()
	if openPaths[absPath] {
		return "", fmt.Errorf("open duckdb %q: file is already open in this process (is another candor serve using this data folder?)", path)
	}
	openPaths[absPath] = true
	return absPath, nil
}

func releasePath(absPath string) {
	if absPath == "" {
		return
	}
	openPathsMu.Lock()
	delete(openPaths, absPath)
	openPathsMu.Unlock()
}

// checkpointThreshold is the WAL size at which DuckDB checkpoints: it
// writes the rows committed since the last checkpoint into the database
// file, compressing each column again, and truncates the WAL. DuckDB's
// default, 16 MiB, made the collector checkpoint every few seconds under
// load, each time recompressing the table's newest row group, which was
// still filling. With 256 MiB, `candor loadgen` stored 51,000 to 58,000
// events per second in 100-event batches instead of 32,000, with a p99
// latency of 73 to 80 ms instead of 1.5 s (docs/benchmarks.md). The cost
// is a longer replay of the WAL when the database opens after a crash,
// and rows not yet checkpointed held in memory.
const checkpointThreshold = "256MiB"

// DefaultMemoryLimitMiB bounds the memory of DuckDB's buffer manager, which holds
// the rows not yet checkpointed, cached blocks of the file and the working
// memory of queries and checkpoints. DuckDB's default is 80% of the
// machine's memory. A process that inserted 600,000 Mux events in commits
// of 2,000 peaked at 570 to 670 MiB of RSS without a limit, at checkpoint
// thresholds from 16 to 256 MiB. With a limit of 200 MiB it peaked at 315
// MiB.
// Queries that need more spill to the temporary directory next to the
// database file.
const DefaultMemoryLimitMiB = 256

// MinMemoryLimitMiB is the smallest memory limit OpenWith accepts.
// NOTE: the value is a guess. Ingestion and queries were measured at 200
// MiB and above only.
const MinMemoryLimitMiB = 32

// openDSN returns the DSN that opens absPath, or a database in memory for
// "", with memoryLimit (such as "256MiB") and checkpointThreshold in force
// from the start. Both settings are global to the database. DuckDB replays
// the WAL while the connector opens the database, before any connection
// exists, so they must come with the DSN to apply to the replay.
func openDSN(absPath, memoryLimit string) string {
	options := url.Values{}
	options.Set("memory_limit", memoryLimit)
	options.Set("checkpoint_threshold", checkpointThreshold)
	return absPath + "?" + options.Encode()
}

// initConn runs on every new connection. The session time zone matters
// because the driver binds time.Time parameters as TIMESTAMPTZ, which DuckDB
// converts to the TIMESTAMP columns through that zone.
func initConn(execer driver.ExecerContext) error {
	_, err := execer.ExecContext(context.Background(), "SET TimeZone = 'UTC'", nil)
	return err
}

// isLockError reports whether err is DuckDB failing to lock the database
// file because another process holds it.
func isLockError(err error) bool {
	var duckErr *duckdbdriver.Error
	if !errors.As(err, &duckErr) || duckErr.Type != duckdbdriver.ErrorTypeIO {
		return false
	}
	return strings.Contains(duckErr.Msg, "lock")
}

// isInvalidFileError reports whether err is DuckDB failing to read a file
// as a database, as for an empty file or one of another format.
func isInvalidFileError(err error) bool {
	var duckErr *duckdbdriver.Error
	if !errors.As(err, &duckErr) || duckErr.Type != duckdbdriver.ErrorTypeIO {
		return false
	}
	return strings.Contains(duckErr.Msg, "not a valid DuckDB database file")
}

// Close waits for calls in flight, then checkpoints and closes the database.
// Calls after Close return store.ErrClosed. Close is idempotent.
func (s *Store) Close() error {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true

	appenderErr := s.closeAppender()
	writerErr := s.writer.Close()
	dbErr := s.db.Close()
	releasePath(s.path)
	if err := errors.Join(appenderErr, writerErr, dbErr); err != nil {
		return fmt.Errorf("close duckdb %q: %w", s.path, err)
	}
	return nil
}

// acquire holds the store open for one call. The caller must call the
// returned function when the call no longer uses the database.
func (s *Store) acquire() (release func(), err error) {
	s.lifecycle.RLock()
	if s.closed {
		s.lifecycle.RUnlock()
		return nil, store.ErrClosed
	}
	return s.lifecycle.RUnlock, nil
}

// Ping reports store.ErrClosed after Close and otherwise checks that the
// database hands out a connection. It runs no query, so queries in
// flight do not delay it.
func (s *Store) Ping(ctx context.Context) error {
	release, err := s.acquire()
	if err != nil {
		return err
	}
	defer release()
	if err := s.db.PingContext(ctx); err != nil {
		return markUnavailable(fmt.Errorf("ping duckdb %q: %w", s.path, err))
	}
	return nil
}
