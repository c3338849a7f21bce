package telemetry

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sentLines returns one JSON line per name, each with an event member.
func sentLines(names ...string) string {
	var b strings.Builder
	for _, name := range names {
		fmt.Fprintf(&b, `{"event":%q}`+"\n", name)
	}
	return b.String()
}

func sentNames(t *testing.T, c *Client, limit int) []string {
	t.Helper()
	events, err := c.Sent(limit)
	if err != nil {
		t.Fatalf("Sent(%d): %v", limit, err)
	}
	names := []string{}
	for _, ev := range events {
		names = append(names, strings.TrimSuffix(strings.TrimPrefix(string(ev), `{"event":"`), `"}`))
	}
	return names
}

func TestSentReadsRotatedLog(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1")
	cfg.SentLog = filepath.Join(cfg.Home, "sent.jsonl")
	c := newClient(t, cfg)

	if got := sentNames(t, c, 10); len(got) != 0 {
		t.Errorf("Sent before any log file = %v, want none", got)
	}
	if err := os.WriteFile(cfg.SentLog+".1", []byte(sentLines("e1", "e2", "e3")), 0o600); err != nil {
		t.Fatal(err)
	}
	// The last line has no newline yet: the sender is writing it.
	current := sentLines("e4", "e5") + `{"event":"e6`
	if err := os.WriteFile(cfg.SentLog, []byte(current), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		limit int
		want  string
	}{
		{1, "e5"},
		{2, "e4 e5"},
		{4, "e2 e3 e4 e5"},
		{100, "e1 e2 e3 e4 e5"},
		{0, ""},
	}
	for _, tt := range tests {
		if got := strings.Join(sentNames(t, c, tt.limit), " "); got != tt.want {
			t.Errorf("Sent(%d) = %q, want %q", tt.limit, got, tt.want)
		}
	}
}

func TestSentReadsTailOfLargeLog(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1")
	cfg.SentLog = filepath.Join(cfg.Home, "sent.jsonl")
	c := newClient(t, cfg)

	var names []string
	for i := 0; i < 2*sentLogTailBytes/20; i++ {
		names = append(names, fmt.Sprintf("event_%06d", i))
	}
	log := sentLines(names...)
	if err := os.WriteFile(cfg.SentLog, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}

	got := sentNames(t, c, 3)
	if want := strings.Join(names[len(names)-3:], " "); strings.Join(got, " ") != want {
		t.Errorf("Sent(3) = %v, want %s", got, want)
	}
	all := sentNames(t, c, len(names))
	if len(all) == 0 || len(all) >= len(names) {
		t.Errorf("Sent(%d) of a %d-byte log returned %d events, want fewer: only the last %d bytes are read", len(names), len(log), len(all), sentLogTailBytes)
	}
	if len(all) > 0 && !strings.HasPrefix(all[0], "event_") {
		t.Errorf("Sent's first event %q is a partial line", all[0])
	}
}

func TestSentWithoutLog(t *testing.T) {
	c := newClient(t, testConfig(t, "http://127.0.0.1:1"))
	if _, err := c.Sent(10); !errors.Is(err, ErrNoSentLog) {
		t.Errorf("Sent without Config.SentLog: err = %v, want ErrNoSentLog", err)
	}
}
