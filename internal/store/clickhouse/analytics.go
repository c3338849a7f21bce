package clickhouse

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/candor-dev/candor/internal/store"
)

var _ store.Analytics = (*Store)(nil)

// The analytics queries count like Overview: events as distinct (project,
// uuid) pairs and installs as distinct (project, distinct_id) pairs, so an
// event that two collectors wrote before a merge counts once. They read
// properties from prop_keys and prop_values, which migration 2 added. Each
// is one statement, without window functions and common table
// expressions, which ClickHouse 18.16 lacks.

// property is the pair of SQL expressions that read one property: present
// selects the events that have it, and text is its text on those events.
type property struct {
	present string
	text    string
}

// propertyOf returns how the queries read the property name. "version" and
// "backend_platform" read their columns, where an empty string means
// missing, and every other name reads the entry of that key in prop_keys.
func propertyOf(name string) (property, error) {
	switch name {
	case "version":
		return property{present: "version != ''", text: "version"}, nil
	case "backend_platform":
		return property{present: "platform != ''", text: "platform"}, nil
	}
	for key := range strings.SplitSeq(name, ".") {
		if key == "" {
			return property{}, fmt.Errorf("invalid property %q: a name is one or more keys separated by single dots", name)
		}
	}
	key := quoteString(name)
	return property{
		present: "has(prop_keys, " + key + ")",
		text:    "prop_values[indexOf(prop_keys, " + key + ")]",
	}, nil
}

// number returns the expression of the property's numeric value, NULL when
// the event lacks it or its text is no number, as DuckDB's TRY_CAST to
// DOUBLE does.
func (p property) number() string {
	return "toFloat64OrNull(" + p.text + ")"
}

// conditionsOf returns the conditions of where joined with AND, "1" for
// none.
func conditionsOf(where []store.Condition) (string, error) {
	conditions := []string{"1"}
	for _, condition := range where {
		p, err := propertyOf(condition.Property)
		if err != nil {
			return "", err
		}
		conditions = append(conditions, p.present+" AND "+p.text+" = "+quoteString(condition.Value))
	}
	return strings.Join(conditions, " AND "), nil
}

// selection names the parts of a Filter that filterConditions applies.
type selection struct {
	from, to bool // apply Filter.From and Filter.To
	events   bool // apply Filter.Events
}

var selectAll = selection{from: true, to: true, events: true}

// filterConditions returns the conditions of f that sel names, joined with
// AND. With selectAll, it selects what whereClause selects.
func filterConditions(f store.Filter, sel selection) string {
	conditions := []string{"1"}
	if f.Project != "" {
		conditions = append(conditions, "project = "+quoteString(f.Project))
	}
	conditions = appendIn(conditions, "project", f.Projects, false)
	if sel.from && !f.From.IsZero() {
		conditions = append(conditions, timeCondition(">=", f.From)...)
	}
	if sel.to && !f.To.IsZero() {
		conditions = append(conditions, timeCondition("<", f.To)...)
	}
	conditions = appendIn(conditions, "version", f.Versions, true)
	conditions = appendIn(conditions, "platform", f.Platforms, true)
	if sel.events {
		conditions = appendIn(conditions, "event", f.Events, false)
	}
	return strings.Join(conditions, " AND ")
}

// selectedEvents returns the condition that selects the events of f that
// meet every condition of where.
func selectedEvents(f store.Filter, where []store.Condition) (string, error) {
	conditions, err := conditionsOf(where)
	if err != nil {
		return "", err
	}
	return filterConditions(f, selectAll) + " AND " + conditions, nil
}

// Summary counts the events f selects in total and per event name, version
// and platform, in one scan. The inner query counts the events per name,
// version, platform and install, which leaves a few rows per install. ARRAY
// JOIN then turns each of those rows into one row per part.
func (s *Store) Summary(ctx context.Context, f store.Filter) (store.Summary, error) {
	release, err := s.acquire()
	if err != nil {
		return store.Summary{}, err
	}
	defer release()

	rows, err := s.client.query(ctx, `SELECT part, part_key, sum(event_count) AS total, uniqExact(project, distinct_id)
		FROM (
			SELECT event, version, platform, project, distinct_id, uniqExact(uuid) AS event_count
			FROM `+s.events+` WHERE `+filterConditions(f, selectAll)+`
			GROUP BY event, version, platform, project, distinct_id
		)
		ARRAY JOIN [0, 1, 2, 3] AS part, ['', event, version, platform] AS part_key
		WHERE part <= 1 OR part_key != ''
		GROUP BY part, part_key
		ORDER BY part, total DESC, part_key`)
	if err != nil {
		return store.Summary{}, fmt.Errorf("query summary: %w", err)
	}

	var summary store.Summary
	parts := []*[]store.KeyCount{&summary.Events, &summary.Versions, &summary.Platforms}
	for _, row := range rows {
		if len(row) != 4 {
			return store.Summary{}, fmt.Errorf("query summary: unexpected row %q", row)
		}
		counts, err := parseCounts(row[2:])
		if err != nil {
			return store.Summary{}, fmt.Errorf("query summary: %w", err)
		}
		entry := store.KeyCount{Key: row[1], Events: counts[0], Installs: counts[1]}
		switch row[0] {
		case "0":
			summary.Total = entry
		case "1", "2", "3":
			part := parts[row[0][0]-'1']
			*part = append(*part, entry)
		default:
			return store.Summary{}, fmt.Errorf("query summary: unexpected part %q", row[0])
		}
	}
	return summary, nil
}

