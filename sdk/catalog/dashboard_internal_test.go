package catalog

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
)

// TestPanelKeysAreJSONKeys checks that the key names with which Diff
// reports dashboard changes are the JSON keys of the catalog file.
func TestPanelKeysAreJSONKeys(t *testing.T) {
	full := Dashboard{
		FirstLaunchEvent:    "e",
		FirstLaunchProperty: "p",
		Funnel:              []string{"a", "b"},
		ErrorEvent:          "e",
		ErrorBreakdown:      []string{"x"},
	}
	data, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var object map[string]any
	if err := json.Unmarshal(data, &object); err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(maps.Keys(object))

	var got []string
	for _, p := range full.panels() {
		for _, k := range p.keys {
			got = append(got, k.name)
			if !k.set() {
				t.Errorf("panel %s: key %s is not set from a Dashboard that sets every field", p.name, k.name)
			}
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("panel keys = %q, want the JSON keys %q", got, want)
	}
}
