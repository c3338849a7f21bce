package telemetry

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candor-dev/candor/sdk/mux"
)

// Environment of a helper process: the test binary run again with
// -test.run=TestHelperProcess.
const (
	helperModeVar     = "CANDOR_TELEMETRY_HELPER"
	helperHomeVar     = "CANDOR_TELEMETRY_HELPER_HOME"
	helperEndpointVar = "CANDOR_TELEMETRY_HELPER_ENDPOINT"
	helperStartVar    = "CANDOR_TELEMETRY_HELPER_START" // unix nanoseconds to wait for
)

// TestHelperProcess is the body of the helper processes; it does nothing
// in a normal test run.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperModeVar)
	if mode == "" {
		t.Skip("runs only as a helper process")
	}
	if start, err := strconv.ParseInt(os.Getenv(helperStartVar), 10, 64); err == nil {
		time.Sleep(time.Until(time.Unix(0, start)))
	}
	cfg := Config{
		App:             mux.App,
		Catalog:         mux.Catalog(),
		Endpoint:        os.Getenv(helperEndpointVar),
		WriteKey:        "phc_test",
		Home:            os.Getenv(helperHomeVar),
		Version:         "1.2.3",
		AllowAutomation: true,
		FlushInterval:   10 * time.Millisecond,
		MaxRetryDelay:   10 * time.Millisecond,
		Getenv:          func(string) string { return "" },
	}
	c, err := New(cfg)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	switch mode {
	case "identity":
		fmt.Println("id", c.InstallID(), c.FirstLaunch())
	case "spool":
		for c.Stats().Spooled > 0 && ctx.Err() == nil {
			c.Flush(ctx)
			time.Sleep(5 * time.Millisecond)
		}
	case "capture":
		c.Capture(mux.CommandUsed{Command: "new"})
		if err := c.Flush(ctx); err != nil {
			fmt.Println("flush", err)
		}
	}
	st, err := c.Close(ctx)
	fmt.Println("sent", st.Sent, "dropped", st.Dropped, "error", err)
	os.Exit(0)
}

// runHelpers starts n helper processes that begin together, and returns
// their outputs.
func runHelpers(t *testing.T, n int, mode, home, endpoint string, extraEnv ...string) []string {
	t.Helper()
	start := time.Now().Add(300 * time.Millisecond).UnixNano()
	outputs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			helperModeVar+"="+mode,
			helperHomeVar+"="+home,
			helperEndpointVar+"="+endpoint,
			helperStartVar+"="+strconv.FormatInt(start, 10),
		)
		cmd.Env = append(cmd.Env, extraEnv...)
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start helper: %v", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cmd.Wait(); err != nil {
				t.Errorf("helper %d: %v\n%s", i, err, out.String())
			}
			outputs[i] = out.String()
		}()
	}
	wg.Wait()
	return outputs
}

func TestIdentitySharedAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	home := filepath.Join(t.TempDir(), ".mux")
	outputs := runHelpers(t, 6, "identity", home, "http://127.0.0.1:1")
	ids := map[string]bool{}
	firsts := 0
	for _, out := range outputs {
		for _, line := range strings.Split(out, "\n") {
			fields := strings.Fields(line)
			if len(fields) == 3 && fields[0] == "id" {
				ids[fields[1]] = true
				if fields[2] == "true" {
					firsts++
				}
			}
		}
	}
	if len(ids) != 1 {
		t.Errorf("processes ended with %d install IDs, want 1: %v", len(ids), ids)
	}
	if firsts != 1 {
		t.Errorf("%d processes reported the first launch, want exactly 1", firsts)
	}
	data, err := os.ReadFile(filepath.Join(home, InstallIDFile))
	if err != nil {
		t.Fatal(err)
	}
	if !ids[strings.TrimSpace(string(data))] {
		t.Errorf("file holds %q, not the ID the processes use", data)
	}
}

func TestSpoolSentOnceAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	home := t.TempDir()
	dir := filepath.Join(home, SpoolDir)
	const files, perFile = 40, 5
	for i := range files {
		var lines []string
		for j := range perFile {
			id := fmt.Sprintf("3f1c2b7e-9a4d-4c1e-8b2a-%012d", i*perFile+j)
			lines = append(lines, fmt.Sprintf(`{"uuid":%q,"event":"command_used","distinct_id":"x","timestamp":"2026-01-01T00:00:00Z","properties":{"command":"new"}}`, id))
		}
		name := fmt.Sprintf("%020d-%d-%04d%s", i+1, perFile, i, spoolExt)
		writeFile(t, filepath.Join(dir, name), strings.Join(lines, "\n")+"\n")
	}
	col := newCollector(t)
	col.setRespond(func(n int, r *received, w http.ResponseWriter) bool {
		time.Sleep(2 * time.Millisecond) // let the processes interleave
		return false
	})

	outputs := runHelpers(t, 4, "spool", home, col.srv.URL)
	assertExactlyOnce(t, col, files*perFile)
	var sent int
	for _, out := range outputs {
		var n int
		if _, err := fmt.Sscanf(out[strings.Index(out, "sent "):], "sent %d", &n); err == nil {
			sent += n
		}
	}
	if sent != files*perFile {
		t.Errorf("the processes counted %d events sent, want %d: %q", sent, files*perFile, outputs)
	}
	if n := spoolFiles(t, home); n != 0 {
		t.Errorf("%d spool files left", n)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("file left in the spool: %s", e.Name())
	}
}

func TestProxyFromEnvironment(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	var mu sync.Mutex
	var hosts []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host+r.URL.Path)
		mu.Unlock()
		w.Write([]byte(`{"status":"Ok"}`))
	}))
	defer proxy.Close()

	// collector.invalid never resolves, so the event can only arrive
	// through the proxy on loopback.
	outputs := runHelpers(t, 1, "capture", t.TempDir(), "http://collector.invalid",
		"HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "NO_PROXY=", "no_proxy=")
	mu.Lock()
	defer mu.Unlock()
	if len(hosts) != 1 || hosts[0] != "collector.invalid/batch/" {
		t.Errorf("proxy saw %v, want one request for collector.invalid/batch/\n%s", hosts, outputs[0])
	}
	if !strings.Contains(outputs[0], "sent 1 ") {
		t.Errorf("helper output %q, want 1 event sent", outputs[0])
	}
}
