package bench

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/posthog/posthog-go"

	"github.com/candor-dev/candor/sdk/mux"
	"github.com/candor-dev/candor/sdk/telemetry"
)

// nullCollector accepts every request and discards its body, so the
// benchmarks measure the clients, not a server.
func nullCollector(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(nullHandler())
	b.Cleanup(srv.Close)
	return srv
}

var message = mux.MessageSent{
	WorkspaceID:   "0f8fad5b-d9cb-469f-a165-70867728950e",
	Model:         "anthropic/claude-sonnet-4-5",
	AgentID:       "exec",
	MessageLength: 350,
	RuntimeType:   "local",
	FrontendPlatform: mux.FrontendPlatform{
		UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36",
		Platform:  "MacIntel",
	},
	ThinkingLevel: "medium",
}

// switchable is an environment whose MUX_DISABLE_TELEMETRY the benchmark
// turns on and off, to empty the client's queue between timed rounds.
type switchable struct{ off atomic.Bool }

func (e *switchable) getenv(name string) string {
	if name == "MUX_DISABLE_TELEMETRY" && e.off.Load() {
		return "1"
	}
	return ""
}

func newCandor(b *testing.B, endpoint string, queueSize int, env *switchable) *telemetry.Client {
	client, err := telemetry.New(telemetry.Config{
		App:             mux.App,
		Catalog:         mux.Catalog(),
		Endpoint:        endpoint,
		WriteKey:        "phc_bench",
		Home:            b.TempDir(),
		Version:         "1.0.0",
		AllowAutomation: true,
		QueueSize:       queueSize,
		Spool:           telemetry.SpoolConfig{Disabled: true},
		Getenv:          env.getenv,
	})
	if err != nil {
		b.Fatal(err)
	}
	return client
}

// emptyQueue drops every event the client holds without sending it: it
// switches telemetry off, lets the sender discard the queue and switches
// telemetry on again.
func emptyQueue(b *testing.B, client *telemetry.Client, env *switchable) {
	env.off.Store(true)
	client.IsEnabled() // Capture and the sender see the switch from here on
	if err := client.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	env.off.Store(false)
	if !client.IsEnabled() {
		b.Fatal("telemetry stayed off")
	}
}

// callerCPU adds up the CPU time of the benchmark's own thread while the
// timer runs, which leaves out the time other processes on a shared machine
// take from it. It locks the goroutine to its thread until done. Linux
// counts a running thread's time up to its last scheduler tick, so runs
// shorter than about 100 ms read low.
type callerCPU struct {
	start, total int64
}

func startCallerCPU() *callerCPU {
	runtime.LockOSThread()
	return &callerCPU{start: threadCPUTime()}
}

func (c *callerCPU) pause()  { c.total += threadCPUTime() - c.start }
func (c *callerCPU) resume() { c.start = threadCPUTime() }

// done reports the caller's CPU time per operation, where the platform
// measures it, and unlocks the thread.
func (c *callerCPU) done(b *testing.B) {
	c.pause()
	runtime.UnlockOSThread()
	if c.start >= 0 {
		b.ReportMetric(float64(c.total)/float64(b.N), "caller-cpu-ns/op")
	}
}

// closeQuietly closes a client without sending what it still holds.
func closeQuietly(b *testing.B, client *telemetry.Client, env *switchable) telemetry.Stats {
	env.off.Store(true)
	client.IsEnabled()
	stats, _ := client.Close(context.Background())
	return stats
}

