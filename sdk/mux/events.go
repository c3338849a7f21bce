package mux

// This file is the whole Mux event catalog: every event a Mux backend may
// send, each property with its wire name, privacy class and meaning. Field
// values are raw: base2 fields are rounded up to a power of two, count
// fields clamped and user agents reduced when the event is encoded, so
// callers pass what they measured.

// FrontendPlatform describes the browser or shell that rendered the UI.
type FrontendPlatform struct {
	UserAgent string `json:"userAgent" candor:"user_agent" doc:"Browser family, major version and OS family, reduced from the user agent."`
	Platform  string `json:"platform" candor:"platform" doc:"OS family, reduced from navigator.platform."`
}

// AppStarted is sent once per app start.
type AppStarted struct {
	IsFirstLaunch  bool `json:"isFirstLaunch" candor:"bool" doc:"True on the first start of this install, exactly once."`
	VimModeEnabled bool `json:"vimModeEnabled" candor:"bool" doc:"Whether vim key bindings are on."`
}

// WorkspaceCreated is sent when the user creates a workspace.
type WorkspaceCreated struct {
	WorkspaceID      string           `json:"workspaceId" candor:"random_id" doc:"Random ID of the new workspace."`
	RuntimeType      string           `json:"runtimeType" candor:"enum=local|worktree|ssh|docker|devcontainer" doc:"Where the workspace runs."`
	FrontendPlatform FrontendPlatform `json:"frontendPlatform" candor:"object" doc:"The UI's browser and OS family."`
}

// WorkspaceSwitched is sent when the user moves from one workspace to another.
type WorkspaceSwitched struct {
	FromWorkspaceID string `json:"fromWorkspaceId" candor:"random_id" doc:"Random ID of the workspace left."`
	ToWorkspaceID   string `json:"toWorkspaceId" candor:"random_id" doc:"Random ID of the workspace opened."`
}

// MessageSent is sent when the user sends a message to a model. The
// message's text is never sent, only its length rounded up to a power of two.
type MessageSent struct {
	WorkspaceID      string           `json:"workspaceId" candor:"random_id" doc:"Random ID of the workspace."`
	Model            string           `json:"model" candor:"identifier" doc:"Model id, such as anthropic/claude-sonnet-4-5."`
	AgentID          string           `json:"agentId,omitempty" candor:"identifier,optional" doc:"Agent (mode) such as plan, exec or explore."`
	MessageLength    int              `json:"message_length_b2" candor:"base2" doc:"Message length in characters, rounded up to a power of two."`
	RuntimeType      string           `json:"runtimeType" candor:"enum=local|worktree|ssh|docker|devcontainer" doc:"Where the workspace runs."`
	FrontendPlatform FrontendPlatform `json:"frontendPlatform" candor:"object" doc:"The UI's browser and OS family."`
	ThinkingLevel    string           `json:"thinkingLevel" candor:"enum=off|low|medium|high|xhigh|max" doc:"Reasoning effort requested from the model."`
}

// MCPContextInjected is sent when MCP servers and tools are set up for a message.
type MCPContextInjected struct {
	WorkspaceID        string `json:"workspaceId" candor:"random_id" doc:"Random ID of the workspace."`
	Model              string `json:"model" candor:"identifier" doc:"Model id."`
	AgentID            string `json:"agentId,omitempty" candor:"identifier,optional" doc:"Agent (mode) in use."`
	RuntimeType        string `json:"runtimeType" candor:"enum=local|worktree|ssh|docker|devcontainer" doc:"Where the workspace runs."`
	ServerEnabledCount int    `json:"mcp_server_enabled_count" candor:"count,max=100" doc:"MCP servers enabled."`
	ServerStartedCount int    `json:"mcp_server_started_count" candor:"count,max=100" doc:"MCP servers that started."`
	ServerFailedCount  int    `json:"mcp_server_failed_count" candor:"count,max=100" doc:"MCP servers that failed to start."`
	MCPToolCount       int    `json:"mcp_tool_count" candor:"count,max=1000" doc:"Tools offered by MCP servers."`
	TotalToolCount     int    `json:"total_tool_count" candor:"count,max=1000" doc:"All tools offered to the model."`
	BuiltinToolCount   int    `json:"builtin_tool_count" candor:"count,max=1000" doc:"Built-in tools offered to the model."`
	TransportMode      string `json:"mcp_transport_mode" candor:"enum=none|stdio_only|http_only|sse_only|mixed" doc:"Transports used by the started servers."`
	HasHTTP            bool   `json:"mcp_has_http" candor:"bool" doc:"Whether a server uses HTTP."`
	HasSSE             bool   `json:"mcp_has_sse" candor:"bool" doc:"Whether a server uses SSE."`
	HasStdio           bool   `json:"mcp_has_stdio" candor:"bool" doc:"Whether a server uses stdio."`
	AutoFallbackCount  int    `json:"mcp_auto_fallback_count" candor:"count,max=100" doc:"Servers that fell back to another transport."`
	SetupDurationMs    int64  `json:"mcp_setup_duration_ms_b2" candor:"base2" doc:"Setup time in milliseconds, rounded up to a power of two."`
}

