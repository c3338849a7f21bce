package dashboard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// Limits and defaults of the route parameters.
const (
	// defaultBreakdownLimit is the number of values a breakdown keeps per
	// property when the request names no limit.
	defaultBreakdownLimit = 20
	maxBreakdownLimit     = 1000
	// overviewTopRows is the number of versions and platforms the
	// overview lists.
	overviewTopRows     = 10
	defaultFunnelWindow = 24 * time.Hour
	maxFunnelWindow     = 90 * 24 * time.Hour
	defaultWeeks        = 8
	maxWeeks            = 52
	maxActiveWindow     = 366
)

// defaultActiveWindows are the windows of daily, weekly and monthly active
// installs.
var defaultActiveWindows = []int{1, 7, 30}

// badRequestError marks an error in a route's own parameters, which the
// client must fix, so the route responds with 400.
type badRequestError struct{ err error }

func (e badRequestError) Error() string { return e.err.Error() }
func (e badRequestError) Unwrap() error { return e.err }

func badRequest(err error) error { return badRequestError{err} }

func isBadRequest(err error) bool {
	var bad badRequestError
	return errors.As(err, &bad)
}

// resultColumns are the names a breakdown property may not have, because
// the result rows use them.
var resultColumns = []string{"period", "event", "events", "installs", "suppressed"}

// parseBreakdown parses the breakdown parameter: up to store.MaxBreakdown
// catalog properties of events, comma-separated.
func (h *Handler) parseBreakdown(project string, query url.Values, events []string, fallback []string) ([]string, error) {
	properties, err := splitList("breakdown", query["breakdown"])
	if err != nil {
		return nil, err
	}
	if !query.Has("breakdown") {
		properties = fallback
	}
	if len(properties) > store.MaxBreakdown {
		return nil, fmt.Errorf("invalid breakdown %q: use at most %d properties", query.Get("breakdown"), store.MaxBreakdown)
	}
	for i, property := range properties {
		for _, reserved := range resultColumns {
			if property == reserved {
				return nil, fmt.Errorf("invalid breakdown property %q: it has the name of a result column", property)
			}
		}
		for _, earlier := range properties[:i] {
			if property == earlier {
				return nil, fmt.Errorf("invalid breakdown: property %q given twice", property)
			}
		}
		if err := h.properties.check(project, events, property, "breakdown", breakdownClasses); err != nil {
			return nil, err
		}
	}
	return properties, nil
}

// queryOverview returns the totals and the rows per event name, top
// version and top platform, with the columns section, key, events and
// installs. Its JSON body has the shape of overviewBody.
func (h *Handler) queryOverview(ctx context.Context, r apiRequest) (table, error) {
	summary, err := h.analytics.Summary(ctx, r.filter)
	if err != nil {
		return table{}, err
	}
	return overviewTable(summary), nil
}

// overviewTable lays out a summary with the columns section, key, events
// and installs.
func overviewTable(summary store.Summary) table {
	t := table{
		columns: []column{
			dimension("section", textColumn), dimension("key", textColumn),
			measure("events", intColumn), measure("installs", intColumn),
		},
		shape: overviewShape,
	}
	t.addRow(summary.Total.Installs, "total", "", summary.Total.Events, summary.Total.Installs)
	for _, part := range []struct {
		section string
		rows    []store.KeyCount
		limit   int
	}{
		{"event", summary.Events, len(summary.Events)},
		{"version", summary.Versions, overviewTopRows},
		{"platform", summary.Platforms, overviewTopRows},
	} {
		for _, row := range part.rows[:min(len(part.rows), part.limit)] {
			t.addRow(row.Installs, part.section, row.Key, row.Events, row.Installs)
		}
	}
	return t
}

// queryOverviewFallback builds the table of queryOverview from
// store.Store. Overview counts no installs per event name, so this runs one
// more Overview per event name to count them.
func (h *Handler) queryOverviewFallback(ctx context.Context, r apiRequest) (table, error) {
	overview, err := h.store.Overview(ctx, r.filter)
	if err != nil {
		return table{}, err
	}
	summary := store.Summary{
		Total:     store.KeyCount{Events: overview.TotalEvents, Installs: overview.Installs},
		Versions:  overview.Versions,
		Platforms: overview.Platforms,
	}
	for name, events := range overview.Events {
		f := r.filter
		f.Events = []string{name}
		perEvent, err := h.store.Overview(ctx, f)
		if err != nil {
			return table{}, err
		}
		summary.Events = append(summary.Events, store.KeyCount{Key: name, Events: events, Installs: perEvent.Installs})
	}
	slices.SortFunc(summary.Events, func(a, b store.KeyCount) int {
		return cmp.Or(cmp.Compare(b.Events, a.Events), strings.Compare(a.Key, b.Key))
	})
	return overviewTable(summary), nil
}

