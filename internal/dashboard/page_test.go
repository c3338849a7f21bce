package dashboard_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/dashboard"
)

func TestSecurityHeaders(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})
	cookie := login(t, server)

	tests := []struct {
		name         string
		method, path string
		options      []requestOption
		status       int
		cacheControl string
	}{
		{"API", "GET", "/api/v1/overview", []requestOption{withBearer(adminToken)}, 200, "no-store"},
		{"API without token", "GET", "/api/v1/overview", nil, 401, "no-store"},
		{"API with bad date", "GET", "/api/v1/overview?from=x", []requestOption{withBearer(adminToken)}, 400, "no-store"},
		{"API unknown path", "GET", "/api/v2/x", []requestOption{withBearer(adminToken)}, 404, "no-store"},
		{"login page", "GET", "/", nil, 200, "no-store"},
		{"dashboard", "GET", "/", []requestOption{withCookie(cookie)}, 200, "no-store"},
		{"login", "POST", "/login", []requestOption{withForm(url.Values{"token": {adminToken}})}, 303, "no-store"},
		{"wrong login", "POST", "/login", []requestOption{withForm(url.Values{"token": {"x"}})}, 401, "no-store"},
		{"asset", "GET", "/assets/dashboard.js", nil, 200, "no-cache"},
		{"missing asset", "GET", "/assets/nope.js", nil, 404, "no-store"},
		{"unknown page", "GET", "/nope", nil, 404, "no-store"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			response, _ := send(t, server, test.method, test.path, test.options...)
			if response.StatusCode != test.status {
				t.Errorf("status = %d, want %d", response.StatusCode, test.status)
			}
			want := map[string]string{
				"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; " +
					"img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
				"X-Content-Type-Options": "nosniff",
				"Referrer-Policy":        "no-referrer",
				"X-Frame-Options":        "DENY",
				"Cache-Control":          test.cacheControl,
			}
			for name, value := range want {
				if got := response.Header.Get(name); got != value {
					t.Errorf("%s = %q, want %q", name, got, value)
				}
			}
		})
	}
}

func TestAssetsServedWithoutAuth(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})

	tests := []struct {
		path        string
		contentType string
		contains    string
	}{
		{"/assets/vendor/chart.umd.min.js", "text/javascript; charset=utf-8", "Chart.js v4.6.1"},
		{"/assets/vendor/chart.js-LICENSE.md", "", "MIT License"},
		{"/assets/dashboard.js", "text/javascript; charset=utf-8", "use strict"},
		{"/assets/dashboard.css", "text/css; charset=utf-8", "prefers-color-scheme: dark"},
		{"/assets/favicon.svg", "image/svg+xml", "<svg"},
	}
	for _, test := range tests {
		response, body := send(t, server, http.MethodGet, test.path)
		if response.StatusCode != http.StatusOK {
			t.Errorf("GET %s status = %d, want 200", test.path, response.StatusCode)
			continue
		}
		if test.contentType != "" && response.Header.Get("Content-Type") != test.contentType {
			t.Errorf("GET %s Content-Type = %q, want %q", test.path, response.Header.Get("Content-Type"), test.contentType)
		}
		if !strings.Contains(body, test.contains) {
			t.Errorf("GET %s body does not contain %q", test.path, test.contains)
		}
	}
}

func TestAssetsRevalidateWithETag(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})

	response, _ := send(t, server, http.MethodGet, "/assets/dashboard.css")
	etag := response.Header.Get("ETag")
	if etag == "" {
		t.Fatal("asset has no ETag")
	}
	response, body := send(t, server, http.MethodGet, "/assets/dashboard.css", withHeader("If-None-Match", etag))
	if response.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("GET with If-None-Match: status %d with %d bytes, want 304 and no body",
			response.StatusCode, len(body))
	}
}

func TestAssetDirectoriesNotListed(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})

	for _, path := range []string{"/assets/", "/assets/vendor/", "/assets/vendor", "/assets/../templates/login.html"} {
		response, body := send(t, server, http.MethodGet, path)
		if response.StatusCode == http.StatusOK {
			t.Errorf("GET %s status = 200, want no listing; body: %.80s", path, body)
		}
	}
}

func TestDashboardDefaultRange(t *testing.T) {
	clock := &fakeClock{now: time.Date(2024, time.May, 6, 15, 30, 0, 0, time.UTC)}
	server := startServer(t, dashboard.Config{Store: openStore(t), Project: "mux", Now: clock.Now})
	cookie := login(t, server)

	response, body := send(t, server, http.MethodGet, "/", withCookie(cookie))
	if response.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", response.StatusCode)
	}
	for _, want := range []string{
		`id="from" name="from" value="2024-04-07"`,
		`id="to" name="to" value="2024-05-06"`,
		`data-query="from=2024-04-07&amp;project=mux&amp;to=2024-05-06"`,
		`href="/?from=2024-04-07&amp;to=2024-05-06" aria-current="page">Last 30 days`,
		`href="/?from=2024-04-30&amp;to=2024-05-06">Last 7 days`,
		`Project <strong>mux</strong>`,
		`<label for="version">`,
		`<label for="platform">`,
		`<script src="/assets/vendor/chart.umd.min.js" defer>`,
		`<script src="/assets/dashboard.js" defer>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard does not contain %s", want)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "style=") {
		t.Error("dashboard has an inline script or style, which the CSP blocks")
	}
}

func TestDashboardKeepsViewInURL(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t), Projects: fixtureProjects()})
	cookie := login(t, server)

	_, body := send(t, server, http.MethodGet,
		"/?from=2024-05-01&to=2024-05-03&version=1.0.0&version=1.1.0&project=other", withCookie(cookie))
	for _, want := range []string{
		`id="from" name="from" value="2024-05-01"`,
		`id="to" name="to" value="2024-05-03"`,
		`id="version" name="version" value="1.0.0, 1.1.0"`,
		`<input type="hidden" name="project" value="other">`,
		`Project <strong>other</strong>`,
		`data-query="from=2024-05-01&amp;project=other&amp;to=2024-05-03&amp;version=1.0.0&amp;version=1.1.0"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("dashboard does not contain %s", want)
		}
	}
}

