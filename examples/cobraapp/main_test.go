package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/duckdb"
	"github.com/candor-dev/candor/sdk/mux"
)

const writeKey = "phc_cobraapp_test"

// startCollector runs candor's collector on loopback with an in-memory
// DuckDB store, with the capture paths and self-service deletion.
func startCollector(t *testing.T) (url string, st *duckdb.Store) {
	t.Helper()
	st, err := duckdb.Open("")
	if err != nil {
		t.Fatal(err)
	}
	col, err := collector.New(collector.Config{
		Store:    st,
		Projects: []collector.Project{{Name: mux.App, WriteKey: writeKey, Catalog: mux.Catalog()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	routes := http.NewServeMux()
	for _, path := range col.Routes() {
		routes.Handle(path, col)
	}
	routes.Handle("POST "+collector.SelfDeletePath, col.SelfDeleteHandler())
	srv := httptest.NewServer(routes)
	t.Cleanup(func() {
		srv.Close()
		col.Close(context.Background())
		st.Close()
	})
	return srv.URL, st
}

// runApp runs the app once, as a new process would, and returns its
// output.
func runApp(t *testing.T, vars map[string]string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := run(ctx, args, func(k string) string { return vars[k] }, &out, &out)
	return out.String(), err
}

func mustRunApp(t *testing.T, vars map[string]string, args ...string) string {
	t.Helper()
	out, err := runApp(t, vars, args...)
	if err != nil {
		t.Fatalf("cobraapp %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func storedEvents(t *testing.T, st *duckdb.Store) int64 {
	t.Helper()
	ov, err := st.Overview(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return ov.TotalEvents
}

func TestTelemetrySubcommandsThroughCobra(t *testing.T) {
	url, st := startCollector(t)
	vars := map[string]string{
		"CANDOR_ENDPOINT":           url,
		"CANDOR_WRITE_KEY":          writeKey,
		"COBRAAPP_HOME":             t.TempDir(),
		"COBRAAPP_ALLOW_AUTOMATION": "1",
	}

	mustRunApp(t, vars, "work")
	mustRunApp(t, vars, "work")
	if n := storedEvents(t, st); n != 2 {
		t.Fatalf("collector stored %d events after two runs, want 2", n)
	}

	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"telemetry"}, []string{"Telemetry is enabled.", "COBRAAPP_DISABLE_TELEMETRY", "DO_NOT_TRACK"}},
		{[]string{"telemetry", "status"}, []string{"Telemetry is enabled.", "automation", "notice"}},
		{[]string{"telemetry", "show"}, []string{"A request with this sample event would be:", `"event": "app_started"`}},
		{[]string{"telemetry", "show", "-raw"}, []string{`{"api_key":"` + writeKey + `","deletion_key_hash":"`}},
		{[]string{"telemetry", "pending"}, []string{"0 events waiting: 0 in memory, 0 in the spool."}},
		{[]string{"telemetry", "pending", "-json"}, nil},
		{[]string{"telemetry", "show", "-h"}, []string{"Usage: cobraapp telemetry show [-raw]"}},
		{[]string{"telemetry", "--help"}, []string{"forget      delete this install", "See and control the usage telemetry"}},
		{[]string{"telemetry", "disable"}, []string{"Saved telemetryEnabled: false in config.json.", "Telemetry is disabled."}},
		{[]string{"telemetry", "status"}, []string{"Telemetry is disabled by config.json."}},
		{[]string{"telemetry", "enable"}, []string{"Saved telemetryEnabled: true in config.json.", "Telemetry is enabled."}},
		{[]string{"telemetry", "forget"}, []string{"Forgot install", "The collector deleted 2 events of this install."}},
	}
	for _, tt := range tests {
		out := mustRunApp(t, vars, tt.args...)
		for _, want := range tt.want {
			if !strings.Contains(out, want) {
				t.Errorf("cobraapp %s output lacks %q:\n%s", strings.Join(tt.args, " "), want, out)
			}
		}
	}
	if n := storedEvents(t, st); n != 0 {
		t.Errorf("collector holds %d events after forget, want 0", n)
	}
}

func TestRawShowIsJSON(t *testing.T) {
	url, _ := startCollector(t)
	vars := map[string]string{"CANDOR_ENDPOINT": url, "CANDOR_WRITE_KEY": writeKey, "COBRAAPP_HOME": t.TempDir(), "COBRAAPP_ALLOW_AUTOMATION": "1"}
	out := mustRunApp(t, vars, "telemetry", "show", "-raw")
	var body map[string]any
	if err := json.Unmarshal([]byte(out), &body); err != nil {
		t.Errorf("show -raw printed no single JSON body: %v\n%s", err, out)
	}
}

func TestUnknownTelemetryCommand(t *testing.T) {
	url, _ := startCollector(t)
	vars := map[string]string{"CANDOR_ENDPOINT": url, "CANDOR_WRITE_KEY": writeKey, "COBRAAPP_HOME": t.TempDir(), "COBRAAPP_ALLOW_AUTOMATION": "1"}
	if _, err := runApp(t, vars, "telemetry", "purge"); err == nil {
		t.Error("cobraapp telemetry purge succeeded, want an error")
	}
	if _, err := runApp(t, vars, "telemetry", "forget", "-everything"); err == nil {
		t.Error("cobraapp telemetry forget -everything succeeded, want an error")
	}
}

func TestMissingWriteKey(t *testing.T) {
	_, err := runApp(t, map[string]string{}, "telemetry")
	if err == nil || !strings.Contains(err.Error(), "CANDOR_WRITE_KEY") {
		t.Errorf("run without a write key = %v, want an error naming CANDOR_WRITE_KEY", err)
	}
}

// Help needs no collector, so it works before CANDOR_WRITE_KEY is set.
func TestHelpWithoutWriteKey(t *testing.T) {
	for _, args := range [][]string{{}, {"-h"}, {"--help"}, {"help"}, {"help", "telemetry"}, {"work", "-h"}, {"telemetry", "--help"}} {
		out, err := runApp(t, map[string]string{}, args...)
		if err != nil {
			t.Errorf("cobraapp %s without a write key: %v", strings.Join(args, " "), err)
		}
		if !strings.Contains(out, "Usage:") {
			t.Errorf("cobraapp %s output lacks the usage message:\n%s", strings.Join(args, " "), out)
		}
	}
}

// An invalid telemetry command is reported once, by telemetrycli, and
// exits with status 2.
func TestUsageErrorPrintedOnce(t *testing.T) {
	url, _ := startCollector(t)
	vars := map[string]string{"CANDOR_ENDPOINT": url, "CANDOR_WRITE_KEY": writeKey, "COBRAAPP_HOME": t.TempDir(), "COBRAAPP_ALLOW_AUTOMATION": "1"}
	for _, args := range [][]string{{"telemetry", "bogus"}, {"telemetry", "forget", "-everything"}} {
		var stderr bytes.Buffer
		err := run(context.Background(), args, func(k string) string { return vars[k] }, io.Discard, &stderr)
		code := exitCode(err, &stderr)
		if code != 2 {
			t.Errorf("cobraapp %s exit code = %d, want 2", strings.Join(args, " "), code)
		}
		if got := strings.Count(stderr.String(), args[1]); got != 1 {
			t.Errorf("cobraapp %s stderr names %q %d times, want once:\n%s", strings.Join(args, " "), args[1], got, stderr.String())
		}
		if !strings.Contains(stderr.String(), "Usage: cobraapp telemetry") {
			t.Errorf("cobraapp %s stderr lacks the usage message:\n%s", strings.Join(args, " "), stderr.String())
		}
		if strings.Contains(stderr.String(), "cobraapp: ") {
			t.Errorf("cobraapp %s stderr repeats the error after the usage:\n%s", strings.Join(args, " "), stderr.String())
		}
	}
}

func TestRunErrorExitsOne(t *testing.T) {
	var stderr bytes.Buffer
	if code := exitCode(errors.New("missing write key"), &stderr); code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if want := "cobraapp: missing write key\n"; stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
}
