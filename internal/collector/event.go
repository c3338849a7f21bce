package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/sdk/catalog"
)

// Reasons for dropping an event before the catalog checks it. Together with
// the catalog's reasons they label the dropped counts of responses and Stats.
const (
	// ReasonInvalidEvent: the event is not a JSON object, or a field has the
	// wrong JSON type, such as properties that are not an object.
	ReasonInvalidEvent catalog.Reason = "invalid_event"
	// ReasonEventTooLarge: the event's JSON text is over Config.MaxEventSize.
	ReasonEventTooLarge catalog.Reason = "event_too_large"
	// ReasonEventTooDeep: the event's arrays and objects nest deeper than
	// Config.MaxDepth, counted from the top of the payload.
	ReasonEventTooDeep catalog.Reason = "event_too_deep"
	// ReasonEventTooManyMembers: an object in the event has more members
	// than Config.MaxProperties.
	ReasonEventTooManyMembers catalog.Reason = "event_too_many_members"
	// ReasonMissingEventName: "event" is absent, null or empty.
	ReasonMissingEventName catalog.Reason = "missing_event_name"
	// ReasonMissingDistinctID: no distinct_id, $distinct_id or
	// properties.distinct_id holds a value other than null or "".
	ReasonMissingDistinctID catalog.Reason = "missing_distinct_id"
	// ReasonInvalidDistinctID: the distinct_id is neither a random ID nor
	// a plain identifier (catalog.CheckDistinctID), such as an email
	// address, a URL, a path, an IP address, a phone number or a UUID of
	// a version other than 4 and 7.
	ReasonInvalidDistinctID catalog.Reason = "invalid_distinct_id"
	// ReasonInvalidUUID: "uuid" is set but is not a version 4 or 7 UUID.
	ReasonInvalidUUID catalog.Reason = "invalid_uuid"
	// ReasonExpired: the event's timestamp is older than Config.MaxEventAge.
	ReasonExpired catalog.Reason = "expired"
)

// wireEvent holds the fields of one event of the v0 protocol. Other fields,
// such as $set or library, are ignored.
type wireEvent struct {
	Event            json.RawMessage `json:"event"`
	DistinctID       json.RawMessage `json:"distinct_id"`
	DollarDistinctID json.RawMessage `json:"$distinct_id"`
	UUID             json.RawMessage `json:"uuid"`
	Token            json.RawMessage `json:"token"`
	DollarToken      json.RawMessage `json:"$token"`
	APIKey           json.RawMessage `json:"api_key"`
	Timestamp        json.RawMessage `json:"timestamp"`
	Offset           json.RawMessage `json:"offset"`
	// Properties is decoded in the same pass as the other fields; a value
	// that is not an object makes json.Unmarshal fail.
	Properties map[string]any `json:"properties"`
}

// decodedEvent is one event of a request, decoded but not yet checked.
type decodedEvent struct {
	wire    wireEvent
	props   map[string]any // wire.Properties; nil when absent or null
	token   string         // the event's own token, trimmed; "" when absent
	dropped catalog.Reason // set when the event cannot be decoded
}

