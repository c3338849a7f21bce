// Package server assembles a collector process: it opens the store, mounts
// the ingestion handler, the dashboard and the health endpoints on one HTTP
// server, and shuts them down in order.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/clickhouse"
	"github.com/candor-dev/candor/internal/store/duckdb"
	"github.com/candor-dev/candor/sdk/mux"
)

// DatabaseFile is the name of the DuckDB database in the data folder.
const DatabaseFile = "candor.duckdb"

// Config configures a Server.
type Config struct {
	// DataDir holds the database and keys.json; it is created (mode 0700)
	// when missing. Required.
	DataDir string
	// Listen is the TCP address to listen on, such as 127.0.0.1:8787;
	// port 0 picks a free port. Required.
	Listen string
	// WriteKey and AdminToken, if set, replace the keys kept in DataDir.
	// Each one left empty is read from DataDir, or generated and saved there
	// on first start.
	WriteKey   string
	AdminToken string
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// ShutdownTimeout bounds how long Shutdown waits for in-flight requests
	// when its context has no deadline. Zero means 10 seconds.
	ShutdownTimeout time.Duration
	// Store selects the storage backend: StoreDuckDB (the zero value) keeps
	// the events in DataDir; StoreClickHouse writes them to ClickHouse, so
	// several servers can share one database.
	Store string
	// ClickHouse configures the ClickHouse backend when Store is
	// StoreClickHouse.
	ClickHouse clickhouse.Config
}

// The storage backends of Config.Store.
const (
	StoreDuckDB     = "duckdb"
	StoreClickHouse = "clickhouse"
)

// Server is a running collector: ingestion, dashboard, query API and health
// endpoints on one listener.
type Server struct {
	cfg        Config
	keys       Keys
	keysSaved  bool
	store      store.Store
	collector  *collector.Collector
	httpServer *http.Server
	listener   net.Listener
	logger     *slog.Logger
}

// New opens the store in cfg.DataDir, builds the handlers and starts
// listening, so URL is valid when it returns. Call Serve to accept requests.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: missing data folder: set --data")
	}
	if cfg.Listen == "" {
		return nil, errors.New("server: missing listen address: set --listen, such as 127.0.0.1:8787")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}

	keys, created, err := LoadOrCreateKeys(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if cfg.WriteKey != "" {
		keys.WriteKey = cfg.WriteKey
	}
	if cfg.AdminToken != "" {
		keys.AdminToken = cfg.AdminToken
	}
	if keys.WriteKey == keys.AdminToken {
		return nil, errors.New("server: the write key and the admin token are equal: give them different values")
	}

	st, err := openStore(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, keys: keys, keysSaved: created, store: st, logger: cfg.Logger}
	if err := s.buildHandlers(); err != nil {
		st.Close()
		return nil, err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		s.collector.Close(context.Background())
		st.Close()
		return nil, fmt.Errorf("listen on %q: %w (pick a free address with --listen)", cfg.Listen, err)
	}
	s.listener = ln
	return s, nil
}

func openStore(cfg Config) (store.Store, error) {
	switch cfg.Store {
	case "", StoreDuckDB:
		return duckdb.Open(filepath.Join(cfg.DataDir, DatabaseFile))
	case StoreClickHouse:
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return clickhouse.Open(ctx, cfg.ClickHouse)
	}
	return nil, fmt.Errorf("server: unknown store %q: use %s or %s", cfg.Store, StoreDuckDB, StoreClickHouse)
}

func (s *Server) buildHandlers() error {
	col, err := collector.New(collector.Config{
		Store:    s.store,
		Projects: []collector.Project{{Name: mux.App, WriteKey: s.keys.WriteKey, Catalog: mux.Catalog()}},
		Logger:   s.logger,
	})
	if err != nil {
		return err
	}
	s.collector = col
	dash, err := dashboard.New(dashboard.Config{Store: s.store, AdminToken: s.keys.AdminToken, Logger: s.logger})
	if err != nil {
		col.Close(context.Background())
		return err
	}

	routes := http.NewServeMux()
	for _, route := range col.Routes() {
		routes.Handle(route, col)
	}
	routes.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	routes.Handle("/", dash)

	s.httpServer = &http.Server{
		Handler:           routes,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	return nil
}

// URL returns the base URL the server listens on, such as
// http://127.0.0.1:8787.
func (s *Server) URL() string { return "http://" + s.listener.Addr().String() }

// Keys returns the write key and admin token in use.
func (s *Server) Keys() Keys { return s.keys }

// KeysCreated reports whether New generated keys and saved them in the data
// folder.
func (s *Server) KeysCreated() bool { return s.keysSaved }

// Store returns the server's store.
func (s *Server) Store() store.Store { return s.store }

// Serve accepts requests until Shutdown is called. It returns nil after a
// clean shutdown.
func (s *Server) Serve() error {
	s.logger.Info("serving", "addr", s.listener.Addr().String(), "data", s.cfg.DataDir)
	err := s.httpServer.Serve(s.listener)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting requests, waits for in-flight ones within ctx
// (or ShutdownTimeout when ctx has no deadline), drains the collector's
// pending commits and closes the store. It is safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
		defer cancel()
	}
	httpErr := s.httpServer.Shutdown(ctx)
	colErr := s.collector.Close(ctx)
	storeErr := s.store.Close()
	s.logger.Info("stopped", "addr", s.listener.Addr().String())
	return errors.Join(httpErr, colErr, storeErr)
}
