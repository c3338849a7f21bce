package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/candor-dev/candor/internal/store/duckdb"
)

const loadgenSynopsis = `[--duration 10s] [--concurrency 32] [--single-concurrency 256] [--batch 100] [--overload 10] [--phases LIST]

Measure the collector's ingestion over loopback. loadgen starts candor serve
as child processes on fresh temporary data folders (this executable, with
--rate-limit 0) and runs these phases, each for --duration after a second of
warm-up:

  batch     gzip batches of --batch events to /batch/, against --store null
            (HTTP and decoding only) and against DuckDB (durable commits)
  single    one event per request to /i/v0/e/, against null and DuckDB
  overload  gzip batches offered at --overload times the DuckDB batch rate,
            open loop; reports the server's peak RSS (VmHWM)

A 200 response counts its events; with DuckDB a 200 comes after the events
are synced to the journal (or, with --journal=false, committed to DuckDB), so
the rate is of durable events. loadgen checks the DuckDB totals through
/api/v1/overview afterwards.`

// loadgenFlags are the settings of one loadgen run.
type loadgenFlags struct {
	duration          time.Duration
	concurrency       int
	singleConcurrency int
	batchSize         int
	overload          float64
	phases            string
	candor            string
	duckdbProperties  string
	journal           bool
}

func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("loadgen", loadgenSynopsis, stderr)
	var f loadgenFlags
	fs.DurationVar(&f.duration, "duration", 10*time.Second, "measured length of each phase")
	fs.IntVar(&f.concurrency, "concurrency", 32, "client workers that send batches, each waiting for its response")
	fs.IntVar(&f.singleConcurrency, "single-concurrency", 256, "client workers that send single events")
	fs.IntVar(&f.batchSize, "batch", 100, "events per batch request")
	fs.Float64Var(&f.overload, "overload", 10, "offered load of the overload phase, as a multiple of the measured DuckDB batch rate")
	fs.StringVar(&f.phases, "phases", "batch,single,overload", "comma-separated phases to run: batch, single, overload")
	fs.StringVar(&f.candor, "candor", "", "candor executable to run as the server (default: this executable)")
	fs.StringVar(&f.duckdbProperties, "duckdb-properties", duckdb.PropertiesVariant, "the DuckDB server's --duckdb-properties: variant or json")
	fs.BoolVar(&f.journal, "journal", true, "the DuckDB server's --journal: false commits each group of requests to DuckDB before answering")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	phases, err := f.check()
	if err != nil {
		return asUsageError(err)
	}
	exe := f.candor
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("find the candor executable: %w (pass --candor PATH)", err)
		}
	} else if _, err := exec.LookPath(exe); err != nil {
		return usageErrorf("invalid --candor %q: %w: pass the path of a candor executable, or leave the flag out to run this one", exe, err)
	}

	fmt.Fprintf(stdout, "machine: %d CPUs, %s; load average %s\n", runtime.NumCPU(), cpuModel(), loadAverage())
	fmt.Fprintf(stdout, "%-28s %-11s %8s %11s %11s %8s %8s %10s  %s\n",
		"phase", "store", "clients", "events/s", "requests/s", "p50", "p99", "RSS peak", "responses")

	lg := &loadgen{exe: exe, flags: f, stdout: stdout}
	var batchRate float64
	if phases["batch"] || phases["overload"] {
		if phases["batch"] {
			if _, err := lg.closedLoop(ctx, "batch (gzip)", "null", f.concurrency, lg.batchBody); err != nil {
				return err
			}
		}
		res, err := lg.closedLoop(ctx, "batch (gzip)", "duckdb", f.concurrency, lg.batchBody)
		if err != nil {
			return err
		}
		batchRate = res.eventsPerSecond()
	}
	if phases["single"] {
		for _, store := range []string{"null", "duckdb"} {
			if _, err := lg.closedLoop(ctx, "single event", store, f.singleConcurrency, lg.singleBody); err != nil {
				return err
			}
		}
	}
	if phases["overload"] {
		if err := lg.openLoop(ctx, batchRate*f.overload); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "load average after: %s\n", loadAverage())
	return nil
}

