package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func runSimulateCommand(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCommand(t, append([]string{"simulate"}, args...)...)
}

func TestSimulateFailsWhenEventsAreNotDelivered(t *testing.T) {
	rejecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"invalid write key"}`, http.StatusUnauthorized)
	}))
	defer rejecting.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"status":503,"code":"service_unavailable","error":"storing events failed; retry later"}`,
			http.StatusServiceUnavailable)
	}))
	defer unavailable.Close()

	tests := []struct {
		name     string
		endpoint string
		want     []string
	}{
		{"wrong write key", rejecting.URL, []string{"not delivered", "rejected", "--write-key"}},
		{"collector down", down.URL, []string{"not delivered", "undelivered", "--endpoint", "connection refused"}},
		{"store unavailable", unavailable.URL, []string{"not delivered", "undelivered", "status=503", "/readyz"}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			code, stdout, stderr := runSimulateCommand(t, "--endpoint", test.endpoint, "--write-key", "phc_x",
				"--installs", "2", "--days", "1", "--close-timeout", "1s")
			if code != 1 {
				t.Errorf("exit code = %d, want 1", code)
			}
			if !strings.Contains(stdout, `"events_sent":0`) {
				t.Errorf("stdout %q does not report 0 events sent", stdout)
			}
			for _, want := range test.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q does not contain %q", stderr, want)
				}
			}
		})
	}
}

// TestSimulateReportsCollectorDrops checks that events the collector
// acknowledges but drops, such as events older than its retention, make
// simulate fail with the collector's reason and what to check.
func TestSimulateReportsCollectorDrops(t *testing.T) {
	dropping := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"Ok","accepted":0,"dropped":{"expired":100000}}`))
	}))
	defer dropping.Close()

	code, stdout, stderr := runSimulateCommand(t, "--endpoint", dropping.URL, "--write-key", "phc_x", "--installs", "2", "--days", "1")
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if !strings.Contains(stdout, `"events_sent":0`) || !strings.Contains(stdout, `"collector_expired"`) {
		t.Errorf("stdout %q does not report 0 events sent and the drops as collector_expired", stdout)
	}
	for _, want := range []string{"dropped by the collector", "collector_expired", "--retention"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not contain %q", stderr, want)
		}
	}
}

func TestSimulateFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--endpoint", "http://127.0.0.1:1"}, "missing --write-key"},
		{[]string{"--write-key", "phc_x"}, "missing --endpoint"},
		{[]string{"--endpoint", "http://127.0.0.1:1", "--write-key", "phc_x", "--installs", "0"}, `invalid --installs 0: use 1 or more`},
		{[]string{"--endpoint", "http://127.0.0.1:1", "--write-key", "phc_x", "--days", "-1"}, `invalid --days -1: use 1 or more`},
		{[]string{"--endpoint", "http://127.0.0.1:1", "--write-key", "phc_x", "--concurrency", "0"}, `invalid --concurrency 0: use 1 or more`},
		{[]string{"--endpoint", "http://127.0.0.1:1", "--write-key", "phc_x", "--close-timeout", "0s"}, `invalid --close-timeout 0s: use a positive duration`},
		{[]string{"--endpoint", "http://127.0.0.1:1?x=1", "--write-key", "phc_x"}, `invalid --endpoint "http://127.0.0.1:1?x=1": remove the query`},
		{[]string{"--endpoint", "http://127.0.0.1:1/batch/", "--write-key", "phc_x"},
			`invalid --endpoint "http://127.0.0.1:1/batch/": it ends in /batch/, which the client adds itself: use "http://127.0.0.1:1"`},
		{[]string{"--endpoint", "http://127.0.0.1:1", "--write-key", "phc_x", "--days", "100000"}, `invalid --days 100000: the traffic would start before 1970-01-01`},
	}
	for _, test := range tests {
		code, _, stderr := runSimulateCommand(t, test.args...)
		if code != 2 {
			t.Errorf("candor simulate %v exit code = %d, want 2", test.args, code)
		}
		if !strings.Contains(stderr, test.want) {
			t.Errorf("candor simulate %v stderr %q does not contain %q", test.args, stderr, test.want)
		}
	}
}

func TestDemoFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--installs", "-3"}, `invalid --installs -3: use 0 or more`},
		{[]string{"--days", "0"}, `invalid --days 0: use 1 or more`},
		{[]string{"--days", "100000"}, `invalid --days 100000: the traffic would start before 1970-01-01`},
	}
	for _, test := range tests {
		var out, errOut bytes.Buffer
		args := append([]string{"demo", "--data", t.TempDir()}, test.args...)
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("candor %v exit code = %d, want 2", args, code)
		}
		if !strings.Contains(errOut.String(), test.want) {
			t.Errorf("candor %v stderr %q does not contain %q", args, errOut.String(), test.want)
		}
	}
}
