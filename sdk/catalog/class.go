package catalog

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// Class is the privacy class of a property: the rule its value must keep to
// be sent and stored.
type Class string

// The privacy classes. Each class names the Go kinds a struct field of that
// class may have and what Normalize does with a value.
const (
	// RandomID is a UUID (version 4 or 7) or a random token of at least 96
	// bits written in hex (24 or more characters) or in base64url or
	// standard base64 (16 or more, padding aside). A token that decodes to
	// printable text is not random, and neither are an IBAN and words,
	// such as Workspace-Of-Alice, WorkspaceOfALICE or Alice-Workspace-24.
	// The check cannot tell a hash from random data: the hex digest of an
	// MD5 or SHA hash of an email address passes, so only random values
	// belong in this class.
	RandomID Class = "random_id"
	// Enum is one of the property's declared Values.
	Enum Class = "enum"
	// Bool is true or false.
	Bool Class = "bool"
	// Base2 is a number rounded up to a power of two: v <= 0 becomes 0, any
	// other v becomes 2^ceil(log2 v), so 350 becomes 512 and 0.3 becomes 0.5.
	Base2 Class = "base2"
	// Bucket is a number replaced by the largest declared edge that is not
	// above it; values below the first edge become the first edge.
	Bucket Class = "bucket"
	// Count is a whole number clamped to [0, Max].
	Count Class = "count"
	// Identifier is a short name such as a model id, an error type or a
	// provider: ASCII letters, digits and ._:/- only, at most 100 characters,
	// and nothing that looks like a path, an email address, a URL, a secret,
	// an IP address, a UUID of a version other than 4 and 7 or a run of
	// more than 8 digits. A run of 7 or 8 digits passes only as a date
	// written yyyymmdd, in a word in hex or in a UUID. URLs include a host
	// name followed by a path or a port, as in example.com/alice, when the
	// host ends in one of a fixed list of common top-level domains. Other
	// names with a dot pass, such as azure.openai/gpt-4o and main.go:12.
	// Secrets include text in base64, text in hex of 14 to 31 digits, names
	// in hex of 10 or 12 digits and keys split by slashes. IP addresses include IPv6
	// with dashes, as in fe80--1-eth0, IPv4 with hex parts, as in
	// 0x7f.0x0.0x0.0x1, and IPv4 written as one to three numbers, as in
	// 0x7f000001 and 127.1, when it is a loopback, private or link-local
	// address. Outside those ranges such numbers pass, because Windows
	// error codes such as 0x80070005 and model versions such as 3.1 are
	// written the same way, and so do two or three numbers after a name,
	// as in macos-10.15.
	Identifier Class = "identifier"
	// Version is a version string such as 1.4.2, v2.0.0-rc.1 or go1.26.8, or
	// the word unknown: at most 8 letters, then a digit, then letters, digits
	// and .+_-, with nothing that looks like a secret and no run of more than
	// 8 digits except the 14-digit time of a Go pseudo-version. IP
	// addresses, card numbers, and phone numbers written with dots, such
	// as 555.123.4567, 44.20.7946.0958 and 61.2.9876.5432, are rejected
	// too. Four numbers
	// that read as an IPv4 address pass only in a WSL 2 kernel release,
	// as in 5.15.153.1-microsoft-standard-WSL2, and only outside the
	// private, loopback and link-local ranges.
	Version Class = "version"
	// UserAgent is a browser user agent, reduced to the browser family, its
	// major version and the OS family, such as "Chrome 131 (macOS)". A
	// major version of more than 3 digits is left out.
	UserAgent Class = "user_agent"
	// Platform is a browser's navigator.platform or an OS name, such as
	// posthog-js's "Mac OS X" or Go's "darwin", reduced to the OS family.
	Platform Class = "platform"
	// Variant is a feature flag or experiment variant: an identifier, a bool
	// or null.
	Variant Class = "variant"
	// Object is a nested object whose own properties each have a class.
	Object Class = "object"
	// Fingerprint is a catalog fingerprint as Catalog.Fingerprint writes
	// it: 16 lower-case hex digits, or the word unknown. It takes every
	// value that format allows, so unlike an identifier it may be all
	// digits, as 1 fingerprint in about 1,800 is.
	Fingerprint Class = "fingerprint"
)

// Limits of the string classes.
const (
	MaxIdentifierLen = 100
	MaxVersionLen    = 64
	// MaxExactNumber is the largest magnitude a numeric property may have:
	// above 2^53 a float64 no longer holds every integer exactly.
	MaxExactNumber = 1 << 53
)

var classes = map[Class]bool{
	RandomID: true, Enum: true, Bool: true, Base2: true, Bucket: true, Count: true,
	Identifier: true, Version: true, UserAgent: true, Platform: true, Variant: true, Object: true,
	Fingerprint: true,
}

