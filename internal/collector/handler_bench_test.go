package collector_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/sdk/mux"
)

// BenchmarkServeSingleEvent measures the collector's handler for one Mux
// event per request, from the request to the written response, without
// the HTTP server and with a store that keeps nothing.
func BenchmarkServeSingleEvent(b *testing.B) {
	c, err := collector.New(collector.Config{
		Store:           &discardStore{fakeStore: newFakeStore()},
		Projects:        []collector.Project{{Name: "mux", WriteKey: muxKey, Catalog: mux.Catalog()}},
		CommitInterval:  -1,
		SummaryInterval: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())

	body := []byte(`{"api_key":"` + muxKey + `","event":"message_sent","distinct_id":"5b0e1c7e-8a41-4f5e-9d0a-000000000042",` +
		`"uuid":"0b9f7c1e-3f4a-4c2b-9d8e-1a2b3c4d5e6f","timestamp":"2026-03-10T11:59:58.123Z","properties":{` +
		`"workspaceId":"0b9f7c1e-3f4a-4c2b-9d8e-1a2b3c4d5e6f","model":"anthropic/claude-sonnet-4-5","agentId":"exec",` +
		`"message_length_b2":512,"runtimeType":"worktree","frontendPlatform":{"userAgent":"Chrome 131 (macOS)","platform":"macOS"},` +
		`"thinkingLevel":"medium",` +
		`"version":"1.4.2","backend_platform":"linux","$lib":"candor-loadgen","$lib_version":"1.0.0","$geoip_disable":true}}`)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/i/v0/e/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"accepted":1`) {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
