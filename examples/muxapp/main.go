// Command muxapp is a small Mux-like workspace app that shows how a web app
// wires candor's telemetry. The page posts its events to the app's own
// backend through sdk/webtelemetry. The backend sends them, with its own
// events, through the SDK's telemetry client.
//
// Start a collector, then the app:
//
//	go run ./cmd/candor serve --data ./candor-data
//	go run ./examples/muxapp --endpoint http://127.0.0.1:8787 --write-key KEY
//
// and open http://127.0.0.1:8421. Create and switch workspaces, send
// messages to the stub model, share a message, and turn usage telemetry off
// on the settings page. With MUX_DISABLE_TELEMETRY=1 the settings page
// shows the toggle locked, with a button that saves an opt-out for when
// the variable is unset, and the Share buttons are gone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintf(os.Stderr, "muxapp: %v\n", err)
		os.Exit(1)
	}
}

// run starts the app with the command line args and serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("muxapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8421", "address to serve the app on (host:port)")
	endpoint := fs.String("endpoint", "http://127.0.0.1:8787", "base URL of the candor collector")
	writeKey := fs.String("write-key", "", "the collector's write key (candor serve prints it); required")
	home := fs.String("home", "", "the app's home folder, holding telemetry_id and config.json (default ~/.mux)")
	replyDelay := fs.Duration("reply-delay", DefaultReplyDelay, "how long the stub model takes to reply")
	allowAutomation := fs.Bool("allow-automation", false, "send telemetry under CI, go test and browser automation; for the app's own end-to-end tests only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: muxapp takes flags only", fs.Arg(0))
	}
	if *home == "" {
		dir, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("find home folder: %w: pass --home", err)
		}
		*home = filepath.Join(dir, ".mux")
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	a, err := newApp(Config{
		Endpoint:        *endpoint,
		WriteKey:        *writeKey,
		Home:            *home,
		ReplyDelay:      *replyDelay,
		AllowAutomation: *allowAutomation,
		Logger:          logger,
	})
	if err != nil {
		return err
	}
	defer func() {
		// Queued events get 5 seconds to reach the collector; the SDK
		// spools the rest for the next start.
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Close(closeCtx); err != nil {
			logger.Warn("muxapp: close telemetry", "error", err)
		}
	}()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %q: %w: pick a free address with --listen", *listen, err)
	}
	fmt.Fprintf(stdout, "muxapp: serving on http://%s\n", ln.Addr())
	return serve(ctx, ln, a, logger)
}

// serve runs an HTTP server for a on ln until ctx ends, then shuts it
// down, waiting at most 5 seconds for requests in flight.
func serve(ctx context.Context, ln net.Listener, a *App, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           a,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	<-done
	logger.Info("muxapp: stopped")
	return nil
}
