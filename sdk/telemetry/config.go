package telemetry

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/candor-dev/candor/sdk/catalog"
)

// MaxQueueSize is the largest Config.QueueSize. New reserves the whole
// queue at once, 48 bytes per event on 64-bit platforms.
const MaxQueueSize = 1 << 20

// Defaults applied to zero Config fields.
const (
	DefaultQueueSize     = 10000
	DefaultBatchSize     = 100
	DefaultFlushInterval = 5 * time.Second
	DefaultMaxRetryDelay = 5 * time.Minute

	// DefaultSpoolMaxEvents and DefaultSpoolMaxBytes bound the offline spool.
	DefaultSpoolMaxEvents = 10000
	DefaultSpoolMaxBytes  = 5 << 20

	// DefaultSentLogMaxBytes is the size at which the sent log is rotated.
	DefaultSentLogMaxBytes = 1 << 20

	// DefaultRequestTimeout bounds one upload to the collector, including
	// reading the response headers.
	DefaultRequestTimeout = 30 * time.Second
)

// Files the client keeps in Config.Home.
const (
	InstallIDFile = "telemetry_id" // the install ID, one UUID on one line
	ConfigFile    = "config.json"  // the user's persisted choice, key "telemetryEnabled"
	SpoolDir      = "spool"        // batches waiting for the collector
	// OptOutFile contains a token that SetEnabled(false) replaces. A sender
	// that finds a new token drops the events captured before it, even when
	// it missed a short opt-out: all of its waiting events when another
	// process wrote the token.
	OptOutFile = "telemetry_optout"
)

// Config configures a Client. Zero fields take the documented defaults;
// only App, Catalog, Endpoint, WriteKey and Version are required.
type Config struct {
	// App is the app's name, such as "mux". Upper-cased, with '-' turned
	// into '_', it prefixes the environment switches: MUX_DISABLE_TELEMETRY,
	// MUX_E2E and MUX_TELEMETRY_DEBUG. Letters, digits, '_' and '-' only,
	// and no digit first, because a shell variable's name cannot start
	// with one.
	App string
	// Catalog lists the events the app may send. Required.
	Catalog *catalog.Catalog
	// Endpoint is the collector's base URL, such as http://127.0.0.1:8787.
	// Events are posted to Endpoint+"/batch/", so an Endpoint that already
	// ends in /batch/ is invalid. A trailing slash is ignored.
	Endpoint string
	// WriteKey is the project key sent as api_key with every batch.
	WriteKey string
	// Home is the app's home folder, holding telemetry_id, config.json and
	// the spool. "" means ~/.<App>.
	Home string
	// Version is the app's version, such as "1.4.2", sent as the base
	// property "version". Required: Validate rejects "" and a value that
	// the catalog's class for "version" rejects.
	Version string
	// Platform is the backend's operating system as Go (GOOS) or Node.js
	// names it; it is sent as backend_platform with Node.js names, so
	// "windows" becomes "win32". "" means runtime.GOOS. Validate rejects
	// a name that is not in catalog.BackendPlatforms, "windows" aside.
	Platform string
	// ElectronVersion is the desktop shell's version. "" means "unknown".
	// Validate rejects a value that the catalog's version class rejects.
	ElectronVersion string
	// AllowAutomation sends events under CI, under `go test` and with
	// <APP>_E2E=1, which are otherwise treated as switched off. The user's
	// own opt-outs still win.
	AllowAutomation bool
	// RequireNotice keeps telemetry off until the app has shown the privacy
	// notice of the current catalog and called MarkNoticeShown, and again
	// whenever the catalog changes. Events captured before are ignored, not
	// held, so nothing from before the notice is ever sent. false sends
	// without waiting; Notice still reports when the notice needs showing.
	RequireNotice bool

	// QueueSize is how many captured events wait in memory for the sender.
	// When it is full, Capture drops the new event. With the spool off or
	// failing, up to QueueSize more events wait in memory for a retry, the
	// oldest dropped first. 0 means 10000, and at most MaxQueueSize.
	QueueSize int
	// BatchSize is the most events sent in one request. 0 means 100.
	BatchSize int
	// FlushInterval is the longest an event waits for its batch to fill.
	// 0 means 5s.
	FlushInterval time.Duration
	// MaxRetryDelay caps the wait between retries of a failed upload.
	// A Retry-After header from the collector may ask for longer, up to one
	// hour. 0 means 5m.
	MaxRetryDelay time.Duration

	// Spool configures the offline spool; the zero value turns it on with
	// the default bounds.
	Spool SpoolConfig
	// SentLog, if set, is the path of a local file that receives a copy of
	// every event the collector acknowledged, one JSON object per line,
	// including those its response listed as dropped, which Stats counts
	// as dropped rather than sent. It is rotated to SentLog+".1" at
	// SentLogMaxBytes.
	SentLog string
	// SentLogMaxBytes is the size at which SentLog is rotated. 0 means 1 MiB.
	SentLogMaxBytes int64

	// HTTPClient sends the batches. nil means a client with a 30s timeout
	// that uses HTTP_PROXY, HTTPS_PROXY and NO_PROXY. Redirects from https
	// to http, and redirects to a host name other than the Endpoint's, are
	// rejected on any client. A panic in it, such as in its Transport or
	// CheckRedirect, is recovered, and the upload is retried like one that
	// met a network error.
	HTTPClient *http.Client
	// Logger receives the client's own problems: failed uploads, dropped
	// events, rejected properties (names only, never values). nil means
	// silent. A panic in its handler is recovered and counted in
	// Stats.LogFailures, and the record is lost. The handler runs on the
	// sender goroutine, so one that blocks, such as a write to a full
	// pipe, stops delivery, and Close waits for it past its context.
	Logger *slog.Logger
	// Clock stamps each event when it is captured; nil means time.Now. It is
	// used for event timestamps only, never for timers.
	Clock func() time.Time
	// Getenv reads the environment switches; nil means os.Getenv. A panic
	// in it is recovered and keeps telemetry off for the rest of the run.
	// Status.Switch is then SwitchGetenv, unless a switch checked before
	// it, such as config.json or an automated run, already applies.
	Getenv func(string) string
	// DebugOutput receives the events printed by <APP>_TELEMETRY_DEBUG.
	// nil means os.Stderr. It is written on the sender goroutine, so a
	// write that blocks makes Close wait for it, as a blocking Logger does.
	// A panic in its Write is recovered and logged as a failed write.
	DebugOutput io.Writer
}

