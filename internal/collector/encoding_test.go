package collector_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/candor-dev/candor/internal/collector"
)

func gzipBytes(t *testing.T, data string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(data)); err != nil {
		t.Fatalf("gzip: %v", err)
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("gzip: %v", err)
	}
	return buf.Bytes()
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestGzipPayloads(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		headers []string
	}{
		// posthog-node: Content-Encoding only.
		{"header", "/batch/", []string{"Content-Type", "application/json", "Content-Encoding", "gzip"}},
		// posthog-go: the query hint and the header.
		{"query hint", "/batch/?compression=gzip", []string{"Content-Type", "application/json"}},
		{"query hint gzip-js", "/e/?compression=gzip-js&ver=1.0", []string{"Content-Type", "text/plain"}},
		// posthog-js: no hint at all, only the magic bytes.
		{"magic bytes", "/e/", []string{"Content-Type", "text/plain"}},
		{"header in upper case", "/i/v0/e/", []string{"Content-Encoding", "GZIP"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			body := gzipBytes(t, batchBody(muxKey, messageEvent(uuidN(2*i)), messageEvent(uuidN(2*i+1))))
			res := mustOK(t, e.do(http.MethodPost, tt.path, body, tt.headers...))
			if res.Accepted != 2 {
				t.Errorf("accepted = %d, want 2", res.Accepted)
			}
		})
	}
}

func TestInvalidGzip(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodPost, "/batch/?compression=gzip", []byte(`{"not":"gzip"}`))
	mustFail(t, r, http.StatusBadRequest, "request_decoding_error")

	truncated := gzipBytes(t, batchBody(muxKey, messageEvent(uuidN(1))))
	truncated = truncated[:len(truncated)/2]
	r = e.do(http.MethodPost, "/batch/", truncated)
	mustFail(t, r, http.StatusBadRequest, "request_decoding_error")
}

func TestBase64Body(t *testing.T) {
	e := newEnv(t)
	body := b64(batchBody(muxKey, messageEvent(uuidN(1))))
	res := mustOK(t, e.do(http.MethodPost, "/batch/", []byte(body), "Content-Type", "text/plain"))
	if res.Accepted != 1 {
		t.Errorf("accepted = %d, want 1", res.Accepted)
	}
}

func TestBase64OfGzipBody(t *testing.T) {
	e := newEnv(t)
	zipped := gzipBytes(t, batchBody(muxKey, messageEvent(uuidN(1))))
	body := base64.StdEncoding.EncodeToString(zipped)
	res := mustOK(t, e.do(http.MethodPost, "/i/v0/e/", []byte(body)))
	if res.Accepted != 1 {
		t.Errorf("accepted = %d, want 1", res.Accepted)
	}
}

// plusPayload returns a batch whose base64 text contains '+', so the tests
// see the form decoding turn it into a space.
func plusPayload(t *testing.T, n int) string {
	t.Helper()
	for pad := 0; pad < 200; pad++ {
		body := `{"api_key":"` + muxKey + `","pad":"` + strings.Repeat("~", pad) + `","batch":[` + messageEvent(uuidN(n)) + `]}`
		if strings.Contains(b64(body), "+") {
			return body
		}
	}
	t.Fatal("found no payload whose base64 contains '+'")
	return ""
}

func TestFormDataBase64(t *testing.T) {
	e := newEnv(t)
	payload := plusPayload(t, 1)

	// posthog-js's beacon fallback: data urlencoded, compression=base64 in
	// the query.
	form := "data=" + url.QueryEscape(b64(payload))
	res := mustOK(t, e.do(http.MethodPost, "/e/?compression=base64", []byte(form),
		"Content-Type", "application/x-www-form-urlencoded"))
	if res.Accepted != 1 {
		t.Errorf("escaped form: accepted = %d, want 1", res.Accepted)
	}

	// The same with the '+' left unescaped, which urldecoding turns into a
	// space, and the hint in a form field.
	payload = plusPayload(t, 2)
	form = "compression=base64&data=" + b64(payload)
	res = mustOK(t, e.do(http.MethodPost, "/batch/", []byte(form),
		"Content-Type", "application/x-www-form-urlencoded; charset=UTF-8"))
	if res.Accepted != 1 {
		t.Errorf("unescaped form: accepted = %d, want 1", res.Accepted)
	}
}

