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

	deep := `{"event":"app_started","distinct_id":"d","properties":{"x":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}}`
	mustFail(t, e.postJSON("/batch/", batchBody(muxKey, deep)), http.StatusRequestEntityTooLarge, "payload_too_large")

	// Brackets inside strings do not count.
	shallow := `{"event":"app_started","distinct_id":"d","uuid":"` + uuidN(1) + `","properties":{"x":"` + strings.Repeat("[{", 50) + `"}}`
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, shallow)))

	var props []string
	for i := range 21 {
		props = append(props, fmt.Sprintf(`"p%d":1`, i))
	}
	wide := `{"event":"app_started","distinct_id":"d","properties":{` + strings.Join(props, ",") + `}}`
	mustFail(t, e.postJSON("/batch/", batchBody(muxKey, wide)), http.StatusRequestEntityTooLarge, "payload_too_large")

	// A batch array may hold more elements than an object may hold members.
	var events []string
	for i := range 30 {
		events = append(events, messageEvent(uuidN(100+i)))
	}
	if res := mustOK(t, e.postJSON("/batch/", batchBody(muxKey, events...))); res.Accepted != 30 {
		t.Errorf("accepted = %d, want 30", res.Accepted)
	}
}

func TestDefaultDepthLimit(t *testing.T) {
	e := newEnv(t)
	deep := `{"event":"app_started","distinct_id":"d","properties":{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}}`
	mustFail(t, e.postJSON("/batch/", batchBody(muxKey, deep)), http.StatusRequestEntityTooLarge, "payload_too_large")
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
