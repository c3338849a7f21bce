package telemetry

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

func TestNoticeShownOncePerCatalog(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	c := newClient(t, cfg)

	text, version, needs := c.Notice()
	if !needs {
		t.Error("Notice does not need showing on the first run")
	}
	if version != cfg.Catalog.Fingerprint() {
		t.Errorf("notice version = %q, want the catalog fingerprint %q", version, cfg.Catalog.Fingerprint())
	}
	for _, want := range []string{"MUX_DISABLE_TELEMETRY=1", "DO_NOT_TRACK=1", "app_started", "message_sent", version} {
		if !strings.Contains(strings.Join(strings.Fields(text), " "), want) {
			t.Errorf("notice text lacks %q:\n%s", want, text)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if len(line) > noticeWidth && strings.Contains(line, " ") {
			t.Errorf("notice line is %d bytes, want at most %d: %q", len(line), noticeWidth, line)
		}
	}

	if err := c.MarkNoticeShown(); err != nil {
		t.Fatalf("MarkNoticeShown: %v", err)
	}
	if _, _, needs := c.Notice(); needs {
		t.Error("Notice needs showing after MarkNoticeShown")
	}
	data, _ := os.ReadFile(filepath.Join(cfg.Home, NoticeFile))
	if strings.TrimSpace(string(data)) != version {
		t.Errorf("%s holds %q, want %q", NoticeFile, data, version)
	}
	closeClient(t, c)

	changed := catalog.New(mux.App)
	changed.MustRegister(mux.AppStarted{}, "The app started.")
	cfg.Catalog = changed
	c2 := newClient(t, cfg)
	if _, v2, needs := c2.Notice(); !needs || v2 == version {
		t.Errorf("after a catalog change the notice version is %q (was %q) and needs showing is %v, want a new version that needs showing", v2, version, needs)
	}
}

func TestNoticeCountsEventKinds(t *testing.T) {
	single := catalog.New(mux.App)
	single.MustRegister(mux.AppStarted{}, "The app started.")
	tests := []struct {
		catalog *catalog.Catalog
		want    string
	}{
		{single, "the one kind of event of its catalog (app_started)"},
		{mux.Catalog(), fmt.Sprintf("the %d kinds of events of its catalog (", len(mux.Catalog().Events))},
	}
	for _, test := range tests {
		cfg := testConfig(t, "http://127.0.0.1:1")
		cfg.Catalog = test.catalog
		c := newClient(t, cfg)
		text, _, _ := c.Notice()
		if !strings.Contains(strings.Join(strings.Fields(text), " "), test.want) {
			t.Errorf("notice text lacks %q:\n%s", test.want, text)
		}
	}
}

func TestNoticeNotNeededWhileOptedOut(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.Getenv = env{"DO_NOT_TRACK": "1"}.get
	cfg.RequireNotice = true
	c := newClient(t, cfg)
	if _, _, needs := c.Notice(); needs {
		t.Error("Notice needs showing although DO_NOT_TRACK keeps telemetry off")
	}
	if st := c.Status(); st.Switch != DoNotTrackVar {
		t.Errorf("switch = %q, want %q to decide before the notice", st.Switch, DoNotTrackVar)
	}
}

func TestRequireNoticeIgnoresEventsUntilShown(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.RequireNotice = true
	c := newClient(t, cfg)

	st := c.Status()
	if st.Enabled || st.Switch != SwitchNotice || st.ExplicitlyDisabled {
		t.Errorf("status before the notice = %s, want disabled by %s, not explicitly", st, SwitchNotice)
	}
	if len(st.Reasons) != 5 || !strings.HasPrefix(st.Reasons[4], SwitchNotice) {
		t.Errorf("reasons = %q, want the notice last", st.Reasons)
	}
	c.Capture(mux.CommandUsed{Command: "new"})
	flush(t, c)
	if n := col.requestCount(); n != 0 {
		t.Errorf("collector got %d requests before the notice was shown, want 0", n)
	}
	if fileExists(t, filepath.Join(cfg.Home, InstallIDFile)) {
		t.Error("install ID created before the notice was shown")
	}

	if err := c.MarkNoticeShown(); err != nil {
		t.Fatalf("MarkNoticeShown: %v", err)
	}
	if !c.IsEnabled() {
		t.Fatalf("still disabled after MarkNoticeShown: %s", c.Status())
	}
	c.Capture(mux.CommandUsed{Command: "fork"})
	stats := closeClient(t, c)
	events := col.accepted()
	if len(events) != 1 || events[0].Properties["command"] != "fork" {
		t.Errorf("collector accepted %+v, want only the event captured after the notice", events)
	}
	if stats.Ignored != 1 || stats.Sent != 1 {
		t.Errorf("ignored %d, sent %d; want 1 and 1", stats.Ignored, stats.Sent)
	}
}

func TestRequireNoticeHoldsSpool(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	withDefaults := cfg.withDefaults()
	sp := newSpool(&withDefaults, &counters{})
	event := `{"uuid":"0b9f1c1e-4a3b-4c2d-9e8f-7a6b5c4d3e2f","event":"command_used","distinct_id":"x","timestamp":"2026-01-01T00:00:00Z","properties":{"command":"new"}}`
	if err := sp.write([][]byte{[]byte(event)}); err != nil {
		t.Fatal(err)
	}

	cfg.RequireNotice = true
	second := newClient(t, cfg)
	flush(t, second)
	if n := col.requestCount(); n != 0 {
		t.Errorf("the spool was sent before the notice was shown: %d requests", n)
	}
	if spoolFiles(t, cfg.Home) == 0 {
		t.Error("the spool was deleted before the notice was shown, want it kept")
	}

	if err := second.MarkNoticeShown(); err != nil {
		t.Fatalf("MarkNoticeShown: %v", err)
	}
	flushUntilDone(t, second)
	if events := col.accepted(); len(events) != 1 || events[0].UUID != "0b9f1c1e-4a3b-4c2d-9e8f-7a6b5c4d3e2f" {
		t.Errorf("after the notice the collector accepted %+v, want the spooled event", events)
	}
}
