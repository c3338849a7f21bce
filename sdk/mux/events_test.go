package mux

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
)

// JSON types as encoding/json decodes them into any.
const (
	str  = "string"
	num  = "number"
	boo  = "bool"
	obj  = "object"
	null = "null"
)

const (
	workspace = "0f8fad5b-d9cb-469f-a165-70867728950e"
	other     = "7c4f3111-98c6-4b1b-bf28-3dc5750934a7"
	model     = "anthropic/claude-sonnet-4-5"
)

var front = FrontendPlatform{
	UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	Platform:  "MacIntel",
}

func intPtr(v int) *int { return &v }

// referenceEvents is the Mux catalog as its reference lists it: every event
// with every property name and the JSON type on the wire, filled with valid
// values, optional properties included.
var referenceEvents = []struct {
	event catalog.Event
	props map[string]string
}{
	{AppStarted{IsFirstLaunch: true}, map[string]string{"isFirstLaunch": boo, "vimModeEnabled": boo}},
	{WorkspaceCreated{WorkspaceID: workspace, RuntimeType: "worktree", FrontendPlatform: front},
		map[string]string{"workspaceId": str, "runtimeType": str, "frontendPlatform": obj}},
	{WorkspaceSwitched{FromWorkspaceID: workspace, ToWorkspaceID: other},
		map[string]string{"fromWorkspaceId": str, "toWorkspaceId": str}},
	{MessageSent{WorkspaceID: workspace, Model: model, AgentID: "plan", MessageLength: 350, RuntimeType: "local", FrontendPlatform: front, ThinkingLevel: "xhigh"},
		map[string]string{"workspaceId": str, "model": str, "agentId": str, "message_length_b2": num, "runtimeType": str, "frontendPlatform": obj, "thinkingLevel": str}},
	{MCPContextInjected{WorkspaceID: workspace, Model: model, AgentID: "exec", RuntimeType: "ssh", ServerEnabledCount: 3, ServerStartedCount: 2,
		ServerFailedCount: 1, MCPToolCount: 12, TotalToolCount: 40, BuiltinToolCount: 28, TransportMode: "mixed", HasHTTP: true, HasStdio: true,
		AutoFallbackCount: 1, SetupDurationMs: 900},
		map[string]string{"workspaceId": str, "model": str, "agentId": str, "runtimeType": str, "mcp_server_enabled_count": num,
			"mcp_server_started_count": num, "mcp_server_failed_count": num, "mcp_tool_count": num, "total_tool_count": num,
			"builtin_tool_count": num, "mcp_transport_mode": str, "mcp_has_http": boo, "mcp_has_sse": boo, "mcp_has_stdio": boo,
			"mcp_auto_fallback_count": num, "mcp_setup_duration_ms_b2": num}},
	{MCPServerTested{Transport: "http", DurationMs: 1200, ErrorCategory: "timeout"},
		map[string]string{"transport": str, "success": boo, "duration_ms_b2": num, "error_category": str}},
	{MCPServerConfigChanged{Action: "set_tool_allowlist", Transport: "stdio", HasHeaders: true, ToolAllowlistSize: intPtr(5)},
		map[string]string{"action": str, "transport": str, "has_headers": boo, "uses_secret_headers": boo, "tool_allowlist_size_b2": num}},
	{MCPOAuthFlowStarted{Transport: "sse", HasScopeHint: true},
		map[string]string{"transport": str, "has_scope_hint": boo, "has_resource_metadata_hint": boo}},
	{MCPOAuthFlowCompleted{Transport: "http", DurationMs: 4000},
		map[string]string{"transport": str, "duration_ms_b2": num, "has_scope_hint": boo, "has_resource_metadata_hint": boo}},
	{MCPOAuthFlowFailed{Transport: "auto", DurationMs: 30000, ErrorCategory: "state_mismatch"},
		map[string]string{"transport": str, "duration_ms_b2": num, "has_scope_hint": boo, "has_resource_metadata_hint": boo, "error_category": str}},
	{StatsTabOpened{ViewMode: "last-request", ShowModeBreakdown: true},
		map[string]string{"viewMode": str, "showModeBreakdown": boo}},
	{StreamTimingComputed{Model: model, AgentID: "explore", DurationMs: 9000, TTFTMs: 800, ToolMs: 3000, StreamingMs: 5000, ToolPercentBucket: 33},
		map[string]string{"model": str, "agentId": str, "duration_b2": num, "ttft_ms_b2": num, "tool_ms_b2": num, "streaming_ms_b2": num,
			"tool_percent_bucket": num, "invalid": boo}},
	{StreamTimingInvalid{Reason: "negative_duration"}, map[string]string{"reason": str}},
	{StreamCompleted{Model: model, DurationSecs: 21.5, OutputTokens: 700},
		map[string]string{"model": str, "wasInterrupted": boo, "duration_b2": num, "output_tokens_b2": num}},
	{CompactionCompleted{Model: model, DurationSecs: 3, InputTokens: 90000, OutputTokens: 2000, Source: "idle"},
		map[string]string{"model": str, "duration_b2": num, "input_tokens_b2": num, "output_tokens_b2": num, "compaction_source": str}},
	{ProviderConfigured{Provider: "anthropic", KeyType: "apiKey"}, map[string]string{"provider": str, "keyType": str}},
	{CommandUsed{Command: "clear:hard"}, map[string]string{"command": str}},
	{VoiceTranscription{AudioDurationSecs: 12, Success: true}, map[string]string{"audio_duration_b2": num, "success": boo}},
	{ErrorOccurred{ErrorType: "TypeError", Context: "git-operation"}, map[string]string{"errorType": str, "context": str}},
	{ExperimentOverridden{ExperimentID: "new-onboarding", AssignedVariant: nil, UserChoice: true},
		map[string]string{"experimentId": str, "assignedVariant": null, "userChoice": boo}},
}

