package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// queryTimeout bounds one store query, so a slow query cannot hold a
// connection open forever.
const queryTimeout = 30 * time.Second

// dateLayout is the format of the from and to parameters.
const dateLayout = "2006-01-02"

// apiParameters lists the query parameters that the API routes accept.
var apiParameters = []string{"from", "to", "version", "platform", "event", "project"}

// apiPaths lists the API routes, for the error of a wrong method or path.
var apiPaths = []string{"/api/v1/overview", "/api/v1/events_per_day", "/api/v1/active_installs"}

func (h *Handler) serveOverview(w http.ResponseWriter, r *http.Request) {
	serveQuery(h, w, r, func(ctx context.Context, f store.Filter) (store.Overview, error) {
		overview, err := h.store.Overview(ctx, f)
		if overview.Events == nil {
			overview.Events = map[string]int64{}
		}
		if overview.Versions == nil {
			overview.Versions = []store.KeyCount{}
		}
		if overview.Platforms == nil {
			overview.Platforms = []store.KeyCount{}
		}
		return overview, err
	})
}

func (h *Handler) serveEventsPerDay(w http.ResponseWriter, r *http.Request) {
	serveQuery(h, w, r, func(ctx context.Context, f store.Filter) ([]store.DayCount, error) {
		days, err := h.store.EventsPerDay(ctx, f)
		if days == nil {
			days = []store.DayCount{}
		}
		return days, err
	})
}

func (h *Handler) serveActiveInstalls(w http.ResponseWriter, r *http.Request) {
	serveQuery(h, w, r, func(ctx context.Context, f store.Filter) ([]store.DayValue, error) {
		days, err := h.store.ActiveInstallsPerDay(ctx, f)
		if days == nil {
			days = []store.DayValue{}
		}
		return days, err
	})
}

// serveUnknownAPI rejects API requests that match no route: 405 for a known
// path with another method than GET, 404 otherwise.
func (h *Handler) serveUnknownAPI(w http.ResponseWriter, r *http.Request) {
	if slices.Contains(apiPaths, r.URL.Path) {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+
			quote(r.URL.Path)+": use GET")
		return
	}
	writeError(w, http.StatusNotFound, "unknown API path "+quote(r.URL.Path)+
		": use one of "+strings.Join(apiPaths, ", "))
}

// serveQuery parses the filter of r, runs query with it and writes the
// result as JSON.
func serveQuery[T any](h *Handler, w http.ResponseWriter, r *http.Request,
	query func(context.Context, store.Filter) (T, error)) {
	filter, err := h.parseFilter(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	result, err := query(ctx, filter)
	if err != nil {
		h.logQueryError(r, err)
		status, message := http.StatusInternalServerError, "query failed: see the collector log"
		if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil {
			status, message = http.StatusServiceUnavailable, "query timed out: narrow the date range"
		}
		writeError(w, status, message)
		return
	}
	writeJSON(w, http.StatusOK, result)
}

func (h *Handler) logQueryError(r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client went away, which cancels the query. That is no fault
		// of the store.
		h.logger.Debug("query canceled", "path", r.URL.Path, "err", err)
		return
	}
	h.logger.Error("query failed", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
}

// parseFilter converts the API query parameters to a store filter.
func (h *Handler) parseFilter(query url.Values) (store.Filter, error) {
	for name := range query {
		if !slices.Contains(apiParameters, name) {
			return store.Filter{}, fmt.Errorf("unknown parameter %q: use %s",
				name, strings.Join(apiParameters, ", "))
		}
	}

	dates, err := parseDateRange(query)
	if err != nil {
		return store.Filter{}, err
	}
	filter := store.Filter{
		Project:   h.project,
		From:      dates.from,
		Versions:  splitList(query["version"]),
		Platforms: splitList(query["platform"]),
		Events:    splitList(query["event"]),
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
		filter.Project = project
	}
	return filter, nil
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

// splitList returns the values of a list parameter. Each value may hold
// several items separated by commas, and empty items are dropped, so an
// empty form field selects everything.
// NOTE: a version or platform that contains a comma cannot be selected.
func splitList(values []string) []string {
	var items []string
	for _, value := range values {
		for item := range strings.SplitSeq(value, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
	}
	return items
}

func quote(s string) string {
	return strconv.Quote(s)
}