// SpoolConfig configures the offline spool in <Home>/spool, which keeps
// batches while the collector is unreachable and the events still queued at
// Close, and sends them first on the next start, after checking them
// against the current Config.Catalog again.
type SpoolConfig struct {
	// Disabled turns the spool off: undeliverable events then wait in
	// memory, bounded by QueueSize, and are dropped at Close.
	Disabled bool
	// MaxEvents bounds the events kept; the oldest batches are dropped
	// first. 0 means 10000.
	MaxEvents int
	// MaxBytes bounds the spool's size on disk. 0 means 5 MiB.
	MaxBytes int64
}

// ErrInvalidConfig is wrapped by every error Validate returns.
var ErrInvalidConfig = errors.New("invalid telemetry config")

// Validate checks the fields that have no default. Each error names the
// field and its value.
func (c *Config) Validate() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if c.App == "" {
		return fail(`App is empty: set it to the app's name, such as "mux"`)
	}
	for i := 0; i < len(c.App); i++ {
		b := c.App[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return fail("App %q: use only letters, digits, '_' and '-'", c.App)
		}
	}
	if c.App[0] >= '0' && c.App[0] <= '9' {
		return fail("App %q starts with a digit, so a shell cannot set its switches, such as %s: start it with a letter, and set Home to keep the folder's name",
			c.App, EnvVar(c.App, DisableVarSuffix))
	}
	if c.Catalog == nil {
		return fail("Catalog is nil: pass the app's event catalog")
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail("Endpoint %q: use an http or https base URL, such as http://127.0.0.1:8787", c.Endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fail("Endpoint %q: remove the query, fragment or user info", c.Endpoint)
	}
	if base, ok := strings.CutSuffix(strings.TrimRight(u.Path, "/"), "/batch"); ok {
		u.Path = base
		return fail("Endpoint %q ends in /batch/, which the client adds itself: use %q", c.Endpoint, u.String())
	}
	if strings.TrimSpace(c.WriteKey) == "" {
		return fail("WriteKey is empty: set the project key the collector expects")
	}
	if problem := c.validateVersion(); problem != "" {
		return fail("%s", problem)
	}
	if problem := c.validateBackend(); problem != "" {
		return fail("%s", problem)
	}
	if problem := c.validateSizes(); problem != "" {
		return fail("%s: use 0 for the default or a positive value", problem)
	}
	if c.QueueSize > MaxQueueSize {
		return fail("QueueSize %d is over %d, the most the client reserves memory for: use a smaller value or 0 for %d",
			c.QueueSize, MaxQueueSize, DefaultQueueSize)
	}
	return nil
}

