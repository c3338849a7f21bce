package collector_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/sdk/catalog"
)

func TestBodyOverLimit(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) {
		c.MaxEventBody = 1 << 10
		c.MaxBatchBody = 4 << 10
	})
	big := batchBody(muxKey, messageEvent(uuidN(1))) + strings.Repeat(" ", 2<<10)

	// /e has the smaller cap; the body is rejected from its Content-Length.
	mustFail(t, e.postJSON("/e/", big), http.StatusRequestEntityTooLarge, "payload_too_large")
	// /batch has the larger cap.
	mustOK(t, e.postJSON("/batch/", big))

	// Without a Content-Length the cap stops the read.
	req, err := http.NewRequest(http.MethodPost, e.server.URL+"/i/v0/e/", io.MultiReader(strings.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.server.Client().Do(req)
	if err != nil {
		t.Fatalf("chunked POST: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body: status = %d, want 413", resp.StatusCode)
	}
}

// gzipBomb returns a gzip stream of 1 GiB of zeros: 1024 gzip members of
// 1 MiB each, about 1 MB in all. Gzip readers such as Go's read
// concatenated members as one stream, as RFC 1952 allows.
func gzipBomb(t *testing.T) []byte {
	t.Helper()
	var member bytes.Buffer
	zw, err := gzip.NewWriterLevel(&member, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	return bytes.Repeat(member.Bytes(), 1024)
}

func TestGzipBombStopsAtCap(t *testing.T) {
	bomb := gzipBomb(t)
	tests := []struct {
		name      string
		cap       int64
		maxMemory uint64
	}{
		// The compressed body is about 1 MiB; decompression adds only its
		// window, whatever the cap.
		{"small cap", 1 << 20, 8 << 20},
		{"default cap", 0, 8 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *collector.Config) { c.MaxDecompressed = tt.cap })

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r := e.do(http.MethodPost, "/batch/", bomb, "Content-Type", "application/json", "Content-Encoding", "gzip")
			runtime.ReadMemStats(&after)

			mustFail(t, r, http.StatusRequestEntityTooLarge, "payload_too_large")
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("1 GiB gzip bomb of %d bytes: %d MiB allocated while serving it", len(bomb), allocated>>20)
			if allocated > tt.maxMemory {
				t.Errorf("allocated %d MiB, want at most %d MiB", allocated>>20, tt.maxMemory>>20)
			}
		})
	}
}

func TestLZ64BombStopsAtCap(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.MaxDecompressed = 64 << 10 })
	compressed := collector.CompressLZBase64(strings.Repeat("A", 4<<20))
	r := e.do(http.MethodPost, "/e/", []byte("data="+compressed+"&compression=lz64"), "Content-Type", "application/x-www-form-urlencoded")
	mustFail(t, r, http.StatusRequestEntityTooLarge, "payload_too_large")
}

func TestJSONLimits(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) {
		c.MaxDepth = 10
		c.MaxProperties = 20
	})

	// An event in a batch object starts at depth 3, and its properties
	// object at depth 4, so 6 more levels fit.
	nested := func(uuid string, levels int) string {
		return `{"event":"app_started","distinct_id":"d","uuid":"` + uuid + `","properties":{"x":` + strings.Repeat("[", levels) + strings.Repeat("]", levels) + `}}`
	}
	if res := mustOK(t, e.postJSON("/batch/", batchBody(muxKey, nested(uuidN(1), 6)))); res.Accepted != 1 {
		t.Errorf("6 levels: accepted = %d, want 1", res.Accepted)
	}

	// Brackets inside strings do not count.
	shallow := `{"event":"app_started","distinct_id":"d","uuid":"` + uuidN(2) + `","properties":{"x":"` + strings.Repeat("[{", 50) + `"}}`
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, shallow)))

	var props []string
	for i := range 20 {
		props = append(props, fmt.Sprintf(`"p%d":1`, i))
	}
	wide := func(uuid string, members int) string {
		return `{"event":"app_started","distinct_id":"d","uuid":"` + uuid + `","properties":{` + strings.Join(props[:members-1], ",") + `,"q":1}}`
	}
	if res := mustOK(t, e.postJSON("/batch/", batchBody(muxKey, wide(uuidN(3), 20)))); res.Accepted != 1 {
		t.Errorf("20 members: accepted = %d, want 1", res.Accepted)
	}

	// A batch array may hold more elements than an object may hold members.
	var events []string
	for i := range 30 {
		events = append(events, messageEvent(uuidN(100+i)))
	}
	if res := mustOK(t, e.postJSON("/batch/", batchBody(muxKey, events...))); res.Accepted != 30 {
		t.Errorf("accepted = %d, want 30", res.Accepted)
	}
}

