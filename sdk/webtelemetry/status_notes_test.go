package webtelemetry_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/candor-dev/candor/sdk/webtelemetry"
)

// TestStatusNotesIgnoredSwitches sets the opt-out variables to values the
// client ignores. Telemetry stays on, and the status names each ignored
// value, as `telemetry status` does.
func TestStatusNotesIgnoredSwitches(t *testing.T) {
	f := newFixture(t, options{env: env{"MUX_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "yes"}})

	resp := f.do(t, http.MethodGet, "status", "", nil)
	if resp.status != http.StatusOK {
		t.Fatalf("GET status: %d %s", resp.status, resp.body)
	}
	var st webtelemetry.Status
	if err := json.Unmarshal([]byte(resp.body), &st); err != nil {
		t.Fatalf("decode %s: %v", resp.body, err)
	}

	if !st.Enabled {
		t.Errorf("enabled = false, want true: both values are ignored")
	}
	want := []string{
		`MUX_DISABLE_TELEMETRY="true" is ignored: only "1" turns telemetry off`,
		`DO_NOT_TRACK="yes" is ignored: only "1" or "true" turns telemetry off`,
	}
	if !slices.Equal(st.Notes, want) {
		t.Errorf("notes = %q, want %q", st.Notes, want)
	}
}

// TestStatusNotesEmptyByDefault checks that a status with no ignored
// switch carries an empty list, not null.
func TestStatusNotesEmptyByDefault(t *testing.T) {
	f := newFixture(t, options{})
	resp := f.do(t, http.MethodGet, "status", "", nil)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(resp.body), &raw); err != nil {
		t.Fatalf("decode %s: %v", resp.body, err)
	}
	if got := string(raw["notes"]); got != "[]" {
		t.Errorf("notes = %s, want []", got)
	}
}
