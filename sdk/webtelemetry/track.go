package webtelemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/candor-dev/candor/sdk/catalog"
)

// trackRequest is the body of POST track.
type trackRequest struct {
	Event      string         `json:"event"`
	Properties map[string]any `json:"properties"`
}

// serveTrack checks one event from the page against the catalog and hands
// it to the telemetry client, which drops it when telemetry is off. The
// response is the same either way, so the page cannot tell.
func (h *Handler) serveTrack(w http.ResponseWriter, r *http.Request) {
	var req trackRequest
	if status, body := h.decodeJSON(w, r, &req); status != 0 {
		h.reject(w, r, status, body)
		return
	}
	props, violation := h.validate(req)
	if violation != nil {
		h.reject(w, r, http.StatusBadRequest, h.violationBody(violation))
		return
	}
	if err := h.capture(req.Event, props); err != nil {
		var v *catalog.Violation
		if errors.As(err, &v) {
			h.reject(w, r, http.StatusBadRequest, h.violationBody(v))
			return
		}
		h.reject(w, r, http.StatusInternalServerError, errorBody{Error: err.Error(), Event: req.Event})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// validate checks the event against the catalog and returns its normalized
// properties. Unlike the SDK, which leaves a bad optional property out and
// sends the rest, it rejects the whole event: a page that sends a property
// the catalog does not allow has a bug its developer should see. Base
// properties are rejected too, because only the backend sets them.
func (h *Handler) validate(req trackRequest) (map[string]any, *catalog.Violation) {
	if req.Event == "" {
		return nil, &catalog.Violation{Reason: catalog.ReasonMissing}
	}
	def, ok := h.catalog.Lookup(req.Event)
	if !ok {
		return nil, &catalog.Violation{Event: req.Event, Reason: catalog.ReasonUnknownEvent}
	}
	for name := range req.Properties {
		if !hasProperty(def, name) {
			return nil, &catalog.Violation{Event: req.Event, Property: name, Reason: catalog.ReasonUnknownProperty}
		}
	}
	props, dropped, err := h.catalog.Normalize(req.Event, req.Properties)
	if err != nil {
		var v *catalog.Violation
		if errors.As(err, &v) {
			return nil, v
		}
		return nil, &catalog.Violation{Event: req.Event, Reason: catalog.ReasonWrongType}
	}
	if len(dropped) > 0 {
		return nil, &dropped[0]
	}
	return props, nil
}

func hasProperty(def *catalog.EventDef, name string) bool {
	for _, p := range def.Properties {
		if p.Name == name {
			return true
		}
	}
	return false
}

// violationBody describes a rejected event without its values. Names that
// are not plain identifiers came from the page and may hold anything, so
// they are left out.
func (h *Handler) violationBody(v *catalog.Violation) errorBody {
	event, property := v.Event, v.Property
	if event != "" && !isPlainName(event) {
		event = ""
	}
	if property != "" && !isPlainName(property) {
		property = ""
	}

	var msg string
	switch {
	case v.Reason == catalog.ReasonMissing && v.Event == "":
		msg = `missing "event": name the event to track`
	case v.Event != "" && event == "":
		msg = fmt.Sprintf("invalid event name: %s", v.Reason)
	case v.Reason == catalog.ReasonUnknownEvent:
		msg = fmt.Sprintf("event %q is not in the %q catalog", event, h.catalog.App)
	case v.Property != "" && property == "":
		msg = fmt.Sprintf("event %q: a property with an invalid name: %s", event, v.Reason)
	case property != "":
		msg = fmt.Sprintf("event %q property %q: %s", event, property, v.Reason)
	default:
		msg = fmt.Sprintf("event %q: %s", event, v.Reason)
	}
	if fix := h.describeFix(v); fix != "" {
		msg += ": " + fix
	}
	return errorBody{Error: msg, Event: event, Property: property, Reason: string(v.Reason)}
}

// isPlainName reports whether s may be echoed in an error: a letter, _ or
// $ followed by letters, digits and _-.:$, at most maxEchoedName bytes. A
// name with a slash, a space or an @ may be a path, a URL or an address.
func isPlainName(s string) bool {
	if s == "" || len(s) > maxEchoedName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$'
		other := c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':'
		if !letter && (i == 0 || !other) {
			return false
		}
	}
	return true
}

// maxEchoedName is the longest event or property name an error repeats.
const maxEchoedName = 64

// decodeJSON reads a JSON object body into v. It returns 0 when it
// succeeded, else the status and body of the error response: 415 for
// another content type, 413 for a body over the limit and 400 for invalid
// JSON, unknown fields or trailing data. Its messages give positions, never
// the text of the body.
func (h *Handler) decodeJSON(w http.ResponseWriter, r *http.Request, v any) (int, errorBody) {
	if msg := checkBodyHeaders(r.Header); msg != "" {
		return http.StatusUnsupportedMediaType, errorBody{Error: msg}
	}
	tooLarge := errorBody{Error: fmt.Sprintf("request body too large: the limit is %d bytes", h.maxBody)}
	if r.ContentLength > h.maxBody {
		return http.StatusRequestEntityTooLarge, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return http.StatusRequestEntityTooLarge, tooLarge
		}
		return http.StatusBadRequest, errorBody{Error: "read request body: connection failed"}
	}

	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return http.StatusBadRequest, errorBody{Error: describeJSONError(err, dec.InputOffset())}
	}
	if _, err := dec.Token(); err != io.EOF {
		return http.StatusBadRequest, errorBody{Error: "invalid JSON body: data after the object"}
	}
	return 0, errorBody{}
}

