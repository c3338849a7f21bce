package catalog_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

// gameLaunched, levelFinished and gameCrashed are the events of the game
// catalog that the dashboard declaration tests use.
type gameLaunched struct {
	FirstRun bool   `json:"firstRun" candor:"bool"`
	Mode     string `json:"mode" candor:"enum=solo|duo"`
	Session  string `json:"sessionId" candor:"random_id"`
	Launches int    `json:"launches" candor:"count,max=100"`
}

type levelFinished struct {
	Level  int          `json:"level" candor:"count,max=50"`
	Device deviceDetail `json:"device" candor:"object"`
}

type deviceDetail struct {
	GPU string `json:"gpu" candor:"identifier"`
}

type gameCrashed struct {
	Kind  string `json:"kind" candor:"identifier"`
	Scene string `json:"scene" candor:"enum=menu|level|shop"`
}

func (gameLaunched) EventName() string  { return "game_launched" }
func (levelFinished) EventName() string { return "level_finished" }
func (gameCrashed) EventName() string   { return "game_crashed" }

func gameCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c := catalog.New("game")
	c.MustRegister(gameLaunched{}, "The game started.")
	c.MustRegister(levelFinished{}, "A level was finished.")
	c.MustRegister(gameCrashed{}, "The game crashed.")
	return c
}

// gameDashboard declares every part, with a nested and a base property.
var gameDashboard = catalog.Dashboard{
	FirstLaunchEvent:    "game_launched",
	FirstLaunchProperty: "firstRun",
	Funnel:              []string{"game_launched[firstRun=true, mode=duo]", "level_finished[device.gpu=m3]", "game_crashed[version=1.2.0]"},
	ErrorEvent:          "game_crashed",
	ErrorBreakdown:      []string{"kind", "scene"},
}

func TestSetDashboardStoresCopy(t *testing.T) {
	c := gameCatalog(t)
	declared := gameDashboard
	declared.Funnel = append([]string(nil), gameDashboard.Funnel...)
	if err := c.SetDashboard(declared); err != nil {
		t.Fatalf("SetDashboard: %v", err)
	}
	declared.Funnel[0] = "changed"
	if got := c.Dashboard; !reflect.DeepEqual(got, gameDashboard) {
		t.Errorf("Dashboard after changing the caller's slice = %+v, want %+v", got, gameDashboard)
	}
}

func TestSetDashboardPartsOptional(t *testing.T) {
	for _, d := range []catalog.Dashboard{
		{},
		{FirstLaunchEvent: "game_launched"},
		{Funnel: []string{"game_launched", "level_finished"}},
		{ErrorEvent: "game_crashed", ErrorBreakdown: []string{"kind"}},
		{ErrorEvent: "game_crashed", ErrorBreakdown: []string{"$os", "scene"}},
	} {
		if err := gameCatalog(t).SetDashboard(d); err != nil {
			t.Errorf("SetDashboard(%+v): %v", d, err)
		}
	}
}

