package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/candor-dev/candor/sdk/catalog"
)

// rawRequest is a payload split into its events, before authentication.
type rawRequest struct {
	tokens []string  // batch-level api_key and token, trimmed, non-empty
	sentAt time.Time // batch-level sent_at; zero when absent or invalid
	engage bool      // a single object without "event" sent to /engage
	events []json.RawMessage
	// overLimit is, for each event, the reason it breaks the depth or
	// member limit, or "". It is nil when no event breaks them.
	overLimit []catalog.Reason
	// deletionKeyHash is the batch-level DeletionKeyHashField; "" when absent.
	deletionKeyHash string
}

// parseRequest reads the JSON union of PostHog's v0 protocol. It tries the
// shapes in this order:
//   - an array of events;
//   - a batch object, which needs "batch" and one of "api_key" or "token";
//   - a single event, which needs "event";
//   - on /engage only, an object without "event", which becomes an
//     $identify event.
//
// An event that nests deeper than maxDepth, or contains an object with more
// than maxMembers members, is marked in overLimit and is not decoded. A
// breach outside the events gets status 413.
//
// Once the limits pass, reserve must grant decodeReservation for the
// payload, or parseRequest returns status 503.
func parseRequest(text []byte, rt route, maxDepth, maxMembers int, reserve func(int64) bool) (*rawRequest, *requestError) {
	shape, err := checkJSONLimits(text, maxDepth, maxMembers)
	if err != nil {
		return nil, err
	}
	if !reserve(decodeReservation(len(text), shape)) {
		return nil, overloaded(LimitBufferedBytes)
	}
	trimmed := bytes.TrimLeft(text, " \t\r\n")
	for k := range shape.breaches {
		shape.breaches[k].offset -= len(text) - len(trimmed)
	}
	text = trimmed
	if len(text) == 0 {
		return nil, reject(http.StatusBadRequest, codeEmptyPayload, "payload is empty after decoding")
	}

	req := &rawRequest{}
	switch text[0] {
	case '[':
		events, err := splitArray(text)
		if err != nil {
			return nil, reject(http.StatusBadRequest, codeParsing, "invalid JSON: %v", err)
		}
		req.events = events
	case '{':
		object, err := splitObject(text, shape.breaches)
		if err != nil {
			return nil, reject(http.StatusBadRequest, codeParsing, "invalid JSON: %v", err)
		}
		if err := req.fromObject(object, text, rt); err != nil {
			return nil, err
		}
	default:
		if !json.Valid(text) {
			return nil, reject(http.StatusBadRequest, codeParsing, "invalid JSON")
		}
		return nil, reject(http.StatusBadRequest, codeParsing,
			"payload %s is neither a JSON array nor an object: send an event object, a batch object or an array of events", quotePrefix(text))
	}

	if len(shape.breaches) > 0 {
		if err := req.markOverLimit(text, shape.breaches, maxDepth, maxMembers); err != nil {
			return nil, err
		}
	}
	if len(req.events) == 0 {
		return nil, reject(http.StatusBadRequest, codeEmptyBatch, "request holds no event")
	}
	return req, nil
}

// topObject is a payload's top-level JSON object: the values of the
// members in topLevelKeys, except that the elements of an array "batch" are
// split out instead.
type topObject struct {
	members map[string]json.RawMessage // the members other than an array "batch"
	batch   []json.RawMessage          // the elements of "batch" when it is an array
	isBatch bool                       // "batch" is present and an array
}

// topLevelKeys are the members of a top-level object that fromObject
// reads. splitObject validates the others but keeps no copy of them: a
// single event is decoded again from the whole text.
var topLevelKeys = []string{"api_key", "token", "batch", "sent_at", "event", DeletionKeyHashField}

// splitObject reads a top-level object in one pass over text, so that the
// events of a batch are validated once. The values it returns are
// sub-slices of text. As with json.Unmarshal into a map, the last of
// repeated members wins. breaches are those of checkJSONLimits, with
// offsets into text.
func splitObject(text []byte, breaches []jsonBreach) (*topObject, error) {
	i := skipSpace(text, 0)
	if i >= len(text) || text[i] != '{' {
		return nil, syntaxError(text, i, "looking for beginning of object")
	}
	obj := &topObject{members: map[string]json.RawMessage{}}
	i = skipSpace(text, i+1)
	if i < len(text) && text[i] == '}' {
		return obj, finish(text, i+1)
	}
	for {
		rawKey, next, err := readKey(text, i)
		if err != nil {
			return nil, err
		}
		key, err := topLevelKey(rawKey)
		if err != nil {
			return nil, err
		}
		start := skipSpace(text, next)
		switch key {
		case "":
			i, err = skipValue(text, start)
		case "batch":
			obj.batch, obj.isBatch = nil, false
			delete(obj.members, key)
			i, err = obj.readBatch(text, start, breaches)
		default:
			i, err = skipValue(text, start)
			if err == nil {
				obj.members[key] = text[start:i]
			}
		}
		if err != nil {
			return nil, err
		}

		var done bool
		if i, done, err = nextMember(text, i, '}'); err != nil {
			return nil, err
		}
		if done {
			return obj, finish(text, i)
		}
	}
}

