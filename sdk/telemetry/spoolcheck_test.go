package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/internal/leakcheck"
	"github.com/candor-dev/candor/sdk/mux"
)

// The event types of a later release of Mux, whose catalog differs from
// mux.Catalog: app_started is gone, command_used lost the enum value
// "compact", provider_configured's required provider became an enum,
// message_sent's optional agentId allows two values only,
// stats_tab_opened lost showModeBreakdown, and stream_timing_computed
// buckets tool_percent_bucket by halves instead of tens.
type (
	commandUsedV2 struct {
		Command string `json:"command" candor:"enum=clear|new"`
	}
	providerConfiguredV2 struct {
		Provider string `json:"provider" candor:"enum=anthropic|openai"`
		KeyType  string `json:"keyType" candor:"identifier"`
	}
	messageSentV2 struct {
		WorkspaceID      string               `json:"workspaceId" candor:"random_id"`
		Model            string               `json:"model" candor:"identifier"`
		AgentID          string               `json:"agentId,omitempty" candor:"enum=exec|explore,optional"`
		MessageLength    int                  `json:"message_length_b2" candor:"base2"`
		RuntimeType      string               `json:"runtimeType" candor:"enum=local|worktree|ssh|docker|devcontainer"`
		FrontendPlatform mux.FrontendPlatform `json:"frontendPlatform" candor:"object"`
		ThinkingLevel    string               `json:"thinkingLevel" candor:"enum=off|low|medium|high|xhigh|max"`
	}
	statsTabOpenedV2 struct {
		ViewMode string `json:"viewMode" candor:"enum=session|last-request"`
	}
	streamTimingComputedV2 struct {
		Model             string `json:"model" candor:"identifier"`
		AgentID           string `json:"agentId,omitempty" candor:"identifier,optional"`
		DurationMs        int64  `json:"duration_b2" candor:"base2"`
		TTFTMs            int64  `json:"ttft_ms_b2" candor:"base2"`
		ToolMs            int64  `json:"tool_ms_b2" candor:"base2"`
		StreamingMs       int64  `json:"streaming_ms_b2" candor:"base2"`
		ToolPercentBucket int    `json:"tool_percent_bucket" candor:"bucket,edges=0|50|100"`
		Invalid           bool   `json:"invalid" candor:"bool"`
	}
)

func (commandUsedV2) EventName() string          { return "command_used" }
func (providerConfiguredV2) EventName() string   { return "provider_configured" }
func (messageSentV2) EventName() string          { return "message_sent" }
func (statsTabOpenedV2) EventName() string       { return "stats_tab_opened" }
func (streamTimingComputedV2) EventName() string { return "stream_timing_computed" }

// upgradedCatalog returns the catalog of the event types above.
func upgradedCatalog() *catalog.Catalog {
	c := catalog.New(mux.App)
	c.MustRegister(commandUsedV2{}, "The user ran a slash command.")
	c.MustRegister(providerConfiguredV2{}, "The user configured a model provider.")
	c.MustRegister(messageSentV2{}, "The user sent a message to a model.")
	c.MustRegister(statsTabOpenedV2{}, "The user opened the usage statistics tab.")
	c.MustRegister(streamTimingComputedV2{}, "A model response's timing was measured.")
	return c
}

// spooledBeforeUpgrade are the events the old release captures and
// spools. Under upgradedCatalog, compact, app_started and mistral are
// dropped, and the other four are sent.
func spooledBeforeUpgrade() []catalog.Event {
	message := validMessage()
	message.AgentID = "plan"
	return []catalog.Event{
		mux.CommandUsed{Command: "new"},
		mux.CommandUsed{Command: "compact"},
		mux.AppStarted{IsFirstLaunch: true},
		mux.ProviderConfigured{Provider: "mistral", KeyType: "apiKey"},
		message,
		mux.StatsTabOpened{ViewMode: "session", ShowModeBreakdown: true},
		mux.StreamTimingComputed{Model: "m", DurationMs: 1000, TTFTMs: 100, ToolMs: 300, StreamingMs: 600, ToolPercentBucket: 30},
	}
}

