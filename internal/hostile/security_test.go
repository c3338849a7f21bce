package hostile

import (
	"database/sql"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/candor-dev/candor/internal/server"
)

// routeSources are the files whose route patterns the tests read, so that
// a route added later is attacked without a change here.
var routeSources = []string{"../server", "../dashboard"}

// publicRoutes respond without the admin token by design: health checks,
// the static assets, the login page and its forms, and self-service
// deletion, which the install's own secret authorizes.
var publicRoutes = map[string]bool{
	"GET /healthz":             true,
	"GET /readyz":              true,
	"GET /assets/":             true,
	"GET /{$}":                 true,
	"POST /login":              true,
	"POST /logout":             true,
	"POST /api/v1/self/delete": true,
}

var (
	methodPattern = regexp.MustCompile(`"((?:GET|POST|PUT|PATCH|DELETE) /[^"]*)"`)
	apiPathField  = regexp.MustCompile(`path:\s*"(/api/[^"]*)"`)
)

// adminRoutes returns every "METHOD /path" pattern registered in the
// server and the dashboard that is not public, read from their source.
func adminRoutes(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, dir := range routeSources {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range methodPattern.FindAllStringSubmatch(string(src), -1) {
				seen[m[1]] = true
			}
			for _, m := range apiPathField.FindAllStringSubmatch(string(src), -1) {
				seen["GET "+m[1]] = true
			}
		}
	}
	var routes []string
	for r := range seen {
		if !publicRoutes[r] {
			routes = append(routes, r)
		}
	}
	slices.Sort(routes)
	if len(routes) < 10 {
		t.Fatalf("found only %d admin routes in %v: %v; the route patterns changed shape", len(routes), routeSources, routes)
	}
	return routes
}

// concretePath fills the wildcards of a route pattern.
func concretePath(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.ReplaceAll(path, "{distinct_id}", installID)
	path = strings.ReplaceAll(path, "{$}", "")
	if method == http.MethodDelete && strings.HasPrefix(path, "/api/v1/installs/") {
		path += "?project=mux"
	}
	return method, path
}

// TestEveryAdminRouteNeedsToken requests every admin route of the server
// with no token, a wrong token, the write key, the token in the query and
// the token in another scheme, and expects 401 each time. A DELETE that
// got through would show as a missing event.
func TestEveryAdminRouteNeedsToken(t *testing.T) {
	ts := startServer(t)
	if r := ts.postJSON("/batch/", batchBody(commandEvent(uuidFor(1, 0)))); r.status != http.StatusOK {
		t.Fatalf("seed event: status %d, body %s", r.status, r.body)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+adminToken))
	credentials := []struct {
		name    string
		query   string
		headers []string
	}{
		{name: "no token"},
		{name: "wrong token", headers: []string{"Authorization", "Bearer cadm_wrong_0000000000000000"}},
		{name: "write key", headers: []string{"Authorization", "Bearer " + writeKey}},
		{name: "token in the query", query: "token=" + url.QueryEscape(adminToken)},
		{name: "token as Basic credentials", headers: []string{"Authorization", basic}},
		{name: "bare token", headers: []string{"Authorization", adminToken}},
		{name: "token as a cookie", headers: []string{"Cookie", "candor_session=" + adminToken}},
	}

	routes := adminRoutes(t)
	// Unknown API paths and other methods on the API are admin routes too.
	routes = append(routes, "GET /api/v1/no-such-route", "POST /api/v1/overview", "DELETE /api/v1/overview", "PUT /api/v1/catalog")
	for _, route := range routes {
		for _, cred := range credentials {
			t.Run(route+"/"+cred.name, func(t *testing.T) {
				ts.t = t
				method, path := concretePath(route)
				if cred.query != "" {
					sep := "?"
					if strings.Contains(path, "?") {
						sep = "&"
					}
					path += sep + cred.query
				}
				r := ts.do(method, path, nil, cred.headers...)
				if r.status != http.StatusUnauthorized {
					t.Errorf("%s %s: status %d, want 401; body %.200s", method, path, r.status, r.body)
				}
				if strings.Contains(string(r.body), adminToken) || strings.Contains(string(r.body), writeKey) {
					t.Errorf("%s %s: the response body contains a key: %.200s", method, path, r.body)
				}
			})
		}
	}
	ts.t = t
	if n := ts.storedCount(); n != 1 {
		t.Errorf("the store holds %d events after the unauthorized requests, want the 1 seed event", n)
	}

	// The same routes open with the admin token, so the 401s above came
	// from the missing credentials and not from a broken route.
	for _, route := range adminRoutes(t) {
		method, path := concretePath(route)
		if method == http.MethodDelete {
			continue
		}
		r := ts.do(method, path, nil, "Authorization", "Bearer "+adminToken)
		if r.status == http.StatusUnauthorized {
			t.Errorf("%s %s with the admin token: status 401; body %.200s", method, path, r.body)
		}
	}
}