// MCPServerTested is sent when the user tests an MCP server's connection.
// The error text is never sent, only its category.
type MCPServerTested struct {
	Transport     string `json:"transport" candor:"enum=stdio|http|sse|auto" doc:"Transport tested."`
	Success       bool   `json:"success" candor:"bool" doc:"Whether the test passed."`
	DurationMs    int64  `json:"duration_ms_b2" candor:"base2" doc:"Test time in milliseconds, rounded up to a power of two."`
	ErrorCategory string `json:"error_category,omitempty" candor:"enum=timeout|connect|http_status|unknown,optional" doc:"Kind of failure, when the test failed."`
}

// MCPServerConfigChanged is sent when the user changes an MCP server's settings.
type MCPServerConfigChanged struct {
	Action            string `json:"action" candor:"enum=add|edit|remove|enable|disable|set_tool_allowlist|set_headers" doc:"What changed."`
	Transport         string `json:"transport" candor:"enum=stdio|http|sse|auto" doc:"The server's transport."`
	HasHeaders        bool   `json:"has_headers" candor:"bool" doc:"Whether the server has custom headers."`
	UsesSecretHeaders bool   `json:"uses_secret_headers" candor:"bool" doc:"Whether a header refers to a secret."`
	ToolAllowlistSize *int   `json:"tool_allowlist_size_b2,omitempty" candor:"base2,optional" doc:"Allowlisted tools, rounded up to a power of two; only with set_tool_allowlist."`
}

// MCPOAuthFlowStarted is sent when an MCP server's OAuth sign-in starts.
type MCPOAuthFlowStarted struct {
	Transport               string `json:"transport" candor:"enum=stdio|http|sse|auto" doc:"The server's transport."`
	HasScopeHint            bool   `json:"has_scope_hint" candor:"bool" doc:"Whether the server named scopes."`
	HasResourceMetadataHint bool   `json:"has_resource_metadata_hint" candor:"bool" doc:"Whether the server pointed to resource metadata."`
}

// MCPOAuthFlowCompleted is sent when an MCP server's OAuth sign-in succeeds.
type MCPOAuthFlowCompleted struct {
	Transport               string `json:"transport" candor:"enum=stdio|http|sse|auto" doc:"The server's transport."`
	DurationMs              int64  `json:"duration_ms_b2" candor:"base2" doc:"Sign-in time in milliseconds, rounded up to a power of two."`
	HasScopeHint            bool   `json:"has_scope_hint" candor:"bool" doc:"Whether the server named scopes."`
	HasResourceMetadataHint bool   `json:"has_resource_metadata_hint" candor:"bool" doc:"Whether the server pointed to resource metadata."`
}

// MCPOAuthFlowFailed is sent when an MCP server's OAuth sign-in fails.
type MCPOAuthFlowFailed struct {
	Transport               string `json:"transport" candor:"enum=stdio|http|sse|auto" doc:"The server's transport."`
	DurationMs              int64  `json:"duration_ms_b2" candor:"base2" doc:"Time until the failure in milliseconds, rounded up to a power of two."`
	HasScopeHint            bool   `json:"has_scope_hint" candor:"bool" doc:"Whether the server named scopes."`
	HasResourceMetadataHint bool   `json:"has_resource_metadata_hint" candor:"bool" doc:"Whether the server pointed to resource metadata."`
	ErrorCategory           string `json:"error_category" candor:"enum=timeout|cancelled|state_mismatch|provider_error|unknown" doc:"Kind of failure."`
}

// StatsTabOpened is sent when the user opens the usage statistics tab.
type StatsTabOpened struct {
	ViewMode          string `json:"viewMode" candor:"enum=session|last-request" doc:"Which statistics are shown."`
	ShowModeBreakdown bool   `json:"showModeBreakdown" candor:"bool" doc:"Whether the per-mode breakdown is shown."`
}

// StreamTimingComputed is sent after a model response with its timing split.
type StreamTimingComputed struct {
	Model             string `json:"model" candor:"identifier" doc:"Model id."`
	AgentID           string `json:"agentId,omitempty" candor:"identifier,optional" doc:"Agent (mode) in use."`
	DurationMs        int64  `json:"duration_b2" candor:"base2" doc:"Total time in milliseconds, rounded up to a power of two."`
	TTFTMs            int64  `json:"ttft_ms_b2" candor:"base2" doc:"Time to first token in milliseconds, rounded up to a power of two."`
	ToolMs            int64  `json:"tool_ms_b2" candor:"base2" doc:"Time spent in tools in milliseconds, rounded up to a power of two."`
	StreamingMs       int64  `json:"streaming_ms_b2" candor:"base2" doc:"Time spent streaming in milliseconds, rounded up to a power of two."`
	ToolPercentBucket int    `json:"tool_percent_bucket" candor:"bucket,edges=0|10|20|30|40|50|60|70|80|90|100" doc:"Share of the time spent in tools, in percent, bucketed to tens."`
	Invalid           bool   `json:"invalid" candor:"bool" doc:"Whether the timings were inconsistent."`
}