// liveAfterUpgrade are the events of spooledBeforeUpgrade that the new
// release can capture, with the same values.
func liveAfterUpgrade() []catalog.Event {
	message := validMessage()
	return []catalog.Event{
		commandUsedV2{Command: "new"},
		commandUsedV2{Command: "compact"},
		providerConfiguredV2{Provider: "mistral", KeyType: "apiKey"},
		messageSentV2{WorkspaceID: message.WorkspaceID, Model: message.Model, AgentID: "plan",
			MessageLength: message.MessageLength, RuntimeType: message.RuntimeType,
			FrontendPlatform: message.FrontendPlatform, ThinkingLevel: message.ThinkingLevel},
		statsTabOpenedV2{ViewMode: "session"},
		streamTimingComputedV2{Model: "m", DurationMs: 1000, TTFTMs: 100, ToolMs: 300, StreamingMs: 600, ToolPercentBucket: 30},
	}
}

// spoolWithOldCatalog captures events with mux.Catalog while the collector
// responds 503, and closes the client, which leaves them in the spool of
// home.
func spoolWithOldCatalog(t *testing.T, home string, events []catalog.Event) {
	t.Helper()
	down := newCollector(t)
	down.setRespond(func(_ int, _ *received, w http.ResponseWriter) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	cfg := testConfig(t, down.srv.URL)
	cfg.Home = home
	cfg.MaxRetryDelay = time.Hour
	old, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, ev := range events {
		old.Capture(ev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := old.Close(ctx)
	if err != nil {
		t.Fatalf("Close of the old release's client: %v", err)
	}
	if st.Spooled != int64(len(events)) {
		t.Fatalf("old release spooled %d events, want %d (%+v)", st.Spooled, len(events), st)
	}
}

// eventProperties returns the properties of ev that its event definition
// in cat declares, leaving out the base properties.
func eventProperties(t *testing.T, cat *catalog.Catalog, ev decoded) map[string]any {
	t.Helper()
	def, ok := cat.Lookup(ev.Event)
	if !ok {
		t.Fatalf("collector accepted event %q, which the catalog does not define", ev.Event)
	}
	out := map[string]any{}
	for _, p := range def.Properties {
		if v, ok := ev.Properties[p.Name]; ok {
			out[p.Name] = v
		}
	}
	return out
}

func TestSpoolRecheckedAfterCatalogChange(t *testing.T) {
	leakcheck.Check(t)
	home := t.TempDir()
	spoolWithOldCatalog(t, home, spooledBeforeUpgrade())
	oldFingerprint := mux.Catalog().Fingerprint()

	col := newCollector(t)
	// The first upload fails, so the checked batch goes back to the spool
	// and is claimed and checked a second time.
	col.failFirst(http.StatusServiceUnavailable)
	environment := &syncEnv{}
	environment.set("MUX_DISABLE_TELEMETRY", "1")
	cfg := testConfig(t, col.srv.URL)
	cfg.Home = home
	cfg.Catalog = upgradedCatalog()
	cfg.Getenv = environment.get
	c := newClient(t, cfg)

	// While telemetry is off nothing is claimed, so Pending shows the
	// check's result without the sender having applied it.
	pending, err := c.Pending(context.Background())
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	var pendingNames []string
	for _, ev := range pending {
		pendingNames = append(pendingNames, ev.Name)
		if bytes.Contains(ev.JSON, []byte(`"agentId"`)) || bytes.Contains(ev.JSON, []byte(`"showModeBreakdown"`)) {
			t.Errorf("Pending lists %s, with a property the new catalog removes", ev.JSON)
		}
	}
	wantNames := []string{"command_used", "message_sent", "stats_tab_opened", "stream_timing_computed"}
	if d := diff(wantNames, pendingNames); d != "" {
		t.Errorf("Pending lists other events than the check keeps:\n%s", d)
	}
	if st := c.Stats(); st.Dropped != 0 || len(st.Violations) != 0 {
		t.Errorf("Pending counted drops %v or violations %v; only the sender counts them", st.DroppedByReason, st.Violations)
	}

	environment.set("MUX_DISABLE_TELEMETRY", "")
	if !c.IsEnabled() {
		t.Fatalf("telemetry stays off: %s", c.Status())
	}
	for _, ev := range liveAfterUpgrade() {
		c.Capture(ev)
	}
	waitFor(t, "the spooled and the live events", func() bool { return len(col.accepted()) == 8 })
	st := closeClient(t, c)

	spooled := map[string]decoded{}
	live := map[string]decoded{}
	for _, ev := range col.accepted() {
		if ev.Properties["catalogFingerprint"] == oldFingerprint {
			spooled[ev.Event] = ev
		} else {
			live[ev.Event] = ev
		}
	}
	for _, name := range []string{"app_started", "provider_configured"} {
		if _, ok := spooled[name]; ok {
			t.Errorf("collector accepted the spooled %s, which the new catalog rejects", name)
		}
	}
	if ev, ok := spooled["command_used"]; !ok || ev.Properties["command"] != "new" {
		t.Errorf("spooled command_used events: got %v, want only command new", ev.Properties)
	}
	for _, name := range []string{"command_used", "message_sent", "stats_tab_opened", "stream_timing_computed"} {
		s, sok := spooled[name]
		l, lok := live[name]
		if !sok || !lok {
			t.Errorf("%s: spooled sent %v, live sent %v, want both", name, sok, lok)
			continue
		}
		if d := diff(eventProperties(t, cfg.Catalog, l), eventProperties(t, cfg.Catalog, s)); d != "" {
			t.Errorf("%s: the spooled event's properties differ from the live one's:\n%s", name, d)
		}
	}
	if _, ok := spooled["stats_tab_opened"].Properties["showModeBreakdown"]; ok {
		t.Errorf("spooled stats_tab_opened kept showModeBreakdown, which the new catalog removed")
	}
	if got := spooled["stream_timing_computed"].Properties["tool_percent_bucket"]; got != 0.0 {
		t.Errorf("spooled tool_percent_bucket = %v, want 0 under the new edges", got)
	}

	// The spool's drops are counted once, although the batch was claimed
	// twice. The capture path drops the live compact and mistral under the
	// catalog's reason.
	if n := st.DroppedByReason[DropSpoolCatalogRejected]; n != 3 {
		t.Errorf("%s drops = %d, want 3 (%v)", DropSpoolCatalogRejected, n, st.DroppedByReason)
	}
	if n := st.DroppedByReason[string(catalog.ReasonNotInEnum)]; n != 2 {
		t.Errorf("live not_in_enum drops = %d, want 2 (%v)", n, st.DroppedByReason)
	}
	wantViolations := map[string]int64{
		// spool: compact, mistral, agentId; live: the same three
		string(catalog.ReasonNotInEnum):       6,
		string(catalog.ReasonUnknownEvent):    1, // spool: app_started
		string(catalog.ReasonUnknownProperty): 1, // spool: showModeBreakdown
	}
	if d := diff(wantViolations, st.Violations); d != "" {
		t.Errorf("violations:\n%s", d)
	}
	if st.Retries == 0 {
		t.Errorf("Retries = 0, want the failed first upload counted")
	}
	if st.Spooled != 0 || st.Queued != 0 {
		t.Errorf("Spooled %d, Queued %d after Close, want 0", st.Spooled, st.Queued)
	}
	entries, err := os.ReadDir(filepath.Join(home, SpoolDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("spool holds %d files after everything was sent or dropped, want 0", len(entries))
	}
}

func TestRecheckSpooled(t *testing.T) {
	cat := upgradedCatalog()
	line := func(event, props string) []byte {
		return []byte(`{"uuid":"3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b","event":"` + event +
			`","distinct_id":"x","timestamp":"2026-01-01T00:00:00Z","properties":` + props + `}`)
	}
	for _, tc := range []struct {
		name       string
		line       []byte
		dropReason string
		want       []byte // nil: the line itself
		violations []catalog.Reason
	}{
		{name: "unchanged", line: line("command_used", `{"command":"new","version":"1.2.3"}`)},
		{name: "event removed", line: line("app_started", `{"isFirstLaunch":true}`),
			dropReason: DropSpoolCatalogRejected, violations: []catalog.Reason{catalog.ReasonUnknownEvent}},
		{name: "enum value removed", line: line("command_used", `{"command":"compact"}`),
			dropReason: DropSpoolCatalogRejected, violations: []catalog.Reason{catalog.ReasonNotInEnum}},
		{name: "required property missing", line: line("command_used", `{}`),
			dropReason: DropSpoolCatalogRejected, violations: []catalog.Reason{catalog.ReasonMissing}},
		{name: "property removed", line: line("stats_tab_opened", `{"showModeBreakdown":true,"viewMode":"session"}`),
			want:       line("stats_tab_opened", `{"viewMode":"session"}`),
			violations: []catalog.Reason{catalog.ReasonUnknownProperty}},
		{name: "base property breaks its class", line: line("command_used", `{"command":"new","version":"/home/ann"}`),
			want:       line("command_used", `{"command":"new"}`),
			violations: []catalog.Reason{catalog.ReasonInvalidVersion}},
		{name: "not an object", line: []byte(`["command_used"]`), dropReason: DropSpoolCorrupt},
		{name: "properties not an object", line: line("command_used", `"new"`), dropReason: DropSpoolCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := recheckSpooled(cat, tc.line)
			if res.dropReason != tc.dropReason {
				t.Errorf("drop reason = %q, want %q", res.dropReason, tc.dropReason)
			}
			var reasons []catalog.Reason
			for _, v := range res.violations {
				reasons = append(reasons, v.Reason)
			}
			if d := diff(tc.violations, reasons); d != "" {
				t.Errorf("violations:\n%s", d)
			}
			if tc.dropReason != "" {
				if res.json != nil || !res.changed {
					t.Errorf("dropped event: json %s, changed %v, want nil and true", res.json, res.changed)
				}
				return
			}
			want := tc.want
			if want == nil {
				want = tc.line
				if &res.json[0] != &tc.line[0] {
					t.Errorf("an event the check does not change was copied or encoded again")
				}
			}
			if res.changed != (tc.want != nil) {
				t.Errorf("changed = %v, want %v", res.changed, tc.want != nil)
			}
			var got, expected any
			if err := json.Unmarshal(res.json, &got); err != nil {
				t.Fatalf("checked event %s is not JSON: %v", res.json, err)
			}
			json.Unmarshal(want, &expected)
			if d := diff(expected, got); d != "" {
				t.Errorf("checked event:\n%s", d)
			}
		})
	}
}

// TestRecheckSpooledBucketEdges checks that a value normalized under the
// old bucket edges is bucketed again under the new ones.
func TestRecheckSpooledBucketEdges(t *testing.T) {
	cat := upgradedCatalog()
	line := []byte(`{"uuid":"3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b","event":"stream_timing_computed","distinct_id":"x","timestamp":"2026-01-01T00:00:00Z",` +
		`"properties":{"model":"m","duration_b2":1024,"ttft_ms_b2":128,"tool_ms_b2":512,"streaming_ms_b2":1024,"tool_percent_bucket":70,"invalid":false}}`)
	res := recheckSpooled(cat, line)
	if res.dropReason != "" || !res.changed {
		t.Fatalf("drop reason %q, changed %v: want the event kept and changed", res.dropReason, res.changed)
	}
	var ev decoded
	if err := json.Unmarshal(res.json, &ev); err != nil {
		t.Fatal(err)
	}
	if got := ev.Properties["tool_percent_bucket"]; got != 50.0 {
		t.Errorf("tool_percent_bucket = %v, want 50", got)
	}
	if ev.UUID != "3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b" || ev.DistinctID != "x" || ev.Timestamp != "2026-01-01T00:00:00Z" {
		t.Errorf("uuid, distinct_id or timestamp changed: %s", res.json)
	}
}
