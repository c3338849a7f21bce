package collector_test

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

func TestPayloadShapes(t *testing.T) {
	tests := []struct {
		name string
		path string
		body string
		want int
	}{
		{"batch object with api_key", "/batch/", batchBody(muxKey, messageEvent(uuidN(1)), messageEvent(uuidN(2))), 2},
		{"batch object with token", "/batch/", `{"token":"` + muxKey + `","batch":[` + messageEvent(uuidN(1)) + `]}`, 1},
		{"array", "/e/", `[` + withToken(messageEvent(uuidN(1))) + `,` + withToken(messageEvent(uuidN(2))) + `]`, 2},
		{"single event", "/i/v0/e/", withToken(messageEvent(uuidN(1))), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			res := mustOK(t, e.postJSON(tt.path, tt.body))
			if res.Accepted != tt.want {
				t.Errorf("accepted = %d, want %d", res.Accepted, tt.want)
			}
		})
	}
}

// withToken adds the mux write key to an event as its api_key field.
func withToken(event string) string {
	return `{"api_key":"` + muxKey + `",` + event[1:]
}

func TestEngageObjectBecomesIdentify(t *testing.T) {
	e := newEnv(t)
	body := `{"$token":"` + muxKey + `","$distinct_id":"install-1","$set":{"plan":"pro"}}`

	// Catalog event names cannot start with '$', so the $identify event is
	// dropped as unknown, but the request is valid.
	res := mustOK(t, e.postJSON("/engage/", body))
	if diff := cmp.Diff(map[string]int{"unknown_event": 1}, res.Dropped); diff != "" {
		t.Errorf("dropped mismatch (-want +got):\n%s", diff)
	}

	// Elsewhere an object without "event" is malformed.
	mustFail(t, e.postJSON("/capture/", body), http.StatusBadRequest, "request_hydration_error")
}