// TestDashboardPageNeedsLogin checks that the dashboard page, which is
// public so that it can show the login form, shows nothing else without a
// valid session or admin token. Its data comes from the API, which the
// test above covers.
func TestDashboardPageNeedsLogin(t *testing.T) {
	ts := startServer(t)
	for name, headers := range map[string][]string{
		"no credentials":    nil,
		"wrong token":       {"Authorization", "Bearer cadm_wrong_0000000000000000"},
		"write key":         {"Authorization", "Bearer " + writeKey},
		"forged session":    {"Cookie", "candor_session=" + adminToken},
		"token as a cookie": {"Cookie", "token=" + adminToken},
	} {
		r := ts.do(http.MethodGet, "/?from=2026-11-01&to=2026-11-30", nil, headers...)
		body := string(r.body)
		if r.status != http.StatusOK || !strings.Contains(body, `action="/login"`) {
			t.Errorf("%s: status %d without the login form, want the login page; body %.200s", name, r.status, body)
		}
		if strings.Contains(body, "dashboard.js") {
			t.Errorf("%s: the page loads the dashboard's script", name)
		}
	}

	login := ts.do(http.MethodPost, "/login", []byte("token="+adminToken), "Content-Type", "application/x-www-form-urlencoded")
	cookie, _, _ := strings.Cut(login.header.Get("Set-Cookie"), ";")
	if r := ts.do(http.MethodGet, "/", nil, "Cookie", cookie); !strings.Contains(string(r.body), "dashboard.js") {
		t.Errorf("after login: status %d without the dashboard's script, so the check above proves nothing", r.status)
	}
}

// TestWriteKeyCannotReadOrDelete checks every way a write key could be
// turned into access: as a Bearer token, in the login form and link, and
// in the operator's and the self-service deletion requests.
func TestWriteKeyCannotReadOrDelete(t *testing.T) {
	ts := startServer(t)
	if r := ts.postJSON("/batch/", batchBody(commandEvent(uuidFor(2, 0)))); r.status != http.StatusOK {
		t.Fatalf("seed event: status %d, body %s", r.status, r.body)
	}
	form := url.Values{"token": {writeKey}}.Encode()

	checks := []struct {
		name   string
		do     func() response
		status int
	}{
		{"overview", func() response {
			return ts.do(http.MethodGet, "/api/v1/overview", nil, "Authorization", "Bearer "+writeKey)
		}, http.StatusUnauthorized},
		{"raw event export", func() response {
			return ts.do(http.MethodGet, "/api/v1/export/events", nil, "Authorization", "Bearer "+writeKey)
		}, http.StatusUnauthorized},
		{"metrics", func() response {
			return ts.do(http.MethodGet, "/metrics", nil, "Authorization", "Bearer "+writeKey)
		}, http.StatusUnauthorized},
		{"operator deletion", func() response {
			return ts.do(http.MethodDelete, "/api/v1/installs/"+installID+"?project=mux", nil, "Authorization", "Bearer "+writeKey)
		}, http.StatusUnauthorized},
		{"login form", func() response {
			return ts.do(http.MethodPost, "/login", []byte(form), "Content-Type", "application/x-www-form-urlencoded")
		}, http.StatusUnauthorized},
		{"login link", func() response {
			return ts.do(http.MethodGet, "/?"+form, nil)
		}, http.StatusUnauthorized},
		{"self-service deletion without the secret", func() response {
			return ts.postJSON("/api/v1/self/delete", `{"api_key":"`+writeKey+`","distinct_id":"`+installID+`","secret":"not-the-secret"}`)
		}, http.StatusNotFound},
	}
	for _, c := range checks {
		r := c.do()
		if r.status != c.status {
			t.Errorf("%s with the write key: status %d, want %d; body %.200s", c.name, r.status, c.status, r.body)
		}
		if cookie := r.header.Get("Set-Cookie"); cookie != "" {
			t.Errorf("%s with the write key set a cookie: %s", c.name, cookie)
		}
	}
	if n := ts.storedCount(); n != 1 {
		t.Errorf("the store holds %d events, want the 1 seed event", n)
	}
}

