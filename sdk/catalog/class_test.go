package catalog

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestRoundBase2(t *testing.T) {
	tests := []struct {
		in   float64
		want float64
	}{
		{0, 0},
		{-1, 0},
		{-350, 0},
		{math.Copysign(0, -1), 0},
		{1, 1},
		{2, 2},
		{3, 4},
		{350, 512},
		{512, 512},
		{513, 1024},
		{1200, 2048},
		{0.3, 0.5},
		{0.5, 0.5},
		{0.0001, 1.0 / 8192},
		{MaxExactNumber, MaxExactNumber},
		{1<<40 + 1, 1 << 41},
		{MaxExactNumber - 1, MaxExactNumber},
		{math.SmallestNonzeroFloat64, math.SmallestNonzeroFloat64},
	}
	for _, tt := range tests {
		got, ok := RoundBase2(tt.in)
		if !ok || got != tt.want {
			t.Errorf("RoundBase2(%v) = %v, %v; want %v, true", tt.in, got, ok, tt.want)
		}
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), MaxExactNumber * 2, math.MaxFloat64} {
		if got, ok := RoundBase2(bad); ok {
			t.Errorf("RoundBase2(%v) = %v, true; want rejected", bad, got)
		}
	}
}

type numbers struct {
	Length   int      `json:"length_b2" candor:"base2"`
	Seconds  float64  `json:"seconds_b2" candor:"base2"`
	Optional *float64 `json:"optional_b2,omitempty" candor:"base2,optional"`
	Tools    int      `json:"tools" candor:"count,max=100"`
	Percent  float64  `json:"percent" candor:"bucket,edges=0|10|50|100"`
}

func (numbers) EventName() string { return "numbers" }

