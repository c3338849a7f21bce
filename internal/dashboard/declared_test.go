package dashboard_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

// gameStarted, roundPlayed and gameCrashed are the events of the game
// catalog, an app with its own names for first launches and errors.
type gameStarted struct {
	FirstRun bool `json:"firstRun" candor:"bool"`
}

type roundPlayed struct {
	Mode string `json:"mode" candor:"enum=solo|duo"`
}

type gameCrashed struct {
	Kind  string `json:"kind" candor:"identifier"`
	Scene string `json:"scene" candor:"enum=menu|round"`
}

func (gameStarted) EventName() string { return "game_started" }
func (roundPlayed) EventName() string { return "round_played" }
func (gameCrashed) EventName() string { return "game_crashed" }

// gameCatalog returns the game catalog with d as its declaration.
func gameCatalog(t *testing.T, d catalog.Dashboard) *catalog.Catalog {
	t.Helper()
	c := catalog.New("game")
	c.MustRegister(gameStarted{}, "The game started.")
	c.MustRegister(roundPlayed{}, "A round was played.")
	c.MustRegister(gameCrashed{}, "The game crashed.")
	if err := c.SetDashboard(d); err != nil {
		t.Fatalf("SetDashboard: %v", err)
	}
	return c
}

// gameDeclared is the declaration of the game catalog in most tests.
var gameDeclared = catalog.Dashboard{
	FirstLaunchEvent:    "game_started",
	FirstLaunchProperty: "firstRun",
	Funnel:              []string{"game_started[firstRun=true]", "round_played[mode=duo]"},
	ErrorEvent:          "game_crashed",
	ErrorBreakdown:      []string{"kind", "scene"},
}

// gameEvents is the dataset of the game project, all on 2024-05-01:
//
//	install  events
//	g1       game_started firstRun, round_played duo, game_crashed Panic in round
//	g2       game_started firstRun, round_played solo
//	g3       game_started (not the first run), game_crashed Panic in round,
//	         game_crashed Freeze in menu
func gameEvents() []store.Event {
	rows := []struct {
		install, name string
		properties    map[string]any
	}{
		{"g1", "game_started", map[string]any{"firstRun": true}},
		{"g1", "round_played", map[string]any{"mode": "duo"}},
		{"g1", "game_crashed", map[string]any{"kind": "Panic", "scene": "round"}},
		{"g2", "game_started", map[string]any{"firstRun": true}},
		{"g2", "round_played", map[string]any{"mode": "solo"}},
		{"g3", "game_started", map[string]any{"firstRun": false}},
		{"g3", "game_crashed", map[string]any{"kind": "Panic", "scene": "round"}},
		{"g3", "game_crashed", map[string]any{"kind": "Freeze", "scene": "menu"}},
	}
	events := make([]store.Event, len(rows))
	for i, r := range rows {
		at := time.Date(2024, time.May, 1, 10, i, 0, 0, time.UTC)
		events[i] = store.Event{
			Project:    "game",
			UUID:       fmt.Sprintf("00000000-0000-4000-b000-%012d", i),
			Name:       r.name,
			DistinctID: r.install,
			Timestamp:  at,
			ReceivedAt: at,
			Properties: r.properties,
		}
	}
	return events
}

// startGameServer serves the Mux product events and the game events, with
// the projects mux and game and k-anonymity off.
func startGameServer(t *testing.T, project string, game *catalog.Catalog) *httptest.Server {
	t.Helper()
	return startServer(t, dashboard.Config{
		Store:      storeWith(t, append(productEvents(), gameEvents()...)),
		Project:    project,
		KAnonymity: 1,
		Projects:   []dashboard.Project{{Name: "mux", Catalog: mux.Catalog()}, {Name: "game", Catalog: game}},
	})
}

// undeclaredResponse is the JSON body of a 409 response.
type undeclaredResponse struct {
	Error      string `json:"error"`
	Undeclared string `json:"undeclared"`
}