// queryTrends counts events per period and event name, split by up to two
// breakdown properties, with the columns period, event, one per property,
// events and installs.
func (h *Handler) queryTrends(ctx context.Context, r apiRequest) (table, error) {
	q, err := h.parseTrend(r, r.filter.Events, nil)
	if err != nil {
		return table{}, badRequest(err)
	}
	rows, err := h.analytics.Trend(ctx, q)
	if err != nil {
		return table{}, err
	}
	return trendTable(rows, q.Breakdown, true), nil
}

// queryEventsPerDay counts events per day and event name, with the columns
// day, event, events and installs. It is trends with interval=day and no
// breakdown, kept for clients of the first version of the API.
func (h *Handler) queryEventsPerDay(ctx context.Context, r apiRequest) (table, error) {
	rows, err := h.analytics.Trend(ctx, store.TrendQuery{Filter: r.filter, Interval: store.Day})
	if err != nil {
		return table{}, err
	}
	t := trendTable(rows, nil, true)
	t.columns[0].name = "day"
	return t, nil
}

// parseTrend parses the interval, breakdown, limit and where parameters.
func (h *Handler) parseTrend(r apiRequest, events, fallbackBreakdown []string) (store.TrendQuery, error) {
	interval, err := parseInterval(r.query, store.Day, true)
	if err != nil {
		return store.TrendQuery{}, err
	}
	breakdown, err := h.parseBreakdown(r.filter.Project, r.query, events, fallbackBreakdown)
	if err != nil {
		return store.TrendQuery{}, err
	}
	limit, err := parseInt(r.query, "limit", defaultBreakdownLimit, 0, maxBreakdownLimit)
	if err != nil {
		return store.TrendQuery{}, err
	}
	where, err := h.parseConditions(r.filter.Project, r.query, events)
	if err != nil {
		return store.TrendQuery{}, err
	}
	return store.TrendQuery{Filter: r.filter, Where: where, Interval: interval, Breakdown: breakdown, Limit: limit}, nil
}

// trendTable turns trend rows into a table. withEvent keeps the event
// column, which a route over one event leaves out.
func trendTable(rows []store.TrendRow, breakdown []string, withEvent bool) table {
	t := table{columns: []column{dimension("period", textColumn)}}
	if withEvent {
		t.columns = append(t.columns, dimension("event", textColumn))
	}
	for _, property := range breakdown {
		t.columns = append(t.columns, dimension(property, textColumn))
	}
	t.columns = append(t.columns, measure("events", intColumn), measure("installs", intColumn))

	for _, row := range rows {
		values := []any{row.Period}
		if withEvent {
			values = append(values, row.Event)
		}
		for _, value := range row.Values {
			values = append(values, value)
		}
		t.addRow(row.Installs, append(values, row.Events, row.Installs)...)
	}
	return t
}

// queryActiveInstalls counts the installs active per day in windows of 1,
// 7 and 30 days, or the window parameter's, with the columns day, window
// and installs.
func (h *Handler) queryActiveInstalls(ctx context.Context, r apiRequest) (table, error) {
	windows, err := parseIntList(r.query, "window", defaultActiveWindows, 1, maxActiveWindow)
	if err != nil {
		return table{}, badRequest(err)
	}
	rows, err := h.analytics.ActiveInstalls(ctx, store.ActiveQuery{Filter: r.filter, Windows: windows})
	if err != nil {
		return table{}, err
	}
	t := table{columns: []column{
		dimension("day", textColumn), dimension("window", intColumn), measure("installs", intColumn),
	}}
	for _, row := range rows {
		t.addRow(row.Installs, row.Day, row.Window, row.Installs)
	}
	return t, nil
}

// queryNewInstalls counts the installs with a first launch per period,
// with the columns period and installs. The first-launch event is the one
// that the selected project's catalog declares.
func (h *Handler) queryNewInstalls(ctx context.Context, r apiRequest) (table, error) {
	interval, err := parseInterval(r.query, store.Day, true)
	if err != nil {
		return table{}, badRequest(err)
	}
	declared, err := h.declarations.lookup(r.filter.Project, partFirstLaunch)
	if err != nil {
		return table{}, err
	}
	event, where := firstLaunch(declared)
	f := h.declarations.restrict(r.filter, partFirstLaunch)
	f.Events = []string{event}
	rows, err := h.analytics.Trend(ctx, store.TrendQuery{
		Filter:   f,
		Where:    where,
		Interval: interval,
	})
	if err != nil {
		return table{}, err
	}
	t := table{columns: []column{dimension("period", textColumn), measure("installs", intColumn)}}
	for _, row := range rows {
		t.addRow(row.Installs, row.Period, row.Installs)
	}
	return t, nil
}