// BenchmarkCapture measures what one captured message_sent costs the
// caller's goroutine, in candor and in posthog-go, against the same null
// collector.
// Besides ns/op, which counts wall time, each case reports
// caller-cpu-ns/op: the CPU time of the calling thread alone.
//
// candor is the accepted path: every Capture finds room in the queue while
// the sender encodes and uploads on the other core. The loop runs in rounds
// of DefaultQueueSize events, and the queue is emptied between rounds with
// the timer stopped. Without that, a tight loop fills the queue within
// milliseconds and measures the drop path. candor-queue-full is that drop
// path: the sender is stuck in an upload and every Capture finds the queue
// full. posthog-go serializes each message in Enqueue, before its own queue.
func BenchmarkCapture(b *testing.B) {
	srv := nullCollector(b)

	b.Run("candor", func(b *testing.B) {
		env := &switchable{}
		client := newCandor(b, srv.URL, telemetry.DefaultQueueSize, env)
		round := telemetry.DefaultQueueSize
		b.ReportAllocs()
		b.ResetTimer()
		cpu := startCallerCPU()
		for i := 0; i < b.N; i++ {
			if i > 0 && i%round == 0 {
				cpu.pause()
				b.StopTimer()
				emptyQueue(b, client, env)
				b.StartTimer()
				cpu.resume()
			}
			client.Capture(message)
		}
		cpu.done(b)
		b.StopTimer()
		stats := closeQuietly(b, client, env)
		b.ReportMetric(float64(stats.DroppedByReason[telemetry.DropQueueFull])/float64(b.N), "full-drops/op")
	})

	b.Run("candor-queue-full", func(b *testing.B) {
		release := make(chan struct{})
		stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release
			io.Copy(io.Discard, r.Body)
		}))
		var once sync.Once
		unblock := func() { once.Do(func() { close(release) }) }
		defer stuck.Close()
		defer unblock()
		env := &switchable{}
		client := newCandor(b, stuck.URL, telemetry.DefaultQueueSize, env)
		for client.Stats().DroppedByReason[telemetry.DropQueueFull] == 0 {
			client.Capture(message)
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu := startCallerCPU()
		for i := 0; i < b.N; i++ {
			client.Capture(message)
		}
		cpu.done(b)
		b.StopTimer()
		stats := client.Stats()
		unblock()
		closeQuietly(b, client, env)
		b.ReportMetric(float64(stats.DroppedByReason[telemetry.DropQueueFull]-1)/float64(b.N), "full-drops/op")
	})

	b.Run("posthog-go", func(b *testing.B) {
		client, err := posthog.NewWithConfig("phc_bench", posthog.Config{
			Endpoint: srv.URL,
			Logger:   posthog.StdLogger(log.New(io.Discard, "", 0), false),
		})
		if err != nil {
			b.Fatal(err)
		}
		props := posthog.NewProperties().
			Set("workspaceId", message.WorkspaceID).
			Set("model", message.Model).
			Set("agentId", message.AgentID).
			Set("message_length_b2", 512).
			Set("runtimeType", message.RuntimeType).
			Set("frontendPlatform", map[string]any{"userAgent": "Chrome 138 (macOS)", "platform": "macOS"}).
			Set("thinkingLevel", message.ThinkingLevel)
		drops := 0
		b.ReportAllocs()
		b.ResetTimer()
		cpu := startCallerCPU()
		for i := 0; i < b.N; i++ {
			if client.Enqueue(posthog.Capture{DistinctId: "0f8fad5b-d9cb-469f-a165-70867728950e", Event: "message_sent", Properties: props}) != nil {
				drops++
			}
		}
		cpu.done(b)
		b.StopTimer()
		client.Close()
		b.ReportMetric(float64(drops)/float64(b.N), "full-drops/op")
	})
}

// BenchmarkBackground measures the CPU the SDK spends per event outside
// the caller's goroutine: catalog checks, JSON, gzip and HTTP on the sender
// goroutine and the HTTP client's connection goroutines, and the garbage
// collection of all of it. The null collector runs in a child process, so
// its CPU is not counted. The caller captures rounds of DefaultQueueSize
// events, as fast as Capture takes them, and flushes after each round, so
// the queue never overflows and holds no more than an app's would. The
// sender sends batches of 100 (the default) meanwhile.
//
// background-cpu-ns/event is the process's CPU time less the calling
// thread's. caller-cpu-ns/op is the calling thread's, Flush included.
// system-cpu-ns/event is the process's time in the kernel.
func BenchmarkBackground(b *testing.B) {
	client := newCandor(b, nullCollectorProcess(b), telemetry.DefaultQueueSize, &switchable{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	round := telemetry.DefaultQueueSize
	start, startSys := cpuTime(), systemCPUTime()
	b.ResetTimer()
	cpu := startCallerCPU()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%round == 0 {
			if err := client.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
		client.Capture(message)
	}
	cpu.done(b)
	stats, err := client.Close(ctx)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if stats.Sent != int64(b.N) {
		b.Fatalf("sent %d of %d events: %+v", stats.Sent, b.N, stats)
	}
	b.ReportMetric(float64(cpuTime()-start-cpu.total)/float64(b.N), "background-cpu-ns/event")
	b.ReportMetric(float64(systemCPUTime()-startSys)/float64(b.N), "system-cpu-ns/event")
}

// cpuTime returns the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// systemCPUTime returns the process's system CPU time in nanoseconds: the
// kernel's work for it, such as sending on loopback TCP and waking
// threads.
func systemCPUTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Stime.Nano()
}
