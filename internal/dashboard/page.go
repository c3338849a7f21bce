package dashboard

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/candor-dev/candor/internal/store"
)

//go:embed templates/*.html
var templateFiles embed.FS

var templates = template.Must(template.ParseFS(templateFiles, "templates/*.html"))

// defaultRangeDays is the length of the date range the dashboard shows when
// the URL names none: the last 30 days, today included.
const defaultRangeDays = 30

// presetRanges are the quick range links of the dashboard, in days.
var presetRanges = []int{7, 30, 90}

// panelParameters are the dashboard URL's settings of its panels, next to
// the filter parameters. The page's script reads them from the form
// controls and turns them into API parameters.
var panelParameters = []string{
	"event", "breakdown", "interval", "measure", // trends; interval also for new installs and errors
	"hist_event", "hist_property", // distributions
	"steps", "funnel_window", // funnel; steps separated by ">"
	"weeks", // retention
}

// pageParameters are every parameter of the dashboard URL.
var pageParameters = slices.Concat(filterParameters, panelParameters)

// defaultFunnelChoice is the funnel window the page opens with. Its
// default steps are the funnel that the project's catalog declares.
const defaultFunnelChoice = "1d"

// Preferred distribution: message lengths, when the catalog has them.
const (
	preferredHistogramEvent    = "message_sent"
	preferredHistogramProperty = "message_length_b2"
)

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
	Hidden   map[string]string // parameters the form carries unchanged
	APIQuery string            // the filter parameters of the API requests
	Presets  []presetLink
	// Projects links to the configured projects and to all of them, with
	// the other parameters kept, when the project parameter names none.
	Projects []presetLink
	K        int // the k-anonymity threshold, 1 when off
	// ProjectLinks are the links to each configured project and to all of
	// them, with the filters kept, when more than one project is configured.
	ProjectLinks []presetLink

	Trend       trendSettings
	NewInstalls newInstallsSettings
	Histogram   histogramSettings
	Funnel      funnelSettings
	Errors      errorsSettings
	Weeks       string
}

type presetLink struct {
	Label   string
	URL     string
	Current bool
}

// option is one choice of a select element.
type option struct {
	Value, Label string
	Selected     bool
}

type trendSettings struct {
	Event     string
	Breakdown []option
	Interval  []option
	Measure   []option
}

type histogramSettings struct {
	Events     []option
	Properties []option
}

type funnelSettings struct {
	Steps      string
	Declared   string // the declared steps, or "", which the page requests without step parameters
	Windows    []option
	Undeclared string // the reason there are no default steps, empty when declared
	Example    string // a step with a condition, for the hint
	MaxSteps   int    // the maximum number of steps in a funnel
}

// newInstallsSettings is the text of the new-installs panel.
type newInstallsSettings struct {
	Hint       string
	Undeclared string // the reason new installs cannot be counted, empty when declared
}

// errorsSettings are the breakdown and the texts of the errors panel,
// from the declared error event. Without one, Breakdown is empty and the
// page's script shows the API's explanation.
type errorsSettings struct {
	Breakdown  string // the declared properties, comma-separated
	Undeclared string // the reason errors cannot be counted, empty when declared
	Hint       string
	Caption    string // of the table by both properties
	RowLabel   string // the header of the first property's column
	ChartBy    string // ends the chart's label, such as "by error type"
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
	err := checkParameters(query, pageParameters)
	if err == nil {
		_, err = h.parseFilter(query, false)
	}
	if err == nil {
		err = checkPanelSettings(query, page)
	}
	var unknown unknownProjectError
	switch {
	case errors.As(err, &unknown):
		status, page.Error = http.StatusNotFound, err.Error()
		page.Projects = projectLinks(query, unknown.configured)
		page.ProjectLinks = nil
		// The quick ranges and the form's Apply button lead to all
		// projects rather than back to this page.
		withoutProject := maps.Clone(query)
		withoutProject.Del("project")
		page.Presets = presetRangeLinks(withoutProject, h.now().UTC().Truncate(24*time.Hour), page.From, page.To)
		delete(page.Hidden, "project")
	case err != nil:
		status, page.Error = http.StatusBadRequest, err.Error()
	default:
		page.APIQuery = apiQuery(query, page.From, page.To, page.Project)
	}
	h.render(w, status, "dashboard.html", page)
}