// Secrets of TestTokensNeverLogged besides the server's keys.
const (
	wrongLogin  = "cadm_wrong_login_4c1d9e7f2a6b"
	wrongLink   = "cadm_wrong_link_8e3f1a5c7d9b"
	wrongBearer = "cadm_wrong_bearer_2b4d6f8a1c3e"
	wrongWrite  = "phc_wrong_write_9a7c5e3b1d2f"
	selfSecret  = "self-secret-5d7f9b1c3e4a6c8e"
)

// loginForm returns a login form body and its headers.
func loginForm(token string) ([]byte, []string) {
	return []byte(url.Values{"token": {token}}.Encode()), []string{"Content-Type", "application/x-www-form-urlencoded"}
}

// runSession logs in through the form and the link, uses the sessions and
// the admin token on the API, ingests with the write key in every place a
// client may put it, and logs out. It returns the session cookies.
func runSession(t *testing.T, ts *testServer) []string {
	t.Helper()
	body, headers := loginForm(adminToken)
	var cookies []string
	for _, r := range []response{
		ts.do(http.MethodPost, "/login", body, headers...),
		ts.do(http.MethodGet, "/?token="+url.QueryEscape(adminToken)+"&from=2026-11-01", nil),
	} {
		if r.status != http.StatusSeeOther {
			t.Fatalf("login: status %d, want 303; body %.200s", r.status, r.body)
		}
		cookie, _, _ := strings.Cut(r.header.Get("Set-Cookie"), ";")
		cookies = append(cookies, cookie)
	}
	for _, cookie := range cookies {
		if r := ts.do(http.MethodGet, "/api/v1/overview", nil, "Cookie", cookie); r.status != http.StatusOK {
			t.Errorf("API call with the session: status %d", r.status)
		}
		ts.do(http.MethodGet, "/", nil, "Cookie", cookie)
	}
	for _, path := range []string{"/api/v1/overview", "/api/v1/trends", "/api/v1/catalog", "/metrics", "/api/v1/no-such-route"} {
		ts.do(http.MethodGet, path, nil, "Authorization", "Bearer "+adminToken)
	}
	ts.do(http.MethodDelete, "/api/v1/installs/"+installID+"?project=mux", nil, "Authorization", "Bearer "+adminToken)

	ts.postJSON("/batch/", batchBody(commandEvent(uuidFor(3, 0))))
	ts.postJSON("/i/v0/e/", `{"token":"`+writeKey+`","event":"command_used","distinct_id":"d","properties":{"command":"clear"}}`)
	ts.postJSON("/batch/", `{"api_key":"`+writeKey+`","batch":[{"event":"command_used","distinct_id":"d","properties":{"command":"clear","token":"`+writeKey+`"}}]}`)
	data := base64.StdEncoding.EncodeToString([]byte(`{"api_key":"` + writeKey + `","batch":[` + commandEvent(uuidFor(3, 1)) + `]}`))
	ts.do(http.MethodGet, "/e/?data="+url.QueryEscape(data), nil)
	ts.postJSON("/batch/", batchBody(`{"event":"command_used","distinct_id":"d","properties":{"command":"`+writeKey+`"}}`))
	ts.postJSON("/api/v1/self/delete", `{"api_key":"`+writeKey+`","distinct_id":"`+installID+`","secret":"`+selfSecret+`"}`)
	for _, cookie := range cookies {
		ts.do(http.MethodPost, "/logout", nil, "Cookie", cookie)
		ts.do(http.MethodGet, "/api/v1/overview", nil, "Cookie", cookie)
	}
	return cookies
}

