package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

// benchEvent is a message_sent event as the Mux app sends it, with the
// base properties of a Mux backend.
const benchEvent = `{"event":"message_sent","distinct_id":"5b0e1c7e-8a41-4f5e-9d0a-000000000042",` +
	`"uuid":"0b9f7c1e-3f4a-4c2b-9d8e-1a2b3c4d5e6f","timestamp":"2026-03-10T11:59:58.123456789Z","properties":{` +
	`"workspaceId":"0b9f7c1e-3f4a-4c2b-9d8e-1a2b3c4d5e6f","model":"anthropic/claude-sonnet-4-5","agentId":"exec",` +
	`"message_length_b2":512,"runtimeType":"worktree","frontendPlatform":{"userAgent":"Chrome 131 (macOS)","platform":"macOS"},` +
	`"thinkingLevel":"medium","version":"1.4.2","backend_platform":"linux","$lib":"candor-loadgen","$lib_version":"1.0.0","$geoip_disable":true}}`

// BenchmarkDecodeMuxEvents measures the collector's decoding of Mux events
// from JSON text to store events: the JSON union, each event's fields and
// properties, and the catalog checks. It reports the time per event.
func BenchmarkDecodeMuxEvents(b *testing.B) {
	p := &project{name: "mux", catalog: mux.Catalog()}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	rt, _ := matchRoute("/batch/")
	names := newInternTable([]*catalog.Catalog{p.catalog})

	for _, size := range []int{1, 100} {
		text := `{"api_key":"k",` + benchEvent[1:]
		if size > 1 {
			text = `{"api_key":"k","batch":[` + strings.Repeat(benchEvent+",", size-1) + benchEvent + `]}`
		}
		name := "single"
		if size > 1 {
			name = "batch100"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req, err := parseRequest([]byte(text), rt, DefaultMaxDepth, DefaultMaxProperties, allowAll)
				if err != nil {
					b.Fatal(err)
				}
				out := checkEvents(eventContext{project: p, names: names, now: now}, decodeEvents(req, DefaultMaxEventSize, names))
				if len(out.events) != size {
					b.Fatalf("%d events passed, want %d; dropped %v", len(out.events), size, out.dropped)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/event")
		})
	}
}
