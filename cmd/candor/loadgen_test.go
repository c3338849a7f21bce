package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
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
		"--concurrency", "2", "--single-concurrency", "4", "--batch", "10", "--overload", "2",
		"--duckdb-properties", "json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("loadgen exited with %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	out := stdout.String()
	for _, want := range []string{"machine: ", "batch (gzip)                 null", "batch (gzip)                 duckdb-json",
		"single event                 null", "single event                 duckdb-json", "overload 2x", "load average after: "} {
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
	if code := run(context.Background(), []string{"loadgen", "--phases", "batch,soak"}, &stdout, &stderr); code != 2 {
		t.Errorf("exit code %d, want 2; stderr %s", code, &stderr)
	}
	if !strings.Contains(stderr.String(), `invalid phase "soak"`) {
		t.Errorf("stderr = %q, want the invalid phase named", &stderr)
	}
}

func TestRawConnReadsEveryFraming(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		switch string(body) {
		case "chunked":
			w.WriteHeader(http.StatusAccepted)
			w.Write([]byte("first"))
			w.(http.Flusher).Flush()
			w.Write([]byte("second"))
		case "close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		case "empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			if r.Header.Get("Content-Encoding") != "gzip" {
				http.Error(w, "missing Content-Encoding", http.StatusBadRequest)
				return
			}
			w.Write([]byte(`{"status":"Ok"}`))
		}
	}))
	defer srv.Close()

	conn := newRawConn(strings.TrimPrefix(srv.URL, "http://"), time.Now().Add(10*time.Second))
	defer conn.Close()
	for _, tc := range []struct {
		body, encoding string
		want           int
	}{
		{"plain", "gzip", http.StatusOK},
		{"chunked", "", http.StatusAccepted},
		{"close", "", http.StatusOK},
		{"empty", "", http.StatusNoContent},
		{"plain", "", http.StatusBadRequest},
		{"plain", "gzip", http.StatusOK},
	} {
		status, err := conn.post("/i/v0/e/", []byte(tc.body), tc.encoding)
		if err != nil {
			t.Fatalf("post %q: %v", tc.body, err)
		}
		if status != tc.want {
			t.Errorf("post %q: status %d, want %d", tc.body, status, tc.want)
		}
	}
	if got := requests.Load(); got != 6 {
		t.Errorf("server received %d requests, want 6", got)
	}

	conn.Close()
	if _, err := conn.post("/i/v0/e/", []byte("plain"), "gzip"); !errors.Is(err, errConnClosed) {
		t.Errorf("post after Close: error %v, want errConnClosed", err)
	}
}

func TestSingleBodyIsOneMuxEvent(t *testing.T) {
	lg := &loadgen{}
	rng := rand.New(rand.NewPCG(1, 2))
	path, body, encoding, n := lg.singleBody(nil, rng)
	if path != "/i/v0/e/" || encoding != "" || n != 1 {
		t.Errorf("singleBody = %q, %q, %d events; want /i/v0/e/, no encoding, 1 event", path, encoding, n)
	}
	var event struct {
		APIKey     string         `json:"api_key"`
		Event      string         `json:"event"`
		DistinctID string         `json:"distinct_id"`
		UUID       string         `json:"uuid"`
		Timestamp  time.Time      `json:"timestamp"`
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(body, &event); err != nil {
		t.Fatalf("body is not a JSON event: %v\n%s", err, body)
	}
	if event.APIKey != loadWriteKey {
		t.Errorf("api_key = %q, want %q", event.APIKey, loadWriteKey)
	}
	if !catalog.IsUUID(event.UUID) {
		t.Errorf("uuid %q is not a version 4 UUID", event.UUID)
	}
	if len(event.DistinctID) != 36 || event.Timestamp.IsZero() || event.Properties["version"] != "1.4.2" {
		t.Errorf("event lacks distinct_id, timestamp or base properties: %s", body)
	}
	if _, _, err := mux.Catalog().Normalize(event.Event, event.Properties); err != nil {
		t.Errorf("event breaks the Mux catalog: %v", err)
	}
}
