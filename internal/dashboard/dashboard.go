package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/candor-dev/candor/internal/logutil"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/sdk/mux"
)

// ContentSecurityPolicy is the Content-Security-Policy header of every
// response. It allows scripts, styles and connections to this origin only and
// no inline scripts or styles.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Config configures a Handler.
type Config struct {
	// Store is the event store the API queries. Required.
	Store store.Store

	// AdminToken is the secret that grants access to the API and the
	// dashboard. Required. Use a long random value, because anyone with the
	// token can read every statistic.
	AdminToken string

	// Project is the project a query selects when the request names none in
	// its project parameter. Empty selects every project of Projects. A
	// project that is not in Projects is invalid.
	Project string

	// Logger receives failed store queries, logins and logouts. Nil discards
	// them.
	Logger *slog.Logger

	// Now returns the current time. It sets the default date range of the
	// dashboard and the expiry of sessions. Nil means time.Now.
	Now func() time.Time

	// KAnonymity is the minimum number of distinct installs behind every
	// number the API and the dashboard show: a row built from fewer is
	// suppressed. Zero means DefaultKAnonymity, 1 turns suppression off
	// and allows the export of raw events. Negative values are invalid.
	KAnonymity int

	// Projects are the projects whose events the dashboard shows, each
	// with its app's catalog. The catalogs list the properties that trends
	// may break down by and that histograms may count. Each project's
	// panels of new installs, the default funnel and errors use the
	// Dashboard declaration of its catalog. Empty means the project mux
	// with mux.Catalog().
	Projects []Project

	// QueryTimeout bounds one store query of the API, so that a slow query
	// cannot hold a connection open forever. Zero means
	// DefaultQueryTimeout. Negative values are invalid.
	QueryTimeout time.Duration

	// OtherAPIRoutes are the routes under /api/ that the server mounts
	// beside the Handler, each with its method, such as
	// "DELETE /api/v1/installs/{distinct_id}?project=NAME". The 404 for an
	// unknown API path lists them after the query API's. Nil lists none.
	OtherAPIRoutes []string
}

// Handler is the http.Handler of the query API and the dashboard. Create it
// with New.
type Handler struct {
	store        store.Store
	analytics    store.Analytics // nil when the store does not implement it
	privacy      kAnonymity
	properties   *propertyIndex
	declarations *declarations
	token        tokenChecker
	project      string
	logger       *slog.Logger
	now          func() time.Time
	queryTimeout time.Duration
	otherRoutes  []string // Config.OtherAPIRoutes
	sessions     *sessionStore
	authLog      logutil.Limiter // rate limit of the failed-authentication line, which a client that retries in a loop repeats
	queryLog     logutil.Limiter // rate limit of the failed-query line, which every API request repeats while the store is down
	mux          *http.ServeMux
}

// New validates cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("create dashboard: missing Config.Store: pass the store to query")
	}
	if cfg.AdminToken == "" {
		return nil, errors.New("create dashboard: missing Config.AdminToken: set a long random secret")
	}
	k := cfg.KAnonymity
	switch {
	case k < 0:
		return nil, fmt.Errorf("create dashboard: invalid Config.KAnonymity %d: use 1 or more, or 0 for %d", k, DefaultKAnonymity)
	case k == 0:
		k = DefaultKAnonymity
	}
	queryTimeout := cfg.QueryTimeout
	switch {
	case queryTimeout < 0:
		return nil, fmt.Errorf("create dashboard: invalid Config.QueryTimeout %s: use a positive duration, or 0 for %s", queryTimeout, DefaultQueryTimeout)
	case queryTimeout == 0:
		queryTimeout = DefaultQueryTimeout
	}
	projects := cfg.Projects
	if len(projects) == 0 {
		projects = []Project{{Name: mux.App, Catalog: mux.Catalog()}}
	}
	for i, p := range projects {
		if p.Name == "" || p.Catalog == nil {
			return nil, fmt.Errorf("create dashboard: Config.Projects[%d] has no name or no catalog: give both", i)
		}
	}
	if cfg.Project != "" && !slices.ContainsFunc(projects, func(p Project) bool { return p.Name == cfg.Project }) {
		return nil, fmt.Errorf("create dashboard: Config.Project %q is not in Config.Projects: add it there or leave Project empty", cfg.Project)
	}

	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}

	assets, err := newAssetServer()
	if err != nil {
		return nil, err
	}

	analytics, _ := cfg.Store.(store.Analytics)
	h := &Handler{
		store:        cfg.Store,
		analytics:    analytics,
		privacy:      kAnonymity{k: k},
		properties:   newPropertyIndex(projects),
		declarations: newDeclarations(projects),
		token:        newTokenChecker(cfg.AdminToken),
		project:      cfg.Project,
		logger:       logger,
		now:          now,
		queryTimeout: queryTimeout,
		otherRoutes:  slices.Clone(cfg.OtherAPIRoutes),
		sessions:     newSessionStore(now),
	}
	h.authLog.Now = now
	h.queryLog.Now = now
	if err := h.checkDeclarations(projects); err != nil {
		return nil, err
	}
	h.mux = h.routes(assets)
	return h, nil
}

func (h *Handler) routes(assets http.Handler) *http.ServeMux {
	api := http.NewServeMux()
	h.registerAPI(api)

	// The login and logout forms change state, so a page of another site
	// must not be able to post them.
	forms := http.NewCrossOriginProtection()
	forms.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cross-origin form post rejected: submit the form from this dashboard",
			http.StatusForbidden)
	}))

	mux := http.NewServeMux()
	mux.Handle("/api/", h.requireAuth(api))
	mux.HandleFunc("GET /{$}", h.serveRoot)
	mux.Handle("POST /login", forms.Handler(http.HandlerFunc(h.serveLogin)))
	mux.Handle("POST /logout", forms.Handler(http.HandlerFunc(h.serveLogout)))
	mux.Handle("GET /assets/", assets)
	return mux
}

// ServeHTTP sets the security headers and dispatches r to its route.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	header := w.Header()
	header.Set("Content-Security-Policy", ContentSecurityPolicy)
	header.Set("X-Content-Type-Options", "nosniff")
	header.Set("Referrer-Policy", "no-referrer")
	header.Set("X-Frame-Options", "DENY")
	header.Set("Cross-Origin-Opener-Policy", "same-origin")
	header.Set("Cross-Origin-Resource-Policy", "same-origin")
	// Assets replace this with a revalidation policy. Everything else is
	// either data or depends on the session, so no cache may keep it.
	header.Set("Cache-Control", "no-store")

	h.mux.ServeHTTP(w, r)
}

// errorBody is the JSON body of every API error.
type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Every value written here is a plain struct or slice, so this only
		// happens after a programming error.
		status = http.StatusInternalServerError
		body = []byte(`{"error":"encode response failed"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, errorBody{Error: message})
}
