package store

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Analytics is implemented by backends that run the dashboard's product
// queries: trends, active installs, distributions, funnels, retention and
// exports. It is separate from Store so that a backend can be written
// against Store first. The dashboard finds it with a type assertion on its
// Store.
//
// Every row that counts events also counts the distinct installs behind it,
// so the dashboard can suppress rows built from too few installs. An install
// is one (project, distinct_id) pair, as in Store. Days, weeks and months
// are cut at midnight UTC, and weeks start on Monday.
//
// A property is named by its key in the event's properties, such as
// "model". A dot separates the keys of a nested object, so
// "frontendPlatform.platform" is the platform key of the frontendPlatform
// object. The names "version" and "backend_platform" select the same values
// as Filter.Versions and Filter.Platforms.
//
// The text of a property value is its JSON text without quotes: a string as
// it is, a number in its shortest form ("512", "0.5"), a boolean as "true"
// or "false". A missing or null property has no text.
type Analytics interface {
	// Summary counts the selected events and installs in total and per
	// event name, version and platform. Every list holds every value, most
	// events first, ties by key. Events without a version or platform are
	// left out of Versions or Platforms.
	Summary(ctx context.Context, f Filter) (Summary, error)

	// Trend counts the selected events per period, event name and
	// breakdown values, ordered by period, event name and values. Periods
	// without events are absent.
	Trend(ctx context.Context, q TrendQuery) ([]TrendRow, error)

	// ActiveInstalls counts, for each day of the filter's date range and
	// each window length, the installs with a selected event in the window
	// of that many days that ends with the day. The window may reach back
	// before Filter.From. Rows are ordered by window, then day, and days
	// with no active installs are absent. An unbounded From or To is
	// replaced by the first or last day with a selected event.
	ActiveInstalls(ctx context.Context, q ActiveQuery) ([]ActiveRow, error)

	// Histogram counts the selected events per event name and numeric value
	// of one property, ordered by event name, then value. Events whose
	// property is missing or not a number are left out.
	Histogram(ctx context.Context, q HistogramQuery) ([]HistogramRow, error)

	// Funnel counts the installs that completed each step of q in order,
	// returning one row per step, first step first.
	Funnel(ctx context.Context, q FunnelQuery) ([]FunnelRow, error)

	// Retention groups installs into weekly cohorts by the week of their
	// first selected event and counts, per cohort and week offset, the
	// installs with a selected event in that week. Rows are ordered by
	// cohort, then offset, and cells with no active installs are absent.
	Retention(ctx context.Context, q RetentionQuery) ([]RetentionRow, error)

	// ExportEvents writes the selected events to w in format, ordered by
	// timestamp, with the columns of ExportColumns.
	ExportEvents(ctx context.Context, f Filter, format ExportFormat, w io.Writer) error
}

// Summary is the result of Analytics.Summary. Total has an empty Key.
type Summary struct {
	Total     KeyCount
	Events    []KeyCount
	Versions  []KeyCount
	Platforms []KeyCount
}

// Interval is the length of the periods a trend counts in.
type Interval string

// The intervals of TrendQuery.
const (
	Day   Interval = "day"
	Week  Interval = "week" // starts on Monday
	Month Interval = "month"
	// All counts the whole date range as one period, whose label is empty.
	All Interval = "all"
)

// Valid reports whether i is one of the declared intervals.
func (i Interval) Valid() bool {
	switch i {
	case Day, Week, Month, All:
		return true
	}
	return false
}

// Breakdown values that are no property value. Neither is the text of a
// number, boolean, identifier or version, because those never contain
// parentheses. An enum that declares one of them as a value cannot be told
// apart from it.
const (
	// NoValue is the breakdown value of events without the property.
	NoValue = "(none)"
	// OtherValue is the breakdown value that merges the values beyond
	// TrendQuery.Limit.
	OtherValue = "(other)"
)

// MaxBreakdown is the maximum number of properties in TrendQuery.Breakdown.
const MaxBreakdown = 2

// Condition selects the events whose property has the text Value.
type Condition struct {
	Property string
	Value    string
}

// TrendQuery selects what Trend counts.
type TrendQuery struct {
	Filter Filter
	// Where narrows the selection to events that meet every condition.
	Where []Condition
	// Interval is the period length. The zero value means Day.
	Interval Interval
	// Breakdown lists up to MaxBreakdown properties whose values split the
	// counts. Empty counts per period and event name only.
	Breakdown []string
	// Limit is the maximum number of values kept per breakdown property:
	// the values with the most selected events, ties by value. The others
	// are counted together as OtherValue. Zero keeps every value.
	Limit int
}