// A form's data field is base64 on every capture path, with or without a
// compression hint, and may contain gzip inside the base64.
func TestFormDataBase64OnEveryPath(t *testing.T) {
	e := newEnv(t)
	for i, path := range []string{"/batch/", "/e/", "/i/v0/e/", "/capture"} {
		payload := plusPayload(t, 3*i)
		form := "data=" + url.QueryEscape(b64(payload))
		res := mustOK(t, e.do(http.MethodPost, path, []byte(form),
			"Content-Type", "application/x-www-form-urlencoded"))
		if res.Accepted != 1 {
			t.Errorf("%s without hint: accepted = %d, want 1", path, res.Accepted)
		}

		zipped := base64.StdEncoding.EncodeToString(gzipBytes(t, batchBody(muxKey, messageEvent(uuidN(3*i+1)))))
		form = "compression=gzip-js&data=" + url.QueryEscape(zipped)
		res = mustOK(t, e.do(http.MethodPost, path, []byte(form),
			"Content-Type", "application/x-www-form-urlencoded"))
		if res.Accepted != 1 {
			t.Errorf("%s with gzip in the base64: accepted = %d, want 1", path, res.Accepted)
		}

		form = "data=" + url.QueryEscape(zipped)
		res = mustOK(t, e.do(http.MethodPost, path, []byte(form),
			"Content-Type", "application/x-www-form-urlencoded"))
		if res.Accepted != 1 {
			t.Errorf("%s with gzip found by its magic bytes: accepted = %d, want 1", path, res.Accepted)
		}
	}
}

// A form without a data field gets 400, as in PostHog, with a message that
// names both ways to send the payload. curl -d sends a JSON body as a form
// unless -H "Content-Type: application/json" is given.
func TestFormWithoutDataField(t *testing.T) {
	e := newEnv(t)
	const fix = "send JSON with Content-Type: application/json, or a form with data=<base64 JSON>"
	r := e.do(http.MethodPost, "/e/", []byte("ver=1.2&compression=base64"),
		"Content-Type", "application/x-www-form-urlencoded")
	res := mustFail(t, r, http.StatusBadRequest, "request_decoding_error")
	if !strings.Contains(res.Error, fix) {
		t.Errorf("form without data: error = %q, want it to contain %q", res.Error, fix)
	}

	r = e.do(http.MethodPost, "/e/", []byte(batchBody(muxKey, messageEvent(uuidN(1)))),
		"Content-Type", "application/x-www-form-urlencoded")
	res = mustFail(t, r, http.StatusBadRequest, "request_decoding_error")
	if !strings.Contains(res.Error, fix) {
		t.Errorf("JSON body sent as a form: error = %q, want it to contain %q", res.Error, fix)
	}
}

// curl -d "data=..." with -H "Content-Type: text/plain", or a client that
// sets no Content-Type, sends a form that is not read as one.
func TestFormWithoutFormContentType(t *testing.T) {
	e := newEnv(t)
	form := "data=" + base64.StdEncoding.EncodeToString([]byte(batchBody(muxKey, messageEvent(uuidN(1)))))
	for _, contentType := range []string{"text/plain", "application/json"} {
		t.Run(contentType, func(t *testing.T) {
			r := e.do(http.MethodPost, "/e/", []byte(form), "Content-Type", contentType)
			res := mustFail(t, r, http.StatusBadRequest, "request_parsing_error")
			if want := `payload "data=`; !strings.Contains(res.Error, want) {
				t.Errorf("error = %q, want it to contain %q", res.Error, want)
			}
			if want := "send it with Content-Type: application/x-www-form-urlencoded"; !strings.Contains(res.Error, want) {
				t.Errorf("error = %q, want it to contain %q", res.Error, want)
			}
		})
	}
}

// A compression that the collector does not decode, such as zstd, gets a
// message that names it rather than only invalid UTF-8.
func TestUnsupportedContentEncodingNamed(t *testing.T) {
	e := newEnv(t)
	// The zstd frame magic number followed by bytes that are not UTF-8.
	body := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x05, 0xff, 0xfe, 0x80}
	r := e.do(http.MethodPost, "/batch/", body, "Content-Type", "application/json", "Content-Encoding", "zstd")
	res := mustFail(t, r, http.StatusBadRequest, "request_decoding_error")
	if want := `Content-Encoding "zstd" is not supported: send gzip, or no Content-Encoding`; !strings.Contains(res.Error, want) {
		t.Errorf("error = %q, want it to contain %q", res.Error, want)
	}
}

