package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

// acmeStarted shares its name with the Mux app_started event and its
// isFirstLaunch property with a class of its own.
type acmeStarted struct {
	First         bool   `json:"first" candor:"bool"`
	Tier          string `json:"tier" candor:"enum=free|pro"`
	IsFirstLaunch string `json:"isFirstLaunch" candor:"enum=yes|no"`
}

func (acmeStarted) EventName() string { return "app_started" }

// acmeServer serves the Mux project and an acme project whose catalog
// declares its own app_started, with one acme event stored.
func acmeServer(t *testing.T) *httptest.Server {
	t.Helper()
	acme := catalog.New("acme")
	acme.MustRegister(acmeStarted{}, "The acme app started.")
	acme.MustSetDashboard(catalog.Dashboard{FirstLaunchEvent: "app_started", FirstLaunchProperty: "first"})
	at := time.Date(2024, time.May, 1, 10, 0, 0, 0, time.UTC)
	events := []store.Event{{
		Project:    "acme",
		UUID:       "00000000-0000-4000-8000-000000000001",
		Name:       "app_started",
		DistinctID: "acme-install",
		Timestamp:  at,
		ReceivedAt: at,
		Properties: map[string]any{"first": true, "tier": "pro", "isFirstLaunch": "yes"},
	}}
	return startServer(t, dashboard.Config{
		Store:      storeWith(t, events),
		KAnonymity: 1,
		Projects:   []dashboard.Project{{Name: "mux", Catalog: mux.Catalog()}, {Name: "acme", Catalog: acme}},
	})
}

// responseCase is a GET request with the status and a part of the body
// it must get.
type responseCase struct {
	path   string
	status int
	text   string
}

// checkResponses sends each case's request with the admin token and
// checks its response.
func checkResponses(t *testing.T, server *httptest.Server, cases []responseCase) {
	t.Helper()
	for _, c := range cases {
		response, text := send(t, server, http.MethodGet, c.path, withBearer(adminToken))
		if response.StatusCode != c.status || !strings.Contains(text, c.text) {
			t.Errorf("GET %s: status %d, body %s; want %d containing %q", c.path, response.StatusCode, text, c.status, c.text)
		}
	}
}

func TestProjectCatalogsStayApart(t *testing.T) {
	server := acmeServer(t)
	cases := []responseCase{
		{"/api/v1/trends?project=acme&event=app_started&breakdown=tier", http.StatusOK, ""},
		{"/api/v1/trends?event=app_started&breakdown=tier", http.StatusOK, ""},
		{"/api/v1/trends?project=mux&event=app_started&breakdown=tier", http.StatusBadRequest, `unknown breakdown property \"tier\"`},
		{"/api/v1/trends?project=acme&event=app_started&breakdown=isFirstLaunch", http.StatusOK, ""},
		{"/api/v1/trends?project=mux&event=app_started&breakdown=isFirstLaunch", http.StatusOK, ""},
		{"/api/v1/trends?event=app_started&breakdown=isFirstLaunch", http.StatusBadRequest, "different classes"},
		{"/api/v1/trends?project=acme&event=message_sent", http.StatusBadRequest, `project \"acme\"`},
		{"/api/v1/new_installs?project=acme", http.StatusOK, ""},
	}
	checkResponses(t, server, cases)
}

func TestConditionValueTheClassNeverStores(t *testing.T) {
	server := acmeServer(t)
	cases := []responseCase{
		{"/api/v1/trends?event=message_sent&where=message_length_b2=350", http.StatusBadRequest, "512"},
		{"/api/v1/trends?event=message_sent&where=message_length_b2=512", http.StatusOK, ""},
		{"/api/v1/funnel?step=app_started&step=message_sent[message_length_b2=350]", http.StatusBadRequest, "512"},
		{"/api/v1/funnel?step=app_started&step=message_sent[message_length_b2=512]", http.StatusOK, ""},
		{"/api/v1/trends?event=message_sent&where=message_length_b2=abc", http.StatusBadRequest, "not a number"},
		{"/api/v1/trends?project=acme&event=app_started&where=first=maybe", http.StatusBadRequest, "true or false"},
		// Events stored before a catalog change may hold an enum value
		// that the catalog no longer lists.
		{"/api/v1/trends?event=message_sent&where=thinkingLevel=ultra", http.StatusOK, ""},
	}
	checkResponses(t, server, cases)
}

func TestCatalogOfOneProject(t *testing.T) {
	server := acmeServer(t)

	acme := getJSON[catalogResponse](t, server, "/api/v1/catalog?project=acme")
	if len(acme.Apps) != 1 || acme.Apps[0] != "acme" || len(acme.Events) != 1 || acme.Events[0].Name != "app_started" {
		t.Errorf("catalog of project acme: apps %v, %d events, want acme's app_started alone", acme.Apps, len(acme.Events))
	}
	var tier bool
	for _, p := range acme.Events[0].Properties {
		tier = tier || p.Name == "tier"
	}
	if !tier {
		t.Errorf("acme's app_started lacks its property tier: %+v", acme.Events[0].Properties)
	}
	all := getJSON[catalogResponse](t, server, "/api/v1/catalog?project=")
	if len(all.Apps) != 2 || len(all.Events) <= 1 {
		t.Errorf("catalog of every project: apps %v, %d events, want both catalogs", all.Apps, len(all.Events))
	}

	checkResponses(t, server, []responseCase{
		{"/api/v1/catalog?project=nope", http.StatusNotFound, `unknown project \"nope\"`},
		{"/api/v1/catalog?event=app_started", http.StatusBadRequest, `unknown parameter \"event\"`},
	})
}

