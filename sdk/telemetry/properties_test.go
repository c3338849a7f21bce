package telemetry

import (
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
)

func TestCapturePropertiesSendsNormalized(t *testing.T) {
	col := newCollector(t)
	client := newClient(t, testConfig(t, col.srv.URL))
	props := map[string]any{"command": "compact"}
	client.CaptureProperties("command_used", props)
	props["command"] = "not-a-command" // the client keeps its own copy
	client.CaptureProperties("workspace_switched", map[string]any{"fromWorkspaceId": "/home/alice/project", "toWorkspaceId": "0f8fad5b-d9cb-469f-a165-70867728950e"})
	client.CaptureProperties("no_such_event", map[string]any{})

	stats := closeClient(t, client)
	events := col.accepted()
	if len(events) != 1 {
		t.Fatalf("collector got %d events, want 1", len(events))
	}
	if got := events[0].Properties["command"]; got != "compact" {
		t.Errorf("command = %v, want compact", got)
	}
	if stats.Sent != 1 {
		t.Errorf("sent = %d, want 1", stats.Sent)
	}
	if stats.Dropped != 2 {
		t.Errorf("dropped = %d, want 2", stats.Dropped)
	}
}

func TestCaptureCopiesPropertyMap(t *testing.T) {
	col := newCollector(t)
	c, err := build(testConfig(t, col.srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	platform := map[string]any{"userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", "platform": "Win32"}
	values := map[string]any{
		"workspaceId":      "3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b",
		"runtimeType":      "local",
		"frontendPlatform": platform,
	}
	props := map[string]any{"command": "compact"}
	pointed := map[string]any{"command": "compact"}
	c.Capture(catalog.PropertyMap{Name: "workspace_created", Values: values})
	c.CaptureProperties("workspace_created", values)
	c.Capture(catalog.PropertyMap{Name: "command_used", Values: props})
	c.Capture(&catalog.PropertyMap{Name: "command_used", Values: pointed})

	// The app reuses its maps before the sender reads the events.
	values["runtimeType"] = "ssh"
	platform["platform"] = "MacIntel"
	props["command"] = "fork"
	pointed["command"] = "fork"
	go newSender(c).run()
	closeClient(t, c)

	events := col.accepted()
	if len(events) != 4 {
		t.Fatalf("collector got %d events, want 4", len(events))
	}
	for _, ev := range events[:2] {
		if got := ev.Properties["runtimeType"]; got != "local" {
			t.Errorf("runtimeType = %v, want local, the value at Capture", got)
		}
		nested, _ := ev.Properties["frontendPlatform"].(map[string]any)
		if got, want := nested["platform"], catalog.ReducePlatform("Win32"); got != want {
			t.Errorf("frontendPlatform.platform = %v, want %s, reduced from the value at Capture", got, want)
		}
	}
	for _, ev := range events[2:] {
		if got := ev.Properties["command"]; got != "compact" {
			t.Errorf("command = %v, want compact, the value at Capture", got)
		}
	}
}

// TestCaptureNilPropertyMap captures a nil *catalog.PropertyMap and
// PropertyMaps whose Values map is nil, by value, by pointer and through
// CaptureProperties. None may panic or reach the collector, and each is
// counted as dropped: the nil pointer as encode_failed, and each nil map
// as command_used's missing required property.
func TestCaptureNilPropertyMap(t *testing.T) {
	col := newCollector(t)
	c := newClient(t, testConfig(t, col.srv.URL))

	var nilPointer *catalog.PropertyMap
	c.Capture(nilPointer)
	c.Capture(catalog.PropertyMap{Name: "command_used"})
	c.Capture(&catalog.PropertyMap{Name: "command_used"})
	c.CaptureProperties("command_used", nil)
	c.CaptureProperties("command_used", map[string]any{"command": "new"})
	flush(t, c)
	st := closeClient(t, c)

	if n := len(col.accepted()); n != 1 {
		t.Errorf("collector got %d events, want only the one with properties", n)
	}
	if st.Captured != 5 {
		t.Errorf("Captured = %d, want 5", st.Captured)
	}
	if st.Sent != 1 {
		t.Errorf("Sent = %d, want 1", st.Sent)
	}
	want := map[string]int64{DropEncodeFailed: 1, string(catalog.ReasonMissing): 3}
	if d := diff(want, st.DroppedByReason); d != "" {
		t.Errorf("drops by reason: %s", d)
	}
	if st.Captured != st.Sent+st.Dropped {
		t.Errorf("Captured %d != Sent %d + Dropped %d", st.Captured, st.Sent, st.Dropped)
	}
}

// TestPropertyMapCannotSetBaseProperties captures a PropertyMap that sets
// base properties the client fills in itself. The client's values are
// sent, and each value of the map is reported as a violation.
func TestPropertyMapCannotSetBaseProperties(t *testing.T) {
	col := newCollector(t)
	client := newClient(t, testConfig(t, col.srv.URL))
	client.CaptureProperties("command_used", map[string]any{
		"command":            "compact",
		"$geoip_disable":     false,
		"version":            "9.9.9",
		"$lib":               "other-lib",
		"catalogFingerprint": "0000000000000000",
	})

	stats := closeClient(t, client)
	events := col.accepted()
	if len(events) != 1 {
		t.Fatalf("collector got %d events, want 1", len(events))
	}
	props := events[0].Properties
	if got := props["$geoip_disable"]; got != true {
		t.Errorf("$geoip_disable = %v, want true", got)
	}
	if got := props["version"]; got != "1.2.3" {
		t.Errorf("version = %v, want Config.Version 1.2.3", got)
	}
	if got := props["$lib"]; got != LibraryName {
		t.Errorf("$lib = %v, want %s", got, LibraryName)
	}
	if got := props["catalogFingerprint"]; got != client.Catalog().Fingerprint() {
		t.Errorf("catalogFingerprint = %v, want the catalog's", got)
	}
	for _, name := range []string{"$geoip_disable", "version", "$lib", "catalogFingerprint"} {
		key := "command_used " + name + " " + string(catalog.ReasonUnknownProperty)
		if stats.ViolationsByProperty[key] != 1 {
			t.Errorf("violations %q = %d, want 1 (%v)", key, stats.ViolationsByProperty[key], stats.ViolationsByProperty)
		}
	}
}