func TestScalarBodyNamesWhatToSend(t *testing.T) {
	e := newEnv(t)
	// null, true and 1234 are base64 text too, so they must not be
	// reported as base64 that decodes to binary.
	for _, body := range []string{"null", "true", "false", "1234", "42"} {
		t.Run(body, func(t *testing.T) {
			res := mustFail(t, e.postJSON("/e/", body), http.StatusBadRequest, "request_parsing_error")
			if want := `payload "` + body + `" is neither a JSON array nor an object`; !strings.Contains(res.Error, want) {
				t.Errorf("error = %q, want it to contain %q", res.Error, want)
			}
			if !strings.Contains(res.Error, "send an event object, a batch object or an array of events") {
				t.Errorf("error = %q, want it to say what to send", res.Error)
			}
		})
	}
}

func TestBase64OfBinaryBodyNamesWhatToSend(t *testing.T) {
	e := newEnv(t)
	res := mustFail(t, e.postJSON("/e/", "abcd"), http.StatusBadRequest, "request_decoding_error")
	if want := `payload "abcd" is neither JSON nor base64-encoded JSON`; !strings.Contains(res.Error, want) {
		t.Errorf("error = %q, want it to contain %q", res.Error, want)
	}
	if !strings.Contains(res.Error, "send a JSON object or array of events") {
		t.Errorf("error = %q, want it to say what to send", res.Error)
	}
}

func TestLegacyPathsDecodeBase64Twice(t *testing.T) {
	e := newEnv(t)
	body := b64(b64(batchBody(muxKey, messageEvent(uuidN(1)))))
	res := mustOK(t, e.do(http.MethodPost, "/capture/", []byte(body)))
	if res.Accepted != 1 {
		t.Errorf("accepted = %d, want 1", res.Accepted)
	}

	// /batch is not a legacy path, so the second layer stays and is not JSON.
	body = b64(b64(batchBody(muxKey, messageEvent(uuidN(2)))))
	mustFail(t, e.do(http.MethodPost, "/batch/", []byte(body)), http.StatusBadRequest, "request_parsing_error")
}

// lz64Event is an array with one app_started event, compressed by the test
// compressor, which reproduces the published outputs of lz-string.
const lz64Event = "NobwRApgbhB2AuYBcYCGAHdB9AzvVATvBACZgA0YJAlntbAMbxbVkokCMFYArj68jAAGEaJEBaMeIAso8QA45Y5UIDsq7ugIB7dBCLUIOZOHjaA1nEHoAFgyzE8WALY8AHlgDuBasSyWATzAAX2CAXSA"

func TestLZ64Payloads(t *testing.T) {
	e := newEnv(t)

	// A fixed payload in older posthog-js's shape: a form with data and
	// compression=lz64.
	form := "data=" + url.QueryEscape(lz64Event) + "&compression=lz64"
	res := mustOK(t, e.do(http.MethodPost, "/e/?ver=1.20.0", []byte(form), "Content-Type", "application/x-www-form-urlencoded"))
	if res.Accepted != 1 {
		t.Errorf("fixed payload: accepted = %d, want 1", res.Accepted)
	}
	stored := e.store.stored()
	if len(stored) != 1 || stored[0].UUID != "00000000-0000-4000-8000-000000000077" {
		t.Fatalf("stored %+v, want the event with uuid ...077", stored)
	}

	// A larger batch compressed here, with the '+' of the text left
	// unescaped in the form and with the hint spelled lz-string.
	var events []string
	for i := range 50 {
		events = append(events, messageEvent(uuidN(100+i)))
	}
	compressed := collector.CompressLZBase64(batchBody(muxKey, events...) + ` `)
	form = "compression=lz-string&data=" + compressed
	res = mustOK(t, e.do(http.MethodPost, "/e/", []byte(form), "Content-Type", "application/x-www-form-urlencoded"))
	if res.Accepted != 50 {
		t.Errorf("round trip: accepted = %d, want 50", res.Accepted)
	}

	// The raw lz64 text as the body: the optimistic base64 step must not
	// spoil it.
	compressed = collector.CompressLZBase64(batchBody(muxKey, messageEvent(uuidN(200))))
	res = mustOK(t, e.do(http.MethodPost, "/batch/?compression=lz64", []byte(compressed), "Content-Type", "text/plain"))
	if res.Accepted != 1 {
		t.Errorf("raw body: accepted = %d, want 1", res.Accepted)
	}
}

func TestLZ64Invalid(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodPost, "/e/?compression=lz64", []byte("not*lz*string"), "Content-Type", "text/plain")
	mustFail(t, r, http.StatusBadRequest, "request_decoding_error")
}