// TestConditionOfEveryProject selects events of all projects by a
// property that only one catalog declares for a shared event name.
func TestConditionOfEveryProject(t *testing.T) {
	server := acmeServer(t)
	checkResponses(t, server, []responseCase{
		{"/api/v1/trends?event=app_started&where=first=true", http.StatusOK, ""},
		{"/api/v1/funnel?step=app_started[first=true]&step=message_sent", http.StatusOK, ""},
		{"/api/v1/trends?event=app_started&where=first=maybe", http.StatusBadRequest, "true or false"},
		{"/api/v1/trends?project=mux&event=app_started&where=first=true", http.StatusBadRequest, `unknown condition property \"first\"`},
	})
}

// TestCatalogOfEveryProjectMergesEvents lists the catalog of every project
// and fills the page of every project, where app_started is declared by
// two catalogs. The listing offers what the API accepts in a query of
// every project: acme's tier, but not isFirstLaunch, which the catalogs
// give different classes.
func TestCatalogOfEveryProjectMergesEvents(t *testing.T) {
	server := acmeServer(t)

	all := getJSON[catalogResponse](t, server, "/api/v1/catalog?project=")
	properties := map[string]bool{} // breakdown of each property of app_started
	for _, event := range all.Events {
		if event.Name != "app_started" {
			continue
		}
		for _, p := range event.Properties {
			properties[p.Name] = p.Breakdown
		}
	}
	if breakdown, ok := properties["tier"]; !ok || !breakdown {
		t.Errorf("app_started of every project: tier listed %v, breakdown %v; want it listed as a breakdown", ok, breakdown)
	}
	if breakdown := properties["isFirstLaunch"]; breakdown {
		t.Errorf("app_started of every project offers isFirstLaunch as a breakdown, which the API rejects there")
	}

	_, page := send(t, server, http.MethodGet, "/?project=&event=app_started", withBearer(adminToken))
	if !strings.Contains(page, `value="tier"`) {
		t.Errorf("page of every project offers no breakdown by tier")
	}
	if strings.Contains(page, `value="isFirstLaunch"`) {
		t.Errorf("page of every project offers a breakdown by isFirstLaunch, which the API rejects there")
	}
	checkResponses(t, server, []responseCase{
		{"/api/v1/trends?project=&event=app_started&breakdown=tier", http.StatusOK, ""},
	})
}

// TestPageLinksEveryProject checks that the dashboard of several projects
// links to each of them and to all of them, with the current one marked
// and the filters kept, and that a single project gets no links.
func TestPageLinksEveryProject(t *testing.T) {
	server := acmeServer(t)
	path := "/?project=acme&from=2024-05-01&to=2024-05-31&platform=linux&breakdown=tier"
	response, page := send(t, server, http.MethodGet, path, withBearer(adminToken))
	if response.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200", path, response.StatusCode)
	}
	want := []string{
		`<nav class="presets" id="project-links" aria-label="Projects">`,
		`<a href="/?from=2024-05-01&amp;platform=linux&amp;project=mux&amp;to=2024-05-31">mux</a>`,
		`<a href="/?from=2024-05-01&amp;platform=linux&amp;project=acme&amp;to=2024-05-31" aria-current="page">acme</a>`,
		`<a href="/?from=2024-05-01&amp;platform=linux&amp;project=&amp;to=2024-05-31">All projects</a>`,
	}
	for _, text := range want {
		if !strings.Contains(page, text) {
			t.Errorf("GET %s: page does not contain %s", path, text)
		}
	}

	single := startServer(t, dashboard.Config{Store: storeWith(t, nil), KAnonymity: 1})
	_, page = send(t, single, http.MethodGet, "/", withBearer(adminToken))
	if strings.Contains(page, `id="project-links"`) {
		t.Error("dashboard of one project links to projects, want no project links")
	}
}

// TestAllProjectsSkipUnconfigured stores the fixture events, whose project
// other is left out of the config as after its removal, and checks that
// the routes without a project parameter count project mux alone.
func TestAllProjectsSkipUnconfigured(t *testing.T) {
	server := startServer(t, dashboard.Config{
		Store:      storeWith(t, fixtureEvents()),
		KAnonymity: 1,
		Projects:   []dashboard.Project{{Name: "mux", Catalog: mux.Catalog()}},
	})
	const dates = "from=2024-05-01&to=2024-05-05"

	overview := getJSON[store.Overview](t, server, "/api/v1/overview?"+dates)
	if overview.TotalEvents != 12 {
		t.Errorf("overview total_events = %d, want 12 (the events of project mux)", overview.TotalEvents)
	}
	if overview.Installs != 3 {
		t.Errorf("overview installs = %d, want 3 (the installs of project mux)", overview.Installs)
	}

	_, body := send(t, server, http.MethodGet, "/api/v1/overview?"+dates+"&format=csv", withBearer(adminToken))
	if strings.Contains(body, "freebsd") || strings.Contains(body, "2.0.0") {
		t.Errorf("overview CSV contains the platform or version of project other:\n%s", body)
	}
}