// StreamTimingInvalid is sent when a response's timings cannot be computed.
type StreamTimingInvalid struct {
	Reason string `json:"reason" candor:"identifier" doc:"Short reason code."`
}

// StreamCompleted is sent when a model response finishes or is interrupted.
type StreamCompleted struct {
	Model          string  `json:"model" candor:"identifier" doc:"Model id."`
	WasInterrupted bool    `json:"wasInterrupted" candor:"bool" doc:"Whether the user stopped the response."`
	DurationSecs   float64 `json:"duration_b2" candor:"base2" doc:"Response time in seconds, rounded up to a power of two."`
	OutputTokens   int64   `json:"output_tokens_b2" candor:"base2" doc:"Output tokens, rounded up to a power of two."`
}

// CompactionCompleted is sent when a conversation was compacted.
type CompactionCompleted struct {
	Model        string  `json:"model" candor:"identifier" doc:"Model id."`
	DurationSecs float64 `json:"duration_b2" candor:"base2" doc:"Compaction time in seconds, rounded up to a power of two."`
	InputTokens  int64   `json:"input_tokens_b2" candor:"base2" doc:"Input tokens, rounded up to a power of two."`
	OutputTokens int64   `json:"output_tokens_b2" candor:"base2" doc:"Output tokens, rounded up to a power of two."`
	Source       string  `json:"compaction_source" candor:"enum=manual|idle" doc:"What started the compaction."`
}

// ProviderConfigured is sent when the user configures a model provider. The
// key's value is never sent.
type ProviderConfigured struct {
	Provider string `json:"provider" candor:"identifier" doc:"Provider name, such as anthropic or openai."`
	KeyType  string `json:"keyType" candor:"identifier" doc:"Which setting was configured, such as apiKey or baseUrl."`
}

// CommandUsed is sent when the user runs a slash command. Its arguments are
// never sent.
type CommandUsed struct {
	Command string `json:"command" candor:"enum=clear|clear:hard|clear:soft|compact|new|fork|vim|model|mode|plan|providers|goal|btw|workflow" doc:"The command's name."`
}

// VoiceTranscription is sent when a voice recording was transcribed.
type VoiceTranscription struct {
	AudioDurationSecs float64 `json:"audio_duration_b2" candor:"base2" doc:"Recording length in seconds, rounded up to a power of two."`
	Success           bool    `json:"success" candor:"bool" doc:"Whether the transcription succeeded."`
}

// ErrorOccurred is sent when an operation fails. The error message is never
// sent, only the error's type name and where it happened.
type ErrorOccurred struct {
	ErrorType string `json:"errorType" candor:"identifier" doc:"Error type name, such as TypeError."`
	Context   string `json:"context" candor:"enum=workspace-creation|workspace-deletion|workspace-switch|message-send|message-stream|project-add|project-remove|git-operation" doc:"The operation that failed."`
}

// ExperimentOverridden is sent when the user overrides an experiment's variant.
type ExperimentOverridden struct {
	ExperimentID    string `json:"experimentId" candor:"identifier" doc:"The experiment's name."`
	AssignedVariant any    `json:"assignedVariant" candor:"variant" doc:"Variant the install was assigned: a name, a bool or null."`
	UserChoice      bool   `json:"userChoice" candor:"bool" doc:"The user's choice."`
}

func (AppStarted) EventName() string             { return "app_started" }
func (WorkspaceCreated) EventName() string       { return "workspace_created" }
func (WorkspaceSwitched) EventName() string      { return "workspace_switched" }
func (MessageSent) EventName() string            { return "message_sent" }
func (MCPContextInjected) EventName() string     { return "mcp_context_injected" }
func (MCPServerTested) EventName() string        { return "mcp_server_tested" }
func (MCPServerConfigChanged) EventName() string { return "mcp_server_config_changed" }
func (MCPOAuthFlowStarted) EventName() string    { return "mcp_oauth_flow_started" }
func (MCPOAuthFlowCompleted) EventName() string  { return "mcp_oauth_flow_completed" }
func (MCPOAuthFlowFailed) EventName() string     { return "mcp_oauth_flow_failed" }
func (StatsTabOpened) EventName() string         { return "stats_tab_opened" }
func (StreamTimingComputed) EventName() string   { return "stream_timing_computed" }
func (StreamTimingInvalid) EventName() string    { return "stream_timing_invalid" }
func (StreamCompleted) EventName() string        { return "stream_completed" }
func (CompactionCompleted) EventName() string    { return "compaction_completed" }
func (ProviderConfigured) EventName() string     { return "provider_configured" }
func (CommandUsed) EventName() string            { return "command_used" }
func (VoiceTranscription) EventName() string     { return "voice_transcription" }
func (ErrorOccurred) EventName() string          { return "error_occurred" }
func (ExperimentOverridden) EventName() string   { return "experiment_overridden" }
