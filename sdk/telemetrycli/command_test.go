package telemetrycli_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/internal/leakcheck"
	"github.com/candor-dev/candor/sdk/internal/safelogtest"
	"github.com/candor-dev/candor/sdk/mux"
	"github.com/candor-dev/candor/sdk/telemetry"
	"github.com/candor-dev/candor/sdk/telemetrycli"
)

// collector is a loopback collector that stores batches and serves
// self-service deletion against the hash the batches carried.
type collector struct {
	srv *httptest.Server

	mu      sync.Mutex
	down    bool              // respond to batches with 503
	hashes  map[string]string // distinct_id to deletion key hash
	events  map[string]int    // distinct_id to stored events
	bodies  [][]byte
	deletes int
}

func newCollector(t *testing.T) *collector {
	c := &collector{hashes: map[string]string{}, events: map[string]int{}}
	routes := http.NewServeMux()
	routes.HandleFunc("POST /batch/", c.serveBatch)
	routes.HandleFunc("POST "+telemetry.SelfDeletePath, c.serveDelete)
	c.srv = httptest.NewServer(routes)
	t.Cleanup(c.srv.Close)
	return c
}

func (c *collector) serveBatch(w http.ResponseWriter, r *http.Request) {
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		http.Error(w, "bad gzip", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(zr)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var req struct {
		Hash  string `json:"deletion_key_hash"`
		Batch []struct {
			DistinctID string `json:"distinct_id"`
		} `json:"batch"`
	}
	json.Unmarshal(body, &req)
	for _, ev := range req.Batch {
		if c.hashes[ev.DistinctID] == "" {
			c.hashes[ev.DistinctID] = req.Hash
		}
		c.events[ev.DistinctID]++
	}
	c.bodies = append(c.bodies, body)
	io.WriteString(w, `{"status":"Ok"}`)
}

func (c *collector) serveDelete(w http.ResponseWriter, r *http.Request) {
	var req struct {
		DistinctID string `json:"distinct_id"`
		Secret     string `json:"secret"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deletes++
	hash := c.hashes[req.DistinctID]
	switch {
	case hash == "":
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"code":"install_not_found","error":"unknown install"}`)
	case hash != telemetry.HashDeletionSecret(req.Secret):
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"code":"secret_mismatch","error":"wrong secret"}`)
	default:
		n := c.events[req.DistinctID]
		delete(c.events, req.DistinctID)
		json.NewEncoder(w).Encode(map[string]int{"deleted": n})
	}
}

// deleteInstall deletes the events and the deletion key hash of an
// install, as an operator's DELETE /api/v1/installs/{distinct_id} does.
func (c *collector) deleteInstall(distinctID string) {
	c.mu.Lock()
	delete(c.hashes, distinctID)
	delete(c.events, distinctID)
	c.mu.Unlock()
}

func (c *collector) setDown(down bool) {
	c.mu.Lock()
	c.down = down
	c.mu.Unlock()
}

func (c *collector) lastBody() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bodies) == 0 {
		return nil
	}
	return c.bodies[len(c.bodies)-1]
}

type env map[string]string

func (e env) get(k string) string { return e[k] }

func newClient(t *testing.T, endpoint string, vars env) (*telemetry.Client, string) {
	t.Helper()
	home := t.TempDir()
	c, err := telemetry.New(telemetry.Config{
		App:             mux.App,
		Catalog:         mux.Catalog(),
		Endpoint:        endpoint,
		WriteKey:        "phc_test",
		Home:            home,
		Version:         "1.2.3",
		AllowAutomation: true,
		FlushInterval:   20 * time.Millisecond,
		MaxRetryDelay:   time.Hour,
		Getenv:          vars.get,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c, home
}

// run runs one telemetry command and returns its output.
func run(t *testing.T, client *telemetry.Client, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := &telemetrycli.Command{Client: client, Name: "mux telemetry", Sample: mux.AppStarted{IsFirstLaunch: true}, Stdout: &out, Stderr: &errOut}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = cmd.Run(ctx, args)
	return out.String(), errOut.String(), err
}

func mustRun(t *testing.T, client *telemetry.Client, args ...string) string {
	t.Helper()
	out, errOut, err := run(t, client, args...)
	if err != nil {
		t.Fatalf("%s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func flush(t *testing.T, c *telemetry.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func TestStatusExplainsEverySwitch(t *testing.T) {
	col := newCollector(t)
	client, _ := newClient(t, col.srv.URL, env{"MUX_DISABLE_TELEMETRY": "true"})
	out := mustRun(t, client, "status")

	if !strings.HasPrefix(out, "Telemetry is enabled.\nInstall ID: "+client.InstallID()+"\n") {
		t.Errorf("status does not start with the state and the install ID:\n%s", out)
	}
	last := -1
	for i, name := range []string{"MUX_DISABLE_TELEMETRY", "DO_NOT_TRACK", "config.json", "automation", "notice"} {
		at := strings.Index(out, name+" ")
		if at < 0 || at < last {
			t.Errorf("status lists switch %d %q out of order or not at all:\n%s", i+1, name, out)
		}
		last = at
	}
	if !strings.Contains(out, `MUX_DISABLE_TELEMETRY="true" is ignored`) {
		t.Errorf("status does not say that MUX_DISABLE_TELEMETRY=true is ignored:\n%s", out)
	}
	if strings.Contains(out, "applies") && !strings.Contains(out, "does not apply") {
		t.Errorf("status marks a switch as applying while enabled:\n%s", out)
	}
}

func TestStatusNotesIgnoredDebugValue(t *testing.T) {
	col := newCollector(t)
	client, _ := newClient(t, col.srv.URL, env{"MUX_TELEMETRY_DEBUG": "yes"})
	out := mustRun(t, client, "status")

	if !strings.Contains(out, `MUX_TELEMETRY_DEBUG="yes" is ignored`) {
		t.Errorf("status does not say that MUX_TELEMETRY_DEBUG=yes is ignored:\n%s", out)
	}
}

func TestStatusNamesDecidingSwitch(t *testing.T) {
	col := newCollector(t)
	client, _ := newClient(t, col.srv.URL, env{"DO_NOT_TRACK": "1", "CI": "true"})
	out := mustRun(t, client)

	if !strings.HasPrefix(out, "Telemetry is disabled by DO_NOT_TRACK.\n") {
		t.Errorf("status without arguments does not name DO_NOT_TRACK:\n%s", out)
	}
	if !regexp.MustCompile(`DO_NOT_TRACK +applies, decides`).MatchString(out) {
		t.Errorf("status does not mark DO_NOT_TRACK as deciding:\n%s", out)
	}
}

func TestShowSampleWhenNothingPending(t *testing.T) {
	col := newCollector(t)
	client, _ := newClient(t, col.srv.URL, env{})
	out := mustRun(t, client, "show")

	if !strings.Contains(out, "POST "+col.srv.URL+"/batch/ (gzip-compressed)") {
		t.Errorf("show does not name the request:\n%s", out)
	}
	jsonStart := strings.Index(out, "{")
	var body struct {
		APIKey string `json:"api_key"`
		Batch  []struct {
			Event      string         `json:"event"`
			DistinctID string         `json:"distinct_id"`
			Properties map[string]any `json:"properties"`
		} `json:"batch"`
	}
	if err := json.NewDecoder(strings.NewReader(out[jsonStart:])).Decode(&body); err != nil {
		t.Fatalf("show printed no JSON body: %v\n%s", err, out)
	}
	if len(body.Batch) != 1 || body.Batch[0].Event != "app_started" || body.Batch[0].DistinctID != client.InstallID() {
		t.Errorf("show printed %+v, want the sample app_started of this install", body)
	}
	if !strings.Contains(out, "\n  \"api_key\": \"phc_test\",\n") {
		t.Errorf("show does not indent the body:\n%s", out)
	}
}

func TestShowRawIsTheSentBody(t *testing.T) {
	col := newCollector(t)
	col.setDown(true)
	client, _ := newClient(t, col.srv.URL, env{})
	client.Capture(mux.CommandUsed{Command: "compact"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client.Flush(ctx) // fails: the batch goes to the spool

	raw := strings.TrimSuffix(mustRun(t, client, "show", "-raw"), "\n")
	col.setDown(false)
	client.SetEnabled(true) // wakes the sender, which sends the spool first
	deadline := time.Now().Add(5 * time.Second)
	for col.lastBody() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}

	sentAt := regexp.MustCompile(`"sent_at":"[^"]*"`)
	want := sentAt.ReplaceAllString(raw, "")
	got := sentAt.ReplaceAllString(string(col.lastBody()), "")
	if want != got {
		t.Errorf("show -raw differs from the uploaded body apart from sent_at:\nshow %s\nsent %s", raw, col.lastBody())
	}
}

