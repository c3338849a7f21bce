package mux

import "github.com/candor-dev/candor/sdk/catalog"

// App is the app name of the Mux catalog. It prefixes the environment
// switches: MUX_DISABLE_TELEMETRY, MUX_E2E and MUX_TELEMETRY_DEBUG.
const App = "mux"

// Allowed values of the enum properties, for callers that pick one.
var (
	RuntimeTypes   = []string{"local", "worktree", "ssh", "docker", "devcontainer"}
	ThinkingLevels = []string{"off", "low", "medium", "high", "xhigh", "max"}
	Commands       = []string{"clear", "clear:hard", "clear:soft", "compact", "new", "fork", "vim", "model", "mode", "plan", "providers", "goal", "btw", "workflow"}
	ErrorContexts  = []string{"workspace-creation", "workspace-deletion", "workspace-switch", "message-send", "message-stream", "project-add", "project-remove", "git-operation"}
)

// Catalog returns the Mux event catalog. Each call builds a new one, in
// about 0.1 ms, so a caller may change what it gets without changing the
// catalog of other callers.
func Catalog() *catalog.Catalog { return build() }

func build() *catalog.Catalog {
	c := catalog.New(App)
	c.MustRegister(AppStarted{}, "The app started.")
	c.MustRegister(WorkspaceCreated{}, "A workspace was created.")
	c.MustRegister(WorkspaceSwitched{}, "The user switched workspaces.")
	c.MustRegister(MessageSent{}, "The user sent a message to a model.")
	c.MustRegister(MCPContextInjected{}, "MCP servers and tools were set up for a message.")
	c.MustRegister(MCPServerTested{}, "The user tested an MCP server's connection.")
	c.MustRegister(MCPServerConfigChanged{}, "The user changed an MCP server's settings.")
	c.MustRegister(MCPOAuthFlowStarted{}, "An MCP server's OAuth sign-in started.")
	c.MustRegister(MCPOAuthFlowCompleted{}, "An MCP server's OAuth sign-in succeeded.")
	c.MustRegister(MCPOAuthFlowFailed{}, "An MCP server's OAuth sign-in failed.")
	c.MustRegister(StatsTabOpened{}, "The user opened the usage statistics tab.")
	c.MustRegister(StreamTimingComputed{}, "A model response's timing was measured.")
	c.MustRegister(StreamTimingInvalid{}, "A model response's timing could not be measured.")
	c.MustRegister(StreamCompleted{}, "A model response finished or was interrupted.")
	c.MustRegister(CompactionCompleted{}, "A conversation was compacted.")
	c.MustRegister(ProviderConfigured{}, "The user configured a model provider.")
	c.MustRegister(CommandUsed{}, "The user ran a slash command.")
	c.MustRegister(VoiceTranscription{}, "A voice recording was transcribed.")
	c.MustRegister(ErrorOccurred{}, "An operation failed.")
	c.MustRegister(ExperimentOverridden{}, "The user overrode an experiment's variant.")
	c.MustSetDashboard(catalog.Dashboard{
		FirstLaunchEvent:    "app_started",
		FirstLaunchProperty: "isFirstLaunch",
		// The first day of an install: first launch, first workspace,
		// first message.
		Funnel:         []string{"app_started[isFirstLaunch=true]", "workspace_created", "message_sent"},
		ErrorEvent:     "error_occurred",
		ErrorBreakdown: []string{"errorType", "context"},
	})
	return c
}