// classList names every class in declaration order, for error messages.
var classList = func() string {
	order := []Class{RandomID, Enum, Bool, Base2, Bucket, Count, Identifier, Version, UserAgent, Platform, Variant, Object, Fingerprint}
	names := make([]string, len(order))
	for i, c := range order {
		if !classes[c] {
			panic("catalog: classList names an undeclared class " + string(c))
		}
		names[i] = string(c)
	}
	if len(order) != len(classes) {
		panic("catalog: classList misses a declared class")
	}
	return strings.Join(names, ", ")
}()

// Valid reports whether c is one of the declared classes.
func (c Class) Valid() bool { return classes[c] }

// Reason says why a value or an event was rejected. Reasons are stable
// strings, fit for metric labels and counters.
type Reason string

// The rejection reasons.
const (
	ReasonUnknownEvent    Reason = "unknown_event"
	ReasonUnknownProperty Reason = "unknown_property"
	ReasonMissing         Reason = "missing_property"
	ReasonWrongType       Reason = "wrong_type"
	ReasonNotInEnum       Reason = "not_in_enum"
	ReasonNotRandomID     Reason = "not_random_id"
	ReasonNotFinite       Reason = "not_finite"
	ReasonOutOfRange      Reason = "out_of_range"
	ReasonInvalidString   Reason = "invalid_string"
	ReasonTooLong         Reason = "too_long"
	ReasonLooksLikePath   Reason = "looks_like_path"
	ReasonLooksLikeEmail  Reason = "looks_like_email"
	ReasonLooksLikeURL    Reason = "looks_like_url"
	ReasonLooksLikeSecret Reason = "looks_like_secret"
	ReasonInvalidVersion  Reason = "invalid_version"
	ReasonLooksLikeIP     Reason = "looks_like_ip"     // an IPv4 or IPv6 address
	ReasonLooksLikeNumber Reason = "looks_like_number" // a phone, card or account number
	ReasonNotFingerprint  Reason = "not_fingerprint"
)

// Violation is one value that broke its class. It names the event and the
// property but never holds the value, so it is safe to log. A property
// inside an object property is named by its dotted path from the catalog,
// such as "frontendPlatform.userAgent". A member that the catalog does not
// declare is reported under the object's own path, so that Property never
// holds a name the sender chose below the event's top level.
type Violation struct {
	Event    string `json:"event"`
	Property string `json:"property,omitempty"`
	Reason   Reason `json:"reason"`
}

func (v *Violation) Error() string {
	if v.Property == "" {
		return fmt.Sprintf("event %q: %s", v.Event, v.Reason)
	}
	return fmt.Sprintf("event %q property %q: %s", v.Event, v.Property, v.Reason)
}

// RoundBase2 rounds v up to a power of two: v <= 0 gives 0, any other v
// gives 2^ceil(log2 v). It reports false for NaN, ±Inf and magnitudes above
// MaxExactNumber.
func RoundBase2(v float64) (float64, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v > MaxExactNumber {
		return 0, false
	}
	if v <= 0 {
		return 0, true
	}
	// v = frac × 2^exp with frac in [0.5, 1); frac 0.5 is a power of two.
	frac, exp := math.Frexp(v)
	if frac == 0.5 {
		return v, true
	}
	return math.Ldexp(1, exp), true
}

// normalize checks v against the property's class and returns the value to
// send or store. v may be a Go value (int, float64, string, bool, a map for
// objects) or a value decoded from JSON. A value that normalizing leaves
// unchanged is returned as v itself, so that it is not boxed again.
func (p *Property) normalize(v any) (any, Reason) {
	switch p.Class {
	case Bool:
		if _, ok := v.(bool); !ok {
			return nil, ReasonWrongType
		}
		return v, ""
	case Base2, Bucket, Count:
		f, r := number(v)
		if r != "" {
			return nil, r
		}
		n, r := p.normalizeNumber(f)
		if r != "" {
			return nil, r
		}
		if x, ok := v.(float64); ok && math.Float64bits(x) == math.Float64bits(n) {
			return v, ""
		}
		return n, ""
	case Object:
		value, _, r := p.normalizeObject(v, nil)
		return value, r
	case Variant:
		switch x := v.(type) {
		case nil:
			return nil, ""
		case bool:
			return v, ""
		case string:
			return p.normalizeMemoized(v, x, func(s string) (string, Reason) { return s, checkIdentifier(s) })
		}
		return nil, ReasonWrongType
	}

	s, ok := v.(string)
	if !ok {
		return nil, ReasonWrongType
	}
	return p.normalizeMemoized(v, s, p.normalizeString)
}

// normalizeMemoized applies check to the string s, which v boxes, through
// the property's memo when it has one.
func (p *Property) normalizeMemoized(v any, s string, check func(string) (string, Reason)) (any, Reason) {
	memo := p.memoFor()
	if memo != nil {
		if out, ok := memo.lookup(s); ok {
			return out, ""
		}
	}
	out, r := check(s)
	if r != "" {
		return nil, r
	}
	value := v
	if out != s {
		value = out
	}
	if memo != nil {
		memo.remember(s, value)
	}
	return value, ""
}

