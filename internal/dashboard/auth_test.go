package dashboard_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/dashboard"
)

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  dashboard.Config
		want string
	}{
		{"missing store", dashboard.Config{AdminToken: adminToken}, "missing Config.Store"},
		{"missing token", dashboard.Config{Store: openStore(t)}, "missing Config.AdminToken"},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			_, err := dashboard.New(test.cfg)
			if err == nil || !strings.Contains(err.Error(), test.want) {
				t.Errorf("New error = %v, want one containing %q", err, test.want)
			}
		})
	}
}

func TestAPIRejectsMissingToken(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: storeWith(t, fixtureEvents())})

	credentials := []struct {
		name   string
		header string
	}{
		{"no header", ""},
		{"wrong token", "Bearer wrong-token"},
		{"token with extra suffix", "Bearer " + adminToken + "x"},
		{"token prefix", "Bearer " + adminToken[:len(adminToken)-1]},
		{"empty bearer", "Bearer "},
		{"basic scheme", "Basic " + adminToken},
		{"token without scheme", adminToken},
	}
	paths := []string{"/api/v1/overview?from=bad", "/api/v1/trends?format=csv", "/api/v1/unknown"}
	for _, route := range dashboard.APIRoutes() {
		paths = append(paths, route.Path)
	}
	for _, credential := range credentials {
		for _, path := range paths {
			t.Run(credential.name+path, func(t *testing.T) {
				var options []requestOption
				if credential.header != "" {
					options = append(options, withHeader("Authorization", credential.header))
				}
				response, body := send(t, server, http.MethodGet, path, options...)

				if response.StatusCode != http.StatusUnauthorized {
					t.Errorf("status = %d, want 401", response.StatusCode)
				}
				if got := response.Header.Get("WWW-Authenticate"); got != `Bearer realm="candor"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				var got map[string]any
				if err := json.Unmarshal([]byte(body), &got); err != nil {
					t.Fatalf("decode body %q: %v", body, err)
				}
				if len(got) != 1 || got["error"] == nil {
					t.Errorf("body = %s, want only an error", body)
				}
			})
		}
	}
}

func TestAPIAcceptsBearerSchemeInAnyCase(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})

	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		response, _ := send(t, server, http.MethodGet, "/api/v1/overview",
			withHeader("Authorization", scheme+" "+adminToken))
		if response.StatusCode != http.StatusOK {
			t.Errorf("scheme %q: status = %d, want 200", scheme, response.StatusCode)
		}
	}
}

func TestLoginForm(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})

	response, body := send(t, server, http.MethodGet, "/")
	if response.StatusCode != http.StatusOK {
		t.Errorf("GET / status = %d, want 200", response.StatusCode)
	}
	for _, want := range []string{`action="/login"`, `method="post"`, `type="password"`, `<label for="token">`} {
		if !strings.Contains(body, want) {
			t.Errorf("login page does not contain %s", want)
		}
	}
	if strings.Contains(body, "trends-chart") {
		t.Error("login page contains the dashboard")
	}
}

func TestLoginRejectsWrongToken(t *testing.T) {
	logger, logs := logBuffer()
	server := startServer(t, dashboard.Config{Store: openStore(t), Logger: logger})

	response, body := send(t, server, http.MethodPost, "/login", withForm(url.Values{"token": {"wrong"}}))
	if response.StatusCode != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", response.StatusCode)
	}
	if !strings.Contains(body, "invalid token") {
		t.Error("page does not say invalid token")
	}
	if !strings.Contains(body, `action="/login"`) {
		t.Error("page does not show the login form again")
	}
	if cookie := sessionCookie(response); cookie != nil {
		t.Errorf("wrong token set cookie %v", cookie)
	}
	if !strings.Contains(logs.String(), "authentication failed") {
		t.Errorf("log %q does not record the failed login", logs.String())
	}
	if strings.Contains(logs.String(), "wrong") {
		t.Errorf("log %q contains the submitted token", logs.String())
	}
}

func TestLoginSessionAndLogout(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})

	response, _ := send(t, server, http.MethodPost, "/login", withForm(url.Values{"token": {adminToken}}))
	if response.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /login status = %d, want 303", response.StatusCode)
	}
	if got := response.Header.Get("Location"); got != "/" {
		t.Errorf("POST /login Location = %q, want /", got)
	}
	cookie := sessionCookie(response)
	if cookie == nil {
		t.Fatal("POST /login set no session cookie")
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Errorf("cookie = %+v, want HttpOnly, SameSite=Strict and Path=/", cookie)
	}
	if cookie.MaxAge != int(dashboard.SessionLifetime/time.Second) {
		t.Errorf("cookie MaxAge = %d, want %v", cookie.MaxAge, dashboard.SessionLifetime)
	}
	if strings.Contains(cookie.Value, adminToken) || len(cookie.Value) < 32 {
		t.Errorf("cookie value %q is the token or too short to be a random ID", cookie.Value)
	}

	response, body := send(t, server, http.MethodGet, "/", withCookie(cookie))
	if response.StatusCode != http.StatusOK || !strings.Contains(body, `id="trends-chart"`) {
		t.Errorf("GET / with the cookie: status %d, want 200 and the dashboard", response.StatusCode)
	}
	response, _ = send(t, server, http.MethodGet, "/api/v1/overview", withCookie(cookie))
	if response.StatusCode != http.StatusOK {
		t.Errorf("GET overview with the cookie: status %d, want 200", response.StatusCode)
	}

	response, _ = send(t, server, http.MethodPost, "/logout", withCookie(cookie))
	if response.StatusCode != http.StatusSeeOther {
		t.Errorf("POST /logout status = %d, want 303", response.StatusCode)
	}
	if cleared := sessionCookie(response); cleared == nil || cleared.MaxAge >= 0 || cleared.Value != "" {
		t.Errorf("POST /logout cookie = %+v, want an expired empty cookie", cleared)
	}

	// A copy of the cookie kept after logout must not work either.
	response, _ = send(t, server, http.MethodGet, "/api/v1/overview", withCookie(cookie))
	if response.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET overview with the cookie after logout: status %d, want 401", response.StatusCode)
	}
	response, body = send(t, server, http.MethodGet, "/", withCookie(cookie))
	if !strings.Contains(body, `action="/login"`) {
		t.Errorf("GET / after logout: status %d, want the login form", response.StatusCode)
	}
}

// The session cookie is Secure when the request came over HTTPS, either
// directly or, per X-Forwarded-Proto or Forwarded, through a proxy that
// terminates TLS.
func TestSessionCookieSecure(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})
	tests := []struct {
		name   string
		header string
		value  string
		secure bool
	}{
		{"plain HTTP", "", "", false},
		{"X-Forwarded-Proto https", "X-Forwarded-Proto", "https", true},
		{"X-Forwarded-Proto in upper case", "X-Forwarded-Proto", "HTTPS", true},
		{"X-Forwarded-Proto of two proxies", "X-Forwarded-Proto", "https, http", true},
		{"X-Forwarded-Proto http", "X-Forwarded-Proto", "http", false},
		{"Forwarded proto=https", "Forwarded", "for=192.0.2.60;proto=https;by=203.0.113.43", true},
		{"Forwarded quoted proto", "Forwarded", `for="[2001:db8::1]";Proto="https"`, true},
		{"Forwarded proto=http", "Forwarded", "for=192.0.2.60;proto=http", false},
		{"Forwarded without proto", "Forwarded", "for=192.0.2.60", false},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			options := []requestOption{withForm(url.Values{"token": {adminToken}})}
			if test.header != "" {
				options = append(options, withHeader(test.header, test.value))
			}
			response, _ := send(t, server, http.MethodPost, "/login", options...)
			cookie := sessionCookie(response)
			if cookie == nil {
				t.Fatalf("POST /login = %d with no session cookie", response.StatusCode)
			}
			if cookie.Secure != test.secure {
				t.Errorf("login cookie Secure = %v, want %v", cookie.Secure, test.secure)
			}

			options = []requestOption{withCookie(cookie)}
			if test.header != "" {
				options = append(options, withHeader(test.header, test.value))
			}
			response, _ = send(t, server, http.MethodPost, "/logout", options...)
			if cleared := sessionCookie(response); cleared == nil || cleared.Secure != test.secure {
				t.Errorf("logout cookie = %+v, want one with Secure %v", cleared, test.secure)
			}
		})
	}
}

func TestSessionCookieSecureOverTLS(t *testing.T) {
	handler, err := dashboard.New(dashboard.Config{Store: openStore(t), AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewTLSServer(handler)
	defer server.Close()

	response, _ := send(t, server, http.MethodPost, "/login", withForm(url.Values{"token": {adminToken}}))
	if cookie := sessionCookie(response); cookie == nil || !cookie.Secure {
		t.Errorf("login cookie over TLS = %+v, want a Secure cookie", cookie)
	}
}

func TestLoginReturnsToSharedView(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})

	tests := []struct {
		returnQuery string
		want        string
	}{
		{"from=2024-05-01&to=2024-05-03", "/?from=2024-05-01&to=2024-05-03"},
		{"version=1.0.0&token=leak&next=https://example.com", "/?version=1.0.0"},
		{"", "/"},
		{"%zz", "/"},
	}
	for _, test := range tests {
		form := url.Values{"token": {adminToken}, "return": {test.returnQuery}}
		response, _ := send(t, server, http.MethodPost, "/login", withForm(form))
		if got := response.Header.Get("Location"); got != test.want {
			t.Errorf("return %q: Location = %q, want %q", test.returnQuery, got, test.want)
		}
	}

	_, body := send(t, server, http.MethodGet, "/?from=2024-05-01&to=2024-05-03")
	if !strings.Contains(body, `name="return" value="from=2024-05-01&amp;to=2024-05-03"`) {
		t.Error("login form at a shared view does not carry its query")
	}
}

func TestTokenLink(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})

	response, _ := send(t, server, http.MethodGet, "/?token="+url.QueryEscape(adminToken)+"&from=2024-05-01")
	if response.StatusCode != http.StatusSeeOther {
		t.Fatalf("status = %d, want 303", response.StatusCode)
	}
	if got := response.Header.Get("Location"); got != "/?from=2024-05-01" {
		t.Errorf("Location = %q, want /?from=2024-05-01 without the token", got)
	}
	cookie := sessionCookie(response)
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie = %+v, want an HttpOnly SameSite=Strict session cookie", cookie)
	}
	response, _ = send(t, server, http.MethodGet, "/api/v1/overview", withCookie(cookie))
	if response.StatusCode != http.StatusOK {
		t.Errorf("GET overview with the link's cookie: status %d, want 200", response.StatusCode)
	}

	response, body := send(t, server, http.MethodGet, "/?token=wrong")
	if response.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token link: status = %d, want 401", response.StatusCode)
	}
	if !strings.Contains(body, "invalid token") || !strings.Contains(body, `action="/login"`) {
		t.Error("wrong token link does not show the login form with invalid token")
	}
	if strings.Contains(body, "wrong") {
		t.Error("wrong token link echoes the token into the page")
	}
	if cookie := sessionCookie(response); cookie != nil {
		t.Errorf("wrong token link set cookie %v", cookie)
	}
}

func TestSessionExpires(t *testing.T) {
	clock := &fakeClock{now: time.Date(2024, time.May, 6, 12, 0, 0, 0, time.UTC)}
	server := startServer(t, dashboard.Config{Store: openStore(t), Now: clock.Now})
	cookie := login(t, server)

	clock.Add(dashboard.SessionLifetime - time.Second)
	response, _ := send(t, server, http.MethodGet, "/api/v1/overview", withCookie(cookie))
	if response.StatusCode != http.StatusOK {
		t.Errorf("status just before expiry = %d, want 200", response.StatusCode)
	}

	clock.Add(time.Second)
	response, _ = send(t, server, http.MethodGet, "/api/v1/overview", withCookie(cookie))
	if response.StatusCode != http.StatusUnauthorized {
		t.Errorf("status at expiry = %d, want 401", response.StatusCode)
	}
}

func TestSessionsAreBounded(t *testing.T) {
	clock := &fakeClock{now: time.Date(2024, time.May, 6, 12, 0, 0, 0, time.UTC)}
	server := startServer(t, dashboard.Config{Store: openStore(t), Now: clock.Now})

	first := login(t, server)
	for range 1000 {
		clock.Add(time.Millisecond)
		login(t, server)
	}

	response, _ := send(t, server, http.MethodGet, "/api/v1/overview", withCookie(first))
	if response.StatusCode != http.StatusUnauthorized {
		t.Errorf("oldest of 1001 sessions: status = %d, want 401", response.StatusCode)
	}
}

func TestCrossOriginFormPostRejected(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})

	for _, path := range []string{"/login", "/logout"} {
		response, _ := send(t, server, http.MethodPost, path,
			withForm(url.Values{"token": {adminToken}}),
			withHeader("Sec-Fetch-Site", "cross-site"))
		if response.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s: status = %d, want 403", path, response.StatusCode)
		}
		if cookie := sessionCookie(response); cookie != nil {
			t.Errorf("cross-site POST %s set cookie %v", path, cookie)
		}
	}
}

func TestFailedAuthLogIsRateLimited(t *testing.T) {
	logger, logs := logBuffer()
	clock := &fakeClock{now: time.Date(2024, time.May, 6, 12, 0, 0, 0, time.UTC)}
	server := startServer(t, dashboard.Config{Store: openStore(t), Logger: logger, Now: clock.Now})

	for range 5 {
		send(t, server, http.MethodGet, "/api/v1/overview")
	}
	clock.Add(time.Minute)
	send(t, server, http.MethodGet, "/api/v1/overview")

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("logged %d lines for 6 failures, want 2:\n%s", len(lines), logs.String())
	}
	if strings.Contains(lines[0], "suppressed=") {
		t.Errorf("first line has a suppressed count, but no line was held back before it:\n%s", lines[0])
	}
	if !strings.Contains(lines[1], "suppressed=4") {
		t.Errorf("second line does not count the 4 suppressed lines:\n%s", lines[1])
	}
}

// adminTokenHint is the part of the login error that names where the
// admin token is kept.
const adminTokenHint = "enter the admin token of this collector: the --admin-token of candor serve, or admin_token in keys.json in its data folder"

func TestWrongTokenMessageNamesFix(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})
	writeKey := "phc_0123456789abcdef0123456789abcdef"
	tests := []struct {
		name  string
		token string
		want  string
	}{
		{"wrong token", "wrong-token-value", "invalid token: " + adminTokenHint},
		{"write key", writeKey, "invalid token: a write key only sends events, so " + adminTokenHint},
	}
	for _, test := range tests {
		pages := map[string]string{}
		_, pages["link"] = send(t, server, http.MethodGet, "/?"+url.Values{"token": {test.token}}.Encode())
		_, pages["form"] = send(t, server, http.MethodPost, "/login", withForm(url.Values{"token": {test.token}}))
		for route, body := range pages {
			if !strings.Contains(body, html.EscapeString(test.want)) {
				t.Errorf("%s in the %s: page does not contain %q", test.name, route, test.want)
			}
			if strings.Contains(body, test.token) {
				t.Errorf("%s in the %s: page echoes the token", test.name, route)
			}
		}
	}
}
