// Package mux is the telemetry catalog of Mux, the agentic coding app by
// Coder, as typed Go events. It is candor's built-in reference catalog: the
// event names, property names and enum values are the ones analyses written
// for the original app expect.
//
// Each event is a struct; fill it with raw values and hand it to a
// telemetry.Client:
//
//	client.Capture(mux.MessageSent{
//		WorkspaceID:   workspaceID,
//		Model:         "anthropic/claude-sonnet-4-5",
//		MessageLength: len(text), // sent as message_length_b2, rounded up to a power of two
//		RuntimeType:   "local",
//		ThinkingLevel: "medium",
//	})
//
// What each property means and which privacy class guards it is written in
// the struct tags of events.go, the one file to read to know what Mux sends.
package mux
