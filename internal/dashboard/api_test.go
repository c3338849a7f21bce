package dashboard_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

// startFixtureServer serves the fixture events with project mux as the
// default project and k-anonymity off, so every count is visible. The
// project other, which has install d, uses the Mux catalog too.
func startFixtureServer(t *testing.T) *httptest.Server {
	t.Helper()
	return startServer(t, dashboard.Config{
		Store:      storeWith(t, fixtureEvents()),
		Project:    "mux",
		KAnonymity: 1,
		Projects:   fixtureProjects(),
	})
}

// fixtureProjects configures the two projects of fixtureEvents.
func fixtureProjects() []dashboard.Project {
	return []dashboard.Project{{Name: "mux", Catalog: mux.Catalog()}, {Name: "other", Catalog: mux.Catalog()}}
}

// getJSON sends an authenticated GET and decodes the JSON body into a new T.
func getJSON[T any](t *testing.T, server *httptest.Server, path string) T {
	t.Helper()
	return getJSONStatus[T](t, server, path, http.StatusOK)
}

// getJSONStatus sends an authenticated GET, checks that the response has
// status want and decodes its JSON body into a new T.
func getJSONStatus[T any](t *testing.T, server *httptest.Server, path string, want int) T {
	t.Helper()
	response, body := send(t, server, http.MethodGet, path, withBearer(adminToken))
	if response.StatusCode != want {
		t.Fatalf("GET %s status = %d, want %d; body: %s", path, response.StatusCode, want, body)
	}
	if got := response.Header.Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("GET %s Content-Type = %q, want application/json", path, got)
	}
	var value T
	if err := json.Unmarshal([]byte(body), &value); err != nil {
		t.Fatalf("decode GET %s body %q: %v", path, body, err)
	}
	return value
}

// overview is the JSON body of /api/v1/overview.
type overview struct {
	K                int              `json:"k_anonymity"`
	TotalEvents      *int64           `json:"total_events"`
	Installs         *int64           `json:"installs"`
	Suppressed       bool             `json:"suppressed"`
	Events           map[string]int64 `json:"events"`
	EventInstalls    map[string]int64 `json:"event_installs"`
	SuppressedEvents []string         `json:"suppressed_events"`
	Versions         []keyCount       `json:"top_versions"`
	Platforms        []keyCount       `json:"top_platforms"`
}

// keyCount is one row of a version or platform list. A suppressed row has
// nil counts.
type keyCount struct {
	Key        string `json:"key"`
	Events     *int64 `json:"events"`
	Installs   *int64 `json:"installs"`
	Suppressed bool   `json:"suppressed"`
}

func count(n int64) *int64 { return &n }

func kc(key string, events, installs int64) keyCount {
	return keyCount{Key: key, Events: count(events), Installs: count(installs)}
}

// counts maps event names to the events and the installs of each, written
// as name, events, installs triples.
func counts(triples ...any) (events, installs map[string]int64) {
	events, installs = map[string]int64{}, map[string]int64{}
	for i := 0; i < len(triples); i += 3 {
		name := triples[i].(string)
		events[name] = int64(triples[i+1].(int))
		installs[name] = int64(triples[i+2].(int))
	}
	return events, installs
}

// eventCounts is one expected set of the overview's per-event maps.
type eventCounts struct{ events, installs map[string]int64 }

func ec(triples ...any) eventCounts {
	events, installs := counts(triples...)
	return eventCounts{events, installs}
}