// check returns an error naming the first invalid flag value, or else the
// set of phases that --phases names.
func (f *loadgenFlags) check() (map[string]bool, error) {
	if f.duration <= 0 {
		return nil, fmt.Errorf("invalid --duration %v: use a positive duration such as 10s", f.duration)
	}
	counts := []struct {
		flag  string
		value int
	}{{"concurrency", f.concurrency}, {"single-concurrency", f.singleConcurrency}, {"batch", f.batchSize}}
	for _, count := range counts {
		if count.value <= 0 {
			return nil, fmt.Errorf("invalid --%s %d: use 1 or more", count.flag, count.value)
		}
	}
	if !(f.overload > 0) || math.IsInf(f.overload, 0) {
		return nil, fmt.Errorf("invalid --overload %v: use a positive multiple, such as 10", f.overload)
	}
	if f.duckdbProperties != duckdb.PropertiesVariant && f.duckdbProperties != duckdb.PropertiesJSON {
		return nil, fmt.Errorf("invalid --duckdb-properties %q: use %s or %s", f.duckdbProperties, duckdb.PropertiesVariant, duckdb.PropertiesJSON)
	}
	phases := map[string]bool{}
	for _, p := range strings.Split(f.phases, ",") {
		p = strings.TrimSpace(p)
		if p != "batch" && p != "single" && p != "overload" {
			return nil, fmt.Errorf("invalid phase %q in --phases: use batch, single or overload", p)
		}
		phases[p] = true
	}
	return phases, nil
}

// loadgen runs the phases of one loadgen command.
type loadgen struct {
	exe    string
	flags  loadgenFlags
	stdout io.Writer
	nextID atomic.Uint64
}

// loadWriteKey and loadAdminToken are the keys of the servers loadgen
// starts.
const (
	loadWriteKey   = "phc_loadgen_write_key"
	loadAdminToken = "cadm_loadgen_admin_token"
)

// phaseResult sums the responses of one phase.
type phaseResult struct {
	elapsed   time.Duration
	events    int64 // events of 200 responses
	requests  int64
	responses map[string]int64 // by status code, or "error"
	latencies []time.Duration  // of 200 responses
}

func (r *phaseResult) eventsPerSecond() float64 { return float64(r.events) / r.elapsed.Seconds() }

func (r *phaseResult) add(o *phaseResult) {
	r.events += o.events
	r.requests += o.requests
	for k, v := range o.responses {
		r.responses[k] += v
	}
	r.latencies = append(r.latencies, o.latencies...)
}

// bodyFunc returns one request: its path, body, Content-Encoding and the
// number of events in it. The body may be built in dst's memory.
type bodyFunc func(dst []byte, rng *rand.Rand) (path string, body []byte, encoding string, events int)

// closedLoop starts a server with the given store, lets workers send
// requests back to back for the warm-up and then for the measured duration,
// and prints one line.
func (lg *loadgen) closedLoop(ctx context.Context, phase, store string, workers int, next bodyFunc) (*phaseResult, error) {
	srv, err := startLoadServer(lg.exe, store, lg.flags)
	if err != nil {
		return nil, err
	}
	defer srv.stop()

	addr := strings.TrimPrefix(srv.url, "http://")
	warmup := time.Now().Add(time.Second)
	deadline := warmup.Add(lg.flags.duration)

	total := &phaseResult{responses: map[string]int64{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			res := lg.runWorker(ctx, newRawConn(addr, deadline.Add(loadRequestTimeout)), uint64(i), warmup, deadline, next)
			mu.Lock()
			total.add(res)
			mu.Unlock()
		})
	}
	wg.Wait()
	total.elapsed = lg.flags.duration
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	if store == "duckdb" {
		if err := srv.checkStored(total.events); err != nil {
			return nil, err
		}
	}
	lg.printLine(phase, store, strconv.Itoa(workers), total, srv.peakRSS())
	return total, nil
}

