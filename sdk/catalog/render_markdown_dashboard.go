package catalog

import (
	"bytes"
	"fmt"
	"strings"
)

// writeDashboard writes the section on the dashboard panels that the
// catalog's Dashboard declaration feeds, one list item per panel.
func (c *Catalog) writeDashboard(b *bytes.Buffer) {
	b.WriteString("## Dashboard panels\n\n")
	b.WriteString("Three panels of the collector's dashboard count the events and properties that this catalog declares for them, listed below. " +
		"The declaration adds no property and changes nothing that the app sends.\n\n")
	d := c.Dashboard
	for _, p := range d.panels() {
		if !p.declared() {
			fmt.Fprintf(b, "- **%s**: not declared, so the panel states what is missing instead of showing a chart.\n", p.title)
			continue
		}
		fmt.Fprintf(b, "- **%s**, a %s: ", p.title, p.query)
		switch p.name {
		case "new_installs":
			c.writeNewInstalls(b, d)
		case "funnel":
			c.writeFunnel(b, d)
		case "errors":
			c.writeErrors(b, d)
		}
	}
	b.WriteString("\n")
}

func (c *Catalog) writeNewInstalls(b *bytes.Buffer, d Dashboard) {
	fmt.Fprintf(b, "the installs that sent %s", c.eventLink(d.FirstLaunchEvent))
	if d.FirstLaunchProperty == "" {
		fmt.Fprintf(b, ". Every %s event counts as a first launch.", codeSpan(d.FirstLaunchEvent))
	} else {
		fmt.Fprintf(b, " where %s is `true`.", codeSpan(d.FirstLaunchProperty))
	}
	b.WriteString(" The New installs total at the top of the dashboard counts them over the whole date range.\n")
}

func (c *Catalog) writeFunnel(b *bytes.Buffer, d Dashboard) {
	b.WriteString("the steps the panel opens with, until the viewer types others. " +
		"An install reaches a step when it sends that step's event after reaching the step before, " +
		"within a time window from its first step that the viewer picks.\n")
	for i, step := range d.Funnel {
		fmt.Fprintf(b, "  %d. %s\n", i+1, c.stepText(step))
	}
}

func (c *Catalog) writeErrors(b *bytes.Buffer, d Dashboard) {
	fmt.Fprintf(b, "the %s events and the installs that sent them", c.eventLink(d.ErrorEvent))
	if len(d.ErrorBreakdown) == 0 {
		b.WriteString(".\n")
		return
	}
	first := codeSpan(d.ErrorBreakdown[0])
	if len(d.ErrorBreakdown) == 1 {
		fmt.Fprintf(b, ", by %s over time and over the whole date range.\n", first)
		return
	}
	names := make([]string, len(d.ErrorBreakdown))
	for i, name := range d.ErrorBreakdown {
		names[i] = codeSpan(name)
	}
	fmt.Fprintf(b, ", by %s over time, and by %s over the whole date range.\n", first, strings.Join(names, " and "))
}

// stepText returns a funnel step in words, such as
// "[`app_started`](#app_started) where `isFirstLaunch` is `true`". A step
// that SetDashboard would reject is returned verbatim as code.
func (c *Catalog) stepText(step string) string {
	event, conditions, err := ParseFunnelStep(step)
	if err != nil {
		return codeSpan(step)
	}
	var clauses []string
	for _, condition := range conditions {
		clauses = append(clauses, codeSpan(condition.Property)+" is "+codeSpan(condition.Value))
	}
	text := c.eventLink(event)
	if len(clauses) > 0 {
		text += " where " + strings.Join(clauses, " and ")
	}
	return text
}

// eventLink returns the event's name as code, linked to its section when
// the catalog has the event.
func (c *Catalog) eventLink(name string) string {
	if _, ok := c.Lookup(name); !ok {
		return codeSpan(name)
	}
	return fmt.Sprintf("[%s](#%s)", codeSpan(name), c.eventAnchors()[name])
}