// checkPanelSettings returns an error for a panel setting of query that
// matches none of the page's choices. A select element would show its first
// choice instead, while the URL keeps the value.
func checkPanelSettings(query url.Values, page dashboardPage) error {
	settings := []struct {
		name    string
		choices []option
	}{
		{"interval", page.Trend.Interval},
		{"measure", page.Trend.Measure},
		{"funnel_window", page.Funnel.Windows},
		{"hist_event", page.Histogram.Events},
		{"hist_property", page.Histogram.Properties},
	}
	for _, setting := range settings {
		value := strings.TrimSpace(query.Get(setting.name))
		if value == "" || slices.ContainsFunc(setting.choices, func(o option) bool { return o.Value == value }) {
			continue
		}
		if len(setting.choices) == 0 {
			return fmt.Errorf("invalid %s %q: the catalog has no event with a numeric property, so leave it out", setting.name, value)
		}
		return fmt.Errorf("invalid %s %q: use %s", setting.name, value, joinChoices(setting.choices))
	}
	_, err := parseInt(query, "weeks", defaultWeeks, 0, maxWeeks)
	return err
}

// joinChoices lists the values of choices as "a, b or c".
func joinChoices(choices []option) string {
	values := make([]string, len(choices))
	for i, choice := range choices {
		values[i] = choice.Value
	}
	if len(values) == 1 {
		return values[0]
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// projectLinks links to each of projects and then to all projects, with
// the other parameters of query.
func projectLinks(query url.Values, projects []string) []presetLink {
	links := make([]presetLink, 0, len(projects)+1)
	for _, name := range append(slices.Clone(projects), "") {
		link := maps.Clone(query)
		link.Set("project", name)
		label := name
		if name == "" {
			label = "all projects"
		}
		links = append(links, presetLink{Label: label, URL: "/?" + link.Encode()})
	}
	return links
}

// projectSwitchLinks links to each configured project and then to all of
// them, with the filter parameters of query, when more than one project is
// configured. The panel settings are left out, because the events and
// properties they name may be missing from another project's catalog.
func (h *Handler) projectSwitchLinks(query url.Values, current string) []presetLink {
	if len(h.declarations.names) < 2 {
		return nil
	}
	var links []presetLink
	for _, name := range append(slices.Clone(h.declarations.names), "") {
		link := url.Values{}
		for _, parameter := range filterParameters {
			if values := query[parameter]; len(values) > 0 {
				link[parameter] = slices.Clone(values)
			}
		}
		link.Set("project", name)
		label := name
		if name == "" {
			label = "All projects"
		}
		links = append(links, presetLink{Label: label, URL: "/?" + link.Encode(), Current: name == current})
	}
	return links
}

// newDashboardPage fills the form of the dashboard from the URL query. A
// missing date range becomes the last defaultRangeDays days, and missing
// panel settings their defaults.
func (h *Handler) newDashboardPage(query url.Values) dashboardPage {
	today := h.now().UTC().Truncate(24 * time.Hour)
	page := dashboardPage{
		Project:  h.project,
		From:     query.Get("from"),
		To:       query.Get("to"),
		Version:  formList(query, "version"),
		Platform: formList(query, "platform"),
		Hidden:   map[string]string{},
		K:        h.privacy.k,
	}
	if query.Has("project") {
		page.Project = query.Get("project")
		page.Hidden["project"] = page.Project
	}
	if page.From == "" && page.To == "" {
		page.From = today.AddDate(0, 0, 1-defaultRangeDays).Format(dateLayout)
		page.To = today.Format(dateLayout)
	}

	page.Presets = presetRangeLinks(query, today, page.From, page.To)
	page.ProjectLinks = h.projectSwitchLinks(query, page.Project)
	page.Trend = h.trendSettings(query, page.Project)
	page.Histogram = h.histogramSettings(query, page.Project)
	page.NewInstalls = h.newInstallsSettings(page.Project)
	page.Errors = h.errorsSettings(page.Project)
	steps, undeclared := h.defaultSteps(page.Project)
	page.Funnel = funnelSettings{
		Steps:      valueOr(query, "steps", steps),
		Declared:   steps,
		Undeclared: undeclared,
		Example:    stepExample(steps),
		MaxSteps:   store.MaxFunnelSteps,
		Windows: options(valueOr(query, "funnel_window", defaultFunnelChoice),
			"1h", "Within 1 hour", "1d", "Within 1 day", "7d", "Within 7 days", "30d", "Within 30 days"),
	}
	page.Weeks = valueOr(query, "weeks", strconv.Itoa(defaultWeeks))
	return page
}

// presetRangeLinks links to the quick ranges up to today, with the other
// parameters of query. A link whose range is from and to is current.
func presetRangeLinks(query url.Values, today time.Time, from, to string) []presetLink {
	var links []presetLink
	for _, days := range presetRanges {
		presetFrom := today.AddDate(0, 0, 1-days).Format(dateLayout)
		presetTo := today.Format(dateLayout)
		link := maps.Clone(query)
		link.Set("from", presetFrom)
		link.Set("to", presetTo)
		links = append(links, presetLink{
			Label:   "Last " + strconv.Itoa(days) + " days",
			URL:     "/?" + link.Encode(),
			Current: from == presetFrom && to == presetTo,
		})
	}
	return links
}

// trendSettings fills the trend panel's form from query, with the
// breakdown properties of project's catalog, or of every catalog when
// project is empty.
func (h *Handler) trendSettings(query url.Values, project string) trendSettings {
	// An invalid event list shows as given, and the page's error explains
	// why.
	events, _ := splitList("event", query["event"])
	settings := trendSettings{
		Event:    formList(query, "event"),
		Interval: options(valueOr(query, "interval", "day"), "day", "Per day", "week", "Per week", "month", "Per month"),
		Measure:  options(valueOr(query, "measure", "events"), "events", "Events", "installs", "Installs"),
	}

	breakdown := query.Get("breakdown")
	settings.Breakdown = []option{{Value: "", Label: "No breakdown", Selected: breakdown == ""}}
	seen := map[string]bool{}
	add := func(info propertyInfo) {
		if info.Breakdown && !seen[info.Name] {
			seen[info.Name] = true
			settings.Breakdown = append(settings.Breakdown, option{Value: info.Name, Label: info.Name, Selected: info.Name == breakdown})
		}
	}
	listing := h.properties.listing(project)
	for _, info := range listing.Base {
		add(info)
	}
	for _, event := range listing.Events {
		if len(events) == 0 || slices.Contains(events, event.Name) {
			for _, info := range event.Properties {
				add(info)
			}
		}
	}
	if breakdown != "" && !seen[breakdown] {
		// Keep a breakdown that the URL names, so the API can explain
		// what is wrong with it.
		settings.Breakdown = append(settings.Breakdown, option{Value: breakdown, Label: breakdown, Selected: true})
	}
	return settings
}

// defaultSteps returns the declared funnel of project with its steps
// separated by " > ", or else "" and why there is none.
func (h *Handler) defaultSteps(project string) (steps, undeclared string) {
	declared, err := h.declarations.lookup(project, partFunnel)
	if err != nil {
		return "", err.Error()
	}
	return strings.Join(declared.Funnel, " > "), ""
}

// stepExample returns the first of the " > "-separated steps that has a
// condition, or a placeholder when none has.
func stepExample(steps string) string {
	for step := range strings.SplitSeq(steps, " > ") {
		if strings.Contains(step, "[") {
			return step
		}
	}
	return "event[property=value]"
}

func (h *Handler) newInstallsSettings(project string) newInstallsSettings {
	declared, err := h.declarations.lookup(project, partFirstLaunch)
	if err != nil {
		return newInstallsSettings{Hint: "Installs with their first launch in the period.", Undeclared: err.Error()}
	}
	launch := declared.FirstLaunchEvent
	if declared.FirstLaunchProperty != "" {
		launch += " with " + declared.FirstLaunchProperty
	}
	return newInstallsSettings{Hint: "Installs with their first launch (" + launch + ") in the period."}
}

// errorsSettings words the errors panel after the declared properties:
// for errorType and context, the table's caption is "Errors by type and
// context", its first column "Error type" and the chart is "by error type".
func (h *Handler) errorsSettings(project string) errorsSettings {
	declared, err := h.declarations.lookup(project, partErrors)
	if err != nil {
		return errorsSettings{Caption: "Errors", Undeclared: err.Error()}
	}
	properties := declared.ErrorBreakdown
	first := strings.Join(words(properties[0]), " ")
	settings := errorsSettings{
		Breakdown: strings.Join(properties, ","),
		RowLabel:  capitalize(first),
		ChartBy:   " by " + first,
	}
	var captionParts []string
	for _, property := range properties {
		list := words(property)
		// "Errors by error type" would repeat "error".
		if len(list) > 1 && list[0] == "error" {
			list = list[1:]
		}
		captionParts = append(captionParts, strings.Join(list, " "))
	}
	settings.Caption = "Errors by " + strings.Join(captionParts, " and ")
	if len(properties) == 1 {
		settings.Hint = declared.ErrorEvent + " by " + properties[0] + " over time and over the whole range."
	} else {
		settings.Hint = declared.ErrorEvent + " by " + properties[0] + " over time, and by " +
			properties[0] + " and " + properties[1] + " over the whole range."
	}
	// The page's script writes each cell of the table as "events (installs)".
	settings.Hint += " Each table cell shows events (installs)."
	return settings
}

func capitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[size:]
}

// histogramSettings lists the events of project's catalog, or of every
// catalog when project is empty, that have a histogram property, and the
// histogram properties of the selected event.
func (h *Handler) histogramSettings(query url.Values, project string) histogramSettings {
	var withHistograms []eventInfo
	for _, event := range h.properties.listing(project).Events {
		if slices.ContainsFunc(event.Properties, func(p propertyInfo) bool { return p.Histogram }) {
			withHistograms = append(withHistograms, event)
		}
	}
	if len(withHistograms) == 0 {
		return histogramSettings{}
	}

	selected := query.Get("hist_event")
	index := slices.IndexFunc(withHistograms, func(e eventInfo) bool { return e.Name == selected })
	if index < 0 {
		index = max(0, slices.IndexFunc(withHistograms, func(e eventInfo) bool { return e.Name == preferredHistogramEvent }))
	}
	event := withHistograms[index]

	var settings histogramSettings
	for i, e := range withHistograms {
		settings.Events = append(settings.Events, option{Value: e.Name, Label: e.Name, Selected: i == index})
	}
	property := query.Get("hist_property")
	if property == "" {
		property = preferredHistogramProperty
	}
	for _, p := range event.Properties {
		if p.Histogram {
			settings.Properties = append(settings.Properties, option{Value: p.Name, Label: p.Name, Selected: p.Name == property})
		}
	}
	return settings
}

// options builds select options from value, label pairs, selecting value.
func options(value string, pairs ...string) []option {
	var list []option
	for i := 0; i+1 < len(pairs); i += 2 {
		list = append(list, option{Value: pairs[i], Label: pairs[i+1], Selected: pairs[i] == value})
	}
	return list
}

// formList returns the list parameter name as the page's form shows it:
// the items separated by ", ", quoted where needed. A list that splitList
// rejects is shown as given.
func formList(query url.Values, name string) string {
	items, err := splitList(name, query[name])
	if err != nil {
		return strings.Join(query[name], ", ")
	}
	return joinList(items)
}

func valueOr(query url.Values, name, fallback string) string {
	if value := strings.TrimSpace(query.Get(name)); value != "" {
		return value
	}
	return fallback
}

// apiQuery returns the filter parameters the page's script sends to every
// API route: the date range, filled in, and the version, platform and
// project of the URL.
func apiQuery(query url.Values, from, to, project string) string {
	api := url.Values{}
	for _, name := range filterParameters {
		if values, ok := query[name]; ok {
			api[name] = values
		}
	}
	api.Set("from", from)
	api.Set("to", to)
	if project != "" {
		// The API's default project is the page's, and naming it lets
		// the script ask /api/v1/catalog for that project's catalog.
		api.Set("project", project)
	}
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
