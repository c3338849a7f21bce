package webtelemetry_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
	"github.com/candor-dev/candor/sdk/telemetry"
	"github.com/candor-dev/candor/sdk/webtelemetry"
)

const messageSent = `{"event": "message_sent", "properties": {
	"workspaceId": "3f1c9a1e-8a43-4c1d-9a52-5b7d8e2f4c10",
	"model": "anthropic/claude-sonnet-4-5",
	"agentId": "exec",
	"message_length_b2": 350,
	"runtimeType": "local",
	"thinkingLevel": "medium",
	"frontendPlatform": {
		"userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"platform": "Linux x86_64"
	}
}}`

func TestTrackSendsNormalizedEvent(t *testing.T) {
	f := newFixture(t, options{})

	resp := f.do(t, http.MethodPost, "track", messageSent, nil)
	if resp.status != http.StatusNoContent {
		t.Fatalf("POST track = %d %s, want 204", resp.status, resp.body)
	}
	events, _ := f.flush(t)
	if len(events) != 1 {
		t.Fatalf("collector got %d events, want 1: %+v", len(events), events)
	}
	got := events[0]
	if got.Event != "message_sent" {
		t.Errorf("event = %q, want message_sent", got.Event)
	}
	want := map[string]any{
		"workspaceId":       "3f1c9a1e-8a43-4c1d-9a52-5b7d8e2f4c10",
		"model":             "anthropic/claude-sonnet-4-5",
		"agentId":           "exec",
		"message_length_b2": 512.0,
		"runtimeType":       "local",
		"thinkingLevel":     "medium",
		"frontendPlatform":  map[string]any{"userAgent": "Chrome 131 (Linux)", "platform": "Linux"},
	}
	for name, value := range want {
		if !reflect.DeepEqual(got.Properties[name], value) {
			t.Errorf("property %s = %#v, want %#v", name, got.Properties[name], value)
		}
	}
	if got.Properties["version"] != "1.2.3" {
		t.Errorf("base property version = %v, want the backend's 1.2.3", got.Properties["version"])
	}
}

func TestTrackRejectsWithoutValue(t *testing.T) {
	const secret = "/home/alice/private-notes.txt"
	tests := []struct {
		name     string
		body     string
		event    string
		property string
		reason   string
	}{
		{"unknown event", `{"event":"page_viewed","properties":{}}`, "page_viewed", "", "unknown_event"},
		{"unknown property", `{"event":"command_used","properties":{"command":"clear","path":"` + secret + `"}}`, "command_used", "path", "unknown_property"},
		{"base property", `{"event":"command_used","properties":{"command":"clear","version":"9.9.9"}}`, "command_used", "version", "unknown_property"},
		{"path as identifier", `{"event":"stream_completed","properties":{"model":"` + secret + `","wasInterrupted":false,"duration_b2":3,"output_tokens_b2":100}}`, "stream_completed", "model", "looks_like_path"},
		{"value not in enum", `{"event":"command_used","properties":{"command":"` + secret + `"}}`, "command_used", "command", "not_in_enum"},
		{"optional property broken", `{"event":"stream_timing_computed","properties":{"model":"gpt-5","agentId":"` + secret + `","duration_b2":1,"ttft_ms_b2":1,"tool_ms_b2":1,"streaming_ms_b2":1,"tool_percent_bucket":10,"invalid":false}}`, "stream_timing_computed", "agentId", "looks_like_path"},
		{"missing property", `{"event":"command_used","properties":{}}`, "command_used", "command", "missing_property"},
		{"wrong type", `{"event":"app_started","properties":{"isFirstLaunch":"` + secret + `","vimModeEnabled":false}}`, "app_started", "isFirstLaunch", "wrong_type"},
		{"nested unknown property", `{"event":"workspace_created","properties":{"workspaceId":"3f1c9a1e-8a43-4c1d-9a52-5b7d8e2f4c10","runtimeType":"local","frontendPlatform":{"userAgent":"x","platform":"y","home":"` + secret + `"}}}`, "workspace_created", "frontendPlatform", "unknown_property"},
		{"nested member of wrong type", `{"event":"workspace_created","properties":{"workspaceId":"3f1c9a1e-8a43-4c1d-9a52-5b7d8e2f4c10","runtimeType":"local","frontendPlatform":{"userAgent":5,"platform":"y"}}}`, "workspace_created", "frontendPlatform.userAgent", "wrong_type"},
		{"nested member missing", `{"event":"workspace_created","properties":{"workspaceId":"3f1c9a1e-8a43-4c1d-9a52-5b7d8e2f4c10","runtimeType":"local","frontendPlatform":{"userAgent":"x"}}}`, "workspace_created", "frontendPlatform.platform", "missing_property"},
		{"event name not echoed", `{"event":"` + secret + `","properties":{}}`, "", "", "unknown_event"},
		{"property name not echoed", `{"event":"command_used","properties":{"command":"clear","` + secret + `":1}}`, "command_used", "", "unknown_property"},
		{"missing event", `{"properties":{}}`, "", "", "missing_property"},
	}
	f := newFixture(t, options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.do(t, http.MethodPost, "track", tt.body, nil)
			if resp.status != http.StatusBadRequest {
				t.Fatalf("status = %d %s, want 400", resp.status, resp.body)
			}
			if strings.Contains(resp.body, "alice") || strings.Contains(resp.body, "9.9.9") {
				t.Errorf("body %s holds the rejected value", resp.body)
			}
			var body struct{ Error, Event, Property, Reason string }
			if err := json.Unmarshal([]byte(resp.body), &body); err != nil {
				t.Fatalf("decode %s: %v", resp.body, err)
			}
			got := [3]string{body.Event, body.Property, body.Reason}
			if want := [3]string{tt.event, tt.property, tt.reason}; got != want {
				t.Errorf("event, property, reason = %q, want %q", got, want)
			}
			if tt.property != "" && !strings.Contains(body.Error, `"`+tt.property+`"`) {
				t.Errorf("error %q does not name the property %q", body.Error, tt.property)
			}
			if tt.event != "" && !strings.Contains(body.Error, `"`+tt.event+`"`) {
				t.Errorf("error %q does not name the event %q", body.Error, tt.event)
			}
		})
	}
	if events, _ := f.flush(t); len(events) != 0 {
		t.Errorf("collector got %d events from rejected requests, want 0: %+v", len(events), events)
	}
}