// topLevelKey returns the entry of topLevelKeys that the object key rawKey
// (its JSON text without the quotes) names, or "".
func topLevelKey(rawKey []byte) (string, error) {
	key := rawKey
	if bytes.IndexByte(rawKey, '\\') >= 0 {
		unquoted, err := unquote(rawKey)
		if err != nil {
			return "", err
		}
		key = []byte(unquoted)
	}
	for _, k := range topLevelKeys {
		if string(key) == k {
			return k, nil
		}
	}
	return "", nil
}

// readBatch reads the value of "batch" at text[i]: the elements of an
// array, or any other value, which is kept in members. It returns the
// index after the value. Any other value is decoded, so that a number
// beyond float64 in it fails the payload, as with json.Decoder.Token,
// unless it contains one of breaches. Decoding such a value would recurse
// as deep as it nests, and the payload is rejected or its single event
// dropped anyway.
func (obj *topObject) readBatch(text []byte, i int, breaches []jsonBreach) (int, error) {
	if i >= len(text) {
		return i, errJSONEnd
	}
	switch text[i] {
	case '[':
		events, end, err := splitElements(text, i)
		obj.batch, obj.isBatch = events, err == nil
		return end, err
	case '{':
		obj.members["batch"] = json.RawMessage("{}")
	case 'n':
		obj.members["batch"] = json.RawMessage("null")
	default:
		obj.members["batch"] = json.RawMessage(`""`) // a string, number or bool
	}
	end, err := skipValue(text, i)
	if err != nil || hasBreach(breaches, i, end) {
		return end, err
	}
	_, end, err = parseAny(text, i, nil)
	return end, err
}

// splitArray reads a top-level array of events in one pass over text.
func splitArray(text []byte) ([]json.RawMessage, error) {
	i := skipSpace(text, 0)
	if i >= len(text) || text[i] != '[' {
		return nil, syntaxError(text, i, "looking for beginning of array")
	}
	events, end, err := splitElements(text, i)
	if err != nil {
		return nil, err
	}
	return events, finish(text, end)
}

// splitElements returns the elements of the array at text[i], as
// sub-slices of text, and the index after the array.
func splitElements(text []byte, i int) ([]json.RawMessage, int, error) {
	var elements []json.RawMessage
	i = skipSpace(text, i+1)
	if i < len(text) && text[i] == ']' {
		return elements, i + 1, nil
	}
	for {
		start := skipSpace(text, i)
		end, err := skipValue(text, start)
		if err != nil {
			return nil, end, err
		}
		elements = append(elements, text[start:end])

		var done bool
		if i, done, err = nextMember(text, end, ']'); err != nil {
			return nil, i, err
		}
		if done {
			return elements, i, nil
		}
	}
}

// finish fails when anything but white space follows the top-level value,
// which ends before text[i].
func finish(text []byte, i int) error {
	if skipSpace(text, i) != len(text) {
		return errors.New("invalid data after the top-level value")
	}
	return nil
}

func (req *rawRequest) fromObject(obj *topObject, text []byte, rt route) *requestError {
	object := obj.members
	apiKey, hasAPIKey := jsonString(object["api_key"])
	token, hasToken := jsonString(object["token"])
	_, hasBatch := object["batch"]
	hasBatch = hasBatch || obj.isBatch

	// A batch object without a key of its own takes the tokens of its
	// events, as an array of events does. An object with both "batch" and
	// "event" is a batch only when it has its own key.
	switch {
	case hasBatch && (hasAPIKey || hasToken || object["event"] == nil):
		if !obj.isBatch {
			return reject(http.StatusBadRequest, codeParsing, `"batch" is not an array of events`)
		}
		req.events = obj.batch
		for _, t := range []string{apiKey, token} {
			if t = strings.TrimSpace(t); t != "" {
				req.tokens = append(req.tokens, t)
			}
		}
		if s, ok := jsonString(object["sent_at"]); ok {
			req.sentAt, _ = parseTimeString(s)
		}
		req.deletionKeyHash, _ = jsonString(object[DeletionKeyHashField])
	case object["event"] != nil:
		req.events = []json.RawMessage{text}
	case rt.engage:
		req.events = []json.RawMessage{text}
		req.engage = true
	default:
		return reject(http.StatusBadRequest, codeHydration, `object has neither "batch" nor "event": send a batch object or an event`)
	}
	return nil
}

