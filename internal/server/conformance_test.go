package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/posthog/posthog-go"

	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/duckdb"
	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

// sampleEvent is one event as a client sends it, with the properties the
// collector is expected to store.
type sampleEvent struct {
	Event      string         `json:"event"`
	DistinctID string         `json:"distinctId"`
	UUID       string         `json:"uuid"`
	Properties map[string]any `json:"properties"`

	want map[string]any // what the catalog normalizes Properties to, as JSON values
}

// muxSampleEvents returns one event for every event of the Mux catalog,
// with a valid value for every property, optional ones included, and the
// version and backend_platform base properties.
func muxSampleEvents(t *testing.T, distinctID string) []sampleEvent {
	t.Helper()
	c := mux.Catalog()
	var events []sampleEvent
	for i, def := range c.Events {
		props := sampleProperties(def.Properties, i)
		props["version"] = "1.4.2"
		props["backend_platform"] = "linux"
		normalized, violations, err := c.Normalize(def.Name, props)
		if err != nil || len(violations) > 0 {
			t.Fatalf("sample of %s does not pass the catalog: %v %v", def.Name, err, violations)
		}
		events = append(events, sampleEvent{
			Event:      def.Name,
			DistinctID: distinctID,
			UUID:       uuid.NewString(),
			Properties: props,
			want:       jsonValues(t, normalized),
		})
	}
	if len(events) != 20 {
		t.Fatalf("the Mux catalog has %d events, want 20", len(events))
	}
	return events
}

// sampleProperties returns a valid raw value for each property. Numbers are
// chosen so that base2, bucket and count change them, and strings so that
// user_agent and platform reduce them.
func sampleProperties(props []catalog.Property, seed int) map[string]any {
	out := map[string]any{}
	for _, p := range props {
		switch p.Class {
		case catalog.RandomID:
			out[p.Name] = uuid.NewString()
		case catalog.Enum:
			out[p.Name] = p.Values[seed%len(p.Values)]
		case catalog.Bool:
			out[p.Name] = seed%2 == 0
		case catalog.Base2:
			out[p.Name] = 300 + seed
		case catalog.Bucket:
			out[p.Name] = p.Edges[len(p.Edges)/2] + 3
		case catalog.Count:
			out[p.Name] = p.Max + 5
		case catalog.Identifier:
			out[p.Name] = "anthropic/claude-sonnet-4-5"
		case catalog.Version:
			out[p.Name] = "2.0.1"
		case catalog.UserAgent:
			out[p.Name] = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
		case catalog.Platform:
			out[p.Name] = "MacIntel"
		case catalog.Variant:
			out[p.Name] = "control"
		case catalog.Object:
			out[p.Name] = sampleProperties(p.Properties, seed)
		}
	}
	return out
}

