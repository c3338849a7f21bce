package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// ActiveInstalls counts the installs active in windows of q.Windows days
// that end on each day of the range.
//
// It reduces the selected events to one row per install and active day.
// Each such day a opens a span [a, min(a+w, next active day)) for window w,
// so the spans of one install never overlap and their union covers every
// day whose window holds one of its events. The count on a day is then the
// running sum of +1 at every span start and -1 at every span end, which
// needs one sort instead of a distinct count per day and window.
func (s *Store) ActiveInstalls(ctx context.Context, q store.ActiveQuery) ([]store.ActiveRow, error) {
	release, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()

	if len(q.Windows) == 0 {
		return nil, nil
	}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("query active installs: %w", err)
	}

	query := activeQuery(q)
	rows, err := s.db.QueryContext(ctx, query.String(), query.args...)
	if err != nil {
		return nil, fmt.Errorf("query active installs: %w", err)
	}
	active, err := scanRows(rows, func(rows *sql.Rows) (store.ActiveRow, error) {
		var row store.ActiveRow
		err := rows.Scan(&row.Window, &row.Day, &row.Installs)
		return row, err
	})
	if err != nil {
		return nil, fmt.Errorf("query active installs: %w", err)
	}
	return active, nil
}

// activeQuery builds the statement of ActiveInstalls. The output range is
// [first, last]: the days of Filter.From and the day before Filter.To, or
// the first and last active day when they are unbounded. Each bound is
// clamped to the days that can have active installs: the first active day
// to lookBack days after the last. A range such as year 1 to 9999 then
// generates no millions of empty days.
func activeQuery(q store.ActiveQuery) *sqlBuilder {
	windows := slices.Clone(q.Windows)
	slices.Sort(windows)
	windows = slices.Compact(windows)
	lookBack := windows[len(windows)-1] - 1

	// The events of the look-back before From count towards the first
	// days' windows.
	f := q.Filter
	// Without events both bounds are NULL, so no day is generated.
	first := "(SELECT min(day) FROM days)"
	var firstArgs []any
	if !f.From.IsZero() {
		from := utcDay(f.From)
		f.From = from.AddDate(0, 0, -lookBack)
		first = `(SELECT CASE WHEN bound > earliest THEN bound ELSE earliest END
			FROM (SELECT CAST(CAST(? AS TIMESTAMP) AS DATE) AS bound, min(day) AS earliest FROM days))`
		firstArgs = []any{from}
	}
	last := "(SELECT max(day) FROM days)"
	var lastArgs []any
	if !f.To.IsZero() {
		last = `(SELECT CASE WHEN bound < latest THEN bound ELSE latest END
			FROM (SELECT CAST(CAST(? AS TIMESTAMP) AS DATE) AS bound, max(day) + ` + strconv.Itoa(lookBack) + ` AS latest FROM days))`
		lastArgs = []any{f.To.UTC().Add(-time.Microsecond)}
	}
	where := filterConditions(f, selectAll, "")

	var values []string
	for _, w := range windows {
		values = append(values, "("+strconv.Itoa(w)+")")
	}

	var query sqlBuilder
	query.add("WITH days AS (SELECT DISTINCT install, CAST(ts AS DATE) AS day FROM events WHERE ").
		add(where.text, where.args...).
		add(`),
		windows(w) AS (VALUES `+strings.Join(values, ", ")+`),
		spans AS (
			SELECT w, day AS span_start,
				least(day + w, lead(day) OVER (PARTITION BY w, install ORDER BY day)) AS span_end
			FROM days CROSS JOIN windows
		),
		bounds AS (SELECT `).
		add(first, firstArgs...).
		add(" AS first_day, ").
		add(last, lastArgs...).
		add(` AS last_day),
		deltas AS (
			SELECT w, span_start AS day, 1 AS delta FROM spans
			UNION ALL
			SELECT w, span_end, -1 FROM spans
			UNION ALL
			SELECT w, CAST(unnest(generate_series(first_day, last_day, INTERVAL 1 DAY)) AS DATE), 0
			FROM windows, bounds
		),
		counts AS (
			SELECT w, day, sum(sum(delta)) OVER (PARTITION BY w ORDER BY day) AS active
			FROM deltas
			GROUP BY w, day
		)
		SELECT w, strftime(day, '%Y-%m-%d'), active
		FROM counts, bounds
		WHERE day BETWEEN first_day AND last_day AND active > 0
		ORDER BY w, day`)
	return &query
}
