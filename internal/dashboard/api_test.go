package dashboard_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/store"
)

// startFixtureServer serves the fixture events from a new store of backend,
// with project mux as the default project.
func startFixtureServer(t *testing.T, backend testStore) *httptest.Server {
	t.Helper()
	s := backend.open(t)
	insertEvents(t, s, fixtureEvents())
	return startServer(t, dashboard.Config{Store: s, Project: "mux"})
}

// getJSON sends an authenticated GET and decodes the JSON body into a new T.
func getJSON[T any](t *testing.T, server *httptest.Server, path string) T {
	t.Helper()
	response, body := send(t, server, http.MethodGet, path, withBearer(adminToken))
	if response.StatusCode != http.StatusOK {
		t.Fatalf("GET %s status = %d, want 200; body: %s", path, response.StatusCode, body)
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

func TestOverviewFullResult(t *testing.T) {
	for _, backend := range testStores {
		t.Run(backend.name, func(t *testing.T) {
			server := startFixtureServer(t, backend)

			got := getJSON[store.Overview](t, server, "/api/v1/overview")
			want := store.Overview{
				TotalEvents: 12,
				Installs:    3,
				Events:      map[string]int64{"app_started": 4, "message_sent": 7, "error_occurred": 1},
				Versions: []store.KeyCount{
					{Key: "1.1.0", Events: 9, Installs: 2},
					{Key: "1.0.0", Events: 3, Installs: 1},
				},
				Platforms: []store.KeyCount{
					{Key: "win32", Events: 5, Installs: 1},
					{Key: "linux", Events: 4, Installs: 1},
					{Key: "darwin", Events: 3, Installs: 1},
				},
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("overview of all time (-want +got):\n%s", d)
			}

			got = getJSON[store.Overview](t, server, "/api/v1/overview?from=2024-05-01&to=2024-05-01")
			want = store.Overview{
				TotalEvents: 3,
				Installs:    2,
				Events:      map[string]int64{"app_started": 2, "message_sent": 1},
				Versions: []store.KeyCount{
					{Key: "1.0.0", Events: 2, Installs: 1},
					{Key: "1.1.0", Events: 1, Installs: 1},
				},
				Platforms: []store.KeyCount{
					{Key: "darwin", Events: 2, Installs: 1},
					{Key: "linux", Events: 1, Installs: 1},
				},
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("overview of 2024-05-01 (-want +got):\n%s", d)
			}
		})
	}
}

func TestOverviewFilters(t *testing.T) {
	tests := []struct {
		name        string
		query       string
		totalEvents int64
		installs    int64
		events      map[string]int64
	}{
		{"default project", "", 12, 3, map[string]int64{"app_started": 4, "message_sent": 7, "error_occurred": 1}},
		{"empty project selects all", "project=", 13, 4, map[string]int64{"app_started": 5, "message_sent": 7, "error_occurred": 1}},
		{"other project", "project=other", 1, 1, map[string]int64{"app_started": 1}},
		{"one day includes 23:59:59", "from=2024-05-01&to=2024-05-01", 3, 2, map[string]int64{"app_started": 2, "message_sent": 1}},
		{"one day includes 00:00:00", "from=2024-05-02&to=2024-05-02", 2, 2, map[string]int64{"message_sent": 2}},
		{"two days", "from=2024-05-02&to=2024-05-03", 7, 3, map[string]int64{"app_started": 1, "message_sent": 6}},
		{"from only", "from=2024-05-04", 2, 1, map[string]int64{"app_started": 1, "error_occurred": 1}},
		{"to only", "to=2024-05-01", 3, 2, map[string]int64{"app_started": 2, "message_sent": 1}},
		{"day without events", "from=2024-05-04&to=2024-05-04", 0, 0, map[string]int64{}},
		{"empty dates select all time", "from=&to=", 12, 3, map[string]int64{"app_started": 4, "message_sent": 7, "error_occurred": 1}},
		{"version", "version=1.0.0", 3, 1, map[string]int64{"app_started": 1, "message_sent": 2}},
		{"unknown version", "version=9.9.9", 0, 0, map[string]int64{}},
		{"platform", "platform=win32", 5, 1, map[string]int64{"app_started": 1, "message_sent": 4}},
		{"repeated platform", "platform=linux&platform=darwin", 7, 2, map[string]int64{"app_started": 3, "message_sent": 3, "error_occurred": 1}},
		{"comma-separated platforms", "platform=linux,+darwin", 7, 2, map[string]int64{"app_started": 3, "message_sent": 3, "error_occurred": 1}},
		{"version and platform", "version=1.1.0&platform=linux", 4, 1, map[string]int64{"app_started": 2, "message_sent": 1, "error_occurred": 1}},
		{"event", "event=message_sent", 7, 3, map[string]int64{"message_sent": 7}},
		{"events and day", "event=app_started,error_occurred&from=2024-05-05&to=2024-05-05", 2, 1, map[string]int64{"app_started": 1, "error_occurred": 1}},
	}
	for _, backend := range testStores {
		t.Run(backend.name, func(t *testing.T) {
			server := startFixtureServer(t, backend)
			for _, test := range tests {
				t.Run(test.name, func(t *testing.T) {
					got := getJSON[store.Overview](t, server, "/api/v1/overview?"+test.query)
					if got.TotalEvents != test.totalEvents {
						t.Errorf("total_events = %d, want %d", got.TotalEvents, test.totalEvents)
					}
					if got.Installs != test.installs {
						t.Errorf("installs = %d, want %d", got.Installs, test.installs)
					}
					if d := cmp.Diff(test.events, got.Events); d != "" {
						t.Errorf("events (-want +got):\n%s", d)
					}
				})
			}
		})
	}
}

func TestOverviewEmptyListsAreArrays(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: &sliceStore{}})
	_, body := send(t, server, http.MethodGet, "/api/v1/overview", withBearer(adminToken))

	want := `{"total_events":0,"installs":0,"events":{},"top_versions":[],"top_platforms":[]}` + "\n"
	if body != want {
		t.Errorf("overview of an empty store = %s, want %s", body, want)
	}
}

