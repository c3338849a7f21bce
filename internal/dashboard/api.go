package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// DefaultQueryTimeout is the Config.QueryTimeout of a zero Config.
const DefaultQueryTimeout = 30 * time.Second

// routeKind is the way a route turns a request into a response.
type routeKind int

const (
	// tableRoute responds with a table, released through kAnonymity.
	tableRoute routeKind = iota
	// rawEventsRoute streams raw events, which kAnonymity allows only
	// when it is off.
	rawEventsRoute
	// catalogRoute lists the catalog, which holds no event data.
	catalogRoute
)

// apiRoute is one route of the query API.
type apiRoute struct {
	path string
	kind routeKind
	// events reports whether the event parameter selects the events.
	events bool
	// params lists the route's own parameters besides the filter
	// parameters, event and format.
	params []string
	// query builds the table of a tableRoute.
	query func(h *Handler, ctx context.Context, r apiRequest) (table, error)
	// fallback, if set, builds the table from store.Store alone, for a
	// store that does not implement store.Analytics.
	fallback func(h *Handler, ctx context.Context, r apiRequest) (table, error)
}

// apiRequest is a parsed API request.
type apiRequest struct {
	filter store.Filter
	query  url.Values
}

// apiRoutes lists every route of the query API. New registers exactly
// these, and the tests request each one.
var apiRoutes = []apiRoute{
	{path: "/api/v1/overview", events: true, query: (*Handler).queryOverview, fallback: (*Handler).queryOverviewFallback},
	{path: "/api/v1/trends", events: true, params: []string{"interval", "breakdown", "limit", "where"}, query: (*Handler).queryTrends},
	{path: "/api/v1/events_per_day", events: true, query: (*Handler).queryEventsPerDay},
	{path: "/api/v1/active_installs", events: true, params: []string{"window"}, query: (*Handler).queryActiveInstalls},
	{path: "/api/v1/new_installs", params: []string{"interval"}, query: (*Handler).queryNewInstalls},
	{path: "/api/v1/histogram", events: true, params: []string{"property", "where"}, query: (*Handler).queryHistogram},
	{path: "/api/v1/errors", params: []string{"interval", "breakdown", "limit"}, query: (*Handler).queryErrors},
	{path: "/api/v1/funnel", params: []string{"step", "window"}, query: (*Handler).queryFunnel},
	{path: "/api/v1/retention", events: true, params: []string{"weeks"}, query: (*Handler).queryRetention},
	{path: "/api/v1/export/aggregate", events: true, query: (*Handler).queryAggregate},
	{path: "/api/v1/export/events", kind: rawEventsRoute, events: true},
	{path: "/api/v1/catalog", kind: catalogRoute},
}

// apiPaths returns the path of every API route.
func apiPaths() []string {
	paths := make([]string, len(apiRoutes))
	for i, route := range apiRoutes {
		paths[i] = route.path
	}
	return paths
}

// registerAPI adds every route of apiRoutes to routes.
func (h *Handler) registerAPI(routes *http.ServeMux) {
	for _, route := range apiRoutes {
		switch route.kind {
		case tableRoute:
			routes.HandleFunc("GET "+route.path, h.tableHandler(route))
		case rawEventsRoute:
			routes.HandleFunc("GET "+route.path, h.serveRawEvents)
		case catalogRoute:
			routes.HandleFunc("GET "+route.path, h.serveCatalog)
		}
	}
	routes.HandleFunc("/api/", h.serveUnknownAPI)
}

// parseRequest checks the parameters of r against route and parses the
// filter and the format.
func (h *Handler) parseRequest(route apiRoute, r *http.Request) (apiRequest, format, error) {
	query := r.URL.Query()
	allowed := slices.Concat(filterParameters, []string{"format"}, route.params)
	if route.events {
		allowed = append(allowed, "event")
	}
	if err := checkParameters(query, allowed); err != nil {
		return apiRequest{}, "", err
	}

	f, err := parseFormat(query)
	if err != nil {
		return apiRequest{}, "", err
	}
	filter, err := h.parseFilter(query, route.events)
	if err != nil {
		return apiRequest{}, "", err
	}
	return apiRequest{filter: filter, query: query}, f, nil
}

func parseFormat(query url.Values) (format, error) {
	value, err := singleValue(query, "format")
	if err != nil {
		return "", err
	}
	switch f := format(value); f {
	case "":
		return formatJSON, nil
	case formatJSON, formatCSV, formatParquet:
		return f, nil
	}
	return "", fmt.Errorf("invalid format %q: use json, csv or parquet", value)
}

// tableHandler serves a tableRoute: it parses the request, builds the
// table, releases it through k-anonymity and encodes it.
func (h *Handler) tableHandler(route apiRoute) http.HandlerFunc {
	name := strings.ReplaceAll(strings.TrimPrefix(route.path, "/api/v1/"), "/", "-")
	return func(w http.ResponseWriter, r *http.Request) {
		request, f, err := h.parseRequest(route, r)
		if err != nil {
			writeRequestError(w, err)
			return
		}
		query := route.query
		if h.analytics == nil {
			if route.fallback == nil {
				writeNoAnalytics(w, h.store)
				return
			}
			query = route.fallback
		}

		ctx, cancel := context.WithTimeout(r.Context(), h.queryTimeout)
		defer cancel()
		var t table
		err = h.watchStore(ctx, func(ctx context.Context) error {
			var err error
			t, err = query(h, ctx, request)
			return err
		})
		if err != nil {
			h.writeQueryError(w, r, err)
			return
		}
		t.name = name
		if err := writeReleased(w, r, h.privacy.release(t), f, downloadName(name, request.filter)); err != nil {
			h.logger.Error("write response failed", "path", r.URL.Path, "err", err)
		}
	}
}

