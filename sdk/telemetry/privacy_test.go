package telemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

// hostileStrings are values an app might pass by mistake that must never
// leave the machine: paths with user names on each OS, emails, API keys
// and tokens, URLs with credentials or queries, addresses, personal
// numbers, free text and malformed strings.
//
// NOTE: bare hex or base64url key material without a known prefix is not
// listed. The identifier and version classes reject it, but a random_id
// field accepts it, because a random ID is exactly such a token.
var hostileStrings = []string{
	"/home/alice/projects/secret-app",
	"/Users/alice/Documents/plan.md",
	`C:\Users\alice\AppData\Roaming\mux`,
	"C:/Users/alice/code",
	"D:projects-alice",
	`\\fileserver\share\alice`,
	"~/projects/acme-alice",
	"~alice/notes",
	"../../etc/passwd",
	"./config/secret-app.json",
	"home/alice/work",
	"Users/alice",
	"/var/folders/xy/alice/T",
	"/root/.ssh/id_rsa",
	"file:///home/alice/notes.txt",
	"alice@example.com",
	"mailto:bob@corp.example",
	"Alice Smith <alice@example.com>",
	"sk-proj-abcdefghijklmnopqrstuvwx1234567890",
	"sk-ant-api03-abcdefghijklmnop",
	"sk_live_51Habcdefghijklmnop",
	"ghp_1234567890abcdefghijklmnopqrstuvwxyz",
	"github_pat_11ABCDEFG0123456789",
	"AKIAIOSFODNN7EXAMPLE",
	"xoxb-1234-5678-abcdefghijkl",
	"glpat-abcdefghij1234567890",
	"AIzaSyA1234567890abcdefghijklmnopqrstu",
	"hf_abcdefghijklmnopqrstuvwxyz",
	"npm_abcdefghijklmnopqrstuvwxyz0123456789",
	"phc_abcdefghijklmnopqrstuvwxyz123456",
	"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
	"Bearer abcdef0123456789abcdef0123456789",
	"https://user:hunter2@git.example.com/repo.git",
	"https://api.example.com/v1?token=abc123",
	"https://example.com/alice",
	"http://localhost:3000/callback#access_token=xyz",
	"postgres://admin:hunter2@db.internal:5432/prod",
	"192.168.1.23",
	"10.0.0.7:8080",
	"fe80::1ff:fe23:4567:890a",
	"5551234567",
	"+1 555 123 4567",
	"4111111111111111",
	"4111-1111-1111-1111",
	"please fix the login bug in my app",
	"My name is Alice and I live in Paris",
	"rm -rf / --no-preserve-root",
	"SELECT * FROM users WHERE email='a@b.c'",
	"<script>alert(1)</script>",
	"nul\x00byte-alice",
	"invalid\xff\xfeutf8-alice",
	"line1\nline2-alice",
	"tab\there-alice",
	"emoji-🔥-alice",
	strings.Repeat("alice", 2000),
	"",
	"   ",
}

// hostileFloats and hostileInts go into every number field.
var (
	hostileFloats = []float64{
		math.NaN(), math.Inf(1), math.Inf(-1), -1, -350.5, -1e308, 1e308, math.MaxFloat64,
		math.SmallestNonzeroFloat64, math.Copysign(0, -1), 0.3, 12345678.9, 1 << 60, 5551234567,
	}
	hostileInts = []int64{
		-1, -350, math.MinInt64, math.MaxInt64, 1<<53 + 1, 5551234567, 4111111111111111, 123456789,
	}
)

// forbiddenOnWire are substrings of the hostile values that no request body
// may contain in any form. None is short lower-case hex, which random UUIDs
// and the catalog fingerprint contain by chance.
var forbiddenOnWire = []string{
	"alice", "Alice", "hunter2", "@", "sk-", "sk_live", "ghp_", "github_pat", "AKIA", "xoxb", "glpat", "AIza",
	"eyJ", "://", "passwd", "id_rsa", "secret-app", "Bearer", "192.168", "10.0.0.7", "fe80::", "Paris",
	"login bug", "SELECT", "<script", "\\u0000", "\\ufffd", "/home", "Users/", `C:\\`, "C:/", "~/", "../",
	"5551234567", "555 123", "4111111111111111", "1111-1111-1111", "12345678", "123456789", "1152921504606846976",
}

// muxEvents lists one value of every Mux event type.
var muxEvents = []catalog.Event{
	mux.AppStarted{}, mux.WorkspaceCreated{}, mux.WorkspaceSwitched{}, mux.MessageSent{},
	mux.MCPContextInjected{}, mux.MCPServerTested{}, mux.MCPServerConfigChanged{},
	mux.MCPOAuthFlowStarted{}, mux.MCPOAuthFlowCompleted{}, mux.MCPOAuthFlowFailed{},
	mux.StatsTabOpened{}, mux.StreamTimingComputed{}, mux.StreamTimingInvalid{}, mux.StreamCompleted{},
	mux.CompactionCompleted{}, mux.ProviderConfigured{}, mux.CommandUsed{}, mux.VoiceTranscription{},
	mux.ErrorOccurred{}, mux.ExperimentOverridden{},
}