// queryHistogram counts events per value of a base2, bucket or count
// property, with the columns event, value, events and installs.
func (h *Handler) queryHistogram(ctx context.Context, r apiRequest) (table, error) {
	property, err := singleValue(r.query, "property")
	if err == nil && property == "" {
		err = fmt.Errorf("missing property: name a base2, bucket or count property, such as property=duration_b2")
	}
	if err == nil {
		err = h.properties.check(r.filter.Project, r.filter.Events, property, "histogram", histogramClasses)
	}
	if err != nil {
		return table{}, badRequest(err)
	}
	where, err := h.parseConditions(r.filter.Project, r.query, r.filter.Events)
	if err != nil {
		return table{}, badRequest(err)
	}

	rows, err := h.analytics.Histogram(ctx, store.HistogramQuery{Filter: r.filter, Where: where, Property: property})
	if err != nil {
		return table{}, err
	}
	t := table{columns: []column{
		dimension("event", textColumn), dimension("value", floatColumn),
		measure("events", intColumn), measure("installs", intColumn),
	}}
	for _, row := range rows {
		t.addRow(row.Installs, row.Event, row.Value, row.Events, row.Installs)
	}
	return t, nil
}

// queryErrors counts the error event that the selected project's catalog
// declares, such as error_occurred, per period by its declared breakdown,
// such as errorType and context, or by the breakdown parameter's
// properties. The columns are period, one per property, events and
// installs.
func (h *Handler) queryErrors(ctx context.Context, r apiRequest) (table, error) {
	declared, err := h.declarations.lookup(r.filter.Project, partErrors)
	if err != nil {
		return table{}, err
	}
	r.filter = h.declarations.restrict(r.filter, partErrors)
	r.filter.Events = []string{declared.ErrorEvent}
	q, err := h.parseTrend(r, r.filter.Events, declared.ErrorBreakdown)
	if err != nil {
		return table{}, badRequest(err)
	}
	rows, err := h.analytics.Trend(ctx, q)
	if err != nil {
		return table{}, err
	}
	return trendTable(rows, q.Breakdown, false), nil
}

// queryFunnel counts the installs that completed each step of the step
// parameters, or else of the funnel that the selected project's catalog
// declares. The columns are step (from 1), event (the step as the step
// parameter writes it),
// installs, conversion (the share of the first step's installs) and
// step_conversion (the share of the previous step's).
func (h *Handler) queryFunnel(ctx context.Context, r apiRequest) (table, error) {
	q, err := h.parseFunnel(r)
	if err != nil {
		return table{}, badRequest(err)
	}
	rows, err := h.analytics.Funnel(ctx, q)
	if err != nil {
		return table{}, err
	}

	t := table{columns: []column{
		dimension("step", intColumn), dimension("event", textColumn), measure("installs", intColumn),
		measure("conversion", floatColumn), measure("step_conversion", floatColumn),
	}}
	for i, row := range rows {
		conversion, stepConversion := 1.0, 1.0
		if i > 0 {
			conversion = share(row.Installs, rows[0].Installs)
			stepConversion = share(row.Installs, rows[i-1].Installs)
		}
		t.addRow(row.Installs, row.Step+1, stepLabel(q.Steps[row.Step]), row.Installs, conversion, stepConversion)
	}
	return t, nil
}

func (h *Handler) parseFunnel(r apiRequest) (store.FunnelQuery, error) {
	texts := r.query["step"]
	filter := r.filter
	if len(texts) == 0 {
		declared, err := h.declarations.lookup(r.filter.Project, partFunnel)
		if err != nil {
			return store.FunnelQuery{}, err
		}
		texts = declared.Funnel
		filter = h.declarations.restrict(filter, partFunnel)
	}
	if err := checkStepCount(len(texts)); err != nil {
		return store.FunnelQuery{}, err
	}
	q := store.FunnelQuery{Filter: filter}
	for _, text := range texts {
		step, err := h.parseStep(r.filter.Project, text)
		if err != nil {
			return store.FunnelQuery{}, err
		}
		q.Steps = append(q.Steps, step)
	}
	var err error
	q.Window, err = parseDuration(r.query, "window", defaultFunnelWindow, maxFunnelWindow)
	return q, err
}

