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
	c.Capture(catalog.PropertyMap{Name: event, Values: maps.Clone(props)})
}