func TestTrackInvalidJSON(t *testing.T) {
	f := newFixture(t, options{})
	for _, body := range []string{
		`{"event":"command_used","properties":{"command":"clear"}} {"event":"x"}`,
		`{"event":"command_used","properties":{"command":"clear"},"secret":"alice"}`,
		`{"event":"command_used","properties":["alice"]}`,
		`{"event":"command_used","properties":{"command":"clear"`,
		`{"event":alice}`,
	} {
		resp := f.do(t, http.MethodPost, "track", body, nil)
		if resp.status != http.StatusBadRequest {
			t.Errorf("POST track %s = %d %s, want 400", body, resp.status, resp.body)
		}
		if strings.Contains(resp.body, "alice") {
			t.Errorf("POST track %s: response %s holds part of the body", body, resp.body)
		}
	}
}

func TestTrackNumberOutOfRange(t *testing.T) {
	f := newFixture(t, options{})
	body := `{"event":"app_started","properties":{"isFirstLaunch":true,"vimModeEnabled":1e400}}`
	resp := f.do(t, http.MethodPost, "track", body, nil)
	if resp.status != http.StatusBadRequest {
		t.Fatalf("status = %d %s, want 400", resp.status, resp.body)
	}
	var got struct{ Error string }
	if err := json.Unmarshal([]byte(resp.body), &got); err != nil {
		t.Fatalf("decode %s: %v", resp.body, err)
	}
	if !strings.Contains(got.Error, "out of range") {
		t.Errorf("error %q does not say that a number is out of range", got.Error)
	}
	if strings.Contains(got.Error, "must be an object") {
		t.Errorf("error %q asks for an object, but properties is one", got.Error)
	}
	if strings.Contains(got.Error, "1e400") {
		t.Errorf("error %q holds the value", got.Error)
	}
}

