package webtelemetry_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/candor-dev/candor/sdk/webtelemetry"
)

func decodeEvents(t *testing.T, r response, into any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), into); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

func TestSentListsLoggedEvents(t *testing.T) {
	f := newFixture(t, options{sentLog: true})
	for _, body := range []string{messageSent, messageSent} {
		if resp := f.do(t, http.MethodPost, "track", body, nil); resp.status != http.StatusNoContent {
			t.Fatalf("POST track = %d %s, want 204", resp.status, resp.body)
		}
	}
	f.flush(t)

	resp := f.do(t, http.MethodGet, "sent", "", nil)
	if resp.status != http.StatusOK {
		t.Fatalf("GET sent = %d %s, want 200", resp.status, resp.body)
	}
	var got webtelemetry.Sent
	decodeEvents(t, resp, &got)
	if !got.Logged {
		t.Errorf("logged = false with telemetry.Config.SentLog set")
	}
	if len(got.Events) != 2 {
		t.Fatalf("GET sent returned %d events, want the 2 sent: %s", len(got.Events), resp.body)
	}
	var first struct {
		Event      string `json:"event"`
		DistinctID string `json:"distinct_id"`
	}
	if err := json.Unmarshal(got.Events[0], &first); err != nil {
		t.Fatalf("decode sent event %s: %v", got.Events[0], err)
	}
	if first.Event != "message_sent" {
		t.Errorf("sent event = %q, want message_sent", first.Event)
	}
	if first.DistinctID != f.client.InstallID() {
		t.Errorf("sent distinct_id = %q, want the install ID %q", first.DistinctID, f.client.InstallID())
	}

	limited := f.do(t, http.MethodGet, "sent?limit=1", "", nil)
	var one webtelemetry.Sent
	decodeEvents(t, limited, &one)
	if len(one.Events) != 1 {
		t.Errorf("GET sent?limit=1 returned %d events, want 1", len(one.Events))
	}
	for _, bad := range []string{"0", "-1", "x", "100001"} {
		if r := f.do(t, http.MethodGet, "sent?limit="+bad, "", nil); r.status != http.StatusBadRequest || !strings.Contains(r.body, bad) {
			t.Errorf("GET sent?limit=%s = %d %s, want 400 naming the value", bad, r.status, r.body)
		}
	}
}

func TestSentWithoutLog(t *testing.T) {
	f := newFixture(t, options{})
	resp := f.do(t, http.MethodGet, "sent", "", nil)
	if resp.status != http.StatusOK {
		t.Fatalf("GET sent = %d %s, want 200", resp.status, resp.body)
	}
	var got webtelemetry.Sent
	decodeEvents(t, resp, &got)
	if got.Logged {
		t.Errorf("logged = true without telemetry.Config.SentLog")
	}
	if got.Events == nil || len(got.Events) != 0 {
		t.Errorf("events = %v, want an empty array", got.Events)
	}
	if !strings.Contains(resp.body, `"events":[]`) {
		t.Errorf("GET sent body %s has no empty events array", resp.body)
	}
}

func TestPendingListsQueuedEvents(t *testing.T) {
	f := newFixture(t, options{})
	if resp := f.do(t, http.MethodPost, "track", messageSent, nil); resp.status != http.StatusNoContent {
		t.Fatalf("POST track = %d %s, want 204", resp.status, resp.body)
	}

	resp := f.do(t, http.MethodGet, "pending", "", nil)
	if resp.status != http.StatusOK {
		t.Fatalf("GET pending = %d %s, want 200", resp.status, resp.body)
	}
	var got webtelemetry.Pending
	decodeEvents(t, resp, &got)
	if len(got.Events) != 1 {
		t.Fatalf("GET pending returned %d events, want 1: %s", len(got.Events), resp.body)
	}
	if got.Events[0].Name != "message_sent" || got.Events[0].Location != "memory" {
		t.Errorf("pending event = %+v, want message_sent in memory", got.Events[0])
	}
	if len(got.Events[0].JSON) == 0 {
		t.Errorf("pending event has no wire JSON")
	}
}

