package dashboard_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/store"
)

// awkwardLevel is a thinkingLevel value with every character that the
// step syntax gives a meaning to.
const awkwardLevel = `<script>alert(1)</script>, a]b=c "d" \e`

// awkwardEvents are the events of the quoting tests: install q1 on
// platform "a,b" sends message_sent with awkwardLevel and then hits an
// error, and install q2 on platform "c" sends message_sent with high.
func awkwardEvents() []store.Event {
	at := time.Date(2024, time.May, 1, 9, 0, 0, 0, time.UTC)
	rows := []struct {
		install, platform, name string
		properties              map[string]any
	}{
		{"q1", "a,b", "message_sent", map[string]any{"thinkingLevel": awkwardLevel, "model": "m1"}},
		{"q1", "a,b", "error_occurred", map[string]any{"errorType": "TypeError", "context": "message-send"}},
		{"q2", "c", "message_sent", map[string]any{"thinkingLevel": "high", "model": "m1"}},
	}
	events := make([]store.Event, len(rows))
	for i, row := range rows {
		properties := map[string]any{"version": "1.0.0", "backend_platform": row.platform}
		for name, value := range row.properties {
			properties[name] = value
		}
		events[i] = store.Event{
			Project:    "mux",
			UUID:       fmt.Sprintf("00000000-0000-4000-b000-%012d", i),
			Name:       row.name,
			DistinctID: row.install,
			Timestamp:  at.Add(time.Duration(i) * time.Minute),
			ReceivedAt: at,
			Properties: properties,
		}
	}
	return events
}

// quoteStepValue writes value in double quotes with backslash escapes, as
// the step syntax reads it.
func quoteStepValue(value string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value) + `"`
}

func TestFunnelStepQuotedValue(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: storeWith(t, awkwardEvents()), Project: "mux", KAnonymity: 1})
	first := "message_sent[thinkingLevel=" + quoteStepValue(awkwardLevel) + "]"

	query := url.Values{"step": {first, "error_occurred"}, "from": {"2024-05-01"}, "to": {"2024-05-01"}}
	checkRows(t, server, "/api/v1/funnel?"+query.Encode(), []map[string]any{
		row("step", 1, "event", first, "installs", 1, "conversion", 1.0, "step_conversion", 1.0),
		row("step", 2, "event", "error_occurred", "installs", 1, "conversion", 1.0, "step_conversion", 1.0),
	})

	// Spaces around a quoted value, a second condition after it and an
	// unquoted value keep working.
	spaced := `message_sent[thinkingLevel = ` + quoteStepValue(awkwardLevel) + ` , model=m1]`
	query.Set("step", spaced)
	query.Add("step", "error_occurred")
	checkRows(t, server, "/api/v1/funnel?"+query.Encode(), []map[string]any{
		row("step", 1, "event", "message_sent[thinkingLevel="+quoteStepValue(awkwardLevel)+",model=m1]",
			"installs", 1, "conversion", 1.0, "step_conversion", 1.0),
		row("step", 2, "event", "error_occurred", "installs", 1, "conversion", 1.0, "step_conversion", 1.0),
	})
}

func TestFunnelStepQuoteErrors(t *testing.T) {
	tests := []struct {
		name string
		step string
		want []string
	}{
		{"unclosed quote", `message_sent[thinkingLevel="a]`, []string{`invalid condition "thinkingLevel=\"a"`, `missing closing "`}},
		{"text after a quoted value", `message_sent[thinkingLevel="a"b]`, []string{"put a comma between"}},
		{"unquoted > cut by the page", `message_sent[thinkingLevel=<script`, []string{"close its conditions with ]", "double quotes"}},
		{"empty condition", `message_sent[model=m1,]`, []string{`invalid condition ""`}},
	}
	server := startServer(t, dashboard.Config{Store: openStore(t)})
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			query := url.Values{"step": {test.step, "error_occurred"}}
			body := getJSONStatus[struct{ Error string }](t, server, "/api/v1/funnel?"+query.Encode(), http.StatusBadRequest)
			checkContains(t, "error", body.Error, test.want...)
		})
	}
}

func TestPlatformWithComma(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: storeWith(t, awkwardEvents()), Project: "mux", KAnonymity: 1})
	tests := []struct {
		name     string
		platform []string
		events   int64
	}{
		{"quoted", []string{`"a,b"`}, 2},
		{"quoted in a list", []string{`c, "a,b"`}, 3},
		{"repeated", []string{`"a,b"`, "c"}, 3},
		{"unquoted splits at commas", []string{"a,b"}, 0},
		{"unquoted list", []string{"c,x"}, 1},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			path := "/api/v1/overview?" + url.Values{"platform": test.platform}.Encode()
			got := getJSON[overview](t, server, path)
			if got.TotalEvents == nil || *got.TotalEvents != test.events {
				t.Errorf("GET %s total_events = %v, want %d", path, got.TotalEvents, test.events)
			}
		})
	}

	body := getJSONStatus[struct{ Error string }](t, server, "/api/v1/overview?platform=%22a,b", http.StatusBadRequest)
	checkContains(t, "unclosed platform error", body.Error, `invalid platform "\"a,b"`, `missing closing "`)
}

func TestDashboardFormQuotesListItems(t *testing.T) {
	server := startServer(t, dashboard.Config{Store: openStore(t)})
	cookie := login(t, server)

	query := url.Values{"platform": {`"a,b"`, "c"}, "version": {"1.0, 2.0"}}
	_, body := send(t, server, http.MethodGet, "/?"+query.Encode(), withCookie(cookie))
	checkContains(t, "dashboard page", body,
		`id="platform" name="platform" value="&#34;a,b&#34;, c"`,
		`id="version" name="version" value="1.0, 2.0"`)
}