func TestTokenLocations(t *testing.T) {
	event := func(fields string) string {
		return `{"event":"app_started","distinct_id":"d","uuid":"` + uuidN(1) + `"` + fields + `}`
	}
	tests := []struct {
		name string
		body string
	}{
		{"batch api_key", `{"api_key":"` + muxKey + `","batch":[` + event("") + `]}`},
		{"batch token", `{"token":"` + muxKey + `","batch":[` + event("") + `]}`},
		{"event token", `[` + event(`,"token":"`+muxKey+`"`) + `]`},
		{"event $token", `[` + event(`,"$token":"`+muxKey+`"`) + `]`},
		{"event api_key", `[` + event(`,"api_key":"`+muxKey+`"`) + `]`},
		{"properties token", `[` + event(`,"properties":{"token":"`+muxKey+`"}`) + `]`},
		{"properties $token", `[` + event(`,"properties":{"$token":"`+muxKey+`"}`) + `]`},
		{"single event properties $token", event(`,"properties":{"$token":"` + muxKey + `"}`)},
		{"token with white space", `[` + event(`,"token":"  `+muxKey+"\\n"+`"`) + `]`},
		{"batch and events agree", `{"api_key":"` + muxKey + `","batch":[` + event(`,"properties":{"token":"`+muxKey+`"}`) + `]}`},
		{"batch without key, event token", `{"batch":[` + event(`,"token":"`+muxKey+`"`) + `]}`},
		{"batch without key, properties token", `{"batch":[` + event(`,"properties":{"token":"`+muxKey+`"}`) + `]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			res := mustOK(t, e.postJSON("/e/", tt.body))
			if res.Accepted != 1 {
				t.Errorf("accepted = %d, want 1", res.Accepted)
			}
			if stored := e.store.stored(); len(stored) != 1 || stored[0].Project != "mux" {
				t.Errorf("stored %+v, want one event of project mux", stored)
			}
		})
	}
}

func TestTokenChoosesProject(t *testing.T) {
	e := newEnv(t)
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(1)))))
	mustOK(t, e.postJSON("/batch/", batchBody(otherKey, messageEvent(uuidN(1)))))

	stored := e.store.stored()
	var projects []string
	for _, ev := range stored {
		projects = append(projects, ev.Project)
	}
	if diff := cmp.Diff([]string{"mux", "other"}, projects); diff != "" {
		t.Errorf("projects mismatch (-want +got):\n%s", diff)
	}
}

func TestMixedTokensRejected(t *testing.T) {
	e := newEnv(t)
	body := `[` + `{"event":"app_started","distinct_id":"d","token":"` + muxKey + `"},` +
		`{"event":"app_started","distinct_id":"d","properties":{"token":"` + otherKey + `"}}]`
	mustFail(t, e.postJSON("/e/", body), http.StatusBadRequest, "unroutable_events")

	body = `{"api_key":"` + muxKey + `","batch":[{"event":"app_started","distinct_id":"d","token":"` + otherKey + `"}]}`
	mustFail(t, e.postJSON("/batch/", body), http.StatusBadRequest, "unroutable_events")

	if n := len(e.store.stored()); n != 0 {
		t.Errorf("stored %d events, want 0", n)
	}
}

func TestMissingTokenUnauthorized(t *testing.T) {
	e := newEnv(t)
	mustFail(t, e.postJSON("/e/", `[{"event":"app_started","distinct_id":"d"}]`), http.StatusUnauthorized, "ingest_key_required")
	mustFail(t, e.postJSON("/e/", `{"event":"app_started","distinct_id":"d","token":"   "}`), http.StatusUnauthorized, "ingest_key_required")
	mustFail(t, e.postJSON("/batch/", `{"batch":[{"event":"app_started","distinct_id":"d"}]}`), http.StatusUnauthorized, "ingest_key_required")
}

func TestUnknownKeyUnauthorized(t *testing.T) {
	e := newEnv(t)
	for _, key := range []string{"phc_unknown", muxKey + "x", muxKey[:len(muxKey)-1], strings.ToUpper(muxKey)} {
		r := e.postJSON("/batch/", batchBody(key, messageEvent(uuidN(1))))
		res := mustFail(t, r, http.StatusUnauthorized, "ingest_key_unknown")
		if !strings.Contains(res.Error, "the write key that candor serve printed") || !strings.Contains(res.Error, "--project") {
			t.Errorf("error of key %q = %q, want the keys to use instead", key, res.Error)
		}
	}
	if n := len(e.store.stored()); n != 0 {
		t.Errorf("stored %d events, want 0", n)
	}
}

func TestUUIDHandling(t *testing.T) {
	e := newEnv(t)
	event := func(uuidField string) string {
		return `{"event":"app_started","distinct_id":"d"` + uuidField + `}`
	}
	body := batchBody(muxKey,
		event(`,"uuid":""`),   // empty: counts as absent
		event(``),             // missing
		event(`,"uuid":null`), // null
		event(`,"uuid":"0B9F7C1E-3F4A-4C2B-9D8E-1A2B3C4D5E6F"`), // upper case
		event(`,"uuid":"not-a-uuid"`),                           // invalid: dropped
		event(`,"uuid":"0b9f7c1e-3f4a-1c2b-9d8e-1a2b3c4d5e6f"`), // version 1: dropped
		event(`,"uuid":42`),                                     // not a string: dropped
	)
	res := mustOK(t, e.postJSON("/batch/", body))
	if res.Accepted != 4 {
		t.Errorf("accepted = %d, want 4", res.Accepted)
	}
	if diff := cmp.Diff(map[string]int{"invalid_uuid": 3}, res.Dropped); diff != "" {
		t.Errorf("dropped mismatch (-want +got):\n%s", diff)
	}

	stored := e.store.stored()
	if len(stored) != 4 {
		t.Fatalf("stored %d events, want 4", len(stored))
	}
	for i, ev := range stored[:3] {
		if !catalog.IsUUID(ev.UUID) || ev.UUID[14] != '7' {
			t.Errorf("event %d: generated uuid %q, want a UUIDv7", i, ev.UUID)
		}
	}
	if got := stored[3].UUID; got != "0b9f7c1e-3f4a-4c2b-9d8e-1a2b3c4d5e6f" {
		t.Errorf("upper-case uuid stored as %q, want it in lower case", got)
	}
}

func TestDistinctIDResolution(t *testing.T) {
	tests := []struct {
		name   string
		fields string
		want   string // "" for an event dropped as invalid_distinct_id
	}{
		{"top level", `"distinct_id":"a","$distinct_id":"b","properties":{"distinct_id":"c"}`, "a"},
		{"dollar alias", `"$distinct_id":"b","properties":{"distinct_id":"c"}`, "b"},
		{"properties (posthog-go alias)", `"properties":{"distinct_id":"c"}`, "c"},
		{"null falls back", `"distinct_id":null,"properties":{"distinct_id":"c"}`, "c"},
		{"number", `"distinct_id":23`, "23"},
		{"random ID", `"distinct_id":"5b0e1c7e-8a41-4f5e-9d0a-2f7f3c1d9e10"`, "5b0e1c7e-8a41-4f5e-9d0a-2f7f3c1d9e10"},
		{"email address", `"distinct_id":"alice@example.com"`, ""},
		{"email in properties", `"properties":{"distinct_id":"alice@example.com"}`, ""},
		{"URL", `"distinct_id":"https://example.com/users/7"`, ""},
		{"path", `"distinct_id":"/home/alice/project"`, ""},
		{"IP address", `"distinct_id":"192.168.1.10"`, ""},
		{"phone number", `"distinct_id":"+4915112345678"`, ""},
		{"large number", `"distinct_id":12345678901234567890`, ""},
		{"object", `"distinct_id":{"a": [1, 2]}`, ""},
		{"NUL", `"distinct_id":"a\u0000b"`, ""},
		{"over 100 characters", `"distinct_id":"` + strings.Repeat("a", 101) + `"`, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			body := batchBody(muxKey, `{"event":"app_started","uuid":"`+uuidN(i)+`",`+tt.fields+`}`)
			res := mustOK(t, e.postJSON("/batch/", body))
			stored := e.store.stored()
			if tt.want == "" {
				if len(stored) != 0 || res.Dropped["invalid_distinct_id"] != 1 {
					t.Errorf("stored %v, dropped %v; want the event dropped as invalid_distinct_id", stored, res.Dropped)
				}
				return
			}
			if len(stored) != 1 {
				t.Fatalf("stored %d events, want 1", len(stored))
			}
			if stored[0].DistinctID != tt.want {
				t.Errorf("distinct id = %q, want %q", stored[0].DistinctID, tt.want)
			}
		})
	}
}

func TestInvalidEventsDropped(t *testing.T) {
	e := newEnv(t)
	body := batchBody(muxKey,
		messageEvent(uuidN(1)),
		`{"distinct_id":"d"}`,                                        // no name
		`{"event":"","distinct_id":"d"}`,                             // empty name
		`{"event":"app_started"}`,                                    // no distinct_id
		`{"event":"app_started","distinct_id":""}`,                   // empty distinct_id
		`{"event":"app_started","distinct_id":null}`,                 // null distinct_id
		`{"event":7,"distinct_id":"d"}`,                              // name not a string
		`{"event":"app_started","distinct_id":"d","properties":[1]}`, // properties not an object
		`"just a string"`,                                            // not an object
	)
	res := mustOK(t, e.postJSON("/batch/", body))
	want := map[string]int{"missing_event_name": 2, "missing_distinct_id": 3, "invalid_event": 3}
	if diff := cmp.Diff(want, res.Dropped); diff != "" {
		t.Errorf("dropped mismatch (-want +got):\n%s", diff)
	}
	if res.Accepted != 1 {
		t.Errorf("accepted = %d, want 1", res.Accepted)
	}
}

func TestViolationsNameObjectMember(t *testing.T) {
	e := newEnv(t, func(cfg *collector.Config) {
		cfg.Projects = []collector.Project{{Name: "mux", WriteKey: muxKey, Catalog: mux.Catalog()}}
	})
	workspace := func(platform string) string {
		return `{"workspaceId":"` + workspaceID + `","runtimeType":"local","frontendPlatform":` + platform + `}`
	}
	body := batchBody(muxKey,
		`{"event":"workspace_created","distinct_id":"d","uuid":"`+uuidN(1)+`","properties":`+
			workspace(`{"userAgent":5,"platform":"Linux"}`)+`}`,
		`{"event":"workspace_created","distinct_id":"d","uuid":"`+uuidN(2)+`","properties":`+
			workspace(`{"userAgent":"x","platform":"Linux","home_of_alice":1}`)+`}`,
		`{"event":"command_used","distinct_id":"d","uuid":"`+uuidN(3)+`","properties":{"command":"new","prompt_of_alice":1}}`,
		`{"event":"page_of_alice","distinct_id":"d","uuid":"`+uuidN(4)+`"}`,
		`{"event":"command_used","uuid":"`+uuidN(5)+`","properties":{"command":"new"}}`,
	)
	resp := e.postJSON("/batch/", body)
	res := mustOK(t, resp)

	if strings.Contains(string(resp.body), "alice") {
		t.Errorf("response %s repeats a name the sender chose", resp.body)
	}
	want := map[string]int{
		"workspace_created frontendPlatform.userAgent wrong_type": 1,
		"workspace_created frontendPlatform unknown_property":     1,
		"command_used unknown_property":                           1,
		"unknown_event":                                           1,
	}
	if diff := cmp.Diff(want, res.Violations); diff != "" {
		t.Errorf("violations mismatch (-want +got):\n%s", diff)
	}
	// The unknown member is left out of frontendPlatform and its event is
	// stored, as the unknown top-level property is left out of command_used.
	wantDropped := map[string]int{"wrong_type": 1, "unknown_event": 1, "missing_distinct_id": 1}
	if diff := cmp.Diff(wantDropped, res.Dropped); diff != "" {
		t.Errorf("dropped mismatch (-want +got):\n%s", diff)
	}
	if res.Accepted != 2 {
		t.Errorf("accepted = %d, want 2", res.Accepted)
	}
	wantProps := map[string]int{"unknown_property": 2}
	if diff := cmp.Diff(wantProps, res.DroppedProperties); diff != "" {
		t.Errorf("dropped properties mismatch (-want +got):\n%s", diff)
	}
	for _, ev := range e.store.stored() {
		if ev.Name != "workspace_created" {
			continue
		}
		platform, _ := ev.Properties["frontendPlatform"].(map[string]any)
		if _, ok := platform["home_of_alice"]; ok || platform["platform"] != "Linux" {
			t.Errorf("stored frontendPlatform %v, want platform Linux without home_of_alice", platform)
		}
	}
}

func TestCatalogViolations(t *testing.T) {
	e := newEnv(t)
	body := batchBody(muxKey,
		// Valid, with an unknown property, a base property, a feature flag
		// and an optional enum outside its values.
		`{"event":"message_sent","distinct_id":"d","uuid":"`+uuidN(1)+`","properties":{"workspaceId":"`+workspaceID+
			`","model":"gpt-4o","message_length_b2":300,"prompt":"secret text","version":"1.4.2","$feature/new-ui":"test","mode":"yolo"}}`,
		// Unknown event.
		`{"event":"message_deleted","distinct_id":"d","uuid":"`+uuidN(2)+`"}`,
		// Required identifier that looks like a path.
		`{"event":"message_sent","distinct_id":"d","uuid":"`+uuidN(3)+`","properties":{"workspaceId":"`+workspaceID+
			`","model":"/home/alice/model.bin","message_length_b2":1}}`,
		// Required property missing.
		`{"event":"message_sent","distinct_id":"d","uuid":"`+uuidN(4)+`","properties":{"model":"gpt-4o","message_length_b2":1}}`,
		// Valid.
		`{"event":"app_started","distinct_id":"d","uuid":"`+uuidN(5)+`"}`,
	)
	res := mustOK(t, e.postJSON("/batch/", body))

	if res.Accepted != 2 {
		t.Errorf("accepted = %d, want 2", res.Accepted)
	}
	wantDropped := map[string]int{"unknown_event": 1, "looks_like_path": 1, "missing_property": 1}
	if diff := cmp.Diff(wantDropped, res.Dropped); diff != "" {
		t.Errorf("dropped mismatch (-want +got):\n%s", diff)
	}
	wantProps := map[string]int{"unknown_property": 1, "not_in_enum": 1}
	if diff := cmp.Diff(wantProps, res.DroppedProperties); diff != "" {
		t.Errorf("dropped_properties mismatch (-want +got):\n%s", diff)
	}

	stored := e.store.stored()
	if len(stored) != 2 {
		t.Fatalf("stored %d events, want 2", len(stored))
	}
	wantFirst := map[string]any{
		"workspaceId": workspaceID, "model": "gpt-4o", "message_length_b2": 512.0,
		"version": "1.4.2", "$feature/new-ui": "test",
	}
	if diff := cmp.Diff(wantFirst, stored[0].Properties); diff != "" {
		t.Errorf("stored properties mismatch (-want +got):\n%s", diff)
	}

	stats := e.collector.Stats()
	if diff := cmp.Diff(map[string]int64{"unknown_event": 1, "looks_like_path": 1, "missing_property": 1}, stats.Dropped); diff != "" {
		t.Errorf("Stats.Dropped mismatch (-want +got):\n%s", diff)
	}
	if stats.Received != 5 || stats.Accepted != 2 {
		t.Errorf("Stats received %d accepted %d, want 5 and 2", stats.Received, stats.Accepted)
	}
}

func TestNeverStoresNetworkData(t *testing.T) {
	e := newEnv(t)
	body := batchBody(muxKey, `{"event":"app_started","distinct_id":"d","uuid":"`+uuidN(1)+`","properties":{`+
		`"$ip":"203.0.113.7","$geoip_city_name":"Lyon","$geoip_disable":true,"$set":{"email":"a@example.com"},`+
		`"$set_once":{"x":1},"token":"`+muxKey+`","distinct_id":"d","$lib":"posthog-go","$os":"linux"}}`)
	r := e.do(http.MethodPost, "/batch/", []byte(body),
		"Content-Type", "application/json",
		"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
		"X-Forwarded-For", "198.51.100.9")
	res := mustOK(t, r)
	if len(res.DroppedProperties) != 0 {
		t.Errorf("dropped_properties = %v, want none: protocol fields are removed, not dropped", res.DroppedProperties)
	}

	stored := e.store.stored()
	if len(stored) != 1 {
		t.Fatalf("stored %d events, want 1", len(stored))
	}
	want := map[string]any{"$geoip_disable": true, "$lib": "posthog-go", "$os": "Linux"}
	if diff := cmp.Diff(want, stored[0].Properties); diff != "" {
		t.Errorf("stored properties mismatch (-want +got):\n%s", diff)
	}
}

func TestTimestampResolution(t *testing.T) {
	rfc := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	tests := []struct {
		name   string
		path   string
		sentAt string // batch sent_at; empty for none
		fields string
		want   time.Time
	}{
		{"no timestamp", "/batch/", "", ``, testNow},
		{"timestamp without sent_at", "/batch/", "", `,"timestamp":"` + rfc(testNow.Add(-2*time.Hour)) + `"`, testNow.Add(-2 * time.Hour)},
		{
			// The client's clock is an hour behind: the event happened 5
			// minutes before the client sent it.
			"sent_at corrects skew", "/batch/", rfc(testNow.Add(-time.Hour)),
			`,"timestamp":"` + rfc(testNow.Add(-time.Hour-5*time.Minute)) + `"`, testNow.Add(-5 * time.Minute),
		},
		{
			"$ignore_sent_at", "/batch/", rfc(testNow.Add(-time.Hour)),
			`,"timestamp":"` + rfc(testNow.Add(-3*time.Hour)) + `","properties":{"$ignore_sent_at":true}`, testNow.Add(-3 * time.Hour),
		},
		{"offset", "/batch/", "", `,"offset":3000`, testNow.Add(-3 * time.Second)},
		{"offset wins over timestamp", "/batch/", "", `,"offset":1000,"timestamp":"2001-01-01T00:00:00Z"`, testNow.Add(-time.Second)},
		{"future clamped to now", "/batch/", "", `,"timestamp":"` + rfc(testNow.Add(30*time.Hour)) + `"`, testNow},
		{"22 hours ahead kept", "/batch/", "", `,"timestamp":"` + rfc(testNow.Add(22*time.Hour)) + `"`, testNow.Add(22 * time.Hour)},
		{"query sent_at in ms", "/batch/?_=" + itoa64(testNow.Add(-time.Hour).UnixMilli()), "", `,"timestamp":"` + rfc(testNow.Add(-time.Hour-time.Minute)) + `"`, testNow.Add(-time.Minute)},
		{"query sent_at in seconds ignored", "/batch/?sent_at=" + itoa64(testNow.Add(-time.Hour).Unix()), "", `,"timestamp":"` + rfc(testNow.Add(-time.Hour-time.Minute)) + `"`, testNow.Add(-time.Hour - time.Minute)},
		{"space separated", "/batch/", "", `,"timestamp":"2026-03-09 08:30:00"`, time.Date(2026, 3, 9, 8, 30, 0, 0, time.UTC)},
		{"offset zone", "/batch/", "", `,"timestamp":"2026-03-09T10:30:00+02:00"`, time.Date(2026, 3, 9, 8, 30, 0, 0, time.UTC)},
		{"epoch milliseconds", "/batch/", "", `,"timestamp":` + itoa64(testNow.Add(-time.Minute).UnixMilli()), testNow.Add(-time.Minute)},
		{"unparseable", "/batch/", "", `,"timestamp":"yesterday"`, testNow},
		// 1e13 ms is about 317 years, more than a time.Duration holds, and
		// leads to 1709. No clock error takes an event before 1970, so the
		// event gets the receive time.
		{"offset over 292 years", "/batch/", "", `,"offset":1e13`, testNow},
		{"offset to 1971 kept", "/batch/", "", `,"offset":` + itoa64(testNow.Sub(time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC)).Milliseconds()), time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC)},
		// ClickHouse's DateTime starts at the Unix epoch, and a store error
		// would fail every request of the group commit.
		{"timestamp before 1970", "/batch/", "", `,"timestamp":"1969-12-31T23:59:59Z"`, time.Unix(0, 0).UTC()},
		{"timestamp in year 1", "/batch/", "", `,"timestamp":"0001-01-01T00:00:00Z"`, time.Unix(0, 0).UTC()},
		{"timestamp at the epoch kept", "/batch/", "", `,"timestamp":"1970-01-01T00:00:00Z"`, time.Unix(0, 0).UTC()},
		{"sent_at correction before 1970", "/batch/", "2026-03-10T12:00:00Z", `,"timestamp":"1960-01-01T00:00:00Z"`, testNow},
		{"sent_at correction 20 years back kept", "/batch/", "2026-03-10T12:00:00Z", `,"timestamp":"2006-03-10T12:00:00Z"`, testNow.AddDate(-20, 0, 0)},
		{"offset before year 0", "/batch/", "", `,"offset":1e300`, testNow},
		{"negative offset over 292 years", "/batch/", "", `,"offset":-1e13`, testNow},
		{"sent_at 7000 years ahead", "/batch/", "9000-01-01T00:00:00Z", `,"timestamp":"2026-03-10T11:00:00Z"`, testNow},
		{"sent_at 300 years behind", "/batch/", "1726-03-10T12:00:00Z", `,"timestamp":"1726-03-10T11:00:00Z"`, testNow.Add(-time.Hour)},
		{"query sent_at past year 9999 ignored", "/batch/?_=" + itoa64(math.MaxInt64), "", `,"timestamp":"2026-03-10T11:00:00Z"`, time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC)},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			event := `{"event":"app_started","distinct_id":"d","uuid":"` + uuidN(i) + `"` + tt.fields + `}`
			body := `{"api_key":"` + muxKey + `","batch":[` + event + `]`
			if tt.sentAt != "" {
				body += `,"sent_at":"` + tt.sentAt + `"`
			}
			mustOK(t, e.postJSON(tt.path, body+`}`))
			stored := e.store.stored()
			if len(stored) != 1 {
				t.Fatalf("stored %d events, want 1", len(stored))
			}
			if !stored[0].Timestamp.Equal(tt.want) {
				t.Errorf("timestamp = %s, want %s", stored[0].Timestamp, tt.want)
			}
			if !stored[0].ReceivedAt.Equal(testNow) {
				t.Errorf("received at = %s, want %s", stored[0].ReceivedAt, testNow)
			}
		})
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// posthogGoBatch is the shape posthog-go 1.23 sends in legacy mode: uuid v4,
// RFC 3339 timestamps, no sent_at, library fields in identify and alias
// events, and alias's distinct_id only in properties.
const posthogGoBatch = `{"api_key":"` + muxKey + `","batch":[
 {"uuid":"6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5","timestamp":"2026-03-10T11:00:00Z","distinct_id":"123456","event":"app_started",
  "properties":{"$lib":"posthog-go","$lib_version":"1.23.1","$is_server":true,"$geoip_disable":true,
   "$os":"linux","$os_version":"6.8","$go_version":"go1.22.1","application":"PostHog Go"}},
 {"type":"identify","uuid":"6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d6","library":"posthog-go","library_version":"1.23.1","timestamp":"2026-03-10T11:00:00Z",
  "event":"$identify","distinct_id":"B","properties":{"$lib":"posthog-go","$geoip_disable":true},"$set":{"email":"hey@posthog.com"}},
 {"type":"alias","uuid":"6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d7","library":"posthog-go","library_version":"1.23.1","timestamp":"2026-03-10T11:00:00Z",
  "event":"$create_alias","properties":{"distinct_id":"B","alias":"A","$lib":"posthog-go","$geoip_disable":true}}]}`

