package webtelemetry

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/telemetry"
)

// captureFunc hands one validated event to the telemetry client. It returns
// a *catalog.Violation when the properties do not fit the event's Go type,
// and another error when the event cannot be captured at all.
type captureFunc func(event string, props map[string]any) error

// propertiesCapturer is the method a telemetry client may offer to capture
// a property map that was already checked against its catalog.
type propertiesCapturer interface {
	CaptureProperties(event string, props map[string]any)
}

// newCapture returns the client's CaptureProperties when it has one, and
// otherwise a function that decodes the properties into a new value of the
// event's Go type from events and passes it to Capture.
func newCapture(client *telemetry.Client, cat *catalog.Catalog, events []catalog.Event, log *slog.Logger) captureFunc {
	if pc, ok := any(client).(propertiesCapturer); ok {
		return func(event string, props map[string]any) error {
			pc.CaptureProperties(event, props)
			return nil
		}
	}

	types := eventTypes(cat, events, log)
	return func(event string, props map[string]any) error {
		t, ok := types[event]
		if !ok {
			return fmt.Errorf("capture event %q: no Go type for it: add a value of its type to webtelemetry.Config.Events", event)
		}
		ev, err := decodeEvent(t, event, props)
		if err != nil {
			return err
		}
		client.Capture(ev)
		return nil
	}
}

// eventTypes maps event names to the struct types of events. It logs the
// values that are not structs or not in the catalog, and the catalog's
// events without a type.
func eventTypes(cat *catalog.Catalog, events []catalog.Event, log *slog.Logger) map[string]reflect.Type {
	types := make(map[string]reflect.Type, len(events))
	for _, ev := range events {
		if ev == nil {
			continue
		}
		t := reflect.TypeOf(ev)
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		name := ev.EventName()
		if _, ok := cat.Lookup(name); !ok || t.Kind() != reflect.Struct {
			log.Warn("webtelemetry: event type ignored: it is not a struct registered in the catalog", "event", name, "type", t.String())
			continue
		}
		types[name] = t
	}
	var missing []string
	for _, def := range cat.Events {
		if _, ok := types[def.Name]; !ok {
			missing = append(missing, def.Name)
		}
	}
	if len(missing) > 0 {
		log.Warn("webtelemetry: events without a Go type in Config.Events get a 500 response", "events", strings.Join(missing, ","))
	}
	return types
}

// decodeEvent fills a new value of type t from normalized properties,
// through their JSON form: the catalog requires every field to carry its
// wire name as a json tag. A value that fits the catalog but not the Go
// field, such as 0.5 for an integer, is reported as wrong_type.
func decodeEvent(t reflect.Type, event string, props map[string]any) (catalog.Event, error) {
	data, err := json.Marshal(props)
	if err != nil {
		return nil, fmt.Errorf("capture event %q: encode properties: %w", event, err)
	}
	v := reflect.New(t)
	if err := json.Unmarshal(data, v.Interface()); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, &catalog.Violation{Event: event, Property: typeErr.Field, Reason: catalog.ReasonWrongType}
		}
		return nil, fmt.Errorf("capture event %q: decode properties into %s: %w", event, t, err)
	}
	ev, ok := v.Interface().(catalog.Event)
	if !ok {
		return nil, fmt.Errorf("capture event %q: type %s does not implement catalog.Event", event, t)
	}
	return ev, nil
}