func TestTrackContentType(t *testing.T) {
	f := newFixture(t, options{})
	body := `{"event":"command_used","properties":{"command":"clear"}}`
	tests := []struct {
		contentType string
		want        int
	}{
		{"application/json", http.StatusNoContent},
		{"application/json; charset=utf-8", http.StatusNoContent},
		{"text/plain", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
		{"", http.StatusUnsupportedMediaType},
	}
	for _, tt := range tests {
		header := map[string]string{"Content-Type": tt.contentType}
		if resp := f.do(t, http.MethodPost, "track", body, header); resp.status != tt.want {
			t.Errorf("Content-Type %q: status = %d %s, want %d", tt.contentType, resp.status, resp.body, tt.want)
		}
	}
	if events, _ := f.flush(t); len(events) != 2 {
		t.Errorf("collector got %d events, want the 2 sent as JSON", len(events))
	}
}

func TestTrackBodyLimit(t *testing.T) {
	f := newFixture(t, options{config: webtelemetry.Config{MaxBodyBytes: 100}})
	small := `{"event":"command_used","properties":{"command":"clear"}}`
	large := `{"event":"command_used","properties":{"command":"clear"}}` + strings.Repeat(" ", 100)

	if resp := f.do(t, http.MethodPost, "track", small, nil); resp.status != http.StatusNoContent {
		t.Errorf("body of %d bytes: status = %d %s, want 204", len(small), resp.status, resp.body)
	}
	if resp := f.do(t, http.MethodPost, "track", large, nil); resp.status != http.StatusRequestEntityTooLarge {
		t.Errorf("body of %d bytes: status = %d %s, want 413", len(large), resp.status, resp.body)
	}

	// Without a Content-Length the limit applies while reading.
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/api/telemetry/track", struct{ *strings.Reader }{strings.NewReader(large)})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.ContentLength != -1 && req.ContentLength != 0 {
		t.Fatalf("request has Content-Length %d, want it unknown", req.ContentLength)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body of %d bytes: status = %d, want 413", len(large), resp.StatusCode)
	}
}

