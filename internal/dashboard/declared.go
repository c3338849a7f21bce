package dashboard

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/sdk/catalog"
)

// Project is one project whose events the dashboard shows.
type Project struct {
	// Name is the project name stored with its events, such as "mux".
	Name string
	// Catalog is the catalog of the project's app. Its Dashboard
	// declaration names the events of the new-installs, funnel and errors
	// panels.
	Catalog *catalog.Catalog
}

// part is one part of a catalog's Dashboard declaration, named as the
// "undeclared" key of an API response names it.
type part string

const (
	partFirstLaunch part = "first_launch"
	partFunnel      part = "funnel"
	partErrors      part = "errors"
)

// partText is the wording of the messages about a part that is not declared.
type partText struct {
	missing string // the undeclared thing, such as "first-launch event"
	effect  string // the consequence for the dashboard
	goNames string // the Dashboard fields
	keys    string // the JSON keys of the catalog file
}

var partTexts = map[part]partText{
	partFirstLaunch: {"first-launch event", "so new installs cannot be counted",
		"FirstLaunchEvent", `"first_launch_event"`},
	partFunnel: {"default funnel", "so a funnel needs step parameters",
		"Funnel", `"funnel"`},
	partErrors: {"error event", "so errors cannot be counted",
		"ErrorEvent and ErrorBreakdown", `"error_event" and "error_breakdown"`},
}

// undeclaredError is the response of a route whose panel needs a part of
// the Dashboard declaration that the selected project's catalog lacks.
// The route responds with 409 and a JSON body that names the part.
type undeclaredError struct {
	part    part
	message string
}

func (e undeclaredError) Error() string { return e.message }

// undeclaredBody is the JSON body of an undeclaredError response.
type undeclaredBody struct {
	Error      string `json:"error"`
	Undeclared part   `json:"undeclared"`
}

// declarations holds the Dashboard declaration of every project.
type declarations struct {
	names     []string // in the order of Config.Projects
	dashboard map[string]catalog.Dashboard
}

func newDeclarations(projects []Project) *declarations {
	d := &declarations{dashboard: map[string]catalog.Dashboard{}}
	for _, p := range projects {
		d.names = append(d.names, p.Name)
		d.dashboard[p.Name] = p.Catalog.Dashboard
	}
	return d
}

// lookup returns the declaration whose part the panels of project use. A
// configured project uses its own. Every other selection, all projects
// included, uses the one declaration that the projects declaring the part
// agree on. The error is an undeclaredError when there is no such
// declaration.
func (d *declarations) lookup(project string, p part) (catalog.Dashboard, error) {
	if own, ok := d.dashboard[project]; ok {
		if !declares(own, p) {
			return catalog.Dashboard{}, d.undeclared(p, []string{project}, false)
		}
		return own, nil
	}

	var found []string
	for _, name := range d.names {
		if declares(d.dashboard[name], p) {
			found = append(found, name)
		}
	}
	if len(found) == 0 {
		return catalog.Dashboard{}, d.undeclared(p, d.names, false)
	}
	first := d.dashboard[found[0]]
	for _, name := range found[1:] {
		if !samePart(first, d.dashboard[name], p) {
			return catalog.Dashboard{}, d.undeclared(p, found, true)
		}
	}
	return first, nil
}

// restrict limits a filter of all projects to the configured projects
// whose catalogs declare part p, so that a project without the
// declaration adds no events that share the declared names. A filter of
// one project is returned unchanged.
func (d *declarations) restrict(f store.Filter, p part) store.Filter {
	if f.Project != "" {
		return f
	}
	var declaring []string
	for _, name := range d.names {
		if declares(d.dashboard[name], p) {
			declaring = append(declaring, name)
		}
	}
	f.Projects = declaring
	return f
}

// undeclared builds the error for part p of projects: declared by none of
// them, or declared differently when differ is true.
func (d *declarations) undeclared(p part, projects []string, differ bool) error {
	text := partTexts[p]
	quoted := make([]string, len(projects))
	for i, name := range projects {
		quoted[i] = quote(name)
	}
	subject := "project " + strings.Join(quoted, "")
	if len(projects) != 1 {
		subject = "projects " + strings.Join(quoted, ", ")
	}

	var message string
	if differ {
		message = fmt.Sprintf("the %s declare different %ss: select one project with the project parameter, such as project=%s",
			subject, text.missing, projects[0])
	} else {
		verb := "declares"
		if len(projects) != 1 {
			verb = "declare"
		}
		message = fmt.Sprintf("%s %s no %s, %s: declare %s with Catalog.SetDashboard where the app registers its events, "+
			"or %s in the \"dashboard\" object of its catalog file, then restart candor serve",
			subject, verb, text.missing, text.effect, text.goNames, text.keys)
	}
	return undeclaredError{part: p, message: message}
}

