package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"

	"github.com/candor-dev/candor/internal/server"
	"github.com/candor-dev/candor/internal/store/clickhouse"
)

type serveFlags struct {
	data, listen, writeKey, adminToken, logLevel string
	store, clickhouseURL, clickhouseDatabase     string
}

func (f *serveFlags) register(fs interface {
	StringVar(*string, string, string, string)
}, defaultData string) {
	fs.StringVar(&f.data, "data", defaultData, "data folder for the database and keys.json")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8787", "address to listen on (host:port)")
	fs.StringVar(&f.writeKey, "write-key", "", "write key SDKs send as api_key (default: generated once and kept in the data folder)")
	fs.StringVar(&f.adminToken, "admin-token", "", "token for the dashboard and query API (default: generated once and kept in the data folder)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&f.store, "store", server.StoreDuckDB, "storage backend: duckdb (a file in --data) or clickhouse")
	fs.StringVar(&f.clickhouseURL, "clickhouse-url", clickhouse.DefaultURL, "ClickHouse HTTP interface, with --store clickhouse; user and password may go in the URL")
	fs.StringVar(&f.clickhouseDatabase, "clickhouse-database", clickhouse.DefaultDatabase, "ClickHouse database, created when missing, with --store clickhouse")
}

func (f *serveFlags) logger(stderr io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q: use debug, info, warn or error", f.logLevel)
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})), nil
}

func (f *serveFlags) start(stderr io.Writer) (*server.Server, error) {
	logger, err := f.logger(stderr)
	if err != nil {
		return nil, err
	}
	ch, err := clickhouseConfig(f.clickhouseURL, f.clickhouseDatabase)
	if err != nil {
		return nil, err
	}
	return server.New(server.Config{
		DataDir:    f.data,
		Listen:     f.listen,
		WriteKey:   f.writeKey,
		AdminToken: f.adminToken,
		Logger:     logger,
		Store:      f.store,
		ClickHouse: ch,
	})
}

// clickhouseConfig builds the ClickHouse settings, taking a user and
// password from the URL's user info so they need no flags of their own.
func clickhouseConfig(rawURL, database string) (clickhouse.Config, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return clickhouse.Config{}, fmt.Errorf("invalid --clickhouse-url %q: use a URL such as %s", rawURL, clickhouse.DefaultURL)
	}
	cfg := clickhouse.Config{Database: database}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Password, _ = u.User.Password()
		u.User = nil
	}
	cfg.URL = u.String()
	return cfg, nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "[--data DIR] [--listen HOST:PORT] [--write-key KEY] [--admin-token TOKEN]", stderr)
	var f serveFlags
	f.register(fs, "./candor-data")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	srv, err := f.start(stderr)
	if err != nil {
		return err
	}
	printKeys(stdout, srv, f.writeKey == "", f.adminToken == "")
	fmt.Fprintf(stdout, "Collector:  %s/batch/\nDashboard:  %s/\n", srv.URL(), srv.URL())
	return serveUntilDone(ctx, srv)
}

// printKeys prints the keys that came from the data folder, so the operator
// can configure SDKs and open the dashboard.
func printKeys(w io.Writer, srv *server.Server, writeKeyStored, adminTokenStored bool) {
	keys := srv.Keys()
	where := "kept in"
	if srv.KeysCreated() {
		where = "generated and saved to"
	}
	if writeKeyStored {
		fmt.Fprintf(w, "Write key:   %s (%s %s)\n", keys.WriteKey, where, server.KeysFile)
	}
	if adminTokenStored {
		fmt.Fprintf(w, "Admin token: %s (%s %s)\n", keys.AdminToken, where, server.KeysFile)
	}
}

// serveUntilDone serves until ctx is cancelled (SIGINT or SIGTERM), then
// drains in-flight requests and closes the store.
func serveUntilDone(ctx context.Context, srv *server.Server) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case err := <-errc:
		srv.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return <-errc
}