func TestOriginCheck(t *testing.T) {
	f := newFixture(t, options{config: webtelemetry.Config{AllowedOrigins: []string{"http://localhost:5173/", "not an origin"}}})
	body := `{"event":"command_used","properties":{"command":"clear"}}`
	tests := []struct {
		name   string
		method string
		header map[string]string
		want   int
	}{
		{"same origin", http.MethodPost, nil, http.StatusNoContent},
		{"no browser headers", http.MethodPost, map[string]string{"Origin": "", "Sec-Fetch-Site": ""}, http.StatusNoContent},
		{"listed origin", http.MethodPost, map[string]string{"Origin": "http://localhost:5173", "Sec-Fetch-Site": "same-site"}, http.StatusNoContent},
		{"listed origin other case", http.MethodPost, map[string]string{"Origin": "HTTP://LOCALHOST:5173", "Sec-Fetch-Site": "same-site"}, http.StatusNoContent},
		{"other origin", http.MethodPost, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"other origin without fetch metadata", http.MethodPost, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": ""}, http.StatusForbidden},
		{"other port", http.MethodPost, map[string]string{"Origin": "http://localhost:5174", "Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"null origin", http.MethodPost, map[string]string{"Origin": "null", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"cross-site without origin", http.MethodPost, map[string]string{"Origin": "", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site without origin", http.MethodPost, map[string]string{"Origin": "", "Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"typed address POST", http.MethodPost, map[string]string{"Origin": "", "Sec-Fetch-Site": "none"}, http.StatusForbidden},
		{"typed address GET", http.MethodGet, map[string]string{"Sec-Fetch-Site": "none"}, http.StatusOK},
		{"cross-site GET", http.MethodGet, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"DNS rebinding", http.MethodPost, map[string]string{"Host": "evil.example:80", "Origin": "http://evil.example"}, http.StatusForbidden},
		{"DNS rebinding GET", http.MethodGet, map[string]string{"Host": "evil.example"}, http.StatusForbidden},
		{"localhost name", http.MethodPost, map[string]string{"Host": "localhost:8080", "Origin": "http://localhost:8080"}, http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, endpoint := body, "track"
			if tt.method == http.MethodGet {
				b, endpoint = "", "status"
			}
			resp := f.do(t, tt.method, endpoint, b, tt.header)
			if resp.status != tt.want {
				t.Errorf("status = %d %s, want %d", resp.status, resp.body, tt.want)
			}
		})
	}
}

// TestListedOriginCORS checks the CORS headers that a browser needs before
// a page of a listed origin may read a response or send JSON: the
// preflight of POST track and the response of GET status.
func TestListedOriginCORS(t *testing.T) {
	const listed = "http://localhost:5173"
	f := newFixture(t, options{config: webtelemetry.Config{AllowedOrigins: []string{listed}}})
	preflight := map[string]string{
		"Origin":                         listed,
		"Sec-Fetch-Site":                 "same-site",
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "content-type",
	}

	resp := f.do(t, http.MethodOptions, "track", "", preflight)
	if resp.status != http.StatusNoContent {
		t.Errorf("preflight of a listed origin: status = %d %s, want 204", resp.status, resp.body)
	}
	if got := resp.header.Get("Access-Control-Allow-Origin"); got != listed {
		t.Errorf("preflight: Access-Control-Allow-Origin = %q, want %q", got, listed)
	}
	if got := resp.header.Get("Access-Control-Allow-Methods"); !strings.Contains(got, "POST") {
		t.Errorf("preflight: Access-Control-Allow-Methods = %q, want POST", got)
	}
	if got := strings.ToLower(resp.header.Get("Access-Control-Allow-Headers")); !strings.Contains(got, "content-type") {
		t.Errorf("preflight: Access-Control-Allow-Headers = %q, want Content-Type", got)
	}

	resp = f.do(t, http.MethodGet, "status", "", map[string]string{"Origin": listed, "Sec-Fetch-Site": "same-site"})
	if resp.status != http.StatusOK {
		t.Errorf("GET status from a listed origin: status = %d %s, want 200", resp.status, resp.body)
	}
	if got := resp.header.Get("Access-Control-Allow-Origin"); got != listed {
		t.Errorf("GET status: Access-Control-Allow-Origin = %q, want %q", got, listed)
	}
	if got := resp.header.Get("Vary"); !strings.Contains(got, "Origin") {
		t.Errorf("GET status: Vary = %q, want Origin", got)
	}

	preflight["Origin"] = "http://localhost:5174"
	resp = f.do(t, http.MethodOptions, "track", "", preflight)
	if resp.status < 400 {
		t.Errorf("preflight of an unlisted origin: status = %d, want an error", resp.status)
	}
	if got := resp.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("preflight of an unlisted origin: Access-Control-Allow-Origin = %q, want none", got)
	}

	resp = f.do(t, http.MethodGet, "status", "", nil)
	if got := resp.header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("same-origin GET status: Access-Control-Allow-Origin = %q, want none", got)
	}
}

func TestStatus(t *testing.T) {
	automationOff := false
	tests := []struct {
		name       string
		opts       options
		configJSON string
		want       webtelemetry.Status
		reason     string
	}{
		{"enabled", options{}, "", webtelemetry.Status{Enabled: true}, "no switch"},
		{"environment override", options{env: env{"MUX_DISABLE_TELEMETRY": "1"}}, "", webtelemetry.Status{Explicit: true, Locked: true}, "MUX_DISABLE_TELEMETRY=1"},
		{"do not track", options{env: env{"DO_NOT_TRACK": "1"}}, "", webtelemetry.Status{Explicit: true, Locked: true}, "DO_NOT_TRACK=1"},
		{"user choice", options{}, `{"telemetryEnabled": false}`, webtelemetry.Status{Explicit: true}, "telemetryEnabled: false"},
		{"CI run", options{env: env{"CI": "true"}, automation: &automationOff}, "", webtelemetry.Status{Locked: true}, "CI=true"},
		{"debug print", options{env: env{"MUX_TELEMETRY_DEBUG": "print"}}, "", webtelemetry.Status{Enabled: true}, "nothing is sent"},
		{"debug tee", options{env: env{"MUX_TELEMETRY_DEBUG": "tee"}}, "", webtelemetry.Status{Enabled: true}, "each event also goes to the debug output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts)
			if tt.configJSON != "" {
				if err := os.WriteFile(filepath.Join(f.home, telemetry.ConfigFile), []byte(tt.configJSON), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			resp := f.do(t, http.MethodGet, "status", "", nil)
			if resp.status != http.StatusOK {
				t.Fatalf("GET status = %d %s, want 200", resp.status, resp.body)
			}
			if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			got := decodeStatus(t, resp)
			if !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("reason = %q, want it to mention %q", got.Reason, tt.reason)
			}
			if len(got.Notes) != 0 {
				t.Errorf("notes = %q, want none: no variable has an ignored value", got.Notes)
			}
			got.Reason, got.Notes = "", nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("status = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestToggleStopsEventsAtOnce(t *testing.T) {
	f := newFixture(t, options{config: webtelemetry.Config{AllowToggle: true}})
	event := `{"event":"command_used","properties":{"command":"clear"}}`

	resp := f.do(t, http.MethodPost, "enabled", `{"enabled": false}`, nil)
	if resp.status != http.StatusOK {
		t.Fatalf("POST enabled false = %d %s, want 200", resp.status, resp.body)
	}
	if got, want := decodeStatus(t, resp), (webtelemetry.Status{Explicit: true, Reason: "config.json has telemetryEnabled: false", Notes: []string{}}); !reflect.DeepEqual(got, want) {
		t.Errorf("status after turning off = %+v, want %+v", got, want)
	}
	data, err := os.ReadFile(filepath.Join(f.home, telemetry.ConfigFile))
	if err != nil {
		t.Fatalf("read config.json: %v", err)
	}
	if !strings.Contains(string(data), `"telemetryEnabled": false`) {
		t.Errorf("config.json = %s, want telemetryEnabled false", data)
	}

	if resp := f.do(t, http.MethodPost, "track", event, nil); resp.status != http.StatusNoContent {
		t.Fatalf("POST track while off = %d %s, want 204", resp.status, resp.body)
	}
	if events, requests := f.flush(t); len(events) != 0 || requests != 0 {
		t.Errorf("collector got %d events in %d requests while off, want none", len(events), requests)
	}
	if ignored := f.client.Stats().Ignored; ignored != 1 {
		t.Errorf("Stats.Ignored = %d, want the 1 event tracked while off", ignored)
	}

	resp = f.do(t, http.MethodPost, "enabled", `{"enabled": true}`, nil)
	if got := decodeStatus(t, resp); resp.status != http.StatusOK || !got.Enabled {
		t.Fatalf("POST enabled true = %d %s, want 200 and enabled", resp.status, resp.body)
	}
	f.do(t, http.MethodPost, "track", event, nil)
	if events, _ := f.flush(t); len(events) != 1 {
		t.Errorf("collector got %d events after turning on, want 1", len(events))
	}
}

func TestToggleForbidden(t *testing.T) {
	t.Run("not allowed", func(t *testing.T) {
		f := newFixture(t, options{})
		resp := f.do(t, http.MethodPost, "enabled", `{"enabled": false}`, nil)
		if resp.status != http.StatusForbidden {
			t.Errorf("POST enabled = %d %s, want 403", resp.status, resp.body)
		}
		if !f.client.IsEnabled() {
			t.Error("telemetry is off after a forbidden toggle, want it unchanged")
		}
	})
	t.Run("locked", func(t *testing.T) {
		f := newFixture(t, options{env: env{"MUX_DISABLE_TELEMETRY": "1"}, config: webtelemetry.Config{AllowToggle: true}})
		resp := f.do(t, http.MethodPost, "enabled", `{"enabled": true}`, nil)
		if resp.status != http.StatusForbidden || !strings.Contains(resp.body, "MUX_DISABLE_TELEMETRY=1") {
			t.Errorf("POST enabled = %d %s, want 403 naming MUX_DISABLE_TELEMETRY=1", resp.status, resp.body)
		}
		if _, err := os.Stat(filepath.Join(f.home, telemetry.ConfigFile)); !os.IsNotExist(err) {
			t.Errorf("config.json written while locked: stat error %v", err)
		}
	})
	t.Run("other origin", func(t *testing.T) {
		f := newFixture(t, options{config: webtelemetry.Config{AllowToggle: true}})
		resp := f.do(t, http.MethodPost, "enabled", `{"enabled": false}`, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
		if resp.status != http.StatusForbidden {
			t.Errorf("POST enabled = %d %s, want 403", resp.status, resp.body)
		}
		if !f.client.IsEnabled() {
			t.Error("another origin turned telemetry off")
		}
	})
}

// An opt-out is saved even while another switch keeps telemetry off, so
// telemetry stays off once that switch is gone, such as DO_NOT_TRACK set
// in one shell only.
func TestToggleSavesOptOutWhileLocked(t *testing.T) {
	for _, variable := range []string{"DO_NOT_TRACK", "MUX_DISABLE_TELEMETRY"} {
		t.Run(variable, func(t *testing.T) {
			f := newFixture(t, options{env: env{variable: "1"}, config: webtelemetry.Config{AllowToggle: true}})
			resp := f.do(t, http.MethodPost, "enabled", `{"enabled": false}`, nil)
			if resp.status != http.StatusOK {
				t.Fatalf("POST enabled false = %d %s, want 200", resp.status, resp.body)
			}
			got := decodeStatus(t, resp)
			if got.Enabled || !got.Locked {
				t.Errorf("status after the opt-out = %+v, want disabled and locked", got)
			}
			data, err := os.ReadFile(filepath.Join(f.home, telemetry.ConfigFile))
			if err != nil {
				t.Fatalf("read config.json: %v", err)
			}
			if !strings.Contains(string(data), `"telemetryEnabled": false`) {
				t.Errorf("config.json = %s, want telemetryEnabled false", data)
			}
		})
	}
}

func TestToggleInvalidBody(t *testing.T) {
	f := newFixture(t, options{config: webtelemetry.Config{AllowToggle: true}})
	for _, body := range []string{`{}`, `{"enabled": "no"}`, `{"enabled": null}`, `{"enabled": false, "other": 1}`} {
		if resp := f.do(t, http.MethodPost, "enabled", body, nil); resp.status != http.StatusBadRequest {
			t.Errorf("POST enabled %s = %d %s, want 400", body, resp.status, resp.body)
		}
	}
	if resp := f.do(t, http.MethodPost, "enabled", `{"enabled": false}`, map[string]string{"Content-Type": "text/plain"}); resp.status != http.StatusUnsupportedMediaType {
		t.Errorf("POST enabled as text/plain = %d, want 415", resp.status)
	}
	if !f.client.IsEnabled() {
		t.Error("an invalid request turned telemetry off")
	}
}

func TestToggleSaveFails(t *testing.T) {
	f := newFixture(t, options{config: webtelemetry.Config{AllowToggle: true}})
	// A config.json that is not a JSON object cannot be updated in place.
	if err := os.WriteFile(filepath.Join(f.home, telemetry.ConfigFile), []byte("[1, 2]"), 0o600); err != nil {
		t.Fatal(err)
	}
	resp := f.do(t, http.MethodPost, "enabled", `{"enabled": true}`, nil)
	if resp.status != http.StatusInternalServerError {
		t.Fatalf("POST enabled = %d %s, want 500", resp.status, resp.body)
	}
	if !strings.Contains(resp.body, "not a JSON object") {
		t.Errorf("body %s does not say why the save failed", resp.body)
	}
	if st := decodeStatus(t, f.do(t, http.MethodGet, "status", "", nil)); st.Enabled {
		t.Errorf("status after a failed save = %+v, want still disabled", st)
	}
}

func TestRoutes(t *testing.T) {
	f := newFixture(t, options{})
	tests := []struct {
		method, endpoint string
		want             int
		allow            string
	}{
		{http.MethodGet, "track", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPost, "status", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodGet, "enabled", http.StatusMethodNotAllowed, "POST"},
		{http.MethodGet, "nothing-here", http.StatusNotFound, ""},
		{http.MethodHead, "client.js", http.StatusOK, ""},
	}
	for _, tt := range tests {
		resp := f.do(t, tt.method, tt.endpoint, "", nil)
		if resp.status != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.endpoint, resp.status, tt.want)
		}
		if got := resp.header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow = %q, want %q", tt.method, tt.endpoint, got, tt.allow)
		}
	}
}

// TestAssetsServedToAnyHost checks that the client's files load under a
// host name that the API endpoints reject, so such a page loads and only
// its telemetry calls fail, with the fix in their error.
func TestAssetsServedToAnyHost(t *testing.T) {
	f := newFixture(t, options{})
	for _, endpoint := range []string{"client.js", "client.d.ts", "catalog.d.ts"} {
		for _, site := range []string{"same-origin", "none"} {
			resp := f.do(t, http.MethodGet, endpoint, "", map[string]string{"Host": "app.example.com", "Sec-Fetch-Site": site})
			if resp.status != http.StatusOK {
				t.Errorf("GET %s under app.example.com (%s) = %d %s, want 200", endpoint, site, resp.status, resp.body)
			}
		}
	}
	cross := f.do(t, http.MethodGet, "client.js", "", map[string]string{"Host": "app.example.com", "Sec-Fetch-Site": "cross-site"})
	if cross.status != http.StatusForbidden {
		t.Errorf("GET client.js from another site = %d, want 403", cross.status)
	}
	status := f.do(t, http.MethodGet, "status", "", map[string]string{"Host": "app.example.com"})
	if status.status != http.StatusForbidden || !strings.Contains(status.body, "AllowedOrigins") {
		t.Errorf("GET status under app.example.com = %d %s, want 403 naming AllowedOrigins", status.status, status.body)
	}
}

func TestRoutesWithLeadingSlash(t *testing.T) {
	f := newFixture(t, options{})
	// http.StripPrefix("/api/telemetry", ...) leaves the slash in place.
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/status", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"enabled":true`) {
		t.Errorf("GET /status = %d %s, want 200 with the status", rec.Code, rec.Body)
	}
}

func TestRoutesWithoutStripPrefix(t *testing.T) {
	f := newFixture(t, options{})
	// An app that mounts the handler at /api/telemetry/ without
	// http.StripPrefix passes it the whole path.
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1/api/telemetry/client.js", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /api/telemetry/client.js = %d, want 404", rec.Code)
	}
	want := `not found: \"api/telemetry/client.js\" ends in the endpoint client.js: ` +
		`mount the handler with http.StripPrefix(\"/api/telemetry/\", handler)`
	if !strings.Contains(rec.Body.String(), want) {
		t.Errorf("GET /api/telemetry/client.js body = %s, want it to contain %s", rec.Body, want)
	}
}

