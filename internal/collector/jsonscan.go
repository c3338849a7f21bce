package collector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// This file holds a JSON scanner for the request path. It accepts exactly
// the texts that encoding/json accepts (RFC 8259), which FuzzScanValue
// checks against json.Valid, but it does not copy the payload: a value is
// returned as a sub-slice of it. encoding/json's Decoder cost the collector
// several µs per event for the same work.

// errJSONEnd is the error of a text that ends inside a value.
var errJSONEnd = errors.New("unexpected end of JSON input")

// syntaxError describes the byte at offset i of text that breaks the
// grammar.
func syntaxError(text []byte, i int, context string) error {
	if i >= len(text) {
		return errJSONEnd
	}
	return fmt.Errorf("invalid character %q %s at offset %d", text[i], context, i)
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(text []byte, i int) int {
	for i < len(text) {
		switch text[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the string that starts with the quote
// at text[i]. Raw control characters and invalid escapes are errors, as in
// encoding/json. Invalid UTF-8 is not: encoding/json replaces it when it
// decodes the string.
func skipString(text []byte, i int) (int, error) {
	i++ // the opening quote
	for i < len(text) {
		c := text[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c < 0x20:
			return i, syntaxError(text, i, "in string literal")
		case c != '\\':
			i++
			continue
		}
		// An escape sequence.
		if i+1 >= len(text) {
			return i, errJSONEnd
		}
		switch text[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			for k := i + 2; k < i+6; k++ {
				if k >= len(text) {
					return k, errJSONEnd
				}
				if !isHexDigit(text[k]) {
					return k, syntaxError(text, k, "in \\u hexadecimal character escape")
				}
			}
			i += 6
		default:
			return i + 1, syntaxError(text, i+1, "in string escape code")
		}
	}
	return i, errJSONEnd
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// skipNumber returns the index after the number that starts at text[i]:
// an optional minus, an integer without leading zeros, an optional
// fraction and an optional exponent.
func skipNumber(text []byte, i int) (int, error) {
	if text[i] == '-' {
		i++
	}
	switch {
	case i >= len(text):
		return i, errJSONEnd
	case text[i] == '0':
		i++
	case text[i] >= '1' && text[i] <= '9':
		i = skipDigits(text, i+1)
	default:
		return i, syntaxError(text, i, "in numeric literal")
	}
	if i < len(text) && text[i] == '.' {
		i++
		if i >= len(text) {
			return i, errJSONEnd
		}
		if !isDigit(text[i]) {
			return i, syntaxError(text, i, "after decimal point in numeric literal")
		}
		i = skipDigits(text, i)
	}
	if i < len(text) && (text[i] == 'e' || text[i] == 'E') {
		i++
		if i < len(text) && (text[i] == '+' || text[i] == '-') {
			i++
		}
		if i >= len(text) {
			return i, errJSONEnd
		}
		if !isDigit(text[i]) {
			return i, syntaxError(text, i, "in exponent of numeric literal")
		}
		i = skipDigits(text, i)
	}
	return i, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func skipDigits(text []byte, i int) int {
	for i < len(text) && isDigit(text[i]) {
		i++
	}
	return i
}

// skipLiteral returns the index after the literal true, false or null that
// starts at text[i].
func skipLiteral(text []byte, i int) (int, error) {
	var word string
	switch text[i] {
	case 't':
		word = "true"
	case 'f':
		word = "false"
	default:
		word = "null"
	}
	for k := 0; k < len(word); k++ {
		if i+k >= len(text) {
			return i + k, errJSONEnd
		}
		if text[i+k] != word[k] {
			return i + k, syntaxError(text, i+k, "in literal "+word)
		}
	}
	return i + len(word), nil
}

// skipScalar returns the index after the string, number or literal that
// starts at text[i].
func skipScalar(text []byte, i int) (int, error) {
	switch c := text[i]; {
	case c == '"':
		return skipString(text, i)
	case c == '-' || isDigit(c):
		return skipNumber(text, i)
	case c == 't' || c == 'f' || c == 'n':
		return skipLiteral(text, i)
	}
	return i, syntaxError(text, i, "looking for beginning of value")
}

// errNesting is the error of a text that nests deeper than maxJSONNesting.
var errNesting = fmt.Errorf("JSON nests deeper than %d levels", maxJSONNesting)

// skipValue returns the index after the JSON value that starts at or after
// white space at text[i]. It keeps its own stack of open arrays and
// objects, of at most maxJSONNesting bytes, so nesting costs no recursion.
func skipValue(text []byte, i int) (int, error) {
	var stack [32]byte // room for the usual nesting without an allocation
	open := stack[:0]  // '{' or '[' for each open value
	for {
		// A value starts here.
		i = skipSpace(text, i)
		if i >= len(text) {
			return i, errJSONEnd
		}
		var err error
		switch text[i] {
		case '{':
			if len(open) >= maxJSONNesting {
				return i, errNesting
			}
			i = skipSpace(text, i+1)
			if i < len(text) && text[i] == '}' {
				i++
				break
			}
			if i, err = skipKey(text, i); err != nil {
				return i, err
			}
			open = append(open, '{')
			continue
		case '[':
			if len(open) >= maxJSONNesting {
				return i, errNesting
			}
			i = skipSpace(text, i+1)
			if i < len(text) && text[i] == ']' {
				i++
				break
			}
			open = append(open, '[')
			continue
		default:
			if i, err = skipScalar(text, i); err != nil {
				return i, err
			}
		}

		// A value ended: close the values it ends and find the next one.
		for {
			if len(open) == 0 {
				return i, nil
			}
			i = skipSpace(text, i)
			if i >= len(text) {
				return i, errJSONEnd
			}
			top := open[len(open)-1]
			if text[i] == ',' {
				i++
				if top == '{' {
					if i, err = skipKey(text, skipSpace(text, i)); err != nil {
						return i, err
					}
				}
				break
			}
			if top == '{' && text[i] == '}' || top == '[' && text[i] == ']' {
				i++
				open = open[:len(open)-1]
				continue
			}
			return i, syntaxError(text, i, "after "+containerName(top)+" element")
		}
	}
}

func containerName(open byte) string {
	if open == '{' {
		return "object key:value pair"
	}
	return "array"
}

// skipKey returns the index after the colon that follows the object key at
// text[i].
func skipKey(text []byte, i int) (int, error) {
	_, i, err := readKey(text, i)
	return i, err
}

// readKey reads the object key at text[i] and the colon after it. key is
// the key's JSON text without its quotes, still escaped, and i the index
// after the colon.
func readKey(text []byte, i int) (key []byte, next int, err error) {
	if i >= len(text) {
		return nil, i, errJSONEnd
	}
	if text[i] != '"' {
		return nil, i, syntaxError(text, i, "looking for beginning of object key string")
	}
	end, err := skipString(text, i)
	if err != nil {
		return nil, end, err
	}
	key = text[i+1 : end-1]
	next = skipSpace(text, end)
	if next >= len(text) {
		return nil, next, errJSONEnd
	}
	if text[next] != ':' {
		return nil, next, syntaxError(text, next, "after object key")
	}
	return key, next + 1, nil
}

// unquote returns the value of a JSON string's text without its quotes,
// which skipString accepted. Only text with an escape goes through
// encoding/json; callers pass valid UTF-8.
func unquote(inner []byte) (string, error) {
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), nil
	}
	quoted := make([]byte, 0, len(inner)+2)
	quoted = append(append(append(quoted, '"'), inner...), '"')
	var s string
	err := json.Unmarshal(quoted, &s)
	return s, err
}

// parseAny decodes the value at text[i], which starts after white space,
// as encoding/json decodes into an `any`: objects as map[string]any (the
// last of repeated keys wins), arrays as []any, numbers as float64. It
// returns the index after the value. Callers pass valid UTF-8. Keys and
// string values found in names, which may be nil, share its strings.
func parseAny(text []byte, i int, names *internTable) (any, int, error) {
	i = skipSpace(text, i)
	if i >= len(text) {
		return nil, i, errJSONEnd
	}
	switch c := text[i]; {
	case c == '{':
		m := map[string]any{}
		i, err := parseObjectInto(text, i, m, names)
		return m, i, err
	case c == '[':
		return parseArray(text, i, names)
	case c == '"':
		end, err := skipString(text, i)
		if err != nil {
			return nil, end, err
		}
		inner := text[i+1 : end-1]
		if bytes.IndexByte(inner, '\\') < 0 {
			return names.value(inner), end, nil
		}
		s, err := unquote(inner)
		return s, end, err
	case c == '-' || isDigit(c):
		end, err := skipNumber(text, i)
		if err != nil {
			return nil, end, err
		}
		f, err := strconv.ParseFloat(string(text[i:end]), 64)
		if err != nil {
			return nil, end, fmt.Errorf("number %s does not fit a float64", text[i:end])
		}
		return f, end, nil
	case c == 't' || c == 'f' || c == 'n':
		end, err := skipLiteral(text, i)
		if err != nil {
			return nil, end, err
		}
		switch c {
		case 't':
			return true, end, nil
		case 'f':
			return false, end, nil
		}
		return nil, end, nil
	}
	return nil, i, syntaxError(text, i, "looking for beginning of value")
}

// parseObjectInto decodes the object at text[i] into m and returns the
// index after it.
func parseObjectInto(text []byte, i int, m map[string]any, names *internTable) (int, error) {
	i = skipSpace(text, i+1)
	if i < len(text) && text[i] == '}' {
		return i + 1, nil
	}
	for {
		rawKey, next, err := readKey(text, i)
		if err != nil {
			return next, err
		}
		var key string
		if bytes.IndexByte(rawKey, '\\') < 0 {
			key = names.key(rawKey)
		} else if key, err = unquote(rawKey); err != nil {
			return next, err
		}
		var value any
		if value, i, err = parseAny(text, next, names); err != nil {
			return i, err
		}
		m[key] = value

		var done bool
		if i, done, err = nextMember(text, i, '}'); err != nil || done {
			return i, err
		}
	}
}

func parseArray(text []byte, i int, names *internTable) ([]any, int, error) {
	i = skipSpace(text, i+1)
	if i < len(text) && text[i] == ']' {
		return []any{}, i + 1, nil
	}
	var list []any
	for {
		value, end, err := parseAny(text, i, names)
		if err != nil {
			return nil, end, err
		}
		list = append(list, value)
		var done bool
		if i, done, err = nextMember(text, end, ']'); err != nil {
			return nil, i, err
		}
		if done {
			return list, i, nil
		}
	}
}

// nextMember reads the comma or the closing delimiter after a member of an
// object or array. It returns the index after it, and done for the closing
// delimiter.
func nextMember(text []byte, i int, closing byte) (next int, done bool, err error) {
	i = skipSpace(text, i)
	switch {
	case i >= len(text):
		return i, false, errJSONEnd
	case text[i] == ',':
		return skipSpace(text, i+1), false, nil
	case text[i] == closing:
		return i + 1, true, nil
	}
	if closing == '}' {
		return i, false, syntaxError(text, i, "after object key:value pair")
	}
	return i, false, syntaxError(text, i, "after array element")
}

// wireFieldNames are the JSON names of wireEvent's fields, in the order of
// wireEvent.field.
var wireFieldNames = [...]string{
	"event", "distinct_id", "$distinct_id", "uuid", "token", "$token", "api_key", "timestamp", "offset", "properties",
}

// wireProperties is the index of "properties" in wireFieldNames.
const wireProperties = 9

// field returns the raw field of wireEvent with the index k of
// wireFieldNames, except properties.
func (w *wireEvent) field(k int) *json.RawMessage {
	switch k {
	case 0:
		return &w.Event
	case 1:
		return &w.DistinctID
	case 2:
		return &w.DollarDistinctID
	case 3:
		return &w.UUID
	case 4:
		return &w.Token
	case 5:
		return &w.DollarToken
	case 6:
		return &w.APIKey
	case 7:
		return &w.Timestamp
	case 8:
		return &w.Offset
	}
	panic("collector: no wireEvent field " + strconv.Itoa(k))
}

// matchWireField returns the index in wireFieldNames of the field that
// encoding/json would decode the member key into, or -1. Like
// encoding/json, it prefers the exact name and then accepts any case
// (bytes.EqualFold).
func matchWireField(key []byte) int {
	for k, name := range wireFieldNames {
		if string(key) == name {
			return k
		}
	}
	for k, name := range wireFieldNames {
		if bytes.EqualFold(key, []byte(name)) {
			return k
		}
	}
	return -1
}

// decodeWireEvent decodes the JSON object raw into w, as json.Unmarshal
// would: members match fields as in matchWireField, the last of repeated
// members wins, and repeated properties objects are merged. It fails on
// every text json.Unmarshal fails on. The raw fields of w are sub-slices
// of raw, not copies.
func decodeWireEvent(raw []byte, w *wireEvent, names *internTable) error {
	if !utf8.Valid(raw) {
		// encoding/json replaces invalid UTF-8 in strings; the payload
		// pipeline has rejected such text before.
		return json.Unmarshal(raw, w)
	}
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return syntaxError(raw, i, "looking for beginning of object")
	}
	i, err := w.decodeMembers(raw, skipSpace(raw, i+1), names)
	if err != nil {
		return err
	}
	if i = skipSpace(raw, i); i != len(raw) {
		return syntaxError(raw, i, "after top-level value")
	}
	return nil
}

// decodeMembers decodes the members of the object whose opening brace
// precedes text[i] and returns the index after its closing brace.
func (w *wireEvent) decodeMembers(text []byte, i int, names *internTable) (int, error) {
	if i < len(text) && text[i] == '}' {
		return i + 1, nil
	}
	for {
		rawKey, next, err := readKey(text, i)
		if err != nil {
			return next, err
		}
		key := rawKey
		if bytes.IndexByte(rawKey, '\\') >= 0 {
			unquoted, err := unquote(rawKey)
			if err != nil {
				return next, err
			}
			key = []byte(unquoted)
		}

		start := skipSpace(text, next)
		switch k := matchWireField(key); k {
		case wireProperties:
			i, err = w.decodeProperties(text, start, names)
		case -1:
			i, err = skipValue(text, start)
		default:
			i, err = skipValue(text, start)
			if err == nil {
				*w.field(k) = text[start:i]
			}
		}
		if err != nil {
			return i, err
		}

		var done bool
		if i, done, err = nextMember(text, i, '}'); err != nil || done {
			return i, err
		}
	}
}

// errPropertiesType is the error of properties that are neither an object
// nor null; json.Unmarshal fails on them too.
var errPropertiesType = errors.New("properties is not a JSON object")

// decodeProperties decodes the value of properties at text[i] into
// w.Properties: null sets it to nil, and an object adds its members.
func (w *wireEvent) decodeProperties(text []byte, i int, names *internTable) (int, error) {
	if i >= len(text) {
		return i, errJSONEnd
	}
	switch text[i] {
	case 'n':
		end, err := skipLiteral(text, i)
		if err == nil {
			w.Properties = nil
		}
		return end, err
	case '{':
		if w.Properties == nil {
			w.Properties = map[string]any{}
		}
		return parseObjectInto(text, i, w.Properties, names)
	}
	end, err := skipValue(text, i)
	if err != nil {
		return end, err
	}
	return end, errPropertiesType
}
