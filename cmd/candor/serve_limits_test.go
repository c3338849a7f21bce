package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
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

// --rate-burst sizes the token bucket of each write key, which
// --rate-limit 0 turns off, so setting both is a usage error.
func TestServeRateBurstWithoutRateLimit(t *testing.T) {
	// Were the flags accepted, serve would run until the context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stdout, errOut bytes.Buffer
	args := []string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--rate-limit", "0", "--rate-burst", "5"}
	if code := run(ctx, args, &stdout, &errOut); code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	stderr := errOut.String()
	want := "invalid --rate-burst 5 with --rate-limit 0, which turns the rate limit and its burst off: " +
		"remove --rate-burst, or set --rate-limit to a positive number of events per second"
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not contain %q", stderr, want)
	}
}