func TestOverviewFullResult(t *testing.T) {
	server := startFixtureServer(t)

	got := getJSON[overview](t, server, "/api/v1/overview")
	events, installs := counts("message_sent", 7, 3, "app_started", 4, 3, "error_occurred", 1, 1)
	want := overview{
		K:                1,
		TotalEvents:      count(12),
		Installs:         count(3),
		Events:           events,
		EventInstalls:    installs,
		SuppressedEvents: []string{},
		Versions:         []keyCount{kc("1.1.0", 9, 2), kc("1.0.0", 3, 1)},
		Platforms:        []keyCount{kc("win32", 5, 1), kc("linux", 4, 1), kc("darwin", 3, 1)},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("overview of all time (-want +got):\n%s", d)
	}

	got = getJSON[overview](t, server, "/api/v1/overview?from=2024-05-01&to=2024-05-01")
	events, installs = counts("app_started", 2, 2, "message_sent", 1, 1)
	want = overview{
		K:                1,
		TotalEvents:      count(3),
		Installs:         count(2),
		Events:           events,
		EventInstalls:    installs,
		SuppressedEvents: []string{},
		Versions:         []keyCount{kc("1.0.0", 2, 1), kc("1.1.0", 1, 1)},
		Platforms:        []keyCount{kc("darwin", 2, 1), kc("linux", 1, 1)},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("overview of 2024-05-01 (-want +got):\n%s", d)
	}
}

func TestOverviewFilters(t *testing.T) {
	tests := []struct {
		name        string
		query       string
		totalEvents int64
		installs    int64
		events      eventCounts
	}{
		{"default project", "", 12, 3, ec("message_sent", 7, 3, "app_started", 4, 3, "error_occurred", 1, 1)},
		{"empty project selects all", "project=", 13, 4, ec("message_sent", 7, 3, "app_started", 5, 4, "error_occurred", 1, 1)},
		{"other project", "project=other", 1, 1, ec("app_started", 1, 1)},
		{"one day includes 23:59:59", "from=2024-05-01&to=2024-05-01", 3, 2, ec("app_started", 2, 2, "message_sent", 1, 1)},
		{"one day includes 00:00:00", "from=2024-05-02&to=2024-05-02", 2, 2, ec("message_sent", 2, 2)},
		{"two days", "from=2024-05-02&to=2024-05-03", 7, 3, ec("message_sent", 6, 3, "app_started", 1, 1)},
		{"from only", "from=2024-05-04", 2, 1, ec("app_started", 1, 1, "error_occurred", 1, 1)},
		{"to only", "to=2024-05-01", 3, 2, ec("app_started", 2, 2, "message_sent", 1, 1)},
		{"day without events", "from=2024-05-04&to=2024-05-04", 0, 0, ec()},
		{"empty dates select all time", "from=&to=", 12, 3, ec("message_sent", 7, 3, "app_started", 4, 3, "error_occurred", 1, 1)},
		{"version", "version=1.0.0", 3, 1, ec("message_sent", 2, 1, "app_started", 1, 1)},
		{"unknown version", "version=9.9.9", 0, 0, ec()},
		{"platform", "platform=win32", 5, 1, ec("message_sent", 4, 1, "app_started", 1, 1)},
		{"repeated platform", "platform=linux&platform=darwin", 7, 2, ec("app_started", 3, 2, "message_sent", 3, 2, "error_occurred", 1, 1)},
		{"comma-separated platforms", "platform=linux,+darwin", 7, 2, ec("app_started", 3, 2, "message_sent", 3, 2, "error_occurred", 1, 1)},
		{"version and platform", "version=1.1.0&platform=linux", 4, 1, ec("app_started", 2, 1, "error_occurred", 1, 1, "message_sent", 1, 1)},
		{"event", "event=message_sent", 7, 3, ec("message_sent", 7, 3)},
		{"events and day", "event=app_started,error_occurred&from=2024-05-05&to=2024-05-05", 2, 1, ec("app_started", 1, 1, "error_occurred", 1, 1)},
	}
	server := startFixtureServer(t)
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			got := getJSON[overview](t, server, "/api/v1/overview?"+test.query)
			if got.TotalEvents == nil || *got.TotalEvents != test.totalEvents {
				t.Errorf("total_events = %v, want %d", got.TotalEvents, test.totalEvents)
			}
			if got.Installs == nil || *got.Installs != test.installs {
				t.Errorf("installs = %v, want %d", got.Installs, test.installs)
			}
			if d := cmp.Diff(test.events.events, got.Events); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
			if d := cmp.Diff(test.events.installs, got.EventInstalls); d != "" {
				t.Errorf("event_installs (-want +got):\n%s", d)
			}
		})
	}
}

