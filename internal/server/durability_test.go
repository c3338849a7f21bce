package server

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store/duckdb"
	"github.com/candor-dev/candor/internal/store/journal"
)

// buildCandor builds the candor command into a temporary folder.
func buildCandor(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "candor")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/candor-dev/candor/cmd/candor")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// candorProcess is a candor serve child process.
type candorProcess struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
	exited chan error
}

// startCandor starts candor serve on a free loopback port over dataDir and
// waits until it prints its URL.
func startCandor(t *testing.T, bin, dataDir string, args ...string) *candorProcess {
	t.Helper()
	args = append([]string{"serve", "--data", dataDir, "--listen", "127.0.0.1:0",
		"--write-key", "phc_durability", "--admin-token", "admin-durability", "--log-level", "warn"}, args...)
	p := &candorProcess{cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, exited: make(chan error, 1)}
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start candor serve: %v", err)
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
		p.exited <- p.cmd.Wait()
	}()
	select {
	case p.url = <-urls:
		return p
	case err := <-p.exited:
		t.Fatalf("candor serve exited before it served: %v\n%s", err, p.stderr)
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("candor serve printed no URL within 30s\n%s", p.stderr)
	}
	return nil
}

// kill ends the process with SIGKILL and waits for it.
func (p *candorProcess) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop ends the process with SIGTERM, so it drains and closes the store,
// and returns its exit error.
func (p *candorProcess) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		return err
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		return fmt.Errorf("candor serve did not stop within 30s after SIGTERM")
	}
}

// ingester sends batches with unique uuids to whichever process is
// running, repeats a batch until it gets 200, and records the uuids of
// every acknowledged batch.
type ingester struct {
	url    atomic.Pointer[string]
	nextID atomic.Int64
	client *http.Client

	mu       sync.Mutex
	acked    []string
	sent     map[string]bool
	failures int // requests that failed or got a status other than 200
}

func (in *ingester) run(ctx context.Context, rng *rand.Rand) {
	for ctx.Err() == nil {
		n := 1 + rng.IntN(20)
		ids := make([]string, n)
		events := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("%08x-0000-4000-8000-%012x", rng.Uint32(), in.nextID.Add(1))
			events[i] = commandEvent(ids[i], "install-durability")
		}
		in.mu.Lock()
		for _, id := range ids {
			in.sent[id] = true
		}
		in.mu.Unlock()

		body := batch("phc_durability", events...)
		for ctx.Err() == nil {
			if in.post(ctx, body) {
				in.mu.Lock()
				in.acked = append(in.acked, ids...)
				in.mu.Unlock()
				break
			}
			in.mu.Lock()
			in.failures++
			in.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (in *ingester) post(ctx context.Context, body string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *in.url.Load()+"/batch/", strings.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := in.client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// killsVar sets the number of kills of TestKill9KeepsAcknowledgedEvents,
// such as CANDOR_KILL9_KILLS=200 for a longer run on a developer machine.
const killsVar = "CANDOR_KILL9_KILLS"

// defaultKills is the number of kills in a normal run: about 20 seconds.
const defaultKills = 20

// TestKill9KeepsAcknowledgedEvents kills candor serve with SIGKILL at random
// moments while several clients send events, and restarts it on the same
// data folder. After each kill it copies the data folder and loads the
// copied journal into the copied database. Then it checks that every event
// acknowledged so far is stored exactly once. At the end it checks the same
// for every event, and that nothing unsent was stored.
func TestKill9KeepsAcknowledgedEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("builds candor and runs it for about 20 seconds")
	}
	kills := defaultKills
	if v := os.Getenv(killsVar); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: use a positive number of kills", killsVar, v)
		}
		kills = n
	}
	bin := buildCandor(t)
	dataDir := t.TempDir()
	proc := startCandor(t, bin, dataDir, "--rate-limit", "0")

	in := &ingester{
		sent:   map[string]bool{},
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}},
	}
	in.url.Store(&proc.url)
	ctx, stopSending := context.WithCancel(context.Background())
	var senders sync.WaitGroup
	for i := range 4 {
		rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
		senders.Go(func() { in.run(ctx, rng) })
	}
	defer func() {
		stopSending()
		senders.Wait()
		in.client.CloseIdleConnections()
	}()

	killRNG := rand.New(rand.NewPCG(99, uint64(time.Now().UnixNano())))
	for i := range kills {
		time.Sleep(time.Duration(200+killRNG.IntN(600)) * time.Millisecond)
		proc.kill()
		// Acknowledgements that arrive after this copy came from the killed
		// process too; the next check or the final one covers them.
		in.mu.Lock()
		acked := append([]string(nil), in.acked...)
		in.mu.Unlock()
		checkAcknowledgedStored(t, dataDir, acked, fmt.Sprintf("after kill %d", i+1))
		t.Logf("kill %d: %d events acknowledged so far", i+1, len(acked))
		proc = startCandor(t, bin, dataDir, "--rate-limit", "0")
		in.url.Store(&proc.url)
	}
	time.Sleep(500 * time.Millisecond)
	stopSending()
	senders.Wait()
	in.client.CloseIdleConnections()
	if err := proc.stop(); err != nil {
		t.Fatalf("stop candor serve: %v\n%s", err, proc.stderr)
	}

	stored := readStoredUUIDs(t, filepath.Join(dataDir, DatabaseFile))
	t.Logf("%d events acknowledged, %d sent, %d stored, %d requests failed",
		len(in.acked), len(in.sent), len(stored), in.failures)
	if len(in.acked) < 1000 {
		t.Errorf("only %d events were acknowledged; the test needs sustained ingestion", len(in.acked))
	}
	checkExactlyOnce(t, stored, in.acked, fmt.Sprintf("after %d kills", kills))
	for id := range stored {
		if !in.sent[id] {
			t.Errorf("stored event %s was never sent", id)
		}
	}
	if strings.Contains(proc.stderr.String(), "level=ERROR") {
		t.Errorf("the last candor serve logged errors:\n%s", proc.stderr)
	}
}

