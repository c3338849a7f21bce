package dashboard

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/sdk/catalog"
)

// dateLayout is the format of the from and to parameters.
const dateLayout = "2006-01-02"

// filterParameters are the parameters every data route takes: the date
// range, versions, platforms and project.
var filterParameters = []string{"from", "to", "version", "platform", "project"}

// parseFilter converts the filter parameters of query to a store filter.
// The event parameter fills Filter.Events when withEvents is true.
func (h *Handler) parseFilter(query url.Values, withEvents bool) (store.Filter, error) {
	dates, err := parseDateRange(query)
	if err != nil {
		return store.Filter{}, err
	}
	filter := store.Filter{Project: h.project, From: dates.from}
	if filter.Versions, err = splitList("version", query["version"]); err != nil {
		return store.Filter{}, err
	}
	if filter.Platforms, err = splitList("platform", query["platform"]); err != nil {
		return store.Filter{}, err
	}
	if !dates.to.IsZero() {
		// The to parameter includes its whole day, and Filter.To excludes.
		filter.To = dates.to.AddDate(0, 0, 1)
	}
	if query.Has("project") {
		project, err := singleValue(query, "project")
		if err != nil {
			return store.Filter{}, err
		}
		if err := h.checkProject(project); err != nil {
			return store.Filter{}, err
		}
		filter.Project = project
	}
	if filter.Project == "" {
		// Without a project, the filter selects every configured project,
		// which leaves out the events of a project removed from the config.
		filter.Projects = h.declarations.names
	}
	if withEvents {
		if filter.Events, err = splitList("event", query["event"]); err != nil {
			return store.Filter{}, err
		}
		if err := h.properties.checkEvents(filter.Project, filter.Events); err != nil {
			return store.Filter{}, err
		}
	}
	return filter, nil
}

// unknownProjectError is the error of a project parameter that names no
// configured project. Such a filter would select no events, so the API
// responds with 404 and the configured projects instead of empty data.
type unknownProjectError struct {
	project    string
	configured []string
}

func (e unknownProjectError) Error() string {
	quoted := make([]string, len(e.configured))
	for i, name := range e.configured {
		quoted[i] = quote(name)
	}
	return fmt.Sprintf("unknown project %q: use one of the configured projects %s, or leave the project out for all of them",
		e.project, strings.Join(quoted, ", "))
}

// unknownProjectBody is the JSON body of an unknownProjectError response.
type unknownProjectBody struct {
	Error    string   `json:"error"`
	Projects []string `json:"projects"`
}

// checkProject returns an unknownProjectError unless project is empty,
// which selects every project, or the name of a configured project.
func (h *Handler) checkProject(project string) error {
	if project == "" || slices.Contains(h.declarations.names, project) {
		return nil
	}
	return unknownProjectError{project: project, configured: h.declarations.names}
}

// writeRequestError responds to a request whose parameters parseRequest
// rejected: 404 for an unknown project, 400 for everything else.
func writeRequestError(w http.ResponseWriter, err error) {
	var unknown unknownProjectError
	if errors.As(err, &unknown) {
		writeJSON(w, http.StatusNotFound, unknownProjectBody{Error: unknown.Error(), Projects: unknown.configured})
		return
	}
	writeError(w, http.StatusBadRequest, err.Error())
}

