package main

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/candor-dev/candor/sdk/mux"
	"github.com/candor-dev/candor/sdk/telemetry"
	"github.com/candor-dev/candor/sdk/webtelemetry"
)

// Version is the app version sent with every event.
const Version = "0.1.0"

// DefaultReplyDelay is how long the stub model takes to reply when
// Config.ReplyDelay is 0.
const DefaultReplyDelay = 600 * time.Millisecond

// Config configures an App. Endpoint, WriteKey and Home are required.
type Config struct {
	// Endpoint is the collector's base URL, such as http://127.0.0.1:8787.
	Endpoint string
	// WriteKey is the collector's write key.
	WriteKey string
	// Home is the app's home folder, holding telemetry_id and config.json.
	Home string
	// ReplyDelay is how long the stub model takes to reply. 0 means
	// DefaultReplyDelay.
	ReplyDelay time.Duration
	// AllowAutomation sends telemetry under CI, go test and browser
	// automation, in the backend and in the page. Only the app's own
	// end-to-end tests set it.
	AllowAutomation bool
	// FlushInterval is the longest an event waits in the SDK's queue. 0
	// means the SDK's default.
	FlushInterval time.Duration
	// Getenv reads the environment switches such as MUX_DISABLE_TELEMETRY;
	// nil means os.Getenv.
	Getenv func(string) string
	// Logger receives the app's logs; nil discards them.
	Logger *slog.Logger
}

// App is the workspace app: its API, its pages and its telemetry.
type App struct {
	cfg       Config
	telemetry *telemetry.Client
	log       *slog.Logger
	routes    *http.ServeMux

	mu         sync.Mutex
	workspaces []*workspace
	shared     map[string]string // share token to the shared message's text
}

//go:embed static
var staticFiles embed.FS

// newApp starts the telemetry client, sends app_started and builds the
// routes. Close stops the client.
func newApp(cfg Config) (*App, error) {
	if cfg.ReplyDelay == 0 {
		cfg.ReplyDelay = DefaultReplyDelay
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.WriteKey == "" {
		return nil, fmt.Errorf("missing write key: pass --write-key with the key candor serve printed")
	}
	client, err := telemetry.New(telemetry.Config{
		App:             mux.App,
		Catalog:         mux.Catalog(),
		Endpoint:        cfg.Endpoint,
		WriteKey:        cfg.WriteKey,
		Home:            cfg.Home,
		Version:         Version,
		AllowAutomation: cfg.AllowAutomation,
		FlushInterval:   cfg.FlushInterval,
		Getenv:          cfg.Getenv,
		Logger:          cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("start telemetry: %w", err)
	}
	a := &App{cfg: cfg, telemetry: client, log: cfg.Logger, shared: map[string]string{}}
	a.routes = a.buildRoutes()

	client.Capture(mux.AppStarted{IsFirstLaunch: client.FirstLaunch(), VimModeEnabled: false})
	cfg.Logger.Info("muxapp: started", "telemetry", client.Status().String())
	return a, nil
}

func (a *App) buildRoutes() *http.ServeMux {
	routes := http.NewServeMux()
	tel := webtelemetry.New(webtelemetry.Config{
		Client:      a.telemetry,
		AllowToggle: true,
		Logger:      a.log,
	})
	routes.Handle("/api/telemetry/", http.StripPrefix("/api/telemetry/", tel))
	routes.HandleFunc("GET /api/state", a.serveState)
	routes.HandleFunc("POST /api/workspaces", a.serveCreateWorkspace)
	routes.HandleFunc("GET /api/workspaces/{id}", a.serveWorkspace)
	routes.HandleFunc("POST /api/workspaces/{id}/messages", a.serveSendMessage)
	routes.HandleFunc("POST /api/share", a.serveShare)
	routes.HandleFunc("GET /shared/{token}", a.serveShared)

	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // unreachable: the folder is embedded
	}
	files := http.FileServerFS(static)
	routes.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: use GET")
			return
		}
		files.ServeHTTP(w, r)
	})
	return routes
}

// ServeHTTP serves the app's pages and API.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; frame-ancestors 'none'")
	a.routes.ServeHTTP(w, r)
}

// Telemetry returns the app's telemetry client.
func (a *App) Telemetry() *telemetry.Client { return a.telemetry }

// Close sends the queued events while ctx allows and stops the telemetry
// client.
func (a *App) Close(ctx context.Context) error {
	_, err := a.telemetry.Close(ctx)
	return err
}