func TestOverviewOfEmptyStore(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t), KAnonymity: 1})
	_, body := send(t, server, http.MethodGet, "/api/v1/overview", withBearer(adminToken))

	want := `{"k_anonymity":1,"total_events":0,"installs":0,"events":{},"event_installs":{},"suppressed_events":[],"top_versions":[],"top_platforms":[]}` + "\n"
	if body != want {
		t.Errorf("overview of an empty store = %s, want %s", body, want)
	}
}

func TestInvalidParameters(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		query string
		want  []string // substrings of the error message
	}{
		{"from without zero padding", "overview", "from=2024-5-1", []string{"from", `"2024-5-1"`, "YYYY-MM-DD"}},
		{"to on a day that does not exist", "trends", "to=2024-02-30", []string{"to", `"2024-02-30"`, "YYYY-MM-DD"}},
		{"from as a word", "funnel", "from=yesterday", []string{"from", `"yesterday"`, "YYYY-MM-DD"}},
		{"to with a time", "retention", "to=2024-05-01T00:00:00Z", []string{"to", `"2024-05-01T00:00:00Z"`, "YYYY-MM-DD"}},
		{"from after to", "active_installs", "from=2024-05-03&to=2024-05-01", []string{`from "2024-05-03" is after to "2024-05-01"`}},
		{"from twice", "new_installs", "from=2024-05-01&from=2024-05-02", []string{"from", "given 2 times"}},
		{"project twice", "errors", "project=a&project=b", []string{"project", "given 2 times"}},
		{"unknown parameter", "overview", "limit=10", []string{`unknown parameter "limit"`, "from, to"}},
		{"event on a route without events", "funnel", "event=a", []string{`unknown parameter "event"`}},
		{"unknown event", "overview", "event=mesage_sent", []string{`unknown event "mesage_sent"`, "/api/v1/catalog"}},
		{"unknown event in a list", "trends", "event=message_sent,nope", []string{`unknown event "nope"`}},
		{"unknown funnel step event", "funnel", "step=app_started&step=nope", []string{`invalid step "nope"`, `unknown event "nope"`}},
		{"unknown format", "trends", "format=xlsx", []string{`invalid format "xlsx"`, "json, csv or parquet"}},
		{"unknown interval", "trends", "interval=hour", []string{`invalid interval "hour"`}},
		{"all interval for errors is fine, hourly is not", "errors", "interval=hourly", []string{`invalid interval "hourly"`}},
		{"unknown breakdown property", "trends", "breakdown=nope", []string{`unknown breakdown property "nope"`, "/api/v1/catalog"}},
		{"random ID breakdown", "trends", "event=message_sent&breakdown=workspaceId", []string{`invalid breakdown property "workspaceId"`, "random_id"}},
		{"property of another event", "trends", "event=app_started&breakdown=model", []string{`unknown breakdown property "model"`, `"app_started"`}},
		{"three breakdown properties", "trends", "breakdown=model,thinkingLevel,version", []string{"at most 2"}},
		{"breakdown twice", "trends", "breakdown=model,model", []string{`"model" given twice`}},
		{"limit too large", "trends", "limit=5000", []string{`invalid limit "5000"`}},
		{"condition without value", "trends", "where=model", []string{`invalid condition "model"`}},
		{"missing histogram property", "histogram", "event=message_sent", []string{"missing property"}},
		{"histogram of an enum", "histogram", "event=message_sent&property=thinkingLevel", []string{`invalid histogram property "thinkingLevel"`}},
		{"window of zero days", "active_installs", "window=0", []string{`invalid window "0"`}},
		{"one funnel step", "funnel", "step=app_started", []string{"invalid funnel: 1 step, but a funnel needs 2 to 10", "add a step parameter"}},
		{"eleven funnel steps", "funnel", strings.Repeat("step=app_started&", 11), []string{"invalid funnel: 11 steps, but a funnel takes at most 10", "remove 1 step parameter"}},
		{"funnel step without event", "funnel", "step=[a=b]&step=message_sent", []string{`invalid step "[a=b]"`}},
		{"funnel step unclosed", "funnel", "step=app_started[isFirstLaunch=true&step=message_sent", []string{"close its conditions"}},
		{"funnel window too long", "funnel", "window=100d", []string{`invalid window "100d"`}},
		{"funnel window in seconds", "funnel", "window=30s", []string{`invalid window "30s"`}},
		{"negative weeks", "retention", "weeks=-1", []string{`invalid weeks "-1"`}},
	}
	server := startServer(t, dashboard.Config{Store: openStore(t)})
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			path := "/api/v1/" + test.path + "?" + test.query
			response, body := send(t, server, http.MethodGet, path, withBearer(adminToken))
			if response.StatusCode != http.StatusBadRequest {
				t.Errorf("GET %s status = %d, want 400", path, response.StatusCode)
			}
			var got struct{ Error string }
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("decode body %q: %v", body, err)
			}
			for _, want := range test.want {
				if !strings.Contains(got.Error, want) {
					t.Errorf("error %q does not contain %q", got.Error, want)
				}
			}
		})
	}
}