// Validate returns an error when q has more than MaxBreakdown breakdown
// properties or an interval that is not declared. Trend checks the
// property names itself.
func (q TrendQuery) Validate() error {
	if len(q.Breakdown) > MaxBreakdown {
		return fmt.Errorf("%d breakdown properties: use at most %d", len(q.Breakdown), MaxBreakdown)
	}
	if q.Interval != "" && !q.Interval.Valid() {
		return fmt.Errorf("invalid interval %q: use day, week, month or all", q.Interval)
	}
	return nil
}

// TrendRow is one cell of a trend.
type TrendRow struct {
	Period   string   // first day of the period as YYYY-MM-DD; empty for All
	Event    string   // event name
	Values   []string // one value per breakdown property; nil without a breakdown
	Events   int64
	Installs int64
}

// ActiveQuery selects what ActiveInstalls counts.
type ActiveQuery struct {
	Filter Filter
	// Windows lists the window lengths in days, each 1 or more, such as 1,
	// 7 and 30 for daily, weekly and monthly active installs.
	Windows []int
}

// MaxWindowDays bounds ActiveQuery.Windows, so the look-back before
// Filter.From stays bounded.
const MaxWindowDays = 366

// Validate returns an error naming the first window of q outside 1 to
// MaxWindowDays days.
func (q ActiveQuery) Validate() error {
	for _, w := range q.Windows {
		if w < 1 || w > MaxWindowDays {
			return fmt.Errorf("invalid window %d: use 1 to %d days", w, MaxWindowDays)
		}
	}
	return nil
}

// ActiveRow is the number of active installs on one day for one window.
type ActiveRow struct {
	Day      string // YYYY-MM-DD, UTC
	Window   int    // window length in days
	Installs int64
}

// HistogramQuery selects what Histogram counts.
type HistogramQuery struct {
	Filter   Filter
	Where    []Condition
	Property string
}

// HistogramRow is one bar of a histogram.
type HistogramRow struct {
	Event    string
	Value    float64
	Events   int64
	Installs int64
}

// MaxFunnelSteps is the maximum number of steps of a funnel.
const MaxFunnelSteps = 10

// FunnelStep is one step of a funnel: an event with the given name that
// meets every condition.
type FunnelStep struct {
	Event string
	Where []Condition
}

// FunnelQuery selects what Funnel counts. An install enters the funnel with
// its first first-step event in the filter's date range. It completes step
// n+1 with its earliest event of that step at or after the time it completed
// step n, and no later than Window after it entered. When two consecutive
// steps name the same event, the later step needs a strictly later event.
// The later steps may fall after Filter.To. Filter.Events is ignored, while
// its project, versions and platforms select the events of every step.
type FunnelQuery struct {
	Filter Filter
	Steps  []FunnelStep // 2 to MaxFunnelSteps steps
	Window time.Duration
}

// Validate returns an error when q has fewer than 2 or more than
// MaxFunnelSteps steps, or a window that is not positive.
func (q FunnelQuery) Validate() error {
	if len(q.Steps) < 2 || len(q.Steps) > MaxFunnelSteps {
		return fmt.Errorf("%s: use 2 to %d", countSteps(len(q.Steps)), MaxFunnelSteps)
	}
	if q.Window <= 0 {
		return fmt.Errorf("invalid window %s: use a positive duration", q.Window)
	}
	return nil
}

// FunnelRow is the number of installs that completed one step.
type FunnelRow struct {
	Step     int // index into FunnelQuery.Steps
	Installs int64
}

// RetentionQuery selects what Retention counts. An install's cohort is the
// week of its earliest selected event, ignoring Filter.From, and only
// cohorts whose week starts on or after the Monday of Filter.From are
// returned. Activity after Filter.To is not counted.
type RetentionQuery struct {
	Filter Filter
	// Weeks is the largest week offset returned; 0 returns cohort sizes
	// only.
	Weeks int
}

// Validate returns an error when q.Weeks is negative.
func (q RetentionQuery) Validate() error {
	if q.Weeks < 0 {
		return fmt.Errorf("invalid weeks %d: use 0 or more", q.Weeks)
	}
	return nil
}

// RetentionRow is one cell of a retention table. Week 0 holds the size of
// the cohort.
type RetentionRow struct {
	Cohort   string // Monday of the cohort's week as YYYY-MM-DD
	Week     int    // weeks since the cohort's week
	Installs int64
}

// ExportFormat is the file format of ExportEvents.
type ExportFormat string

// The export formats.
const (
	CSV     ExportFormat = "csv"     // RFC 4180 with a header line
	Parquet ExportFormat = "parquet" // Apache Parquet
)

// ExportColumns are the columns of ExportEvents in order: the fields of
// Event, with the timestamps in UTC, version and backend_platform as in
// Filter, and the properties as one JSON object.
var ExportColumns = []string{
	"project", "uuid", "event", "distinct_id", "timestamp", "received_at",
	"version", "backend_platform", "properties",
}

// countSteps returns n followed by "step" or "steps".
func countSteps(n int) string {
	if n == 1 {
		return "1 step"
	}
	return fmt.Sprintf("%d steps", n)
}
