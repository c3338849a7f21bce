// Package telemetry is the client an app imports to send the events of its
// catalog to a candor collector, or to any service that speaks PostHog's
// /batch/ capture protocol.
//
//	client, err := telemetry.New(telemetry.Config{
//		App:      mux.App,
//		Catalog:  mux.Catalog(),
//		Endpoint: "http://127.0.0.1:8080",
//		WriteKey: "phc_...",
//		Version:  version,
//	})
//	...
//	client.Capture(mux.AppStarted{IsFirstLaunch: client.FirstLaunch()})
//	...
//	stats, err := client.Close(ctx)
//
// Capture never blocks and never panics. Telemetry is off when
// <APP>_DISABLE_TELEMETRY is exactly "1", when DO_NOT_TRACK is "1" or
// "true", when config.json in the app's home folder has
// "telemetryEnabled": false, and in CI, end-to-end and `go test` runs unless
// Config.AllowAutomation is set. Status explains the decision.
package telemetry
