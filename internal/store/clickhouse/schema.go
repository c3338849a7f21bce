package clickhouse

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// migration is one step of the schema: its statements run in order, then
// apply, if set, does what SQL alone cannot.
type migration struct {
	statements []string
	// apply runs with the context Open was given, without Open's time
	// limit, because it may rewrite every event.
	apply func(s *Store, ctx context.Context) error
}

// migrations are applied in order: migrations[i] moves the schema from
// version i to version i+1. Append new migrations, never edit applied ones.
// "{db}" stands for the quoted database name.
//
// ClickHouse has no transactions, and two collectors that start together
// may both apply a migration, so every step must be safe to run twice:
// CREATE ... IF NOT EXISTS, and addColumns for columns, because 18.16 has no
// ALTER ... ADD COLUMN IF NOT EXISTS.
var migrations = []migration{
	{statements: []string{
		// ReplacingMergeTree keeps one row per sorting key, (project, uuid),
		// when it merges parts, so a duplicate written by a second collector
		// disappears in the background. It only merges rows of one partition,
		// which holds because one event has one timestamp.
		//
		// ts is the timestamp to the second: it sets the monthly partition
		// and the UTC day. ts_us is the same instant in microseconds since
		// the Unix epoch, which filters compare with so that sub-second
		// bounds cut where the DuckDB backend cuts. received_at keeps whole
		// seconds only. version and platform copy the "version" and
		// "backend_platform" properties, with '' for an event without them.
		`CREATE TABLE IF NOT EXISTS {db}.events (
			project     String,
			uuid        String,
			event       String,
			distinct_id String,
			ts          DateTime('UTC'),
			ts_us       Int64,
			received_at DateTime('UTC'),
			version     String,
			platform    String,
			properties  String
		)
		ENGINE = ReplacingMergeTree
		PARTITION BY toYYYYMM(ts)
		ORDER BY (project, uuid)`,
	}},
	{
		// prop_keys and prop_values hold the properties as the analytics
		// queries read them, because 18.16 cannot read a key from JSON
		// text: one entry per leaf value, keyed by its path of
		// dot-separated keys, with its text as store.Analytics defines it.
		// See flattenProperties. Rows written before are rewritten with
		// them by backfillProperties.
		apply: func(s *Store, ctx context.Context) error {
			err := s.addColumns(ctx, "events", []string{
				"prop_keys Array(String) AFTER properties",
				"prop_values Array(String) AFTER prop_keys",
			})
			if err != nil {
				return err
			}
			return s.backfillProperties(ctx)
		},
	},
}

// migrate creates the database and the schema_version table when they are
// missing and applies every migration the database has not seen yet. The
// statements run with ctx, and the apply functions with applyCtx.
func (s *Store) migrate(ctx, applyCtx context.Context) error {
	db := "`" + s.config.Database + "`"
	if err := s.createDatabase(ctx); err != nil {
		return err
	}
	// schema_version has one row per applied migration. Its sorting key
	// folds the rows that two collectors migrating at once both write.
	err := s.client.exec(ctx, `CREATE TABLE IF NOT EXISTS `+db+`.schema_version (
		version    UInt32,
		applied_at DateTime('UTC')
	) ENGINE = ReplacingMergeTree ORDER BY version`)
	if err != nil {
		return fmt.Errorf("create schema_version table: %w", err)
	}

	current, err := s.schemaVersion(ctx)
	if err != nil {
		return err
	}
	if current > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this candor supports (%d); upgrade candor", current, len(migrations))
	}

	for version := current; version < len(migrations); version++ {
		step := migrations[version]
		for _, statement := range step.statements {
			if err := s.client.exec(ctx, strings.ReplaceAll(statement, "{db}", db)); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", version+1, err)
			}
		}
		if step.apply != nil {
			if err := step.apply(s, applyCtx); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", version+1, err)
			}
		}
		insert := fmt.Sprintf(`INSERT INTO %s.schema_version SELECT %d, now()`, db, version+1)
		if err := s.client.exec(ctx, insert); err != nil {
			return fmt.Errorf("migrate schema to version %d: record version: %w", version+1, err)
		}
	}
	return nil
}

// createDatabase creates the database unless it exists. It checks first so
// that a user who may use an existing database but not create one can open it.
func (s *Store) createDatabase(ctx context.Context) error {
	rows, err := s.client.query(ctx, `SELECT count() FROM system.databases WHERE name = `+quoteString(s.config.Database))
	if err != nil {
		return fmt.Errorf("look up database: %w", err)
	}
	if len(rows) == 1 && len(rows[0]) == 1 && rows[0][0] == "1" {
		return nil
	}
	if err := s.client.exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+s.config.Database+"`"); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	return nil
}

// schemaVersion returns the highest applied migration, 0 for a new database.
func (s *Store) schemaVersion(ctx context.Context) (int, error) {
	rows, err := s.client.query(ctx, "SELECT max(version) FROM `"+s.config.Database+"`.schema_version")
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return 0, fmt.Errorf("read schema version: unexpected result %q", rows)
	}
	version, err := strconv.Atoi(rows[0][0])
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return version, nil
}

// addColumns adds each column, given as its definition such as "x String
// AFTER y", to table unless the table has a column of that name. A column
// that another collector adds at the same moment makes the ALTER fail, so
// a failed ALTER counts as done when the column exists afterwards.
func (s *Store) addColumns(ctx context.Context, table string, definitions []string) error {
	for _, definition := range definitions {
		name, _, _ := strings.Cut(definition, " ")
		exists, err := s.hasColumn(ctx, table, name)
		if err != nil {
			return err
		}
		if exists {
			continue
		}
		alter := "ALTER TABLE `" + s.config.Database + "`." + table + " ADD COLUMN " + definition
		if err := s.client.exec(ctx, alter); err != nil {
			if exists, checkErr := s.hasColumn(ctx, table, name); checkErr != nil || !exists {
				return fmt.Errorf("add column %s to %s: %w", name, table, err)
			}
		}
	}
	return nil
}

func (s *Store) hasColumn(ctx context.Context, table, column string) (bool, error) {
	rows, err := s.client.query(ctx, `SELECT count() FROM system.columns WHERE database = `+
		quoteString(s.config.Database)+` AND table = `+quoteString(table)+` AND name = `+quoteString(column))
	if err != nil {
		return false, fmt.Errorf("look up column %s of %s: %w", column, table, err)
	}
	return len(rows) == 1 && len(rows[0]) == 1 && rows[0][0] == "1", nil
}
