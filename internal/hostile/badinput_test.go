package hostile

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// badRequest is one hostile request and the response the collector
// documents for it.
type badRequest struct {
	name    string
	method  string // POST when empty
	path    string // /batch/ when empty
	body    []byte
	headers []string // name, value pairs; Content-Type application/json unless set

	status int
	// code and message are the error body's code and a part of its error
	// text, for a status other than 200.
	code, message string
	// accepted, dropped and droppedProperties are the counts of a 200
	// response; the store must then hold accepted more events.
	accepted          int
	dropped           map[string]int
	droppedProperties map[string]int
	// storedAt, if set, is the timestamp each accepted event must be
	// stored with.
	storedAt time.Time
}

// uuidFor returns a version 4 UUID unique to case c and event i.
func uuidFor(c, i int) string {
	return fmt.Sprintf("00000000-%04x-4000-8000-%012x", c, i)
}

// eventWith returns a command_used event with the uuid and the extra JSON
// members (each starting with a comma).
func eventWith(uuid, extra string) string {
	return `{"event":"command_used","distinct_id":"` + installID + `","uuid":"` + uuid + `","properties":{"command":"clear"}` + extra + `}`
}

// gzipped compresses data.
func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gzipBomb returns about 100 KB of gzip that inflates to 100 MiB, three
// times the collector's default cap on decompressed payloads. It is 100
// gzip members of 1 MiB of spaces each, which a gzip reader reads as one
// stream, so the test does not spend seconds compressing.
func gzipBomb(t *testing.T) []byte {
	t.Helper()
	member := gzipped(t, bytes.Repeat([]byte(" "), 1<<20))
	return bytes.Repeat(member, 100)
}

