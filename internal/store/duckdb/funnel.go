package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/candor-dev/candor/internal/store"
)

// Funnel counts the installs that completed each step of q in order. Step
// 0 is each install's first matching event in the date range. Step n+1
// joins the installs of step n with their events of step n+1 that follow
// step n within the window, keeping the earliest, so each step costs one
// hash join against the events of one name.
func (s *Store) Funnel(ctx context.Context, q store.FunnelQuery) ([]store.FunnelRow, error) {
	release, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()

	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("query funnel: %w", err)
	}

	query, err := s.funnelQuery(q)
	if err != nil {
		return nil, fmt.Errorf("query funnel: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, query.String(), query.args...)
	if err != nil {
		return nil, fmt.Errorf("query funnel: %w", err)
	}
	funnel, err := scanRows(rows, func(rows *sql.Rows) (store.FunnelRow, error) {
		var row store.FunnelRow
		err := rows.Scan(&row.Step, &row.Installs)
		return row, err
	})
	if err != nil {
		return nil, fmt.Errorf("query funnel: %w", err)
	}
	return funnel, nil
}

// funnelQuery builds one CTE per step: s0 holds (install, entered, done)
// for the installs that entered, and sN those that completed step N, with
// done the time of the step's event.
func (s *Store) funnelQuery(q store.FunnelQuery) (*sqlBuilder, error) {
	var query sqlBuilder
	query.add("WITH ")

	entry := filterConditions(q.Filter, selection{from: true, to: true}, "")
	first, err := s.stepConditions(q.Steps[0], "")
	if err != nil {
		return nil, err
	}
	query.add("s0 AS (SELECT install, min(ts) AS entered, min(ts) AS done FROM events WHERE ").
		add(entry.text, entry.args...).
		add(" AND ").
		add(first.text, first.args...).
		add(" GROUP BY install)")

	// Later steps may fall after To, so only project, versions and
	// platforms select their events.
	later := filterConditions(q.Filter, selection{}, "e.")
	window := q.Window.Microseconds()
	for n := 1; n < len(q.Steps); n++ {
		step, err := s.stepConditions(q.Steps[n], "e.")
		if err != nil {
			return nil, err
		}
		after := ">="
		if sameStep(q.Steps[n-1], q.Steps[n]) {
			after = ">"
		}
		query.add(fmt.Sprintf(`, s%[1]d AS (
			SELECT p.install, p.entered, min(e.ts) AS done
			FROM s%[2]d AS p JOIN events AS e ON e.install = p.install
			WHERE e.ts %[3]s p.done AND e.ts <= p.entered + to_microseconds(CAST(? AS BIGINT)) AND `, n, n-1, after), window).
			add(later.text, later.args...).
			add(" AND ").
			add(step.text, step.args...).
			add(" GROUP BY p.install, p.entered)")
	}

	counts := make([]string, len(q.Steps))
	for n := range q.Steps {
		counts[n] = fmt.Sprintf("SELECT %[1]d AS step, count(*) AS installs FROM s%[1]d", n)
	}
	query.add(" " + strings.Join(counts, " UNION ALL ") + " ORDER BY step")
	return &query, nil
}

// stepConditions returns the condition that selects the events of step.
func (s *Store) stepConditions(step store.FunnelStep, alias string) (sqlExpr, error) {
	if step.Event == "" {
		return sqlExpr{}, fmt.Errorf("invalid funnel step: missing event name")
	}
	where, err := s.properties.conditions(step.Where, alias)
	if err != nil {
		return sqlExpr{}, err
	}
	return sqlExpr{
		text: alias + "event = ? AND " + where.text,
		args: append([]any{step.Event}, where.args...),
	}, nil
}

// sameStep reports whether a and b select the same events.
func sameStep(a, b store.FunnelStep) bool {
	return a.Event == b.Event && slices.Equal(a.Where, b.Where)
}

// Retention counts the installs of each weekly cohort that were active in
// each later week. A cohort is the week of an install's first selected
// event over all time before Filter.To.
func (s *Store) Retention(ctx context.Context, q store.RetentionQuery) ([]store.RetentionRow, error) {
	release, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()

	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("query retention: %w", err)
	}

	activity := filterConditions(q.Filter, selection{to: true, events: true}, "")
	var query sqlBuilder
	query.add("WITH activity AS (SELECT DISTINCT install, date_trunc('week', ts) AS week FROM events WHERE ").
		add(activity.text, activity.args...).
		add(`),
		cohorts AS (SELECT install, min(week) AS cohort FROM activity GROUP BY install),
		cells AS (
			SELECT c.cohort, date_diff('day', c.cohort, a.week) // 7 AS week_offset, count(*) AS installs
			FROM activity AS a JOIN cohorts AS c USING (install)
			WHERE date_diff('day', c.cohort, a.week) // 7 <= ?`, q.Weeks)
	if !q.Filter.From.IsZero() {
		query.add(" AND c.cohort >= date_trunc('week', CAST(? AS TIMESTAMP))", q.Filter.From.UTC())
	}
	query.add(` GROUP BY ALL)
		SELECT strftime(cohort, '%Y-%m-%d'), week_offset, installs FROM cells ORDER BY cohort, week_offset`)

	rows, err := s.db.QueryContext(ctx, query.String(), query.args...)
	if err != nil {
		return nil, fmt.Errorf("query retention: %w", err)
	}
	cells, err := scanRows(rows, func(rows *sql.Rows) (store.RetentionRow, error) {
		var row store.RetentionRow
		err := rows.Scan(&row.Cohort, &row.Week, &row.Installs)
		return row, err
	})
	if err != nil {
		return nil, fmt.Errorf("query retention: %w", err)
	}
	return cells, nil
}