// checkStepCount returns an error unless a funnel of n steps has 2 to
// store.MaxFunnelSteps of them.
func checkStepCount(n int) error {
	switch {
	case n < 2:
		return fmt.Errorf("invalid funnel: %s, but a funnel needs 2 to %d: add a step parameter for each further step",
			countNoun(n, "step"), store.MaxFunnelSteps)
	case n > store.MaxFunnelSteps:
		return fmt.Errorf("invalid funnel: %s, but a funnel takes at most %d: remove %s",
			countNoun(n, "step"), store.MaxFunnelSteps, countNoun(n-store.MaxFunnelSteps, "step parameter"))
	}
	return nil
}

// countNoun returns n and noun, with an s after the noun unless n is 1.
func countNoun(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// share returns part/whole, or 0 for an empty whole.
func share(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// queryRetention counts the installs of weekly cohorts active in later
// weeks, with the columns cohort, week, installs, cohort_size (the
// installs of week 0) and retention (installs / cohort_size).
func (h *Handler) queryRetention(ctx context.Context, r apiRequest) (table, error) {
	weeks, err := parseInt(r.query, "weeks", defaultWeeks, 0, maxWeeks)
	if err != nil {
		return table{}, badRequest(err)
	}
	rows, err := h.analytics.Retention(ctx, store.RetentionQuery{Filter: r.filter, Weeks: weeks})
	if err != nil {
		return table{}, err
	}

	sizes := map[string]int64{}
	for _, row := range rows {
		if row.Week == 0 {
			sizes[row.Cohort] = row.Installs
		}
	}
	t := table{columns: []column{
		dimension("cohort", textColumn), dimension("week", intColumn), measure("installs", intColumn),
		measure("cohort_size", intColumn), measure("retention", floatColumn),
	}}
	for _, row := range rows {
		size := sizes[row.Cohort]
		t.addRow(row.Installs, row.Cohort, row.Week, row.Installs, size, share(row.Installs, size))
	}
	return t, nil
}

// queryAggregate counts events per day, event name, version and platform,
// with the columns day, event, version, backend_platform, events and
// installs. It is the export of the filtered events that k-anonymity
// allows.
func (h *Handler) queryAggregate(ctx context.Context, r apiRequest) (table, error) {
	rows, err := h.analytics.Trend(ctx, store.TrendQuery{
		Filter:    r.filter,
		Interval:  store.Day,
		Breakdown: []string{"version", "backend_platform"},
	})
	if err != nil {
		return table{}, err
	}
	t := trendTable(rows, []string{"version", "backend_platform"}, true)
	t.columns[0].name = "day"
	return t, nil
}

// overviewBody is the JSON body of /api/v1/overview. It keeps the shape of
// store.Overview, so a client that decodes that type keeps working. The
// totals are absent and Suppressed is true when fewer than k installs sent
// the selected events. Events and EventInstalls map the visible event
// names to their events and installs, and SuppressedEvents lists the
// others. The version and platform lists hold rows with the keys key,
// events and installs, or key and suppressed.
type overviewBody struct {
	K                int              `json:"k_anonymity"`
	TotalEvents      *int64           `json:"total_events,omitempty"`
	Installs         *int64           `json:"installs,omitempty"`
	Suppressed       bool             `json:"suppressed,omitempty"`
	Events           map[string]int64 `json:"events"`
	EventInstalls    map[string]int64 `json:"event_installs"`
	SuppressedEvents []string         `json:"suppressed_events"`
	Versions         []rowObject      `json:"top_versions"`
	Platforms        []rowObject      `json:"top_platforms"`
}

// overviewShape builds overviewBody from the released rows of
// queryOverview.
func overviewShape(rel released) any {
	body := overviewBody{
		K:                rel.k,
		Events:           map[string]int64{},
		EventInstalls:    map[string]int64{},
		SuppressedEvents: []string{},
		Versions:         []rowObject{},
		Platforms:        []rowObject{},
	}
	for i, row := range rel.rows {
		suppressed := rel.suppressed[i]
		switch row[0] {
		case "total":
			body.Suppressed = suppressed
			if !suppressed {
				events, installs := row[2].(int64), row[3].(int64)
				body.TotalEvents, body.Installs = &events, &installs
			}
		case "event":
			name := row[1].(string)
			if suppressed {
				body.SuppressedEvents = append(body.SuppressedEvents, name)
			} else {
				body.Events[name] = row[2].(int64)
				body.EventInstalls[name] = row[3].(int64)
			}
		case "version":
			body.Versions = append(body.Versions, rowObject{columns: rel.columns[1:], values: row[1:], suppressed: suppressed})
		case "platform":
			body.Platforms = append(body.Platforms, rowObject{columns: rel.columns[1:], values: row[1:], suppressed: suppressed})
		}
	}
	return body
}
