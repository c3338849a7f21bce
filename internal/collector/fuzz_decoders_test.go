package collector

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/candor-dev/candor/sdk/catalog"
)

// Each decoder at the door has its own fuzz target below, next to
// FuzzDecode, which runs the whole pipeline. A target checks what the
// decoder promises: the size cap, the status of a rejection, and that
// what a client encodes decodes back unchanged. The seed corpus of each is
// in testdata/fuzz/<target>.

// fuzzCap is the decompressed-size cap of the fuzz targets, small so that
// the fuzzer reaches it.
const fuzzCap = 4096

func allowAll(int64) bool { return true }

// FuzzGunzip feeds gunzip arbitrary bytes and, gzip-compressed, arbitrary
// payloads, which must come back unchanged within the cap and be rejected
// with 413 above it.
func FuzzGunzip(f *testing.F) {
	f.Add([]byte(`{"api_key":"k","batch":[]}`), false)
	f.Add([]byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff}, false)
	f.Fuzz(func(t *testing.T, data []byte, compress bool) {
		if !compress {
			text, err := gunzip(data, fuzzCap, allowAll)
			if err != nil {
				checkRejection(t, err)
				return
			}
			if len(text) > fuzzCap {
				t.Fatalf("gunzip returned %d bytes, over the cap of %d", len(text), fuzzCap)
			}
			return
		}

		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		text, err := gunzip(buf.Bytes(), fuzzCap, allowAll)
		switch {
		case len(data) > fuzzCap:
			if err == nil || err.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d bytes over the cap of %d: got error %v, want 413", len(data), fuzzCap, err)
			}
		case err != nil:
			t.Fatalf("gunzip of valid gzip failed: %v", err)
		case !bytes.Equal(text, data):
			t.Fatalf("gunzip returned %q, want %q", text, data)
		}
	})
}

// FuzzLZ64 feeds the lz-string decoder arbitrary text, which must never
// pass the cap, and arbitrary strings compressed by lz-string's algorithm,
// which must come back unchanged.
func FuzzLZ64(f *testing.F) {
	f.Add("", "N4IgdghgtgpiBcIBOMA0A")
	f.Add(`{"event":"x","properties":{"a":"ü€𝄞"}}`, "")
	f.Fuzz(func(t *testing.T, text, raw string) {
		out, err := decompressLZBase64([]byte(raw), fuzzCap, allowAll)
		if err == nil && (len(out) > fuzzCap || !utf8.Valid(out)) {
			t.Fatalf("decoded %d bytes (valid UTF-8: %v) from %q, cap %d", len(out), utf8.Valid(out), raw, fuzzCap)
		}

		if !utf8.ValidString(text) || text == "" {
			return
		}
		out, err = decompressLZBase64([]byte(compressLZBase64(text)), fuzzCap, allowAll)
		switch {
		case len(text) > fuzzCap:
			if err != errLZTooLarge {
				t.Fatalf("%d bytes over the cap of %d: got error %v, want errLZTooLarge", len(text), fuzzCap, err)
			}
		case err != nil:
			t.Fatalf("decompress of %q failed: %v", text, err)
		case string(out) != text:
			t.Fatalf("decompressed %q, want %q", out, text)
		}
	})
}

// FuzzBase64Body sends arbitrary JSON text as a base64 body, as legacy
// clients wrap whole bodies, and as the data parameter of a query.
func FuzzBase64Body(f *testing.F) {
	f.Add([]byte(`{"api_key":"k","batch":[{"event":"e"}]}`), false)
	f.Add([]byte(`[{"event":"e","properties":{"a":"b+c/d"}}]`), true)
	f.Fuzz(func(t *testing.T, text []byte, asQuery bool) {
		if len(text) == 0 || !utf8.Valid(text) || hasGzipMagic(text) {
			return
		}
		encoded := base64.StdEncoding.EncodeToString(text)
		if isJSONScalar([]byte(encoded)) {
			// Such base64 text, "4423" for one, is kept as sent. It starts
			// with a digit, n, t or f, so its first decoded byte is one of
			// 0x7c-0x7f, 0x9c-0x9f, 0xb4-0xb7 and 0xd0-0xf7, which starts
			// no JSON text: no base64 of an event is lost that way.
			return
		}
		src := payloadSource{query: url.Values{}, contentType: "application/json", body: []byte(encoded)}
		if asQuery {
			// A query string decodes '+' as a space, as it does for
			// clients that do not escape it.
			src.query.Set("data", strings.ReplaceAll(encoded, "+", " "))
			src.body = nil
		}
		out, err := decodePayload(src, fuzzCap, allowAll)
		switch {
		case len(text) > fuzzCap:
			if err == nil || err.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d bytes over the cap of %d: got error %v, want 413", len(text), fuzzCap, err)
			}
		case err != nil:
			t.Fatalf("decode base64 of %q: %v", text, err)
		case !bytes.Equal(out, text):
			t.Fatalf("decoded %q, want %q", out, text)
		}
	})
}