func TestNormalizeNumbers(t *testing.T) {
	c := New("test")
	c.MustRegister(numbers{}, "")
	tests := []struct {
		name  string
		props map[string]any
		want  map[string]any
		err   Reason
		drops []Violation
	}{
		{
			name:  "rounded and clamped",
			props: map[string]any{"length_b2": 350, "seconds_b2": 0.3, "tools": 1000, "percent": 73.5},
			want:  map[string]any{"length_b2": 512.0, "seconds_b2": 0.5, "tools": 100.0, "percent": 50.0},
		},
		{
			name:  "zero and negative",
			props: map[string]any{"length_b2": 0, "seconds_b2": -4.5, "tools": -3, "percent": -1},
			want:  map[string]any{"length_b2": 0.0, "seconds_b2": 0.0, "tools": 0.0, "percent": 0.0},
		},
		{name: "NaN", props: map[string]any{"length_b2": 1, "seconds_b2": math.NaN(), "tools": 1, "percent": 1}, err: ReasonNotFinite},
		{name: "+Inf", props: map[string]any{"length_b2": 1, "seconds_b2": math.Inf(1), "tools": 1, "percent": 1}, err: ReasonNotFinite},
		{name: "-Inf count", props: map[string]any{"length_b2": 1, "seconds_b2": 1, "tools": math.Inf(-1), "percent": 1}, err: ReasonNotFinite},
		{name: "huge", props: map[string]any{"length_b2": math.MaxInt64, "seconds_b2": 1, "tools": 1, "percent": 1}, err: ReasonOutOfRange},
		{name: "huge negative", props: map[string]any{"length_b2": 1, "seconds_b2": -1e300, "tools": 1, "percent": 1}, err: ReasonOutOfRange},
		{name: "string", props: map[string]any{"length_b2": "12", "seconds_b2": 1, "tools": 1, "percent": 1}, err: ReasonWrongType},
		{
			name:  "optional NaN left out",
			props: map[string]any{"length_b2": 1, "seconds_b2": 1, "tools": 1, "percent": 1, "optional_b2": math.NaN()},
			want:  map[string]any{"length_b2": 1.0, "seconds_b2": 1.0, "tools": 1.0, "percent": 0.0},
			drops: []Violation{{Event: "numbers", Property: "optional_b2", Reason: ReasonNotFinite}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, drops, err := c.Normalize("numbers", tt.props)
			if tt.err != "" {
				var v *Violation
				if !errors.As(err, &v) || v.Reason != tt.err {
					t.Fatalf("error = %v, want reason %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if !reflect.DeepEqual(drops, tt.drops) {
				t.Errorf("violations %v, want %v", drops, tt.drops)
			}
		})
	}
}

func TestIdentifierClass(t *testing.T) {
	accepted := []string{
		"anthropic/claude-sonnet-4-5", "gpt-4o-2024-08-06", "claude-3-5-sonnet-20241022",
		"openai", "apiKey", "baseUrl", "TypeError", "ollama:llama3.1", "mistral.large-2", "plan", "a",
		"std::fmt::Error", "3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b", "1.2.3.4567",
		// Model ids with dots, which a host name followed by a path or a
		// port must not be confused with.
		"openai/gpt-4.1", "anthropic.claude-3-5-sonnet-20241022-v2:0", "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
		"meta.llama3-1-70b-instruct-v1:0", "claude-3.5-sonnet/beta", "api.openai.com",
		// Names with a dot whose last part is no top-level domain: a model
		// id, a runtime, a gRPC method, a source location and a file.
		"azure.openai/gpt-4o", "node.js:18", "helloworld.Greeter/SayHello", "app.Main:42",
		"config.yaml/x", "main.go:12", "install.sh:12", "Makefile.in:3", "README.md/usage",
		// Runs of 7 or 8 digits in a date, in a word of hex digits and in
		// a UUID of version 4 or 7.
		"release-19991231", "model-20240229", "0x10004003", "build-9fceb02d0a", "f1234567",
		"12345678-9a4d-4c1e-8b2a-5d6e7f809a1b", "01890a5d-ac96-774b-bcce-b302a1234567",
		"job-12345678-9a4d-4c1e-8b2a-5d6e7f809a1b", "trace:20241322-9a4d-4c1e-8b2a-5d6e7f809a1b/2",
	}
	for _, s := range accepted {
		if r := checkIdentifier(s); r != "" {
			t.Errorf("checkIdentifier(%q) = %s, want accepted", s, r)
		}
	}
	rejected := map[string]Reason{
		"":                                     ReasonInvalidString,
		strings.Repeat("a", 101):               ReasonTooLong,
		"/home/alice/project":                  ReasonLooksLikePath,
		"home/alice/project":                   ReasonLooksLikePath,
		"Users/alice":                          ReasonLooksLikePath,
		`C:\Users\alice`:                       ReasonLooksLikePath,
		"C:/Users/alice":                       ReasonLooksLikePath,
		"D:projects":                           ReasonLooksLikePath,
		"~/code":                               ReasonLooksLikePath,
		"../etc/passwd":                        ReasonLooksLikePath,
		"./secrets":                            ReasonLooksLikePath,
		"alice@example.com":                    ReasonLooksLikeEmail,
		"https://example.com/alice":            ReasonLooksLikeURL,
		"http://localhost:3000":                ReasonLooksLikeURL,
		"mailto:bob":                           ReasonLooksLikeURL,
		"file:///etc":                          ReasonLooksLikeURL,
		"example.com/alice":                    ReasonLooksLikeURL,
		"github.com/alice/private-repo":        ReasonLooksLikeURL,
		"www.alice-smith.org:8080":             ReasonLooksLikeURL,
		"Intranet.Corp.Example/wiki":           ReasonLooksLikeURL,
		"sk-proj-abc123":                       ReasonLooksLikeSecret,
		"ghp_1234567890abcdefghijklmnopqrs":    ReasonLooksLikeSecret,
		"AKIAIOSFODNN7EXAMPLE":                 ReasonLooksLikeSecret,
		"eyJhbGciOiJIUzI1NiJ9":                 ReasonLooksLikeSecret,
		"0123456789abcdef0123456789abcdef":     ReasonLooksLikeSecret,
		"192.168.1.23":                         ReasonLooksLikeIP,
		"host-10.0.0.7":                        ReasonLooksLikeIP,
		"0177.0.0.1":                           ReasonLooksLikeIP,
		"host-10.0.0.01":                       ReasonLooksLikeIP,
		"ip:2001:db8::1":                       ReasonLooksLikeIP,
		"host-fe80::1":                         ReasonLooksLikeIP,
		"peer/2001:db8::1":                     ReasonLooksLikeIP,
		"6ba7b810-9dad-11d1-80b4-00c04fd430c8": ReasonNotRandomID,
		"fe80::1":                              ReasonLooksLikeIP,
		"::1":                                  ReasonLooksLikeIP,
		"127.0.0.1:8080":                       ReasonLooksLikeIP,
		"5551234567":                           ReasonLooksLikeNumber,
		"4111-1111-1111-1111":                  ReasonLooksLikeNumber,
		"order123456789":                       ReasonLooksLikeNumber,
		"12345678":                             ReasonLooksLikeNumber, // an account number
		"acct-12345678":                        ReasonLooksLikeNumber,
		"user_5551234":                         ReasonLooksLikeNumber, // a local phone number
		"16843009":                             ReasonLooksLikeNumber, // 1.1.1.1 as one number
		"model-20241322":                       ReasonLooksLikeNumber, // no month 13
		"model-20230229":                       ReasonLooksLikeNumber, // no February 29 in 2023
		"release-18991231":                     ReasonLooksLikeNumber, // a year before 1970
		"id-12345678-9a4d-4c1e-8b2a":           ReasonLooksLikeNumber, // no UUID
		"id-12345678-9a4d-1c1e-8b2a-5d6e7f809a1b": ReasonLooksLikeNumber, // a UUID of version 1
		"free text": ReasonInvalidString,
		"nul\x00":   ReasonInvalidString,
		"caf\xc3":   ReasonInvalidString,

		// Host names under a listed top-level domain, in any letter case.
		"intranet.corp.local/wiki": ReasonLooksLikeURL,
		"GitHub.COM/alice":         ReasonLooksLikeURL,
		"api.mistral.ai/v1":        ReasonLooksLikeURL,
		"shop.co.uk:443/cart":      ReasonLooksLikeURL,
		"wiki.corp.local:8080":     ReasonLooksLikeURL,
	}
	for s, want := range rejected {
		if got := checkIdentifier(s); got != want {
			t.Errorf("checkIdentifier(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestVersionClass(t *testing.T) {
	for _, s := range []string{"1.4.2", "v2.0.0-rc.1", "go1.26.8", "unknown", "0.1.0+build.5", "10.0.19045.3803", "20241022", "33.2.1", "1", "2024-01-02", "131.0.6778.85",
		"v0.0.0-20241022153045-abcdef123456", "1.2.1-0.20241022153045-abcdef123456"} {
		if !isVersion(s) {
			t.Errorf("isVersion(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "dev", "v", "1..2", "1.0 beta", "release-2024", "sk-proj-abcdefghijklmnop123456", "ghp_abc123",
		"4111111111111111", "4111-1111-1111-1111", "192.168.1.23", "/usr/1.0", "alice@1.0", "1.0.0-" + strings.Repeat("x", 64),
		"1.0.4111111111111111", "4111111111111111.1", "v1.0.0-4111111111111111", "1.0.0+build.4111111111111111",
		"1.0.0-5551234567", "v0.0.0-41111111111111-abcdef123456",
		"4111.1111.1111.1111", "4111_1111_1111_1111", "5551_123_4567", "192.168.001.020", "0177.0.0.1-beta",
		"6ba7b810-9dad-11d1-80b4-00c04fd430c8",
		// IPv4 addresses with a suffix: in a private, loopback or
		// link-local range, with a suffix without letters, after +, or
		// with a leading zero.
		"10.0.0.1-foo", "192.168.1.23-eth0", "172.16.0.5-node1", "127.0.0.1-dev", "169.254.10.20-link",
		"192.168.1.23-microsoft-standard-WSL2", "5.15.153.1", "5.15.153.1-2", "5.15.153.1+WSL2", "8.8.8.8-foo",
		"5.015.153.1-microsoft-standard-WSL2"} {
		if isVersion(s) {
			t.Errorf("isVersion(%q) = true, want false", s)
		}
	}
}

func TestRandomIDClass(t *testing.T) {
	for _, s := range []string{
		"3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b", // v4
		"01890a5d-ac96-774b-bcce-b302099a8057", // v7
		"0123456789abcdef01234567",             // 96 bits of hex
		"k3J9xQ2mV7pL0wR5tY8zB1nC",             // base64url
		"0123456789abcdef0123456789abcdef4567", // 36 hex digits, the length of a UUID
		"Qm9vbGVhbjEyMzQ1Njc4OQ_Xy7aB2cD3eF4g", // 36 base64url characters
		"rV3x_9KqL0bZ-7mWc2Tn",                 // base64url with - and _
	} {
		if !isRandomID(s) {
			t.Errorf("isRandomID(%q) = false, want true", s)
		}
	}
	for _, s := range []string{
		"3f1c2b7e-9a4d-1c1e-8b2a-5d6e7f809a1b", // v1
		"0190a6e5-7b7c-8a3e-9b1f-312345678901", // v8
		"0123456789abcdef",                     // 64 bits
		"aaaaaaaaaaaaaaaaaaaaaaaa",
		"sk-proj-abcdefghijklmnop123456",
		"ghp_1234567890abcdefghij",
		"AKIAIOSFODNN7EXAMPLE1234",
		"alice@example.com",
		"workspace-of-alice",
		"00000000-0000-4000-8000-000000000000", // v4 layout, no random bits
		"15551234-5670-4000-8000-000000000000",
		"YWxpY2VAZXhhbXBsZS5jb20",            // base64url of alice@example.com
		"Qm9vbGVhbjEyMzQ1Njc4OQ",             // base64url of Boolean123456789
		"616c696365406578616d706c652e636f6d", // hex of alice@example.com
		"KzE1NTUxMjM0NTY3",                   // base64url of +15551234567
	} {
		if isRandomID(s) {
			t.Errorf("isRandomID(%q) = true, want false", s)
		}
	}
}

type inner struct {
	Name string `json:"name,omitempty" candor:"identifier,optional"`
	Kind string `json:"kind" candor:"enum=a|b"`
}

type withObject struct {
	Inner inner `json:"inner" candor:"object"`
}

func (withObject) EventName() string { return "with_object" }

func TestNestedViolationsNamed(t *testing.T) {
	c := New("test")
	c.MustRegister(withObject{}, "")
	name, props, err := c.Properties(withObject{Inner: inner{Name: "/home/alice", Kind: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	got, drops, err := c.Normalize(name, props)
	if err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	want := []Violation{{Event: "with_object", Property: "inner.name", Reason: ReasonLooksLikePath}}
	if !reflect.DeepEqual(drops, want) {
		t.Errorf("violations %v, want %v", drops, want)
	}
	if !reflect.DeepEqual(got, map[string]any{"inner": map[string]any{"kind": "a"}}) {
		t.Errorf("normalized %v, want the path left out", got)
	}
}

type noClass struct {
	Model string `json:"model"`
}

func (noClass) EventName() string { return "no_class" }

type wrongType struct {
	Length string `json:"length_b2" candor:"base2"`
}

func (wrongType) EventName() string { return "wrong_type" }

type optionalNotPointer struct {
	Flag bool `json:"flag" candor:"bool,optional"`
}

func (optionalNotPointer) EventName() string { return "optional_not_pointer" }

type unknownClass struct {
	Name string `json:"name" candor:"free_text"`
}

func (unknownClass) EventName() string { return "unknown_class" }

type enumWithoutValues struct {
	Mode string `json:"mode" candor:"enum"`
}

func (enumWithoutValues) EventName() string { return "enum_without_values" }

type countWithoutMax struct {
	Tools int `json:"tools" candor:"count"`
}

func (countWithoutMax) EventName() string { return "count_without_max" }

type noJSONName struct {
	Model string `candor:"identifier"`
}

func (noJSONName) EventName() string { return "no_json_name" }

type countFloat struct {
	Tools float64 `json:"tools" candor:"count,max=5"`
}

func (countFloat) EventName() string { return "count_float" }

type unexportedTagged struct {
	Model string `json:"model" candor:"identifier"`
	mode  string `candor:"enum=a|b"`
}

func (unexportedTagged) EventName() string { return "unexported_tagged" }

type baseName struct {
	Version string `json:"version" candor:"version"`
}

func (baseName) EventName() string { return "base_name" }

type reservedName struct {
	Person string `json:"$set" candor:"identifier"`
}

func (reservedName) EventName() string { return "reserved_name" }

type identifierWithValues struct {
	Mode string `json:"mode" candor:"identifier,enum=a|b"`
}

func (identifierWithValues) EventName() string { return "identifier_with_values" }

type enumWithMax struct {
	Mode string `json:"mode" candor:"enum=a|b,max=5"`
}

func (enumWithMax) EventName() string { return "enum_with_max" }

type base2WithEdges struct {
	Size int `json:"size_b2" candor:"base2,edges=0|10"`
}

func (base2WithEdges) EventName() string { return "base2_with_edges" }

type enumWithEmptyValue struct {
	Mode string `json:"mode" candor:"enum=a||b"`
}

func (enumWithEmptyValue) EventName() string { return "enum_with_empty_value" }

type enumTwice struct {
	Mode string `json:"mode" candor:"enum=a|b,enum=c"`
}

func (enumTwice) EventName() string { return "enum_twice" }

func TestRegisterRejectsBadFields(t *testing.T) {
	tests := []struct {
		ev    Event
		field string
		want  string
	}{
		{noClass{}, "Model", "missing candor tag"},
		{wrongType{}, "Length", "class base2 needs an integer or float"},
		{optionalNotPointer{}, "Flag", "a *bool when optional"},
		{unknownClass{}, "Name", `unknown privacy class "free_text"`},
		{enumWithoutValues{}, "mode", "enum without values"},
		{countWithoutMax{}, "tools", "count needs a positive maximum"},
		{noJSONName{}, "Model", "missing json tag"},
		{countFloat{}, "Tools", "class count needs an integer"},
		{unknownClass{}, "Name", "use one of random_id, enum,"},
		{unexportedTagged{}, "mode", "unexported field with a candor tag"},
		{baseName{}, "version", "base property"},
		{reservedName{}, "$set", "start with $"},
		{identifierWithValues{}, "mode", "values apply only to class enum"},
		{enumWithMax{}, "mode", "max applies only to class count"},
		{base2WithEdges{}, "size_b2", "edges apply only to class bucket"},
		{enumWithEmptyValue{}, "mode", "empty enum value"},
		{enumTwice{}, "Mode", `option "enum" given twice`},
	}
	for _, tt := range tests {
		t.Run(tt.ev.EventName(), func(t *testing.T) {
			err := New("test").Register(tt.ev, "")
			if err == nil {
				t.Fatal("Register succeeded, want an error")
			}
			msg := err.Error()
			if !strings.Contains(msg, `"`+tt.ev.EventName()+`"`) {
				t.Errorf("error %q does not name the event", msg)
			}
			if !strings.Contains(msg, tt.field) {
				t.Errorf("error %q does not name the field %s", msg, tt.field)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not contain %q", msg, tt.want)
			}
		})
	}
}

type nestedObjects struct {
	Inner    inner       `json:"inner" candor:"object"`
	Optional *inner      `json:"optional,omitempty" candor:"object,optional"`
	Outer    outerObject `json:"outer" candor:"object"`
}

type outerObject struct {
	Inner inner `json:"inner" candor:"object"`
}

func (nestedObjects) EventName() string { return "nested_objects" }

// TestNestedRejectionNamesMember checks that a member that breaks its class
// is named by its path, and that a member name the payload chose is not.
func TestNestedRejectionNamesMember(t *testing.T) {
	c := New("test")
	c.MustRegister(nestedObjects{}, "")
	valid := func() map[string]any {
		return map[string]any{
			"inner": map[string]any{"kind": "a"},
			"outer": map[string]any{"inner": map[string]any{"kind": "b"}},
		}
	}
	tests := []struct {
		name    string
		change  func(props map[string]any)
		want    *Violation  // the rejection, or nil
		dropped []Violation // the values left out of an accepted event
	}{
		{"member of wrong type", func(p map[string]any) { p["inner"] = map[string]any{"kind": 5} },
			&Violation{Event: "nested_objects", Property: "inner.kind", Reason: ReasonWrongType}, nil},
		{"member missing", func(p map[string]any) { p["inner"] = map[string]any{} },
			&Violation{Event: "nested_objects", Property: "inner.kind", Reason: ReasonMissing}, nil},
		{"member not in enum", func(p map[string]any) { p["inner"] = map[string]any{"kind": "c"} },
			&Violation{Event: "nested_objects", Property: "inner.kind", Reason: ReasonNotInEnum}, nil},
		{"member two levels down", func(p map[string]any) { p["outer"] = map[string]any{"inner": map[string]any{"kind": true}} },
			&Violation{Event: "nested_objects", Property: "outer.inner.kind", Reason: ReasonWrongType}, nil},
		{"unknown member", func(p map[string]any) { p["inner"] = map[string]any{"kind": "a", "secret_name": "x"} },
			nil, []Violation{{Event: "nested_objects", Property: "inner", Reason: ReasonUnknownProperty}}},
		{"unknown members two levels down", func(p map[string]any) {
			p["outer"] = map[string]any{"inner": map[string]any{"kind": "b", "x": 1, "y": 2}, "z": 3}
		}, nil, []Violation{
			{Event: "nested_objects", Property: "outer", Reason: ReasonUnknownProperty},
			{Event: "nested_objects", Property: "outer.inner", Reason: ReasonUnknownProperty},
			{Event: "nested_objects", Property: "outer.inner", Reason: ReasonUnknownProperty},
		}},
		{"object of wrong type", func(p map[string]any) { p["inner"] = "a" },
			&Violation{Event: "nested_objects", Property: "inner", Reason: ReasonWrongType}, nil},
		{"optional object with bad member", func(p map[string]any) { p["optional"] = map[string]any{"kind": 5} },
			nil, []Violation{{Event: "nested_objects", Property: "optional.kind", Reason: ReasonWrongType}}},
		{"optional object with unknown member", func(p map[string]any) { p["optional"] = map[string]any{"kind": "a", "x": 1} },
			nil, []Violation{{Event: "nested_objects", Property: "optional", Reason: ReasonUnknownProperty}}},
		{"optional object with bad and unknown members", func(p map[string]any) { p["optional"] = map[string]any{"kind": 5, "x": 1} },
			nil, []Violation{{Event: "nested_objects", Property: "optional.kind", Reason: ReasonWrongType}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			props := valid()
			tc.change(props)
			got, dropped, err := c.Normalize("nested_objects", props)
			var v *Violation
			if tc.want != nil {
				if !errors.As(err, &v) {
					t.Fatalf("Normalize error = %v, want %v", err, tc.want)
				}
				if *v != *tc.want {
					t.Errorf("Normalize violation = %+v, want %+v", *v, *tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			if !reflect.DeepEqual(dropped, tc.dropped) {
				t.Errorf("dropped = %+v, want %+v", dropped, tc.dropped)
			}
			// Unknown members are left out and the object is kept; a
			// member that breaks its class leaves the optional object out.
			want := valid()
			if _, ok := props["optional"]; ok && tc.dropped[0].Reason == ReasonUnknownProperty {
				want["optional"] = map[string]any{"kind": "a"}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("normalized %v, want %v", got, want)
			}
		})
	}
}

func TestLookupPropertyByPath(t *testing.T) {
	c := New("test")
	c.MustRegister(nestedObjects{}, "")
	tests := []struct {
		event, path string
		want        string // the name of the definition found, or "" for none
	}{
		{"nested_objects", "inner", "inner"},
		{"nested_objects", "inner.kind", "kind"},
		{"nested_objects", "outer.inner.name", "name"},
		{"nested_objects", "version", "version"},
		{"nested_objects", "$feature/new.onboarding", FeaturePrefix + "*"},
		{"nested_objects", "inner.missing", ""},
		{"nested_objects", "inner.kind.deeper", ""},
		{"nested_objects", "missing", ""},
		{"unknown_event", "inner", ""},
	}
	for _, tc := range tests {
		p, ok := c.LookupProperty(tc.event, tc.path)
		if ok != (tc.want != "") {
			t.Errorf("LookupProperty(%q, %q) found = %v, want %v", tc.event, tc.path, ok, tc.want != "")
			continue
		}
		if ok && p.Name != tc.want {
			t.Errorf("LookupProperty(%q, %q) = %q, want %q", tc.event, tc.path, p.Name, tc.want)
		}
	}
}

func TestViolationKeyLeavesOutUnknownNames(t *testing.T) {
	c := New("test")
	c.MustRegister(nestedObjects{}, "")
	tests := []struct {
		violation Violation
		want      string
	}{
		{Violation{Event: "nested_objects", Property: "outer.inner.kind", Reason: ReasonWrongType}, "nested_objects outer.inner.kind wrong_type"},
		{Violation{Event: "nested_objects", Property: "inner", Reason: ReasonUnknownProperty}, "nested_objects inner unknown_property"},
		{Violation{Event: "nested_objects", Property: "home_of_alice", Reason: ReasonUnknownProperty}, "nested_objects unknown_property"},
		{Violation{Event: "nested_objects", Reason: ReasonWrongType}, "nested_objects wrong_type"},
		{Violation{Event: "page_of_alice", Reason: ReasonUnknownEvent}, "unknown_event"},
	}
	for _, tc := range tests {
		if got := c.ViolationKey(tc.violation); got != tc.want {
			t.Errorf("ViolationKey(%+v) = %q, want %q", tc.violation, got, tc.want)
		}
	}
}