// getUndeclared requests path and checks that it gets 409 with a JSON body
// that names the part.
func getUndeclared(t *testing.T, server *httptest.Server, path, part string) undeclaredResponse {
	t.Helper()
	decoded := getJSONStatus[undeclaredResponse](t, server, path, http.StatusConflict)
	if decoded.Undeclared != part {
		t.Errorf("GET %s undeclared = %q, want %q", path, decoded.Undeclared, part)
	}
	return decoded
}

func checkContains(t *testing.T, what, text string, parts ...string) {
	t.Helper()
	for _, part := range parts {
		if !strings.Contains(text, part) {
			t.Errorf("%s %q does not contain %q", what, text, part)
		}
	}
}

func TestDeclaredPanelsOfCustomProject(t *testing.T) {
	server := startGameServer(t, "game", gameCatalog(t, gameDeclared))

	checkRows(t, server, "/api/v1/new_installs?interval=all", []map[string]any{
		row("period", "", "installs", 2),
	})
	checkRows(t, server, "/api/v1/funnel", []map[string]any{
		row("step", 1, "event", "game_started[firstRun=true]", "installs", 2, "conversion", 1.0, "step_conversion", 1.0),
		row("step", 2, "event", "round_played[mode=duo]", "installs", 1, "conversion", 0.5, "step_conversion", 0.5),
	})
	checkRows(t, server, "/api/v1/errors?interval=all", []map[string]any{
		row("period", "", "kind", "Freeze", "scene", "menu", "events", 1, "installs", 1),
		row("period", "", "kind", "Panic", "scene", "round", "events", 2, "installs", 2),
	})
	checkRows(t, server, "/api/v1/errors?interval=all&breakdown=scene", []map[string]any{
		row("period", "", "scene", "menu", "events", 1, "installs", 1),
		row("period", "", "scene", "round", "events", 2, "installs", 2),
	})

	// The breakdown parameter names properties of the declared error
	// event, not of Mux's error_occurred.
	response, body := send(t, server, http.MethodGet, "/api/v1/errors?breakdown=errorType", withBearer(adminToken))
	if response.StatusCode != http.StatusBadRequest {
		t.Errorf("errors by errorType for the game: status %d, want 400; body: %s", response.StatusCode, body)
	}
	checkContains(t, "error", body, "unknown breakdown property", "errorType", "game_crashed")
}

// TestFirstLaunchWithoutProperty counts every first-launch event when the
// declaration names no property.
func TestFirstLaunchWithoutProperty(t *testing.T) {
	server := startGameServer(t, "game", gameCatalog(t, catalog.Dashboard{FirstLaunchEvent: "game_started"}))
	checkRows(t, server, "/api/v1/new_installs?interval=all", []map[string]any{
		row("period", "", "installs", 3),
	})
}

// TestMuxProjectNextToCustom checks that the Mux project keeps its
// panels when another project has a catalog of its own.
func TestMuxProjectNextToCustom(t *testing.T) {
	for _, game := range []catalog.Dashboard{gameDeclared, {}} {
		server := startGameServer(t, "mux", gameCatalog(t, game))
		checkMuxDeclaredPanels(t, server)
	}
}

// checkMuxDeclaredPanels checks that the new installs, funnel and errors
// panels that the Mux catalog declares count the Mux events of
// productEvents only.
func checkMuxDeclaredPanels(t *testing.T, server *httptest.Server) {
	t.Helper()
	checkRows(t, server, "/api/v1/new_installs?"+productRange+"&interval=all", []map[string]any{
		row("period", "", "installs", 3),
	})
	checkRows(t, server, "/api/v1/funnel?"+productRange, []map[string]any{
		row("step", 1, "event", "app_started[isFirstLaunch=true]", "installs", 3, "conversion", 1.0, "step_conversion", 1.0),
		row("step", 2, "event", "workspace_created", "installs", 2, "conversion", 2.0/3, "step_conversion", 2.0/3),
		row("step", 3, "event", "message_sent", "installs", 2, "conversion", 2.0/3, "step_conversion", 1.0),
	})
	checkRows(t, server, "/api/v1/errors?"+productRange+"&interval=all", []map[string]any{
		row("period", "", "errorType", "GitError", "context", "git-operation", "events", 1, "installs", 1),
		row("period", "", "errorType", "TypeError", "context", "message-send", "events", 2, "installs", 2),
	})
}