// loadRequestTimeout bounds each request of the load generator. In the
// closed loop it is counted from the end of the phase: every connection
// gets the deadline at the phase's end plus loadRequestTimeout.
const loadRequestTimeout = 30 * time.Second

// runWorker sends requests one after the other on conn until deadline and
// sums the responses of those sent after warmup.
func (lg *loadgen) runWorker(ctx context.Context, conn *rawConn, seed uint64, warmup, deadline time.Time, next bodyFunc) *phaseResult {
	defer conn.Close()
	stop := context.AfterFunc(ctx, conn.Close)
	defer stop()

	rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	res := &phaseResult{responses: map[string]int64{}}
	statuses := map[int]int64{}
	var failed int64
	var buf []byte
	for ctx.Err() == nil && time.Now().Before(deadline) {
		path, body, encoding, n := next(buf[:0], rng)
		buf = body
		start := time.Now()
		status, err := conn.post(path, body, encoding)
		if start.Before(warmup) {
			continue
		}
		res.requests++
		if err != nil {
			failed++
			continue
		}
		statuses[status]++
		if status == 200 {
			res.events += int64(n)
			res.latencies = append(res.latencies, time.Since(start))
		}
	}

	for status, n := range statuses {
		res.responses[strconv.Itoa(status)] += n
	}
	if failed > 0 {
		res.responses["error"] += failed
	}
	return res
}

// openLoop offers gzip batches at rate events per second, whatever the
// responses, to a DuckDB server, and prints one line with its peak RSS. The
// batches come from a pool, so later sends repeat uuids and count as
// duplicates.
func (lg *loadgen) openLoop(ctx context.Context, rate float64) error {
	srv, err := startLoadServer(lg.exe, "duckdb", lg.flags)
	if err != nil {
		return err
	}
	defer srv.stop()

	const maxInFlight = 4096
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	pool := make([][]byte, 512)
	for i := range pool {
		_, pool[i], _, _ = lg.batchBody(nil, rng)
	}
	client := loadClient(maxInFlight)
	defer client.CloseIdleConnections()

	requestRate := rate / float64(lg.flags.batchSize)
	total := &phaseResult{responses: map[string]int64{}}
	var mu sync.Mutex
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(lg.flags.duration)
	launched, skipped := 0, 0
	ticker := time.NewTicker(2 * time.Millisecond)
	for now := range ticker.C {
		if ctx.Err() != nil || now.After(deadline) {
			break
		}
		due := int(now.Sub(start).Seconds()*requestRate) - launched - skipped
		for range due {
			if inFlight.Load() >= maxInFlight {
				skipped++
				continue
			}
			body := pool[launched%len(pool)]
			launched++
			inFlight.Add(1)
			wg.Go(func() {
				defer inFlight.Add(-1)
				sent := time.Now()
				status := post(ctx, client, srv.url+"/batch/", body, "gzip")
				mu.Lock()
				defer mu.Unlock()
				total.requests++
				total.responses[status]++
				if status == "200" {
					total.events += int64(lg.flags.batchSize)
					total.latencies = append(total.latencies, time.Since(sent))
				}
			})
		}
	}
	ticker.Stop()
	wg.Wait()
	total.elapsed = time.Since(start)
	if skipped > 0 {
		total.responses["not sent (client at "+strconv.Itoa(maxInFlight)+" in flight)"] = int64(skipped)
	}
	phase := fmt.Sprintf("overload %.0fx (%.0f ev/s)", lg.flags.overload, rate)
	lg.printLine(phase, "duckdb", "open", total, srv.peakRSS())
	return nil
}

