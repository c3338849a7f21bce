package catalog

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzInner is a nested object of the fuzz catalog.
type fuzzInner struct {
	Agent    string `json:"agent" candor:"user_agent"`
	Platform string `json:"platform" candor:"platform"`
	Flag     *bool  `json:"flag,omitempty" candor:"bool,optional"`
}

// fuzzOuter nests fuzzInner one level deeper.
type fuzzOuter struct {
	Inner fuzzInner `json:"inner" candor:"object"`
	Count int       `json:"count" candor:"count,max=7"`
}

// fuzzRequired has one required property of every class.
type fuzzRequired struct {
	ID         string    `json:"id" candor:"random_id"`
	Mode       string    `json:"mode" candor:"enum=plan|exec|ask"`
	On         bool      `json:"on" candor:"bool"`
	Length     float64   `json:"length" candor:"base2"`
	Size       int       `json:"size" candor:"bucket,edges=0|10|100|1000"`
	Count      int       `json:"count" candor:"count,max=50"`
	Model      string    `json:"model" candor:"identifier"`
	Release    string    `json:"release" candor:"version"`
	Agent      string    `json:"agent" candor:"user_agent"`
	Platform   string    `json:"platform" candor:"platform"`
	Experiment any       `json:"experiment" candor:"variant"`
	Nested     fuzzOuter `json:"nested" candor:"object"`
}

func (fuzzRequired) EventName() string { return "fuzz_required" }

// fuzzOptional has one optional property of every class that allows it.
type fuzzOptional struct {
	ID       string     `json:"id,omitempty" candor:"random_id,optional"`
	Mode     string     `json:"mode,omitempty" candor:"enum=plan|exec|ask,optional"`
	On       *bool      `json:"on,omitempty" candor:"bool,optional"`
	Length   *float64   `json:"length,omitempty" candor:"base2,optional"`
	Size     *float64   `json:"size,omitempty" candor:"bucket,edges=-5|0.5|2,optional"`
	Count    *int       `json:"count,omitempty" candor:"count,max=3,optional"`
	Model    string     `json:"model,omitempty" candor:"identifier,optional"`
	Release  string     `json:"release,omitempty" candor:"version,optional"`
	Agent    string     `json:"agent,omitempty" candor:"user_agent,optional"`
	Platform string     `json:"platform,omitempty" candor:"platform,optional"`
	Nested   *fuzzOuter `json:"nested,omitempty" candor:"object,optional"`
}

func (fuzzOptional) EventName() string { return "fuzz_optional" }

// fuzzEmpty has no properties: everything sent with it is a base property
// or unknown.
type fuzzEmpty struct{}

func (fuzzEmpty) EventName() string { return "fuzz_empty" }

func fuzzCatalog() *Catalog {
	c := New("fuzz")
	c.MustRegister(fuzzRequired{}, "Every class, required.")
	c.MustRegister(fuzzOptional{}, "Every class, optional.")
	c.MustRegister(fuzzEmpty{}, "No properties.")
	return c
}

// FuzzNormalize runs Normalize on arbitrary JSON property maps for each
// event of a catalog that uses every class. Normalize must not panic, and
// a rejection must name a reason. The output must hold only values that
// keep their class. Sent as JSON and normalized again, as the collector
// does after the SDK, the output must come back unchanged and without
// violations. The seed corpus is in testdata/fuzz/FuzzNormalize.
func FuzzNormalize(f *testing.F) {
	cat := fuzzCatalog()
	f.Add(uint8(0), []byte(`{"id":"3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b","mode":"plan","on":true,"length":300,"size":42,"count":99,`+
		`"model":"gpt-4o","release":"1.2.3","agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0","platform":"Linux x86_64",`+
		`"experiment":"treatment","nested":{"inner":{"agent":"x","platform":"MacIntel"},"count":8},"version":"2.0.0","$feature/beta":true}`))
	f.Add(uint8(1), []byte(`{"length":-1,"size":1e300,"count":2.9,"model":"/home/alice","on":"yes"}`))

	f.Fuzz(func(t *testing.T, event uint8, data []byte) {
		var props map[string]any
		if json.Unmarshal(data, &props) != nil {
			return
		}
		def := cat.Events[int(event)%len(cat.Events)]

		out, violations, err := cat.Normalize(def.Name, props)
		if err != nil {
			v, ok := err.(*Violation)
			if !ok || v.Reason == "" || v.Event != def.Name {
				t.Fatalf("Normalize(%s) failed with %T %v, want a *Violation of the event with a reason", def.Name, err, err)
			}
			return
		}
		for _, v := range violations {
			if v.Reason == "" || v.Event != def.Name {
				t.Fatalf("violation %+v lacks a reason or names another event", v)
			}
		}
		checkClasses(t, cat, def, out)

		wire, err := json.Marshal(out)
		if err != nil {
			t.Fatalf("marshal normalized properties: %v", err)
		}
		var received map[string]any
		if err := json.Unmarshal(wire, &received); err != nil {
			t.Fatalf("unmarshal %s: %v", wire, err)
		}
		again, violations, err := cat.Normalize(def.Name, received)
		if err != nil || len(violations) > 0 {
			t.Fatalf("normalizing %s again: error %v, violations %v", wire, err, violations)
		}
		if !reflect.DeepEqual(again, received) {
			again, _ := json.Marshal(again)
			t.Fatalf("normalizing again changed the properties:\n first %s\nsecond %s", wire, again)
		}
	})
}