// maxJSONNesting is the deepest nesting of arrays and objects that
// encoding/json accepts (maxNestingDepth of its scanner, Go 1.26), and so
// do skipValue and checkJSONLimits.
const maxJSONNesting = 10000

// checkJSONLimits rejects NUL bytes with 400, and with 413 nesting deeper
// than maxJSONNesting. It records in the shape where the text nests deeper
// than maxDepth or an object has more than maxMembers members. It skips
// the rest of a value that nests too deep by counting its brackets, so no
// text costs memory in proportion to its depth. It tracks only
// strings and brackets, because the JSON scanner checks the syntax
// afterwards. An escaped NUL (\u0000) passes: the catalog rejects strings
// that contain it, and a distinct_id with it is dropped as
// invalid_distinct_id. The shape is that of the text before the first NUL.
func checkJSONLimits(text []byte, maxDepth, maxMembers int) (jsonShape, *requestError) {
	// The first NUL byte ends the scan, so that nesting over
	// maxJSONNesting before it wins, as in a scan that meets both in order.
	nul := bytes.IndexByte(text, 0)
	if nul >= 0 {
		text = text[:nul]
	}
	shape, err := checkNesting(text, maxDepth, maxMembers)
	if err != nil {
		return shape, err
	}
	if nul >= 0 {
		return shape, reject(http.StatusBadRequest, codeDecoding, "payload contains a NUL byte")
	}
	return shape, nil
}

// jsonShape holds upper bounds on the values and events of a JSON text,
// which size the memory that decoding it takes (decodeReservation), and
// the places where the text breaks the depth or member limit.
type jsonShape struct {
	// values is one for the top-level value, plus one per comma, plus one
	// per array or object for its first element.
	values int
	// events counts in the same way only the elements of arrays at depth 1
	// or 2, where a payload's events are.
	events int
	// breaches contains at most one breach per value at depth 1 to 3 (the
	// top-level value has depth 1), in the order of their offsets. Events
	// are values at those depths, so that is enough to find the events
	// that break a limit. Under the default limits each breach takes at
	// least 62 bytes of text: the brackets from depth 3 to depth 65, or
	// the 1,001 colons of an object with too many members.
	breaches []jsonBreach
}

// jsonBreach is a place where a JSON text breaks the depth or the member
// limit.
type jsonBreach struct {
	// offset is that of the bracket that opens a value too deep, or of the
	// colon of the first member over the limit.
	offset int
	reason catalog.Reason // ReasonEventTooDeep or ReasonEventTooManyMembers
}

// nestingLevel is an array or object that checkNesting is inside.
type nestingLevel struct {
	members  int
	object   bool
	breached bool // a breach inside the value is in jsonShape.breaches
}

// checkNesting applies the limits of checkJSONLimits and counts the shape
// of text.
func checkNesting(text []byte, maxDepth, maxMembers int) (jsonShape, *requestError) {
	stack := make([]nestingLevel, 0, 16)
	shape := jsonShape{values: 1, events: 1}
	limit := min(maxDepth, maxJSONNesting)
	for i := 0; i < len(text); i++ {
		switch b := text[i]; b {
		case '"':
			i = stringEnd(text, i)
		case ',':
			shape.values++
			if n := len(stack); n > 0 && n <= 2 && !stack[n-1].object {
				shape.events++
			}
		case '{', '[':
			if len(stack) >= limit {
				end, err := skipTooDeep(text, i, len(stack), &shape, limit)
				if err != nil {
					return shape, err
				}
				shape.addBreach(stack, len(stack)+1, i, ReasonEventTooDeep)
				i = end
				continue
			}
			stack = append(stack, nestingLevel{object: b == '{'})
			shape.values++
			if b == '[' && len(stack) <= 2 {
				shape.events++
			}
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ':':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].members++
				if stack[n-1].members == maxMembers+1 {
					shape.addBreach(stack, n, i, ReasonEventTooManyMembers)
				}
			}
		}
	}
	return shape, nil
}