func TestUndeclaredPanelsOfCustomProject(t *testing.T) {
	server := startGameServer(t, "game", gameCatalog(t, catalog.Dashboard{}))

	body := getUndeclared(t, server, "/api/v1/new_installs", "first_launch")
	checkContains(t, "new_installs error", body.Error, `project "game" declares no first-launch event`,
		"FirstLaunchEvent", `"first_launch_event"`, `"dashboard" object`)
	body = getUndeclared(t, server, "/api/v1/funnel", "funnel")
	checkContains(t, "funnel error", body.Error, `project "game" declares no default funnel`, "step parameters", `"funnel"`)
	body = getUndeclared(t, server, "/api/v1/errors?interval=all", "errors")
	checkContains(t, "errors error", body.Error, `project "game" declares no error event`,
		"ErrorEvent and ErrorBreakdown", `"error_event" and "error_breakdown"`)

	// Downloads get the same response, because there is no file to send.
	getUndeclared(t, server, "/api/v1/errors?format=csv", "errors")
	getUndeclared(t, server, "/api/v1/new_installs?format=parquet", "first_launch")

	// A funnel with its steps needs no declaration.
	checkRows(t, server, "/api/v1/funnel?step=game_started&step=round_played", []map[string]any{
		row("step", 1, "event", "game_started", "installs", 3, "conversion", 1.0, "step_conversion", 1.0),
		row("step", 2, "event", "round_played", "installs", 2, "conversion", 2.0/3, "step_conversion", 2.0/3),
	})
	// A parameter error is still a 400.
	response, _ := send(t, server, http.MethodGet, "/api/v1/new_installs?interval=hourly", withBearer(adminToken))
	if response.StatusCode != http.StatusBadRequest {
		t.Errorf("new_installs with an invalid interval: status %d, want 400", response.StatusCode)
	}
}

// TestAllProjectsDeclarations checks the view of all projects: it uses
// the declaration that the declaring projects agree on.
func TestAllProjectsDeclarations(t *testing.T) {
	// The game declares nothing, so the Mux declaration applies, and the
	// view counts as it did with the Mux project alone.
	server := startGameServer(t, "", gameCatalog(t, catalog.Dashboard{}))
	checkRows(t, server, "/api/v1/new_installs?"+productRange+"&interval=all", []map[string]any{
		row("period", "", "installs", 3),
	})
	checkRows(t, server, "/api/v1/errors?"+productRange+"&interval=all", []map[string]any{
		row("period", "", "errorType", "GitError", "context", "git-operation", "events", 1, "installs", 1),
		row("period", "", "errorType", "TypeError", "context", "message-send", "events", 2, "installs", 2),
	})
	// Two different declarations leave the choice to the request.
	server = startGameServer(t, "", gameCatalog(t, gameDeclared))
	for path, part := range map[string]string{
		"/api/v1/new_installs": "first_launch",
		"/api/v1/funnel":       "funnel",
		"/api/v1/errors":       "errors",
	} {
		body := getUndeclared(t, server, path, part)
		checkContains(t, path+" error", body.Error, `the projects "mux", "game" declare different`, "project=mux")
	}
	checkRows(t, server, "/api/v1/new_installs?interval=all&project=game", []map[string]any{
		row("period", "", "installs", 2),
	})
}

