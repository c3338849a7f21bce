package catalog_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

// checkoutV1 is the first version of a shop's checkout event.
type checkoutV1 struct {
	Method string   `json:"method" candor:"enum=card|cash|voucher"`
	Items  int      `json:"items" candor:"count,max=50"`
	Total  float64  `json:"total" candor:"bucket,edges=0|10|100"`
	Coupon string   `json:"coupon,omitempty" candor:"identifier,optional"`
	Gift   bool     `json:"gift" candor:"bool"`
	Store  string   `json:"store" candor:"identifier"`
	Device deviceV1 `json:"device" candor:"object"`
	Region string   `json:"region" candor:"identifier"`
	Note   string   `json:"note" candor:"identifier" doc:"Free note."`
}

type deviceV1 struct {
	Browser string `json:"browser" candor:"user_agent"`
	OS      string `json:"os" candor:"platform"`
}

// checkoutV2 is the next version of checkoutV1, with a change of each kind.
type checkoutV2 struct {
	Method   string   `json:"method" candor:"enum=card|cash|wallet"`
	Items    int      `json:"items" candor:"count,max=100"`
	Total    float64  `json:"total" candor:"bucket,edges=0|25|100"`
	Coupon   string   `json:"coupon" candor:"identifier"`
	Gift     *bool    `json:"gift,omitempty" candor:"bool,optional"`
	Device   deviceV2 `json:"device" candor:"object"`
	Region   string   `json:"region" candor:"enum=eu|us"`
	Note     string   `json:"note" candor:"identifier" doc:"Short note, such as gift-wrap."`
	Duration int      `json:"duration_b2" candor:"base2" doc:"Checkout time in seconds."`
}

type deviceV2 struct {
	Browser string `json:"browser" candor:"user_agent"`
	Screen  int    `json:"screen_b2" candor:"base2"`
}

type search struct {
	Results int `json:"results_b2" candor:"base2"`
}

type legacyPing struct{}

type refund struct {
	Reason string `json:"reason" candor:"enum=damaged|late,optional"`
	Amount int    `json:"amount" candor:"count,max=10"`
}

func (checkoutV1) EventName() string { return "checkout" }
func (checkoutV2) EventName() string { return "checkout" }
func (search) EventName() string     { return "search" }
func (legacyPing) EventName() string { return "legacy_ping" }
func (refund) EventName() string     { return "refund" }

func TestDiffEveryChange(t *testing.T) {
	old := catalog.New("shop")
	old.MustRegister(legacyPing{}, "A heartbeat.")
	old.MustRegister(checkoutV1{}, "A checkout finished.")
	old.MustRegister(search{}, "The user searched.")

	new := catalog.New("shop")
	new.MustRegister(checkoutV2{}, "A checkout finished or failed.")
	new.MustRegister(search{}, "The user searched.")
	new.MustRegister(refund{}, "An order was refunded.")

	want := []catalog.Change{
		{Kind: catalog.Removed, Event: "legacy_ping"},
		{Kind: catalog.Changed, Event: "checkout", Detail: `description "A checkout finished." → "A checkout finished or failed."`},
		{Kind: catalog.Removed, Event: "checkout", Property: "store"},
		{Kind: catalog.Changed, Event: "checkout", Property: "method", Detail: `enum values added: "wallet"`},
		{Kind: catalog.Changed, Event: "checkout", Property: "method", Detail: `enum values removed: "voucher"`},
		{Kind: catalog.Changed, Event: "checkout", Property: "items", Detail: "count max 50 → 100"},
		{Kind: catalog.Changed, Event: "checkout", Property: "total", Detail: "bucket edges 0|10|100 → 0|25|100"},
		{Kind: catalog.Changed, Event: "checkout", Property: "coupon", Detail: "now required, was optional"},
		{Kind: catalog.Changed, Event: "checkout", Property: "gift", Detail: "now optional, was required"},
		{Kind: catalog.Removed, Event: "checkout", Property: "device.os"},
		{Kind: catalog.Added, Event: "checkout", Property: "device.screen_b2", Detail: "base2"},
		{Kind: catalog.Changed, Event: "checkout", Property: "region", Detail: "class identifier → enum=eu|us"},
		{Kind: catalog.Changed, Event: "checkout", Property: "note", Detail: `description "Free note." → "Short note, such as gift-wrap."`},
		{Kind: catalog.Added, Event: "checkout", Property: "duration_b2", Detail: `base2, "Checkout time in seconds."`},
		{Kind: catalog.Added, Event: "refund", Detail: `"An order was refunded.", properties reason (enum=damaged|late, optional), amount (count,max=10)`},
	}
	got := catalog.Diff(old, new)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff:\n%s\nwant:\n%s", changeLines(got), changeLines(want))
	}
}