// badRequests returns the table. Every request that the collector rejects
// as a whole starts with a valid event, so a partial store would show.
func badRequests(t *testing.T) []badRequest {
	valid := func(c int) string { return eventWith(uuidFor(c, 0), "") }
	bomb := gzipBomb(t)
	batchOf := func(events ...string) []byte { return []byte(batchBody(events...)) }
	manyProps := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"command":"clear"`)
		for i := range n - 1 {
			fmt.Fprintf(&b, `,"p%d":1`, i)
		}
		b.WriteString("}")
		return b.String()
	}
	nested := func(depth int) string {
		return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	}
	at := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}

	return []badRequest{
		// Sizes.
		{name: "body over the batch limit", body: append(batchOf(valid(1)), bytes.Repeat([]byte(" "), 20<<20)...),
			status: 413, code: "payload_too_large", message: "over the limit of 20971520 bytes"},
		{name: "body over the event limit", path: "/i/v0/e/", body: append([]byte(valid(2)), bytes.Repeat([]byte(" "), 2<<20)...),
			status: 413, code: "payload_too_large", message: "over the limit of 2097152 bytes"},
		{name: "gzip bomb", body: bomb, headers: []string{"Content-Encoding", "gzip"},
			status: 413, code: "payload_too_large", message: "after gzip decompression"},
		{name: "gzip bomb without a hint", body: bomb,
			status: 413, code: "payload_too_large", message: "after gzip decompression"},
		{name: "nesting over the depth limit", body: batchOf(valid(4), `{"event":"command_used","distinct_id":"d","properties":`+nested(70)+`}`),
			status: 200, accepted: 1, dropped: map[string]int{"event_too_deep": 1}},
		{name: "a million open brackets", body: []byte(`{"api_key":"` + writeKey + `","batch":[` + valid(5) + `,` + strings.Repeat("[", 1<<20)),
			status: 413, code: "payload_too_large", message: "nests deeper than 10000 levels"},
		{name: "properties over the member limit", body: batchOf(valid(6), `{"event":"command_used","distinct_id":"d","properties":`+manyProps(1001)+`}`),
			status: 200, accepted: 1, dropped: map[string]int{"event_too_many_members": 1}},
		{name: "999 unknown properties", body: batchOf(`{"event":"command_used","distinct_id":"d","uuid":"` + uuidFor(7, 0) + `","properties":` + manyProps(1000) + `}`),
			status: 200, accepted: 1, dropped: map[string]int{}, droppedProperties: map[string]int{"unknown_property": 999}},
		{name: "event over the event size limit", body: batchOf(valid(8), eventWith(uuidFor(8, 1), `,"padding":"`+strings.Repeat("x", 1_000_001)+`"`)),
			status: 200, accepted: 1, dropped: map[string]int{"event_too_large": 1}},

		// Bytes that are not JSON text.
		{name: "invalid UTF-8", body: []byte(batchBody(valid(9), "{\"event\":\"command_used\",\"distinct_id\":\"\xff\xfe\"}")),
			status: 400, code: "request_decoding_error", message: "not valid UTF-8"},
		{name: "invalid UTF-8 inside gzip", body: gzipped(t, []byte(batchBody(valid(10), "{\"event\":\"\xc3\x28\"}"))),
			status: 400, code: "request_decoding_error", message: "not valid UTF-8"},
		{name: "NUL byte", body: []byte(batchBody(valid(11), "{\"event\":\"command_used\x00\"}")),
			status: 400, code: "request_decoding_error", message: "NUL byte"},
		{name: "escaped NUL in a property", body: batchOf(valid(12), `{"event":"command_used","distinct_id":"d","uuid":"`+uuidFor(12, 1)+`","properties":{"command":"clear\u0000"}}`),
			status: 200, accepted: 1, dropped: map[string]int{"invalid_string": 1}},
		{name: "escaped NUL in distinct_id", body: batchOf(`{"event":"command_used","distinct_id":"a\u0000b","uuid":"` + uuidFor(13, 0) + `","properties":{"command":"clear"}}`),
			status: 200, accepted: 0, dropped: map[string]int{"invalid_distinct_id": 1}},
		{name: "NaN literal", body: batchOf(valid(14), eventWith(uuidFor(14, 1), `,"offset":NaN`)),
			status: 400, code: "request_parsing_error", message: "invalid JSON"},
		{name: "Infinity literal", body: batchOf(valid(15), `{"event":"message_sent","distinct_id":"d","properties":{"message_length_b2":Infinity}}`),
			status: 400, code: "request_parsing_error", message: "invalid JSON"},
		{name: "negative Infinity literal", body: batchOf(valid(16), `{"event":"message_sent","distinct_id":"d","properties":{"message_length_b2":-Infinity}}`),
			status: 400, code: "request_parsing_error", message: "invalid JSON"},
		{name: "number out of float range", body: batchOf(valid(17), eventWith(uuidFor(17, 1), `,"timestamp":1e999`)),
			status: 200, accepted: 2, dropped: map[string]int{}, storedAt: receiveTime},
		{name: "property number out of float range", body: batchOf(valid(18), `{"event":"command_used","distinct_id":"d","uuid":"`+uuidFor(18, 1)+`","properties":{"command":"clear","n":1e999}}`),
			status: 200, accepted: 1, dropped: map[string]int{"invalid_event": 1}},
		{name: "truncated JSON", body: batchOf(valid(19))[:60],
			status: 400, code: "request_parsing_error", message: "invalid JSON"},
		{name: "data after the JSON", body: append(batchOf(valid(20)), []byte(` {"x":1}`)...),
			status: 400, code: "request_parsing_error", message: "invalid data after the top-level value"},
		{name: "gzip header on plain JSON", body: batchOf(valid(21)), headers: []string{"Content-Encoding", "gzip"},
			status: 400, code: "request_decoding_error", message: "invalid gzip data"},
		{name: "empty body", body: []byte{},
			status: 400, code: "empty_payload", message: "no body"},
		{name: "empty batch", body: batchOf(),
			status: 400, code: "empty_batch", message: "no event"},

		// Wrong JSON types.
		{name: "top level is a number", body: []byte(`42`),
			status: 400, code: "request_parsing_error", message: "neither a JSON array nor an object"},
		{name: "top level is null, also valid base64", body: []byte(`null`),
			status: 400, code: "request_parsing_error", message: "neither a JSON array nor an object"},
		{name: "neither JSON nor base64 of JSON", body: []byte(`abcd`),
			status: 400, code: "request_decoding_error", message: "neither JSON nor base64-encoded JSON"},
		{name: "batch is an object", body: []byte(`{"api_key":"` + writeKey + `","batch":{"event":"command_used"}}`),
			status: 400, code: "request_parsing_error", message: `"batch" is not an array`},
		{name: "object without batch or event", body: []byte(`{"api_key":"` + writeKey + `","events":[]}`),
			status: 400, code: "request_hydration_error", message: `neither "batch"`},
		{name: "wrong field types", body: batchOf(
			valid(22),
			`{"event":5,"distinct_id":"d","properties":{"command":"clear"}}`,
			`{"event":"command_used","distinct_id":"d","properties":"clear"}`,
			`{"event":"command_used","distinct_id":"d","uuid":12345,"properties":{"command":"clear"}}`,
			`{"event":"command_used","distinct_id":"d","properties":{"command":7}}`,
			`{"event":"message_sent","distinct_id":"d","properties":{"workspaceId":"`+installID+`","model":"gpt-4o","message_length_b2":"300"}}`,
			`["not","an","event"]`,
			`"command_used"`),
			status: 200, accepted: 1, dropped: map[string]int{"invalid_event": 4, "invalid_uuid": 1, "wrong_type": 2}},
		{name: "distinct_id of another type", body: batchOf(
			`{"event":"command_used","distinct_id":42,"uuid":"`+uuidFor(23, 0)+`","properties":{"command":"clear"}}`,
			`{"event":"command_used","distinct_id":{"a":[1,2]},"uuid":"`+uuidFor(23, 1)+`","properties":{"command":"clear"}}`),
			status: 200, accepted: 1, dropped: map[string]int{"invalid_distinct_id": 1}},
		{name: "empty and null distinct ids", body: batchOf(
			valid(24),
			`{"event":"command_used","distinct_id":"","properties":{"command":"clear"}}`,
			`{"event":"command_used","distinct_id":null,"properties":{"command":"clear"}}`,
			`{"event":"command_used","properties":{"command":"clear"}}`,
			`{"event":"command_used","distinct_id":"","$distinct_id":null,"properties":{"command":"clear","distinct_id":""}}`),
			status: 200, accepted: 1, dropped: map[string]int{"missing_distinct_id": 4}},
		{name: "empty and null event names", body: batchOf(
			valid(25),
			`{"event":"","distinct_id":"d","properties":{"command":"clear"}}`,
			`{"event":null,"distinct_id":"d","properties":{"command":"clear"}}`),
			status: 200, accepted: 1, dropped: map[string]int{"missing_event_name": 2}},
		{name: "distinct_id of 5,000 characters", body: batchOf(`{"event":"command_used","distinct_id":"` + strings.Repeat("é", 5000) + `","uuid":"` + uuidFor(26, 0) + `","properties":{"command":"clear"}}`),
			status: 200, accepted: 0, dropped: map[string]int{"invalid_distinct_id": 1}},
		{name: "email address as distinct_id", body: batchOf(valid(48), `{"event":"command_used","distinct_id":"alice@example.com","properties":{"command":"clear"}}`),
			status: 200, accepted: 1, dropped: map[string]int{"invalid_distinct_id": 1}},

		// Timestamps.
		{name: "timestamp far in the future", body: batchOf(eventWith(uuidFor(27, 0), `,"timestamp":"9999-12-31T23:59:59Z"`)),
			status: 200, accepted: 1, dropped: map[string]int{}, storedAt: receiveTime},
		{name: "timestamp a day ahead", body: batchOf(eventWith(uuidFor(28, 0), `,"timestamp":"2026-12-02T12:00:01Z"`)),
			status: 200, accepted: 1, dropped: map[string]int{}, storedAt: receiveTime},
		{name: "timestamp 22 hours ahead", body: batchOf(eventWith(uuidFor(29, 0), `,"timestamp":"2026-12-02T10:00:00Z"`)),
			status: 200, accepted: 1, dropped: map[string]int{}, storedAt: at("2026-12-02T10:00:00Z")},
		{name: "timestamp in year 1", body: batchOf(eventWith(uuidFor(30, 0), `,"timestamp":"0001-01-01T00:00:00Z"`)),
			status: 200, accepted: 1, dropped: map[string]int{}, storedAt: time.Unix(0, 0).UTC()},
		{name: "epoch number far in the past", body: batchOf(eventWith(uuidFor(31, 0), `,"timestamp":-1e300`)),
			status: 200, accepted: 1, dropped: map[string]int{}, storedAt: time.Unix(0, 0).UTC()},
		{name: "epoch number far in the future", body: batchOf(eventWith(uuidFor(32, 0), `,"timestamp":1e300`)),
			status: 200, accepted: 1, dropped: map[string]int{}, storedAt: receiveTime},
		{name: "offset far in the past", body: batchOf(eventWith(uuidFor(33, 0), `,"offset":1e300`)),
			status: 200, accepted: 1, dropped: map[string]int{}, storedAt: receiveTime},
		{name: "timestamp that is not a time", body: batchOf(eventWith(uuidFor(34, 0), `,"timestamp":true`)),
			status: 200, accepted: 1, dropped: map[string]int{}, storedAt: receiveTime},

		// Daylight saving time: an offset names one instant, even for a
		// wall-clock time that a time zone skips or repeats.
		{name: "Europe spring forward, summer offset", body: batchOf(eventWith(uuidFor(35, 0), `,"timestamp":"2026-03-29T02:30:00+02:00"`)),
			status: 200, accepted: 1, dropped: map[string]int{}, storedAt: at("2026-03-29T00:30:00Z")},
		{name: "Europe spring forward, winter offset", body: batchOf(eventWith(uuidFor(36, 0), `,"timestamp":"2026-03-29T02:30:00+01:00"`)),
			status: 200, accepted: 1, dropped: map[string]int{}, storedAt: at("2026-03-29T01:30:00Z")},
		{name: "US fall back, first 1:30", body: batchOf(eventWith(uuidFor(37, 0), `,"timestamp":"2026-11-01T01:30:00-04:00"`)),
			status: 200, accepted: 1, dropped: map[string]int{}, storedAt: at("2026-11-01T05:30:00Z")},
		{name: "US fall back, second 1:30", body: batchOf(eventWith(uuidFor(38, 0), `,"timestamp":"2026-11-01T01:30:00-05:00"`)),
			status: 200, accepted: 1, dropped: map[string]int{}, storedAt: at("2026-11-01T06:30:00Z")},
		{name: "US fall back, no offset reads as UTC", body: batchOf(eventWith(uuidFor(39, 0), `,"timestamp":"2026-11-01T01:30:00"`)),
			status: 200, accepted: 1, dropped: map[string]int{}, storedAt: at("2026-11-01T01:30:00Z")},
		{name: "sent_at and timestamp across the US change", body: []byte(`{"api_key":"` + writeKey + `","sent_at":"2026-11-01T01:59:00-05:00","batch":[` +
			eventWith(uuidFor(40, 0), `,"timestamp":"2026-11-01T01:58:00-04:00"`) + `]}`),
			status: 200, accepted: 1, dropped: map[string]int{}, storedAt: receiveTime.Add(-61 * time.Minute)},
		{name: "sent_at and timestamp across the Europe change", body: []byte(`{"api_key":"` + writeKey + `","sent_at":"2026-03-29T03:01:00+02:00","batch":[` +
			eventWith(uuidFor(41, 0), `,"timestamp":"2026-03-29T01:59:00+01:00"`) + `]}`),
			status: 200, accepted: 1, dropped: map[string]int{}, storedAt: receiveTime.Add(-2 * time.Minute)},

		// Tokens.
		{name: "mixed tokens in one batch", body: batchOf(valid(42), `{"event":"command_used","distinct_id":"d","token":"phc_someone_else","properties":{"command":"clear"}}`),
			status: 400, code: "unroutable_events", message: "different tokens"},
		{name: "mixed tokens with the admin token", body: batchOf(valid(43), `{"event":"command_used","distinct_id":"d","api_key":"`+adminToken+`","properties":{"command":"clear"}}`),
			status: 400, code: "unroutable_events", message: "different tokens"},
		{name: "no token", body: []byte(`[` + valid(44) + `]`),
			status: 401, code: "ingest_key_required", message: "no api_key or token"},
		{name: "unknown token", body: []byte(`{"api_key":"phc_unknown","batch":[` + valid(45) + `]}`),
			status: 401, code: "ingest_key_unknown", message: "not known"},
		{name: "admin token as write key", body: []byte(`{"api_key":"` + adminToken + `","batch":[` + valid(46) + `]}`),
			status: 401, code: "ingest_key_unknown", message: "not known"},

		// Methods.
		{name: "PUT", method: http.MethodPut, body: batchOf(valid(47)),
			status: 405, code: "method_not_allowed", message: "use POST or GET"},
	}
}

// TestBadInputTable sends each hostile request to a real server over
// DuckDB. It checks the documented status, code and message, that a
// rejected request stores nothing, that an accepted one stores exactly
// its valid events with the expected timestamps, and that a valid request
// right after it succeeds.
func TestBadInputTable(t *testing.T) {
	ts := startServer(t)
	for i, tc := range badRequests(t) {
		t.Run(tc.name, func(t *testing.T) {
			ts.t = t
			before := ts.storedCount()
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			path := tc.path
			if path == "" {
				path = "/batch/"
			}
			headers := append([]string{"Content-Type", "application/json"}, tc.headers...)
			r := ts.do(method, path, tc.body, headers...)
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d; body %.300s", r.status, tc.status, r.body)
			}
			stored := ts.storedCount() - before

			if tc.status == http.StatusOK {
				checkAccepted(t, ts, tc, r, stored)
			} else {
				checkRejected(t, tc, r, stored)
			}

			// The server keeps serving.
			after := ts.storedCount()
			ok := ts.postJSON("/batch/", batchBody(commandEvent(uuidFor(1000+i, 0))))
			if ok.status != http.StatusOK {
				t.Fatalf("valid request after %q: status %d, body %s", tc.name, ok.status, ok.body)
			}
			if res := decodeJSON[captureResult](t, ok); res.Accepted != 1 {
				t.Errorf("valid request after %q: accepted %d, want 1", tc.name, res.Accepted)
			}
			if n := ts.storedCount() - after; n != 1 {
				t.Errorf("valid request after %q stored %d events, want 1", tc.name, n)
			}
		})
	}
}

func checkRejected(t *testing.T, tc badRequest, r response, stored int64) {
	t.Helper()
	res := decodeJSON[errorResult](t, r)
	if res.Status != tc.status || res.Code != tc.code {
		t.Errorf("error body = %+v, want status %d and code %q", res, tc.status, tc.code)
	}
	if !strings.Contains(res.Error, tc.message) {
		t.Errorf("error %q does not contain %q", res.Error, tc.message)
	}
	if stored != 0 {
		t.Errorf("a rejected request stored %d events", stored)
	}
}

func checkAccepted(t *testing.T, ts *testServer, tc badRequest, r response, stored int64) {
	t.Helper()
	res := decodeJSON[captureResult](t, r)
	if res.Accepted != tc.accepted {
		t.Errorf("accepted = %d, want %d; body %s", res.Accepted, tc.accepted, r.body)
	}
	if int(stored) != tc.accepted {
		t.Errorf("stored %d events, want %d", stored, tc.accepted)
	}
	if tc.dropped != nil && !equalCounts(res.Dropped, tc.dropped) {
		t.Errorf("dropped = %v, want %v", res.Dropped, tc.dropped)
	}
	if tc.droppedProperties != nil && !equalCounts(res.DroppedProperties, tc.droppedProperties) {
		t.Errorf("dropped_properties = %v, want %v", res.DroppedProperties, tc.droppedProperties)
	}
	if !tc.storedAt.IsZero() {
		if n := countAt(t, ts, tc.storedAt); n < int64(tc.accepted) {
			t.Errorf("%d events stored at %s, want at least %d", n, tc.storedAt.Format(time.RFC3339Nano), tc.accepted)
		}
	}
}

// countAt returns how many events the store holds with the timestamp at,
// to the microsecond that DuckDB keeps.
func countAt(t *testing.T, ts *testServer, at time.Time) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ov, err := ts.srv.Store().Overview(ctx, store.Filter{From: at, To: at.Add(time.Microsecond)})
	if err != nil {
		t.Fatalf("count events at %s: %v", at, err)
	}
	return ov.TotalEvents
}

// equalCounts compares two count maps, treating absent and zero alike.
func equalCounts(got, want map[string]int) bool {
	for k, v := range got {
		if want[k] != v {
			return false
		}
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}
