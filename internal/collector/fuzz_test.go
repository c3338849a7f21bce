package collector

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/candor-dev/candor/sdk/catalog"
)

type fuzzEvent struct {
	Model string `json:"model" candor:"identifier"`
	Count *int   `json:"count,omitempty" candor:"count,max=10,optional"`
}

func (fuzzEvent) EventName() string { return "fuzz_event" }

// FuzzDecode runs the payload pipeline, the JSON union and the event checks
// on arbitrary requests. The seed corpus in testdata/fuzz/FuzzDecode covers
// each encoding and payload shape.
func FuzzDecode(f *testing.F) {
	const maxDecompressed = 1 << 20
	cat := catalog.New("fuzz")
	cat.MustRegister(fuzzEvent{}, "An event for fuzzing.")
	p := &project{name: "fuzz", catalog: cat}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

	f.Add([]byte(`{"api_key":"k","batch":[{"event":"fuzz_event","distinct_id":"d","properties":{"model":"m"}}]}`),
		"application/json", "", "", "/batch", false)

	f.Fuzz(func(t *testing.T, body []byte, contentType, contentEncoding, hint, path string, asQuery bool) {
		rt, ok := matchRoute(path)
		if !ok {
			rt = routeList[0]
		}
		src := payloadSource{
			query:           url.Values{"compression": {hint}},
			contentType:     contentType,
			contentEncoding: contentEncoding,
			body:            body,
			legacy:          rt.legacy,
		}
		if asQuery {
			src.query.Set("data", string(body))
			src.body = nil
		}

		text, err := decodePayload(src, maxDecompressed, func(int64) bool { return true })
		if err != nil {
			checkRejection(t, err)
			return
		}
		if len(text) > maxDecompressed {
			t.Fatalf("decoded payload of %d bytes is over the %d-byte cap", len(text), maxDecompressed)
		}
		if !utf8.Valid(text) {
			t.Fatalf("decoded payload is not valid UTF-8")
		}

		req, err := parseRequest(text, rt, 32, 100, allowAll)
		if err != nil {
			checkRejection(t, err)
			return
		}
		if len(req.events) == 0 {
			t.Fatalf("parseRequest accepted a request without events")
		}

		decoded := decodeEvents(req, 1<<16, newInternTable([]*catalog.Catalog{cat}))
		out := checkEvents(eventContext{project: p, now: now, engage: req.engage}, decoded)
		dropped := 0
		for _, n := range out.dropped {
			dropped += n
		}
		if dropped+len(out.events) != len(decoded) {
			t.Fatalf("%d stored + %d dropped events, want %d", len(out.events), dropped, len(decoded))
		}
		for _, e := range out.events {
			checkStoredEvent(t, e.UUID, e.DistinctID, e.Timestamp, now)
		}
	})
}

func checkRejection(t *testing.T, err *requestError) {
	t.Helper()
	if err.status != http.StatusBadRequest && err.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("rejected with status %d (%v), want 400 or 413", err.status, err)
	}
	if err.code == "" || err.msg == "" {
		t.Fatalf("rejection without code or message: %+v", err)
	}
}

func checkStoredEvent(t *testing.T, id, distinctID string, ts, now time.Time) {
	t.Helper()
	if !catalog.IsUUID(id) || strings.ToLower(id) != id {
		t.Fatalf("stored uuid %q is not a lower-case UUID", id)
	}
	if catalog.CheckDistinctID(distinctID) != "" {
		t.Fatalf("stored distinct id %q breaks its rules", distinctID)
	}
	if ts.After(now.Add(MaxFutureSkew)) || ts.Year() < 0 || ts.Year() > 9999 {
		t.Fatalf("stored timestamp %s is out of range", ts)
	}
}