func TestSetDashboardRejects(t *testing.T) {
	tests := []struct {
		name string
		d    catalog.Dashboard
		want []string // parts of the error message
	}{
		{"unknown first-launch event", catalog.Dashboard{FirstLaunchEvent: "app_started"},
			[]string{`first_launch_event "app_started"`, `catalog "game"`, "register the event first"}},
		{"unknown first-launch property", catalog.Dashboard{FirstLaunchEvent: "game_launched", FirstLaunchProperty: "isFirstLaunch"},
			[]string{`first_launch_property "isFirstLaunch"`, `event "game_launched"`, "bool properties"}},
		{"first-launch property not bool", catalog.Dashboard{FirstLaunchEvent: "game_launched", FirstLaunchProperty: "mode"},
			[]string{`first_launch_property "mode"`, "class enum, not bool", "name a bool property"}},
		{"first-launch property without event", catalog.Dashboard{FirstLaunchProperty: "firstRun"},
			[]string{`first_launch_property "firstRun" without first_launch_event`}},
		{"funnel of one step", catalog.Dashboard{Funnel: []string{"game_launched"}},
			[]string{"funnel of 1 step:", "give 2 to 10"}},
		{"funnel of eleven steps", catalog.Dashboard{Funnel: slices.Repeat([]string{"game_launched"}, 11)},
			[]string{"funnel of 11 steps"}},
		{"funnel step unknown event", catalog.Dashboard{Funnel: []string{"game_launched", "workspace_created"}},
			[]string{`funnel step "workspace_created"`, `event "workspace_created" is not an event of catalog "game"`}},
		{"funnel step without event", catalog.Dashboard{Funnel: []string{"[mode=duo]", "game_launched"}},
			[]string{`funnel step "[mode=duo]"`, "missing event name"}},
		{"funnel step unclosed", catalog.Dashboard{Funnel: []string{"game_launched[mode=duo", "level_finished"}},
			[]string{"unclosed conditions", "end them with ]"}},
		{"funnel condition without value", catalog.Dashboard{Funnel: []string{"game_launched[mode]", "level_finished"}},
			[]string{`invalid condition "mode"`, "property=value"}},
		{"funnel condition unknown property", catalog.Dashboard{Funnel: []string{"game_launched[isFirstLaunch=true]", "level_finished"}},
			[]string{`"isFirstLaunch" is neither a property of event "game_launched" nor a base property`}},
		{"funnel condition on a random id", catalog.Dashboard{Funnel: []string{"game_launched[sessionId=x]", "level_finished"}},
			[]string{`property "sessionId"`, "class random_id"}},
		{"funnel condition on an object", catalog.Dashboard{Funnel: []string{"level_finished[device=x]", "game_crashed"}},
			[]string{`property "device"`, "class object"}},
		{"funnel condition bool not true or false", catalog.Dashboard{Funnel: []string{"game_launched[firstRun=yes]", "level_finished"}},
			[]string{`condition "firstRun=yes"`, "true or false"}},
		{"funnel condition value not in enum", catalog.Dashboard{Funnel: []string{"game_launched[mode=trio]", "level_finished"}},
			[]string{`"trio" is not a value of enum "mode"`, "solo, duo"}},
		{"unknown error event", catalog.Dashboard{ErrorEvent: "error_occurred", ErrorBreakdown: []string{"kind"}},
			[]string{`error_event "error_occurred" is not an event of catalog "game"`}},
		{"error event without breakdown", catalog.Dashboard{ErrorEvent: "game_crashed"},
			[]string{`error_event "game_crashed" has 0 properties`, "name 1 or 2"}},
		{"error breakdown of three", catalog.Dashboard{ErrorEvent: "game_crashed", ErrorBreakdown: []string{"kind", "scene", "version"}},
			[]string{"has 3 properties"}},
		{"error breakdown twice", catalog.Dashboard{ErrorEvent: "game_crashed", ErrorBreakdown: []string{"kind", "kind"}},
			[]string{`names "kind" twice`}},
		{"error breakdown unknown property", catalog.Dashboard{ErrorEvent: "game_crashed", ErrorBreakdown: []string{"errorType"}},
			[]string{`"errorType" is neither a property of event "game_crashed"`}},
		{"error breakdown without event", catalog.Dashboard{ErrorBreakdown: []string{"kind"}},
			[]string{"without error_event"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := gameCatalog(t)
			err := c.SetDashboard(tt.d)
			if err == nil {
				t.Fatalf("SetDashboard(%+v) succeeded, want an error", tt.d)
			}
			if !strings.HasPrefix(err.Error(), "declare dashboard: ") {
				t.Errorf("error %q does not start with %q", err, "declare dashboard: ")
			}
			for _, part := range tt.want {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not contain %q", err, part)
				}
			}
			if got := c.Dashboard; !reflect.DeepEqual(got, catalog.Dashboard{}) {
				t.Errorf("Dashboard after a failed SetDashboard = %+v, want %+v", got, catalog.Dashboard{})
			}
		})
	}
}