func TestDiffAppBaseAndType(t *testing.T) {
	old := parseCatalog(t, `{
	  "app": "shop",
	  "base_properties": [
	    {"name": "a", "class": "identifier", "type": "string", "optional": true},
	    {"name": "b", "class": "bool", "type": "boolean", "optional": true}
	  ],
	  "events": [{"name": "e", "properties": [
	    {"name": "x", "class": "variant", "type": "string|boolean|null"},
	    {"name": "o", "class": "object", "type": "object", "properties": [
	      {"name": "n", "class": "count", "type": "number", "max": 3}
	    ]}
	  ]}]
	}`)
	new := parseCatalog(t, `{
	  "app": "shop-desktop",
	  "base_properties": [
	    {"name": "a", "class": "version", "type": "string", "optional": true},
	    {"name": "c", "class": "identifier", "type": "string", "optional": true, "description": "Channel."}
	  ],
	  "events": [{"name": "e", "properties": [
	    {"name": "x", "class": "variant", "type": "string|boolean|null"},
	    {"name": "o", "class": "base2", "type": "number"}
	  ]}]
	}`)
	want := []catalog.Change{
		{Kind: catalog.Changed, Detail: `app "shop" → "shop-desktop"`},
		{Kind: catalog.Removed, Property: "b"},
		{Kind: catalog.Changed, Property: "a", Detail: "class identifier → version"},
		{Kind: catalog.Added, Property: "c", Detail: `identifier, optional, "Channel."`},
		{Kind: catalog.Changed, Event: "e", Property: "o", Detail: `JSON type "object" → "number"`},
		{Kind: catalog.Changed, Event: "e", Property: "o", Detail: "class object → base2"},
	}
	got := catalog.Diff(old, new)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff:\n%s\nwant:\n%s", changeLines(got), changeLines(want))
	}
}

func TestDiffAddedObjectProperty(t *testing.T) {
	old := parseCatalog(t, `{"app": "a", "events": [{"name": "e", "properties": [
	  {"name": "x", "class": "bool", "type": "boolean"}
	]}]}`)
	new := parseCatalog(t, `{"app": "a", "events": [{"name": "e", "properties": [
	  {"name": "x", "class": "bool", "type": "boolean"},
	  {"name": "o", "class": "object", "type": "object", "optional": true, "properties": [
	    {"name": "k", "class": "enum", "type": "string", "values": ["p", "q"]},
	    {"name": "n", "class": "count", "type": "number", "max": 3, "optional": true}
	  ]}
	]}]}`)
	want := []catalog.Change{
		{Kind: catalog.Added, Event: "e", Property: "o", Detail: "object, optional {k (enum=p|q), n (count,max=3, optional)}"},
	}
	got := catalog.Diff(old, new)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff:\n%s\nwant:\n%s", changeLines(got), changeLines(want))
	}
}

func TestDiffSameCatalog(t *testing.T) {
	c := mux.Catalog()
	if got := catalog.Diff(c, c); len(got) != 0 {
		t.Errorf("Diff of the Mux catalog with itself:\n%s", changeLines(got))
	}

	// A catalog read back from its JSON must not differ from the registered one.
	data, err := c.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := catalog.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := catalog.Diff(c, parsed); len(got) != 0 {
		t.Errorf("Diff of the Mux catalog with its parsed JSON:\n%s", changeLines(got))
	}
}

func TestChangeString(t *testing.T) {
	tests := []struct {
		change catalog.Change
		want   string
	}{
		{catalog.Change{Kind: catalog.Changed, Detail: `app "a" → "b"`}, `changed catalog: app "a" → "b"`},
		{catalog.Change{Kind: catalog.Added, Property: "c"}, "added base property c"},
		{catalog.Change{Kind: catalog.Removed, Event: "legacy_ping"}, "removed event legacy_ping"},
		{catalog.Change{Kind: catalog.Added, Event: "refund", Detail: `"An order was refunded."`}, `added event refund: "An order was refunded."`},
		{catalog.Change{Kind: catalog.Changed, Event: "checkout", Property: "device.os", Detail: "now optional, was required"},
			"changed property checkout.device.os: now optional, was required"},
		{catalog.Change{Kind: catalog.Removed, Panel: "funnel"}, "removed dashboard panel funnel"},
		{catalog.Change{Kind: catalog.Changed, Panel: "errors", Detail: `error_event "a" → "b"`},
			`changed dashboard panel errors: error_event "a" → "b"`},
	}
	for _, tt := range tests {
		if got := tt.change.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.change, got, tt.want)
		}
	}
}