// checkParameters rejects a parameter of query that is not in allowed. It
// names the first unknown one in sorted order, so that the same request
// always gets the same error.
func checkParameters(query url.Values, allowed []string) error {
	for _, name := range slices.Sorted(maps.Keys(query)) {
		if !slices.Contains(allowed, name) {
			return fmt.Errorf("unknown parameter %q: use %s", name, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// dateRange contains the from and to parameters as UTC midnights. A zero
// field is unbounded, and to includes its whole day.
type dateRange struct {
	from, to time.Time
}

func parseDateRange(query url.Values) (dateRange, error) {
	var dates dateRange
	var err error
	if dates.from, err = parseDate(query, "from"); err != nil {
		return dateRange{}, err
	}
	if dates.to, err = parseDate(query, "to"); err != nil {
		return dateRange{}, err
	}
	if !dates.from.IsZero() && !dates.to.IsZero() && dates.from.After(dates.to) {
		return dateRange{}, fmt.Errorf("invalid date range: from %q is after to %q: swap them",
			query.Get("from"), query.Get("to"))
	}
	return dates, nil
}

// parseDate parses the date parameter name of query. A missing or empty
// parameter returns the zero time.
func parseDate(query url.Values, name string) (time.Time, error) {
	value, err := singleValue(query, name)
	if err != nil || value == "" {
		return time.Time{}, err
	}
	day, err := time.Parse(dateLayout, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid %s %q: expected a UTC date as YYYY-MM-DD, such as 2025-01-31",
			name, value)
	}
	return day, nil
}

func singleValue(query url.Values, name string) (string, error) {
	values := query[name]
	if len(values) > 1 {
		return "", fmt.Errorf("invalid %s: given %d times: pass it once", name, len(values))
	}
	if len(values) == 0 {
		return "", nil
	}
	return values[0], nil
}

// parseInt parses the integer parameter name, which must lie in [low,
// high]. A missing or empty parameter returns fallback.
func parseInt(query url.Values, name string, fallback, low, high int) (int, error) {
	value, err := singleValue(query, name)
	if err != nil || value == "" {
		return fallback, err
	}
	n, err := strconv.Atoi(value)
	if err != nil || n < low || n > high {
		return 0, fmt.Errorf("invalid %s %q: use a whole number from %d to %d", name, value, low, high)
	}
	return n, nil
}

// parseIntList parses a list parameter of integers in [low, high]. A
// missing or empty parameter returns fallback.
func parseIntList(query url.Values, name string, fallback []int, low, high int) ([]int, error) {
	items, err := splitList(name, query[name])
	if err != nil || len(items) == 0 {
		return fallback, err
	}
	numbers := make([]int, len(items))
	for i, item := range items {
		n, err := strconv.Atoi(item)
		if err != nil || n < low || n > high {
			return nil, fmt.Errorf("invalid %s %q: use whole numbers from %d to %d, separated by commas", name, item, low, high)
		}
		numbers[i] = n
	}
	return numbers, nil
}

// parseInterval parses the interval parameter. allowAll admits "all".
func parseInterval(query url.Values, fallback store.Interval, allowAll bool) (store.Interval, error) {
	value, err := singleValue(query, "interval")
	if err != nil || value == "" {
		return fallback, err
	}
	interval := store.Interval(value)
	if !interval.Valid() || interval == store.All && !allowAll {
		choices := "day, week or month"
		if allowAll {
			choices = "day, week, month or all"
		}
		return "", fmt.Errorf("invalid interval %q: use %s", value, choices)
	}
	return interval, nil
}

// parseDuration parses a duration such as 30m, 24h or 7d, at least a
// minute and at most max.
func parseDuration(query url.Values, name string, fallback, max time.Duration) (time.Duration, error) {
	value, err := singleValue(query, name)
	if err != nil || value == "" {
		return fallback, err
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(value, "d"); ok {
		n, convErr := strconv.Atoi(days)
		d, err = time.Duration(n)*24*time.Hour, convErr
	} else {
		d, err = time.ParseDuration(value)
	}
	if err != nil || d < time.Minute || d > max {
		return 0, fmt.Errorf("invalid %s %q: use a duration from 1m to %dd, such as 30m, 24h or 7d",
			name, value, int(max.Hours()/24))
	}
	return d, nil
}

// parseCondition parses a where parameter, "property=value", in which the
// value is everything after the first =.
func (h *Handler) parseCondition(project, text string, events []string) (store.Condition, error) {
	property, value, ok := strings.Cut(text, "=")
	if !ok || property == "" {
		return store.Condition{}, invalidConditionError(text)
	}
	return h.checkCondition(project, events, catalog.FunnelCondition{Property: property, Value: value, Text: text})
}

func invalidConditionError(text string) error {
	return fmt.Errorf("invalid condition %q: use property=value, such as thinkingLevel=high", text)
}

// checkCondition checks a condition against the catalogs of project: its
// property must be a property of events with a breakdown class, and its
// value one that the class stores.
func (h *Handler) checkCondition(project string, events []string, c catalog.FunnelCondition) (store.Condition, error) {
	if err := h.properties.check(project, events, c.Property, "condition", breakdownClasses); err != nil {
		return store.Condition{}, err
	}
	if err := h.properties.checkConditionValue(project, events, c.Property+"="+c.Value); err != nil {
		return store.Condition{}, err
	}
	return store.Condition{Property: c.Property, Value: c.Value}, nil
}

// parseConditions parses every where parameter.
func (h *Handler) parseConditions(project string, query url.Values, events []string) ([]store.Condition, error) {
	var conditions []store.Condition
	for _, text := range query["where"] {
		condition, err := h.parseCondition(project, text, events)
		if err != nil {
			return nil, err
		}
		conditions = append(conditions, condition)
	}
	return conditions, nil
}

// parseStep parses a funnel step with catalog.ParseFunnelStep: an event
// name, optionally followed by conditions in brackets, such as
// app_started[isFirstLaunch=true] or message_sent[model=m1,thinkingLevel=high].
// A value in double quotes may contain commas, ] and >, as in
// message_sent[model="a,b"].
func (h *Handler) parseStep(project, text string) (store.FunnelStep, error) {
	event, conditions, parseErr := catalog.ParseFunnelStep(text)
	step := store.FunnelStep{Event: event}
	if step.Event == "" {
		return store.FunnelStep{}, fmt.Errorf("invalid step %q: start it with an event name", text)
	}
	if err := h.properties.checkEvents(project, []string{step.Event}); err != nil {
		return store.FunnelStep{}, fmt.Errorf("invalid step %q: %w", text, err)
	}
	if errors.Is(parseErr, catalog.ErrUnclosedConditions) {
		// The page joins steps with >, so a value with an unquoted > is
		// cut there and loses its ].
		return store.FunnelStep{}, fmt.Errorf(
			`invalid step %q: close its conditions with ], and put a value that contains ], > or a comma in double quotes, such as model="a>b"`,
			text)
	}
	if parseErr != nil {
		return store.FunnelStep{}, fmt.Errorf("invalid step %q: %w", text, parseErr)
	}
	for _, raw := range conditions {
		condition, err := h.checkCondition(project, []string{step.Event}, raw)
		if err != nil {
			return store.FunnelStep{}, fmt.Errorf("invalid step %q: %w", text, err)
		}
		step.Where = append(step.Where, condition)
	}
	return step, nil
}

// stepLabel is the text form of a step that parseStep reads, with the
// values that need them in double quotes.
func stepLabel(step store.FunnelStep) string {
	if len(step.Where) == 0 {
		return step.Event
	}
	conditions := make([]string, len(step.Where))
	for i, c := range step.Where {
		conditions[i] = c.Property + "=" + quoteIfNeeded(c.Value, stepSpecials)
	}
	return step.Event + "[" + strings.Join(conditions, ",") + "]"
}

func quote(s string) string {
	return strconv.Quote(s)
}
