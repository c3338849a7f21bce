package catalog

import "strconv"

// dashboardPanel is one panel of the collector's dashboard that a
// Dashboard declaration feeds, with the keys of the declaration that it
// reads. Diff and Markdown describe the declaration panel by panel.
type dashboardPanel struct {
	// name is the panel's route in the dashboard's query API, such as
	// new_installs for /api/v1/new_installs.
	name string
	// title is the panel's heading on the dashboard page.
	title string
	// query is the kind of query the panel runs and what it counts.
	query string
	keys  []declaredKey
}

// declaredKey is one key of the catalog file's "dashboard" object with its
// value: a string, or the elements of a list when isList is true.
type declaredKey struct {
	name   string
	value  string
	list   []string
	isList bool
}

// panels returns the panels that d feeds, in the order of the dashboard
// page. The key names are the JSON keys of Dashboard's fields.
func (d Dashboard) panels() []dashboardPanel {
	return []dashboardPanel{
		{name: "new_installs", title: "New installs", query: "trend of installs per period", keys: []declaredKey{
			{name: "first_launch_event", value: d.FirstLaunchEvent},
			{name: "first_launch_property", value: d.FirstLaunchProperty},
		}},
		{name: "funnel", title: "Funnel", query: "funnel of installs per step", keys: []declaredKey{
			{name: "funnel", list: d.Funnel, isList: true},
		}},
		{name: "errors", title: "Errors", query: "trend of events and installs per period", keys: []declaredKey{
			{name: "error_event", value: d.ErrorEvent},
			{name: "error_breakdown", list: d.ErrorBreakdown, isList: true},
		}},
	}
}

// declared reports whether the declaration sets any key of the panel.
// SetDashboard and Parse accept a second key, such as
// first_launch_property, only next to the panel's event, so for their
// catalogs this is whether the panel's event is declared.
func (p dashboardPanel) declared() bool {
	for _, k := range p.keys {
		if k.set() {
			return true
		}
	}
	return false
}

func (k declaredKey) set() bool {
	return k.value != "" || len(k.list) > 0
}

// text returns the value quoted, and a list as its quoted elements in
// brackets, such as ["errorType", "context"].
func (k declaredKey) text() string {
	if k.isList {
		return "[" + quoteAll(k.list) + "]"
	}
	return strconv.Quote(k.value)
}
