package collector

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/candor-dev/candor/internal/jsontext"
	"github.com/candor-dev/candor/sdk/catalog"
)

// requestError rejects a whole request. Code uses the vocabulary of PostHog's
// capture service, so tools that read its error bodies understand ours.
type requestError struct {
	status int
	code   string
	msg    string

	retryAfter time.Duration // sent as Retry-After when set; 503 responses default to Config.RetryAfter
	limit      string        // for 503s of an exhausted limit: the Limit constant, counted in Stats.Overloaded
}

func (e *requestError) Error() string { return e.code + ": " + e.msg }

func reject(status int, code, format string, args ...any) *requestError {
	return &requestError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// Error codes of rejected requests.
const (
	codeEmptyPayload     = "empty_payload"
	codeDecoding         = "request_decoding_error"
	codeParsing          = "request_parsing_error"
	codeHydration        = "request_hydration_error"
	codeEmptyBatch       = "empty_batch"
	codeTooLarge         = "payload_too_large"
	codeKeyRequired      = "ingest_key_required"
	codeKeyUnknown       = "ingest_key_unknown"
	codeUnroutable       = "unroutable_events"
	codeBodyReadTimeout  = "body_read_timeout"
	codeUnavailable      = "service_unavailable"
	codeRateLimited      = "rate_limited"
	codeInternal         = "internal_error"
	codeNotFound         = "not_found"
	codeMethodNotAllowed = "method_not_allowed"
)

// unknownKeyMessage is the error text of a write key that no project
// has.
const unknownKeyMessage = "write key is not known to this collector: use the write key that candor serve printed, " +
	"or the key of one of its --project flags"

// errorBody is the JSON body of every error response.
type errorBody struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Error  string `json:"error"`
}

// captureResponse is the body of a 200 response. PostHog's clients read only
// status; the counts are for people and tests.
type captureResponse struct {
	Status string `json:"status"` // "Ok", as PostHog's capture service sends
	// Accepted counts the events the store committed, duplicates included.
	Accepted int `json:"accepted"`
	// Duplicates counts the accepted events the store already held. It is
	// absent when the request shared its commit with other requests, because
	// the store reports one count per commit, and when the store learns the
	// count only after the commit (store.StoredUnknown), as with a journal.
	Duplicates *int `json:"duplicates,omitempty"`
	// Dropped counts the events not stored, by reason.
	Dropped map[catalog.Reason]int `json:"dropped"`
	// DroppedProperties counts the properties left out of accepted events,
	// by reason.
	DroppedProperties map[catalog.Reason]int `json:"dropped_properties"`
	// Violations counts the values behind the catalog reasons of Dropped
	// and DroppedProperties by event, property and reason, keyed as
	// catalog.Catalog.ViolationKey writes them, such as
	// "message_sent frontendPlatform.userAgent wrong_type". It is absent
	// when the catalog rejected nothing.
	Violations map[string]int `json:"violations,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	data, err := json.Marshal(body)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"status":500,"code":"internal_error","error":"encode response"}`)
	}
	writeJSONText(w, status, append(data, '\n'))
}

// writeJSONText writes data, which is JSON text and a newline.
func writeJSONText(w http.ResponseWriter, status int, data []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(data))}
	w.WriteHeader(status)
	w.Write(data)
}

// jsonContentType is the Content-Type header value of every response. The
// server only reads it, so all responses share the slice.
var jsonContentType = []string{"application/json"}

// writeCaptureResponse writes a 200 response with resp as its body.
func writeCaptureResponse(w http.ResponseWriter, resp *captureResponse) {
	buf := make([]byte, 0, 128)
	writeJSONText(w, http.StatusOK, append(resp.appendJSON(buf), '\n'))
}

// appendJSON appends the JSON text that json.Marshal makes of r, without
// its reflection and sorting costs.
func (r *captureResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"status":`...)
	b = jsontext.AppendString(b, r.Status)
	b = append(b, `,"accepted":`...)
	b = strconv.AppendInt(b, int64(r.Accepted), 10)
	if r.Duplicates != nil {
		b = append(b, `,"duplicates":`...)
		b = strconv.AppendInt(b, int64(*r.Duplicates), 10)
	}
	b = append(b, `,"dropped":`...)
	b = appendCounts(b, r.Dropped)
	b = append(b, `,"dropped_properties":`...)
	b = appendCounts(b, r.DroppedProperties)
	if len(r.Violations) > 0 {
		b = append(b, `,"violations":`...)
		b = appendCounts(b, r.Violations)
	}
	return append(b, '}')
}

// appendCounts appends counts as a JSON object with sorted keys, or null
// for a nil map.
func appendCounts[K ~string](b []byte, counts map[K]int) []byte {
	if counts == nil {
		return append(b, "null"...)
	}
	keys := make([]K, 0, len(counts))
	for key := range counts {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, key := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsontext.AppendString(b, string(key))
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(counts[key]), 10)
	}
	return append(b, '}')
}

func (c *Collector) writeError(w http.ResponseWriter, e *requestError) {
	retryAfter := e.retryAfter
	if retryAfter == 0 && e.status == http.StatusServiceUnavailable {
		retryAfter = c.cfg.RetryAfter
	}
	if retryAfter > 0 {
		seconds := int(math.Ceil(retryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(max(seconds, 1)))
	}
	writeJSON(w, e.status, errorBody{Status: e.status, Code: e.code, Error: e.msg})
}

// overloaded returns the 503 of an exhausted limit.
func overloaded(limit string) *requestError {
	e := reject(http.StatusServiceUnavailable, codeUnavailable, "collector is overloaded (%s); retry later", limit)
	e.limit = limit
	return e
}

// setCORSHeaders lets browsers on any origin send events, with credentials,
// as PostHog's capture service does: it mirrors Origin and the requested
// headers. It exposes Retry-After, which a page's script cannot read
// otherwise, so a browser client can wait the time a 429 or 503 gives.
func setCORSHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Add("Vary", "Origin")
	if origin := r.Header.Get("Origin"); origin != "" {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", "Retry-After")
	}
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		if requested := r.Header.Get("Access-Control-Request-Headers"); requested != "" {
			h.Set("Access-Control-Allow-Headers", requested)
		}
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(time.Hour.Seconds())))
	}
}
