// Package simulate drives realistic Mux traffic through real SDK clients:
// each simulated install is a telemetry.Client with its own home folder and
// install ID, playing app sessions spread over the last days.
package simulate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/candor-dev/candor/sdk/mux"
	"github.com/candor-dev/candor/sdk/telemetry"
)

// Defaults of Config.
const (
	DefaultInstalls    = 200
	DefaultDays        = 30
	DefaultConcurrency = 8
	// DefaultCloseTimeout bounds each install's Close, which retries the
	// events the collector has not taken yet.
	DefaultCloseTimeout = 2 * time.Minute
)

// MaxDays returns the maximum days of traffic that can end at now. The
// simulated period must start at or after 1970-01-01 UTC, because the
// collector stores an earlier event at the Unix epoch or at its receive
// time instead of its own time.
func MaxDays(now time.Time) int {
	return int(now.Sub(time.Unix(0, 0)) / (24 * time.Hour))
}

// maxRetryDelay caps the SDK's wait between retries, so a collector that
// is back after a restart gets the events within seconds. Close stops
// retrying when the next wait would end past its deadline, so a long wait
// would also end it before CloseTimeout.
const maxRetryDelay = 2 * time.Second

// Config configures a simulation.
type Config struct {
	Endpoint string // collector base URL; required
	WriteKey string // required
	// Installs is the number of simulated installs; zero means DefaultInstalls.
	Installs int
	// Days is the length of the simulated period, ending at Now; zero means
	// DefaultDays.
	Days int
	// Seed selects the simulation: the same seed, Installs, Days and Now give
	// the same events, install IDs and workspace IDs.
	Seed uint64
	// Now is the end of the simulated period; zero means time.Now().
	Now time.Time
	// HomeDir is the folder under which each install gets a home folder;
	// empty means a temporary folder removed when Run returns.
	HomeDir string
	// Concurrency is how many installs send at once; zero means
	// DefaultConcurrency.
	Concurrency int
	// Getenv reads the environment the SDK clients see; nil means os.Getenv.
	Getenv func(string) string
	// CloseTimeout is how long each install's Close retries the events
	// the collector has not taken, such as during its restart, before
	// counting them as DropUndelivered. Zero means DefaultCloseTimeout.
	CloseTimeout time.Duration
	// Logger receives the SDK clients' logs; nil discards them.
	Logger *slog.Logger
}

// DropUndelivered is the reason in Summary.DroppedByReason for events that
// the collector had not taken when an install's Close ended, because it
// was unreachable or responded with a retryable error until
// Config.CloseTimeout passed or Run's context ended.
const DropUndelivered = "undelivered"

// Summary is the result of a simulation: the events it captured and the
// events the collector acknowledged.
type Summary struct {
	Installs      int   `json:"installs"`
	EventsSent    int64 `json:"events_sent"`
	EventsDropped int64 `json:"events_dropped"`
	// DroppedByReason splits EventsDropped by the SDK's drop reason, such
	// as "rejected" for a wrong write key, or DropUndelivered.
	DroppedByReason map[string]int64 `json:"dropped_by_reason,omitempty"`
	Disabled        string           `json:"disabled,omitempty"` // the reason telemetry was off; empty while it was on

	// Captured counts the events handed to the SDK per event name.
	Captured map[string]int64 `json:"-"`
}

