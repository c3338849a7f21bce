package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ChangeKind is the kind of a Change: added, removed or changed.
type ChangeKind string

// The change kinds. Added and Removed apply to a whole event, property or
// dashboard panel. Every other difference, such as a new enum value, is
// Changed.
const (
	Added   ChangeKind = "added"
	Removed ChangeKind = "removed"
	Changed ChangeKind = "changed"
)

// Change is one difference between two versions of a catalog.
type Change struct {
	Kind ChangeKind `json:"kind"`
	// Event is the event's name, or empty for a base property or the
	// catalog's app name.
	Event string `json:"event,omitempty"`
	// Property is the property's name, with the names of enclosing object
	// properties before it, separated by dots, such as
	// "frontendPlatform.userAgent". It is empty for a change to an event.
	Property string `json:"property,omitempty"`
	// Panel is the name of a dashboard panel that the catalog's Dashboard
	// declaration feeds: new_installs, funnel or errors, as the routes of
	// the dashboard's query API name them. Event and Property are empty
	// for a change to a panel.
	Panel string `json:"panel,omitempty"`
	// Detail describes the change, such as `enum values added: "docker"`.
	Detail string `json:"detail,omitempty"`
}

// String returns the change as one line for release notes, such as
//
//	changed property message_sent.runtimeType: enum values added: "docker"
func (ch Change) String() string {
	var subject string
	switch {
	case ch.Panel != "":
		subject = "dashboard panel " + ch.Panel
	case ch.Event == "" && ch.Property == "":
		subject = "catalog"
	case ch.Event == "":
		subject = "base property " + ch.Property
	case ch.Property == "":
		subject = "event " + ch.Event
	default:
		subject = "property " + ch.Event + "." + ch.Property
	}
	line := string(ch.Kind) + " " + subject
	if ch.Detail != "" {
		line += ": " + ch.Detail
	}
	return line
}

// Diff returns the differences between two versions of a catalog: events
// and properties added or removed, and for properties in both, changes of
// class, enum values, bucket edges, count maximum, JSON type, optionality
// and description. It also compares the Dashboard declarations panel by
// panel: a panel whose keys one version sets and the other does not is
// added or removed, and each key whose value differs is a change of that
// panel. Changes come in a fixed order: the app name, the base properties,
// removed events in old's order, then added and changed events in new's
// order, each event's properties in declaration order. The dashboard
// panels come last, in the order of the dashboard page.
func Diff(old, new *Catalog) []Change {
	var changes []Change
	if old.App != new.App {
		changes = append(changes, Change{Kind: Changed, Detail: fmt.Sprintf("app %q → %q", old.App, new.App)})
	}
	changes = diffProperties(changes, "", "", old.Base, new.Base)

	for _, e := range old.Events {
		if _, ok := new.Lookup(e.Name); !ok {
			changes = append(changes, Change{Kind: Removed, Event: e.Name})
		}
	}
	for _, e := range new.Events {
		before, ok := old.Lookup(e.Name)
		if !ok {
			changes = append(changes, Change{Kind: Added, Event: e.Name, Detail: eventSummary(e)})
			continue
		}
		if before.Description != e.Description {
			changes = append(changes, Change{Kind: Changed, Event: e.Name, Detail: describeChange("description", before.Description, e.Description)})
		}
		changes = diffProperties(changes, e.Name, "", before.Properties, e.Properties)
	}
	return diffDashboard(changes, old.Dashboard, new.Dashboard)
}

// diffDashboard appends the changes between two Dashboard declarations.
func diffDashboard(changes []Change, old, new Dashboard) []Change {
	before := old.panels()
	for i, p := range new.panels() {
		was := before[i]
		switch {
		case was.declared() && !p.declared():
			changes = append(changes, Change{Kind: Removed, Panel: p.name})
		case !was.declared() && p.declared():
			changes = append(changes, Change{Kind: Added, Panel: p.name, Detail: panelSummary(p)})
		case p.declared():
			for j, k := range p.keys {
				oldText := keyValueText(was.keys[j])
				newText := keyValueText(k)
				if oldText != newText {
					changes = append(changes, Change{Kind: Changed, Panel: p.name, Detail: k.name + " " + oldText + " → " + newText})
				}
			}
		}
	}
	return changes
}

// keyValueText returns the value of a panel key as diff prints it: none
// for a key the declaration leaves out, such as an empty
// first_launch_property.
func keyValueText(k declaredKey) string {
	text := k.text()
	if text == `""` || text == "[]" {
		return "none"
	}
	return text
}

// panelSummary describes a new dashboard panel: its query, then each key
// that the declaration sets for it with its value.
func panelSummary(p dashboardPanel) string {
	parts := []string{p.query}
	for _, k := range p.keys {
		if k.set() {
			parts = append(parts, k.name+" "+k.text())
		}
	}
	return strings.Join(parts, ", ")
}