// An event over the depth or member limit is dropped with its reason, and
// the valid events of its request are stored.
func TestEventOverJSONLimitsDropped(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) {
		c.MaxDepth = 10
		c.MaxProperties = 20
	})
	deep := `{"event":"app_started","distinct_id":"d","uuid":"` + uuidN(2) + `","properties":{"x":` + strings.Repeat("[", 8) + strings.Repeat("]", 8) + `}}`
	var props []string
	for i := range 21 {
		props = append(props, fmt.Sprintf(`"p%d":1`, i))
	}
	wide := `{"event":"app_started","distinct_id":"d","uuid":"` + uuidN(3) + `","properties":{` + strings.Join(props, ",") + `}}`
	// The token in an event over a limit is not read.
	deepWithToken := `{"event":"app_started","token":"` + otherKey + `","x":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`

	tests := []struct {
		name   string
		body   string
		stored []string // uuids
	}{
		{"batch object", batchBody(muxKey, messageEvent(uuidN(1)), deep, wide, messageEvent(uuidN(4))), []string{uuidN(1), uuidN(4)}},
		{"array of events", `[{"token":"` + muxKey + `",` + messageEvent(uuidN(11))[1:] + `,` + deep + `,` + wide + `,` + deepWithToken + `]`, []string{uuidN(11)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.store.stored())
			res := mustOK(t, e.postJSON("/batch/", tt.body))
			if res.Accepted != len(tt.stored) {
				t.Errorf("accepted = %d, want %d", res.Accepted, len(tt.stored))
			}
			want := map[string]int{"event_too_deep": 1, "event_too_many_members": 1}
			if tt.name == "array of events" {
				want["event_too_deep"] = 2
			}
			if diff := cmp.Diff(want, res.Dropped); diff != "" {
				t.Errorf("dropped mismatch (-want +got):\n%s", diff)
			}
			var stored []string
			for _, ev := range e.store.stored()[before:] {
				stored = append(stored, ev.UUID)
			}
			if diff := cmp.Diff(tt.stored, stored); diff != "" {
				t.Errorf("stored uuids mismatch (-want +got):\n%s", diff)
			}
		})
	}

	dropped := e.collector.Stats().Dropped
	if got := dropped["event_too_deep"]; got != 3 {
		t.Errorf("Stats.Dropped[event_too_deep] = %d, want 3", got)
	}
	if got := dropped["event_too_many_members"]; got != 2 {
		t.Errorf("Stats.Dropped[event_too_many_members] = %d, want 2", got)
	}
}