func TestUnknownParametersNamedInOrder(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})
	path := "/api/v1/overview?zeta=1&beta=2&limit=3&alpha=4"
	want := `unknown parameter "alpha"`

	// Map iteration order varies between runs, so one request could name
	// the first parameter by chance.
	for range 20 {
		_, body := send(t, server, http.MethodGet, path, withBearer(adminToken))
		var got struct{ Error string }
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("decode body %q: %v", body, err)
		}
		if !strings.Contains(got.Error, want) {
			t.Fatalf("GET %s error = %q, want it to contain %s", path, got.Error, want)
		}
	}
}

func TestUnknownAPIRoutes(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})

	for _, route := range dashboard.APIRoutes() {
		response, body := send(t, server, http.MethodPost, route.Path, withBearer(adminToken))
		if response.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s status = %d, want 405", route.Path, response.StatusCode)
		}
		if got := response.Header.Get("Allow"); got != "GET, HEAD" {
			t.Errorf("POST %s Allow = %q, want GET, HEAD", route.Path, got)
		}
		if !strings.Contains(body, `"error"`) {
			t.Errorf("POST %s body = %s, want a JSON error", route.Path, body)
		}
	}

	response, body := send(t, server, http.MethodGet, "/api/v1/events", withBearer(adminToken))
	if response.StatusCode != http.StatusNotFound {
		t.Errorf("GET /api/v1/events status = %d, want 404", response.StatusCode)
	}
	if !strings.Contains(body, "/api/v1/trends") {
		t.Errorf("GET /api/v1/events body = %s, want the list of API paths", body)
	}
}

func TestUnknownAPIPathListsOtherRoutes(t *testing.T) {
	other := "DELETE /api/v1/things/{id}"
	server := startServer(t, dashboard.Config{Store: openStore(t), OtherAPIRoutes: []string{other}})

	response, body := send(t, server, http.MethodGet, "/api/v1/things/", withBearer(adminToken))
	if response.StatusCode != http.StatusNotFound {
		t.Errorf("GET /api/v1/things/ status = %d, want 404", response.StatusCode)
	}
	var got struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decode body %q: %v", body, err)
	}
	for _, want := range []string{"GET /api/v1/overview", "/api/v1/catalog", other} {
		if !strings.Contains(got.Error, want) {
			t.Errorf("error %q does not contain %q", got.Error, want)
		}
	}
}

