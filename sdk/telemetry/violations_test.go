package telemetry

import (
	"maps"
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
)

// TestViolationsByPropertyNameMember checks that a bad member of an object
// property is counted under its dotted path, and that names the catalog
// does not declare are left out of the keys.
func TestViolationsByPropertyNameMember(t *testing.T) {
	col := newCollector(t)
	c := newClient(t, testConfig(t, col.srv.URL))
	const workspace = "0f8fad5b-d9cb-469f-a165-70867728950e"
	c.Capture(catalog.PropertyMap{Name: "workspace_created", Values: map[string]any{
		"workspaceId":      workspace,
		"runtimeType":      "local",
		"frontendPlatform": map[string]any{"userAgent": 5, "platform": "Linux"},
	}})
	c.Capture(catalog.PropertyMap{Name: "command_used", Values: map[string]any{"command": "new", "home_alice": 1}})
	c.Capture(catalog.PropertyMap{Name: "page_of_alice", Values: map[string]any{}})
	flush(t, c)
	st := closeClient(t, c)

	want := map[string]int64{
		"workspace_created frontendPlatform.userAgent wrong_type": 1,
		"command_used unknown_property":                           1,
		"unknown_event":                                           1,
	}
	if !maps.Equal(st.ViolationsByProperty, want) {
		t.Errorf("ViolationsByProperty = %v, want %v", st.ViolationsByProperty, want)
	}
	if got := st.DroppedByReason[string(catalog.ReasonWrongType)]; got != 1 {
		t.Errorf("DroppedByReason[wrong_type] = %d, want 1 for the event with the bad member", got)
	}
}