func TestTransparencyOriginCheck(t *testing.T) {
	f := newFixture(t, options{sentLog: true})
	for _, endpoint := range []string{"status", "sent", "pending"} {
		resp := f.do(t, http.MethodGet, endpoint, "", map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
		if resp.status != http.StatusForbidden {
			t.Errorf("cross-site GET %s = %d %s, want 403", endpoint, resp.status, resp.body)
		}
		if r := f.do(t, http.MethodPost, endpoint, "{}", nil); r.status != http.StatusMethodNotAllowed {
			t.Errorf("POST %s = %d, want 405", endpoint, r.status)
		}
		// A DNS rebinding page in a browser that sends neither header.
		rebound := f.do(t, http.MethodGet, endpoint, "", map[string]string{"Host": "evil.example:80", "Sec-Fetch-Site": ""})
		if rebound.status != http.StatusForbidden || !strings.Contains(rebound.body, "evil.example") {
			t.Errorf("GET %s with Host evil.example = %d %s, want 403 naming the host", endpoint, rebound.status, rebound.body)
		}
		program := f.do(t, http.MethodGet, endpoint, "", map[string]string{"Sec-Fetch-Site": ""})
		if program.status != http.StatusOK {
			t.Errorf("GET %s from a program on the server's address = %d %s, want 200", endpoint, program.status, program.body)
		}
	}
}

// TestListedHostSameOriginGET checks that a page served under a host name
// listed in AllowedOrigins may read status, sent and pending. Browsers
// send no Origin header with a same-origin GET, so only the Host header
// names the page's origin.
func TestListedHostSameOriginGET(t *testing.T) {
	f := newFixture(t, options{sentLog: true, config: webtelemetry.Config{AllowedOrigins: []string{"https://mux.example.com"}}})
	for _, endpoint := range []string{"status", "sent", "pending"} {
		listed := f.do(t, http.MethodGet, endpoint, "", map[string]string{"Host": "mux.example.com"})
		if listed.status != http.StatusOK {
			t.Errorf("same-origin GET %s under the listed host = %d %s, want 200", endpoint, listed.status, listed.body)
		}
		other := f.do(t, http.MethodGet, endpoint, "", map[string]string{"Host": "other.example.com"})
		if other.status != http.StatusForbidden {
			t.Errorf("same-origin GET %s under an unlisted host = %d %s, want 403", endpoint, other.status, other.body)
		}
	}
}

// TestPendingLimit checks that GET pending returns at most limit events,
// the first ones to be sent, with the number of all waiting events.
func TestPendingLimit(t *testing.T) {
	f := newFixture(t, options{})
	for range 3 {
		if resp := f.do(t, http.MethodPost, "track", messageSent, nil); resp.status != http.StatusNoContent {
			t.Fatalf("POST track = %d %s, want 204", resp.status, resp.body)
		}
	}

	resp := f.do(t, http.MethodGet, "pending?limit=2", "", nil)
	if resp.status != http.StatusOK {
		t.Fatalf("GET pending?limit=2 = %d %s, want 200", resp.status, resp.body)
	}
	var got webtelemetry.Pending
	decodeEvents(t, resp, &got)
	if len(got.Events) != 2 {
		t.Errorf("GET pending?limit=2 returned %d events, want 2", len(got.Events))
	}
	if got.Total != 3 {
		t.Errorf("GET pending?limit=2 total = %d, want 3", got.Total)
	}

	for _, limit := range []string{"0", "10001", "x"} {
		bad := f.do(t, http.MethodGet, "pending?limit="+limit, "", nil)
		if bad.status != http.StatusBadRequest || !strings.Contains(bad.body, "invalid limit") {
			t.Errorf("GET pending?limit=%s = %d %s, want 400 invalid limit", limit, bad.status, bad.body)
		}
	}
}
