package telemetry

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

func TestAppendTimestampMatchesRFC3339Nano(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	times := []time.Time{
		time.Date(2026, 12, 4, 20, 23, 45, 160426916, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 100000000, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 120, time.UTC),
		time.Date(2026, 6, 30, 23, 59, 59, 999999999, paris),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 5, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		{},
		time.Now(),
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		times = append(times, time.Unix(rng.Int64N(1<<35)-1<<34, rng.Int64N(1e9)).In(paris))
		times = append(times, time.Unix(rng.Int64N(1<<32), rng.Int64N(1000)*1e6))
	}
	var ts timestamps
	for i, tm := range times {
		want := tm.UTC().Format(time.RFC3339Nano)
		if got := string(appendTimestamp([]byte("x"), tm)); got != "x"+want {
			t.Errorf("appendTimestamp(%v) = %q, want %q", tm, got[1:], want)
		}
		// Neighbours in the same second reuse the formatted prefix.
		for _, tm := range []time.Time{tm, tm.Add(time.Duration(i % 1000)), tm.Add(time.Second)} {
			want := tm.UTC().Format(time.RFC3339Nano)
			if got := string(ts.append([]byte("x"), tm)); got != "x"+want {
				t.Errorf("timestamps.append(%v) = %q, want %q", tm, got[1:], want)
			}
		}
	}
}

func TestUUIDSourceMakesDistinctVersion4IDs(t *testing.T) {
	var src uuidSource
	seen := map[string]bool{}
	for range 1000 { // crosses several refills of the 4 KiB buffer
		id := string(src.appendUUID(nil))
		if !catalog.IsUUID(id) || id[14] != '4' {
			t.Fatalf("%q is not a UUID version 4", id)
		}
		if seen[id] {
			t.Fatalf("%q made twice", id)
		}
		seen[id] = true
	}
}