// TestTokensNeverLogged runs a session with logins, API calls and
// ingestion, after one failed request, against a server that logs at the
// debug level, then searches the log for every secret used. Failed
// authentication is logged once per 10 seconds, so each failure runs first
// on a server of its own, where it is sure to be logged.
func TestTokensNeverLogged(t *testing.T) {
	failures := []struct {
		name string
		do   func(ts *testServer)
		log  string // a message the failure must log
	}{
		{"wrong login form", func(ts *testServer) {
			body, headers := loginForm(wrongLogin)
			ts.do(http.MethodPost, "/login", body, headers...)
		}, "authentication failed"},
		{"wrong login link", func(ts *testServer) { ts.do(http.MethodGet, "/?token="+wrongLink, nil) }, "authentication failed"},
		{"wrong API token", func(ts *testServer) {
			ts.do(http.MethodGet, "/api/v1/overview", nil, "Authorization", "Bearer "+wrongBearer)
		}, "authentication failed"},
		{"wrong metrics token", func(ts *testServer) {
			ts.do(http.MethodGet, "/metrics", nil, "Authorization", "Bearer "+wrongBearer)
		}, "admin request rejected"},
		{"wrong deletion token", func(ts *testServer) {
			ts.do(http.MethodDelete, "/api/v1/installs/x?project=mux", nil, "Authorization", "Bearer "+wrongBearer)
		}, "admin request rejected"},
		{"unknown write key", func(ts *testServer) {
			ts.postJSON("/batch/", `{"api_key":"`+wrongWrite+`","batch":[`+commandEvent(uuidFor(3, 2))+`]}`)
		}, "capture request rejected"},
		{"mixed write keys", func(ts *testServer) {
			ts.postJSON("/batch/", `{"api_key":"`+writeKey+`","batch":[{"event":"x","token":"`+wrongWrite+`"}]}`)
		}, "capture request rejected"},
		{"truncated batch", func(ts *testServer) { ts.postJSON("/batch/", `{"api_key":"`+writeKey+`","batch":[`) }, "capture request rejected"},
		{"wrong deletion secret", func(ts *testServer) {
			ts.postJSON("/batch/", `{"api_key":"`+writeKey+`","deletion_key_hash":"`+strings.Repeat("ab", 32)+`","batch":[`+commandEvent(uuidFor(3, 3))+`]}`)
			ts.postJSON("/api/v1/self/delete", `{"api_key":"`+writeKey+`","distinct_id":"`+installID+`","secret":"`+selfSecret+`"}`)
		}, "wrong secret"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			ts := startServer(t)
			f.do(ts)
			cookies := runSession(t, ts)
			ts.stop()

			logs := ts.logs.String()
			if !strings.Contains(logs, f.log) {
				t.Fatalf("the log lacks %q, so the search below proves nothing:\n%s", f.log, logs)
			}
			secrets := map[string]string{
				"admin token": adminToken, "write key": writeKey, "wrong login token": wrongLogin,
				"wrong link token": wrongLink, "wrong bearer token": wrongBearer, "wrong write key": wrongWrite,
				"self-deletion secret": selfSecret,
			}
			for i, cookie := range cookies {
				_, value, _ := strings.Cut(cookie, "=")
				secrets[fmt.Sprintf("session cookie %d", i+1)] = value
			}
			for name, secret := range secrets {
				// A secret cut or escaped in a log line still holds this.
				part := secret[:len(secret)*2/3]
				if strings.Contains(logs, part) || strings.Contains(logs, url.QueryEscape(part)) {
					t.Errorf("the log contains the %s", name)
				}
			}
		})
	}
}