// checkClasses fails the test when a value of out breaks the class of its
// property, or a property is not the event's, a base property or a flag.
func checkClasses(t *testing.T, cat *Catalog, def *EventDef, out map[string]any) {
	t.Helper()
	for name, value := range out {
		p := def.property(name)
		if p == nil {
			p = cat.baseProperty(name)
		}
		if p == nil {
			t.Fatalf("output holds %q, which the event does not declare", name)
		}
		if reason := classBreak(p, value); reason != "" {
			t.Fatalf("property %q = %#v breaks class %s: %s", name, value, p.Class, reason)
		}
	}
}

// classBreak returns how v breaks p's class, or "". It restates each
// class's rule from its documentation rather than calling normalize.
func classBreak(p *Property, v any) string {
	if s, ok := v.(string); ok && (!utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0) {
		return "invalid UTF-8 or a NUL"
	}
	switch p.Class {
	case RandomID:
		if s, ok := v.(string); !ok || !isRandomID(s) {
			return "not a random ID"
		}
	case Enum:
		if s, ok := v.(string); !ok || !contains(p.Values, s) {
			return "not a declared value"
		}
	case Bool:
		if _, ok := v.(bool); !ok {
			return "not a bool"
		}
	case Base2:
		f, ok := v.(float64)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > MaxExactNumber {
			return "not a finite number in [0, 2^53]"
		}
		if frac, _ := math.Frexp(f); f != 0 && frac != 0.5 {
			return "not 0 or a power of two"
		}
	case Bucket:
		if f, ok := v.(float64); !ok || !containsFloat(p.Edges, f) {
			return "not a declared edge"
		}
	case Count:
		if f, ok := v.(float64); !ok || f != math.Trunc(f) || f < 0 || f > float64(p.Max) {
			return "not a whole number in [0, max]"
		}
	case Identifier:
		if s, ok := v.(string); !ok || checkIdentifier(s) != "" {
			return "not an identifier"
		}
	case Version:
		if s, ok := v.(string); !ok || !isVersion(s) {
			return "not a version"
		}
	case UserAgent:
		if s, ok := v.(string); !ok {
			return "not a string"
		} else if _, reduced := parseReducedUserAgent(s); !reduced {
			return "not a reduced user agent"
		}
	case Platform:
		if s, ok := v.(string); !ok || !contains(osFamilies, s) {
			return "not an OS family"
		}
	case Variant:
		switch x := v.(type) {
		case nil, bool:
		case string:
			if checkIdentifier(x) != "" {
				return "not an identifier"
			}
		default:
			return "not a string, bool or null"
		}
	case Object:
		m, ok := v.(map[string]any)
		if !ok {
			return "not an object"
		}
		for name, value := range m {
			sub := p.property(name)
			if sub == nil {
				return "holds the undeclared " + name
			}
			if reason := classBreak(sub, value); reason != "" {
				return name + ": " + reason
			}
		}
	default:
		return "unknown class"
	}
	return ""
}

func containsFloat(list []float64, f float64) bool {
	for _, x := range list {
		if x == f {
			return true
		}
	}
	return false
}
