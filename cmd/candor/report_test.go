package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// reportOverview is a fixed overview body as a collector with k-anonymity
// 5 sends it: message_sent and app_started are visible, command_used and
// version 0.9.0 come from fewer than 5 installs.
const reportOverview = `{"k_anonymity":5,"total_events":1234,"installs":56,
"events":{"message_sent":900,"app_started":300,"workspace_created":30},
"event_installs":{"message_sent":50,"app_started":56,"workspace_created":20},
"suppressed_events":["command_used"],
"top_versions":[{"key":"1.2.0","events":1000,"installs":40},{"key":"1.1.0","events":230,"installs":14},{"key":"0.9.0","suppressed":true}],
"top_platforms":[{"key":"darwin","events":800,"installs":30},{"key":"linux","events":434,"installs":26}]}`

// startReportServer serves body at /api/v1/overview for the bearer token
// "secret" and records the query of the last request.
func startReportServer(t *testing.T, body string) (*httptest.Server, *string) {
	t.Helper()
	var query string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/overview" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer secret" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"missing or invalid admin token"}`))
			return
		}
		query = r.URL.RawQuery
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write([]byte(body))
	}))
	t.Cleanup(server.Close)
	return server, &query
}

// runCommand runs candor with args and returns its exit code and output.
func runCommand(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func runReportCommand(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCommand(t, append([]string{"report"}, args...)...)
}

func TestReportTable(t *testing.T) {
	server, query := startReportServer(t, reportOverview)

	code, stdout, stderr := runReportCommand(t, "--server", server.URL+"/", "--token", "secret",
		"--from", "2025-03-01", "--to", "2025-03-31")
	if code != 0 {
		t.Fatalf("candor report exited with %d: %s", code, stderr)
	}
	want := `project       all
total_events  1234
installs      56

event              count
message_sent       900
app_started        300
workspace_created  30
command_used       < 5

version  events  installs
1.2.0    1000    40
1.1.0    230     14
0.9.0    < 5     < 5

platform  events  installs
darwin    800     30
linux     434     26
`
	if d := cmp.Diff(want, stdout); d != "" {
		t.Errorf("report output (-want +got):\n%s", d)
	}
	if *query != "from=2025-03-01&to=2025-03-31" {
		t.Errorf("report sent the query %q, want from=2025-03-01&to=2025-03-31", *query)
	}
}

func TestReportSuppressedTotals(t *testing.T) {
	server, _ := startReportServer(t, `{"k_anonymity":10,"suppressed":true,"events":{},"event_installs":{},"suppressed_events":["app_started"],"top_versions":[],"top_platforms":[]}`)

	code, stdout, stderr := runReportCommand(t, "--server", server.URL, "--token", "secret")
	if code != 0 {
		t.Fatalf("candor report exited with %d: %s", code, stderr)
	}
	for _, want := range []string{"total_events  < 10\n", "installs      < 10\n", "app_started  < 10\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report output %q lacks %q", stdout, want)
		}
	}
}

func TestReportJSON(t *testing.T) {
	server, _ := startReportServer(t, reportOverview)

	code, stdout, stderr := runReportCommand(t, "--server", server.URL, "--token", "secret", "--format", "json")
	if code != 0 {
		t.Fatalf("candor report exited with %d: %s", code, stderr)
	}
	if stdout != strings.TrimSpace(reportOverview)+"\n" {
		t.Errorf("report --format json printed %q, want the collector's body", stdout)
	}
}

func TestReportErrors(t *testing.T) {
	server, _ := startReportServer(t, reportOverview)

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"wrong token", []string{"--server", server.URL, "--token", "wrong"}, 1, "401 unauthorized: check --token"},
		{"missing token", []string{"--server", server.URL}, 2, "missing --token"},
		{"missing server", []string{"--token", "secret"}, 2, "missing --server"},
		{"server without scheme", []string{"--server", "127.0.0.1:8787", "--token", "secret"}, 2,
			`invalid --server "127.0.0.1:8787": use an http or https URL, such as http://127.0.0.1:8787`},
		{"server as host name", []string{"--server", "localhost:8787", "--token", "secret"}, 2,
			`invalid --server "localhost:8787": use an http or https URL`},
		{"server without host", []string{"--server", "http://", "--token", "secret"}, 2, `invalid --server "http://"`},
		{"unknown format", []string{"--server", server.URL, "--token", "secret", "--format", "xml"}, 2, `invalid --format "xml"`},
		{"invalid date", []string{"--server", server.URL, "--token", "secret", "--from", "March"}, 2, `invalid --from "March"`},
		{"server with a path", []string{"--server", server.URL + "/dashboard", "--token", "secret"}, 1,
			"404 Not Found: check --server: pass the collector's base URL"},
		{"empty project", []string{"--server", server.URL, "--token", "secret", "--project", ""}, 2, `invalid --project ""`},
		{"server with a query", []string{"--server", server.URL + "?x=1", "--token", "secret"}, 2,
			`invalid --server "` + server.URL + `?x=1": remove the query, fragment and user info, such as "` + server.URL + `"`},
		{"server with an empty query", []string{"--server", server.URL + "/?", "--token", "secret"}, 2, `invalid --server "` + server.URL + `/?"`},
		{"server with a fragment", []string{"--server", server.URL + "#top", "--token", "secret"}, 2, `invalid --server "` + server.URL + `#top"`},
		{"server with user info", []string{"--server", "http://admin:pw@127.0.0.1:1", "--token", "secret"}, 2,
			`invalid --server "http://admin:xxxxx@127.0.0.1:1": remove the query, fragment and user info, such as "http://127.0.0.1:1"`},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			code, _, stderr := runReportCommand(t, test.args...)
			if code != test.code {
				t.Errorf("exit code = %d, want %d", code, test.code)
			}
			if !strings.Contains(stderr, test.want) {
				t.Errorf("stderr %q does not contain %q", stderr, test.want)
			}
			if strings.Contains(stderr, ":pw@") {
				t.Errorf("stderr %q shows the password of --server", stderr)
			}
		})
	}
}

