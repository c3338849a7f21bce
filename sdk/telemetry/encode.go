package telemetry

import (
	"encoding/json"
	"fmt"
	"maps"
	"runtime"
	"sync"
	"time"

	"github.com/candor-dev/candor/sdk/catalog"
)

// Library identifies this SDK in the $lib and $lib_version properties and
// the User-Agent header.
const (
	LibraryName    = "candor-go"
	LibraryVersion = "0.1.0"
)

// item is one captured event waiting in the queue.
type item struct {
	ev catalog.Event
	at time.Time
}

// wireEvent is one event as posted in a batch.
type wireEvent struct {
	UUID       string         `json:"uuid"`
	Event      string         `json:"event"`
	DistinctID string         `json:"distinct_id"`
	Timestamp  string         `json:"timestamp"`
	Properties map[string]any `json:"properties"`
}

// nodePlatform maps Go's GOOS names to the names Node.js's process.platform
// uses, which is what backend_platform carries.
func nodePlatform(goos string) string {
	switch goos {
	case "windows":
		return "win32"
	case "":
		return "unknown"
	}
	for _, p := range catalog.BackendPlatforms {
		if p == goos {
			return goos
		}
	}
	return "unknown"
}

// encoder turns captured events into wire JSON. It runs on the sender's
// goroutine only, apart from the feature flags, which are guarded by mu.
type encoder struct {
	catalog *catalog.Catalog
	base    map[string]any

	mu    sync.Mutex
	flags map[string]any // "$feature/<key>" to the variant
}

func newEncoder(cfg *Config) *encoder {
	platform := cfg.Platform
	if platform == "" {
		platform = runtime.GOOS
	}
	return &encoder{
		catalog: cfg.Catalog,
		base: map[string]any{
			"version":            cfg.Version,
			"backend_platform":   nodePlatform(platform),
			"electronVersion":    cfg.ElectronVersion,
			"nodeVersion":        "unknown",
			"bunVersion":         "unknown",
			"goVersion":          runtime.Version(),
			"catalogFingerprint": cfg.Catalog.Fingerprint(),
			"$lib":               LibraryName,
			"$lib_version":       LibraryVersion,
			"$geoip_disable":     true,
		},
		flags: map[string]any{},
	}
}

// setFlag records a feature flag variant, or removes it when variant is nil.
func (e *encoder) setFlag(key string, variant any) catalog.Reason {
	name := catalog.FeaturePrefix + key
	e.mu.Lock()
	defer e.mu.Unlock()
	if variant == nil {
		delete(e.flags, name)
		return ""
	}
	value, reason := e.catalog.NormalizeBase(name, variant)
	if reason != "" {
		return reason
	}
	e.flags[name] = value
	return ""
}

// encodeResult is one encoded event, or why it was dropped.
type encodeResult struct {
	name       string
	json       []byte
	dropReason string
	violations []catalog.Violation
}

// encode checks the event against the catalog, adds the base properties and
// returns its wire JSON. A panic in the event's methods is recovered and
// reported as DropEncodeFailed.
func (e *encoder) encode(it item, distinctID string) (res encodeResult) {
	defer func() {
		if r := recover(); r != nil {
			res = encodeResult{name: res.name, dropReason: DropEncodeFailed}
		}
	}()

	name, props, err := e.catalog.Properties(it.ev)
	res.name = name
	if err != nil {
		return e.rejected(res, err)
	}
	for k, v := range e.base {
		if _, taken := props[k]; !taken {
			props[k] = v
		}
	}
	e.mu.Lock()
	maps.Copy(props, e.flags)
	e.mu.Unlock()

	normalized, violations, err := e.catalog.Normalize(name, props)
	res.violations = violations
	if err != nil {
		return e.rejected(res, err)
	}
	data, err := json.Marshal(wireEvent{
		UUID:       newUUID(),
		Event:      name,
		DistinctID: distinctID,
		Timestamp:  it.at.UTC().Format(time.RFC3339Nano),
		Properties: normalized,
	})
	if err != nil {
		res.dropReason = DropEncodeFailed
		return res
	}
	res.json = data
	return res
}

func (e *encoder) rejected(res encodeResult, err error) encodeResult {
	if v, ok := err.(*catalog.Violation); ok {
		res.dropReason = string(v.Reason)
		res.violations = append(res.violations, *v)
		return res
	}
	res.dropReason = DropEncodeFailed
	return res
}

// describe names an event for logs without any property value.
func describe(v catalog.Violation) string {
	if v.Property == "" {
		return fmt.Sprintf("event %q", v.Event)
	}
	return fmt.Sprintf("event %q property %q", v.Event, v.Property)
}