func TestStoreErrorIsLogged(t *testing.T) {
	logger, logs := logBuffer()
	s := openStore(t)
	s.Close()
	server := startServer(t, dashboard.Config{Store: s, Logger: logger})

	response, body := send(t, server, http.MethodGet, "/api/v1/trends", withBearer(adminToken))
	if response.StatusCode != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", response.StatusCode)
	}
	if strings.Contains(body, store.ErrClosed.Error()) {
		t.Errorf("body %s shows the store error to the client", body)
	}
	if !strings.Contains(body, `"error":"query failed`) {
		t.Errorf("body = %s, want a JSON error", body)
	}
	if !strings.Contains(logs.String(), store.ErrClosed.Error()) {
		t.Errorf("log %q does not contain the store error", logs.String())
	}
}

// storeOnly hides every method of a store but those of store.Store, like a
// backend that does not implement store.Analytics.
type storeOnly struct{ store.Store }

// TestStoreWithoutAnalytics checks that a store without store.Analytics
// still serves the overview, with the same numbers, and that the other data
// routes respond with 501.
func TestStoreWithoutAnalytics(t *testing.T) {
	s := storeWith(t, fixtureEvents())
	full := startServer(t, dashboard.Config{Store: s, Project: "mux", KAnonymity: 2})
	plain := startServer(t, dashboard.Config{Store: storeOnly{s}, Project: "mux", KAnonymity: 2})

	for _, query := range []string{"", "?from=2024-05-01&to=2024-05-02", "?platform=linux,win32"} {
		want := getJSON[overview](t, full, "/api/v1/overview"+query)
		got := getJSON[overview](t, plain, "/api/v1/overview"+query)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("overview%s without store.Analytics (-want +got):\n%s", query, d)
		}
	}

	for _, route := range dashboard.APIRoutes() {
		if route.Kind == dashboard.CatalogRoute || route.Path == "/api/v1/overview" {
			continue
		}
		path := route.Path + "?format=csv"
		response, body := send(t, plain, http.MethodGet, path, withBearer(adminToken))
		if route.Kind == dashboard.RawEventsRoute {
			// k-anonymity rejects raw events before the store is asked.
			if response.StatusCode != http.StatusForbidden {
				t.Errorf("GET %s status = %d, want 403", path, response.StatusCode)
			}
			continue
		}
		if response.StatusCode != http.StatusNotImplemented {
			t.Errorf("GET %s status = %d, want 501", path, response.StatusCode)
		}
		if !strings.Contains(body, "does not implement store.Analytics") {
			t.Errorf("GET %s body = %s, want it to name the missing interface", path, body)
		}
	}
}

// unknownProjectResponse is the JSON body of a 404 for an unknown project.
type unknownProjectResponse struct {
	Error    string   `json:"error"`
	Projects []string `json:"projects"`
}

// TestUnknownProjectNotFound requests every API route that takes the
// project parameter with a project that is not configured, in each format.
func TestUnknownProjectNotFound(t *testing.T) {
	server := startFixtureServer(t)
	for _, route := range dashboard.APIRoutes() {
		if route.Kind == dashboard.CatalogRoute {
			continue // takes no parameters at all
		}
		for _, format := range []string{"json", "csv", "parquet"} {
			path := route.Path + "?project=shop&format=" + format
			t.Run(path, func(t *testing.T) {
				body := getJSONStatus[unknownProjectResponse](t, server, path, http.StatusNotFound)
				checkContains(t, "error", body.Error, `unknown project "shop"`, `"mux", "other"`, "leave the project out for all of them")
				if d := cmp.Diff([]string{"mux", "other"}, body.Projects); d != "" {
					t.Errorf("projects (-want +got):\n%s", d)
				}
			})
		}
	}
}