func TestReportBackwardsRange(t *testing.T) {
	server, query := startReportServer(t, reportOverview)

	code, stdout, stderr := runReportCommand(t, "--server", server.URL, "--token", "secret",
		"--from", "2026-12-10", "--to", "2026-12-01")
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	want := `invalid --from "2026-12-10" after --to "2026-12-01"`
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not contain %q", stderr, want)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	if *query != "" {
		t.Errorf("the collector received a query %q, want none", *query)
	}
}

func TestReportOneDayRange(t *testing.T) {
	server, query := startReportServer(t, reportOverview)

	code, _, stderr := runReportCommand(t, "--server", server.URL, "--token", "secret",
		"--from", "2026-12-01", "--to", "2026-12-01")
	if code != 0 {
		t.Errorf("exit code = %d, want 0\nstderr: %s", code, stderr)
	}
	if want := "from=2026-12-01&to=2026-12-01"; *query != want {
		t.Errorf("query = %q, want %q", *query, want)
	}
}

func TestReportProject(t *testing.T) {
	server, query := startReportServer(t, reportOverview)

	code, stdout, stderr := runReportCommand(t, "--server", server.URL, "--token", "secret", "--project", "shop", "--from", "2025-03-01")
	if code != 0 {
		t.Fatalf("candor report exited with %d: %s", code, stderr)
	}
	if *query != "from=2025-03-01&project=shop" {
		t.Errorf("report sent the query %q, want from=2025-03-01&project=shop", *query)
	}
	if !strings.HasPrefix(stdout, "project       shop\n") {
		t.Errorf("report output does not start with the project:\n%s", stdout)
	}
}

func TestReportCollectorError(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"unknown project \"nope\": use one of the configured projects \"mux\", \"shop\"","projects":["mux","shop"]}`))
	}))
	t.Cleanup(server.Close)

	code, _, stderr := runReportCommand(t, "--server", server.URL, "--token", "secret", "--project", "nope")
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	want := `404 Not Found: unknown project "nope": use one of the configured projects "mux", "shop"` + "\n"
	if !strings.HasSuffix(stderr, want) {
		t.Errorf("stderr %q does not end with the collector's message %q", stderr, want)
	}
}

func TestReportConnectionRefused(t *testing.T) {
	server := httptest.NewServer(http.NotFoundHandler())
	url := server.URL
	server.Close()

	code, _, stderr := runReportCommand(t, "--server", url, "--token", "secret")
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if !strings.Contains(stderr, "check that candor serve is running at --server") {
		t.Errorf("stderr %q does not say what to check", stderr)
	}
}