// TestPosthogJSOperatingSystem sends $os as posthog-js names it, in the
// shape posthog-js sends to /e/: token and distinct_id in properties, and
// offset instead of a timestamp. Each name must be stored as its OS family.
func TestPosthogJSOperatingSystem(t *testing.T) {
	tests := []struct{ os, want string }{
		{"Mac OS X", "macOS"},
		{"Chrome OS", "ChromeOS"},
		{"Windows Phone", "Windows"},
		{"iOS", "iOS"},
		{"Linux", "Linux"},
	}
	for _, tt := range tests {
		t.Run(tt.os, func(t *testing.T) {
			e := newEnv(t)
			event := `{"event":"app_started","uuid":"` + uuidN(1) + `","offset":10,"properties":{` +
				`"token":"` + muxKey + `","distinct_id":"d","$lib":"web","$lib_version":"1.418.10",` +
				`"$os":"` + tt.os + `","$os_version":"10.15.7"}}`
			body := `{"api_key":"` + muxKey + `","batch":[` + event + `],"sent_at":"` + testNow.Format(time.RFC3339Nano) + `"}`
			res := mustOK(t, e.do(http.MethodPost, "/e/", []byte(body), "Content-Type", "application/json"))

			if res.Accepted != 1 {
				t.Errorf("accepted = %d, want 1", res.Accepted)
			}
			if len(res.DroppedProperties) != 0 {
				t.Errorf("dropped_properties = %v, want none", res.DroppedProperties)
			}
			if dropped := e.collector.Stats().Dropped; len(dropped) != 0 {
				t.Errorf("Stats.Dropped = %v, want none", dropped)
			}
			stored := e.store.stored()
			if len(stored) != 1 {
				t.Fatalf("stored %d events, want 1", len(stored))
			}
			if got := stored[0].Properties["$os"]; got != tt.want {
				t.Errorf("stored $os = %v, want %q", got, tt.want)
			}
		})
	}
}

