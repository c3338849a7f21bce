package dashboard_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestActiveInstallsOverWideRange requests the active installs from year
// 1 to year 9999, which the date inputs accept, and checks that the
// response has the same rows as a range around the events.
func TestActiveInstallsOverWideRange(t *testing.T) {
	server := startFixtureServer(t)
	wide := getJSON[map[string]any](t, server, "/api/v1/active_installs?from=0001-01-01&to=9999-12-31")
	near := getJSON[map[string]any](t, server, "/api/v1/active_installs?from=2024-04-01&to=2024-07-31")
	if d := cmp.Diff(near["rows"], wide["rows"]); d != "" {
		t.Errorf("active installs from 0001-01-01 to 9999-12-31 differ from those of April to July 2024 (-near +wide):\n%s", d)
	}
}