func (lg *loadgen) printLine(phase, store, clients string, r *phaseResult, rss int64) {
	slices.Sort(r.latencies)
	percentile := func(p float64) string {
		if len(r.latencies) == 0 {
			return "-"
		}
		return r.latencies[int(p*float64(len(r.latencies)-1))].Round(100 * time.Microsecond).String()
	}
	keys := make([]string, 0, len(r.responses))
	for k := range r.responses {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var responses []string
	for _, k := range keys {
		responses = append(responses, fmt.Sprintf("%s:%d", k, r.responses[k]))
	}
	if store == "duckdb" && lg.flags.duckdbProperties == duckdb.PropertiesJSON {
		store += "-json"
	}
	if store != "null" && !lg.flags.journal {
		store += "-nj"
	}
	fmt.Fprintf(lg.stdout, "%-28s %-11s %8s %11.0f %11.0f %8s %8s %7d MiB  %s\n",
		phase, store, clients, r.eventsPerSecond(), float64(r.requests)/r.elapsed.Seconds(),
		percentile(0.5), percentile(0.99), rss>>20, strings.Join(responses, " "))
}

// batchBody returns a gzip batch of batchSize Mux events with new uuids.
// The JSON text is built in dst, the gzip body in new memory.
func (lg *loadgen) batchBody(dst []byte, rng *rand.Rand) (string, []byte, string, int) {
	raw := append(dst, `{"api_key":"`+loadWriteKey+`","batch":[`...)
	for i := range lg.flags.batchSize {
		if i > 0 {
			raw = append(raw, ',')
		}
		raw = lg.appendEvent(raw, rng)
	}
	raw = append(raw, "]}"...)

	var zipped bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	zw.Reset(&zipped)
	zw.Write(raw)
	zw.Close()
	gzipWriters.Put(zw)
	return "/batch/", zipped.Bytes(), "gzip", lg.flags.batchSize
}

// singleBody returns one Mux event as a single-event request, built in dst.
func (lg *loadgen) singleBody(dst []byte, rng *rand.Rand) (string, []byte, string, int) {
	// The event object gets the key as its first member.
	body := append(dst, `{"api_key":"`+loadWriteKey+`",`...)
	start := len(body)
	body = lg.appendEvent(body, rng)
	body = append(body[:start], body[start+1:]...) // the event's own opening brace
	return "/i/v0/e/", body, "", 1
}

var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// loadEvents are the Mux events loadgen sends, as JSON properties. Each
// passes the Mux catalog.
var loadEvents = []struct{ name, properties string }{
	{"message_sent", `{"workspaceId":"0b9f7c1e-3f4a-4c2b-9d8e-1a2b3c4d5e6f","model":"anthropic/claude-sonnet-4-5","agentId":"exec",` +
		`"message_length_b2":512,"runtimeType":"worktree","frontendPlatform":{"userAgent":"Chrome 131 (macOS)","platform":"macOS"},"thinkingLevel":"medium"}`},
	{"command_used", `{"command":"compact"}`},
	{"stream_completed", `{"model":"openai/gpt-5","wasInterrupted":false,"duration_b2":16,"output_tokens_b2":2048}`},
	{"app_started", `{"isFirstLaunch":false,"vimModeEnabled":true}`},
}

// loadEventTails are the end of each event of loadEvents after its
// timestamp: the properties with the base properties a Mux backend sends,
// and the closing brace.
var loadEventTails = func() []string {
	tails := make([]string, len(loadEvents))
	for i, e := range loadEvents {
		tails[i] = `","properties":` + e.properties[:len(e.properties)-1] +
			`,"version":"1.4.2","backend_platform":"linux","$lib":"candor-loadgen","$lib_version":"1.0.0","$geoip_disable":true}}`
	}
	return tails
}()

// appendEvent appends one event with a new uuid, an install ID out of
// 1,000 and the base properties a Mux backend sends. It appends rather than
// formats, so that building a request costs the load generator little CPU.
func (lg *loadgen) appendEvent(b []byte, rng *rand.Rand) []byte {
	kind := rng.IntN(len(loadEvents))
	id := lg.nextID.Add(1)
	b = append(b, `{"event":"`...)
	b = append(b, loadEvents[kind].name...)
	b = append(b, `","distinct_id":"5b0e1c7e-8a41-4f5e-9d0a-`...)
	b = appendPadded(b, uint64(rng.IntN(1000)), 10, 12)

	// A version 4 UUID with the RFC 9562 variant whose last group counts
	// up, so that no two events of a run share a uuid.
	b = append(b, `","uuid":"`...)
	b = appendPadded(b, uint64(rng.Uint32()), 16, 8)
	b = append(b, '-')
	b = appendPadded(b, uint64(rng.IntN(1<<16)), 16, 4)
	b = append(b, "-4"...)
	b = appendPadded(b, uint64(rng.IntN(1<<12)), 16, 3)
	b = append(b, "-8"...)
	b = appendPadded(b, uint64(rng.IntN(1<<12)), 16, 3)
	b = append(b, '-')
	b = appendPadded(b, id, 16, 12)

	b = append(b, `","timestamp":"`...)
	b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, loadEventTails[kind]...)
}

