package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/candor-dev/candor/internal/fsutil"
	"github.com/candor-dev/candor/internal/server"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/clickhouse"
	"github.com/candor-dev/candor/internal/store/duckdb"
	"github.com/candor-dev/candor/internal/store/journal"
)

// Defaults and limits of candor migrate.
const (
	defaultMigrateBatch = 5000
	// maxMigrateBatch bounds the memory of one batch, which the process
	// holds as events and as JSON rows: about 100 MB at 100,000 events of
	// 500 bytes each (an estimate).
	maxMigrateBatch = 100_000
	// migrateProgressInterval is the time between two progress lines.
	migrateProgressInterval = 5 * time.Second
)

const migrateSynopsis = `[--data DIR] [--clickhouse-url URL] [--clickhouse-database DB] [--batch N] [--again]

Copy the events and the deletion key hashes of a DuckDB data folder into a
ClickHouse database, for a move to candor serve --store clickhouse. Stop
candor serve first: migrate takes the data folder's lock, as serve does.
Events still in the journal are loaded into the DuckDB database first, as
candor serve does when it starts.

Events are copied in timestamp order, in batches of --batch events, and the
ClickHouse store skips those it holds already, so running migrate again after
an interruption (Ctrl-C stops it between batches) copies only the rest. At
the end it checks the event count of each project in ClickHouse and exits
with status 1 when one differs. The DuckDB database is left in place, with
a record of the migration in DIR/` + migratedFile + `: a later run refuses
to start without --again, because it would copy back the installs that a
collector serving from ClickHouse has deleted since.`

// migratedFile, in the data folder, records a completed migration.
const migratedFile = "migrated.json"

// migrationRecord is the content of migratedFile.
type migrationRecord struct {
	URL         string    `json:"clickhouse_url"` // without user and password
	Database    string    `json:"clickhouse_database"`
	CompletedAt time.Time `json:"completed_at"`
	Events      int64     `json:"events"`
}

// migrateFlags are the checked flags of candor migrate.
type migrateFlags struct {
	data       string
	database   string // path of the DuckDB database in data
	clickhouse clickhouse.Config
	batch      int
	again      bool
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags, err := parseMigrateFlags(args, stdout, stderr)
	if err != nil {
		return err
	}

	// The lock file stays in a candor data folder, as serve leaves it, but
	// not in a folder of another program.
	lockPath := filepath.Join(flags.data, server.LockFile)
	_, statErr := os.Stat(lockPath)
	lockCreated := isNotFound(statErr)
	lock, err := server.LockDataDir(flags.data)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if err := checkMigratedBefore(flags); err != nil {
		return err
	}

	source, err := openMigrationSource(flags, stderr)
	if err != nil {
		if lockCreated && (errors.Is(err, duckdb.ErrNotCandorDatabase) || errors.Is(err, duckdb.ErrNotDuckDBFile)) {
			lock.Unlock()
			if removeErr := os.Remove(lockPath); removeErr != nil {
				return fmt.Errorf("%w. Removing the lock file %s failed too (%v): delete it", err, lockPath, removeErr)
			}
		}
		return err
	}
	defer source.Close()

	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	target, err := clickhouse.Open(openCtx, flags.clickhouse)
	cancel()
	if err != nil {
		return err // it names the database and the URL
	}
	defer target.Close()

	m := &migration{ctx: ctx, source: source, target: target, targetDatabase: flags.clickhouse.Database,
		batch: flags.batch, progress: stderr, projects: map[string]*projectCounts{}, started: time.Now()}
	if err := m.run(); err != nil {
		return err
	}
	record := migrationRecord{URL: flags.clickhouse.URL, Database: flags.clickhouse.Database, CompletedAt: time.Now().UTC(), Events: m.read}
	if err := writeMigrationRecord(flags.data, record); err != nil {
		return fmt.Errorf("the migration completed (%s), but %w", m.summary(), err)
	}
	fmt.Fprintf(stdout, "Migrated %s to ClickHouse database %s at %s: %s.\n",
		flags.database, flags.clickhouse.Database, flags.clickhouse.URL, m.summary())
	return nil
}