// validateSizes returns the first negative size or duration, such as
// "BatchSize -1", or "".
func (c *Config) validateSizes() string {
	switch {
	case c.QueueSize < 0:
		return fmt.Sprintf("QueueSize %d", c.QueueSize)
	case c.BatchSize < 0:
		return fmt.Sprintf("BatchSize %d", c.BatchSize)
	case c.FlushInterval < 0:
		return fmt.Sprintf("FlushInterval %s", c.FlushInterval)
	case c.MaxRetryDelay < 0:
		return fmt.Sprintf("MaxRetryDelay %s", c.MaxRetryDelay)
	case c.Spool.MaxEvents < 0:
		return fmt.Sprintf("Spool.MaxEvents %d", c.Spool.MaxEvents)
	case c.Spool.MaxBytes < 0:
		return fmt.Sprintf("Spool.MaxBytes %d", c.Spool.MaxBytes)
	case c.SentLogMaxBytes < 0:
		return fmt.Sprintf("SentLogMaxBytes %d", c.SentLogMaxBytes)
	}
	return ""
}

// validateVersion returns why Version cannot be sent, or "". Without this
// check every event would carry a Stats.Violations count for "version".
// A catalog without a "version" base property takes any non-empty value.
func (c *Config) validateVersion() string {
	if c.Version == "" {
		return `Version is empty: set it to the app's version, such as "1.4.2"`
	}
	_, reason := c.Catalog.NormalizeBase("version", c.Version)
	if reason == "" || reason == catalog.ReasonUnknownProperty {
		return ""
	}
	return fmt.Sprintf("Version %q: %s: use a version such as \"1.4.2\" or \"v2.0.0-rc.1\"", c.Version, reason)
}

// validateBackend returns why ElectronVersion or Platform cannot be sent,
// or "". Without this check every event would drop its electronVersion
// and count a violation, or carry backend_platform "unknown" for a
// misspelled Platform such as "Linux".
func (c *Config) validateBackend() string {
	if c.ElectronVersion != "" {
		_, reason := c.Catalog.NormalizeBase("electronVersion", c.ElectronVersion)
		if reason != "" && reason != catalog.ReasonUnknownProperty {
			return fmt.Sprintf("ElectronVersion %q: %s: use the shell's version, such as \"33.2.1\", or leave it empty", c.ElectronVersion, reason)
		}
	}
	if c.Platform != "" && c.Platform != "unknown" && nodePlatform(c.Platform) == "unknown" {
		return fmt.Sprintf("Platform %q: use a GOOS or Node.js name in lower case, such as linux, darwin, windows or win32, or leave it empty for runtime.GOOS", c.Platform)
	}
	return ""
}

// withDefaults returns a copy of c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.MaxRetryDelay == 0 {
		c.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if c.Spool.MaxEvents == 0 {
		c.Spool.MaxEvents = DefaultSpoolMaxEvents
	}
	if c.Spool.MaxBytes == 0 {
		c.Spool.MaxBytes = DefaultSpoolMaxBytes
	}
	if c.SentLogMaxBytes == 0 {
		c.SentLogMaxBytes = DefaultSentLogMaxBytes
	}
	if c.ElectronVersion == "" {
		c.ElectronVersion = "unknown"
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.DebugOutput == nil {
		c.DebugOutput = os.Stderr
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Endpoint = strings.TrimRight(c.Endpoint, "/")
	if c.Home == "" {
		if dir, err := os.UserHomeDir(); err == nil {
			c.Home = filepath.Join(dir, "."+c.App)
		}
	}
	return c
}

// envPrefix returns the prefix of the app's environment switches: "mux"
// gives "MUX_".
func envPrefix(app string) string {
	return strings.ReplaceAll(strings.ToUpper(app), "-", "_") + "_"
}