func TestPrivacyContract(t *testing.T) {
	if len(hostileStrings) < 40 {
		t.Fatalf("only %d hostile strings", len(hostileStrings))
	}
	cat := mux.Catalog()
	assertCoversCatalog(t, cat)

	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newClient(t, cfg)

	var captured, fields int
	for _, proto := range muxEvents {
		def, _ := cat.Lookup(proto.EventName())
		for _, path := range hostileFields(reflect.TypeOf(proto), nil) {
			fields++
			for _, value := range hostileValuesFor(reflect.TypeOf(proto).FieldByIndex(path).Type) {
				ev := validEvent(t, proto, def)
				setField(ev.Elem().FieldByIndex(path), value)
				c.Capture(ev.Elem().Interface().(catalog.Event))
				captured++
			}
		}
	}
	flush(t, c)
	st := closeClient(t, c)
	t.Logf("%d hostile events over %d fields: %d sent, %d dropped, violations %v", captured, fields, st.Sent, st.Dropped, st.Violations)

	if st.Captured != int64(captured) || st.Sent+st.Dropped != st.Captured {
		t.Errorf("captured %d (stats %d) != sent %d + dropped %d", captured, st.Captured, st.Sent, st.Dropped)
	}
	if st.Sent == 0 {
		t.Errorf("nothing was sent: events with a hostile optional value should still go out without it")
	}
	assertNothingHostile(t, col.bodies())
	assertWireMatchesCatalog(t, cat, col.accepted())
	assertLogsNameOnly(t, logs.String())
}

func TestPrivacyContractBaseProperties(t *testing.T) {
	cat := mux.Catalog()
	col := newCollector(t)
	for _, value := range hostileStrings {
		cfg := testConfig(t, col.srv.URL)
		cfg.Version = value
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New with Version %q: error %v, want ErrInvalidConfig", value, err)
		}
		cfg.Version = "1.2.3"
		// An empty ElectronVersion or Platform selects the default.
		if value != "" {
			cfg.ElectronVersion = value
			if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("New with ElectronVersion %q: error %v, want ErrInvalidConfig", value, err)
			}
			cfg.ElectronVersion = ""
			cfg.Platform = value
			if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("New with Platform %q: error %v, want ErrInvalidConfig", value, err)
			}
			cfg.Platform = ""
		}
		c := newClient(t, cfg)
		c.SetFeatureFlagVariant(value, "control")
		c.SetFeatureFlagVariant("flag", value)
		c.SetFeatureFlagVariant("number-flag", 12345678.9)
		c.Capture(mux.CommandUsed{Command: "new"})
		closeClient(t, c)
	}
	events := col.accepted()
	if len(events) != len(hostileStrings) {
		t.Errorf("collector got %d events, want one per value: base properties drop, the event stays", len(events))
	}
	assertNothingHostile(t, col.bodies())
	assertWireMatchesCatalog(t, cat, events)
	for _, ev := range events {
		// An empty Platform means runtime.GOOS, so only "unknown" and the
		// test machine's own platform may appear.
		if p := ev.Properties["backend_platform"]; p != "unknown" && p != nodePlatform(runtime.GOOS) {
			t.Errorf("backend_platform = %v for a hostile platform", ev.Properties["backend_platform"])
		}
	}
}

// assertCoversCatalog fails when muxEvents misses an event of the catalog.
func assertCoversCatalog(t *testing.T, cat *catalog.Catalog) {
	t.Helper()
	listed := map[string]bool{}
	for _, ev := range muxEvents {
		listed[ev.EventName()] = true
	}
	for _, def := range cat.Events {
		if !listed[def.Name] {
			t.Errorf("event %s is missing from muxEvents", def.Name)
		}
	}
}

// hostileFields returns the index paths of every string, number and any
// field, nested structs included.
func hostileFields(t reflect.Type, prefix []int) [][]int {
	var paths [][]int
	for i := range t.NumField() {
		f := t.Field(i)
		path := append(append([]int(nil), prefix...), i)
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct:
			paths = append(paths, hostileFields(ft, path)...)
		case ft.Kind() == reflect.String, ft.Kind() == reflect.Interface, isNumber(ft.Kind()):
			paths = append(paths, path)
		}
	}
	return paths
}

func isNumber(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Float64
}