func TestEventsPerDay(t *testing.T) {
	for _, backend := range testStores {
		t.Run(backend.name, func(t *testing.T) {
			server := startFixtureServer(t, backend)

			got := getJSON[[]store.DayCount](t, server, "/api/v1/events_per_day?from=2024-05-01&to=2024-05-02")
			want := []store.DayCount{
				{Day: "2024-05-01", Event: "app_started", Count: 2},
				{Day: "2024-05-01", Event: "message_sent", Count: 1},
				{Day: "2024-05-02", Event: "message_sent", Count: 2},
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("events per day of 2024-05-01..02 (-want +got):\n%s", d)
			}

			got = getJSON[[]store.DayCount](t, server, "/api/v1/events_per_day?platform=linux")
			want = []store.DayCount{
				{Day: "2024-05-01", Event: "app_started", Count: 1},
				{Day: "2024-05-02", Event: "message_sent", Count: 1},
				{Day: "2024-05-05", Event: "app_started", Count: 1},
				{Day: "2024-05-05", Event: "error_occurred", Count: 1},
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("events per day of platform linux (-want +got):\n%s", d)
			}

			_, body := send(t, server, http.MethodGet, "/api/v1/events_per_day?from=2024-05-04&to=2024-05-04",
				withBearer(adminToken))
			if body != "[]\n" {
				t.Errorf("events per day of a day without events = %q, want []", body)
			}
		})
	}
}

func TestActiveInstalls(t *testing.T) {
	for _, backend := range testStores {
		t.Run(backend.name, func(t *testing.T) {
			server := startFixtureServer(t, backend)

			got := getJSON[[]store.DayValue](t, server, "/api/v1/active_installs")
			want := []store.DayValue{
				{Day: "2024-05-01", Value: 2},
				{Day: "2024-05-02", Value: 2},
				{Day: "2024-05-03", Value: 1},
				{Day: "2024-05-05", Value: 1},
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("active installs of all time (-want +got):\n%s", d)
			}

			got = getJSON[[]store.DayValue](t, server, "/api/v1/active_installs?from=2024-05-02&to=2024-05-03&version=1.1.0")
			want = []store.DayValue{
				{Day: "2024-05-02", Value: 1},
				{Day: "2024-05-03", Value: 1},
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("active installs of 1.1.0 on 2024-05-02..03 (-want +got):\n%s", d)
			}

			_, body := send(t, server, http.MethodGet, "/api/v1/active_installs?version=9.9.9", withBearer(adminToken))
			if body != "[]\n" {
				t.Errorf("active installs of an unknown version = %q, want []", body)
			}
		})
	}
}