// diffProperties appends the changes between two property lists of one
// event, or of one object property when prefix is its dotted path.
func diffProperties(changes []Change, event, prefix string, old, new []Property) []Change {
	for i := range old {
		if findProperty(new, old[i].Name) == nil {
			changes = append(changes, Change{Kind: Removed, Event: event, Property: prefix + old[i].Name})
		}
	}
	for i := range new {
		p := &new[i]
		before := findProperty(old, p.Name)
		if before == nil {
			changes = append(changes, Change{Kind: Added, Event: event, Property: prefix + p.Name, Detail: propertySummary(p)})
			continue
		}
		changes = diffProperty(changes, event, prefix, before, p)
	}
	return changes
}

// diffProperty appends the changes between two versions of one property.
func diffProperty(changes []Change, event, prefix string, old, new *Property) []Change {
	path := prefix + new.Name
	add := func(detail string) {
		changes = append(changes, Change{Kind: Changed, Event: event, Property: path, Detail: detail})
	}

	switch {
	case !old.Optional && new.Optional:
		add("now optional, was required")
	case old.Optional && !new.Optional:
		add("now required, was optional")
	}
	if old.Type != new.Type {
		add(describeChange("JSON type", old.Type, new.Type))
	}
	if old.Class != new.Class {
		// The parameters of different classes do not compare, so the new
		// class is shown whole.
		add(fmt.Sprintf("class %s → %s", classWithOptions(old), classWithOptions(new)))
	} else {
		changes = diffClassOptions(changes, event, path, old, new)
	}
	if old.Description != new.Description {
		add(describeChange("description", old.Description, new.Description))
	}
	if old.Class == Object && new.Class == Object {
		changes = diffProperties(changes, event, path+".", old.Properties, new.Properties)
	}
	return changes
}

// diffClassOptions appends the changes of the enum values, bucket edges or
// count maximum of a property whose class stayed the same.
func diffClassOptions(changes []Change, event, path string, old, new *Property) []Change {
	add := func(detail string) {
		changes = append(changes, Change{Kind: Changed, Event: event, Property: path, Detail: detail})
	}
	switch new.Class {
	case Enum:
		if added := missingFrom(old.Values, new.Values); len(added) > 0 {
			add("enum values added: " + quoteAll(added))
		}
		if removed := missingFrom(new.Values, old.Values); len(removed) > 0 {
			add("enum values removed: " + quoteAll(removed))
		}
	case Bucket:
		if !slices.Equal(old.Edges, new.Edges) {
			add(fmt.Sprintf("bucket edges %s → %s", joinNumbers(old.Edges, "|"), joinNumbers(new.Edges, "|")))
		}
	case Count:
		if old.Max != new.Max {
			add(fmt.Sprintf("count max %d → %d", old.Max, new.Max))
		}
	}
	return changes
}

func findProperty(props []Property, name string) *Property {
	for i := range props {
		if props[i].Name == name {
			return &props[i]
		}
	}
	return nil
}

// missingFrom returns the values of b that a lacks, in b's order.
func missingFrom(a, b []string) []string {
	var missing []string
	for _, v := range b {
		if !slices.Contains(a, v) {
			missing = append(missing, v)
		}
	}
	return missing
}

func quoteAll(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = strconv.Quote(v)
	}
	return strings.Join(quoted, ", ")
}

func describeChange(what, old, new string) string {
	return fmt.Sprintf("%s %q → %q", what, old, new)
}

// classWithOptions returns the class with its parameters, such as
// "enum=a|b" or "count,max=100", in the candor struct tag's syntax.
func classWithOptions(p *Property) string {
	switch p.Class {
	case Enum:
		return "enum=" + strings.Join(p.Values, "|")
	case Bucket:
		return "bucket,edges=" + joinNumbers(p.Edges, "|")
	case Count:
		return "count,max=" + strconv.FormatInt(p.Max, 10)
	}
	return string(p.Class)
}

// propertySummary describes a new property: its class with parameters,
// whether it is optional, the properties of an object, and its meaning.
func propertySummary(p *Property) string {
	s := propertyBrief(p)
	if p.Description != "" {
		s += ", " + strconv.Quote(p.Description)
	}
	return s
}

// propertyBrief returns the class of p with its parameters, followed by
// "optional" and, for an object, its properties in braces.
func propertyBrief(p *Property) string {
	s := classWithOptions(p)
	if p.Optional {
		s += ", optional"
	}
	if p.Class != Object {
		return s
	}
	nested := make([]string, len(p.Properties))
	for i := range p.Properties {
		nested[i] = p.Properties[i].Name + " (" + propertyBrief(&p.Properties[i]) + ")"
	}
	return s + " {" + strings.Join(nested, ", ") + "}"
}

// eventSummary describes a new event: its meaning and each property with
// its class.
func eventSummary(e *EventDef) string {
	parts := make([]string, 0, len(e.Properties)+1)
	if e.Description != "" {
		parts = append(parts, strconv.Quote(e.Description))
	}
	var props []string
	for i := range e.Properties {
		props = append(props, e.Properties[i].Name+" ("+propertyBrief(&e.Properties[i])+")")
	}
	if len(props) > 0 {
		parts = append(parts, "properties "+strings.Join(props, ", "))
	}
	return strings.Join(parts, ", ")
}
