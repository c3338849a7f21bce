package main

import (
	"strings"
	"testing"
)

// Invalid limits of candor serve are reported with the flag and the value
// typed, not with the collector's Config field or a converted value.
func TestServeLimitFlagErrors(t *testing.T) {
	tests := []struct {
		flag, value, want string
	}{
		{"--rate-limit", "-1", `invalid --rate-limit -1: use 0 (no limit) or a positive number of events per second`},
		{"--rate-limit", "NaN", `invalid --rate-limit NaN: use 0 (no limit) or a positive number of events per second`},
		{"--rate-burst", "-1", `invalid --rate-burst -1: use 0 (10 seconds of --rate-limit) or a positive number of events`},
		{"--max-pending-events", "-1", `invalid --max-pending-events -1: use 0 for the default or a positive number of events`},
		{"--max-buffered-mib", "-1", `invalid --max-buffered-mib -1: use 0 for the default or a positive number of MiB up to 8796093022207`},
		{"--max-buffered-mib", "99999999999999", `invalid --max-buffered-mib 99999999999999: use 0 for the default or a positive number of MiB up to 8796093022207`},
		{"--max-decoding", "-1", `invalid --max-decoding -1: use 0 for the default or a positive number of requests`},
		{"--max-connections", "-1", `invalid --max-connections -1: use 0 for the default or a positive number of connections`},
		{"--request-timeout", "-1s", `invalid --request-timeout -1s: use 0 for the default or a positive duration such as 30s`},
	}
	for _, test := range tests {
		code, _, stderr := runCommand(t, "serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", test.flag, test.value)
		if code != 2 {
			t.Errorf("candor serve %s %s exit code = %d, want 2", test.flag, test.value, code)
		}
		if !strings.Contains(stderr, test.want) {
			t.Errorf("candor serve %s %s stderr %q does not contain %q", test.flag, test.value, stderr, test.want)
		}
	}
}