// TestConfiguredProjectsFound checks that a configured project and the
// empty project, which selects all, pass where an unknown one fails.
func TestConfiguredProjectsFound(t *testing.T) {
	server := startFixtureServer(t)
	for _, project := range []string{"mux", "other", ""} {
		path := "/api/v1/events_per_day?project=" + project
		response, body := send(t, server, http.MethodGet, path, withBearer(adminToken))
		if response.StatusCode != http.StatusOK {
			t.Errorf("GET %s status = %d, want 200; body: %s", path, response.StatusCode, body)
		}
	}
}

func TestNewRejectsUnknownDefaultProject(t *testing.T) {
	_, err := dashboard.New(dashboard.Config{Store: openStore(t), AdminToken: adminToken, Project: "shop"})
	if err == nil || !strings.Contains(err.Error(), `Config.Project "shop" is not in Config.Projects`) {
		t.Errorf("New with Project shop and only mux configured: error %v, want one that names the project", err)
	}
}

func TestNewRejectsNegativeKAnonymity(t *testing.T) {
	_, err := dashboard.New(dashboard.Config{Store: openStore(t), AdminToken: adminToken, KAnonymity: -1})
	if err == nil || !strings.Contains(err.Error(), "invalid Config.KAnonymity -1") {
		t.Errorf("New with KAnonymity -1: error %v, want one that names the value", err)
	}
}

// catalogResponse is the part of the /api/v1/catalog body the tests read.
type catalogResponse struct {
	Apps   []string `json:"apps"`
	Events []struct {
		Name       string `json:"name"`
		Properties []struct {
			Name      string `json:"name"`
			Class     string `json:"class"`
			Breakdown bool   `json:"breakdown"`
			Histogram bool   `json:"histogram"`
		} `json:"properties"`
	} `json:"events"`
}

func TestCatalogRoute(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})

	body := getJSON[catalogResponse](t, server, "/api/v1/catalog")
	if d := cmp.Diff([]string{"mux"}, body.Apps); d != "" {
		t.Errorf("catalog apps (-want +got):\n%s", d)
	}

	found := map[string]string{}
	for _, event := range body.Events {
		if event.Name != "message_sent" {
			continue
		}
		for _, p := range event.Properties {
			found[p.Name] = p.Class
			switch p.Name {
			case "message_length_b2":
				if !p.Histogram || !p.Breakdown {
					t.Errorf("message_length_b2: histogram %v, breakdown %v, want both", p.Histogram, p.Breakdown)
				}
			case "workspaceId":
				if p.Breakdown || p.Histogram {
					t.Errorf("workspaceId: breakdown %v, histogram %v, want neither for a random ID", p.Breakdown, p.Histogram)
				}
			}
		}
	}
	want := map[string]string{"model": "identifier", "thinkingLevel": "enum", "frontendPlatform.userAgent": "user_agent"}
	for name, class := range want {
		if found[name] != class {
			t.Errorf("message_sent property %q has class %q, want %q", name, found[name], class)
		}
	}

	response, _ := send(t, server, http.MethodGet, "/api/v1/catalog?from=2024-01-01", withBearer(adminToken))
	if response.StatusCode != http.StatusBadRequest {
		t.Errorf("catalog with a parameter: status %d, want 400", response.StatusCode)
	}
}

// orderPlaced is the one event of the shop catalog in TestTwoCatalogs.
type orderPlaced struct {
	Currency string `json:"currency" candor:"enum=eur|usd"`
	Amount   int    `json:"amount_b2" candor:"base2"`
}

func (orderPlaced) EventName() string { return "order_placed" }