// dashboardPages returns requests for every page the dashboard serves:
// the login page and its errors, the dashboard, each asset, API answers
// and a missing page.
func dashboardPages(t *testing.T, ts *testServer, cookie string) map[string]response {
	t.Helper()
	pages := map[string]response{
		"login page":          ts.do(http.MethodGet, "/", nil),
		"login link error":    ts.do(http.MethodGet, "/?token=wrong", nil),
		"login form error":    ts.do(http.MethodPost, "/login", []byte("token=wrong"), "Content-Type", "application/x-www-form-urlencoded"),
		"login redirect":      ts.do(http.MethodPost, "/login", []byte("token="+adminToken), "Content-Type", "application/x-www-form-urlencoded"),
		"cross-origin form":   ts.do(http.MethodPost, "/login", []byte("token=x"), "Content-Type", "application/x-www-form-urlencoded", "Origin", "http://evil.invalid", "Sec-Fetch-Site", "cross-site"),
		"dashboard":           ts.do(http.MethodGet, "/", nil, "Cookie", cookie),
		"dashboard bad query": ts.do(http.MethodGet, "/?from=yesterday", nil, "Cookie", cookie),
		"API 200":             ts.do(http.MethodGet, "/api/v1/overview", nil, "Cookie", cookie),
		"API 401":             ts.do(http.MethodGet, "/api/v1/overview", nil),
		"API 400":             ts.do(http.MethodGet, "/api/v1/overview?bogus=1", nil, "Cookie", cookie),
		"missing page":        ts.do(http.MethodGet, "/no-such-page", nil),
		"missing asset":       ts.do(http.MethodGet, "/assets/no-such-file.js", nil),
		"logout":              ts.do(http.MethodPost, "/logout", nil, "Cookie", cookie),
	}
	err := fs.WalkDir(os.DirFS("../dashboard/assets"), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		pages["asset "+path] = ts.do(http.MethodGet, "/assets/"+path, nil)
		return nil
	})
	if err != nil {
		t.Fatalf("list the dashboard's assets: %v", err)
	}
	return pages
}

// TestDashboardSecurityHeaders checks that every page of the dashboard
// forbids framing through its Content-Security-Policy and forbids MIME
// sniffing.
func TestDashboardSecurityHeaders(t *testing.T) {
	ts := startServer(t)
	login := ts.do(http.MethodPost, "/login", []byte("token="+adminToken), "Content-Type", "application/x-www-form-urlencoded")
	cookie, _, _ := strings.Cut(login.header.Get("Set-Cookie"), ";")
	if cookie == "" {
		t.Fatalf("login set no cookie: status %d", login.status)
	}

	pages := dashboardPages(t, ts, cookie)
	assets := 0
	for name, r := range pages {
		if strings.HasPrefix(name, "asset ") {
			assets++
			if r.status != http.StatusOK {
				t.Errorf("%s: status %d, want 200", name, r.status)
			}
		}
		csp := r.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s (status %d): Content-Security-Policy %q lacks frame-ancestors 'none'", name, r.status, csp)
		}
		if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s (status %d): X-Content-Type-Options = %q, want nosniff", name, r.status, got)
		}
	}
	if assets < 4 {
		t.Errorf("requested %d assets, want every file under internal/dashboard/assets", assets)
	}
}

// Addresses and user agent that the clients below send, from the ranges
// reserved for documentation (RFC 5737), so none is a real host.
const (
	forwardedIP   = "203.0.113.77"
	propertyIP    = "198.51.100.23"
	userAgent     = "HostileProbe/7.3 (X11; Linux x86_64; probe-ua-5e1f) Firefox/140.0"
	uaMarker      = "probe-ua-5e1f"
	locationValue = "Probeville"
)