// parseMigrateFlags parses and checks the command line of candor migrate.
// Every invalid value is a usage error.
func parseMigrateFlags(args []string, stdout, stderr io.Writer) (migrateFlags, error) {
	fs := newFlagSet("migrate", migrateSynopsis, stderr)
	data := fs.String("data", "./candor-data", "data folder of a stopped candor serve, which holds "+server.DatabaseFile+" and the journal")
	clickhouseURL := fs.String("clickhouse-url", clickhouse.DefaultURL, "ClickHouse HTTP interface to copy to; user and password may go in the URL")
	database := fs.String("clickhouse-database", clickhouse.DefaultDatabase, "ClickHouse database to copy to, created when missing")
	batch := fs.Int("batch", defaultMigrateBatch, "events per INSERT into ClickHouse")
	again := fs.Bool("again", false, "run although "+migratedFile+" records a completed migration of --data")
	if err := parseFlags(fs, args, stdout); err != nil {
		return migrateFlags{}, err
	}

	if *data == "" {
		return migrateFlags{}, usageErrorf("missing --data: pass the data folder of candor serve, which contains %s", server.DatabaseFile)
	}
	path := filepath.Join(*data, server.DatabaseFile)
	if _, err := os.Stat(path); err != nil {
		if isNotFound(err) {
			return migrateFlags{}, usageErrorf("no database %s in %s (%v): pass the data folder of candor serve with --data", server.DatabaseFile, *data, err)
		}
		return migrateFlags{}, fmt.Errorf("read database %s: %w", path, err)
	}
	if *batch < 1 || *batch > maxMigrateBatch {
		return migrateFlags{}, usageErrorf("invalid --batch %d: use 1 to %d events", *batch, maxMigrateBatch)
	}
	cfg, err := clickhouseConfig(*clickhouseURL, *database)
	if err != nil {
		return migrateFlags{}, asUsageError(err)
	}
	// A full batch is sent at once, and the last one after FlushInterval.
	cfg.MaxBatchRows = *batch
	return migrateFlags{data: *data, database: path, clickhouse: cfg, batch: *batch, again: *again}, nil
}

// checkMigratedBefore returns an error when the data folder records a
// completed migration and --again is not set.
func checkMigratedBefore(flags migrateFlags) error {
	path := filepath.Join(flags.data, migratedFile)
	text, err := os.ReadFile(path)
	if isNotFound(err) || flags.again {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the migration record %s: %w", path, err)
	}
	var record migrationRecord
	if err := json.Unmarshal(text, &record); err != nil {
		return fmt.Errorf("invalid migration record %s (%v): remove it only if no migration of %s completed", path, err, flags.data)
	}
	return fmt.Errorf("%s was migrated to ClickHouse database %s at %s on %s (%d events). "+
		"A collector serving from ClickHouse may have deleted installs since, and running again would copy them back: "+
		"pass --again only if it has not",
		flags.data, record.Database, record.URL, record.CompletedAt.Format(time.RFC3339), record.Events)
}