func TestPosthogGoBatch(t *testing.T) {
	e := newEnv(t)
	res := mustOK(t, e.do(http.MethodPost, "//batch/", []byte(posthogGoBatch),
		"Content-Type", "application/json", "User-Agent", "posthog-go/1.23.1"))

	if res.Accepted != 1 {
		t.Errorf("accepted = %d, want 1", res.Accepted)
	}
	if diff := cmp.Diff(map[string]int{"unknown_event": 2}, res.Dropped); diff != "" {
		t.Errorf("dropped mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"unknown_property": 1}, res.DroppedProperties); diff != "" {
		t.Errorf("dropped_properties mismatch (-want +got):\n%s", diff)
	}

	want := []store.Event{{
		Project:    "mux",
		UUID:       "6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5",
		Name:       "app_started",
		DistinctID: "123456",
		Timestamp:  time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC),
		ReceivedAt: testNow,
		Properties: map[string]any{
			"$lib": "posthog-go", "$lib_version": "1.23.1", "$is_server": true, "$geoip_disable": true,
			"$os": "Linux", "$os_version": "6.8", "$go_version": "go1.22.1",
		},
	}}
	if diff := cmp.Diff(want, e.store.stored()); diff != "" {
		t.Errorf("stored events mismatch (-want +got):\n%s", diff)
	}
}
