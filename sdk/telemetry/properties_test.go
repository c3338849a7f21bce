package telemetry

import "testing"

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
