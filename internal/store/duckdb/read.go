package duckdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/candor-dev/candor/internal/store"
)

// readEventsSQL selects every event as Insert stored it, in the order of
// ReadEvents: its own columns, the base columns, then the properties
// column as JSON text.
var readEventsSQL = func() string {
	columns := []string{"project", "CAST(uuid AS VARCHAR)", "event", "distinct_id", "ts", "received_at"}
	for _, c := range baseColumns {
		columns = append(columns, c.column)
	}
	columns = append(columns, "CAST(CAST(properties AS JSON) AS VARCHAR)")
	return "SELECT " + strings.Join(columns, ", ") + " FROM events ORDER BY ts, project, uuid"
}()

// ReadEvents calls fn with every stored event, in batches of at most
// batchSize events, ordered by timestamp, then project and UUID. It stops
// at the first error of fn and returns it.
//
// Each event has the fields Insert was given, with the times in UTC to
// the microsecond. Its properties are the properties column with the base
// columns that are not NULL merged back, decoded as encoding/json decodes
// into map[string]any: numbers become float64 and objects map[string]any.
//
// The query streams the sorted rows, so the process holds one batch at a
// time. DuckDB sorts within its memory limit and spills the rest to the
// temporary folder next to the database file. fn may keep the slice. It
// runs while the query holds a connection of the pool, and may call the
// Store's other methods.
func (s *Store) ReadEvents(ctx context.Context, batchSize int, fn func(events []store.Event) error) error {
	if batchSize < 1 {
		return fmt.Errorf("read events: invalid batch size %d: use 1 or more", batchSize)
	}
	release, err := s.acquire()
	if err != nil {
		return err
	}
	defer release()

	rows, err := s.db.QueryContext(ctx, readEventsSQL)
	if err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()

	return readBatches(rows, batchSize, scanEvent, fn, "read events")
}

// readBatches calls fn with the rows that scan reads, in batches of at
// most batchSize, and stops at the first error of fn and returns it. The
// errors of rows and scan are wrapped with action.
func readBatches[T any](rows *sql.Rows, batchSize int, scan func(*sql.Rows) (T, error), fn func([]T) error, action string) error {
	batch := make([]T, 0, batchSize)
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return fmt.Errorf("%s: %w", action, err)
		}
		batch = append(batch, item)
		if len(batch) < batchSize {
			continue
		}
		if err := fn(batch); err != nil {
			return err
		}
		batch = make([]T, 0, batchSize)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

// scanEvent reads one row of readEventsSQL.
func scanEvent(rows *sql.Rows) (store.Event, error) {
	var e store.Event
	var base [len(baseColumns)]any
	var text [len(baseColumns)]sql.NullString
	var flag [len(baseColumns)]sql.NullBool
	for i, c := range baseColumns {
		if c.boolean {
			base[i] = &flag[i]
		} else {
			base[i] = &text[i]
		}
	}
	var properties string
	targets := append([]any{&e.Project, &e.UUID, &e.Name, &e.DistinctID, &e.Timestamp, &e.ReceivedAt}, base[:]...)
	if err := rows.Scan(append(targets, &properties)...); err != nil {
		return store.Event{}, err
	}

	if err := json.Unmarshal([]byte(properties), &e.Properties); err != nil {
		return store.Event{}, fmt.Errorf("event %q of project %q: decode properties: %w", e.UUID, e.Project, err)
	}
	if e.Properties == nil {
		e.Properties = map[string]any{}
	}
	for i, c := range baseColumns {
		switch {
		case c.boolean && flag[i].Valid:
			e.Properties[c.property] = flag[i].Bool
		case !c.boolean && text[i].Valid:
			e.Properties[c.property] = text[i].String
		}
	}
	e.Timestamp = e.Timestamp.UTC()
	e.ReceivedAt = e.ReceivedAt.UTC()
	return e, nil
}