// periodStart returns the expression of the first day of ts's period, or
// an empty string literal for store.All. ts is DateTime('UTC'), so the
// periods are cut at midnight UTC. The zero interval means store.Day, and
// Trend has rejected the undeclared ones through TrendQuery.Validate.
func periodStart(interval store.Interval) string {
	switch interval {
	case store.Week:
		return "toMonday(ts)"
	case store.Month:
		return "toStartOfMonth(ts)"
	case store.All:
		return "''"
	}
	return "toDate(ts)"
}

// Trend counts the events q selects per period, event name and breakdown
// values.
func (s *Store) Trend(ctx context.Context, q store.TrendQuery) ([]store.TrendRow, error) {
	release, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()

	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("query trend: %w", err)
	}
	period := periodStart(q.Interval)
	properties := make([]property, len(q.Breakdown))
	for i, name := range q.Breakdown {
		if properties[i], err = propertyOf(name); err != nil {
			return nil, fmt.Errorf("query trend: %w", err)
		}
	}
	where, err := selectedEvents(q.Filter, q.Where)
	if err != nil {
		return nil, fmt.Errorf("query trend: %w", err)
	}

	rows, err := s.client.query(ctx, s.trendQuery(period, properties, where, q.Limit))
	if err != nil {
		return nil, fmt.Errorf("query trend: %w", err)
	}
	trend := make([]store.TrendRow, 0, len(rows))
	for _, row := range rows {
		if len(row) != 4+len(properties) {
			return nil, fmt.Errorf("query trend: unexpected row %q", row)
		}
		counts, err := parseCounts(row[len(row)-2:])
		if err != nil {
			return nil, fmt.Errorf("query trend: %w", err)
		}
		entry := store.TrendRow{Period: row[0], Event: row[1], Events: counts[0], Installs: counts[1]}
		if len(properties) > 0 {
			entry.Values = row[2 : 2+len(properties)]
		}
		trend = append(trend, entry)
	}
	return trend, nil
}

// trendQuery builds the statement of Trend. Each breakdown value is the
// property's text, store.NoValue for events without it and, with a limit,
// store.OtherValue for texts outside the property's top values. The top
// values are those with the most selected events, ties by text, found by a
// subquery per property that the server runs once.
func (s *Store) trendQuery(period string, properties []property, where string, limit int) string {
	columns := []string{period + " AS period", "event"}
	groups := []string{"period", "event"}
	for i, p := range properties {
		value := p.text
		if limit > 0 {
			top := fmt.Sprintf(`SELECT value FROM (
				SELECT %s AS value, uniqExact(project, uuid) AS event_count FROM %s
				WHERE %s AND %s GROUP BY value ORDER BY event_count DESC, value LIMIT %d)`,
				p.text, s.events, where, p.present, limit)
			value = fmt.Sprintf("if(%[1]s IN (%[2]s), %[1]s, %[3]s)", p.text, top, quoteString(store.OtherValue))
		}
		name := "value" + strconv.Itoa(i)
		columns = append(columns, fmt.Sprintf("if(%s, %s, %s) AS %s", p.present, value, quoteString(store.NoValue), name))
		groups = append(groups, name)
	}
	return `SELECT ` + strings.Join(columns, ", ") + `, uniqExact(project, uuid), uniqExact(project, distinct_id)
		FROM ` + s.events + ` WHERE ` + where + `
		GROUP BY ` + strings.Join(groups, ", ") + `
		ORDER BY ` + strings.Join(groups, ", ")
}

// Histogram counts the events q selects per event name and numeric value
// of q.Property.
func (s *Store) Histogram(ctx context.Context, q store.HistogramQuery) ([]store.HistogramRow, error) {
	release, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()

	p, err := propertyOf(q.Property)
	if err != nil {
		return nil, fmt.Errorf("query histogram: %w", err)
	}
	where, err := selectedEvents(q.Filter, q.Where)
	if err != nil {
		return nil, fmt.Errorf("query histogram: %w", err)
	}

	rows, err := s.client.query(ctx, `SELECT event, assumeNotNull(number) AS value,
			uniqExact(project, uuid), uniqExact(project, distinct_id)
		FROM (
			SELECT event, project, uuid, distinct_id, `+p.number()+` AS number
			FROM `+s.events+` WHERE `+where+` AND `+p.present+`
		)
		WHERE number IS NOT NULL
		GROUP BY event, value
		ORDER BY event, value`)
	if err != nil {
		return nil, fmt.Errorf("query histogram of %q: %w", q.Property, err)
	}
	bars := make([]store.HistogramRow, 0, len(rows))
	for _, row := range rows {
		if len(row) != 4 {
			return nil, fmt.Errorf("query histogram of %q: unexpected row %q", q.Property, row)
		}
		value, err := strconv.ParseFloat(row[1], 64)
		if err != nil {
			return nil, fmt.Errorf("query histogram of %q: invalid value %q", q.Property, row[1])
		}
		counts, err := parseCounts(row[2:])
		if err != nil {
			return nil, fmt.Errorf("query histogram of %q: %w", q.Property, err)
		}
		bars = append(bars, store.HistogramRow{Event: row[0], Value: value, Events: counts[0], Installs: counts[1]})
	}
	return bars, nil
}

// parseCounts parses each field as a count.
func parseCounts(fields []string) ([]int64, error) {
	counts := make([]int64, len(fields))
	for i, field := range fields {
		count, err := parseCount(field)
		if err != nil {
			return nil, err
		}
		counts[i] = count
	}
	return counts, nil
}