// Run plays the simulation and returns once every client is closed, which
// flushes what it queued.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	if cfg.Endpoint == "" || cfg.WriteKey == "" {
		return Summary{}, errors.New("simulate: missing endpoint or write key: set --endpoint and --write-key")
	}
	if cfg.Installs == 0 {
		cfg.Installs = DefaultInstalls
	}
	if cfg.Days == 0 {
		cfg.Days = DefaultDays
	}
	if cfg.Installs < 0 || cfg.Days < 0 {
		return Summary{}, fmt.Errorf("simulate: installs %d and days %d must be positive", cfg.Installs, cfg.Days)
	}
	if cfg.CloseTimeout < 0 {
		return Summary{}, fmt.Errorf("simulate: invalid CloseTimeout %s: use 0 for the default or a positive duration", cfg.CloseTimeout)
	}
	if cfg.CloseTimeout == 0 {
		cfg.CloseTimeout = DefaultCloseTimeout
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	cfg.Now = cfg.Now.UTC()
	if limit := MaxDays(cfg.Now); cfg.Days > limit {
		return Summary{}, fmt.Errorf("simulate: days %d would start before 1970-01-01: use at most %d", cfg.Days, limit)
	}
	if cfg.HomeDir == "" {
		dir, err := os.MkdirTemp("", "candor-simulate-")
		if err != nil {
			return Summary{}, fmt.Errorf("simulate: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.HomeDir = dir
	}

	summary := Summary{Installs: cfg.Installs, Captured: map[string]int64{}}
	var mu sync.Mutex
	var firstErr error
	// Workers draw an install's events when they take its index, so the
	// events in memory grow with Concurrency rather than with Installs.
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < cfg.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for index := range work {
				result, err := runInstall(ctx, cfg, planIndex(cfg, index))
				mu.Lock()
				summary.EventsSent += result.sent
				summary.EventsDropped += result.dropped
				for reason, n := range result.droppedByReason {
					if summary.DroppedByReason == nil {
						summary.DroppedByReason = map[string]int64{}
					}
					summary.DroppedByReason[reason] += n
				}
				if result.disabled != "" {
					summary.Disabled = result.disabled
				}
				for name, n := range result.captured {
					summary.Captured[name] += n
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	for index := range cfg.Installs {
		if ctx.Err() != nil {
			break
		}
		work <- index
	}
	close(work)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return summary, firstErr
}

// Plan draws every install of a simulation without sending anything.
func Plan(cfg Config) []*install {
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	installs := make([]*install, cfg.Installs)
	for i := range installs {
		installs[i] = planIndex(cfg, i)
	}
	return installs
}

// planIndex draws install number index of a simulation. Its events depend
// only on cfg.Seed, index, cfg.Days and cfg.Now.
func planIndex(cfg Config, index int) *install {
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(index)))
	return planInstall(rng, index, cfg.Days, cfg.Now.UTC())
}

type installResult struct {
	sent, dropped   int64
	droppedByReason map[string]int64
	disabled        string
	captured        map[string]int64
}

func runInstall(ctx context.Context, cfg Config, in *install) (installResult, error) {
	home := filepath.Join(cfg.HomeDir, fmt.Sprintf("install-%05d", in.index))
	if err := seedInstallID(home, in.installID); err != nil {
		return installResult{}, err
	}
	var clock atomic.Int64
	clock.Store(cfg.Now.UnixNano())
	client, err := telemetry.New(telemetry.Config{
		App:             mux.App,
		Catalog:         mux.Catalog(),
		Endpoint:        cfg.Endpoint,
		WriteKey:        cfg.WriteKey,
		Home:            home,
		Version:         in.version,
		Platform:        in.platform,
		ElectronVersion: electronVersion,
		AllowAutomation: true,
		// The install captures all its events in one loop, faster than a
		// collector accepts them, so the queue must fit all of them.
		QueueSize:     max(telemetry.DefaultQueueSize, len(in.events)),
		FlushInterval: 250 * time.Millisecond,
		MaxRetryDelay: maxRetryDelay,
		// The home folder is removed after the run, so a spool would
		// lose what it keeps. Without one, Close retries the events in
		// memory until closeCtx ends.
		Spool:  telemetry.SpoolConfig{Disabled: true},
		Clock:  func() time.Time { return time.Unix(0, clock.Load()).UTC() },
		Getenv: cfg.Getenv,
		Logger: cfg.Logger,
	})
	if err != nil {
		return installResult{}, fmt.Errorf("simulate install %d: %w", in.index, err)
	}

	result := installResult{captured: map[string]int64{}}
	if !client.IsEnabled() {
		result.disabled = client.Status().String()
	}
	for _, e := range in.events {
		clock.Store(e.at.UnixNano())
		client.Capture(e.event)
		result.captured[e.event.EventName()]++
	}

	closeCtx, cancel := context.WithTimeout(ctx, cfg.CloseTimeout)
	defer cancel()
	stats, err := client.Close(closeCtx)
	result.sent = stats.Sent
	result.dropped = stats.Dropped
	result.droppedByReason = map[string]int64{}
	for reason, n := range stats.DroppedByReason {
		if reason == telemetry.DropShutdown {
			reason = DropUndelivered
		}
		result.droppedByReason[reason] += n
	}
	// Close's error reports the events it dropped at shutdown, which the
	// result counts as DropUndelivered.
	if err != nil && stats.DroppedByReason[telemetry.DropShutdown] == 0 {
		return result, fmt.Errorf("simulate install %d: close client: %w", in.index, err)
	}
	return result, nil
}

// seedInstallID writes the install's ID where the SDK keeps it, so the same
// seed reproduces the same install IDs. The SDK still decides whether to use
// it: with telemetry off it never reads the file.
func seedInstallID(home, id string) error {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("simulate: create home folder: %w", err)
	}
	path := filepath.Join(home, telemetry.InstallIDFile)
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return fmt.Errorf("simulate: write install ID: %w", err)
	}
	return nil
}

// EventNames returns the names in captured, sorted.
func (s Summary) EventNames() []string {
	names := make([]string, 0, len(s.Captured))
	for name := range s.Captured {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