// FuzzFormBody sends arbitrary JSON text in the data field of a
// urlencoded form, plain or base64, as posthog-js does.
func FuzzFormBody(f *testing.F) {
	f.Add([]byte(`{"api_key":"k","batch":[{"event":"e"}]}`), false, "")
	f.Add([]byte(`[{"event":"e"}]`), true, "base64")
	f.Fuzz(func(t *testing.T, text []byte, wrap bool, extra string) {
		if len(text) == 0 || !utf8.Valid(text) || hasGzipMagic(text) || isBase64(text, true) {
			return
		}
		data := string(text)
		form := url.Values{"ver": {"1.0"}, "extra": {extra}}
		if wrap {
			data = base64.StdEncoding.EncodeToString(text)
			form.Set("compression", "base64")
		}
		form.Set("data", data)
		src := payloadSource{query: url.Values{}, contentType: "application/x-www-form-urlencoded; charset=utf-8", body: []byte(form.Encode())}
		out, err := decodePayload(src, fuzzCap, allowAll)
		switch {
		case len(text) > fuzzCap:
			if err == nil || err.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d bytes over the cap of %d: got error %v, want 413", len(text), fuzzCap, err)
			}
		case err != nil:
			t.Fatalf("decode form with data %q: %v", data, err)
		case !bytes.Equal(out, text):
			t.Fatalf("decoded %q, want %q", out, text)
		}
	})
}

// FuzzParseRequest feeds the JSON union of the v0 protocol arbitrary
// text. An accepted request must be valid JSON whose events are each valid
// JSON; an array must give one event per element; every rejection is a
// 400 or 413 with a code.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"api_key":" k ","batch":[{"event":"e"},{"event":"f"}],"sent_at":"2026-01-01T00:00:00Z"}`), "/batch")
	f.Add([]byte(`[{"event":"e"},1,"x",null]`), "/e")
	f.Add([]byte(`{"$set":{"a":1},"token":"k"}`), "/engage")
	f.Fuzz(func(t *testing.T, text []byte, path string) {
		rt, ok := matchRoute(path)
		if !ok {
			rt = routeList[0]
		}
		req, err := parseRequest(text, rt, 16, 50, allowAll)
		if err != nil {
			checkRejection(t, err)
			return
		}
		if !json.Valid(text) {
			t.Fatalf("accepted invalid JSON %q", text)
		}
		if len(req.events) == 0 {
			t.Fatalf("accepted %q without events", text)
		}
		for i, e := range req.events {
			if !json.Valid(e) {
				t.Fatalf("event %d is invalid JSON: %q", i, e)
			}
		}
		for _, token := range req.tokens {
			if token == "" || strings.TrimSpace(token) != token {
				t.Fatalf("token %q is empty or untrimmed", token)
			}
		}
		// A breach of the limits outside the events fails the request, so
		// an accepted one with a breach has an event marked over a limit.
		_, breaches := checkJSONLimitsByBytes(text, 16, 50)
		marked := slices.ContainsFunc(req.overLimit, func(r catalog.Reason) bool { return r != "" })
		if marked != (len(breaches) > 0) {
			t.Fatalf("accepted %q with events over the limits %v, breaches at %v", text, req.overLimit, breaches)
		}
		var array []json.RawMessage
		if json.Unmarshal(text, &array) == nil && len(req.events) != len(array) {
			t.Fatalf("array of %d elements gave %d events", len(array), len(req.events))
		}
	})
}

// FuzzResolveTimestamp checks that no timestamp, sent_at or offset moves
// an event past the future skew or before the Unix epoch.
func FuzzResolveTimestamp(f *testing.F) {
	f.Add(`"2026-03-29T02:30:00+02:00"`, "2026-03-29T03:00:00+02:00", "", false)
	f.Add(`1e300`, "", "-1e300", true)
	f.Add(`"9999-12-31T23:59:59Z"`, "0001-01-01T00:00:00Z", "NaN", false)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, timestamp, sentAt, offset string, ignoreSentAt bool) {
		sent, _ := parseTimeString(sentAt)
		ts := resolveTimestamp(now, sent, ignoreSentAt, json.RawMessage(timestamp), json.RawMessage(offset))
		if ts.After(now.Add(MaxFutureSkew)) {
			t.Fatalf("timestamp %s is past the skew of %s", ts, MaxFutureSkew)
		}
		if ts.Before(unixEpoch) {
			t.Fatalf("timestamp %s is before the Unix epoch", ts)
		}
		if ts.Location() != time.UTC {
			t.Fatalf("timestamp %s is not in UTC", ts)
		}
		if ms, ok := parseOffset(json.RawMessage(offset)); ok && math.Abs(float64(ms)) > maxMillis {
			t.Fatalf("offset %q gave %d ms, over the bound of %g", offset, ms, maxMillis)
		}
	})
}
