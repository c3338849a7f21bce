package telemetry

import (
	"maps"

	"github.com/candor-dev/candor/sdk/catalog"
)

// CaptureProperties queues an event given by name and raw property values,
// for callers that have no Go type for it, such as a web frontend that
// forwards JSON. It keeps Capture's contract: it never blocks or panics, it
// is ignored while telemetry is off, and the values are checked against the
// catalog on the sender goroutine like a struct's fields. props is copied,
// so the caller may reuse it.
func (c *Client) CaptureProperties(event string, props map[string]any) {
	c.Capture(catalog.PropertyMap{Name: event, Values: props})
}

// copyPropertyMap returns m with its own copy of the values and of the
// nested maps of its event's object properties, because the sender reads
// them after Capture returns and a caller may reuse its maps. Only the
// object properties that the catalog defines are copied, so a map that
// contains itself is not followed.
func copyPropertyMap(eventCatalog *catalog.Catalog, m catalog.PropertyMap) catalog.PropertyMap {
	var props []catalog.Property
	if def, ok := eventCatalog.Lookup(m.Name); ok {
		props = def.Properties
	}
	return catalog.PropertyMap{Name: m.Name, Values: copyObject(props, m.Values)}
}

func copyObject(props []catalog.Property, values map[string]any) map[string]any {
	out := maps.Clone(values)
	for _, p := range props {
		if p.Class != catalog.Object {
			continue
		}
		if nested, ok := out[p.Name].(map[string]any); ok {
			out[p.Name] = copyObject(p.Properties, nested)
		}
	}
	return out
}