// TestTwoCatalogs checks that the routes accept the properties of every
// configured catalog.
func TestTwoCatalogs(t *testing.T) {
	shop := catalog.New("shop")
	shop.MustRegister(orderPlaced{}, "An order was placed.")
	events := make([]store.Event, 3)
	for i := range events {
		events[i] = store.Event{
			Project:    "shop",
			UUID:       fmt.Sprintf("00000000-0000-4000-c000-%012d", i),
			Name:       "order_placed",
			DistinctID: fmt.Sprintf("buyer-%d", i%2),
			Timestamp:  time.Date(2024, time.May, 1, 10, i, 0, 0, time.UTC),
			ReceivedAt: time.Date(2024, time.May, 1, 10, i, 0, 0, time.UTC),
			Properties: map[string]any{"currency": []string{"eur", "usd"}[i%2], "amount_b2": 64},
		}
	}
	server := startServer(t, dashboard.Config{
		Store:      storeWith(t, events),
		Project:    "shop",
		KAnonymity: 1,
		Projects:   []dashboard.Project{{Name: "mux", Catalog: mux.Catalog()}, {Name: "shop", Catalog: shop}},
	})

	// The catalog route defaults to the dashboard's project, as the
	// others do, and project= lists every catalog.
	body := getJSON[catalogResponse](t, server, "/api/v1/catalog")
	if d := cmp.Diff([]string{"shop"}, body.Apps); d != "" {
		t.Errorf("catalog apps of the default project (-want +got):\n%s", d)
	}
	body = getJSON[catalogResponse](t, server, "/api/v1/catalog?project=")
	if d := cmp.Diff([]string{"mux", "shop"}, body.Apps); d != "" {
		t.Errorf("catalog apps of every project (-want +got):\n%s", d)
	}
	checkRows(t, server, "/api/v1/trends?interval=all&event=order_placed&breakdown=currency", []map[string]any{
		row("period", "", "event", "order_placed", "currency", "eur", "events", 2, "installs", 1),
		row("period", "", "event", "order_placed", "currency", "usd", "events", 1, "installs", 1),
	})
	checkRows(t, server, "/api/v1/histogram?event=order_placed&property=amount_b2", []map[string]any{
		row("event", "order_placed", "value", 64, "events", 3, "installs", 2),
	})
	// The Mux events and properties stay available in a query of the Mux
	// project or of every project. The default project, shop, has no
	// message_sent event.
	for _, path := range []string{
		"/api/v1/trends?event=message_sent&breakdown=model&project=mux",
		"/api/v1/trends?event=message_sent&breakdown=model&project=",
	} {
		response, text := send(t, server, http.MethodGet, path, withBearer(adminToken))
		if response.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, body %s, want 200", path, response.StatusCode, text)
		}
	}
	response, text := send(t, server, http.MethodGet, "/api/v1/trends?event=message_sent&breakdown=model", withBearer(adminToken))
	if response.StatusCode != http.StatusBadRequest || !strings.Contains(text, `project \"shop\"`) {
		t.Errorf("trend of message_sent in project shop: status %d, body %s, want 400 naming the project", response.StatusCode, text)
	}
}

// TestRawExportStoreError checks that an export whose store fails before
// the first byte responds with an error status, not 200 and an empty file.
func TestRawExportStoreError(t *testing.T) {
	logger, logs := logBuffer()
	s := openStore(t)
	s.Close()
	server := startServer(t, dashboard.Config{Store: s, Logger: logger, KAnonymity: 1})

	for _, format := range []string{"csv", "parquet"} {
		response, body := send(t, server, http.MethodGet, "/api/v1/export/events?format="+format, withBearer(adminToken))
		if response.StatusCode != http.StatusInternalServerError {
			t.Errorf("format=%s: status = %d, want 500", format, response.StatusCode)
		}
		if !strings.Contains(body, `"error":"query failed`) {
			t.Errorf("format=%s: body = %q, want a JSON error", format, body)
		}
		if disposition := response.Header.Get("Content-Disposition"); disposition != "" {
			t.Errorf("format=%s: Content-Disposition = %q, want none on an error", format, disposition)
		}
	}
	if !strings.Contains(logs.String(), store.ErrClosed.Error()) {
		t.Errorf("log %q does not contain the store error", logs.String())
	}
}