// jsonValues returns v as encoding/json decodes its JSON text.
func jsonValues(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// storedEvent is one row of the events table.
type storedEvent struct {
	Event, DistinctID string
	Properties        map[string]any
}

// readStoredEvents reads the events of a stopped server's DuckDB file, by
// uuid, through the store's CSV export, which gives each event's
// properties whole.
func readStoredEvents(t *testing.T, dataDir, project string) map[string]storedEvent {
	t.Helper()
	s, err := duckdb.Open(filepath.Join(dataDir, DatabaseFile))
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	defer s.Close()
	var out bytes.Buffer
	if err := s.ExportEvents(context.Background(), store.Filter{Project: project}, store.CSV, &out); err != nil {
		t.Fatalf("export events: %v", err)
	}
	records, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(records) == 0 {
		t.Fatalf("read exported CSV %q: %v", out.String(), err)
	}

	column := map[string]int{}
	for i, name := range records[0] {
		column[name] = i
	}
	events := map[string]storedEvent{}
	for _, record := range records[1:] {
		id := record[column["uuid"]]
		e := storedEvent{Event: record[column["event"]], DistinctID: record[column["distinct_id"]]}
		props := record[column["properties"]]
		if err := json.Unmarshal([]byte(props), &e.Properties); err != nil {
			t.Fatalf("event %s: properties %s: %v", id, props, err)
		}
		if _, dup := events[id]; dup {
			t.Errorf("uuid %s is stored twice", id)
		}
		events[id] = e
	}
	return events
}

// checkStored compares the stored events with the sent ones. Properties
// that start with $ come from the client library, so they are compared
// only for $lib.
func checkStored(t *testing.T, sent []sampleEvent, stored map[string]storedEvent, lib string) {
	t.Helper()
	if len(stored) != len(sent) {
		t.Errorf("stored %d events, sent %d", len(stored), len(sent))
	}
	for _, e := range sent {
		got, ok := stored[e.UUID]
		if !ok {
			t.Errorf("%s (%s) was not stored", e.Event, e.UUID)
			continue
		}
		if got.Event != e.Event || got.DistinctID != e.DistinctID {
			t.Errorf("%s: stored as event %q of %q, want %q of %q", e.UUID, got.Event, got.DistinctID, e.Event, e.DistinctID)
		}
		if got.Properties["$lib"] != lib {
			t.Errorf("%s: $lib = %v, want %q", e.Event, got.Properties["$lib"], lib)
		}
		props := map[string]any{}
		for k, v := range got.Properties {
			if !strings.HasPrefix(k, "$") {
				props[k] = v
			}
		}
		if diff := cmp.Diff(e.want, props); diff != "" {
			t.Errorf("%s: stored properties differ from the catalog's normalization (-want +got):\n%s", e.Event, diff)
		}
	}
}

// failureCallback records the failures posthog-go reports.
type failureCallback struct {
	mu     sync.Mutex
	errors []error
}

func (c *failureCallback) Success(posthog.APIMessage) {}

func (c *failureCallback) Failure(_ posthog.APIMessage, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errors = append(c.errors, err)
}

// quietLogger discards posthog-go's log lines; failures arrive through the
// callback.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Logf(string, ...any)   {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}

func TestPosthogGoSendsEveryMuxEvent(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, Config{DataDir: dir, WriteKey: "phc_conformance_go", AdminToken: "admin-conformance"})
	events := muxSampleEvents(t, "7d3c9a52-1f0e-4b8a-9c6d-2e5f4a3b1c0d")

	// An endpoint with a trailing slash makes posthog-go post to //batch/.
	callback := &failureCallback{}
	client, err := posthog.NewWithConfig("phc_conformance_go", posthog.Config{
		Endpoint:    srv.URL() + "/",
		Compression: posthog.CompressionGzip,
		BatchSize:   7,
		Interval:    50 * time.Millisecond,
		Callback:    callback,
		Logger:      quietLogger{},
	})
	if err != nil {
		t.Fatalf("posthog.NewWithConfig: %v", err)
	}
	for _, e := range events {
		err := client.Enqueue(posthog.Capture{Event: e.Event, DistinctId: e.DistinctID, Uuid: e.UUID, Properties: e.Properties})
		if err != nil {
			t.Fatalf("Enqueue %s: %v", e.Event, err)
		}
	}
	if err := client.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if len(callback.errors) > 0 {
		t.Fatalf("posthog-go reported failures: %v", errors.Join(callback.errors...))
	}

	stats := srv.Collector().Stats()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	checkStored(t, events, readStoredEvents(t, dir, mux.App), "posthog-go")
	if stats.Requests < 3 {
		t.Errorf("collector handled %d requests, want at least 3 batches of 7", stats.Requests)
	}
	if stats.Dropped["unknown_event"] != 0 || stats.Accepted != int64(len(events)) {
		t.Errorf("stats: accepted %d, dropped %v; want %d accepted", stats.Accepted, stats.Dropped, len(events))
	}
}

// posthogNodeDir is the folder whose package-lock.json pins posthog-node.
const posthogNodeDir = "testdata/posthog-node"

func TestPosthogNodeSendsEveryMuxEvent(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: install Node.js 18 or newer and run npm ci in internal/server/testdata/posthog-node to run this test")
	}
	if _, err := os.Stat(filepath.Join(posthogNodeDir, "node_modules", "posthog-node", "package.json")); err != nil {
		t.Fatalf("posthog-node is not installed: run npm ci in internal/server/%s (scripts/test.sh does)", posthogNodeDir)
	}

	dir := t.TempDir()
	srv := startServer(t, Config{DataDir: dir, WriteKey: "phc_conformance_node", AdminToken: "admin-conformance"})
	events := muxSampleEvents(t, "0a4f6c1e-9b2d-4e7a-8f3c-5d6e7f8a9b0c")

	input, err := json.Marshal(map[string]any{"host": srv.URL(), "apiKey": "phc_conformance_node", "events": events})
	if err != nil {
		t.Fatal(err)
	}
	inputFile := filepath.Join(t.TempDir(), "events.json")
	if err := os.WriteFile(inputFile, input, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "send.js", inputFile)
	cmd.Dir = posthogNodeDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node send.js: %v\n%s", err, out)
	}

	stats := srv.Collector().Stats()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	checkStored(t, events, readStoredEvents(t, dir, mux.App), "posthog-node")
	if stats.Requests < 3 {
		t.Errorf("collector handled %d requests, want at least 3 batches of 7", stats.Requests)
	}
}