// serveRawEvents exports raw events as CSV or Parquet when k-anonymity is
// off, and rejects the request otherwise.
func (h *Handler) serveRawEvents(w http.ResponseWriter, r *http.Request) {
	route := apiRoute{path: r.URL.Path, events: true}
	request, f, err := h.parseRequest(route, r)
	if err != nil {
		writeRequestError(w, err)
		return
	}
	if !h.privacy.allowsRawEvents() {
		writeError(w, http.StatusForbidden, fmt.Sprintf(
			"raw events disabled: each event row comes from one install, below the k-anonymity of %d installs; "+
				"use /api/v1/export/aggregate, or start candor serve with --k-anonymity 1", h.privacy.k))
		return
	}
	if f == formatJSON {
		message := "missing format for raw events: add format=csv or format=parquet"
		if value := request.query.Get("format"); value != "" {
			message = fmt.Sprintf("invalid format %q for raw events: use format=csv or format=parquet", value)
		}
		writeError(w, http.StatusBadRequest, message)
		return
	}
	if h.analytics == nil {
		writeNoAnalytics(w, h.store)
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), h.queryTimeout)
	defer cancel()
	contentType := "text/csv; charset=utf-8"
	if f == formatParquet {
		contentType = parquetContentType
	}
	download := &downloadWriter{
		w:           w,
		contentType: contentType,
		filename:    downloadName("events", request.filter) + "." + string(f),
	}
	err = h.watchStore(ctx, func(ctx context.Context) error {
		return h.analytics.ExportEvents(ctx, request.filter, store.ExportFormat(f), download)
	})
	switch {
	case err != nil && !download.started:
		h.writeQueryError(w, r, err)
	case err != nil:
		// NOTE: once the first bytes are sent, a failure can no longer
		// change the status, so the client gets a truncated file. The log
		// has the error.
		h.logQueryError(r, err)
	default:
		download.start()
	}
}

// downloadWriter sets the download headers with the first byte written,
// so that an export that fails before its first byte can still respond
// with an error status instead of 200 and an empty file.
type downloadWriter struct {
	w           http.ResponseWriter
	contentType string
	filename    string
	started     bool
}

func (d *downloadWriter) start() {
	if !d.started {
		d.started = true
		setDownload(d.w, d.contentType, d.filename)
	}
}

func (d *downloadWriter) Write(p []byte) (int, error) {
	d.start()
	return d.w.Write(p)
}

// downloadName returns the file name stem of a download: candor, the route
// and the date range, such as candor-trends-2025-03-01-2025-03-31.
func downloadName(name string, f store.Filter) string {
	parts := []string{"candor", name}
	if !f.From.IsZero() {
		parts = append(parts, f.From.Format(dateLayout))
	}
	if !f.To.IsZero() {
		parts = append(parts, f.To.AddDate(0, 0, -1).Format(dateLayout))
	}
	return strings.Join(parts, "-")
}

func writeNoAnalytics(w http.ResponseWriter, s store.Store) {
	writeError(w, http.StatusNotImplemented, fmt.Sprintf(
		"analytics queries not supported: the store backend %T does not implement store.Analytics", s))
}

func (h *Handler) writeQueryError(w http.ResponseWriter, r *http.Request, err error) {
	if undeclared, ok := isUndeclared(err); ok {
		writeJSON(w, http.StatusConflict, undeclaredBody{Error: undeclared.message, Undeclared: undeclared.part})
		return
	}
	if isBadRequest(err) {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	h.logQueryError(r, err)
	switch {
	case h.storeUnavailable(r.Context(), err):
		w.Header().Set("Retry-After", strconv.Itoa(int(storeRetryAfter/time.Second)))
		writeError(w, http.StatusServiceUnavailable,
			"query failed because the event store is unavailable: retry later, and see the collector log for the cause")
	case isTimeout(err) && r.Context().Err() == nil:
		writeError(w, http.StatusServiceUnavailable,
			fmt.Sprintf("query timed out after %s while the event store responds: narrow the date range", h.queryTimeout))
	default:
		writeError(w, http.StatusInternalServerError, "query failed: see the collector log")
	}
}

// logQueryError logs a failed query at most once per logutil.Interval,
// because while the store is down every API request fails the same way.
func (h *Handler) logQueryError(r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client went away, which cancels the query. That is no fault
		// of the store.
		h.logger.Debug("query canceled", "path", r.URL.Path, "err", err)
		return
	}
	h.queryLog.Error(h.logger, "query failed", "path", r.URL.Path, "query", r.URL.RawQuery, "err", err)
}

// serveUnknownAPI rejects API requests that match no route: 405 for a known
// path with another method than GET, 404 otherwise. The 404 lists the
// query API's routes and Config.OtherAPIRoutes.
func (h *Handler) serveUnknownAPI(w http.ResponseWriter, r *http.Request) {
	if slices.Contains(apiPaths(), r.URL.Path) {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+
			quote(r.URL.Path)+": use GET")
		return
	}
	routes := "GET " + strings.Join(apiPaths(), ", ")
	for _, route := range h.otherRoutes {
		routes += ", or " + route
	}
	writeError(w, http.StatusNotFound, "unknown API path "+quote(r.URL.Path)+": use "+routes)
}