// checkAcknowledgedStored copies the database of a killed process, with
// its write-ahead log, and checks the acknowledged events in the copy.
// Opening the copy replays the log there, so the next process still
// recovers the original on its own.
func checkAcknowledgedStored(t *testing.T, dataDir string, acked []string, when string) {
	t.Helper()
	copyDir := t.TempDir()
	for _, name := range []string{DatabaseFile, DatabaseFile + ".wal"} {
		data, err := os.ReadFile(filepath.Join(dataDir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: read %s: %v", when, name, err)
		}
		if err := os.WriteFile(filepath.Join(copyDir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	journalDir := filepath.Join(dataDir, JournalDir)
	copyJournal := filepath.Join(copyDir, JournalDir)
	if err := os.CopyFS(copyJournal, os.DirFS(journalDir)); err != nil && !os.IsNotExist(err) {
		t.Fatalf("%s: copy the journal: %v", when, err)
	}
	// The events acknowledged from the journal are loaded as the next
	// start of candor serve would load them.
	db, err := duckdb.Open(filepath.Join(copyDir, DatabaseFile))
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	err = journal.Recover(copyJournal, db, journal.Options{})
	if closeErr := db.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	stored := readStoredUUIDs(t, filepath.Join(copyDir, DatabaseFile))
	checkExactlyOnce(t, stored, acked, when)
}

// checkExactlyOnce fails the test when an acknowledged event is missing
// or stored more than once.
func checkExactlyOnce(t *testing.T, stored map[string]int, acked []string, when string) {
	t.Helper()
	var missing, repeated []string
	for _, id := range acked {
		switch stored[id] {
		case 0:
			missing = append(missing, id)
		case 1:
		default:
			repeated = append(repeated, id)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s: %d of %d acknowledged events are missing, such as %v", when, len(missing), len(acked), missing[:min(5, len(missing))])
	}
	if len(repeated) > 0 {
		t.Errorf("%s: %d acknowledged events are stored more than once, such as %v", when, len(repeated), repeated[:min(5, len(repeated))])
	}
}

// readStoredUUIDs returns how many rows of the mux project each event
// UUID has in the DuckDB database at path. It reads the uuid column
// alone, so it does not depend on how properties are stored.
func readStoredUUIDs(t *testing.T, path string) map[string]int {
	t.Helper()
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT CAST(uuid AS VARCHAR) FROM events WHERE project = 'mux'`)
	if err != nil {
		t.Fatalf("query events: %v", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		counts[id]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return counts
}
