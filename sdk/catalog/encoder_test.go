package catalog_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

// muxEvents holds one value of every Mux event type.
var muxEvents = []catalog.Event{
	mux.AppStarted{}, mux.WorkspaceCreated{}, mux.WorkspaceSwitched{}, mux.MessageSent{},
	mux.MCPContextInjected{}, mux.MCPServerTested{}, mux.MCPServerConfigChanged{},
	mux.MCPOAuthFlowStarted{}, mux.MCPOAuthFlowCompleted{}, mux.MCPOAuthFlowFailed{},
	mux.StatsTabOpened{}, mux.StreamTimingComputed{}, mux.StreamTimingInvalid{},
	mux.StreamCompleted{}, mux.CompactionCompleted{}, mux.ProviderConfigured{},
	mux.CommandUsed{}, mux.VoiceTranscription{}, mux.ErrorOccurred{}, mux.ExperimentOverridden{},
}

// Values the generator puts in fields, valid and invalid for each class.
var (
	testStrings = []string{
		"", "local", "worktree", "medium", "exec", "plan", "clear:hard", "last-request",
		"stdio", "http", "timeout", "set_tool_allowlist", "anthropic", "apiKey", "TypeError",
		"message-send", "anthropic/claude-sonnet-4-5", "gpt-4o-2024-08-06", "1.2.3", "v2.0.0-rc.1",
		"go1.26.8", "unknown", "3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b", "0f8fad5b-d9cb-469f-a165-70867728950e",
		"0123456789abcdef01234567", "aB3dE5fG7hJ9kL1mN3pQ",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Chrome 131 (macOS)", "MacIntel", "Linux x86_64", "Win32", "iPhone",
		"/home/alice/projects/secret", `C:\Users\alice`, "alice@example.com", "https://example.com/alice",
		"sk-proj-abcdefghijklmnopqrstuvwx1234567890", "192.168.1.23", "5551234567", "4111-1111-1111-1111",
		"please fix the login bug", "<script>alert(1)</script>", "a&b", "nul\x00byte", "invalid\xff\xfeutf8",
		"line1\nline2", "emoji-🔥", "\u2028sep", strings.Repeat("x", 101), `quote"d`, `back\slash`,
	}
	testNumbers = []float64{
		0, math.Copysign(0, -1), -1, 1, 3, 7, 10, 25, 99, 100, 350, 512, 513, 1000, 1200, 65536,
		0.3, 0.5, 2.5, 1e-7, 3e-9, 1234.5678, 1 << 40, catalog.MaxExactNumber, catalog.MaxExactNumber + 2,
		1 << 60, 1e21, -1e300, math.NaN(), math.Inf(1), math.Inf(-1), math.MaxInt64,
	}
	testVariants = []any{nil, true, false, "control", "variant-b", "/home/alice", "alice@example.com", "", 3, 2.5, []string{"a"}}
)

// fill sets every field of the struct v points to from the tables, chosen
// by rng, leaving pointers nil about a quarter of the time.
func fill(rng *rand.Rand, v reflect.Value) {
	for i := 0; i < v.NumField(); i++ {
		setValue(rng, v.Field(i))
	}
}

func setValue(rng *rand.Rand, f reflect.Value) {
	switch f.Kind() {
	case reflect.Pointer:
		if rng.IntN(4) == 0 {
			f.SetZero()
			return
		}
		p := reflect.New(f.Type().Elem())
		setValue(rng, p.Elem())
		f.Set(p)
	case reflect.Struct:
		fill(rng, f)
	case reflect.String:
		f.SetString(testStrings[rng.IntN(len(testStrings))])
	case reflect.Bool:
		f.SetBool(rng.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x := testNumbers[rng.IntN(len(testNumbers))]
		if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) >= math.MaxInt64 {
			x = float64(rng.Int64() >> rng.IntN(64))
		}
		f.SetInt(int64(x))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f.SetUint(rng.Uint64() >> rng.IntN(64))
	case reflect.Float32, reflect.Float64:
		f.SetFloat(testNumbers[rng.IntN(len(testNumbers))])
	case reflect.Interface:
		if x := testVariants[rng.IntN(len(testVariants))]; x != nil {
			f.Set(reflect.ValueOf(x))
		} else {
			f.SetZero()
		}
	default:
		panic("no test values for " + f.Type().String())
	}
}