func TestAssets(t *testing.T) {
	f := newFixture(t, options{})
	clientJS, err := os.ReadFile("client.js")
	if err != nil {
		t.Fatal(err)
	}
	clientDTS, err := os.ReadFile("client.d.ts")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		endpoint    string
		contentType string
		want        string
	}{
		{"client.js", "text/javascript; charset=utf-8", string(clientJS)},
		{"client.d.ts", "application/typescript; charset=utf-8", string(clientDTS)},
		{"catalog.d.ts", "application/typescript; charset=utf-8", string(mux.Catalog().TypeScript())},
	}
	for _, tt := range tests {
		resp := f.do(t, http.MethodGet, tt.endpoint, "", nil)
		if resp.status != http.StatusOK {
			t.Fatalf("GET %s = %d, want 200", tt.endpoint, resp.status)
		}
		if got := resp.header.Get("Content-Type"); got != tt.contentType {
			t.Errorf("GET %s: Content-Type = %q, want %q", tt.endpoint, got, tt.contentType)
		}
		if resp.body != tt.want {
			t.Errorf("GET %s: body differs from the file (%d bytes, want %d)", tt.endpoint, len(resp.body), len(tt.want))
		}
		etag := resp.header.Get("ETag")
		again := f.do(t, http.MethodGet, tt.endpoint, "", map[string]string{"If-None-Match": etag})
		if etag == "" || again.status != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %q = %d, want 304", tt.endpoint, etag, again.status)
		}
	}
}