// writeMigrationRecord writes migratedFile into the data folder, so a
// crash leaves either no record or a whole one.
func writeMigrationRecord(dir string, record migrationRecord) error {
	text, err := json.MarshalIndent(record, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, migratedFile)
	if err := fsutil.WriteFileAtomic(path, append(text, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the migration record %s: %w", path, err)
	}
	return nil
}

// openMigrationSource opens the DuckDB database of the data folder and
// loads the events left in its journal into it, as candor serve does when
// it starts. Those events were acknowledged to clients but not yet loaded.
func openMigrationSource(flags migrateFlags, stderr io.Writer) (*duckdb.Store, error) {
	// Existing keeps migrate from creating candor's schema in a DuckDB
	// file of another program.
	db, err := duckdb.OpenWith(flags.database, duckdb.Options{Existing: true})
	if err != nil {
		return nil, withDataFolderFix(err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	err = journal.Recover(filepath.Join(flags.data, server.JournalDir), db, journal.Options{Logger: logger})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("load the journal of %s into %s: %w", flags.data, flags.database, err)
	}
	return db, nil
}

// migration copies the events and deletion key hashes of one DuckDB store
// into a ClickHouse store and counts them.
type migration struct {
	// ctx ends at Ctrl-C or SIGTERM. The run stops before the next batch
	// then, and a batch under way finishes.
	ctx    context.Context
	source *duckdb.Store
	target *clickhouse.Store
	// targetDatabase is the name of the ClickHouse database, for messages.
	targetDatabase string
	batch          int
	progress       io.Writer

	total    int64 // events in the DuckDB store
	projects map[string]*projectCounts

	// mu guards the counts below while the progress goroutine runs, and
	// its writes to progress.
	mu                         sync.Mutex
	read, inserted, present    int64
	secretsRead, secretsCopied int64

	started time.Time
}

// projectCounts are the event counts of one project.
type projectCounts struct {
	read, inserted int64
	// before is the project's event count in ClickHouse before its first
	// batch, which a run after an interruption, or a collector that wrote
	// to ClickHouse already, leaves above 0.
	before int64
}

// afterMigrateBatch, when a test sets it, runs after each batch of events
// that a migration copied.
var afterMigrateBatch func()

// migrateProgressTicks returns the channel whose ticks make a migration
// print a progress line, and the function that stops the ticks. Tests
// replace it to send ticks of their own.
var migrateProgressTicks = defaultMigrateProgressTicks

// defaultMigrateProgressTicks ticks every migrateProgressInterval.
func defaultMigrateProgressTicks() (<-chan time.Time, func()) {
	ticker := time.NewTicker(migrateProgressInterval)
	return ticker.C, ticker.Stop
}

// errInterrupted ends a migration that a signal stopped between batches.
var errInterrupted = errors.New("interrupted")

// run copies the events, then the deletion keys, and checks the counts.
// ClickHouse keeps no record of deleted installs, so a run after a
// collector served from ClickHouse would copy deleted installs back, which
// the migration record prevents.
func (m *migration) run() error {
	// Work that must not stop halfway, an INSERT and the reads around it,
	// runs with work. Only the DuckDB read and the checks between batches
	// watch m.ctx.
	work := context.WithoutCancel(m.ctx)
	overview, err := m.source.Overview(work, store.Filter{})
	if err != nil {
		return fmt.Errorf("count the events in DuckDB: %w", err)
	}
	m.total = overview.TotalEvents

	stopProgress := m.startProgress()
	err = m.source.ReadEvents(m.ctx, m.batch, func(events []store.Event) error {
		if m.ctx.Err() != nil {
			return errInterrupted
		}
		return m.copyEvents(work, events)
	})
	if err == nil && m.ctx.Err() == nil {
		err = m.copySecrets(work)
	}
	stopProgress()
	// The DuckDB read fails with its own error when the signal cancels
	// it, so any error after a signal counts as the interruption.
	if m.ctx.Err() != nil {
		return fmt.Errorf("interrupted after %s: run candor migrate again with the same flags to copy the rest, "+
			"which skips the events already in ClickHouse", m.summary())
	}
	if err != nil {
		return fmt.Errorf("%w: run candor migrate again to resume (so far %s)", err, m.summary())
	}
	return m.checkCounts(work)
}

// copyEvents inserts one batch into ClickHouse and counts it.
func (m *migration) copyEvents(ctx context.Context, events []store.Event) error {
	groups := map[string][]store.Event{}
	for _, e := range events {
		groups[e.Project] = append(groups[e.Project], e)
	}
	for project := range groups {
		if m.projects[project] != nil {
			continue
		}
		before, err := m.countEvents(ctx, project)
		if err != nil {
			return err
		}
		m.projects[project] = &projectCounts{before: before}
	}

	stored, err := m.insertGroups(ctx, groups)
	if err != nil {
		return fmt.Errorf("insert %d events into ClickHouse: %w", len(events), err)
	}
	m.mu.Lock()
	for project, group := range groups {
		counts := m.projects[project]
		counts.read += int64(len(group))
		counts.inserted += int64(stored[project])
		m.read += int64(len(group))
		m.inserted += int64(stored[project])
		m.present += int64(len(group) - stored[project])
	}
	m.mu.Unlock()
	if afterMigrateBatch != nil {
		afterMigrateBatch()
	}
	return nil
}

// insertGroups inserts the events of each project with an Insert call of
// its own, so that each call returns the count of one project. The calls
// run at once, so the store's batcher joins those that arrive within its
// FlushInterval into one INSERT.
func (m *migration) insertGroups(ctx context.Context, groups map[string][]store.Event) (map[string]int, error) {
	type result struct {
		project string
		stored  int
		err     error
	}
	results := make(chan result, len(groups))
	for project, group := range groups {
		go func() {
			stored, err := m.target.Insert(ctx, group)
			results <- result{project, stored, err}
		}()
	}

	stored := make(map[string]int, len(groups))
	var errs []error
	for range groups {
		r := <-results
		stored[r.project] = r.stored
		errs = append(errs, r.err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return stored, nil
}

// countEvents returns the number of events of project in ClickHouse.
func (m *migration) countEvents(ctx context.Context, project string) (int64, error) {
	overview, err := m.target.Overview(ctx, store.Filter{Project: project})
	if err != nil {
		return 0, fmt.Errorf("count the events of project %q in ClickHouse: %w", project, err)
	}
	return overview.TotalEvents, nil
}

// startProgress starts a goroutine that prints a progress line at each
// tick of migrateProgressTicks, so a slow batch or a long copy of the
// deletion keys still shows that the migration runs. The returned
// function stops the goroutine and prints a last line.
func (m *migration) startProgress() (stop func()) {
	ticks, stopTicks := migrateProgressTicks()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-ticks:
				m.printProgress()
			case <-done:
				return
			}
		}
	}()
	return func() {
		stopTicks()
		close(done)
		<-finished
		m.printProgress()
	}
}

// printProgress prints the counts so far to m.progress.
func (m *migration) printProgress() {
	m.mu.Lock()
	defer m.mu.Unlock()
	percent := 100.0
	if m.total > 0 {
		percent = 100 * float64(m.read) / float64(m.total)
	}
	elapsed := time.Since(m.started)
	fmt.Fprintf(m.progress, "candor migrate: %d of %d events read (%.1f%%), %d inserted, %d already present; %d deletion keys read; %.0f events/s\n",
		m.read, m.total, percent, m.inserted, m.present, m.secretsRead, float64(m.read)/elapsed.Seconds())
}

// copySecrets copies the deletion key hashes with their registration
// times, so that self-service deletion and its retention keep working.
func (m *migration) copySecrets(ctx context.Context) error {
	return m.source.ReadInstallSecrets(ctx, m.batch, func(secrets []store.InstallSecret) error {
		if m.ctx.Err() != nil {
			return errInterrupted
		}
		copied, err := m.target.ImportInstallSecrets(ctx, secrets)
		if err != nil {
			return fmt.Errorf("copy deletion keys to ClickHouse: %w", err)
		}
		m.mu.Lock()
		m.secretsRead += int64(len(secrets))
		m.secretsCopied += int64(copied)
		m.mu.Unlock()
		return nil
	})
}

// checkCounts compares the event count of each project in ClickHouse with
// what the migration read and inserted.
func (m *migration) checkCounts(ctx context.Context) error {
	var problems []string
	for _, project := range m.projectNames() {
		counts := m.projects[project]
		after, err := m.countEvents(ctx, project)
		if err != nil {
			return err
		}
		switch {
		case after < counts.read:
			problems = append(problems, fmt.Sprintf("project %q has %d events in DuckDB but %d in ClickHouse", project, counts.read, after))
		case after != counts.before+counts.inserted:
			problems = append(problems, fmt.Sprintf("project %q has %d events in ClickHouse, expected %d (%d before the migration plus %d inserted)",
				project, after, counts.before+counts.inserted, counts.before, counts.inserted))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the event counts in ClickHouse differ after %s: %s: make sure that no candor serve writes to ClickHouse database %s, then run candor migrate again",
			m.summary(), strings.Join(problems, "; "), m.targetDatabase)
	}
	return nil
}

func (m *migration) projectNames() []string {
	names := make([]string, 0, len(m.projects))
	for name := range m.projects {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// summary returns the counts of the migration for its last line.
func (m *migration) summary() string {
	elapsed := time.Since(m.started)
	return fmt.Sprintf("%d events read, %d inserted, %d already present; %d deletion keys read, %d copied, %d already present; %.1f s, %.0f events/s",
		m.read, m.inserted, m.present, m.secretsRead, m.secretsCopied, m.secretsRead-m.secretsCopied,
		elapsed.Seconds(), float64(m.read)/elapsed.Seconds())
}
