// Command egressapp is a minimal app that uses the telemetry client the way
// an app does at start and exit: it reads the state, captures events,
// flushes and closes. TestDisabledTelemetryMakesNoEgress runs it as a
// child process under each switch and watches its connections and files.
//
// Usage: egressapp ENDPOINT. The home folder is the default, ~/.mux, so
// the test controls it through HOME. It prints the final Stats as JSON.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/candor-dev/candor/sdk/mux"
	"github.com/candor-dev/candor/sdk/telemetry"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: egressapp ENDPOINT")
		os.Exit(2)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "egressapp:", err)
		os.Exit(1)
	}
	client, err := telemetry.New(telemetry.Config{
		App:           mux.App,
		Catalog:       mux.Catalog(),
		Endpoint:      os.Args[1],
		WriteKey:      "phc_egress",
		Version:       "1.0.0",
		FlushInterval: 10 * time.Millisecond,
		SentLog:       filepath.Join(home, ".mux", "telemetry_sent.jsonl"),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "egressapp:", err)
		os.Exit(1)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	status := client.Status()
	client.SetFeatureFlagVariant("new-onboarding", "treatment")
	client.Capture(mux.AppStarted{IsFirstLaunch: client.FirstLaunch()})
	for range 20 {
		client.Capture(mux.CommandUsed{Command: "compact"})
	}
	client.CaptureProperties("command_used", map[string]any{"command": "fork"})
	client.Notice()
	client.Switches()
	client.Pending(ctx)
	client.NextPayload(ctx, mux.CommandUsed{Command: "new"})
	flushErr := client.Flush(ctx)
	stats, closeErr := client.Close(ctx)

	out, _ := json.Marshal(map[string]any{
		"enabled":    status.Enabled,
		"switch":     status.Switch,
		"install_id": client.InstallID(),
		"stats":      stats,
		"flush":      fmt.Sprint(flushErr),
		"close":      fmt.Sprint(closeErr),
	})
	fmt.Println(string(out))
}