type otherEvent struct {
	Kind string `json:"kind" candor:"enum=a|b"`
}

func (otherEvent) EventName() string { return "other_event" }

func TestNewTakesOnlyTheClientsCatalog(t *testing.T) {
	f := newFixture(t, options{})
	// Another call of mux.Catalog builds an equal catalog.
	webtelemetry.New(webtelemetry.Config{Client: f.client, Catalog: mux.Catalog()})

	other := catalog.New("other")
	other.MustRegister(otherEvent{}, "Another app's event.")
	defer func() {
		got := recover()
		if text, ok := got.(string); !ok || !strings.Contains(text, "leave Config.Catalog nil") {
			t.Errorf("New with another app's catalog panicked with %v, want a message that names the fix", got)
		}
	}()
	webtelemetry.New(webtelemetry.Config{Client: f.client, Catalog: other})
}

// TestTrackChecksClientsCatalogOnly builds the handler with a copy of the
// client's catalog and changes the copy afterwards. The handler must keep
// checking events against the catalog the client sends with.
func TestTrackChecksClientsCatalogOnly(t *testing.T) {
	copied := mux.Catalog()
	f := newFixture(t, options{config: webtelemetry.Config{Catalog: copied}})
	copied.MustRegister(otherEvent{}, "An event the client does not know.")

	resp := f.do(t, http.MethodPost, "track", `{"event":"other_event","properties":{"kind":"a"}}`, nil)
	if resp.status != http.StatusBadRequest {
		t.Errorf("status = %d %s, want 400 for an event outside the client's catalog", resp.status, resp.body)
	}
}