// normalizeNumber applies a numeric class (Base2, Bucket or Count) to f,
// which number or checkNumber accepted.
func (p *Property) normalizeNumber(f float64) (float64, Reason) {
	switch p.Class {
	case Base2:
		rounded, ok := RoundBase2(f)
		if !ok {
			return 0, ReasonOutOfRange
		}
		return rounded, ""
	case Bucket:
		return p.bucket(f), ""
	case Count:
		return math.Max(0, math.Min(math.Floor(f), float64(p.Max))), ""
	}
	return 0, ReasonWrongType
}

// normalizeString applies a string class (RandomID, Enum, Identifier,
// Version, UserAgent, Platform or Fingerprint) to s.
func (p *Property) normalizeString(s string) (string, Reason) {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return "", ReasonInvalidString
	}
	switch p.Class {
	case RandomID:
		if !isRandomID(s) {
			return "", ReasonNotRandomID
		}
		return s, ""
	case Enum:
		for _, allowed := range p.Values {
			if s == allowed {
				return s, ""
			}
		}
		return "", ReasonNotInEnum
	case Identifier:
		if r := checkIdentifier(s); r != "" {
			return "", r
		}
		return s, ""
	case Version:
		if !isVersion(s) {
			return "", ReasonInvalidVersion
		}
		return s, ""
	case UserAgent:
		return ReduceUserAgent(s), ""
	case Platform:
		return ReducePlatform(s), ""
	case Fingerprint:
		if !isFingerprint(s) {
			return "", ReasonNotFingerprint
		}
		return s, ""
	}
	return "", ReasonWrongType
}

// number converts the numeric kinds of Go and JSON to float64 and rejects
// NaN, ±Inf and magnitudes above MaxExactNumber.
func number(v any) (float64, Reason) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int8:
		f = float64(x)
	case int16:
		f = float64(x)
	case int32:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint:
		f = float64(x)
	case uint8:
		f = float64(x)
	case uint16:
		f = float64(x)
	case uint32:
		f = float64(x)
	case uint64:
		f = float64(x)
	default:
		return 0, ReasonWrongType
	}
	return f, checkNumber(f)
}

// checkNumber rejects NaN, ±Inf and magnitudes above MaxExactNumber.
func checkNumber(f float64) Reason {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return ReasonNotFinite
	}
	if math.Abs(f) > MaxExactNumber {
		return ReasonOutOfRange
	}
	return ""
}

func (p *Property) bucket(f float64) float64 {
	edge := p.Edges[0]
	for _, e := range p.Edges {
		if f < e {
			break
		}
		edge = e
	}
	return edge
}

// normalizeObject normalizes a nested object. report, if not nil, receives
// the dotted path and reason of each nested value that was left out: an
// optional property that broke its class, or a member the catalog does not
// declare. An undeclared member is reported by the path of its object
// ("" for this one), because the sender chose its name. It is left out and
// the object kept, as an unknown top-level property leaves the event.
// Without report, an undeclared member rejects the object. When the object is
// rejected, member is the dotted path of the nested property that broke
// its class, such as "userAgent" or "inner.kind", or "" when the object
// itself is at fault.
func (p *Property) normalizeObject(v any, report func(path string, r Reason)) (value any, member string, r Reason) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, "", ReasonWrongType
	}
	out := make(map[string]any, len(p.Properties))
	for i := range p.Properties {
		sub := &p.Properties[i]
		raw, present := m[sub.Name]
		if !present || raw == nil && sub.Class != Variant {
			if sub.Optional {
				continue
			}
			return nil, sub.Name, ReasonMissing
		}
		var value any
		var path string
		var r Reason
		if sub.Class == Object {
			value, path, r = sub.normalizeObject(raw, prefixed(report, sub.Name))
		} else {
			value, r = sub.normalize(raw)
		}
		if r != "" {
			path = joinPath(sub.Name, path)
			if sub.Optional {
				if report != nil {
					report(path, r)
				}
				continue
			}
			return nil, path, r
		}
		out[sub.Name] = value
	}
	for name := range m {
		if p.property(name) != nil {
			continue
		}
		if report == nil {
			return nil, "", ReasonUnknownProperty
		}
		report("", ReasonUnknownProperty)
	}
	return out, "", ""
}

// joinPath returns the dotted path of member within the property named
// parent, or parent when member is "".
func joinPath(parent, member string) string {
	if member == "" {
		return parent
	}
	return parent + "." + member
}

// prefixed returns a report function that names nested properties as
// "parent.child".
func prefixed(report func(string, Reason), parent string) func(string, Reason) {
	if report == nil {
		return nil
	}
	return func(path string, r Reason) { report(joinPath(parent, path), r) }
}
