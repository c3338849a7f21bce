package catalog_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

func TestMarkdownMuxLines(t *testing.T) {
	c := mux.Catalog()
	page := string(c.Markdown())
	lines := []string{
		"# Event catalog: mux",
		"## Privacy classes",
		"- `base2`: A number rounded up to a power of two, so 350 becomes 512 and 0.3 becomes 0.5. Zero and negative numbers become 0.",
		"- `count`: A whole number, rounded down and clamped to the range from 0 to the listed max.",
		"## Base properties",
		"| `version` | string | `version` | optional | Application version. |",
		"| `$feature/<flag>` | string, boolean or null | `variant` | optional | Variant of the feature flag or experiment named after the slash that this install was assigned, one property per active flag. |",
		"| [`message_sent`](#message_sent) | The user sent a message to a model. |",
		"### `message_sent`",
		"The user sent a message to a model.",
		"| property | type | privacy class | required | meaning |",
		"| `workspaceId` | string | `random_id` | required | Random ID of the workspace. |",
		"| `agentId` | string | `identifier` | optional | Agent (mode) such as plan, exec or explore. |",
		"| `message_length_b2` | number | `base2` | required | Message length in characters, rounded up to a power of two. |",
		"| `runtimeType` | string | `enum`: `local`, `worktree`, `ssh`, `docker`, `devcontainer` | required | Where the workspace runs. |",
		"| `frontendPlatform` | object | `object` | required | The UI's browser and OS family. |",
		"| `frontendPlatform.userAgent` | string | `user_agent` | required | Browser family, major version and OS family, reduced from the user agent. |",
		"| `frontendPlatform.platform` | string | `platform` | required | OS family, reduced from navigator.platform. |",
		"| `mcp_tool_count` | number | `count`, max 1000 | required | Tools offered by MCP servers. |",
		"| `tool_percent_bucket` | number | `bucket`, edges 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100 | required | Share of the time spent in tools, in percent, bucketed to tens. |",
		"| `tool_allowlist_size_b2` | number | `base2` | optional | Allowlisted tools, rounded up to a power of two; only with set_tool_allowlist. |",
		"| `assignedVariant` | string, boolean or null | `variant` | required | Variant the install was assigned: a name, a bool or null. |",
		"| `command` | string | `enum`: `clear`, `clear:hard`, `clear:soft`, `compact`, `new`, `fork`, `vim`, `model`, `mode`, `plan`, `providers`, `goal`, `btw`, `workflow` | required | The command's name. |",
		"## Dashboard panels",
		"- **New installs**, a trend of installs per period: the installs that sent [`app_started`](#app_started) where `isFirstLaunch` is `true`. " +
			"The New installs total at the top of the dashboard counts them over the whole date range.",
		"  1. [`app_started`](#app_started) where `isFirstLaunch` is `true`",
		"  2. [`workspace_created`](#workspace_created)",
		"  3. [`message_sent`](#message_sent)",
		"- **Errors**, a trend of events and installs per period: the [`error_occurred`](#error_occurred) events and the installs that sent them, " +
			"by `errorType` over time, and by `errorType` and `context` over the whole date range.",
	}
	for _, want := range lines {
		if !strings.Contains("\n"+page, "\n"+want+"\n") {
			t.Errorf("Markdown() lacks the line\n%s", want)
		}
	}
	fingerprint := "\nCatalog fingerprint: `" + c.Fingerprint() + "`."
	if !strings.Contains(page, fingerprint) {
		t.Errorf("Markdown() lacks a line starting with %q", fingerprint[1:])
	}
}

func TestMarkdownEventOrder(t *testing.T) {
	c := mux.Catalog()
	page := string(c.Markdown())
	last := -1
	for _, e := range c.Events {
		heading := "\n### `" + e.Name + "`\n"
		if n := strings.Count(page, heading); n != 1 {
			t.Fatalf("Markdown() has %d headings for event %q, want 1", n, e.Name)
		}
		at := strings.Index(page, heading)
		if at < last {
			t.Errorf("Markdown() puts event %q before the event registered before it", e.Name)
		}
		last = at
	}
}

func TestMarkdownEveryProperty(t *testing.T) {
	c := mux.Catalog()
	page := string(c.Markdown())
	for i, e := range c.Events {
		section := page[strings.Index(page, "### `"+e.Name+"`"):]
		if i+1 < len(c.Events) {
			section = section[:strings.Index(section, "### `"+c.Events[i+1].Name+"`")]
		}
		for _, p := range e.Properties {
			row := "| `" + p.Name + "` | "
			if !strings.Contains(section, row) {
				t.Errorf("Markdown() section of %q has no row for property %q", e.Name, p.Name)
			}
		}
	}
}

func TestMarkdownDeterministic(t *testing.T) {
	c := mux.Catalog()
	first := c.Markdown()
	for range 5 {
		if !bytes.Equal(c.Markdown(), first) {
			t.Fatal("Markdown() returned different pages for the same catalog")
		}
	}
}

func TestMarkdownEscapesTableCells(t *testing.T) {
	c := parseCatalog(t, `{
	  "app": "edge",
	  "events": [
	    {"name": "quiet", "description": "No properties at all."},
	    {"name": "odd", "description": "Has a pipe | and\na newline.", "properties": [
	      {"name": "kind", "class": "enum", "type": "string", "values": ["a|b", "c"], "description": "Either a|b\nor c."},
	      {"name": "tick", "class": "enum", "type": "string", "values": ["tick\u0060value"]}
	    ]}
	  ]
	}`)
	page := string(c.Markdown())
	lines := []string{
		"# Event catalog: edge",
		"This event has no properties.",
		"Has a pipe | and a newline.",
		"| [`odd`](#odd) | Has a pipe \\| and a newline. |",
		"| `kind` | string | `enum`: `a\\|b`, `c` | required | Either a\\|b or c. |",
		"| `tick` | string | `enum`: `` tick`value `` | required |  |",
	}
	for _, want := range lines {
		if !strings.Contains("\n"+page, "\n"+want+"\n") {
			t.Errorf("Markdown() lacks the line\n%s\nin\n%s", want, page)
		}
	}
}

