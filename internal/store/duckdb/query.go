package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/candor-dev/candor/internal/store"
)

// breakdownLimit is the maximum number of rows in Overview.Versions and
// Overview.Platforms.
const breakdownLimit = 10

// whereClause returns the SQL condition that selects the events of f,
// starting with "WHERE", and its arguments. It returns "WHERE true" for the
// zero Filter, so callers may append "AND ..." conditions.
func whereClause(f store.Filter) (string, []any) {
	conditions := []string{"true"}
	var args []any

	if f.Project != "" {
		conditions = append(conditions, "project = ?")
		args = append(args, f.Project)
	}
	conditions, args = appendIn(conditions, args, "project", f.Projects)
	// The driver binds time.Time as TIMESTAMPTZ. Casting the parameter, not
	// the column, keeps the comparison on plain TIMESTAMP values.
	if !f.From.IsZero() {
		conditions = append(conditions, "ts >= CAST(? AS TIMESTAMP)")
		args = append(args, f.From.UTC())
	}
	if !f.To.IsZero() {
		conditions = append(conditions, "ts < CAST(? AS TIMESTAMP)")
		args = append(args, f.To.UTC())
	}
	conditions, args = appendIn(conditions, args, "version", f.Versions)
	conditions, args = appendIn(conditions, args, "platform", f.Platforms)
	conditions, args = appendIn(conditions, args, "event", f.Events)

	return "WHERE " + strings.Join(conditions, " AND "), args
}

// appendIn adds "column IN (?, ...)" for a non-empty values list.
func appendIn(conditions []string, args []any, column string, values []string) ([]string, []any) {
	if len(values) == 0 {
		return conditions, args
	}
	placeholders := strings.Repeat("?, ", len(values)-1) + "?"
	conditions = append(conditions, column+" IN ("+placeholders+")")
	for _, v := range values {
		args = append(args, v)
	}
	return conditions, args
}

// Overview summarizes the events f selects. An install is one (project,
// distinct_id) pair. Breakdown rows with equal event counts are ordered by
// key.
func (s *Store) Overview(ctx context.Context, f store.Filter) (store.Overview, error) {
	release, err := s.acquire()
	if err != nil {
		return store.Overview{}, err
	}
	defer release()

	// One transaction gives every query the same snapshot, so the totals
	// match the breakdowns even while Insert runs.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return store.Overview{}, fmt.Errorf("query overview: %w", err)
	}
	defer tx.Rollback()

	where, args := whereClause(f)
	overview := store.Overview{Events: map[string]int64{}}

	err = tx.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT (project, distinct_id)) FROM events `+where, args...).
		Scan(&overview.TotalEvents, &overview.Installs)
	if err != nil {
		return store.Overview{}, fmt.Errorf("query overview totals: %w", err)
	}
	if err := queryEventCounts(ctx, tx, where, args, overview.Events); err != nil {
		return store.Overview{}, err
	}
	if overview.Versions, err = queryBreakdown(ctx, tx, "version", where, args); err != nil {
		return store.Overview{}, err
	}
	if overview.Platforms, err = queryBreakdown(ctx, tx, "platform", where, args); err != nil {
		return store.Overview{}, err
	}

	if err := tx.Commit(); err != nil {
		return store.Overview{}, fmt.Errorf("query overview: %w", err)
	}
	return overview, nil
}

func queryEventCounts(ctx context.Context, tx *sql.Tx, where string, args []any, counts map[string]int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT event, count(*) FROM events `+where+` GROUP BY event`, args...)
	if err != nil {
		return fmt.Errorf("query event counts: %w", err)
	}
	defer rows.Close()

	for rows.Next() {
		var name string
		var count int64
		if err := rows.Scan(&name, &count); err != nil {
			return fmt.Errorf("query event counts: %w", err)
		}
		counts[name] = count
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query event counts: %w", err)
	}
	return nil
}

// queryBreakdown returns the most frequent non-NULL values of column.
func queryBreakdown(ctx context.Context, tx *sql.Tx, column, where string, args []any) ([]store.KeyCount, error) {
	query := fmt.Sprintf(`SELECT %[1]s, count(*) AS events, count(DISTINCT (project, distinct_id))
		FROM events %[2]s AND %[1]s IS NOT NULL
		GROUP BY %[1]s
		ORDER BY events DESC, %[1]s
		LIMIT %[3]d`, column, where, breakdownLimit)
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query %s breakdown: %w", column, err)
	}
	defer rows.Close()

	breakdown := []store.KeyCount{}
	for rows.Next() {
		var row store.KeyCount
		if err := rows.Scan(&row.Key, &row.Events, &row.Installs); err != nil {
			return nil, fmt.Errorf("query %s breakdown: %w", column, err)
		}
		breakdown = append(breakdown, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query %s breakdown: %w", column, err)
	}
	return breakdown, nil
}

// EventsPerDay counts the events f selects per UTC day and event name.
func (s *Store) EventsPerDay(ctx context.Context, f store.Filter) ([]store.DayCount, error) {
	release, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()

	where, args := whereClause(f)
	rows, err := s.db.QueryContext(ctx, `SELECT strftime(ts, '%Y-%m-%d') AS day, event, count(*)
		FROM events `+where+`
		GROUP BY day, event
		ORDER BY day, event`, args...)
	if err != nil {
		return nil, fmt.Errorf("query events per day: %w", err)
	}
	defer rows.Close()

	counts := []store.DayCount{}
	for rows.Next() {
		var row store.DayCount
		if err := rows.Scan(&row.Day, &row.Event, &row.Count); err != nil {
			return nil, fmt.Errorf("query events per day: %w", err)
		}
		counts = append(counts, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query events per day: %w", err)
	}
	return counts, nil
}

// ActiveInstallsPerDay counts the distinct (project, distinct_id) pairs
// among the events f selects per UTC day.
func (s *Store) ActiveInstallsPerDay(ctx context.Context, f store.Filter) ([]store.DayValue, error) {
	release, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()

	where, args := whereClause(f)
	rows, err := s.db.QueryContext(ctx, `SELECT strftime(ts, '%Y-%m-%d') AS day, count(DISTINCT (project, distinct_id))
		FROM events `+where+`
		GROUP BY day
		ORDER BY day`, args...)
	if err != nil {
		return nil, fmt.Errorf("query active installs per day: %w", err)
	}
	defer rows.Close()

	values := []store.DayValue{}
	for rows.Next() {
		var row store.DayValue
		if err := rows.Scan(&row.Day, &row.Value); err != nil {
			return nil, fmt.Errorf("query active installs per day: %w", err)
		}
		values = append(values, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query active installs per day: %w", err)
	}
	return values, nil
}
