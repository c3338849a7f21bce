package webtelemetry

import "github.com/candor-dev/candor/sdk/telemetry"

// captureFunc hands one validated event to the telemetry client. A non-nil
// error is a *catalog.Violation or another reason the event cannot be
// captured.
type captureFunc func(event string, props map[string]any) error

// newCapture returns a captureFunc that passes the checked properties to
// client.CaptureProperties, which checks them again on the sender goroutine.
func newCapture(client *telemetry.Client) captureFunc {
	return func(event string, props map[string]any) error {
		client.CaptureProperties(event, props)
		return nil
	}
}
