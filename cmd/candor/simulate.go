package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/candor-dev/candor/internal/simulate"
	"github.com/candor-dev/candor/sdk/telemetry"
)

const simulateSynopsis = `--endpoint URL --write-key KEY [--installs N] [--days D] [--seed S] [--concurrency N] [--close-timeout 2m]

Send realistic Mux traffic through real SDK clients to a running collector:
each of --installs installs, with its own home folder and install ID, plays
app sessions over the last --days days. It needs a collector at --endpoint,
such as candor serve, and the write key of its built-in mux project, which
candor serve prints. simulate prints one JSON line with the events sent and
dropped, and exits with status 1 when an event did not reach the collector.
Each install retries what the collector has not taken for up to
--close-timeout, so a collector restart during the run loses no events.

  candor simulate --endpoint http://127.0.0.1:8787 --write-key phc_... --installs 500 --days 7`

func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("simulate", simulateSynopsis, stderr)
	endpoint := fs.String("endpoint", "", "collector base URL, such as http://127.0.0.1:8787 (required)")
	writeKey := fs.String("write-key", "", "the collector's write key (required)")
	installs := fs.Int("installs", simulate.DefaultInstalls, "number of simulated installs")
	days := fs.Int("days", simulate.DefaultDays, "days of traffic, ending now")
	seed := fs.Uint64("seed", 1, "simulation seed; the same seed gives the same events")
	concurrency := fs.Int("concurrency", simulate.DefaultConcurrency, "installs sending at the same time")
	closeTimeout := fs.Duration("close-timeout", simulate.DefaultCloseTimeout,
		"how long each install retries the events the collector has not taken, such as during its restart, before counting them as undelivered")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *endpoint == "" {
		fs.Usage()
		return usageErrorf("missing --endpoint: pass the collector's base URL, such as http://127.0.0.1:8787")
	}
	if *writeKey == "" {
		fs.Usage()
		return usageErrorf("missing --write-key: pass the write key that candor serve printed or kept in keys.json")
	}
	if err := checkEndpoint(*endpoint); err != nil {
		return asUsageError(err)
	}
	for _, flag := range []struct {
		name  string
		value int
	}{{"installs", *installs}, {"days", *days}, {"concurrency", *concurrency}} {
		if flag.value <= 0 {
			return usageErrorf("invalid --%s %d: use 1 or more", flag.name, flag.value)
		}
	}
	if err := checkDays(*days, time.Now()); err != nil {
		return asUsageError(err)
	}
	if *closeTimeout <= 0 {
		return usageErrorf("invalid --close-timeout %s: use a positive duration, such as 2m", *closeTimeout)
	}
	lastWarning := &lastLine{}
	summary, err := simulate.Run(ctx, simulate.Config{
		Endpoint:     *endpoint,
		WriteKey:     *writeKey,
		Installs:     *installs,
		Days:         *days,
		Seed:         *seed,
		Concurrency:  *concurrency,
		CloseTimeout: *closeTimeout,
		Logger:       slog.New(slog.NewTextHandler(lastWarning, &slog.HandlerOptions{Level: slog.LevelWarn, ReplaceAttr: dropTime})),
	})
	if summary.Disabled != "" {
		fmt.Fprintf(stderr, "telemetry is off, so nothing was sent: %s\n", summary.Disabled)
	}
	line, jsonErr := json.Marshal(summary)
	if jsonErr != nil {
		return jsonErr
	}
	fmt.Fprintf(stdout, "%s\n", line)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("interrupted after %d events sent and %d not delivered", summary.EventsSent, summary.EventsDropped)
	}
	if err != nil {
		return err
	}
	return undeliveredError(summary, *endpoint, lastWarning.String())
}

// lastLine stores the last line written to it, such as the SDK's last
// warning about an upload that failed.
type lastLine struct {
	mu   sync.Mutex
	line string
}

func (l *lastLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.line = strings.TrimSpace(string(p))
	return len(p), nil
}

func (l *lastLine) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.line
}

// dropTime leaves the time out of a log record, for a message that is
// printed once at the end.
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// undeliveredError returns an error naming the drop reasons and the SDK's
// last warning when some events did not reach the collector, and nil when
// all of them did.
func undeliveredError(summary simulate.Summary, endpoint, lastWarning string) error {
	if summary.EventsDropped == 0 {
		return nil
	}
	var reasons, collectorReasons []string
	var byCollector int64
	for _, reason := range slices.Sorted(maps.Keys(summary.DroppedByReason)) {
		n := summary.DroppedByReason[reason]
		if strings.HasPrefix(reason, telemetry.DropCollectorPrefix) {
			collectorReasons = append(collectorReasons, fmt.Sprintf("%s %d", reason, n))
			byCollector += n
			continue
		}
		reasons = append(reasons, fmt.Sprintf("%s %d", reason, n))
	}
	var problems []string
	if undelivered := summary.EventsDropped - byCollector; undelivered > 0 {
		if lastWarning != "" {
			reasons = append(reasons, "last SDK warning: "+lastWarning)
		}
		problems = append(problems, fmt.Sprintf("%d events not delivered to %s (%s): check that a collector runs at --endpoint, "+
			"accepts --write-key and is ready (GET /readyz responds 200)", undelivered, endpoint, strings.Join(reasons, ", ")))
	}
	if byCollector > 0 {
		problems = append(problems, fmt.Sprintf("%d events dropped by the collector at %s (%s): check that --write-key "+
			"belongs to a project with the Mux catalog and that --days stays within the collector's --retention",
			byCollector, endpoint, strings.Join(collectorReasons, ", ")))
	}
	return errors.New(strings.Join(problems, "; "))
}

// checkEndpoint rejects an --endpoint that telemetry.New would reject for
// every install, so that the mistake is a usage error before any traffic.
func checkEndpoint(value string) error {
	if err := checkBaseURL("endpoint", value); err != nil {
		return err
	}
	parsed, _ := url.Parse(value)
	if base, ok := strings.CutSuffix(strings.TrimRight(parsed.Path, "/"), "/batch"); ok {
		parsed.Path = base
		return fmt.Errorf("invalid --endpoint %q: it ends in /batch/, which the client adds itself: use %q", value, parsed.String())
	}
	return nil
}

// checkDays rejects a --days whose traffic, ending at now, would start
// before 1970-01-01, which the collector cannot store.
func checkDays(days int, now time.Time) error {
	if limit := simulate.MaxDays(now); days > limit {
		return fmt.Errorf("invalid --days %d: the traffic would start before 1970-01-01, the earliest time the collector can store: use at most %d", days, limit)
	}
	return nil
}