// checkBodyHeaders returns why a body with these headers cannot be read as
// JSON, or "". The handler reads bodies as sent, so a compressed one is
// rejected instead of failing as invalid JSON.
func checkBodyHeaders(header http.Header) string {
	raw := header.Get("Content-Type")
	if raw == "" {
		return "missing Content-Type: send the body as application/json"
	}
	mediaType, _, err := mime.ParseMediaType(raw)
	if err != nil {
		return fmt.Sprintf("invalid Content-Type %s: send the body as application/json", quoteShort(raw))
	}
	if mediaType != "application/json" {
		return fmt.Sprintf("unsupported content type %s: send the body as application/json", quoteShort(mediaType))
	}
	if encoding := header.Get("Content-Encoding"); encoding != "" && !strings.EqualFold(encoding, "identity") {
		return fmt.Sprintf("unsupported Content-Encoding %s: send the body uncompressed", quoteShort(encoding))
	}
	return ""
}

// describeJSONError returns a message for a decoding error that holds no
// part of the body: encoding/json's own messages may quote a character.
func describeJSONError(err error, offset int64) string {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "invalid JSON body: it ends early"
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("invalid JSON body: syntax error at byte %d", syntaxErr.Offset)
	case errors.As(err, &typeErr) && isNumberOverflow(typeErr):
		return fmt.Sprintf("invalid JSON body: the number before byte %d is out of range: send numbers within ±%.1e", typeErr.Offset, math.MaxFloat64)
	case errors.As(err, &typeErr) && isPlainName(typeErr.Field):
		return fmt.Sprintf("invalid JSON body: field %q must be %s", typeErr.Field, expectedJSONType(typeErr.Field))
	case errors.As(err, &typeErr):
		return "invalid JSON body: send an object with a string \"event\" and an object \"properties\""
	}
	// The remaining error is an unknown field, whose name the page chose.
	return fmt.Sprintf("invalid JSON body: unknown field before byte %d: send only the fields of the endpoint", offset)
}

// isNumberOverflow reports whether err is a JSON number too large for
// float64, which encoding/json reports as a type error on the enclosing
// field, such as "properties".
func isNumberOverflow(err *json.UnmarshalTypeError) bool {
	return err.Type != nil && err.Type.Kind() == reflect.Float64 && strings.HasPrefix(err.Value, "number")
}

func expectedJSONType(field string) string {
	switch field {
	case "event":
		return "a string"
	case "properties":
		return "an object"
	case "enabled":
		return "true or false"
	}
	return "of another type"
}

// reject logs the rejection, rate-limited, and writes the error response.
func (h *Handler) reject(w http.ResponseWriter, r *http.Request, status int, body errorBody) {
	h.logRejected(r, status, body.Error)
	writeError(w, status, body)
}