// TestEncodeMatchesGeneralPath checks that the JSON of the compiled path is
// the JSON of Properties, Normalize and encoding/json, apart from the
// random event ID, for events with and without violations and with feature
// flags set.
func TestEncodeMatchesGeneralPath(t *testing.T) {
	c, err := build(testConfig(t, "http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	e := c.encoder
	agent := validMessage()
	agent.AgentID = "/home/alice/agent" // an optional property that breaks its class
	ten := 10
	events := []catalog.Event{
		validMessage(),
		&agent,
		agent,
		mux.AppStarted{IsFirstLaunch: true},
		mux.MCPServerConfigChanged{Action: "set_tool_allowlist", Transport: "sse", ToolAllowlistSize: &ten},
		mux.ExperimentOverridden{ExperimentID: "new-onboarding", AssignedVariant: "control"},
		mux.StreamCompleted{Model: "o3", DurationSecs: 0.3, OutputTokens: 9000},
	}
	at := time.Date(2026, 12, 4, 20, 23, 45, 160426916, time.UTC)
	for _, flags := range []map[string]any{nil, {"dark-mode": true, "onboarding": "variant-b"}} {
		for k, v := range flags {
			if r := e.setFlag(k, v); r != "" {
				t.Fatalf("setFlag(%q): %s", k, r)
			}
		}
		for _, ev := range events {
			out, res := e.encode([]byte("prefix"), item{ev: ev, at: at}, "0f8fad5b-d9cb-469f-a165-70867728950e")
			if res.dropReason != "" {
				t.Fatalf("%s dropped: %s", res.name, res.dropReason)
			}
			if !bytes.Equal(out[:6], []byte("prefix")) || !bytes.Equal(out[6:], res.json) {
				t.Fatalf("%s: encode did not append res.json to dst", res.name)
			}
			want, wantRes := e.encodeGeneral(item{ev: ev, at: at}, "0f8fad5b-d9cb-469f-a165-70867728950e")
			if diff := diff(wantRes.violations, res.violations); diff != "" {
				t.Errorf("%s violations: %s", res.name, diff)
			}
			var got, general decoded
			if err := json.Unmarshal(res.json, &got); err != nil {
				t.Fatalf("%s: invalid JSON %s: %v", res.name, res.json, err)
			}
			json.Unmarshal(want, &general)
			if !catalog.IsUUID(got.UUID) || got.UUID == general.UUID {
				t.Errorf("%s: uuid %q, want a new UUID", res.name, got.UUID)
			}
			if g, w := strings.Replace(string(res.json), got.UUID, "", 1), strings.Replace(string(want), general.UUID, "", 1); g != w {
				t.Errorf("%s:\n got %s\nwant %s", res.name, g, w)
			}
		}
	}
}

// TestEncodeRejectsAsBefore checks that events the compiled path declines
// are still rejected with the catalog's reason and leave dst unchanged.
func TestEncodeRejectsAsBefore(t *testing.T) {
	c, err := build(testConfig(t, "http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	bad := validMessage()
	bad.Model = "alice@example.com"
	var nilMessage *mux.MessageSent
	tests := []struct {
		ev   catalog.Event
		want string
	}{
		{bad, string(catalog.ReasonLooksLikeEmail)},
		{unregistered{}, string(catalog.ReasonUnknownEvent)},
		{nilMessage, DropEncodeFailed}, // its EventName panics
	}
	for _, tt := range tests {
		dst := []byte("prefix")
		out, res := c.encoder.encode(dst, item{ev: tt.ev, at: time.Now()}, "id")
		if res.dropReason != tt.want {
			t.Errorf("%T: drop reason %q, want %q", tt.ev, res.dropReason, tt.want)
		}
		if string(out) != "prefix" || res.json != nil {
			t.Errorf("%T: dst became %q, want it unchanged", tt.ev, out)
		}
	}
}

type unregistered struct{}

func (unregistered) EventName() string { return "not_in_the_catalog" }

func TestEncodeAllocatesNothing(t *testing.T) {
	c, err := build(testConfig(t, "http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	var ev catalog.Event = validMessage()
	buf := make([]byte, 0, 4096)
	it := item{ev: ev, at: time.Now()}
	if n := testing.AllocsPerRun(500, func() { buf, _ = c.encoder.encode(buf[:0], it, "id") }); n != 0 {
		t.Errorf("encode allocates %.1f times per event, want 0", n)
	}
}

func BenchmarkEncode(b *testing.B) {
	c, err := build(testConfig(b, "http://127.0.0.1:1"))
	if err != nil {
		b.Fatal(err)
	}
	it := item{ev: validMessage(), at: time.Now()}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = c.encoder.encode(buf[:0], it, "0f8fad5b-d9cb-469f-a165-70867728950e")
	}
}

// TestBatchStorageKeepsEveryEvent sends enough events for the sender to
// seal batches by size and to reuse the storage of sent batches, with and
// without 413 splits. Every event must arrive intact once, and the sent log
// must hold exactly the events the collector acknowledged.
func TestBatchStorageKeepsEveryEvent(t *testing.T) {
	for _, splitAbove := range []int{0, 200} {
		col := newCollector(t)
		if splitAbove > 0 {
			col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
				if len(r.Batch) > splitAbove {
					w.WriteHeader(http.StatusRequestEntityTooLarge)
					return true
				}
				return false
			})
		}
		cfg := testConfig(t, col.srv.URL)
		cfg.BatchSize = 10000 // batches are sealed at maxBatchBytes
		cfg.SentLog = filepath.Join(t.TempDir(), "sent.jsonl")
		cfg.SentLogMaxBytes = 1 << 30
		c := newClient(t, cfg)
		want := map[string]float64{} // workspaceId to message_length_b2
		for i := range 3000 {
			ev := validMessage()
			ev.WorkspaceID = newUUID()
			ev.MessageLength = i
			want[ev.WorkspaceID], _ = catalog.RoundBase2(float64(i))
			c.Capture(ev)
		}
		flush(t, c)
		closeClient(t, c)

		events := assertExactlyOnce(t, col, len(want))
		for _, ev := range events {
			id, _ := ev.Properties["workspaceId"].(string)
			length, ok := want[id]
			if !ok || ev.Properties["message_length_b2"] != length || ev.Properties["model"] != "anthropic/claude-sonnet-4-5" {
				t.Fatalf("split above %d: event arrived changed: %+v", splitAbove, ev)
			}
		}
		var sizes []int
		for _, body := range col.bodies() {
			sizes = append(sizes, len(body))
		}
		if len(sizes) < 4 || slices.Max(sizes) > maxBatchBytes+4096 {
			t.Errorf("split above %d: request bodies of %v bytes, want batches sealed near %d bytes", splitAbove, sizes, maxBatchBytes)
		}

		var acked []string
		col.mu.Lock()
		for _, r := range col.requests {
			if r.accepted {
				for _, raw := range r.Batch {
					acked = append(acked, string(raw))
				}
			}
		}
		col.mu.Unlock()
		logged, err := os.ReadFile(cfg.SentLog)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(logged), "\n"), "\n")
		slices.Sort(lines)
		slices.Sort(acked)
		if !slices.Equal(lines, acked) {
			t.Errorf("split above %d: the sent log holds %d lines that differ from the %d acknowledged events", splitAbove, len(lines), len(acked))
		}
	}
}

// TestBatchStorageNotShared drives the sender directly. Each sealed batch
// is checked when the next one is sealed, then its storage is overwritten
// and recycled: an event of a later batch that still pointed into that
// storage would read the garbage.
func TestBatchStorageNotShared(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1")
	cfg.BatchSize = 100000 // batches are sealed at maxBatchBytes
	c, err := build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsEnabled() {
		t.Fatalf("telemetry is off: %s", c.Status())
	}
	s := newSender(c)
	defer s.batchTimer.Stop()

	want := map[string]float64{}
	check := func(b *batch) {
		for _, raw := range b.events {
			var ev decoded
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatalf("event overwritten: %.60q", raw)
			}
			id, _ := ev.Properties["workspaceId"].(string)
			if length, ok := want[id]; !ok || ev.Properties["message_length_b2"] != length {
				t.Fatalf("event changed: %s", raw)
			}
			delete(want, id)
		}
		garbage := b.buf[:cap(b.buf)]
		for i := range garbage {
			garbage[i] = 'x'
		}
		s.recycle(b)
	}

	sealed := 0
	for i := range 5000 {
		ev := validMessage()
		ev.WorkspaceID = newUUID()
		ev.MessageLength = i
		want[ev.WorkspaceID], _ = catalog.RoundBase2(float64(i))
		s.add(item{ev: ev, at: time.Now()}, "0f8fad5b-d9cb-469f-a165-70867728950e", "")
		for len(s.pending) > 1 {
			check(s.pending[0])
			s.pending = s.pending[1:]
			sealed++
		}
	}
	s.seal()
	for _, b := range s.pending {
		check(b)
	}

	if sealed < 3 || len(want) != 0 {
		t.Errorf("%d batches sealed by size, %d events missing; want 3 or more and none", sealed, len(want))
	}
}