func declares(d catalog.Dashboard, p part) bool {
	switch p {
	case partFirstLaunch:
		return d.FirstLaunchEvent != ""
	case partFunnel:
		return len(d.Funnel) > 0
	case partErrors:
		return d.ErrorEvent != ""
	}
	return false
}

func samePart(a, b catalog.Dashboard, p part) bool {
	switch p {
	case partFirstLaunch:
		return a.FirstLaunchEvent == b.FirstLaunchEvent && a.FirstLaunchProperty == b.FirstLaunchProperty
	case partFunnel:
		return slices.Equal(a.Funnel, b.Funnel)
	case partErrors:
		return a.ErrorEvent == b.ErrorEvent && slices.Equal(a.ErrorBreakdown, b.ErrorBreakdown)
	}
	return false
}

// firstLaunch returns the event and the condition that select the first
// launches of d. The condition is nil when every event of that name is a
// first launch.
func firstLaunch(d catalog.Dashboard) (string, []store.Condition) {
	if d.FirstLaunchProperty == "" {
		return d.FirstLaunchEvent, nil
	}
	return d.FirstLaunchEvent, []store.Condition{{Property: d.FirstLaunchProperty, Value: "true"}}
}

// checkDeclarations checks each project's declaration against the
// catalogs as the routes use it, so a declaration that was set without
// SetDashboard fails at start and not on every request.
func (h *Handler) checkDeclarations(projects []Project) error {
	for _, p := range projects {
		if err := h.checkDeclaration(p.Name, p.Catalog.Dashboard); err != nil {
			return fmt.Errorf("create dashboard: invalid dashboard declaration of project %q: %w (fix it in the project's catalog)", p.Name, err)
		}
	}
	return nil
}

func (h *Handler) checkDeclaration(project string, d catalog.Dashboard) error {
	if d.FirstLaunchProperty != "" {
		class, ok := h.properties.class(project, []string{d.FirstLaunchEvent}, d.FirstLaunchProperty)
		if !ok || class != catalog.Bool {
			return fmt.Errorf("first-launch property %q of event %q: want a bool property of that event", d.FirstLaunchProperty, d.FirstLaunchEvent)
		}
	}
	if len(d.Funnel) == 1 || len(d.Funnel) > store.MaxFunnelSteps {
		return fmt.Errorf("funnel of %s: give 2 to %d", countNoun(len(d.Funnel), "step"), store.MaxFunnelSteps)
	}
	// NOTE: catalog.Parse and Catalog.SetDashboard check each declared step
	// first, and package catalog reads no quoted values, so a declared step
	// cannot use one.
	for _, text := range d.Funnel {
		if _, err := h.parseStep(project, text); err != nil {
			return err
		}
	}
	if d.ErrorEvent == "" {
		return nil
	}
	if len(d.ErrorBreakdown) == 0 || len(d.ErrorBreakdown) > store.MaxBreakdown {
		return fmt.Errorf("error breakdown %q: give 1 to %d properties", d.ErrorBreakdown, store.MaxBreakdown)
	}
	for _, property := range d.ErrorBreakdown {
		if err := h.properties.check(project, []string{d.ErrorEvent}, property, "breakdown", breakdownClasses); err != nil {
			return err
		}
	}
	return nil
}

// isUndeclared reports whether err is an undeclaredError, and returns it.
func isUndeclared(err error) (undeclaredError, bool) {
	var undeclared undeclaredError
	ok := errors.As(err, &undeclared)
	return undeclared, ok
}

// words splits a property name such as errorType, error_type or
// error.type into lowercase words.
func words(name string) []string {
	var list []string
	var word []rune
	flush := func() {
		if len(word) > 0 {
			list = append(list, string(word))
			word = word[:0]
		}
	}
	for _, r := range name {
		switch {
		case r == '_' || r == '-' || r == '.' || r == ' ' || r == '$' || r == '/':
			flush()
		case unicode.IsUpper(r):
			flush()
			word = append(word, unicode.ToLower(r))
		default:
			word = append(word, r)
		}
	}
	flush()
	return list
}
