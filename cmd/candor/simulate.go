package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/candor-dev/candor/internal/simulate"
)

func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("simulate", "--endpoint URL --write-key KEY [--installs N] [--days D] [--seed S]", stderr)
	endpoint := fs.String("endpoint", "", "collector base URL, such as http://127.0.0.1:8787 (required)")
	writeKey := fs.String("write-key", "", "the collector's write key (required)")
	installs := fs.Int("installs", simulate.DefaultInstalls, "number of simulated installs")
	days := fs.Int("days", simulate.DefaultDays, "days of traffic, ending now")
	seed := fs.Uint64("seed", 1, "simulation seed; the same seed gives the same events")
	concurrency := fs.Int("concurrency", simulate.DefaultConcurrency, "installs sending at the same time")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *endpoint == "" || *writeKey == "" {
		fs.Usage()
		return errors.New("missing --endpoint or --write-key")
	}
	if *installs <= 0 || *days <= 0 {
		return fmt.Errorf("invalid --installs %d or --days %d: both must be 1 or more", *installs, *days)
	}
	summary, err := simulate.Run(ctx, simulate.Config{
		Endpoint:    *endpoint,
		WriteKey:    *writeKey,
		Installs:    *installs,
		Days:        *days,
		Seed:        *seed,
		Concurrency: *concurrency,
	})
	if summary.Disabled != "" {
		fmt.Fprintf(stderr, "telemetry is off, so nothing was sent: %s\n", summary.Disabled)
	}
	line, jsonErr := json.Marshal(summary)
	if jsonErr != nil {
		return jsonErr
	}
	fmt.Fprintf(stdout, "%s\n", line)
	return err
}