// BenchmarkCompressionLevels compresses the body of one batch of 100
// message_sent events with the gzip encoder the uploader uses
// (klauspost/compress) and with the standard library's, at the levels the
// uploader could use, and reports the CPU time per event and the
// compression ratio.
func BenchmarkCompressionLevels(b *testing.B) {
	c, err := build(testConfig(b, "http://127.0.0.1:1"))
	if err != nil {
		b.Fatal(err)
	}
	var events [][]byte
	for range 100 {
		out, res := c.encoder.encode(nil, item{ev: validMessage(), at: time.Now()}, "0f8fad5b-d9cb-469f-a165-70867728950e")
		if res.dropReason != "" {
			b.Fatal(res.dropReason)
		}
		events = append(events, out)
	}
	body := slices.Clone(newUploader("http://127.0.0.1:1", "phc_test", nil).payload(events))

	type compressor interface {
		io.WriteCloser
		Reset(io.Writer)
	}
	encoders := []struct {
		name string
		new  func(level int) (compressor, error)
	}{
		{"klauspost", func(level int) (compressor, error) { return kgzip.NewWriterLevel(nil, level) }},
		{"stdlib", func(level int) (compressor, error) { return gzip.NewWriterLevel(nil, level) }},
	}
	for _, enc := range encoders {
		for _, level := range []int{gzip.HuffmanOnly, gzip.BestSpeed, gzip.DefaultCompression} {
			b.Run(fmt.Sprintf("%s/level=%d", enc.name, level), func(b *testing.B) {
				var out bytes.Buffer
				w, err := enc.new(level)
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					out.Reset()
					w.Reset(&out)
					w.Write(body)
					w.Close()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(events)), "ns/event")
				b.ReportMetric(float64(len(body))/float64(out.Len()), "ratio")
			})
		}
	}
}
