package catalog_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
)

func TestParseFunnelStep(t *testing.T) {
	tests := []struct {
		step       string
		event      string
		conditions []catalog.FunnelCondition
	}{
		{"app_started", "app_started", nil},
		{" app_started ", "app_started", nil},
		{"app_started[isFirstLaunch=true]", "app_started",
			[]catalog.FunnelCondition{{Property: "isFirstLaunch", Value: "true", Text: "isFirstLaunch=true"}}},
		{"message_sent[ model = m1 , thinkingLevel=high ]", "message_sent", []catalog.FunnelCondition{
			{Property: "model", Value: "m1", Text: "model = m1"},
			{Property: "thinkingLevel", Value: "high", Text: "thinkingLevel=high"},
		}},
		{`message_sent[thinkingLevel="high"]`, "message_sent",
			[]catalog.FunnelCondition{{Property: "thinkingLevel", Value: "high", Text: `thinkingLevel="high"`}}},
		{`message_sent[model="a,b", thinkingLevel=high]`, "message_sent", []catalog.FunnelCondition{
			{Property: "model", Value: "a,b", Text: `model="a,b"`},
			{Property: "thinkingLevel", Value: "high", Text: "thinkingLevel=high"},
		}},
		{`message_sent[model="say \"hi\" \\ ]"]`, "message_sent",
			[]catalog.FunnelCondition{{Property: "model", Value: `say "hi" \ ]`, Text: `model="say \"hi\" \\ ]"`}}},
		{`message_sent[model=" padded "]`, "message_sent",
			[]catalog.FunnelCondition{{Property: "model", Value: " padded ", Text: `model=" padded "`}}},
		// An unquoted value runs to the next comma and may hold = and ],
		// and a double quote inside it is literal.
		{`message_sent[model=a=b]c]`, "message_sent",
			[]catalog.FunnelCondition{{Property: "model", Value: "a=b]c", Text: "model=a=b]c"}}},
		{`message_sent[model=3"x]`, "message_sent",
			[]catalog.FunnelCondition{{Property: "model", Value: `3"x`, Text: `model=3"x`}}},
		{`message_sent[model=]`, "message_sent",
			[]catalog.FunnelCondition{{Property: "model", Value: "", Text: "model="}}},
	}
	for _, tt := range tests {
		event, conditions, err := catalog.ParseFunnelStep(tt.step)
		if err != nil {
			t.Errorf("ParseFunnelStep(%q): %v", tt.step, err)
			continue
		}
		if event != tt.event {
			t.Errorf("ParseFunnelStep(%q) event = %q, want %q", tt.step, event, tt.event)
		}
		if !reflect.DeepEqual(conditions, tt.conditions) {
			t.Errorf("ParseFunnelStep(%q) conditions = %+v, want %+v", tt.step, conditions, tt.conditions)
		}
	}
}

func TestParseFunnelStepErrors(t *testing.T) {
	tests := []struct {
		step  string
		event string   // returned with the error
		want  []string // parts of the error message
	}{
		{"[mode=duo]", "", []string{"missing event name"}},
		{"game_launched[mode=duo", "game_launched", []string{"unclosed conditions", "end them with ]"}},
		{"game_launched[mode]", "game_launched", []string{`invalid condition "mode"`, "property=value"}},
		{"game_launched[]", "game_launched", []string{`invalid condition ""`, "property=value"}},
		{"game_launched[=duo]", "game_launched", []string{`invalid condition "=duo"`, "property=value"}},
		{"game_launched[mode=duo,]", "game_launched", []string{`invalid condition ""`}},
		{`game_launched[mode="duo]`, "game_launched", []string{`invalid condition "mode=\"duo"`, `missing closing "`}},
		{`game_launched[mode="duo"x]`, "game_launched", []string{`invalid condition "mode=\"duo\"x"`, "put a comma between"}},
	}
	for _, tt := range tests {
		event, _, err := catalog.ParseFunnelStep(tt.step)
		if err == nil {
			t.Errorf("ParseFunnelStep(%q) succeeded, want an error", tt.step)
			continue
		}
		if event != tt.event {
			t.Errorf("ParseFunnelStep(%q) event = %q, want %q", tt.step, event, tt.event)
		}
		for _, part := range tt.want {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("ParseFunnelStep(%q) error %q does not contain %q", tt.step, err, part)
			}
		}
	}
	if _, _, err := catalog.ParseFunnelStep("game_launched[mode=duo"); !errors.Is(err, catalog.ErrUnclosedConditions) {
		t.Errorf("ParseFunnelStep of an unclosed step: error %v, want ErrUnclosedConditions", err)
	}
	if _, _, err := catalog.ParseFunnelStep(`game_launched[mode="duo]`); !errors.Is(err, catalog.ErrUnclosedQuote) {
		t.Errorf("ParseFunnelStep of an unclosed quote: error %v, want ErrUnclosedQuote", err)
	}
}

func TestSetDashboardQuotedValues(t *testing.T) {
	c, err := catalog.Parse([]byte(`{"app": "quoted", "events": [{"name": "sent", "properties": [
		{"name": "level", "class": "enum", "type": "string", "values": ["high", "a,b", "say \"hi\""]},
		{"name": "model", "class": "identifier", "type": "string"}]}]}`))
	if err != nil {
		t.Fatalf("parse catalog: %v", err)
	}
	for _, funnel := range [][]string{
		{`sent[level="high"]`, "sent"},
		{`sent[level="a,b"]`, `sent[level="say \"hi\""]`},
		{`sent[level="a,b", model=m1]`, `sent[model="m1",level=high]`},
		{"sent[level=high]", "sent[ level = high , model = m1 ]"},
	} {
		if err := c.SetDashboard(catalog.Dashboard{Funnel: funnel}); err != nil {
			t.Errorf("SetDashboard with funnel %q: %v", funnel, err)
		}
	}
	if err := c.SetDashboard(catalog.Dashboard{Funnel: []string{`sent[level="a"]`, "sent"}}); err == nil ||
		!strings.Contains(err.Error(), `"a" is not a value of enum "level"`) {
		t.Errorf("SetDashboard with the quoted value a: error %v, want one naming \"a\" as not in the enum", err)
	}
}

func TestMarkdownFunnelQuotedValue(t *testing.T) {
	c, err := catalog.Parse([]byte(`{"app": "quoted", "events": [{"name": "sent", "properties": [
		{"name": "level", "class": "enum", "type": "string", "values": ["a,b"]}]}],
		"dashboard": {"funnel": ["sent[level=\"a,b\"]", "sent"]}}`))
	if err != nil {
		t.Fatalf("parse catalog: %v", err)
	}
	if page := string(c.Markdown()); !strings.Contains(page, "where `level` is `a,b`") {
		t.Errorf("Markdown does not show the quoted value a,b unquoted:\n%s", page)
	}
}