// decodeEvents decodes each event of req. An event that is too large, over
// the depth or member limit, or not an object is marked dropped rather than
// failing the request. It clears req.events as it goes, so that the raw
// text of an event can be freed once it is decoded.
func decodeEvents(req *rawRequest, maxEventSize int64, names *internTable) []decodedEvent {
	events := make([]decodedEvent, len(req.events))
	for i, raw := range req.events {
		req.events[i] = nil
		e := &events[i]
		if int64(len(raw)) > maxEventSize {
			e.dropped = ReasonEventTooLarge
			continue
		}
		if req.overLimit != nil && req.overLimit[i] != "" {
			// Decoding would recurse as deep as the event nests.
			e.dropped = req.overLimit[i]
			continue
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || raw[0] != '{' || decodeWireEvent(raw, &e.wire, names) != nil {
			e.wire = wireEvent{}
			e.dropped = ReasonInvalidEvent
			continue
		}
		e.props = e.wire.Properties
		e.token = eventToken(&e.wire, e.props)
	}
	return events
}

// eventToken returns the first non-empty string of token, $token, api_key,
// properties.token and properties.$token.
func eventToken(w *wireEvent, props map[string]any) string {
	for _, raw := range []json.RawMessage{w.Token, w.DollarToken, w.APIKey} {
		if s, ok := jsonString(raw); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	for _, name := range []string{"token", "$token"} {
		if s, ok := props[name].(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// allOverLimits reports whether the request has events and every one of
// them is over Config.MaxEventSize, Config.MaxDepth or Config.MaxProperties.
func allOverLimits(events []decodedEvent) bool {
	for i := range events {
		switch events[i].dropped {
		case ReasonEventTooLarge, ReasonEventTooDeep, ReasonEventTooManyMembers:
		default:
			return false
		}
	}
	return len(events) > 0
}

// eventContext holds what every event of one request shares.
type eventContext struct {
	project *project
	names   *internTable // nil interns nothing
	now     time.Time    // receive time
	sentAt  time.Time    // zero when the request has none
	oldest  time.Time    // events before it are expired; zero keeps every event
	engage  bool
}

// eventOutcome is the result of checking the events of one request.
type eventOutcome struct {
	events            []store.Event
	dropped           map[catalog.Reason]int
	droppedProperties map[catalog.Reason]int
	// violations counts the catalog's rejections of dropped events and of
	// left-out properties by Catalog.ViolationKey. It is nil until the
	// first one.
	violations map[string]int
}

// checkEvents turns decoded events into store events: it resolves the
// distinct_id, uuid and timestamp, removes the protocol fields from the
// properties and normalizes them with the project's catalog. Events that
// fail are counted in dropped by reason, properties the catalog leaves out
// in droppedProperties. Each decoded event is cleared once it is checked,
// so that its memory can be freed while the others are checked.
func checkEvents(ctx eventContext, decoded []decodedEvent) eventOutcome {
	out := eventOutcome{
		events:            make([]store.Event, 0, len(decoded)),
		dropped:           map[catalog.Reason]int{},
		droppedProperties: map[catalog.Reason]int{},
	}
	for i := range decoded {
		e, reason := checkEvent(ctx, &decoded[i], &out)
		decoded[i] = decodedEvent{}
		if reason != "" {
			out.dropped[reason]++
			continue
		}
		out.events = append(out.events, e)
	}
	return out
}

func checkEvent(ctx eventContext, d *decodedEvent, out *eventOutcome) (store.Event, catalog.Reason) {
	if d.dropped != "" {
		return store.Event{}, d.dropped
	}
	w := &d.wire

	name, ok := eventName(w.Event, ctx.names)
	switch {
	case ctx.engage && w.Event == nil:
		name = "$identify"
	case !ok && !isJSONNull(w.Event):
		return store.Event{}, ReasonInvalidEvent
	case name == "":
		return store.Event{}, ReasonMissingEventName
	}

	distinctID := resolveDistinctID(w, d.props)
	if distinctID == "" {
		return store.Event{}, ReasonMissingDistinctID
	}
	if catalog.CheckDistinctID(distinctID) != "" {
		return store.Event{}, ReasonInvalidDistinctID
	}

	id, ok := resolveUUID(w.UUID, ctx.now)
	if !ok {
		return store.Event{}, ReasonInvalidUUID
	}

	ignoreSentAt, _ := d.props["$ignore_sent_at"].(bool)
	timestamp := resolveTimestamp(ctx.now, ctx.sentAt, ignoreSentAt, w.Timestamp, w.Offset)
	if timestamp.Before(ctx.oldest) {
		return store.Event{}, ReasonExpired
	}

	props, violations, err := ctx.project.catalog.Normalize(name, stripProtocolProperties(d.props))
	if err != nil {
		var v *catalog.Violation
		if errors.As(err, &v) {
			out.countViolation(ctx.project.catalog, *v)
			return store.Event{}, v.Reason
		}
		return store.Event{}, ReasonInvalidEvent
	}
	for _, v := range violations {
		out.droppedProperties[v.Reason]++
		out.countViolation(ctx.project.catalog, v)
	}

	return store.Event{
		Project:    ctx.project.name,
		UUID:       id,
		Name:       name,
		DistinctID: distinctID,
		Timestamp:  timestamp,
		ReceivedAt: ctx.now,
		Properties: props,
	}, ""
}

// countViolation counts v in violations under a key that names only the
// catalog's events and properties, so a sender cannot add keys.
func (out *eventOutcome) countViolation(c *catalog.Catalog, v catalog.Violation) {
	if out.violations == nil {
		out.violations = map[string]int{}
	}
	out.violations[c.ViolationKey(v)]++
}

// eventName returns the value of the JSON string raw as jsonString does,
// taking a known event name from names instead of allocating it.
func eventName(raw json.RawMessage, names *internTable) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			return names.key(inner), true
		}
	}
	return jsonString(raw)
}

// resolveDistinctID takes the first of distinct_id, $distinct_id and
// properties.distinct_id that is neither absent, null nor "". A value that
// is not a string becomes its compact JSON text.
func resolveDistinctID(w *wireEvent, props map[string]any) string {
	for _, raw := range []json.RawMessage{w.DistinctID, w.DollarDistinctID} {
		if id := stringifyJSON(raw); id != "" {
			return id
		}
	}
	switch v := props["distinct_id"].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		text, _ := json.Marshal(v)
		return string(text)
	}
}

// stringifyJSON returns a JSON string's value or any other value's compact
// JSON text; null and absent give "".
func stringifyJSON(raw json.RawMessage) string {
	if isJSONNull(raw) {
		return ""
	}
	if s, ok := jsonString(raw); ok {
		return s
	}
	var compact bytes.Buffer
	if json.Compact(&compact, raw) != nil {
		return ""
	}
	return compact.String()
}

// resolveUUID returns the event's uuid in lowercase, or a new UUIDv7 when
// the uuid is absent, null or "", which PostHog's capture service also
// treats as absent. ok is false for any other value that is not a version 4
// or 7 UUID.
func resolveUUID(raw json.RawMessage, now time.Time) (id string, ok bool) {
	if isJSONNull(raw) {
		return newUUIDv7(now), true
	}
	s, isString := jsonString(raw)
	switch {
	case !isString:
		return "", false
	case s == "":
		return newUUIDv7(now), true
	case catalog.IsUUID(s):
		return strings.ToLower(s), true
	}
	return "", false
}

// isProtocolProperty reports whether a property carries protocol data,
// person data or network data rather than event data: token, $token,
// distinct_id, $set, $set_once, $unset, $ignore_sent_at and $ip. Such
// properties are removed before the catalog checks the properties, so they
// are never stored and never counted as dropped.
func isProtocolProperty(k string) bool {
	switch k {
	case "token", "$token", "distinct_id", "$set", "$set_once", "$unset", "$ignore_sent_at", "$ip":
		return true
	}
	return false
}

// stripProtocolProperties removes protocol properties (isProtocolProperty)
// and location properties ($geoip_*, except the $geoip_disable flag) from
// props, in place, and returns props. The map is the event's own decoded
// copy.
func stripProtocolProperties(props map[string]any) map[string]any {
	for k := range props {
		if isProtocolProperty(k) || strings.HasPrefix(k, "$geoip_") && k != "$geoip_disable" {
			delete(props, k)
		}
	}
	return props
}
