package telemetry

import (
	"encoding/json"
	"fmt"
	"maps"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/internal/jsontext"
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
	// optOuts is Client.optOuts when the event was captured.
	optOuts uint64
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
	uuids   uuidSource
	idFor   string // the distinct ID idJSON holds
	idJSON  []byte
	stamps  timestamps

	mu    sync.Mutex
	flags map[string]any // "$feature/<key>" to the variant
	// props holds base and flags checked and encoded, replaced whenever a
	// flag changes.
	props atomic.Pointer[catalog.Base]
}

func newEncoder(cfg *Config) *encoder {
	platform := cfg.Platform
	if platform == "" {
		platform = runtime.GOOS
	}
	e := &encoder{
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
	e.props.Store(e.catalog.NewBase(e.base))
	return e
}

// setFlag records a feature flag variant, or removes it when variant is nil.
func (e *encoder) setFlag(key string, variant any) catalog.Reason {
	name := catalog.FeaturePrefix + key
	e.mu.Lock()
	defer e.mu.Unlock()
	if variant == nil {
		delete(e.flags, name)
	} else {
		value, reason := e.catalog.NormalizeBase(name, variant)
		if reason != "" {
			return reason
		}
		e.flags[name] = value
	}
	props := maps.Clone(e.base)
	maps.Copy(props, e.flags)
	e.props.Store(e.catalog.NewBase(props))
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
// appends its wire JSON to dst; res.json is the appended part. A panic in
// the event's methods is recovered and reported as DropEncodeFailed. A
// dropped event leaves dst as it was.
//
// The properties normally come from Catalog.AppendProperties, which reads
// the event's fields in place. Events it declines go through Properties
// and Normalize, which produce the same JSON and report rejections.
func (e *encoder) encode(dst []byte, it item, distinctID string) (out []byte, res encodeResult) {
	start := len(dst)
	defer func() {
		if r := recover(); r != nil {
			out, res = dst[:start], encodeResult{name: res.name, dropReason: DropEncodeFailed}
		}
	}()

	res.name = it.ev.EventName()
	if distinctID != e.idFor || e.idJSON == nil {
		e.idFor, e.idJSON = distinctID, jsontext.AppendString(nil, distinctID)
	}
	out = append(dst, `{"uuid":"`...)
	out = e.uuids.appendUUID(out)
	out = append(out, `","event":`...)
	out = jsontext.AppendString(out, res.name)
	out = append(out, `,"distinct_id":`...)
	out = append(out, e.idJSON...)
	out = append(out, `,"timestamp":"`...)
	out = e.stamps.append(out, it.at)
	out = append(out, `","properties":`...)
	out, violations, ok := e.catalog.AppendProperties(out, it.ev, e.props.Load())
	if ok {
		out = append(out, '}')
		res.json = out[start:len(out):len(out)]
		res.violations = violations
		return out, res
	}

	data, res := e.encodeGeneral(it, distinctID)
	if data == nil {
		return dst[:start], res
	}
	out = append(dst[:start], data...)
	res.json = out[start:len(out):len(out)]
	return out, res
}

// encodeGeneral encodes an event through Properties, Normalize and
// encoding/json.
func (e *encoder) encodeGeneral(it item, distinctID string) ([]byte, encodeResult) {
	var res encodeResult
	name, props, err := e.catalog.Properties(it.ev)
	res.name = name
	if err != nil {
		return nil, e.rejected(res, err)
	}
	if props == nil {
		// A PropertyMap whose Values is nil has no properties, as an
		// empty map has, and Normalize reports its missing ones.
		props = map[string]any{}
	}
	// The client's base properties win, so that $geoip_disable is always
	// true and version is always Config.Version. An event's own value for
	// one, which only a PropertyMap can carry, is replaced and reported.
	var overridden []catalog.Violation
	for k, v := range e.base {
		if _, set := props[k]; set {
			overridden = append(overridden, catalog.Violation{Event: name, Property: k, Reason: catalog.ReasonUnknownProperty})
		}
		props[k] = v
	}
	e.mu.Lock()
	maps.Copy(props, e.flags)
	e.mu.Unlock()

	normalized, violations, err := e.catalog.Normalize(name, props)
	res.violations = append(overridden, violations...)
	if err != nil {
		return nil, e.rejected(res, err)
	}
	data, err := json.Marshal(wireEvent{
		UUID:       string(e.uuids.appendUUID(nil)),
		Event:      name,
		DistinctID: distinctID,
		Timestamp:  it.at.UTC().Format(time.RFC3339Nano),
		Properties: normalized,
	})
	if err != nil {
		res.dropReason = DropEncodeFailed
		return nil, res
	}
	return data, res
}

// appendTimestamp appends t in UTC as time.RFC3339Nano writes it: the
// fraction of a second without trailing zeros, and none when it is zero.
func appendTimestamp(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, time.RFC3339Nano)
	}
	hour, minute, second := t.Clock()
	var buf [30]byte
	b := buf[:0]
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, second, 2)
	if ns := t.Nanosecond(); ns != 0 {
		b = append(b, '.')
		b = appendDigits(b, ns, 9)
		for b[len(b)-1] == '0' {
			b = b[:len(b)-1]
		}
	}
	b = append(b, 'Z')
	return append(dst, b...)
}

// timestamps formats event timestamps, reusing the date and time of day of
// the previous one while events arrive within the same second.
type timestamps struct {
	sec    int64    // the Unix time prefix holds
	prefix [19]byte // "2006-01-02T15:04:05" of sec, in UTC
	set    bool
}

// Unix times of the first and the last second of the years 0 to 9999, the
// years written with four digits.
const (
	minFourDigitYear = -62167219200
	maxFourDigitYear = 253402300799
)

// append appends t as appendTimestamp does.
func (ts *timestamps) append(dst []byte, t time.Time) []byte {
	sec := t.Unix()
	if sec < minFourDigitYear || sec > maxFourDigitYear {
		return appendTimestamp(dst, t)
	}
	if !ts.set || sec != ts.sec {
		var whole [40]byte
		copy(ts.prefix[:], appendTimestamp(whole[:0], t))
		ts.sec, ts.set = sec, true
	}
	dst = append(dst, ts.prefix[:]...)
	if ns := t.Nanosecond(); ns != 0 {
		dst = appendDigits(append(dst, '.'), ns, 9)
		for dst[len(dst)-1] == '0' {
			dst = dst[:len(dst)-1]
		}
	}
	return append(dst, 'Z')
}

// appendDigits appends the non-negative n with width digits, padded with
// leading zeros.
func appendDigits(b []byte, n, width int) []byte {
	var digits [9]byte
	for i := width - 1; i >= 0; i-- {
		digits[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, digits[:width]...)
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