// testBases are base property sets: what the SDK sends, with feature flags,
// and with values that break their classes.
var testBases = []map[string]any{
	nil,
	{
		"version": "1.2.3", "backend_platform": "linux", "electronVersion": "unknown",
		"nodeVersion": "unknown", "bunVersion": "unknown", "goVersion": "go1.26.8",
		"catalogFingerprint": "05d0acf6ab21a34b", "$lib": "candor-go", "$lib_version": "0.1.0",
		"$geoip_disable": true, "$feature/new-onboarding": "variant-b", "$feature/dark": false,
	},
	{
		"version": "1.2.3 for alice", "backend_platform": "windows", "$lib": "/home/alice",
		"$geoip_disable": "yes", "nodeVersion": nil, "favorite_color": "blue",
		"$feature/ok": nil, "$feature/bad key": true, "$feature/x": 3,
	},
}

// checkSame encodes ev on both paths and fails the test when they differ:
// AppendProperties must send nothing Normalize rejects, and what it sends
// must be json.Marshal of Normalize's map, with the same violations.
func checkSame(t *testing.T, c *catalog.Catalog, ev catalog.Event, baseProps map[string]any, base *catalog.Base, mustCompile bool) {
	t.Helper()
	name, props, err := c.Properties(ev)
	var want map[string]any
	var wantDropped []catalog.Violation
	if err == nil {
		for k, v := range baseProps {
			if _, taken := props[k]; !taken {
				props[k] = v
			}
		}
		want, wantDropped, err = c.Normalize(name, props)
	}

	prefix := []byte("prefix")
	got, dropped, ok := c.AppendProperties(prefix, ev, base)
	if !ok {
		if !bytes.Equal(got, prefix) {
			t.Errorf("%s %+v: AppendProperties changed dst to %q while declining", name, ev, got)
		}
		if mustCompile && err == nil {
			t.Errorf("%s %+v: AppendProperties declined an event Normalize accepts", name, ev)
		}
		return
	}

	if err != nil {
		t.Fatalf("%s %+v: AppendProperties encoded an event Normalize rejects (%v): %s", name, ev, err, got)
	}
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("%s: AppendProperties lost dst: %q", name, got)
	}
	got = got[len(prefix):]

	wantJSON, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, wantJSON) {
		t.Errorf("%s %+v:\n got %s\nwant %s", name, ev, got, wantJSON)
	}
	var decoded, wantDecoded map[string]any
	if err := json.Unmarshal(got, &decoded); err != nil {
		t.Fatalf("%s: AppendProperties wrote invalid JSON %q: %v", name, got, err)
	}
	json.Unmarshal(wantJSON, &wantDecoded)
	if !reflect.DeepEqual(decoded, wantDecoded) {
		t.Errorf("%s %+v: decoded\n got %v\nwant %v", name, ev, decoded, wantDecoded)
	}
	if len(dropped) != 0 || len(wantDropped) != 0 {
		if !reflect.DeepEqual(dropped, wantDropped) {
			t.Errorf("%s %+v: violations\n got %v\nwant %v", name, ev, dropped, wantDropped)
		}
	}
}

