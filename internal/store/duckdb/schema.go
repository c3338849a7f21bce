package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"
)

// newPropertyColumn is the type migration 2 gives the properties column.
// A database keeps the type it was migrated with, and the store reads
// either type.
const newPropertyColumn = variantProperties

// migrations returns the migrations, to apply in order, with properties of
// type column from version 2 on. migrations[i] moves the schema from
// version i to version i+1, and its statements run in one transaction with
// the version bump. Append new migrations, never edit applied ones.
func migrations(column propertyColumn) [][]string {
	return [][]string{
		{
			// The primary key makes Insert idempotent per (project, uuid). A
			// UUID key is 16 bytes against 36 for its text form, and it made
			// INSERT ... ON CONFLICT of 100 events take 3.8 ms against 7.4 ms
			// for VARCHAR, measured at 200,000 stored events.
			// version and platform copy the "version" and "backend_platform"
			// properties so filters on them skip parsing JSON.
			`CREATE TABLE events (
			project     VARCHAR   NOT NULL,
			uuid        UUID      NOT NULL,
			event       VARCHAR   NOT NULL,
			distinct_id VARCHAR   NOT NULL,
			ts          TIMESTAMP NOT NULL,
			received_at TIMESTAMP NOT NULL,
			version     VARCHAR,
			platform    VARCHAR,
			properties  JSON      NOT NULL,
			PRIMARY KEY (project, uuid)
		)`,
		},
		{
			// Version 2 rebuilds events with two changes for the analytics
			// queries. properties gets the type column, VARIANT for new
			// databases, which DuckDB stores as typed columns per key,
			// while JSON text is parsed on every read. Counting 8 million
			// message_sent events per model took 0.15 s against 2.8 s for
			// JSON, with DuckDB v2.0.0 on 2 shared AMD EPYC cores.
			// install is a 64-bit key of (project, distinct_id), so
			// distinct install counts compare integers instead of string
			// pairs. The rows are copied in timestamp order, which lets the
			// min-max index of each row group skip ranges outside a date
			// filter.
			`CREATE TABLE events_v2 (
			project     VARCHAR   NOT NULL,
			uuid        UUID      NOT NULL,
			event       VARCHAR   NOT NULL,
			distinct_id VARCHAR   NOT NULL,
			install     UBIGINT   NOT NULL,
			ts          TIMESTAMP NOT NULL,
			received_at TIMESTAMP NOT NULL,
			version     VARCHAR,
			platform    VARCHAR,
			properties  ` + string(column) + ` NOT NULL,
			PRIMARY KEY (project, uuid)
		)`,
			`INSERT INTO events_v2
			SELECT project, uuid, event, distinct_id, ` + installKeySQL + `, ts, received_at, version, platform,
				CAST(properties AS ` + string(column) + `)
			FROM events
			ORDER BY ts`,
			`DROP TABLE events`,
			`ALTER TABLE events_v2 RENAME TO events`,
		},
		// Version 3 adds the base columns after version and platform
		// (baseColumns). Rows stored before keep NULL in them.
		{
			`ALTER TABLE events ADD COLUMN electron_version VARCHAR`,
			`ALTER TABLE events ADD COLUMN node_version VARCHAR`,
			`ALTER TABLE events ADD COLUMN bun_version VARCHAR`,
			`ALTER TABLE events ADD COLUMN go_version VARCHAR`,
			`ALTER TABLE events ADD COLUMN catalog_fingerprint VARCHAR`,
			`ALTER TABLE events ADD COLUMN lib VARCHAR`,
			`ALTER TABLE events ADD COLUMN lib_version VARCHAR`,
			`ALTER TABLE events ADD COLUMN geoip_disable BOOLEAN`,
		},
	}
}

// installKeySQL computes the install column from project and distinct_id,
// as installKey does in Go:
// the low 64 bits of the MD5 of the project's length, a colon, the project
// and the distinct ID. The length prefix keeps ("a", "bc") and ("ab", "c")
// apart. MD5 is a fixed algorithm, so the key of an install stays the same
// across DuckDB versions, unlike DuckDB's hash function. Two installs share
// a key with a probability of about n²/2⁶⁵ for n installs. A shared key
// merges them, so install counts can only come out lower, never higher.
const installKeySQL = `md5_number_lower(CAST(length(project) AS VARCHAR) || ':' || project || distinct_id)`

