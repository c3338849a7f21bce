package dashboard

import (
	"bytes"
	"embed"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFiles embed.FS

var templates = template.Must(template.ParseFS(templateFiles, "templates/*.html"))

// defaultRangeDays is the length of the date range the dashboard shows when
// the URL names none: the last 30 days, today included.
const defaultRangeDays = 30

// presetRanges are the quick range links of the dashboard, in days.
var presetRanges = []int{7, 30, 90}

// loginPage is the data of templates/login.html.
type loginPage struct {
	Error       string // shown above the form, empty for none
	ReturnQuery string // the dashboard query to open after login
}

// dashboardPage is the data of templates/dashboard.html.
type dashboardPage struct {
	Error    string // why the parameters are invalid, which stops the page from loading data
	Project  string // the selected project, empty for all
	From, To string // the form values, as given in the URL or the defaults
	Version  string
	Platform string
	Event    string
	Hidden   map[string]string // parameters the form carries unchanged
	APIQuery string            // the query string of the API requests
	Presets  []presetLink
}

type presetLink struct {
	Label   string
	URL     string
	Current bool
}

// serveRoot serves GET /: the token link, the login form or the dashboard.
func (h *Handler) serveRoot(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("token") {
		h.serveTokenLink(w, r)
		return
	}
	if !h.authenticated(r) {
		h.renderLogin(w, http.StatusOK, "", r.URL.RawQuery)
		return
	}
	h.serveDashboard(w, r)
}

func (h *Handler) renderLogin(w http.ResponseWriter, status int, message, returnQuery string) {
	h.render(w, status, "login.html", loginPage{Error: message, ReturnQuery: returnQuery})
}

func (h *Handler) serveDashboard(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	page := h.newDashboardPage(query)

	status := http.StatusOK
	if _, err := h.parseFilter(query); err != nil {
		status, page.Error = http.StatusBadRequest, err.Error()
	} else {
		page.APIQuery = apiQuery(query, page.From, page.To)
	}
	h.render(w, status, "dashboard.html", page)
}

// newDashboardPage fills the form of the dashboard from the URL query. A
// missing date range becomes the last defaultRangeDays days.
func (h *Handler) newDashboardPage(query url.Values) dashboardPage {
	today := h.now().UTC().Truncate(24 * time.Hour)
	page := dashboardPage{
		Project:  h.project,
		From:     query.Get("from"),
		To:       query.Get("to"),
		Version:  strings.Join(splitList(query["version"]), ", "),
		Platform: strings.Join(splitList(query["platform"]), ", "),
		Event:    strings.Join(splitList(query["event"]), ", "),
		Hidden:   map[string]string{},
	}
	if query.Has("project") {
		page.Project = query.Get("project")
		page.Hidden["project"] = page.Project
	}
	if page.From == "" && page.To == "" {
		page.From = today.AddDate(0, 0, 1-defaultRangeDays).Format(dateLayout)
		page.To = today.Format(dateLayout)
	}

	for _, days := range presetRanges {
		from := today.AddDate(0, 0, 1-days).Format(dateLayout)
		to := today.Format(dateLayout)
		link := maps.Clone(query)
		link.Set("from", from)
		link.Set("to", to)
		page.Presets = append(page.Presets, presetLink{
			Label:   "Last " + strconv.Itoa(days) + " days",
			URL:     "/?" + link.Encode(),
			Current: page.From == from && page.To == to,
		})
	}
	return page
}

// apiQuery returns the query string the page's script sends to the API:
// the URL query with the date range filled in.
func apiQuery(query url.Values, from, to string) string {
	api := maps.Clone(query)
	api.Set("from", from)
	api.Set("to", to)
	return api.Encode()
}

// render executes a template into a buffer first, so a template error
// cannot leave half a page behind a 200 status.
func (h *Handler) render(w http.ResponseWriter, status int, name string, data any) {
	var page bytes.Buffer
	if err := templates.ExecuteTemplate(&page, name, data); err != nil {
		h.logger.Error("render page failed", "template", name, "err", err)
		http.Error(w, "render page failed: see the collector log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(page.Bytes())
}
