package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadgenRunsEveryPhase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds candor and starts five servers")
	}
	bin := filepath.Join(t.TempDir(), "candor")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"loadgen", "--candor", bin, "--duration", "300ms",
		"--concurrency", "2", "--single-concurrency", "4", "--batch", "10", "--overload", "2"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("loadgen exited with %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	out := stdout.String()
	for _, want := range []string{"machine: ", "batch (gzip)                 null", "batch (gzip)                 duckdb",
		"single event                 null", "single event                 duckdb", "overload 2x", "load average after: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "error:") {
		t.Errorf("some requests failed:\n%s", out)
	}
}

func TestLoadgenRejectsUnknownPhase(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"loadgen", "--phases", "batch,soak"}, &stdout, &stderr); code != 1 {
		t.Errorf("exit code %d, want 1; stderr %s", code, &stderr)
	}
	if !strings.Contains(stderr.String(), `invalid phase "soak"`) {
		t.Errorf("stderr = %q, want the invalid phase named", &stderr)
	}
}
