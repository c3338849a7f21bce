package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/internal/leakcheck"
	"github.com/candor-dev/candor/sdk/mux"
)

// respond503 makes the test collector answer every request with 503.
func respond503(_ int, _ *received, w http.ResponseWriter) bool {
	http.Error(w, "down", http.StatusServiceUnavailable)
	return true
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDeletionKeyHashSentWithBatches(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	c := newClient(t, cfg)
	c.Capture(mux.CommandUsed{Command: "new"})
	flush(t, c)
	c.Capture(mux.CommandUsed{Command: "fork"})
	flush(t, c)

	path := filepath.Join(cfg.Home, SecretFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the deletion secret: %v", err)
	}
	secret := strings.TrimSpace(string(data))
	if !isSecret(secret) {
		t.Fatalf("secret file holds %q, want 64 hex digits", secret)
	}
	assertMode(t, path, 0o600)

	bodies := col.bodies()
	if len(bodies) != 2 {
		t.Fatalf("collector got %d requests, want 2", len(bodies))
	}
	for i, body := range bodies {
		var req map[string]any
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got := req[DeletionKeyHashField]; got != HashDeletionSecret(secret) {
			t.Errorf("request %d carries %s %v, want the SHA-256 of the secret", i, DeletionKeyHashField, got)
		}
		if bytes.Contains(body, []byte(secret)) {
			t.Errorf("request %d carries the secret itself", i)
		}
	}
}

func TestDisabledClientCreatesNoSecret(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.Getenv = env{"DO_NOT_TRACK": "1"}.get
	c := newClient(t, cfg)
	c.Capture(mux.CommandUsed{Command: "new"})
	closeClient(t, c)

	if _, err := os.Stat(filepath.Join(cfg.Home, SecretFile)); !os.IsNotExist(err) {
		t.Errorf("secret file exists while disabled (stat error %v)", err)
	}
}

func TestPendingListsSpooledEvents(t *testing.T) {
	col := newCollector(t)
	col.setRespond(respond503)
	cfg := testConfig(t, col.srv.URL)
	cfg.MaxRetryDelay = time.Hour // keep the spooled batch until the test ends
	c := newClient(t, cfg)
	c.Capture(mux.CommandUsed{Command: "new"})
	c.Capture(mux.AppStarted{IsFirstLaunch: true})
	if err := c.Flush(testContext(t)); err == nil {
		t.Fatal("Flush succeeded against a collector that answers 503")
	}

	pending, err := c.Pending(testContext(t))
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	if len(pending) != 2 {
		t.Fatalf("Pending returned %d events, want 2: %+v", len(pending), pending)
	}
	for i, want := range []string{"command_used", "app_started"} {
		ev := pending[i]
		if ev.Name != want || ev.Location != PendingSpool {
			t.Errorf("event %d is %s in %s, want %s in %s", i, ev.Name, ev.Location, want, PendingSpool)
		}
		if !isV4(ev.UUID) || ev.DistinctID != c.InstallID() {
			t.Errorf("event %d has uuid %q and distinct_id %q", i, ev.UUID, ev.DistinctID)
		}
		if !json.Valid(ev.JSON) || !bytes.Contains(ev.JSON, []byte(ev.UUID)) {
			t.Errorf("event %d JSON %s is not the wire event", i, ev.JSON)
		}
	}
}

func TestPendingListsMemoryEvents(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.FlushInterval = time.Hour
	cfg.Spool.Disabled = true
	c := newClient(t, cfg)
	captureN(c, 3)

	pending, err := c.Pending(testContext(t))
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	if len(pending) != 3 {
		t.Fatalf("Pending returned %d events, want 3", len(pending))
	}
	for i, ev := range pending {
		if ev.Location != PendingMemory || ev.Name != "command_used" {
			t.Errorf("event %d is %s in %s, want command_used in memory", i, ev.Name, ev.Location)
		}
	}
	if n := col.requestCount(); n != 0 {
		t.Errorf("Pending sent %d requests, want 0", n)
	}
}

// sentAtPattern matches the sent_at member, which differs between a
// preview and the upload.
var sentAtPattern = regexp.MustCompile(`"sent_at":"[^"]*"`)

func TestNextPayloadIsWhatIsSent(t *testing.T) {
	col := newCollector(t)
	col.setRespond(respond503)
	cfg := testConfig(t, col.srv.URL)
	cfg.MaxRetryDelay = 50 * time.Millisecond
	c := newClient(t, cfg)
	c.Capture(validMessage())
	c.Capture(mux.CommandUsed{Command: "new"})
	if err := c.Flush(testContext(t)); err == nil {
		t.Fatal("Flush succeeded against a collector that answers 503")
	}

	p, err := c.NextPayload(testContext(t), nil)
	if err != nil {
		t.Fatalf("NextPayload: %v", err)
	}
	if p.Source != PayloadSpool || p.Events != 2 || p.Preview {
		t.Errorf("payload source %q, %d events, preview %v; want spool, 2, false", p.Source, p.Events, p.Preview)
	}
	if p.URL != col.srv.URL+"/batch/" {
		t.Errorf("URL = %q, want %q", p.URL, col.srv.URL+"/batch/")
	}

	col.setRespond(nil)
	flushUntilDone(t, c)
	bodies := col.bodies()
	sent := bodies[len(bodies)-1]
	want := sentAtPattern.ReplaceAll(p.Body, nil)
	got := sentAtPattern.ReplaceAll(sent, nil)
	if !bytes.Equal(want, got) {
		t.Errorf("the uploaded body differs from NextPayload apart from sent_at:\npreview %s\nsent    %s", p.Body, sent)
	}
}

func TestNextPayloadSampleWhenNothingPending(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	c := newClient(t, cfg)

	p, err := c.NextPayload(testContext(t), nil)
	if err != nil {
		t.Fatalf("NextPayload: %v", err)
	}
	if p.Events != 0 || p.Body != nil || p.Source != "" {
		t.Errorf("without a sample got %d events from %q, want none", p.Events, p.Source)
	}

	p, err = c.NextPayload(testContext(t), mux.AppStarted{IsFirstLaunch: true})
	if err != nil {
		t.Fatalf("NextPayload: %v", err)
	}
	if p.Source != PayloadSample || p.Events != 1 || p.Preview {
		t.Errorf("payload source %q, %d events, preview %v; want sample, 1, false", p.Source, p.Events, p.Preview)
	}
	var req received
	if err := json.Unmarshal(p.Body, &req); err != nil {
		t.Fatalf("decode body %s: %v", p.Body, err)
	}
	var ev decoded
	json.Unmarshal(req.Batch[0], &ev)
	if ev.Event != "app_started" || ev.DistinctID != c.InstallID() || ev.Properties["isFirstLaunch"] != true {
		t.Errorf("sample event = %+v", ev)
	}
	if req.APIKey != cfg.WriteKey {
		t.Errorf("api_key = %q, want %q", req.APIKey, cfg.WriteKey)
	}
	if n := col.requestCount(); n != 0 {
		t.Errorf("NextPayload sent %d requests, want 0", n)
	}

	_, err = c.NextPayload(testContext(t), mux.WorkspaceSwitched{FromWorkspaceID: "/home/alice"})
	if err == nil {
		t.Error("NextPayload accepted a sample that breaks the catalog")
	}
}

func TestNextPayloadPreviewWhileDisabled(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.Getenv = env{"MUX_DISABLE_TELEMETRY": "1"}.get
	c := newClient(t, cfg)

	p, err := c.NextPayload(testContext(t), mux.AppStarted{})
	if err != nil {
		t.Fatalf("NextPayload: %v", err)
	}
	if !p.Preview || p.Source != PayloadSample {
		t.Errorf("preview %v, source %q; want a preview of the sample", p.Preview, p.Source)
	}
	for _, placeholder := range []string{PreviewInstallID, PreviewDeletionKeyHash} {
		if !bytes.Contains(p.Body, []byte(placeholder)) {
			t.Errorf("preview lacks the placeholder %s: %s", placeholder, p.Body)
		}
	}
	for _, name := range []string{InstallIDFile, SecretFile} {
		if _, err := os.Stat(filepath.Join(cfg.Home, name)); !os.IsNotExist(err) {
			t.Errorf("%s exists after a preview while disabled (stat error %v)", name, err)
		}
	}
}

func TestSwitchesInOrder(t *testing.T) {
	restore := detectGoTest
	detectGoTest = func() bool { return false }
	defer func() { detectGoTest = restore }()

	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.AllowAutomation = false
	cfg.Getenv = env{"DO_NOT_TRACK": "true", "CI": "true", "MUX_DISABLE_TELEMETRY": "yes"}.get
	c := newClient(t, cfg)

	states := c.Switches()
	type row struct {
		name             string
		applies, decides bool
	}
	want := []row{
		{"MUX_DISABLE_TELEMETRY", false, false},
		{DoNotTrackVar, true, true},
		{ConfigFile, false, false},
		{SwitchAutomation, true, false},
		{SwitchNotice, false, false},
	}
	var got []row
	for _, s := range states {
		got = append(got, row{s.Name, s.Applies, s.Decides})
		if s.Reason == "" {
			t.Errorf("switch %s has no reason", s.Name)
		}
	}
	if d := diff(want, got); d != "" {
		t.Errorf("Switches():\n%s", d)
	}
	if !strings.Contains(states[0].Reason, "ignored") {
		t.Errorf("reason of MUX_DISABLE_TELEMETRY=yes = %q, want it to say the value is ignored", states[0].Reason)
	}
}

func TestEnvVarNamesMatchSwitches(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	c := newClient(t, cfg)
	if got := EnvVar(mux.App, DisableVarSuffix); got != c.switches.disableVar || got != "MUX_DISABLE_TELEMETRY" {
		t.Errorf("EnvVar(disable) = %q, switch reads %q", got, c.switches.disableVar)
	}
	if got := EnvVar(mux.App, E2EVarSuffix); got != c.switches.e2eVar {
		t.Errorf("EnvVar(e2e) = %q, switch reads %q", got, c.switches.e2eVar)
	}
	if got := EnvVar(mux.App, DebugVarSuffix); got != c.switches.debugVar {
		t.Errorf("EnvVar(debug) = %q, switch reads %q", got, c.switches.debugVar)
	}
	if names := CIVariables(); len(names) != len(ciVariables) || names[0] != "CI" {
		t.Errorf("CIVariables() = %q", names)
	}
}

func TestPendingAfterClose(t *testing.T) {
	leakcheck.Check(t)
	col := newCollector(t)
	col.setRespond(respond503)
	cfg := testConfig(t, col.srv.URL)
	c := newClient(t, cfg)
	captureN(c, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c.Close(ctx)

	pending, err := c.Pending(testContext(t))
	if err != nil {
		t.Fatalf("Pending after Close: %v", err)
	}
	if len(pending) != 2 {
		t.Errorf("Pending after Close returned %d events, want the 2 spooled ones", len(pending))
	}
}

func TestNextPayloadSampleMatchesCapture(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	cfg.Clock = func() time.Time { return at }
	c := newClient(t, cfg)
	c.SetFeatureFlagVariant("new-onboarding", "treatment")

	samples := []catalog.Event{validMessage(), mux.AppStarted{IsFirstLaunch: true}, mux.CommandUsed{Command: "new"}}
	uuidMember := regexp.MustCompile(`"uuid":"[^"]*"`)
	for _, sample := range samples {
		p, err := c.NextPayload(testContext(t), sample)
		if err != nil {
			t.Fatalf("NextPayload(%s): %v", sample.EventName(), err)
		}
		var preview received
		json.Unmarshal(p.Body, &preview)

		before := col.requestCount()
		c.Capture(sample)
		flush(t, c)
		col.mu.Lock()
		sent := col.requests[before].Batch[0]
		col.mu.Unlock()

		want := uuidMember.ReplaceAll(sent, nil)
		got := uuidMember.ReplaceAll(preview.Batch[0], nil)
		if !bytes.Equal(want, got) {
			t.Errorf("sample %s differs from the captured event apart from uuid:\nsample %s\nsent   %s", sample.EventName(), got, want)
		}
	}
}

// TestInspectingQueueSendsNothing encodes a queue that fills two batches
// the way Pending and NextPayload do: the batches wait for the run loop,
// which is woken to send them, and nothing reaches the collector.
func TestInspectingQueueSendsNothing(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.BatchSize = 2
	c, err := build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.cancelSends()
	defer c.http.CloseIdleConnections()
	s := newSender(c)
	defer s.batchTimer.Stop()
	for range 5 {
		c.queue <- item{ev: validMessage(), at: time.Now()}
	}

	source, events := c.nextBatch(s)
	if source != PayloadMemory || len(events) != 2 {
		t.Errorf("next batch: %q with %d events, want %q with 2", source, len(events), PayloadMemory)
	}
	if n := col.requestCount(); n != 0 {
		t.Errorf("collector got %d requests, want 0", n)
	}
	if len(s.pending) != 2 || len(s.current.events) != 1 {
		t.Errorf("sender holds %d sealed batches and %d events, want 2 and 1", len(s.pending), len(s.current.events))
	}
	select {
	case <-s.resume:
	default:
		t.Error("the run loop was not woken to send the sealed batches")
	}
}
