package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/candor-dev/candor/internal/server"
)

// An interrupted simulation reports the interruption and the events it sent,
// not only "context canceled".
func TestSimulateInterrupted(t *testing.T) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":1}`))
	}))
	defer collector.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"simulate", "--endpoint", collector.URL, "--write-key", "phc_x", "--installs", "3", "--days", "1"},
		&stdout, &stderr)
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	if !strings.Contains(stdout.String(), `"events_sent":0`) {
		t.Errorf("stdout %q does not report the events sent", stdout.String())
	}
	want := "candor simulate: interrupted after 0 events sent and 0 not delivered"
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q does not contain %q", stderr.String(), want)
	}
	if strings.Contains(stderr.String(), "context canceled") {
		t.Errorf("stderr %q reports the bare context error", stderr.String())
	}
}

// A demo interrupted during its simulation reports that the data folder contains
// the events sent so far and that the next run shows them.
func TestDemoInterruptedDuringSimulation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := t.TempDir()

	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"demo", "--data", data, "--listen", "127.0.0.1:0", "--installs", "3", "--days", "1"},
		&stdout, &stderr)
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	for _, want := range []string{"interrupted during the simulation", data, "--resimulate"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q does not contain %q", stderr.String(), want)
		}
	}
	if strings.Contains(stderr.String(), "context canceled") {
		t.Errorf("stderr %q reports the bare context error", stderr.String())
	}
}

// An interrupted compaction reports that the database is unchanged.
func TestCompactInterrupted(t *testing.T) {
	data := newDataFolder(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"compact", "--data", data}, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	want := "interrupted: " + filepath.Join(data, server.DatabaseFile) + " is unchanged"
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q does not contain %q", stderr.String(), want)
	}
}
