package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
)

// cancelWriter is an io.Writer that records what it is given and calls
// cancel once the text contains stop.
type cancelWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	stop   string
	cancel context.CancelFunc
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.stop) {
		w.cancel()
	}
	return n, err
}

func (w *cancelWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// runDemoUntilReady runs candor demo with args until it prints that it
// serves, then stops it, and returns its exit code and output.
func runDemoUntilReady(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &cancelWriter{stop: "Press Ctrl-C to stop.", cancel: cancel}
	var stderr bytes.Buffer
	args = append([]string{"demo", "--data", t.TempDir(), "--listen", "127.0.0.1:0"}, args...)
	code := run(ctx, args, stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestDemoFewInstallsHint(t *testing.T) {
	code, stdout, stderr := runDemoUntilReady(t, "--installs", "3", "--days", "1")
	if code != 0 {
		t.Fatalf("exit code = %d, want 0\nstderr: %s", code, stderr)
	}
	want := "The data comes from 3 installs, fewer than --k-anonymity 5, so the dashboard shows every number as < 5: " +
		"run candor demo with --k-anonymity 1 to see them."
	if !strings.Contains(stdout, want) {
		t.Errorf("stdout %q does not contain %q", stdout, want)
	}
}

func TestDemoFewInstallsNoHintWithoutSuppression(t *testing.T) {
	code, stdout, stderr := runDemoUntilReady(t, "--installs", "3", "--days", "1", "--k-anonymity", "1")
	if code != 0 {
		t.Fatalf("exit code = %d, want 0\nstderr: %s", code, stderr)
	}
	if strings.Contains(stdout, "--k-anonymity") {
		t.Errorf("stdout %q mentions --k-anonymity, want no hint with suppression off", stdout)
	}
}
