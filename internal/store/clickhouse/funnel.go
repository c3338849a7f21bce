package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/candor-dev/candor/internal/store"
)

// Funnel counts the installs that completed each step of q in order.
//
// The inner query reads the events of the steps once and keeps, per
// install, the time it entered (its first first-step event in the date
// range) and the sorted times of its events of each later step. The outer
// query then walks the steps with arrayFirstIndex: step n+1 is the first
// time of that step at or after step n's time and within the window. This
// replaces the joins per step of the DuckDB backend and the window
// functions ClickHouse 18.16 lacks. windowFunnel is not used, because it
// starts a chain at any first-step event, not only at the first one.
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

	rows, err := s.client.query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("query funnel: %w", err)
	}
	if len(rows) != 1 || len(rows[0]) != len(q.Steps) {
		return nil, fmt.Errorf("query funnel: unexpected result %q", rows)
	}
	counts, err := parseCounts(rows[0])
	if err != nil {
		return nil, fmt.Errorf("query funnel: %w", err)
	}
	funnel := make([]store.FunnelRow, len(counts))
	for step, installs := range counts {
		funnel[step] = store.FunnelRow{Step: step, Installs: installs}
	}
	return funnel, nil
}

// funnelQuery builds the statement of Funnel. Its one row holds the number
// of installs per step.
func (s *Store) funnelQuery(q store.FunnelQuery) (string, error) {
	steps := make([]string, len(q.Steps))
	var names []string
	for n, step := range q.Steps {
		if step.Event == "" {
			return "", fmt.Errorf("invalid funnel step %d: missing event name", n)
		}
		conditions, err := conditionsOf(step.Where)
		if err != nil {
			return "", err
		}
		steps[n] = "event = " + quoteString(step.Event) + " AND " + conditions
		names = append(names, step.Event)
	}
	slices.Sort(names)
	names = slices.Compact(names)

	// Later steps may fall after To, but no later than the window after
	// an entry before To, so only project, versions and platforms select
	// their events, and the time bounds only skip data.
	entered := "(" + filterConditions(q.Filter, selection{from: true, to: true}) + ") AND " + steps[0]
	bounds := []string{filterConditions(q.Filter, selection{})}
	bounds = appendIn(bounds, "event", names, false)
	window := q.Window.Microseconds()
	if !q.Filter.From.IsZero() {
		bounds = append(bounds, fmt.Sprintf("ts_us >= %d", q.Filter.From.UnixMicro()))
	}
	if !q.Filter.To.IsZero() {
		bounds = append(bounds, fmt.Sprintf("ts_us < %d", q.Filter.To.UnixMicro()+window))
	}

	inner := []string{"minIf(ts_us, " + entered + ") AS done0"}
	outer := []string{"done0"}
	// count(done0) counts every row like count(). It names done0 because
	// 18.16 drops the columns of a subquery that only a lambda reads.
	counts := []string{"count(done0)"}
	for n := 1; n < len(q.Steps); n++ {
		inner = append(inner, fmt.Sprintf("arraySort(groupArrayIf(ts_us, %s)) AS times%d", steps[n], n))

		after := ">="
		if sameStep(q.Steps[n-1], q.Steps[n]) {
			after = ">"
		}
		// done0 is set for every install, so step 1 needs no check of
		// step 0. doneN is 0 when step N was not completed.
		search := fmt.Sprintf("arrayFirstIndex(t -> t %[2]s done%[3]d AND t <= done0 + %[4]d, times%[1]d)", n, after, n-1, window)
		if n > 1 {
			search = fmt.Sprintf("if(index%d > 0, %s, 0)", n-1, search)
		}
		outer = append(outer,
			search+fmt.Sprintf(" AS index%d", n),
			fmt.Sprintf("if(index%[1]d > 0, times%[1]d[index%[1]d], 0) AS done%[1]d", n))
		counts = append(counts, fmt.Sprintf("countIf(index%d > 0)", n))
	}

	return `SELECT ` + strings.Join(counts, ", ") + `
		FROM (
			SELECT ` + strings.Join(outer, ", ") + `
			FROM (
				SELECT ` + strings.Join(inner, ", ") + `
				FROM ` + s.events + ` WHERE ` + strings.Join(bounds, " AND ") + `
				GROUP BY project, distinct_id
				HAVING countIf(` + entered + `) > 0
			)
		)`, nil
}

// sameStep reports whether a and b select the same events.
func sameStep(a, b store.FunnelStep) bool {
	return a.Event == b.Event && slices.Equal(a.Where, b.Where)
}

// Retention counts the installs of each weekly cohort that were active in
// each later week. A cohort is the week of an install's first selected
// event before Filter.To, whatever Filter.From is.
//
// Weeks are numbered from Monday 1969-12-29, the Monday before the Unix
// epoch: day d since 1970-01-01 falls in week (d+3)/7, which starts on day
// 7w-3. The query collects each install's distinct weeks and counts the
// installs per cohort and week offset.
func (s *Store) Retention(ctx context.Context, q store.RetentionQuery) ([]store.RetentionRow, error) {
	release, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()

	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("query retention: %w", err)
	}
	cells := []string{fmt.Sprintf("week - cohort <= %d", q.Weeks)}
	if !q.Filter.From.IsZero() {
		cells = append(cells, fmt.Sprintf("cohort >= %d", weekNumber(dayNumber(q.Filter.From))))
	}

	week := "intDiv(" + dayNumberSQL + " + 3, 7)"
	rows, err := s.client.query(ctx, `SELECT cohort, week - cohort AS week_offset, count()
		FROM (
			SELECT min(`+week+`) AS cohort, groupUniqArray(`+week+`) AS weeks
			FROM `+s.events+` WHERE `+filterConditions(q.Filter, selection{to: true, events: true})+`
			GROUP BY project, distinct_id
		)
		ARRAY JOIN weeks AS week
		WHERE `+strings.Join(cells, " AND ")+`
		GROUP BY cohort, week_offset
		ORDER BY cohort, week_offset`)
	if err != nil {
		return nil, fmt.Errorf("query retention: %w", err)
	}

	retention := make([]store.RetentionRow, 0, len(rows))
	for _, row := range rows {
		if len(row) != 3 {
			return nil, fmt.Errorf("query retention: unexpected row %q", row)
		}
		numbers, err := parseCounts(row)
		if err != nil {
			return nil, fmt.Errorf("query retention: %w", err)
		}
		retention = append(retention, store.RetentionRow{
			Cohort:   formatDay(numbers[0]*7 - 3),
			Week:     int(numbers[1]),
			Installs: numbers[2],
		})
	}
	return retention, nil
}

// weekNumber returns the week of day, both counted as Retention describes.
func weekNumber(day int64) int64 {
	return (day + 3) / 7
}