func TestFilterSentToStore(t *testing.T) {
	fake := &sliceStore{}
	server := startServer(t, dashboard.Config{Store: fake, Project: "mux"})

	getJSON[[]store.DayValue](t, server,
		"/api/v1/active_installs?from=2024-05-01&to=2024-05-03&version=1.0.0,1.1.0&platform=linux&event=a&event=b")
	want := store.Filter{
		Project:   "mux",
		From:      time.Date(2024, time.May, 1, 0, 0, 0, 0, time.UTC),
		To:        time.Date(2024, time.May, 4, 0, 0, 0, 0, time.UTC),
		Versions:  []string{"1.0.0", "1.1.0"},
		Platforms: []string{"linux"},
		Events:    []string{"a", "b"},
	}
	if d := cmp.Diff(want, fake.filter()); d != "" {
		t.Errorf("filter (-want +got):\n%s", d)
	}

	getJSON[store.Overview](t, server, "/api/v1/overview?version=&platform=,")
	if d := cmp.Diff(store.Filter{Project: "mux"}, fake.filter(), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("filter of empty list parameters (-want +got):\n%s", d)
	}
}

func TestInvalidParameters(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  []string // substrings of the error message
	}{
		{"from without zero padding", "from=2024-5-1", []string{"from", `"2024-5-1"`, "YYYY-MM-DD"}},
		{"to on a day that does not exist", "to=2024-02-30", []string{"to", `"2024-02-30"`, "YYYY-MM-DD"}},
		{"from as a word", "from=yesterday", []string{"from", `"yesterday"`, "YYYY-MM-DD"}},
		{"to with a time", "to=2024-05-01T00:00:00Z", []string{"to", `"2024-05-01T00:00:00Z"`, "YYYY-MM-DD"}},
		{"from after to", "from=2024-05-03&to=2024-05-01", []string{`from "2024-05-03" is after to "2024-05-01"`}},
		{"from twice", "from=2024-05-01&from=2024-05-02", []string{"from", "given 2 times"}},
		{"project twice", "project=a&project=b", []string{"project", "given 2 times"}},
		{"unknown parameter", "limit=10", []string{`unknown parameter "limit"`, "from, to"}},
	}
	server := startServer(t, dashboard.Config{Store: &sliceStore{}})
	paths := []string{"/api/v1/overview", "/api/v1/events_per_day", "/api/v1/active_installs"}
	for _, test := range tests {
		for _, path := range paths {
			t.Run(test.name+path, func(t *testing.T) {
				response, body := send(t, server, http.MethodGet, path+"?"+test.query, withBearer(adminToken))
				if response.StatusCode != http.StatusBadRequest {
					t.Errorf("status = %d, want 400", response.StatusCode)
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
}

func TestUnknownAPIRoutes(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: &sliceStore{}})

	response, body := send(t, server, http.MethodPost, "/api/v1/overview", withBearer(adminToken))
	if response.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST overview status = %d, want 405", response.StatusCode)
	}
	if got := response.Header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("POST overview Allow = %q, want GET, HEAD", got)
	}
	if !strings.Contains(body, `"error"`) {
		t.Errorf("POST overview body = %s, want a JSON error", body)
	}

	response, body = send(t, server, http.MethodGet, "/api/v1/nope", withBearer(adminToken))
	if response.StatusCode != http.StatusNotFound {
		t.Errorf("GET /api/v1/nope status = %d, want 404", response.StatusCode)
	}
	if !strings.Contains(body, "/api/v1/overview") {
		t.Errorf("GET /api/v1/nope body = %s, want the list of API paths", body)
	}
}

func TestStoreErrorIsLogged(t *testing.T) {
	logger, logs := logBuffer()
	fake := &sliceStore{err: errors.New("disk on fire")}
	server := startServer(t, dashboard.Config{Store: fake, Logger: logger})

	response, body := send(t, server, http.MethodGet, "/api/v1/overview", withBearer(adminToken))
	if response.StatusCode != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", response.StatusCode)
	}
	if strings.Contains(body, "disk on fire") {
		t.Errorf("body %s shows the store error to the client", body)
	}
	if !strings.Contains(body, `"error":"query failed`) {
		t.Errorf("body = %s, want a JSON error", body)
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("log %q does not contain the store error", logs.String())
	}
}
