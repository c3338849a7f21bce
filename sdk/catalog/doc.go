// Package catalog defines events, their properties and the privacy class of
// every property, and normalizes values by those classes. It is the one
// source of truth shared by the SDK, which checks each event before it
// leaves the app, and the collector, which checks each event again before it
// is stored.
//
// An app declares each event as a Go struct and registers it:
//
//	type MessageSent struct {
//		WorkspaceID   string `json:"workspaceId" candor:"random_id"`
//		MessageLength int    `json:"message_length_b2" candor:"base2"`
//	}
//
//	func (MessageSent) EventName() string { return "message_sent" }
//
//	c := catalog.New("myapp")
//	err := c.Register(MessageSent{}, "A chat message was sent.")
//
// An event name has 1 to 100 ASCII letters, digits and the characters
// _-.: and no two registered types may return the same one. A property
// name, the wire name in a field's json tag, has 1 to 100 ASCII letters,
// digits, '_' and '-', such as userAgent or message_length_b2. A leading $
// marks the names of PostHog and of the base properties, such as $lib, so
// an event's own properties cannot use it. Property names contain no dots,
// because a Violation names a member of an object property by its dotted
// path, such as frontendPlatform.userAgent. Register and Parse reject
// every other name.
//
// SetDashboard, called after Register, names the events from which the
// collector's dashboard counts new installs, opens its funnel and counts
// errors, and MarshalIndent carries that declaration into the catalog file.
// For an app that has also registered app_started and error_occurred:
//
//	err = c.SetDashboard(catalog.Dashboard{
//		FirstLaunchEvent:    "app_started",
//		FirstLaunchProperty: "isFirstLaunch",
//		Funnel:              []string{"app_started[isFirstLaunch=true]", "message_sent"},
//		ErrorEvent:          "error_occurred",
//		ErrorBreakdown:      []string{"errorType"},
//	})
//
// Diff reports changes to the declaration panel by panel, and Markdown
// lists the panels it feeds. TypeScript leaves it out, since it changes
// nothing the app sends.
//
// Callers put raw values in the struct; the class turns them into what may
// be sent: base-2 numbers are rounded up to a power of two, buckets and
// counts are clamped, user agents are reduced to a browser and OS family.
// Values that cannot be made safe, such as a file path in an identifier or
// NaN in a number, are rejected with a Violation that names the event and
// the property but never holds the value.
//
// A Catalog is written by Register during start-up and only read afterwards;
// reading is safe from many goroutines.
package catalog