// hostileValuesFor returns the hostile values a field of type t can hold.
func hostileValuesFor(t reflect.Type) []any {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []any
	switch {
	case t.Kind() == reflect.String:
		for _, s := range hostileStrings {
			out = append(out, s)
		}
	case t.Kind() == reflect.Interface:
		for _, s := range hostileStrings {
			out = append(out, s)
		}
		for _, f := range hostileFloats {
			out = append(out, f)
		}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		for _, f := range hostileFloats {
			out = append(out, f)
		}
	default:
		for _, n := range hostileInts {
			out = append(out, n)
		}
	}
	return out
}

// setField stores value in f, converting numbers to f's kind and filling
// pointers.
func setField(f reflect.Value, value any) {
	if f.Kind() == reflect.Pointer {
		f.Set(reflect.New(f.Type().Elem()))
		f = f.Elem()
	}
	if f.Kind() == reflect.Interface {
		f.Set(reflect.ValueOf(value))
		return
	}
	f.Set(reflect.ValueOf(value).Convert(f.Type()))
}

// validEvent returns a pointer to a copy of proto with every field set to a
// value its class accepts.
func validEvent(t *testing.T, proto catalog.Event, def *catalog.EventDef) reflect.Value {
	t.Helper()
	v := reflect.New(reflect.TypeOf(proto))
	fillValid(t, v.Elem(), def.Properties)
	return v
}

func fillValid(t *testing.T, v reflect.Value, props []catalog.Property) {
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		var p *catalog.Property
		for j := range props {
			if props[j].Name == name {
				p = &props[j]
			}
		}
		if p == nil {
			t.Fatalf("field %s has no property", f.Name)
		}
		field := v.Field(i)
		if field.Kind() == reflect.Pointer {
			field.Set(reflect.New(field.Type().Elem()))
			field = field.Elem()
		}
		switch p.Class {
		case catalog.Object:
			fillValid(t, field, p.Properties)
		case catalog.RandomID:
			field.SetString("3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b")
		case catalog.Enum:
			field.SetString(p.Values[0])
		case catalog.Identifier:
			field.SetString("valid-name")
		case catalog.Version:
			field.SetString("1.0.0")
		case catalog.UserAgent:
			field.SetString("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0")
		case catalog.Platform:
			field.SetString("Linux x86_64")
		case catalog.Variant:
			field.Set(reflect.ValueOf("control"))
		case catalog.Bool:
			field.SetBool(true)
		default:
			setField(field, int64(1))
		}
	}
}

// assertNothingHostile checks every request body, decompressed, for the
// hostile values and their telling parts.
func assertNothingHostile(t *testing.T, bodies [][]byte) {
	t.Helper()
	for _, body := range bodies {
		for _, s := range hostileStrings {
			if len(strings.TrimSpace(s)) < 3 {
				continue
			}
			quoted, _ := json.Marshal(s)
			if bytes.Contains(body, []byte(s)) || bytes.Contains(body, quoted[1:len(quoted)-1]) {
				t.Errorf("hostile value %.40q reached the wire", s)
			}
		}
		for _, needle := range forbiddenOnWire {
			if bytes.Contains(body, []byte(needle)) {
				i := bytes.Index(body, []byte(needle))
				t.Errorf("%q reached the wire: ...%s...", needle, body[max(0, i-60):min(len(body), i+60)])
			}
		}
	}
}

// assertWireMatchesCatalog checks that each event on the wire passes the
// catalog unchanged, as the collector will check it again.
func assertWireMatchesCatalog(t *testing.T, cat *catalog.Catalog, events []decoded) {
	t.Helper()
	for _, ev := range events {
		again, violations, err := cat.Normalize(ev.Event, ev.Properties)
		if err != nil || len(violations) > 0 {
			t.Errorf("event %s on the wire breaks the catalog: %v %v", ev.Event, err, violations)
			continue
		}
		if d := diff(ev.Properties, again); d != "" {
			t.Errorf("event %s on the wire is not normalized: %s", ev.Event, d)
		}
		for name, value := range ev.Properties {
			if f, ok := value.(float64); ok && (f < 0 || f > catalog.MaxExactNumber) {
				t.Errorf("event %s property %s = %v on the wire", ev.Event, name, f)
			}
		}
	}
}

// assertLogsNameOnly checks that the client logged rejected values by event
// and property name without the values.
func assertLogsNameOnly(t *testing.T, logs string) {
	t.Helper()
	if !strings.Contains(logs, "property=model") || !strings.Contains(logs, "reason=looks_like_path") {
		t.Errorf("logs do not name rejected properties and reasons:\n%.2000s", logs)
	}
	for _, needle := range []string{"alice", "hunter2", "AKIA", "ghp_", "eyJ", "192.168", "Paris"} {
		if strings.Contains(logs, needle) {
			t.Errorf("logs contain %q", needle)
		}
	}
}
