package collector_test

import (
	"github.com/candor-dev/candor/internal/collector"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRoutesList(t *testing.T) {
	e := newEnv(t)
	want := []string{
		"/batch", "/batch/", "/i/v0/e", "/i/v0/e/", "/e", "/e/",
		"/capture", "/capture/", "/track", "/track/", "/engage", "/engage/",
	}
	if diff := cmp.Diff(want, e.collector.Routes()); diff != "" {
		t.Errorf("Routes() mismatch (-want +got):\n%s", diff)
	}
}

func TestEveryPathAcceptsPostAndGet(t *testing.T) {
	e := newEnv(t)
	paths := append(e.collector.Routes(), "//batch/", "//e//", "/i//v0/e/")
	for i, path := range paths {
		t.Run("POST "+path, func(t *testing.T) {
			body := `{"api_key":"` + muxKey + `","event":"app_started","distinct_id":"d","uuid":"` + uuidN(2*i) + `"}`
			res := mustOK(t, e.postJSON(path, body))
			if res.Accepted != 1 {
				t.Errorf("accepted = %d, want 1", res.Accepted)
			}
		})
		t.Run("GET "+path, func(t *testing.T) {
			data := `{"api_key":"` + muxKey + `","event":"app_started","distinct_id":"d","uuid":"` + uuidN(2*i+1) + `"}`
			res := mustOK(t, e.do(http.MethodGet, path+"?data="+url.QueryEscape(data), nil))
			if res.Accepted != 1 {
				t.Errorf("accepted = %d, want 1", res.Accepted)
			}
		})
	}
	if got, want := len(e.store.stored()), 2*len(paths); got != want {
		t.Errorf("stored %d events, want %d", got, want)
	}
}

func TestHandlesCollapsedPaths(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/batch", "//batch/", "///i//v0//e//", "/engage/"} {
		if !e.collector.Handles(path) {
			t.Errorf("Handles(%q) = false, want true", path)
		}
	}
	for _, path := range []string{"/", "/api/overview", "/batchx", "/i/v0", "/s/", "/decide/"} {
		if e.collector.Handles(path) {
			t.Errorf("Handles(%q) = true, want false", path)
		}
	}
}

func TestOwnsPath(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/batch/", "//e//", "/batch/x", "/i/v0", "/i/v0/x/", "/capture/more", "/decide/", "/decide", "/flags/", "/s/"} {
		if !e.collector.OwnsPath(path) {
			t.Errorf("OwnsPath(%q) = false, want true", path)
		}
	}
	for _, path := range []string{"/", "/api/v1/overview", "/batchx", "/metrics", "/assets/app.js", "/login", "/healthz", "/decidex"} {
		if e.collector.OwnsPath(path) {
			t.Errorf("OwnsPath(%q) = true, want false", path)
		}
	}
}

func TestUnknownPathNotFound(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/decide/", "/batch/x"} {
		res := mustFail(t, e.postJSON(path, `{}`), http.StatusNotFound, "not_found")
		const want = "/batch/, /i/v0/e/, /e/, /capture/, /track/ or /engage/"
		if !strings.Contains(res.Error, path) || !strings.Contains(res.Error, want) {
			t.Errorf("POST %s: error = %q, want the path and %q in it", path, res.Error, want)
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodPut, "/batch/", []byte(batchBody(muxKey, messageEvent(uuidN(1)))))
	mustFail(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	if allow := r.header.Get("Allow"); allow != "GET, POST, OPTIONS" {
		t.Errorf("Allow = %q, want \"GET, POST, OPTIONS\"", allow)
	}
}

func TestPreflightMirrorsOriginAndHeaders(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodOptions, "/e/", nil,
		"Origin", "https://app.example.com",
		"Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type,x-custom")
	if r.status != http.StatusOK {
		t.Fatalf("status = %d, want 200", r.status)
	}
	want := map[string]string{
		"Access-Control-Allow-Origin":      "https://app.example.com",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Headers":     "content-type,x-custom",
		"Access-Control-Allow-Methods":     "GET, POST, OPTIONS",
	}
	for name, value := range want {
		if got := r.header.Get(name); got != value {
			t.Errorf("%s = %q, want %q", name, got, value)
		}
	}
	if !slices.Contains(r.header.Values("Vary"), "Origin") {
		t.Errorf("Vary = %q, want it to contain Origin", r.header.Values("Vary"))
	}
}

func TestCORSHeadersOnPost(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodPost, "/e/", []byte(batchBody(muxKey, messageEvent(uuidN(1)))),
		"Origin", "https://app.example.com", "Content-Type", "text/plain")
	mustOK(t, r)
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("Access-Control-Allow-Origin = %q, want the request's origin", got)
	}
	if got := r.header.Get("Access-Control-Allow-Credentials"); got != "true" {
		t.Errorf("Access-Control-Allow-Credentials = %q, want true", got)
	}
}

// TestCORSExposesRetryAfter checks that a page's script may read how long
// to wait after a 429 or 503, which browsers hide unless it is exposed.
func TestCORSExposesRetryAfter(t *testing.T) {
	e := newEnv(t, func(cfg *collector.Config) { cfg.RateLimit = 1; cfg.RateBurst = 1 })
	body := []byte(batchBody(muxKey, messageEvent(uuidN(1))))
	var limited *response
	for i := 0; i < 10 && limited == nil; i++ {
		r := e.do(http.MethodPost, "/e/", body, "Origin", "https://app.example.com", "Content-Type", "text/plain")
		if r.status == http.StatusTooManyRequests {
			limited = &r
		}
	}
	if limited == nil {
		t.Fatal("no 429 after 10 requests at a rate limit of 1 per second")
	}
	if limited.header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	if got := limited.header.Get("Access-Control-Expose-Headers"); got != "Retry-After" {
		t.Errorf("Access-Control-Expose-Headers = %q, want Retry-After", got)
	}
}

func TestBeaconAnswersNoContent(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodPost, "/e/?beacon=1", []byte(batchBody(muxKey, messageEvent(uuidN(1)))), "Content-Type", "text/plain")
	if r.status != http.StatusNoContent {
		t.Fatalf("status = %d, want 204; body %s", r.status, r.body)
	}
	if len(r.body) != 0 {
		t.Errorf("body = %q, want empty", r.body)
	}
	if got := len(e.store.stored()); got != 1 {
		t.Errorf("stored %d events, want 1", got)
	}
}