// A request whose events are all over the depth or member limit gets 413,
// as one whose events are all too large, and one over a limit outside its
// events gets 413 too.
func TestOnlyEventsOverJSONLimitsTooLarge(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) {
		c.MaxDepth = 10
		c.MaxProperties = 20
		c.MaxEventSize = 1000
	})
	deep := `{"event":"app_started","distinct_id":"d","properties":{"x":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}}`
	var props []string
	for i := range 21 {
		props = append(props, fmt.Sprintf(`"p%d":1`, i))
	}
	members := strings.Join(props, ",")
	wide := `{"event":"app_started","distinct_id":"d","properties":{` + members + `}}`
	large := `{"event":"app_started","distinct_id":"d","properties":{"pad":"` + strings.Repeat("x", 1000) + `"}}`

	tests := []struct {
		name, path, body, message string
	}{
		{"deep batch", "/batch/", batchBody(muxKey, deep),
			"every event of the request is over a limit per event (nested deeper than 10 levels from the top of the payload)"},
		{"deep and wide batch", "/batch/", batchBody(muxKey, deep, wide, large),
			"(over 1000 bytes; nested deeper than 10 levels from the top of the payload; with an object of more than 20 members)"},
		{"deep single event", "/e/", `{"token":"` + muxKey + `",` + deep[1:], "nested deeper than 10 levels"},
		{"wide single event", "/e/", `{"token":"` + muxKey + `",` + wide[1:], "with an object of more than 20 members"},
		{"batch object with too many members", "/batch/", `{"api_key":"` + muxKey + `",` + members + `,"batch":[` + messageEvent(uuidN(1)) + `]}`,
			"a JSON object outside the events has more than 20 members"},
		{"too deep beside the batch", "/batch/", `{"api_key":"` + muxKey + `","x":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `,"batch":[` + messageEvent(uuidN(2)) + `]}`,
			"JSON outside the events nests deeper than 10 levels"},
		{"a batch replaced by a later one", "/batch/", `{"api_key":"` + muxKey + `","batch":[` + deep + `],"batch":[` + messageEvent(uuidN(3)) + `]}`,
			"JSON outside the events nests deeper than 10 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mustFail(t, e.postJSON(tt.path, tt.body), http.StatusRequestEntityTooLarge, "payload_too_large")
			if !strings.Contains(res.Error, tt.message) {
				t.Errorf("error = %q, want it to contain %q", res.Error, tt.message)
			}
		})
	}
	if n := len(e.store.stored()); n != 0 {
		t.Errorf("stored %d events, want 0", n)
	}
}

func TestDefaultDepthLimit(t *testing.T) {
	e := newEnv(t)
	deep := func(uuid string, levels int) string {
		return `{"event":"app_started","distinct_id":"d","uuid":"` + uuid + `","properties":{"x":` + strings.Repeat("[", levels) + strings.Repeat("]", levels) + `}}`
	}
	// The properties object of an event in a batch is at depth 4, so 60
	// more levels fit in 64.
	body := batchBody(muxKey, messageEvent(uuidN(1)), deep(uuidN(2), 60), deep(uuidN(3), 61), deep(uuidN(4), 9000))
	res := mustOK(t, e.postJSON("/batch/", body))
	if res.Accepted != 2 {
		t.Errorf("accepted = %d, want 2", res.Accepted)
	}
	if got := res.Dropped["event_too_deep"]; got != 2 {
		t.Errorf("dropped[event_too_deep] = %d, want 2 (dropped: %v)", got, res.Dropped)
	}

	// Past 10,000 levels, where encoding/json stops, the whole payload is
	// rejected.
	res2 := mustFail(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(5)), deep(uuidN(6), 10000))), http.StatusRequestEntityTooLarge, "payload_too_large")
	if want := "nests deeper than 10000 levels"; !strings.Contains(res2.Error, want) {
		t.Errorf("error = %q, want it to contain %q", res2.Error, want)
	}
}

// TestDefaultDepthFitsDeepestObject checks that a batch as the SDK sends
// it, with an event whose object properties nest as deep as the catalog
// allows, passes the default depth limit.
func TestDefaultDepthFitsDeepestObject(t *testing.T) {
	declared := `{"name": "a", "class": "bool"}`
	sent := `{"a":true}`
	for range catalog.MaxObjectDepth {
		declared = `{"name": "o", "class": "object", "properties": [` + declared + `]}`
		sent = `{"o":` + sent + `}`
	}
	c, err := catalog.Parse([]byte(`{"app": "deep", "events": [{"name": "deep", "properties": [` + declared + `]}]}`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	e := newEnv(t, func(cfg *collector.Config) {
		cfg.Projects = []collector.Project{{Name: "deep", WriteKey: muxKey, Catalog: c}}
	})

	event := `{"event":"deep","distinct_id":"d","uuid":"` + uuidN(1) + `","properties":` + sent + `}`
	if res := mustOK(t, e.postJSON("/batch/", batchBody(muxKey, event))); res.Accepted != 1 {
		t.Errorf("accepted = %d, want 1", res.Accepted)
	}
}

func TestMalformedPayloads(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		code string
	}{
		{"invalid UTF-8", []byte(`{"api_key":"` + muxKey + `","batch":[{"event":"app_started","distinct_id":"d` + "\xff\xfe" + `"}]}`), "request_decoding_error"},
		{"NUL byte", []byte(`{"api_key":"` + muxKey + "\x00" + `","batch":[]}`), "request_decoding_error"},
		{"syntax error", []byte(`{"api_key":"` + muxKey + `","batch":[{"event":}]}`), "request_parsing_error"},
		{"trailing garbage", []byte(batchBody(muxKey, messageEvent(uuidN(1))) + `}`), "request_parsing_error"},
		{"scalar", []byte(`"hello"`), "request_parsing_error"},
		{"batch not an array", []byte(`{"api_key":"` + muxKey + `","batch":{"event":"x"}}`), "request_parsing_error"},
		{"empty batch", []byte(`{"api_key":"` + muxKey + `","batch":[]}`), "empty_batch"},
		{"empty array", []byte(`[]`), "empty_batch"},
		{"white space only", []byte("   \n"), "empty_payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			mustFail(t, e.do(http.MethodPost, "/batch/", tt.body, "Content-Type", "application/json"), http.StatusBadRequest, tt.code)
		})
	}
}

func TestEmptyRequest(t *testing.T) {
	e := newEnv(t)
	mustFail(t, e.do(http.MethodPost, "/batch/", nil), http.StatusBadRequest, "empty_payload")
	mustFail(t, e.do(http.MethodGet, "/e/?data=", nil), http.StatusBadRequest, "empty_payload")
}

// A data parameter that is not percent-encoded is dropped by query
// parsing, so the message names the query string rather than a missing
// parameter.
func TestInvalidQueryStringNamed(t *testing.T) {
	e := newEnv(t)
	res := mustFail(t, e.do(http.MethodGet, "/e/?data=%ZZ", nil), http.StatusBadRequest, "request_decoding_error")
	if want := `invalid query string: invalid URL escape "%ZZ"`; !strings.Contains(res.Error, want) {
		t.Errorf("error = %q, want it to contain %q", res.Error, want)
	}
	if want := "percent-encode the data parameter"; !strings.Contains(res.Error, want) {
		t.Errorf("error = %q, want it to contain %q", res.Error, want)
	}
}

func TestEventOverSizeLimitDropped(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.MaxEventSize = 1000 })
	big := `{"event":"app_started","distinct_id":"d","uuid":"` + uuidN(2) + `","properties":{"pad":"` + strings.Repeat("x", 1000) + `"}}`
	res := mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(1)), big)))
	if res.Accepted != 1 {
		t.Errorf("accepted = %d, want 1", res.Accepted)
	}
	if diff := cmp.Diff(map[string]int{"event_too_large": 1}, res.Dropped); diff != "" {
		t.Errorf("dropped mismatch (-want +got):\n%s", diff)
	}
}

func TestOnlyEventsOverSizeLimitTooLarge(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.MaxEventSize = 1000 })
	pad := `"pad":"` + strings.Repeat("x", 1000) + `"`
	big := func(n int, token string) string {
		return `{"event":"app_started","distinct_id":"d","uuid":"` + uuidN(n) + `"` + token + `,"properties":{` + pad + `}}`
	}

	// The token sits in the event, which is too large to decode.
	r := e.postJSON("/e/", big(1, `,"token":"`+muxKey+`"`))
	mustFail(t, r, http.StatusRequestEntityTooLarge, "payload_too_large")
	r = e.postJSON("/batch/", batchBody(muxKey, big(2, ""), big(3, "")))
	res := mustFail(t, r, http.StatusRequestEntityTooLarge, "payload_too_large")
	if !strings.Contains(res.Error, "1000 bytes") {
		t.Errorf("error = %q, want the event size limit of 1000 bytes", res.Error)
	}
	if n := len(e.store.stored()); n != 0 {
		t.Errorf("stored %d events, want 0", n)
	}
}

func TestSlowBodyTimesOut(t *testing.T) {
	e := newEnv(t, func(c *collector.Config) { c.BodyReadTimeout = 200 * time.Millisecond })

	conn := e.startBody(1000, `{"api_key":"`+muxKey+`","batch":[`)

	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status = %d, want 408; body %s", resp.StatusCode, body)
	}
	if !strings.Contains(string(body), `"code":"body_read_timeout"`) {
		t.Errorf("body = %s, want code body_read_timeout", body)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("answered after %s, want about 200ms", elapsed)
	}
}

func TestKeepAliveAfterBodyRead(t *testing.T) {
	// A commit slower than BodyReadTimeout must not cancel the request, and
	// the connection stays usable.
	e := newEnv(t, func(c *collector.Config) { c.BodyReadTimeout = 50 * time.Millisecond })
	e.store.setDelay(150 * time.Millisecond)
	for i := range 3 {
		res := mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(i)))))
		if res.Accepted != 1 {
			t.Errorf("POST %d: accepted = %d, want 1", i, res.Accepted)
		}
	}
	// A GET has no body to read.
	for i := range 2 {
		data := url.QueryEscape(batchBody(muxKey, messageEvent(uuidN(10+i))))
		res := mustOK(t, e.do(http.MethodGet, "/e/?data="+data, nil))
		if res.Accepted != 1 {
			t.Errorf("GET %d: accepted = %d, want 1", i, res.Accepted)
		}
	}
}
