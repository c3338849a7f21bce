package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/candor-dev/candor/internal/simulate"
	"github.com/candor-dev/candor/internal/store"
)

const demoSynopsis = `[--data DIR] [--listen HOST:PORT] [--installs N] [--days D] [--seed S] [--resimulate]

Start a collector as candor serve does, fill it with simulated Mux traffic
while its data folder contains no events, and print the dashboard link with
its admin token. The traffic is --installs installs over the last --days
days, sent through the real SDK as candor simulate sends it. A data folder
that contains events is reused as it is, unless --resimulate is set. demo
needs the --listen port free and a --data folder that it can create or
write, and it serves until Ctrl-C. It also takes every flag of candor
serve, listed below, such as --store and --retention.

  candor demo --data /tmp/candor-demo --listen 127.0.0.1:8788`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", demoSynopsis, stderr)
	var f serveFlags
	f.register(fs, "./candor-data")
	installs := fs.Int("installs", simulate.DefaultInstalls, "simulated installs to send on the first run")
	days := fs.Int("days", simulate.DefaultDays, "days of traffic to simulate, ending now")
	seed := fs.Uint64("seed", 1, "simulation seed; the same seed gives the same events")
	again := fs.Bool("resimulate", false, "simulate again even when the data folder already holds events")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *installs < 0 {
		return usageErrorf("invalid --installs %d: use 0 or more", *installs)
	}
	if *days <= 0 {
		return usageErrorf("invalid --days %d: use 1 or more", *days)
	}
	if err := checkDays(*days, time.Now()); err != nil {
		return asUsageError(err)
	}

	srv, err := f.start(ctx, stderr)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	keys := srv.Keys()

	// The read is short, so a Ctrl-C during it takes effect in the next step.
	existing, err := srv.Store().Overview(context.Background(), store.Filter{})
	if err != nil {
		srv.Shutdown(context.Background())
		return fmt.Errorf("read store: %w", err)
	}
	switch {
	case existing.TotalEvents > 0 && !*again:
		fmt.Fprintf(stdout, "Reusing %s: %d events from %d installs (pass --resimulate to add more).\n",
			f.data, existing.TotalEvents, existing.Installs)
	case *installs > 0:
		fmt.Fprintf(stdout, "Simulating %d Mux installs over the last %d days through the candor SDK...\n", *installs, *days)
		start := time.Now()
		summary, err := simulate.Run(ctx, simulate.Config{
			Endpoint: srv.URL(),
			WriteKey: keys.WriteKey,
			Installs: *installs,
			Days:     *days,
			Seed:     *seed,
		})
		if err != nil {
			srv.Shutdown(context.Background())
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted during the simulation: %s contains the %d events sent so far, and the next candor demo "+
					"shows them; pass --resimulate to add more, or remove %s to start over", f.data, summary.EventsSent, f.data)
			}
			return err
		}
		line, _ := json.Marshal(summary)
		fmt.Fprintf(stdout, "%s (%.1fs)\n", line, time.Since(start).Seconds())
		if summary.Disabled != "" {
			fmt.Fprintf(stdout, "Telemetry is off, so nothing was sent: %s\n", summary.Disabled)
		}
	}

	printFewInstallsHint(ctx, stdout, srv.Store(), f.kAnonymity)

	fmt.Fprintf(stdout, "\nDashboard: %s/?token=%s\n", srv.URL(), url.QueryEscape(keys.AdminToken))
	fmt.Fprintf(stdout, "Write key: %s   Admin token: %s   (kept in %s)\n", keys.WriteKey, keys.AdminToken, f.data)
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")

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

// printFewInstallsHint prints why the dashboard hides every number when
// the store contains events from fewer installs than k, such as after
// --installs 3, because the page then shows nothing but "< k".
func printFewInstallsHint(ctx context.Context, stdout io.Writer, s store.Store, k int) {
	if k <= 1 {
		return
	}
	// The hint is optional, so a slow store or a Ctrl-C only skips it.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	total, err := s.Overview(ctx, store.Filter{})
	if err != nil || total.Installs == 0 || total.Installs >= int64(k) {
		return
	}
	fmt.Fprintf(stdout, "The data comes from %d installs, fewer than --k-anonymity %d, so the dashboard shows every number as < %d: "+
		"run candor demo with --k-anonymity 1 to see them.\n", total.Installs, k, k)
}
