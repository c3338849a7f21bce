package collector

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// rawRequest is a payload split into its events, before authentication.
type rawRequest struct {
	tokens []string  // batch-level api_key and token, trimmed, non-empty
	sentAt time.Time // batch-level sent_at; zero when absent or invalid
	engage bool      // a single object without "event" sent to /engage
	events []json.RawMessage
}

// parseRequest reads the JSON union of PostHog's v0 protocol. It tries the
// shapes in this order:
//   - an array of events;
//   - a batch object, which needs "batch" and one of "api_key" or "token";
//   - a single event, which needs "event";
//   - on /engage only, an object without "event", which becomes an
//     $identify event.
func parseRequest(text []byte, rt route, maxDepth, maxMembers int) (*rawRequest, *requestError) {
	if err := checkJSONLimits(text, maxDepth, maxMembers); err != nil {
		return nil, err
	}
	text = bytes.TrimLeft(text, " \t\r\n")
	if len(text) == 0 {
		return nil, reject(http.StatusBadRequest, codeEmptyPayload, "payload is empty after decoding")
	}

	req := &rawRequest{}
	switch text[0] {
	case '[':
		if err := json.Unmarshal(text, &req.events); err != nil {
			return nil, reject(http.StatusBadRequest, codeParsing, "invalid JSON: %v", err)
		}
	case '{':
		var object map[string]json.RawMessage
		if err := json.Unmarshal(text, &object); err != nil {
			return nil, reject(http.StatusBadRequest, codeParsing, "invalid JSON: %v", err)
		}
		if err := req.fromObject(object, text, rt); err != nil {
			return nil, err
		}
	default:
		if !json.Valid(text) {
			return nil, reject(http.StatusBadRequest, codeParsing, "invalid JSON")
		}
		return nil, reject(http.StatusBadRequest, codeParsing, "payload is neither a JSON array nor an object")
	}

	if len(req.events) == 0 {
		return nil, reject(http.StatusBadRequest, codeEmptyBatch, "request holds no event")
	}
	return req, nil
}

func (req *rawRequest) fromObject(object map[string]json.RawMessage, text []byte, rt route) *requestError {
	apiKey, hasAPIKey := jsonString(object["api_key"])
	token, hasToken := jsonString(object["token"])
	batch, hasBatch := object["batch"]

	switch {
	case hasBatch && (hasAPIKey || hasToken):
		if err := json.Unmarshal(batch, &req.events); err != nil || isJSONNull(batch) {
			return reject(http.StatusBadRequest, codeParsing, `"batch" is not an array of events`)
		}
		for _, t := range []string{apiKey, token} {
			if t = strings.TrimSpace(t); t != "" {
				req.tokens = append(req.tokens, t)
			}
		}
		if s, ok := jsonString(object["sent_at"]); ok {
			req.sentAt, _ = parseTimeString(s)
		}
	case object["event"] != nil:
		req.events = []json.RawMessage{text}
	case rt.engage:
		req.events = []json.RawMessage{text}
		req.engage = true
	default:
		return reject(http.StatusBadRequest, codeHydration, `object holds neither "batch" with "api_key" nor "event"`)
	}
	return nil
}

// checkJSONLimits rejects NUL bytes with 400, and with 413 nesting deeper
// than maxDepth or an object with more than maxMembers members. It tracks
// only strings and brackets, because json.Unmarshal checks the syntax
// afterwards. An escaped NUL (\u0000) passes: the catalog rejects strings
// that contain it, and distinct_id replaces it with U+FFFD.
func checkJSONLimits(text []byte, maxDepth, maxMembers int) *requestError {
	type level struct {
		object  bool
		members int
	}
	stack := make([]level, 0, 16)
	inString, escaped := false, false
	for _, b := range text {
		if b == 0 {
			return reject(http.StatusBadRequest, codeDecoding, "payload contains a NUL byte")
		}
		if inString {
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
			continue
		}
		switch b {
		case '"':
			inString = true
		case '{', '[':
			if len(stack) >= maxDepth {
				return reject(http.StatusRequestEntityTooLarge, codeTooLarge, "JSON nests deeper than %d levels", maxDepth)
			}
			stack = append(stack, level{object: b == '{'})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ':':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].members++
				if stack[n-1].members > maxMembers {
					return reject(http.StatusRequestEntityTooLarge, codeTooLarge, "a JSON object has more than %d members", maxMembers)
				}
			}
		}
	}
	return nil
}

// jsonString returns the value of a JSON string; ok is false for any other
// JSON value and for an absent one.
func jsonString(raw json.RawMessage) (s string, ok bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func isJSONNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}