func TestAppendPropertiesMatchesNormalizeForMux(t *testing.T) {
	c := mux.Catalog()
	covered := map[string]bool{}
	for _, ev := range muxEvents {
		covered[ev.EventName()] = true
	}
	for _, def := range c.Events {
		if !covered[def.Name] {
			t.Errorf("event %q has no type in muxEvents", def.Name)
		}
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for _, baseProps := range testBases {
		base := c.NewBase(baseProps)
		for _, proto := range muxEvents {
			for range 400 {
				v := reflect.New(reflect.TypeOf(proto))
				fill(rng, v.Elem())
				checkSame(t, c, v.Elem().Interface().(catalog.Event), baseProps, base, true)
				checkSame(t, c, v.Interface().(catalog.Event), baseProps, base, true)
			}
		}
	}
}

// TestAppendPropertiesMatchesNormalizeForValidEvents encodes events whose
// values all pass, so that every property reaches the JSON.
func TestAppendPropertiesMatchesNormalizeForValidEvents(t *testing.T) {
	c := mux.Catalog()
	base := c.NewBase(testBases[1])
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
	ten := 10
	events := []catalog.Event{
		mux.AppStarted{IsFirstLaunch: true},
		mux.MessageSent{
			WorkspaceID: "3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b", Model: "anthropic/claude-sonnet-4-5", AgentID: "exec",
			MessageLength: 350, RuntimeType: "ssh", ThinkingLevel: "xhigh",
			FrontendPlatform: mux.FrontendPlatform{UserAgent: ua, Platform: "Win32"},
		},
		mux.MCPServerConfigChanged{Action: "set_tool_allowlist", Transport: "sse", ToolAllowlistSize: &ten},
		mux.StreamTimingComputed{Model: "gpt-4o", DurationMs: 1, TTFTMs: 0, ToolMs: -5, StreamingMs: 1 << 40, ToolPercentBucket: 57},
		mux.StreamCompleted{Model: "o3", DurationSecs: 0.0001, OutputTokens: 9000},
		mux.VoiceTranscription{AudioDurationSecs: 1e-9, Success: true},
		mux.ExperimentOverridden{ExperimentID: "new-onboarding", AssignedVariant: nil},
		mux.ExperimentOverridden{ExperimentID: "new-onboarding", AssignedVariant: "control", UserChoice: true},
		mux.MCPContextInjected{
			WorkspaceID: "0123456789abcdef01234567", Model: "m", RuntimeType: "docker", ServerEnabledCount: 500,
			MCPToolCount: -3, TransportMode: "mixed", HasHTTP: true, SetupDurationMs: 3,
		},
	}
	for _, ev := range events {
		checkSame(t, c, ev, testBases[1], base, true)
		if _, _, ok := c.AppendProperties(nil, ev, base); !ok {
			t.Errorf("%s: AppendProperties declined a valid event", ev.EventName())
		}
	}
}

type millis int64

type edgeInner struct {
	Name  string  `json:"name,omitempty" candor:"identifier,optional"`
	Kind  string  `json:"kind" candor:"enum=a|b|<&>"`
	Count *uint16 `json:"count,omitempty" candor:"count,max=10,optional"`
}

type edgeDeep struct {
	Inner edgeInner `json:"inner" candor:"object"`
	Flag  any       `json:"flag" candor:"variant"`
}

// edgeEvent has the Go types the Mux catalog does not use.
type edgeEvent struct {
	Small    int8       `json:"small_b2" candor:"base2"`
	Unsigned uint64     `json:"unsigned" candor:"bucket,edges=-1.5|0|0.25|1e3|1e22"`
	Single   float32    `json:"single_b2" candor:"base2"`
	Named    millis     `json:"named_b2" candor:"base2"`
	NamedOpt *millis    `json:"named_opt_b2,omitempty" candor:"base2,optional"`
	OptBool  *bool      `json:"opt_bool,omitempty" candor:"bool,optional"`
	Variant  string     `json:"variant" candor:"variant"`
	VarBool  bool       `json:"var_bool" candor:"variant"`
	Deep     edgeDeep   `json:"deep" candor:"object"`
	OptDeep  *edgeInner `json:"opt_deep,omitempty" candor:"object,optional"`
	Ver      string     `json:"ver,omitempty" candor:"version,optional"`
}

func (edgeEvent) EventName() string { return "edge" }

// collides has properties named like base properties, which Register
// rejects, so AppendProperties never meets a name that a base property
// also has.
type collides struct {
	Version string `json:"version,omitempty" candor:"identifier,optional"`
	Flag    string `json:"$feature/dark,omitempty" candor:"identifier,optional"`
}

func (collides) EventName() string { return "collides" }

// pointerEvent names itself through a pointer, so a nil one still has a
// name.
type pointerEvent struct {
	Model string `json:"model" candor:"identifier"`
}

func (*pointerEvent) EventName() string { return "pointer" }

// impostor has the name of a registered event but another type.
type impostor struct {
	Model string `json:"model" candor:"identifier"`
}

func (impostor) EventName() string { return "edge" }

func TestAppendPropertiesMatchesNormalizeForEdgeTypes(t *testing.T) {
	c := catalog.New("edge")
	c.MustRegister(edgeEvent{}, "")
	if err := c.Register(&collides{}, ""); err == nil {
		t.Error("Register accepted collides, whose properties are named like base properties")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, baseProps := range testBases {
		base := c.NewBase(baseProps)
		for range 3000 {
			var ev edgeEvent
			fill(rng, reflect.ValueOf(&ev).Elem())
			checkSame(t, c, ev, baseProps, base, false)
			checkSame(t, c, &ev, baseProps, base, false)
		}
	}

	c.MustRegister(&pointerEvent{}, "")
	var nilEvent *pointerEvent
	if _, _, ok := c.AppendProperties(nil, nilEvent, nil); ok {
		t.Error("AppendProperties encoded a nil *pointerEvent")
	}
	checkSame(t, c, &pointerEvent{Model: "m"}, nil, nil, true)
	if _, _, ok := c.AppendProperties(nil, impostor{Model: "m"}, nil); ok {
		t.Error("AppendProperties encoded a type other than the registered one")
	}
}

// TestAppendPropertiesDeclinesParsedCatalogs checks that a catalog loaded
// from JSON, which has no Go types, leaves every event to Normalize.
func TestAppendPropertiesDeclinesParsedCatalogs(t *testing.T) {
	data, err := mux.Catalog().MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := c.AppendProperties(nil, mux.AppStarted{}, nil); ok {
		t.Error("AppendProperties encoded an event of a parsed catalog")
	}
}

func TestAppendPropertiesAllocations(t *testing.T) {
	c := mux.Catalog()
	base := c.NewBase(testBases[1])
	var ev catalog.Event = mux.MessageSent{
		WorkspaceID: "3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b", Model: "anthropic/claude-sonnet-4-5",
		MessageLength: 350, RuntimeType: "local", ThinkingLevel: "medium",
		FrontendPlatform: mux.FrontendPlatform{UserAgent: "Chrome 131 (macOS)", Platform: "macOS"},
	}
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(200, func() {
		if _, _, ok := c.AppendProperties(buf[:0], ev, base); !ok {
			t.Fatal("declined")
		}
	})
	if allocs != 0 {
		t.Errorf("AppendProperties allocates %v times per event, want 0", allocs)
	}
}

func BenchmarkAppendProperties(b *testing.B) {
	c := mux.Catalog()
	base := c.NewBase(testBases[1])
	var ev catalog.Event = mux.MessageSent{
		WorkspaceID: "3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b", Model: "anthropic/claude-sonnet-4-5", AgentID: "exec",
		MessageLength: 350, RuntimeType: "local", ThinkingLevel: "medium",
		FrontendPlatform: mux.FrontendPlatform{
			UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36",
			Platform:  "MacIntel",
		},
	}
	b.Run("compiled", func(b *testing.B) {
		buf := make([]byte, 0, 4096)
		b.ReportAllocs()
		for b.Loop() {
			buf, _, _ = c.AppendProperties(buf[:0], ev, base)
		}
	})
	b.Run("normalize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			name, props, _ := c.Properties(ev)
			for k, v := range testBases[1] {
				props[k] = v
			}
			out, _, _ := c.Normalize(name, props)
			if _, err := json.Marshal(out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func ExampleCatalog_AppendProperties() {
	c := mux.Catalog()
	base := c.NewBase(map[string]any{"version": "1.4.2"})
	out, dropped, ok := c.AppendProperties(nil, mux.CommandUsed{Command: "compact"}, base)
	fmt.Println(string(out), len(dropped), ok)
	// Output: {"command":"compact","version":"1.4.2"} 0 true
}