// addBreach records a breach at text[offset] inside the value at depth,
// unless the value at depth 3 or less that contains it already has one.
// stack holds the values that contain the breach, and the value at depth
// is the last of them or the one after, which the caller skips.
func (shape *jsonShape) addBreach(stack []nestingLevel, depth, offset int, reason catalog.Reason) {
	if k := min(depth, 3); k <= len(stack) {
		if stack[k-1].breached {
			return
		}
		stack[k-1].breached = true
	}
	shape.breaches = append(shape.breaches, jsonBreach{offset: offset, reason: reason})
}

// skipTooDeep returns the index of the bracket that closes the array or
// object that opens at text[i], at depth+1, or len(text)-1 when none
// does. It keeps no stack, so it counts the elements of objects at depth 2
// or less as events too, and the shape stays an upper bound. Nesting
// deeper than maxJSONNesting fails the payload, whose error names
// maxDepth.
func skipTooDeep(text []byte, i, depth int, shape *jsonShape, maxDepth int) (int, *requestError) {
	outer := depth
	for ; i < len(text); i++ {
		switch text[i] {
		case '"':
			i = stringEnd(text, i)
		case ',':
			shape.values++
			if depth <= 2 {
				shape.events++
			}
		case '{', '[':
			depth++
			if depth > maxJSONNesting {
				return i, reject(http.StatusRequestEntityTooLarge, codeTooLarge,
					"JSON nests deeper than %d levels, where encoding/json stops: send events that nest at most %d levels", maxJSONNesting, maxDepth)
			}
			shape.values++
			if depth <= 2 {
				shape.events++
			}
		case '}', ']':
			depth--
			if depth == outer {
				return i, nil
			}
		}
	}
	return len(text) - 1, nil
}

// hasBreach reports whether one of breaches lies in text[start:end].
func hasBreach(breaches []jsonBreach, start, end int) bool {
	k := sort.Search(len(breaches), func(k int) bool { return breaches[k].offset >= start })
	return k < len(breaches) && breaches[k].offset < end
}

// markOverLimit sets req.overLimit for the events that contain one of
// breaches, whose offsets are into text. A breach outside every event,
// such as a top-level object with too many members, gets status 413.
func (req *rawRequest) markOverLimit(text []byte, breaches []jsonBreach, maxDepth, maxMembers int) *requestError {
	req.overLimit = make([]catalog.Reason, len(req.events))
	next := 0
	for k, event := range req.events {
		// An event is a sub-slice of text, so the capacities give its offset.
		start := cap(text) - cap(event)
		end := start + len(event)
		for ; next < len(breaches) && breaches[next].offset < end; next++ {
			if breaches[next].offset < start {
				return breachOutsideEvents(breaches[next], maxDepth, maxMembers)
			}
			if req.overLimit[k] == "" {
				req.overLimit[k] = breaches[next].reason
			}
		}
	}
	if next < len(breaches) {
		return breachOutsideEvents(breaches[next], maxDepth, maxMembers)
	}
	return nil
}

func breachOutsideEvents(b jsonBreach, maxDepth, maxMembers int) *requestError {
	if b.reason == ReasonEventTooDeep {
		return reject(http.StatusRequestEntityTooLarge, codeTooLarge,
			"JSON outside the events nests deeper than %d levels at offset %d: send a batch object, an array of events or an event within the limit", maxDepth, b.offset)
	}
	return reject(http.StatusRequestEntityTooLarge, codeTooLarge,
		"a JSON object outside the events has more than %d members at offset %d: send a batch object, an array of events or an event within the limit", maxMembers, b.offset)
}

// stringEnd returns the index of the quote that closes the string opened
// by the quote at text[quote], or len(text) when none does. A quote after
// an odd number of backslashes is escaped.
func stringEnd(text []byte, quote int) int {
	i := quote + 1
	for {
		n := bytes.IndexByte(text[i:], '"')
		if n < 0 {
			return len(text)
		}
		i += n
		backslashes := 0
		for k := i - 1; k > quote && text[k] == '\\'; k-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return i
		}
		i++
	}
}

// jsonString returns the value of a JSON string; ok is false for any other
// JSON value and for an absent one.
func jsonString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	// raw is valid JSON, so a string without escapes is its own value when
	// it is valid UTF-8; json.Unmarshal would replace invalid bytes.
	if len(raw) >= 2 && raw[len(raw)-1] == '"' {
		if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			return string(inner), true
		}
	}
	var s string // declared here, so that only this path allocates it
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func isJSONNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}
