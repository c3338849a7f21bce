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
	if v.Reason == catalog.ReasonUnknownProperty && findProperty(def.Properties, v.Property) == nil {
		return "the event's properties are " + propertyNames(def.Properties)
	}
	p := findProperty(def.Properties, v.Property)
	if p == nil {
		return ""
	}
	switch v.Reason {
	case catalog.ReasonUnknownProperty:
		return "the properties of " + p.Name + " are " + propertyNames(p.Properties)
	case catalog.ReasonMissing:
		return "send it as " + describeJSONType(p.Type)
	case catalog.ReasonWrongType:
		return "send " + describeJSONType(p.Type)
	case catalog.ReasonNotInEnum:
		return "use one of " + quotedList(p.Values)
	}
	return fmt.Sprintf("send a value of privacy class %s, as the catalog's Markdown page describes it", p.Class)
}

// findProperty returns the property at a dotted path such as
// "frontendPlatform.userAgent", or nil.
func findProperty(props []catalog.Property, path string) *catalog.Property {
	name, rest, nested := strings.Cut(path, ".")
	for i := range props {
		if props[i].Name != name {
			continue
		}
		if nested {
			return findProperty(props[i].Properties, rest)
		}
		return &props[i]
	}
	return nil
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