// appendPadded appends v in the given base, left-padded with zeros to
// width digits.
func appendPadded(b []byte, v uint64, base, width int) []byte {
	var digits [20]byte
	text := strconv.AppendUint(digits[:0], v, base)
	for range width - len(text) {
		b = append(b, '0')
	}
	return append(b, text...)
}

func loadClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			DisableCompression:  true,
		},
	}
}

// post sends one request and returns its status code, or "error".
func post(ctx context.Context, client *http.Client, url string, body []byte, encoding string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "error"
	}
	req.Header.Set("Content-Type", "application/json")
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "error"
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

// loadServer is a candor serve child process on a temporary data folder.
type loadServer struct {
	cmd     *exec.Cmd
	url     string
	dataDir string
	exited  chan error
}

func startLoadServer(exe, store string, f loadgenFlags) (*loadServer, error) {
	dataDir, err := os.MkdirTemp("", "candor-loadgen-")
	if err != nil {
		return nil, err
	}
	s := &loadServer{dataDir: dataDir, exited: make(chan error, 1)}
	args := []string{"serve", "--data", dataDir, "--listen", "127.0.0.1:0", "--store", store,
		"--write-key", loadWriteKey, "--admin-token", loadAdminToken, "--rate-limit", "0", "--log-level", "warn"}
	if store == "duckdb" {
		// serve rejects the DuckDB flags with another store.
		args = append(args, "--duckdb-properties", f.duckdbProperties, "--journal="+strconv.FormatBool(f.journal))
	}
	s.cmd = exec.Command(exe, args...)
	s.cmd.Stderr = os.Stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dataDir)
		return nil, fmt.Errorf("start candor serve: %w", err)
	}

	urls := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			if rest, ok := strings.CutPrefix(scanner.Text(), "Collector:"); ok {
				// The base URL comes first; a note follows it.
				url, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
				urls <- url
			}
		}
		s.exited <- s.cmd.Wait()
	}()
	select {
	case s.url = <-urls:
		return s, nil
	case err := <-s.exited:
		os.RemoveAll(dataDir)
		return nil, fmt.Errorf("candor serve exited before it served: %v", err)
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		os.RemoveAll(dataDir)
		return nil, errors.New("candor serve printed no URL within 30s")
	}
}

// peakRSS returns the server's peak resident set size (VmHWM) in bytes, or
// 0 where /proc is missing.
func (s *loadServer) peakRSS() int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kib << 10
		}
	}
	return 0
}

// checkStored compares the server's stored total with the events that got
// a 200, which must all be there.
func (s *loadServer) checkStored(acked int64) error {
	req, _ := http.NewRequest(http.MethodGet, s.url+"/api/v1/overview", nil)
	req.Header.Set("Authorization", "Bearer "+loadAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("read overview: %w", err)
	}
	defer resp.Body.Close()
	var ov struct {
		TotalEvents int64 `json:"total_events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ov); err != nil {
		return fmt.Errorf("read overview: %w", err)
	}
	if ov.TotalEvents < acked {
		return fmt.Errorf("lost events: the store contains %d events but %d were acknowledged", ov.TotalEvents, acked)
	}
	return nil
}

func (s *loadServer) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	os.RemoveAll(s.dataDir)
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":"))
		}
	}
	return runtime.GOARCH
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	fields := strings.Fields(string(data))
	if len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}