func TestMarkdownEmptyCatalog(t *testing.T) {
	page := string(catalog.New("empty").Markdown())
	if !strings.Contains(page, "The catalog has no events.\n") {
		t.Errorf("Markdown() of an empty catalog does not say it has no events:\n%s", page)
	}
}

func TestMarkdownDashboardDeclared(t *testing.T) {
	c := gameCatalog(t)
	c.MustSetDashboard(gameDashboard)
	page := string(c.Markdown())
	lines := []string{
		"- **New installs**, a trend of installs per period: the installs that sent [`game_launched`](#game_launched) where `firstRun` is `true`. " +
			"The New installs total at the top of the dashboard counts them over the whole date range.",
		"- **Funnel**, a funnel of installs per step: the steps the panel opens with, until the viewer types others. " +
			"An install reaches a step when it sends that step's event after reaching the step before, " +
			"within a time window from its first step that the viewer picks.",
		"  1. [`game_launched`](#game_launched) where `firstRun` is `true` and `mode` is `duo`",
		"  2. [`level_finished`](#level_finished) where `device.gpu` is `m3`",
		"  3. [`game_crashed`](#game_crashed) where `version` is `1.2.0`",
		"- **Errors**, a trend of events and installs per period: the [`game_crashed`](#game_crashed) events and the installs that sent them, " +
			"by `kind` over time, and by `kind` and `scene` over the whole date range.",
	}
	for _, want := range lines {
		if !strings.Contains("\n"+page, "\n"+want+"\n") {
			t.Errorf("Markdown() lacks the line\n%s\nin\n%s", want, page)
		}
	}
}

func TestMarkdownDashboardPartial(t *testing.T) {
	c := gameCatalog(t)
	c.MustSetDashboard(catalog.Dashboard{
		FirstLaunchEvent: "game_launched",
		ErrorEvent:       "game_crashed",
		ErrorBreakdown:   []string{"scene"},
	})
	page := string(c.Markdown())
	lines := []string{
		"- **New installs**, a trend of installs per period: the installs that sent [`game_launched`](#game_launched). " +
			"Every `game_launched` event counts as a first launch. " +
			"The New installs total at the top of the dashboard counts them over the whole date range.",
		"- **Funnel**: not declared, so the panel states what is missing instead of showing a chart.",
		"- **Errors**, a trend of events and installs per period: the [`game_crashed`](#game_crashed) events and the installs that sent them, " +
			"by `scene` over time and over the whole date range.",
	}
	for _, want := range lines {
		if !strings.Contains("\n"+page, "\n"+want+"\n") {
			t.Errorf("Markdown() lacks the line\n%s\nin\n%s", want, page)
		}
	}
}

func TestMarkdownDashboardUndeclared(t *testing.T) {
	page := string(gameCatalog(t).Markdown())
	for _, title := range []string{"New installs", "Funnel", "Errors"} {
		want := "\n- **" + title + "**: not declared, so the panel states what is missing instead of showing a chart.\n"
		if !strings.Contains(page, want) {
			t.Errorf("Markdown() of a catalog without a dashboard declaration lacks the line%s", want)
		}
	}
}

func TestMarkdownDashboardBeforeEvents(t *testing.T) {
	page := string(mux.Catalog().Markdown())
	dashboard := strings.Index(page, "\n## Dashboard panels\n")
	base := strings.Index(page, "\n## Base properties\n")
	events := strings.Index(page, "\n## Events\n")
	if dashboard < 0 {
		t.Fatal("Markdown() has no Dashboard panels section")
	}
	if dashboard < base || dashboard > events {
		t.Errorf("Markdown() puts the Dashboard panels section at %d, want it between Base properties (%d) and Events (%d)",
			dashboard, base, events)
	}
}

// parseCatalog parses a catalog written as JSON and fails the test on error.
func parseCatalog(t *testing.T, data string) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Parse([]byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// GitHub gives a heading whose anchor an earlier heading took the anchor
// with -1, -2 and so on appended, so the links must too.
func TestMarkdownAnchorsOfCollidingNames(t *testing.T) {
	c := parseCatalog(t, `{
	  "app": "clash",
	  "events": [
	    {"name": "events", "properties": [{"name": "n", "class": "bool"}]},
	    {"name": "ab", "properties": []},
	    {"name": "a.b", "properties": []},
	    {"name": "AB", "properties": [{"name": "n", "class": "bool"}]},
	    {"name": "dashboard-panels", "properties": []}
	  ],
	  "dashboard": {"funnel": ["ab", "AB[n=true]"], "error_event": "events", "error_breakdown": ["n"]}
	}`)
	page := string(c.Markdown())
	lines := []string{
		"| [`events`](#events-1) |  |",
		"| [`ab`](#ab) |  |",
		"| [`a.b`](#ab-1) |  |",
		"| [`AB`](#ab-2) |  |",
		"| [`dashboard-panels`](#dashboard-panels-1) |  |",
		"  1. [`ab`](#ab)",
		"  2. [`AB`](#ab-2) where `n` is `true`",
		"- **Errors**, a trend of events and installs per period: the [`events`](#events-1) events and the installs that sent them, by `n` over time and over the whole date range.",
	}
	for _, want := range lines {
		if !strings.Contains("\n"+page, "\n"+want+"\n") {
			t.Errorf("Markdown() lacks the line\n%s\nin\n%s", want, page)
		}
	}
}