func changeLines(changes []catalog.Change) string {
	lines := make([]string, len(changes))
	for i, ch := range changes {
		lines[i] = "  " + ch.String()
	}
	return strings.Join(lines, "\n")
}

func TestDiffDashboardPanels(t *testing.T) {
	// changed alters every key of gameDashboard.
	changed := catalog.Dashboard{
		FirstLaunchEvent: "level_finished",
		Funnel:           []string{"game_launched", "level_finished"},
		ErrorEvent:       "game_launched",
		ErrorBreakdown:   []string{"mode"},
	}
	tests := []struct {
		name     string
		old, new catalog.Dashboard
		want     []catalog.Change
	}{
		{"added", catalog.Dashboard{}, gameDashboard, []catalog.Change{
			{Kind: catalog.Added, Panel: "new_installs",
				Detail: `trend of installs per period, first_launch_event "game_launched", first_launch_property "firstRun"`},
			{Kind: catalog.Added, Panel: "funnel",
				Detail: `funnel of installs per step, funnel ["game_launched[firstRun=true, mode=duo]", "level_finished[device.gpu=m3]", "game_crashed[version=1.2.0]"]`},
			{Kind: catalog.Added, Panel: "errors",
				Detail: `trend of events and installs per period, error_event "game_crashed", error_breakdown ["kind", "scene"]`},
		}},
		{"removed", gameDashboard, catalog.Dashboard{}, []catalog.Change{
			{Kind: catalog.Removed, Panel: "new_installs"},
			{Kind: catalog.Removed, Panel: "funnel"},
			{Kind: catalog.Removed, Panel: "errors"},
		}},
		{"changed", gameDashboard, changed, []catalog.Change{
			{Kind: catalog.Changed, Panel: "new_installs", Detail: `first_launch_event "game_launched" → "level_finished"`},
			{Kind: catalog.Changed, Panel: "new_installs", Detail: `first_launch_property "firstRun" → none`},
			{Kind: catalog.Changed, Panel: "funnel",
				Detail: `funnel ["game_launched[firstRun=true, mode=duo]", "level_finished[device.gpu=m3]", "game_crashed[version=1.2.0]"] → ["game_launched", "level_finished"]`},
			{Kind: catalog.Changed, Panel: "errors", Detail: `error_event "game_crashed" → "game_launched"`},
			{Kind: catalog.Changed, Panel: "errors", Detail: `error_breakdown ["kind", "scene"] → ["mode"]`},
		}},
		{"breakdown reordered", gameDashboard, withBreakdown(gameDashboard, "scene", "kind"), []catalog.Change{
			{Kind: catalog.Changed, Panel: "errors", Detail: `error_breakdown ["kind", "scene"] → ["scene", "kind"]`},
		}},
		{"same", gameDashboard, gameDashboard, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, new := gameCatalog(t), gameCatalog(t)
			old.MustSetDashboard(tt.old)
			new.MustSetDashboard(tt.new)
			got := catalog.Diff(old, new)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Diff:\n%s\nwant:\n%s", changeLines(got), changeLines(tt.want))
			}
		})
	}
}

func TestDiffDashboardAfterEvents(t *testing.T) {
	old := gameCatalog(t)
	new := gameCatalog(t)
	new.MustRegister(search{}, "The user searched.")
	new.MustSetDashboard(catalog.Dashboard{ErrorEvent: "game_crashed", ErrorBreakdown: []string{"kind"}})

	want := []catalog.Change{
		{Kind: catalog.Added, Event: "search", Detail: `"The user searched.", properties results_b2 (base2)`},
		{Kind: catalog.Added, Panel: "errors", Detail: `trend of events and installs per period, error_event "game_crashed", error_breakdown ["kind"]`},
	}
	got := catalog.Diff(old, new)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff:\n%s\nwant:\n%s", changeLines(got), changeLines(want))
	}
}

// withBreakdown returns d with another error breakdown.
func withBreakdown(d catalog.Dashboard, properties ...string) catalog.Dashboard {
	d.ErrorBreakdown = properties
	return d
}