func TestDashboardJSONRoundTrip(t *testing.T) {
	c := gameCatalog(t)
	c.MustSetDashboard(gameDashboard)
	data, err := c.MarshalIndent()
	if err != nil {
		t.Fatalf("MarshalIndent: %v", err)
	}
	for _, key := range []string{`"dashboard"`, `"first_launch_event": "game_launched"`, `"first_launch_property": "firstRun"`,
		`"funnel"`, `"error_event": "game_crashed"`, `"error_breakdown"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("catalog JSON has no %s:\n%s", key, data)
		}
	}
	parsed, err := catalog.Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := parsed.Dashboard; !reflect.DeepEqual(got, gameDashboard) {
		t.Errorf("Dashboard after the round trip = %+v, want %+v", got, gameDashboard)
	}
}

func TestDashboardJSONLeftOutWhenEmpty(t *testing.T) {
	data, err := gameCatalog(t).MarshalIndent()
	if err != nil {
		t.Fatalf("MarshalIndent: %v", err)
	}
	if strings.Contains(string(data), `"dashboard"`) {
		t.Errorf("catalog JSON without a declaration has a dashboard key:\n%s", data)
	}
}

// TestParseWithoutDashboard checks that a catalog file written before
// the dashboard declaration existed still loads.
func TestParseWithoutDashboard(t *testing.T) {
	file := `{"app": "old", "base_properties": [], "events": [
		{"name": "opened", "properties": [{"name": "first", "class": "bool", "type": "boolean"}]}]}`
	c, err := catalog.Parse([]byte(file))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := c.Dashboard; !reflect.DeepEqual(got, catalog.Dashboard{}) {
		t.Errorf("Dashboard of a file without one = %+v, want %+v", got, catalog.Dashboard{})
	}
}

func TestParseRejectsInvalidDashboard(t *testing.T) {
	tests := []struct {
		name, dashboard string
		want            []string
	}{
		{"unknown event", `{"first_launch_event": "started"}`,
			[]string{`parse catalog "old"`, `first_launch_event "started" is not an event of catalog "old"`}},
		{"property not bool", `{"first_launch_event": "opened", "first_launch_property": "screen"}`,
			[]string{`first_launch_property "screen" of event "opened" has class identifier, not bool`}},
		{"unknown funnel property", `{"funnel": ["opened[colour=red]", "opened"]}`,
			[]string{`funnel step "opened[colour=red]"`, `"colour" is neither a property`}},
		{"unknown error property", `{"error_event": "opened", "error_breakdown": ["code"]}`,
			[]string{`error_breakdown: "code" is neither a property of event "opened"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := `{"app": "old", "events": [{"name": "opened", "properties": [
				{"name": "first", "class": "bool", "type": "boolean"},
				{"name": "screen", "class": "identifier", "type": "string"}]}],
				"dashboard": ` + tt.dashboard + `}`
			checkParseError(t, file, tt.want...)
		})
	}
}

// TestFingerprintIgnoresDashboard checks that declaring the dashboard's
// events leaves the fingerprint alone, because the data the app sends
// stays the same.
func TestFingerprintIgnoresDashboard(t *testing.T) {
	c := gameCatalog(t)
	before := c.Fingerprint()
	c.MustSetDashboard(gameDashboard)
	if after := c.Fingerprint(); after != before {
		t.Errorf("Fingerprint changed from %s to %s by SetDashboard", before, after)
	}
}

func TestMuxDashboard(t *testing.T) {
	want := catalog.Dashboard{
		FirstLaunchEvent:    "app_started",
		FirstLaunchProperty: "isFirstLaunch",
		Funnel:              []string{"app_started[isFirstLaunch=true]", "workspace_created", "message_sent"},
		ErrorEvent:          "error_occurred",
		ErrorBreakdown:      []string{"errorType", "context"},
	}
	if got := mux.Catalog().Dashboard; !reflect.DeepEqual(got, want) {
		t.Errorf("Mux dashboard declaration = %+v, want %+v", got, want)
	}
}

func TestMustSetDashboardPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustSetDashboard with an unknown event did not panic")
		}
	}()
	gameCatalog(t).MustSetDashboard(catalog.Dashboard{ErrorEvent: "nope", ErrorBreakdown: []string{"kind"}})
}

func TestParseRejectsMistakes(t *testing.T) {
	tests := []struct {
		name, property string
		want           []string
	}{
		{"misspelled field", `{"name": "first", "class": "bool", "type": "boolean", "optinal": true}`,
			[]string{`unknown field "optinal"`}},
		{"type of another class", `{"name": "first", "class": "bool", "type": "number"}`,
			[]string{`property "first"`, `type "number" does not match class bool`, `"boolean"`}},
		{"nested type of another class", `{"name": "ui", "class": "object", "type": "object", "properties": [
			{"name": "agent", "class": "user_agent", "type": "boolean"}]}`,
			[]string{`event "opened" property "ui.agent"`, `type "boolean" does not match class user_agent`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := `{"app": "old", "events": [{"name": "opened", "properties": [` + tt.property + `]}]}`
			checkParseError(t, file, tt.want...)
		})
	}
}

func TestParseFillsMissingType(t *testing.T) {
	file := `{"app": "old", "events": [{"name": "opened", "properties": [{"name": "first", "class": "bool"}]}]}`
	c, err := catalog.Parse([]byte(file))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	def, _ := c.Lookup("opened")
	if got := def.Properties[0].Type; got != "boolean" {
		t.Errorf("type of a bool property without a type = %q, want boolean", got)
	}
}

// A condition value that the property's class never stores selects no
// event, so the funnel would show zeros without a word.
func TestSetDashboardRejectsUnstoredValues(t *testing.T) {
	tests := []struct {
		step string
		want []string
	}{
		{"level_finished[level=abc]", []string{`"abc"`, "not a number"}},
		{"level_finished[level=2.5]", []string{`"2.5"`, "count", "as 2"}},
		{"level_finished[level=70]", []string{`"70"`, "as 50"}},
		{"game_launched[launches=-1]", []string{`"-1"`, "as 0"}},
		{"level_finished[device.gpu=/home/ann]", []string{`"device.gpu"`, "looks_like_path"}},
		{"game_crashed[version=latest]", []string{`"version"`, "invalid_version"}},
	}
	for _, tt := range tests {
		t.Run(tt.step, func(t *testing.T) {
			err := gameCatalog(t).SetDashboard(catalog.Dashboard{Funnel: []string{"game_launched", tt.step}})
			if err == nil {
				t.Fatal("SetDashboard accepted a condition value that the class never stores")
			}
			for _, part := range tt.want {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not contain %q", err, part)
				}
			}
		})
	}
}

func TestSetDashboardAcceptsStoredValues(t *testing.T) {
	steps := []string{"level_finished[level=50]", "level_finished[level=0]", "game_launched[launches=7]",
		"level_finished[device.gpu=m3]", "game_crashed[version=1.2.0]", "game_crashed[kind=timeout]"}
	for _, step := range steps {
		if err := gameCatalog(t).SetDashboard(catalog.Dashboard{Funnel: []string{"game_launched", step}}); err != nil {
			t.Errorf("SetDashboard with the step %q: %v", step, err)
		}
	}
}

func TestCheckCondition(t *testing.T) {
	c := mux.Catalog()
	cases := []struct {
		event, condition string
		want             string // in the error; empty for none
	}{
		{"message_sent", "message_length_b2=512", ""},
		{"message_sent", "message_length_b2=350", "512"},
		{"message_sent", "thinkingLevel=high", ""},
		{"message_sent", "workspaceId=x", "cannot select or split"},
		{"message_sent", "version=1.2.3", ""},
		{"message_sendt", "model=m1", `"message_sendt" is not an event`},
	}
	for _, tt := range cases {
		err := c.CheckCondition(tt.event, tt.condition)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckCondition(%q, %q) = %v, want nil", tt.event, tt.condition, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("CheckCondition(%q, %q) = %v, want an error containing %q", tt.event, tt.condition, err, tt.want)
		}
	}
}
