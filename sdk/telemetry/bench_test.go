package telemetry

import (
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
)

// BenchmarkCapture measures Capture on the caller's goroutine while the
// sender drains the queue and uploads to a loopback collector. The one
// allocation per call is the conversion of the event struct to the
// catalog.Event interface.
func BenchmarkCapture(b *testing.B) {
	col := newCollector(b)
	cfg := testConfig(b, col.srv.URL)
	c, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(b.Context())
	ev := validMessage()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c.Capture(ev)
	}
}

// BenchmarkCaptureDisabled measures Capture while telemetry is off.
func BenchmarkCaptureDisabled(b *testing.B) {
	cfg := testConfig(b, "http://127.0.0.1:1")
	cfg.Getenv = env{"MUX_DISABLE_TELEMETRY": "1"}.get
	c, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(b.Context())
	ev := validMessage()
	b.ReportAllocs()
	for b.Loop() {
		c.Capture(ev)
	}
}

// BenchmarkCaptureCallerOnly measures what Capture costs the caller, with
// no sender competing for the CPU: the event is passed as an interface
// value already, so no allocation is left.
func BenchmarkCaptureCallerOnly(b *testing.B) {
	cfg := testConfig(b, "http://127.0.0.1:1")
	cfg.QueueSize = b.N + 1
	cfg.Getenv = nil // os.Getenv, as in an app
	c, err := build(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if !c.IsEnabled() {
		b.Skipf("telemetry is off in this environment: %s", c.Status())
	}
	var ev catalog.Event = validMessage()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.Capture(ev)
	}
}

func TestCaptureAllocatesNothing(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1")
	cfg.QueueSize = 2000
	c, err := build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ev catalog.Event = validMessage()
	if n := testing.AllocsPerRun(1000, func() { c.Capture(ev) }); n != 0 {
		t.Errorf("Capture allocates %.1f times per call, want 0 beyond boxing the event", n)
	}
	if got := c.Stats().Queued; got < 1000 {
		t.Errorf("queued %d events, want every call queued", got)
	}
}