func TestDashboardShowsInvalidDate(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})
	cookie := login(t, server)

	response, body := send(t, server, http.MethodGet, "/?from=2024-13-01&to=2024-05-03", withCookie(cookie))
	if response.StatusCode != http.StatusBadRequest {
		t.Errorf("status = %d, want 400", response.StatusCode)
	}
	if !strings.Contains(body, `role="alert">invalid from &#34;2024-13-01&#34;`) {
		t.Error("page does not show the invalid date")
	}
	if strings.Contains(body, `data-query="from`) || strings.Contains(body, "trends-chart") {
		t.Error("page with an invalid date still loads data")
	}
}

func TestDashboardRejectsUnknownProject(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})
	cookie := login(t, server)

	response, body := send(t, server, http.MethodGet, "/?from=2024-05-01&project=shop", withCookie(cookie))
	if response.StatusCode != http.StatusNotFound {
		t.Errorf("status = %d, want 404", response.StatusCode)
	}
	if !strings.Contains(body, `role="alert">unknown project &#34;shop&#34;: use one of the configured projects &#34;mux&#34;`) {
		t.Error("page does not show the unknown project and the configured one")
	}
	if strings.Contains(body, `data-query="from`) || strings.Contains(body, "trends-chart") {
		t.Error("page with an unknown project still loads data")
	}
	for _, link := range []string{`<a href="/?from=2024-05-01&amp;project=mux">mux</a>`, `<a href="/?from=2024-05-01&amp;project=">all projects</a>`} {
		if !strings.Contains(body, link) {
			t.Errorf("page lacks the link %s", link)
		}
	}
}

func TestUnknownPageNotFound(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})
	cookie := login(t, server)

	response, _ := send(t, server, http.MethodGet, "/admin", withCookie(cookie))
	if response.StatusCode != http.StatusNotFound {
		t.Errorf("GET /admin status = %d, want 404", response.StatusCode)
	}
}

func TestDashboardHeadingsStartAtH1(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})
	cookie := login(t, server)
	_, body := send(t, server, http.MethodGet, "/", withCookie(cookie))

	h1 := strings.Index(body, "<h1")
	h2 := strings.Index(body, "<h2")
	if h1 < 0 {
		t.Fatal("dashboard page has no <h1>")
	}
	if h2 >= 0 && h2 < h1 {
		t.Errorf("dashboard page has an <h2> at byte %d before its <h1> at byte %d", h2, h1)
	}
	if n := strings.Count(body, "<h1"); n != 1 {
		t.Errorf("dashboard page has %d <h1> elements, want 1", n)
	}
}

func TestDashboardRejectsInvalidPanelSetting(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})
	cookie := login(t, server)

	tests := []struct {
		query string
		want  string
	}{
		{"interval=year", `invalid interval "year": use day, week or month`},
		{"measure=sessions", `invalid measure "sessions": use events or installs`},
		{"funnel_window=2y", `invalid funnel_window "2y": use 1h, 1d, 7d or 30d`},
		{"weeks=abc", `invalid weeks "abc": use a whole number from 0 to 52`},
		{"weeks=53", `invalid weeks "53": use a whole number from 0 to 52`},
		{"hist_event=app_started", `invalid hist_event "app_started": use `},
		{"hist_event=message_sent&hist_property=model", `invalid hist_property "model": use message_length_b2`},
	}
	for _, test := range tests {
		response, body := send(t, server, http.MethodGet, "/?"+test.query, withCookie(cookie))
		if response.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status = %d, want 400", test.query, response.StatusCode)
		}
		if !strings.Contains(body, `role="alert">`+html.EscapeString(test.want)) {
			t.Errorf("%s: page does not show %q", test.query, test.want)
		}
		if strings.Contains(body, "trends-chart") {
			t.Errorf("%s: page with an invalid setting still loads data", test.query)
		}
	}

	// Settings that the selects offer load the page.
	response, _ := send(t, server, http.MethodGet,
		"/?interval=week&measure=installs&funnel_window=7d&weeks=0&hist_event=message_sent&hist_property=message_length_b2", withCookie(cookie))
	if response.StatusCode != http.StatusOK {
		t.Errorf("valid panel settings: status = %d, want 200", response.StatusCode)
	}
}

func TestUnknownProjectPageLeadsAway(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})
	cookie := login(t, server)

	_, body := send(t, server, http.MethodGet, "/?from=2024-05-01&project=shop", withCookie(cookie))
	// The quick ranges and the filter form must not lead back to the
	// unknown project.
	if strings.Contains(body, "project=shop") {
		t.Error("page links to the unknown project again")
	}
	if strings.Contains(body, `name="project" value="shop"`) {
		t.Error("filter form submits the unknown project again")
	}
}