// TestNoNetworkDataStored sends events with forwarding headers, a user
// agent and IP address properties through every capture path, then reads
// every column of every table of the stopped server's database.
func TestNoNetworkDataStored(t *testing.T) {
	ts := startServer(t)
	headers := []string{
		"Content-Type", "application/json",
		"User-Agent", userAgent,
		"X-Forwarded-For", forwardedIP + ", 198.51.100.99",
		"X-Real-IP", forwardedIP,
		"Forwarded", "for=" + forwardedIP + ";proto=https",
		"CF-Connecting-IP", forwardedIP,
		"True-Client-IP", forwardedIP,
		"Referer", "https://" + forwardedIP + "/page",
	}
	hostileProps := `"$ip":"` + propertyIP + `","$geoip_city_name":"` + locationValue + `","$geoip_latitude":1.5,` +
		`"$set":{"ip":"` + propertyIP + `","$browser":"` + userAgent + `"},"$set_once":{"initial_ip":"` + propertyIP + `"},` +
		`"$os":"` + propertyIP + `","$user_agent":"` + userAgent + `","$raw_user_agent":"` + userAgent + `","ip":"` + propertyIP + `"`
	event := func(uuid string) string {
		return `{"event":"message_sent","distinct_id":"` + installID + `","uuid":"` + uuid + `","$ip":"` + propertyIP + `","ip":"` + propertyIP + `",` +
			`"properties":{"workspaceId":"` + installID + `","model":"gpt-4o","message_length_b2":300,"runtimeType":"local","thinkingLevel":"low",` +
			`"frontendPlatform":{"userAgent":"` + userAgent + `","platform":"Linux x86_64"},` + hostileProps + `}}`
	}

	sent := 0
	for i, send := range []func(uuid string) response{
		func(id string) response {
			return ts.do(http.MethodPost, "/batch/", []byte(batchBody(event(id))), headers...)
		},
		func(id string) response {
			return ts.do(http.MethodPost, "/i/v0/e/", []byte(strings.Replace(event(id), "{", `{"token":"`+writeKey+`",`, 1)), headers...)
		},
		func(id string) response {
			data := base64.StdEncoding.EncodeToString([]byte(batchBody(event(id))))
			return ts.do(http.MethodGet, "/e/?ip=1&data="+url.QueryEscape(data), nil, headers...)
		},
		func(id string) response {
			body := url.Values{"data": {batchBody(event(id))}, "ip": {propertyIP}}.Encode()
			return ts.do(http.MethodPost, "/capture/", []byte(body), append(slices.Clone(headers[2:]), "Content-Type", "application/x-www-form-urlencoded")...)
		},
	} {
		r := send(uuidFor(4, i))
		if r.status != http.StatusOK {
			t.Fatalf("capture path %d: status %d, body %s", i, r.status, r.body)
		}
		sent++
	}
	// A property whose class would let an address through is dropped.
	ts.do(http.MethodPost, "/batch/", []byte(batchBody(`{"event":"error_occurred","distinct_id":"d","properties":{"errorType":"`+propertyIP+`","context":"message-send"}}`)), headers...)
	if n := ts.storedCount(); n != int64(sent) {
		t.Fatalf("stored %d events, want %d", n, sent)
	}
	ts.stop()

	values := readAllColumns(t, filepath.Join(ts.dataDir, server.DatabaseFile))
	if len(values) == 0 {
		t.Fatal("read no values from the database")
	}
	// The values read include the stored event's own data, so the search
	// below covered the properties column.
	var model, reducedAgent bool
	for _, v := range values {
		model = model || strings.Contains(v.value, "gpt-4o")
		reducedAgent = reducedAgent || strings.Contains(v.value, "Firefox 140")
	}
	if !model || !reducedAgent {
		t.Fatalf("the database values lack the model (%v) or the reduced user agent (%v) that was sent", model, reducedAgent)
	}
	forbidden := []string{forwardedIP, propertyIP, "198.51.100.99", "127.0.0.1", "HostileProbe", uaMarker, locationValue, "Firefox/140"}
	for _, v := range values {
		for _, f := range forbidden {
			if strings.Contains(v.value, f) {
				t.Errorf("%s.%s stores %q, which contains %q", v.table, v.column, v.value, f)
			}
		}
	}
}

// storedValue is one non-null cell of the database, cast to text.
type storedValue struct {
	table, column, value string
}

// readAllColumns returns every non-null value of every column of every
// table in the DuckDB database at path, cast to VARCHAR.
func readAllColumns(t *testing.T, path string) []storedValue {
	t.Helper()
	db, err := sql.Open("duckdb", path+"?access_mode=read_only")
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	defer db.Close()

	rows, err := db.Query(`SELECT table_schema, table_name, column_name FROM information_schema.columns
		WHERE table_catalog = current_database() ORDER BY table_schema, table_name, ordinal_position`)
	if err != nil {
		t.Fatalf("list columns: %v", err)
	}
	type column struct{ schema, table, name string }
	var columns []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.schema, &c.table, &c.name); err != nil {
			t.Fatal(err)
		}
		columns = append(columns, c)
	}
	rows.Close()
	if len(columns) == 0 {
		t.Fatal("the database has no columns")
	}

	var out []storedValue
	for _, c := range columns {
		query := fmt.Sprintf(`SELECT CAST(%q AS VARCHAR) FROM %q.%q WHERE %q IS NOT NULL`, c.name, c.schema, c.table, c.name)
		values, err := db.Query(query)
		if err != nil {
			t.Fatalf("read %s.%s: %v", c.table, c.name, err)
		}
		for values.Next() {
			var v string
			if err := values.Scan(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, storedValue{table: c.table, column: c.name, value: v})
		}
		values.Close()
	}
	return out
}