// TestAllProjectsSkipUndeclaring checks that the view of all projects
// counts the declared panels only over the projects that declare them,
// even when another project sends events of the same names.
func TestAllProjectsSkipUndeclaring(t *testing.T) {
	notes := catalog.New("notes")
	notes.MustRegister(mux.AppStarted{}, "The app started.")
	notes.MustRegister(mux.WorkspaceCreated{}, "A workspace was created.")
	notes.MustRegister(mux.MessageSent{}, "A message was sent.")
	notes.MustRegister(mux.ErrorOccurred{}, "An operation failed.")

	at := time.Date(2024, time.May, 2, 10, 0, 0, 0, time.UTC)
	var events []store.Event
	for i, e := range []struct {
		name       string
		properties map[string]any
	}{
		{"app_started", map[string]any{"isFirstLaunch": true}},
		{"workspace_created", map[string]any{}},
		{"message_sent", map[string]any{}},
		{"error_occurred", map[string]any{"errorType": "GitError", "context": "git-operation"}},
	} {
		events = append(events, store.Event{
			Project:    "notes",
			UUID:       fmt.Sprintf("00000000-0000-4000-c000-%012d", i),
			Name:       e.name,
			DistinctID: "n1",
			Timestamp:  at,
			ReceivedAt: at,
			Properties: e.properties,
		})
	}
	server := startServer(t, dashboard.Config{
		Store:      storeWith(t, append(productEvents(), events...)),
		KAnonymity: 1,
		Projects:   []dashboard.Project{{Name: "mux", Catalog: mux.Catalog()}, {Name: "notes", Catalog: notes}},
	})

	// The counts are those of the Mux project alone.
	checkMuxDeclaredPanels(t, server)

	// A funnel with its own steps needs no declaration and counts every project.
	checkRows(t, server, "/api/v1/funnel?"+productRange+"&step=app_started[isFirstLaunch=true]&step=workspace_created", []map[string]any{
		row("step", 1, "event", "app_started[isFirstLaunch=true]", "installs", 4, "conversion", 1.0, "step_conversion", 1.0),
		row("step", 2, "event", "workspace_created", "installs", 3, "conversion", 3.0/4, "step_conversion", 3.0/4),
	})
}

func TestNoProjectDeclares(t *testing.T) {
	server := startServer(t, dashboard.Config{
		Store:    storeWith(t, gameEvents()),
		Projects: []dashboard.Project{{Name: "game", Catalog: gameCatalog(t, catalog.Dashboard{})}},
	})
	body := getUndeclared(t, server, "/api/v1/new_installs", "first_launch")
	checkContains(t, "error", body.Error, `project "game" declares no first-launch event`)
}