func TestPendingListsSpool(t *testing.T) {
	col := newCollector(t)
	col.setDown(true)
	client, _ := newClient(t, col.srv.URL, env{})
	client.Capture(mux.CommandUsed{Command: "compact"})
	client.Capture(mux.AppStarted{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client.Flush(ctx)

	out := mustRun(t, client, "pending")
	if !strings.HasPrefix(out, "2 events waiting: 0 in memory, 2 in the spool.\n") {
		t.Errorf("pending does not count the spooled events:\n%s", out)
	}
	for _, want := range []string{"command_used", "app_started", "LOCATION"} {
		if !strings.Contains(out, want) {
			t.Errorf("pending lacks %q:\n%s", want, out)
		}
	}

	lines := strings.Split(strings.TrimSpace(mustRun(t, client, "pending", "-json")), "\n")
	if len(lines) != 2 {
		t.Fatalf("pending -json printed %d lines, want 2", len(lines))
	}
	for _, line := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev["distinct_id"] != client.InstallID() {
			t.Errorf("pending -json line %s is not a wire event of this install (%v)", line, err)
		}
	}
}

func TestEnableDisablePersist(t *testing.T) {
	col := newCollector(t)
	client, home := newClient(t, col.srv.URL, env{})

	out := mustRun(t, client, "disable")
	if !strings.Contains(out, "Saved telemetryEnabled: false in config.json.") || client.IsEnabled() {
		t.Errorf("disable printed\n%s\nand enabled = %v", out, client.IsEnabled())
	}
	data, _ := os.ReadFile(filepath.Join(home, telemetry.ConfigFile))
	if !strings.Contains(string(data), `"telemetryEnabled": false`) {
		t.Errorf("config.json after disable = %s", data)
	}

	out = mustRun(t, client, "enable")
	if !strings.Contains(out, "Telemetry is enabled.") || !client.IsEnabled() {
		t.Errorf("enable printed\n%s\nand enabled = %v", out, client.IsEnabled())
	}
}

func TestEnableOverriddenByEnvironment(t *testing.T) {
	col := newCollector(t)
	client, _ := newClient(t, col.srv.URL, env{"DO_NOT_TRACK": "1"})
	out := mustRun(t, client, "enable")
	if !strings.Contains(out, "Telemetry stays disabled by DO_NOT_TRACK.") {
		t.Errorf("enable under DO_NOT_TRACK printed\n%s", out)
	}
}

func TestForgetDeletesOnCollector(t *testing.T) {
	col := newCollector(t)
	client, home := newClient(t, col.srv.URL, env{})
	for range 3 {
		client.Capture(mux.CommandUsed{Command: "new"})
	}
	flush(t, client)
	oldID := client.InstallID()

	out := mustRun(t, client, "forget")
	for _, want := range []string{"Forgot install " + oldID + ".", "The collector deleted 3 events of this install.", "Telemetry is still enabled"} {
		if !strings.Contains(out, want) {
			t.Errorf("forget output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(home, telemetry.SecretFile)); !os.IsNotExist(err) {
		t.Errorf("the deletion secret survived forget (stat error %v)", err)
	}
}

// An install that the operator deleted already has no deletion key on the
// collector, like one whose batches carried none, and the output names
// both causes.
func TestForgetAfterOperatorDeleted(t *testing.T) {
	col := newCollector(t)
	client, _ := newClient(t, col.srv.URL, env{})
	client.Capture(mux.CommandUsed{Command: "new"})
	flush(t, client)
	oldID := client.InstallID()
	col.deleteInstall(oldID)

	out := mustRun(t, client, "forget")
	for _, want := range []string{
		"Forgot install " + oldID + ".",
		"no deletion key for this install",
		"no batch of this install that it stored carried a key",
		"deleted already, for example by the collector's operator",
		"ask the collector's operator to delete install " + oldID,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("forget output lacks %q:\n%s", want, out)
		}
	}
}

func TestForgetWhileDisabledNeedsLocal(t *testing.T) {
	col := newCollector(t)
	client, home := newClient(t, col.srv.URL, env{})
	client.Capture(mux.CommandUsed{Command: "new"})
	flush(t, client)
	mustRun(t, client, "disable")

	_, _, err := run(t, client, "forget")
	if !errors.Is(err, telemetry.ErrForgetNeedsConnection) || !strings.Contains(err.Error(), "mux telemetry forget -local") {
		t.Fatalf("forget while disabled = %v, want ErrForgetNeedsConnection naming -local", err)
	}
	out := mustRun(t, client, "forget", "-local")
	if !strings.Contains(out, "Collector: not asked: forget was local only.") {
		t.Errorf("forget -local printed\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(home, telemetry.InstallIDFile)); !os.IsNotExist(err) {
		t.Errorf("the install ID survived forget -local (stat error %v)", err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if col.deletes != 0 {
		t.Errorf("collector got %d deletion requests while disabled, want 0", col.deletes)
	}
}

func TestUnknownCommandPrintsUsage(t *testing.T) {
	col := newCollector(t)
	client, _ := newClient(t, col.srv.URL, env{})
	_, errOut, err := run(t, client, "purge")
	if !errors.Is(err, telemetrycli.ErrUsage) {
		t.Errorf("unknown command returned %v, want ErrUsage", err)
	}
	for _, s := range telemetrycli.Subcommands {
		if !strings.Contains(errOut, "  "+s.Name) {
			t.Errorf("usage lacks %q:\n%s", s.Name, errOut)
		}
	}

	_, errOut, err = run(t, client, "status", "extra")
	if !errors.Is(err, telemetrycli.ErrUsage) {
		t.Errorf("status with an argument returned %v, want ErrUsage", err)
	}
	if !strings.Contains(errOut, "Usage: mux telemetry status\n") {
		t.Errorf("usage of status is not the line %q followed by a newline:\n%s", "Usage: mux telemetry status", errOut)
	}
	_, _, err = run(t, client, "show", "-bogus")
	if !errors.Is(err, telemetrycli.ErrUsage) {
		t.Errorf("show -bogus returned %v, want ErrUsage", err)
	}
}

func TestAddFlagCommand(t *testing.T) {
	leakcheck.Check(t)
	col := newCollector(t)
	client, _ := newClient(t, col.srv.URL, env{})

	var out, usage bytes.Buffer
	fs := flag.NewFlagSet("mux", flag.ContinueOnError)
	fs.SetOutput(&usage)
	fs.String("home", "", "home folder")
	cmd := &telemetrycli.Command{Stdout: &out, Stderr: &usage}
	runTelemetry := telemetrycli.AddFlagCommand(fs, cmd)
	if err := fs.Parse([]string{"-home", "/tmp/x", "telemetry", "status"}); err != nil {
		t.Fatal(err)
	}
	cmd.Client = client

	handled, err := runTelemetry(context.Background(), []string{"serve"})
	if handled || err != nil {
		t.Errorf("other arguments: handled %v, err %v; want neither", handled, err)
	}
	handled, err = runTelemetry(context.Background(), fs.Args())
	if !handled || err != nil || !strings.HasPrefix(out.String(), "Telemetry is enabled.") {
		t.Errorf("telemetry status: handled %v, err %v, output %q", handled, err, out.String())
	}

	fs.Usage()
	for _, want := range []string{"-home", "Usage: mux telemetry <command>", "forget [-local]"} {
		if !strings.Contains(usage.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, usage.String())
		}
	}
}

func TestRunNeedsClient(t *testing.T) {
	err := telemetrycli.Run(context.Background(), nil, []string{"status"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "Client is nil") {
		t.Errorf("Run without a client = %v, want an error naming Client", err)
	}
}

// waitForDropped waits until the sender has dropped n events. The sender
// checks events against the catalog when it encodes them, after they left
// the queue, and counts the broken values before the drop.
func waitForDropped(t *testing.T, client *telemetry.Client, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); client.Stats().Dropped < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("dropped %d events, want %d: %+v", client.Stats().Dropped, n, client.Stats())
		}
	}
}

func TestStatusListsViolationsByProperty(t *testing.T) {
	col := newCollector(t)
	client, _ := newClient(t, col.srv.URL, env{})
	client.Capture(catalog.PropertyMap{Name: "workspace_created", Values: map[string]any{
		"workspaceId":      "0f8fad5b-d9cb-469f-a165-70867728950e",
		"runtimeType":      "local",
		"frontendPlatform": map[string]any{"userAgent": 5, "platform": "Linux"},
	}})
	client.Capture(mux.CommandUsed{Command: "rm -rf"})
	waitForDropped(t, client, 2)

	out := mustRun(t, client, "status")
	want := "Property values that broke their class, by event and property:\n" +
		"  command_used command not_in_enum                         1\n" +
		"  workspace_created frontendPlatform.userAgent wrong_type  1\n"
	if !strings.Contains(out, want) {
		t.Errorf("status does not list the broken values by event and property, want\n%s\ngot:\n%s", want, out)
	}
}

func TestStatusListsDropsByReason(t *testing.T) {
	col := newCollector(t)
	client, _ := newClient(t, col.srv.URL, env{})
	workspace := "0f8fad5b-d9cb-469f-a165-70867728950e"
	client.Capture(mux.MessageSent{WorkspaceID: workspace, Model: "/home/alice/model.bin"})
	client.Capture(mux.CommandUsed{Command: "rm -rf"})
	waitForDropped(t, client, 2)

	out := mustRun(t, client, "status")
	if !strings.Contains(out, "Dropped events by reason: looks_like_path 1, not_in_enum 1.\n") {
		t.Errorf("status does not list the dropped events by reason:\n%s", out)
	}
	if !strings.Contains(out, "Property values that broke their class, by reason: looks_like_path 1, not_in_enum 1.\n") {
		t.Errorf("status does not list the broken property values by reason:\n%s", out)
	}
}

func TestStatusCountsLogFailures(t *testing.T) {
	c, err := telemetry.New(telemetry.Config{
		App:             mux.App,
		Catalog:         mux.Catalog(),
		Endpoint:        "http://127.0.0.1:1",
		WriteKey:        "phc_test",
		Home:            t.TempDir(),
		Version:         "1.2.3",
		AllowAutomation: true,
		Logger:          slog.New(safelogtest.PanickingHandler{InHandle: true}),
		Getenv:          env{}.get,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	failures := c.Stats().LogFailures
	if failures == 0 {
		t.Fatal("New logged nothing through the panicking handler")
	}

	out := mustRun(t, c, "status")
	want := fmt.Sprintf("Log records lost because the app's log handler panicked: %d.\n", failures)
	if !strings.Contains(out, want) {
		t.Errorf("status does not count the log failures, want %q:\n%s", want, out)
	}
}
