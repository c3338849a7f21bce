package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"

	"github.com/candor-dev/candor/internal/store"
)

// Insert stores the events that are not stored yet in one transaction and
// returns how many it stored. A (Project, UUID) pair that appears twice in
// events is stored once, from its first occurrence. An invalid UUID fails
// the whole call, and nothing is stored.
//
// Insert encodes the properties as JSON text in Go and sends the rows
// through the driver's query appender, which runs one INSERT over them and
// commits, so a call costs one statement. That INSERT has no ON CONFLICT
// clause, because DO NOTHING made a call cost 1.6 to 2.6 times the CPU
// time with VARIANT properties. When an event is already stored, the INSERT
// fails on the primary key, and Insert repeats the call through a staging
// table and INSERT ... ON CONFLICT DO NOTHING, which also counts the rows
// it stored.
//
// A call takes about 1.8 ms of CPU time plus 27 µs per event with the 14
// properties of a Mux message_sent event. That is 1.8 to 2.2 ms for 1
// event, 4.8 to 6.8 ms for 100 and 28 to 29 ms for 1,000. With three
// statements per call and json.Marshal, the same calls took 7.3 to 7.9
// ms, 12.6 to 14.6 ms and 42 to 43 ms. Measured
// with BenchmarkInsert (CPU time of the process, DuckDB's threads
// included), DuckDB v2.0.0 through duckdb-go v2.20000.0, on 2 shared AMD
// EPYC cores at load average 4. Most of the time per event goes to
// VARIANT in DuckDB: the JSON cast, the WAL and checkpoints. With JSON
// text properties, 1,000 events take 11 ms.
//
// NOTE: DuckDB v2.0.0 writes the VARIANT rows of a commit to the WAL
// together with the VARIANT data of the rows before them in the same
// vector of 2,048 rows. A commit of one Mux event wrote 456 KB of WAL on
// average, against 0.8 KB with JSON text, which also makes checkpoints
// more frequent. Any LIST column does this, and VARIANT is stored as
// lists. Recreating the appender for each commit does not change it.
func (s *Store) Insert(ctx context.Context, events []store.Event) (int, error) {
	release, err := s.acquire()
	if err != nil {
		return 0, err
	}
	defer release()

	rows, err := newEventRows(events)
	if err != nil {
		return 0, err
	}
	if len(rows.rows) == 0 {
		return 0, nil
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	// The appender reports a duplicate key only in the text of a generic
	// error, so any failure of insertNew leads to insertSkippingStored,
	// which fails the same way when the cause is not a stored event.
	err = s.insertNew(ctx, rows)
	if err == nil {
		return len(rows.rows), nil
	}
	if ctx.Err() != nil {
		return 0, store.Unavailable(fmt.Errorf("insert %d events: %w", len(rows.rows), err))
	}
	stored, err := s.insertSkippingStored(ctx, rows)
	if err != nil {
		return 0, markUnavailable(fmt.Errorf("insert %d events: %w", len(rows.rows), err))
	}
	return stored, nil
}

// markUnavailable marks err with store.Unavailable when DuckDB failed on
// its own rather than on the rows. Such failures are input and output
// (a full disk), memory, a fatal error that invalidates the database, an
// interrupted query, a lost connection, and a failed commit that names no
// constraint. The journal never sets aside events whose insert failed
// that way.
func markUnavailable(err error) error {
	var dbErr *duckdbdriver.Error
	if errors.As(err, &dbErr) {
		switch dbErr.Type {
		case duckdbdriver.ErrorTypeIO, duckdbdriver.ErrorTypeOutOfMemory, duckdbdriver.ErrorTypeFatal,
			duckdbdriver.ErrorTypeInterrupt, duckdbdriver.ErrorTypeConnection, duckdbdriver.ErrorTypePermission:
			return store.Unavailable(err)
		case duckdbdriver.ErrorTypeTransaction:
			// DuckDB v2.0.0 reports a commit whose WAL write fails, as on
			// a full disk, as a transaction error: "TransactionContext
			// Error: Failed to commit: Could not write file ...". An error
			// that names a constraint stays unmarked, because the rows
			// caused it.
			if !strings.Contains(strings.ToLower(dbErr.Msg), "constraint") {
				return store.Unavailable(err)
			}
		}
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EIO) || errors.Is(err, sql.ErrConnDone) {
		return store.Unavailable(err)
	}
	return err
}

// insertNew inserts rows with the query appender, in one transaction. It
// fails, and stores nothing, if one of the rows is already stored.
//
// The driver hands the rows to DuckDB one chunk of GetDataChunkCapacity
// rows at a time, and DuckDB may run the appender's query for the chunks
// it holds before the flush, each time in a transaction of its own. So a
// call with more than one chunk of rows opens a transaction first.
func (s *Store) insertNew(ctx context.Context, rows *eventRows) error {
	if len(rows.rows) <= duckdbdriver.GetDataChunkCapacity() {
		return s.appendNew(ctx, rows)
	}

	if _, err := s.writer.ExecContext(ctx, `BEGIN TRANSACTION`); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := s.appendNew(ctx, rows); err != nil {
		if _, rollbackErr := s.writer.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`); rollbackErr != nil {
			return errors.Join(err, fmt.Errorf("roll back: %w", rollbackErr))
		}
		return err
	}
	if _, err := s.writer.ExecContext(ctx, `COMMIT`); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// appendNew sends rows through the query appender of the writer
// connection and flushes it, which runs the appender's INSERT over them.
// After a failure the appender holds no rows.
func (s *Store) appendNew(ctx context.Context, rows *eventRows) error {
	return s.writer.Raw(func(driverConn any) error {
		if s.appender == nil {
			appender, err := newInsertAppender(driverConn.(driver.Conn), s.properties)
			if err != nil {
				return err
			}
			s.appender = appender
		}

		err := rows.appendTo(s.appender)
		if err == nil {
			err = s.appender.FlushWithCancel(ctx)
		}
		if err != nil {
			s.discardAppended()
		}
		return err
	})
}

// discardAppended drops the rows buffered in the query appender after a
// failed append or flush. An appender that cannot be cleared is closed, and
// the next call creates a new one.
func (s *Store) discardAppended() {
	if s.appender.Clear() == nil {
		return
	}
	s.appender.Close()
	s.appender = nil
}

// closeAppender closes the query appender, if there is one. The caller
// must hold writeMu or the lifecycle lock for writing.
func (s *Store) closeAppender() error {
	if s.appender == nil {
		return nil
	}
	var err error
	rawErr := s.writer.Raw(func(any) error {
		err = s.appender.Close()
		return nil
	})
	s.appender = nil
	return errors.Join(err, rawErr)
}

// insertSkippingStored inserts the rows that are not stored yet through
// the staging table, and returns how many it inserted.
func (s *Store) insertSkippingStored(ctx context.Context, rows *eventRows) (int, error) {
	if err := s.stage(ctx, rows); err != nil {
		return 0, err
	}
	result, err := s.writer.ExecContext(ctx, insertStagedSQL(s.properties))
	if err != nil {
		return 0, err
	}
	stored, err := result.RowsAffected()
	if err != nil {
		return 0, err
	}
	return int(stored), nil
}

// stage replaces the contents of the staging table with rows.
func (s *Store) stage(ctx context.Context, rows *eventRows) error {
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM events_staging`); err != nil {
		return fmt.Errorf("empty staging table: %w", err)
	}

	err := s.writer.Raw(func(driverConn any) error {
		appender, err := duckdbdriver.NewAppender(driverConn.(driver.Conn), "temp", "main", "events_staging")
		if err != nil {
			return err
		}
		if err := rows.appendTo(appender); err != nil {
			appender.Clear()
			appender.Close()
			return err
		}
		return appender.CloseWithCancel(ctx)
	})
	if err != nil {
		return fmt.Errorf("stage %d events: %w", len(rows.rows), err)
	}
	return nil
}

// DeleteInstall deletes every event of one install in one project.
//
// DuckDB marks the rows deleted; the bytes of their values stay in the
// database file, and a CHECKPOINT or VACUUM did not remove them. Compact
// rewrites the file without them.
func (s *Store) DeleteInstall(ctx context.Context, project, distinctID string) (int64, error) {
	deleted, err := s.delete(ctx, `DELETE FROM events WHERE project = ? AND distinct_id = ?`, project, distinctID)
	if err != nil {
		return 0, fmt.Errorf("delete an install of project %q: %w", project, err)
	}
	return deleted, nil
}

// DeleteBefore deletes every event with a timestamp before t.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	deleted, err := s.delete(ctx, `DELETE FROM events WHERE ts < CAST(? AS TIMESTAMP)`, t.UTC())
	if err != nil {
		return 0, fmt.Errorf("delete events before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return deleted, nil
}

func (s *Store) delete(ctx context.Context, query string, args ...any) (int64, error) {
	release, err := s.acquire()
	if err != nil {
		return 0, err
	}
	defer release()

	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	result, err := s.writer.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return result.RowsAffected()
}