func TestCatalogMatchesReference(t *testing.T) {
	c := Catalog()
	var names []string
	for _, def := range c.Events {
		names = append(names, def.Name)
	}
	var want []string
	for _, ref := range referenceEvents {
		want = append(want, ref.event.EventName())
	}
	sort.Strings(names)
	sort.Strings(want)
	if !slices.Equal(names, want) {
		t.Errorf("catalog events = %v\nwant %v", names, want)
	}
}

func TestEventsMarshalToReferenceNames(t *testing.T) {
	c := Catalog()
	for _, ref := range referenceEvents {
		name := ref.event.EventName()
		t.Run(name, func(t *testing.T) {
			_, raw, err := c.Properties(ref.event)
			if err != nil {
				t.Fatal(err)
			}
			normalized, dropped, err := c.Normalize(name, raw)
			if err != nil {
				t.Fatalf("normalize: %v", err)
			}
			if len(dropped) > 0 {
				t.Errorf("dropped %v", dropped)
			}
			data, err := json.Marshal(normalized)
			if err != nil {
				t.Fatal(err)
			}
			var wire map[string]any
			if err := json.Unmarshal(data, &wire); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, v := range wire {
				got[k] = jsonType(v)
			}
			if !reflect.DeepEqual(got, ref.props) {
				t.Errorf("wire properties and types = %v\nwant %v", got, ref.props)
			}
		})
	}
}

func TestRawValuesAreRounded(t *testing.T) {
	c := Catalog()
	_, raw, _ := c.Properties(MessageSent{WorkspaceID: workspace, Model: model, MessageLength: 1200, RuntimeType: "local", FrontendPlatform: front, ThinkingLevel: "off"})
	out, _, err := c.Normalize("message_sent", raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := out["message_length_b2"]; got != float64(2048) {
		t.Errorf("message_length_b2 = %v, want 2048", got)
	}
	ua := out["frontendPlatform"].(map[string]any)["userAgent"]
	if ua != "Chrome 131 (macOS)" {
		t.Errorf("userAgent = %v, want Chrome 131 (macOS)", ua)
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return str
	case float64:
		return num
	case bool:
		return boo
	case map[string]any:
		return obj
	case nil:
		return null
	}
	return reflect.TypeOf(v).String()
}

func TestCatalogCallsDoNotShareState(t *testing.T) {
	changed := Catalog()
	changed.Events = changed.Events[:1]
	changed.Base[0].Name = "renamed"
	if err := changed.SetDashboard(catalog.Dashboard{}); err != nil {
		t.Fatal(err)
	}

	fresh := Catalog()
	if got, want := len(fresh.Events), 20; got != want {
		t.Errorf("events of a new catalog = %d, want %d", got, want)
	}
	if got := fresh.Base[0].Name; got == "renamed" {
		t.Errorf("base property 0 of a new catalog = %q, changed through an earlier one", got)
	}
	if fresh.Dashboard.FirstLaunchEvent == "" {
		t.Error("dashboard of a new catalog is empty, cleared through an earlier one")
	}
}

func TestCatalogCallsDoNotShareEnumValues(t *testing.T) {
	changed := Catalog()
	for i := range changed.Base {
		for j := range changed.Base[i].Values {
			changed.Base[i].Values[j] = "changed"
		}
	}
	for i := range changed.Events {
		for j := range changed.Events[i].Properties {
			p := &changed.Events[i].Properties[j]
			for k := range p.Values {
				p.Values[k] = "changed"
			}
		}
	}

	fresh := Catalog()
	for _, p := range fresh.Base {
		if slices.Contains(p.Values, "changed") {
			t.Errorf("values of base property %s of a new catalog = %v, changed through an earlier one", p.Name, p.Values)
		}
	}
	for _, e := range fresh.Events {
		for _, p := range e.Properties {
			if slices.Contains(p.Values, "changed") {
				t.Errorf("values of %s.%s of a new catalog = %v, changed through an earlier one", e.Name, p.Name, p.Values)
			}
		}
	}
	if slices.Contains(catalog.BackendPlatforms, "changed") {
		t.Errorf("catalog.BackendPlatforms = %v, changed through a catalog", catalog.BackendPlatforms)
	}
}
