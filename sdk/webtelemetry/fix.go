package webtelemetry

import (
	"fmt"
	"strings"

	"github.com/candor-dev/candor/sdk/catalog"
)

// describeFix returns what the page should send instead, built from the
// catalog's definitions only, so it never repeats a value or a name the
// page chose. It returns "" when the catalog has nothing to add.
func (h *Handler) describeFix(v *catalog.Violation) string {
	if v.Reason == catalog.ReasonUnknownEvent {
		return "use an event name of the catalog, as GET catalog.d.ts lists them"
	}
	def, ok := h.catalog.Lookup(v.Event)
	if !ok {
		return ""
	}
	p, declared := h.catalog.LookupProperty(v.Event, v.Property)
	if v.Reason == catalog.ReasonUnknownProperty && !declared {
		return "the event's properties are " + propertyNames(def.Properties)
	}
	if !declared {
		return ""
	}
	// A declared name that is not the event's own is a base property.
	if v.Reason == catalog.ReasonUnknownProperty && !hasProperty(def, v.Property) {
		return p.Name + " is a base property that only the backend sets, and the event's properties are " + propertyNames(def.Properties)
	}
	switch v.Reason {
	case catalog.ReasonUnknownProperty:
		return "the properties of " + p.Name + " are " + propertyNames(p.Properties)
	case catalog.ReasonMissing:
		return "send it as " + describeType(p)
	case catalog.ReasonWrongType:
		return "send " + describeType(p)
	case catalog.ReasonNotInEnum:
		return "use one of " + quotedList(p.Values)
	}
	return fmt.Sprintf("send a value of privacy class %s, as the catalog's Markdown page describes it", p.Class)
}

func propertyNames(props []catalog.Property) string {
	names := make([]string, len(props))
	for i, p := range props {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

func quotedList(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(quoted, ", ")
}

// describeType writes the JSON type of p as describeJSONType does. An
// object property gets its members too, each with its type, such as "an
// object with the members userAgent (a string) and platform (a string)".
func describeType(p *catalog.Property) string {
	if p.Class != catalog.Object || len(p.Properties) == 0 {
		return describeJSONType(p.Type)
	}
	members := make([]string, len(p.Properties))
	for i, member := range p.Properties {
		detail := describeJSONType(member.Type)
		if member.Optional {
			detail += ", optional"
		}
		members[i] = member.Name + " (" + detail + ")"
	}
	last := len(members) - 1
	if last == 0 {
		return describeJSONType(p.Type) + " with the member " + members[0]
	}
	return describeJSONType(p.Type) + " with the members " + strings.Join(members[:last], ", ") + " and " + members[last]
}

// describeJSONType writes a catalog JSON type such as "string" or
// "string|null" as "a string" or "a string or null".
func describeJSONType(jsonType string) string {
	parts := strings.Split(jsonType, "|")
	for i, part := range parts {
		switch {
		case part == "" || part == "null":
		case strings.IndexByte("aeiou", part[0]) >= 0:
			parts[i] = "an " + part
		default:
			parts[i] = "a " + part
		}
	}
	return strings.Join(parts, " or ")
}