func TestTrackRejectionNamesFix(t *testing.T) {
	const id = "3f1c9a1e-8a43-4c1d-9a52-5b7d8e2f4c10"
	tests := []struct {
		name string
		body string
		fix  string
	}{
		{"unknown event", `{"event":"page_viewed","properties":{}}`, "catalog.d.ts"},
		{"unknown property", `{"event":"workspace_switched","properties":{"fromWorkspaceId":"` + id + `","toWorkspaceId":"` + id + `","extra":1}}`,
			"fromWorkspaceId, toWorkspaceId"},
		{"nested unknown property", `{"event":"workspace_created","properties":{"workspaceId":"` + id + `","runtimeType":"local","frontendPlatform":{"userAgent":"x","platform":"y","extra":1}}}`,
			"userAgent, platform"},
		{"base property", `{"event":"workspace_switched","properties":{"fromWorkspaceId":"` + id + `","toWorkspaceId":"` + id + `","version":"1.0.0"}}`,
			"version is a base property that only the backend sets, and the event's properties are fromWorkspaceId, toWorkspaceId"},
		{"nested member of wrong type", `{"event":"workspace_created","properties":{"workspaceId":"` + id + `","runtimeType":"local","frontendPlatform":{"userAgent":5,"platform":"y"}}}`,
			`property "frontendPlatform.userAgent": wrong_type: send a string`},
		{"object of wrong type", `{"event":"workspace_created","properties":{"workspaceId":"` + id + `","runtimeType":"local","frontendPlatform":"Linux"}}`,
			"send an object with the members userAgent (a string) and platform (a string)"},
		{"object missing", `{"event":"workspace_created","properties":{"workspaceId":"` + id + `","runtimeType":"local"}}`,
			"send it as an object with the members userAgent (a string) and platform (a string)"},
		{"missing property", `{"event":"workspace_switched","properties":{"fromWorkspaceId":"` + id + `"}}`, "send it as a string"},
		{"wrong type", `{"event":"app_started","properties":{"isFirstLaunch":"yes","vimModeEnabled":false}}`, "send a boolean"},
		{"value not in enum", `{"event":"command_used","properties":{"command":"nope"}}`, `"clear", "clear:hard"`},
		{"class broken", `{"event":"workspace_switched","properties":{"fromWorkspaceId":"alice","toWorkspaceId":"` + id + `"}}`,
			"privacy class random_id"},
	}
	f := newFixture(t, options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.do(t, http.MethodPost, "track", tt.body, nil)
			if resp.status != http.StatusBadRequest {
				t.Fatalf("status = %d %s, want 400", resp.status, resp.body)
			}
			var body struct{ Error string }
			if err := json.Unmarshal([]byte(resp.body), &body); err != nil {
				t.Fatalf("decode %s: %v", resp.body, err)
			}
			if !strings.Contains(body.Error, tt.fix) {
				t.Errorf("error %q does not say what to send: want it to contain %q", body.Error, tt.fix)
			}
		})
	}
}

func TestUnsupportedBodyNamesValue(t *testing.T) {
	f := newFixture(t, options{})
	body := `{"event":"command_used","properties":{"command":"clear"}}`
	tests := []struct {
		header map[string]string
		want   string
	}{
		{map[string]string{"Content-Type": "text/plain;charset=UTF-8"}, `"text/plain"`},
		{map[string]string{"Content-Type": ""}, "missing Content-Type"},
		{map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}, `"gzip"`},
	}
	for _, tt := range tests {
		resp := f.do(t, http.MethodPost, "track", body, tt.header)
		if resp.status != http.StatusUnsupportedMediaType {
			t.Errorf("headers %v: status = %d %s, want 415", tt.header, resp.status, resp.body)
		}
		var got struct{ Error string }
		if err := json.Unmarshal([]byte(resp.body), &got); err != nil {
			t.Fatalf("headers %v: decode %s: %v", tt.header, resp.body, err)
		}
		if !strings.Contains(got.Error, tt.want) {
			t.Errorf("headers %v: error %q does not contain %s", tt.header, got.Error, tt.want)
		}
	}
}