func TestNewRejectsInvalidDeclaration(t *testing.T) {
	tests := []struct {
		name string
		d    catalog.Dashboard
		want string
	}{
		{"first-launch property not bool", catalog.Dashboard{FirstLaunchEvent: "round_played", FirstLaunchProperty: "mode"}, `first-launch property "mode"`},
		{"unknown funnel property", catalog.Dashboard{Funnel: []string{"game_started[level=1]", "round_played"}}, `invalid step "game_started[level=1]"`},
		{"funnel of one step", catalog.Dashboard{Funnel: []string{"game_started"}}, "funnel of 1 step:"},
		{"error breakdown of three", catalog.Dashboard{ErrorEvent: "game_crashed", ErrorBreakdown: []string{"kind", "scene", "firstRun"}}, "give 1 to 2"},
		{"unknown error property", catalog.Dashboard{ErrorEvent: "game_crashed", ErrorBreakdown: []string{"errorType"}}, `unknown breakdown property "errorType"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			game := gameCatalog(t, catalog.Dashboard{})
			game.Dashboard = tt.d // set without the checks of SetDashboard
			_, err := dashboard.New(dashboard.Config{
				Store:      openStore(t),
				AdminToken: adminToken,
				Projects:   []dashboard.Project{{Name: "game", Catalog: game}},
			})
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			checkContains(t, "error", err.Error(), `project "game"`, tt.want)
		})
	}
}

func TestDeclarationLimitsMatchStore(t *testing.T) {
	if catalog.MaxFunnelSteps != store.MaxFunnelSteps {
		t.Errorf("catalog.MaxFunnelSteps = %d, want store.MaxFunnelSteps %d", catalog.MaxFunnelSteps, store.MaxFunnelSteps)
	}
	if catalog.MaxErrorBreakdown != store.MaxBreakdown {
		t.Errorf("catalog.MaxErrorBreakdown = %d, want store.MaxBreakdown %d", catalog.MaxErrorBreakdown, store.MaxBreakdown)
	}
}

// TestPageDeclaredTexts checks the panel texts that the page takes from
// the declaration. Mux's are as they were before declarations existed,
// except the funnel hint's example, now a step of Mux's funnel. The game's
// follow its names, and a project that declares nothing gets none.
func TestPageDeclaredTexts(t *testing.T) {
	tests := []struct {
		project string
		game    catalog.Dashboard
		want    []string
		absent  []string
	}{
		{"mux", catalog.Dashboard{}, []string{
			`<p class="panel-hint">Installs with their first launch (app_started with isFirstLaunch) in the period.</p>`,
			`value="app_started[isFirstLaunch=true] &gt; workspace_created &gt; message_sent"`,
			`data-breakdown="errorType,context" data-row-label="Error type"`,
			`<p class="panel-hint">error_occurred by errorType over time, and by errorType and context over the whole range. Each table cell shows events (installs).</p>`,
			`aria-label="Stacked bar chart of errors per period by error type"`,
			`<caption>Errors by type and context</caption>`,
			`Add conditions in brackets, such as app_started[isFirstLaunch=true],`,
		}, nil},
		{"game", catalog.Dashboard{
			FirstLaunchEvent: "game_started", Funnel: []string{"game_started", "round_played"},
			ErrorEvent: "game_crashed", ErrorBreakdown: []string{"kind"},
		}, []string{
			`Installs with their first launch (game_started) in the period.`,
			`value="game_started &gt; round_played"`,
			`data-breakdown="kind" data-row-label="Kind"`,
			`game_crashed by kind over time and over the whole range. Each table cell shows events (installs).`,
			`<caption>Errors by kind</caption>`,
			`Add conditions in brackets, such as event[property=value],`,
		}, nil},
		{"game", catalog.Dashboard{}, []string{
			`<p class="panel-hint">Installs with their first launch in the period.</p>`,
			`id="funnel-steps" name="steps" form="filters" value=""`,
			`data-breakdown="" data-row-label=""`,
			`aria-label="Stacked bar chart of errors per period"`,
			`<caption>Errors</caption>`,
			`Add conditions in brackets, such as event[property=value],`,
		}, []string{"error_occurred", "app_started"}},
	}
	for _, tt := range tests {
		server := startGameServer(t, tt.project, gameCatalog(t, tt.game))
		_, page := send(t, server, http.MethodGet, "/", withCookie(login(t, server)))
		for _, want := range tt.want {
			if !strings.Contains(page, want) {
				t.Errorf("page of project %s with game declaration %+v does not contain %s", tt.project, tt.game, want)
			}
		}
		for _, absent := range tt.absent {
			if strings.Contains(page, absent) {
				t.Errorf("page of project %s with game declaration %+v contains %s", tt.project, tt.game, absent)
			}
		}
	}
}

func TestUndeclaredBodyShape(t *testing.T) {
	server := startGameServer(t, "game", gameCatalog(t, catalog.Dashboard{}))
	response, body := send(t, server, http.MethodGet, "/api/v1/errors", withBearer(adminToken))
	if response.StatusCode != http.StatusConflict {
		t.Fatalf("status %d, want 409", response.StatusCode)
	}
	var keys map[string]any
	if err := json.Unmarshal([]byte(body), &keys); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	var names []string
	for name := range keys {
		names = append(names, name)
	}
	slices.Sort(names)
	if d := cmp.Diff([]string{"error", "undeclared"}, names); d != "" {
		t.Errorf("keys of the 409 body (-want +got):\n%s", d)
	}
}