// appendedTable is the name under which the query of Insert's appender
// reads the appended rows.
const appendedTable = "appended"

// insertSQL returns the statement that copies the rows of table source,
// with the columns of insertColumns, into events with properties of type
// column. It casts the properties from JSON text to the column type. With
// skipStored, rows whose (project, uuid) is already stored are skipped,
// and without it such a row fails the statement.
func insertSQL(column propertyColumn, source string, skipStored bool) string {
	names := make([]string, len(insertColumns))
	for i, c := range insertColumns {
		names[i] = c.name
	}
	properties := "CAST(properties AS JSON)"
	if column == variantProperties {
		properties = "CAST(" + properties + " AS VARIANT)"
	}
	selected := slices.Clone(names)
	selected[len(selected)-1] = properties

	query := `INSERT INTO events (` + strings.Join(names, ", ") + `)
		SELECT ` + strings.Join(selected, ", ") + `
		FROM ` + source
	if skipStored {
		query += ` ON CONFLICT DO NOTHING`
	}
	return query
}

// insertStagedSQL returns the statement that copies the staged events that
// are not stored yet into events with properties of type column.
func insertStagedSQL(column propertyColumn) string {
	return insertSQL(column, "events_staging", true)
}

// readPropertyColumn returns the type of the properties column of events.
func readPropertyColumn(ctx context.Context, db *sql.DB) (propertyColumn, error) {
	var dataType string
	err := db.QueryRowContext(ctx, `SELECT data_type FROM information_schema.columns
		WHERE table_schema = 'main' AND table_name = 'events' AND column_name = 'properties'`).Scan(&dataType)
	if err != nil {
		return "", fmt.Errorf("read type of events.properties: %w", err)
	}
	switch column := propertyColumn(dataType); column {
	case jsonProperties, variantProperties:
		return column, nil
	}
	return "", fmt.Errorf("read type of events.properties: unsupported type %q: the database was not written by candor", dataType)
}

// createStagingSQL creates the table that Insert fills with the driver's
// appender when some of its events are already stored, before it copies
// the new ones into events. It has the columns of insertColumns. A
// temporary table lives in memory and belongs to one connection, so
// staging rows never reach the WAL.
var createStagingSQL = func() string {
	columns := make([]string, len(insertColumns))
	for i, c := range insertColumns {
		columns[i] = c.name + " " + stagingTypes[c.dataType]
	}
	return "CREATE TEMPORARY TABLE events_staging (" + strings.Join(columns, ", ") + ")"
}()

// stagingTypes are the SQL types of the staging table's columns.
var stagingTypes = map[duckdbdriver.Type]string{
	duckdbdriver.TYPE_VARCHAR:   "VARCHAR",
	duckdbdriver.TYPE_UUID:      "UUID",
	duckdbdriver.TYPE_UBIGINT:   "UBIGINT",
	duckdbdriver.TYPE_TIMESTAMP: "TIMESTAMP",
	duckdbdriver.TYPE_BOOLEAN:   "BOOLEAN",
}

// migrate creates the schema_version table if needed and applies every
// migration the database has not seen yet, with properties of type column.
func migrate(ctx context.Context, db *sql.DB, column propertyColumn) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_version table: %w", err)
	}

	current, err := readSchemaVersion(ctx, db)
	if err != nil {
		return err
	}
	steps := migrations(column)

	for version := current; version < len(steps); version++ {
		if err := applyMigration(ctx, db, version, steps[version]); err != nil {
			return err
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, from int, statements []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate schema to version %d: %w", from+1, err)
	}
	defer tx.Rollback()

	for _, statement := range statements {
		if _, err := tx.ExecContext(ctx, statement); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", from+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return fmt.Errorf("migrate schema to version %d: %w", from+1, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version VALUES (?)`, from+1); err != nil {
		return fmt.Errorf("migrate schema to version %d: %w", from+1, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate schema to version %d: %w", from+1, err)
	}
	return nil
}

// readSchemaVersion returns the schema version that migrate recorded in
// db, 0 before the first migration. It fails for a version newer than
// this candor's migrations reach.
func readSchemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var current int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if newest := len(migrations(newPropertyColumn)); current > newest {
		return 0, fmt.Errorf("schema version %d is newer than version %d, the newest this candor supports, so upgrade candor", current, newest)
	}
	return current, nil
}
