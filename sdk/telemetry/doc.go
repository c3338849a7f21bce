// Package telemetry is the client an app imports to send the events of its
// catalog to a candor collector, or to any service that accepts PostHog's
// /batch/ capture requests.
//
//	client, err := telemetry.New(telemetry.Config{
//		App:      mux.App,
//		Catalog:  mux.Catalog(),
//		Endpoint: "http://127.0.0.1:8787",
//		WriteKey: "phc_example",
//		Version:  version,
//	})
//	if err != nil {
//		return err // only an invalid Config fails
//	}
//	client.Capture(mux.AppStarted{IsFirstLaunch: client.FirstLaunch()})
//	...
//	stats, err := client.Close(ctx) // flushes, spools the rest, reports drops
//
// # What a call costs
//
// Capture never blocks, never panics and does no I/O. On the caller's
// goroutine it reads two environment variables (the user's opt-outs, see
// below), calls Config.Clock and sends the event to a buffered channel. It
// allocates nothing itself for an event struct. Passing an event struct
// converts it to the catalog.Event interface, which costs the caller one
// allocation. A catalog.PropertyMap's values, nested object maps included,
// are copied, so the caller may reuse the maps. The sender reads an event
// after Capture returns, so values that struct fields point to must not
// change after Capture.
// BenchmarkCaptureCallerOnly measured about 100 ns per call with
// os.Getenv on a shared, loaded 2-core AMD EPYC VM. When the channel
// (Config.QueueSize) is full, the new event is dropped and counted as
// "queue_full".
//
// One sender goroutine per client does the rest. It checks each event
// against the catalog, normalizing values by their privacy class, adds the
// base properties and encodes the JSON. It batches events by count
// (BatchSize) and age (FlushInterval) and posts gzip JSON to
// Endpoint+"/batch/". An event that breaks its class is dropped, or sent
// without an optional property that breaks it. Both are counted in
// Stats.Violations by reason and in Stats.ViolationsByProperty by event,
// property and reason, with a member of an object property named by its
// dotted path, such as "message_sent frontendPlatform.userAgent
// wrong_type". Each is logged once per event, property and reason, by name
// and never by value. Event and property names that the catalog does not
// declare are logged the first time only, so that names built at run time
// cannot flood the log.
//
// # Switches
//
// Telemetry is off when any of these holds, checked in this order. Status
// lists each one in plain words and names the one that decided, and its
// Ignored field has a sentence for each variable set to a value that has
// no effect, such as MUX_DISABLE_TELEMETRY=true or MUX_TELEMETRY_DEBUG=1:
//
//  1. <APP>_DISABLE_TELEMETRY is exactly "1", such as MUX_DISABLE_TELEMETRY=1.
//     Other values, MUX_DISABLE_TELEMETRY=true included, are ignored, as in
//     the original Mux app.
//  2. DO_NOT_TRACK is "1" or "true" (any case).
//  3. <Home>/config.json has "telemetryEnabled": false, as SetEnabled writes
//     it. A config.json that cannot be read, is not a JSON object or has a
//     telemetryEnabled that is not a boolean also keeps telemetry off,
//     never on.
//  4. The run is automated: <APP>_E2E=1; a CI variable (CI=true or 1,
//     GITHUB_ACTIONS, GITLAB_CI, CIRCLECI, TRAVIS, BUILDKITE, DRONE,
//     NETLIFY =true, TF_BUILD, APPVEYOR =True, VERCEL=1, or JENKINS_URL,
//     BITBUCKET_BUILD_NUMBER, TEAMCITY_VERSION, CODEBUILD_BUILD_ID set);
//     or the process is a `go test` binary. Config.AllowAutomation sends
//     anyway.
//
// Once Config.Getenv has panicked, telemetry stays off for the rest of the
// run, because the opt-outs can no longer be read. SwitchGetenv is checked
// after the four switches above, so Status.Switch names it only when none
// of them applies.
//
// IsExplicitlyDisabled is true for switches 1 to 3, the user's own choice.
//
// Where each switch is read: every Capture reads switches 1 and 2, so
// setting either stops capturing at once. New, IsEnabled, Status and
// IsExplicitlyDisabled read all four, checking config.json's size and
// modification time and re-reading it when they changed. The sender does
// the same before every upload and once per second, so a change that
// another process makes to config.json applies within about a second. When
// telemetry turns off, the events queued in memory are dropped as
// "disabled".
//
// Turning telemetry off also cancels an upload in flight. SetEnabled(false)
// and any read of the switches that finds telemetry off, such as IsEnabled
// or Status, cancel its request at once. During an upload the switches are
// also read every second, which catches an opt-out by another process,
// such as the app's telemetry command. The cancelled batch is not retried.
// Its events are dropped as "disabled", unless the batch came from the
// spool and an environment switch turned telemetry off, because those
// switches leave the spool for a later run. A response that arrived before
// the cancel still counts, so a batch the collector acknowledged by then
// is sent.
//
// While telemetry is off the client creates no install ID, opens no
// connection and writes no spool. When config.json turns telemetry off,
// through SetEnabled(false) or another process, the spooled events are
// deleted too; the environment switches leave them for a later run.
//
// # Identity
//
// distinct_id is a random UUIDv4 kept in <Home>/telemetry_id (mode 0600,
// Home created 0700), created on the first enabled start. Processes that
// start together agree on one ID, and FirstLaunch is true in exactly one
// of them: use it for app_started's isFirstLaunch. An empty or corrupt
// file is replaced. When Home cannot be written the ID lives in memory for
// that run and FirstLaunch is false.
//
// # Delivery
//
// A 2xx response whose body is a complete JSON object, or a 204 without a
// body, counts the batch as sent. Network errors, 408, 429, 5xx and a 2xx
// with any other body (a captive portal's HTML page, a proxy's text, a
// body cut short) are retried after an exponential backoff with full
// jitter, capped at MaxRetryDelay, and never sooner than a Retry-After
// header asks (up to one hour). A 413 splits the batch in halves, which
// keep its place in the order (a spooled batch is replaced by two spool
// files that sort where its file did), and a single event that still gets
// 413 is dropped as "too_large". Other 4xx
// drop the batch as "rejected". Up to 3 redirects are followed. Redirects
// from https to http are rejected and the batch is dropped as
// "insecure_redirect". A 301, 302 or 303 redirect, which would resend the
// batch as a GET without it, is not followed and the upload is retried.
// Neither is a redirect to a host name other than the Endpoint's, which
// the privacy notice names as where events go.
// The default HTTP client uses
// HTTP_PROXY, HTTPS_PROXY and NO_PROXY. Without a proxy it speaks HTTP/1.1
// on one kept-alive connection, written and read on the sender goroutine,
// which costs about half the CPU time of net/http's transport per upload.
// While an upload waits for its response, the sender encodes the queued
// events of the next batch and compresses the next batch's body. A body
// compressed ahead is sent only within 20 ms, so sent_at stays the time of
// sending. Every event keeps its UUID across retries, so the collector can
// drop duplicates.
//
// # Spool
//
// While uploads fail with a retryable error, and for events still queued
// when Close's context ends, batches go to <Home>/spool, written to a
// temporary file, synced and renamed. Batches spooled together share files
// of up to 512 KiB, or Spool.MaxBytes if that is smaller, and up to a
// tenth of Spool.MaxEvents, so spooling costs a few syncs, not one per
// batch. The next start sends them before new events, with their original
// UUIDs, in requests of at most BatchSize events. Small files are merged,
// and a larger file is sent in parts and deleted after its last part.
// Processes of the same app share the spool and claim each file by
// renaming it, so no file is sent twice. The spool keeps at most
// Spool.MaxEvents events (10,000) and Spool.MaxBytes bytes (5 MiB),
// dropping the oldest files first as "spool_full". A batch larger than
// Spool.MaxBytes, or of more than Spool.MaxEvents events, is spooled in
// parts that fit, and an event that alone is larger than Spool.MaxBytes
// is dropped as "spool_full". Set Config.Spool.Disabled to turn the spool
// off. Undeliverable events then wait in memory, up to QueueSize, and are
// dropped at Close.
//
// A spooled batch may have been written by an earlier version of the app,
// whose catalog allowed more. Before sending it, the client checks each
// event again against its own Config.Catalog, with the rules that Capture
// applies. An event whose name the catalog no longer has, or whose
// required property is missing or breaks its class now (such as an enum
// value that was removed), is dropped as "spool_catalog_rejected", with
// the catalog's reason in Stats.Violations. An optional, unknown or base
// property that breaks its class is removed, and a value that its class
// now normalizes differently, such as under new bucket edges, is replaced.
// The client writes the checked batch back to its spool file, so a retry
// counts nothing twice. Base properties such as version and
// catalogFingerprint keep the values of the run that captured the event.
// Lines that are not JSON event objects are dropped as "spool_corrupt", and
// so is a whole file larger than Spool.MaxBytes, of which no more than that
// is read.
//
// # Debugging
//
// <APP>_TELEMETRY_DEBUG=print writes each event's exact JSON to
// Config.DebugOutput (stderr by default) and sends nothing;
// <APP>_TELEMETRY_DEBUG=tee writes it and sends it too. Both are read in
// any case, and any other value is ignored and noted in Status.Ignored. Config.SentLog
// keeps a rotated local copy of every event the collector acknowledged,
// and Client.Sent returns its most recent events.
// Print mode creates the install ID like a normal run but writes no spool.
// Status explains the switches, and Stats counts captured, sent, queued,
// spooled and dropped events by reason, including the events the
// collector acknowledged but did not store, which its response lists.
// Config.Logger receives the first failed upload of an outage and the
// recovery, and each dropped batch. It also receives the first event
// dropped as too large since the last successful upload, the first
// response that lists events the collector dropped, and one line per
// distinct violation. A panic in the Logger's handler is recovered, its
// record is lost, and Stats.LogFailures counts it. Panics in the other hooks
// that the sender goroutine calls are recovered too: in DebugOutput's
// Write (logged as a failed write), in HTTPClient (the upload is retried)
// and in Getenv (see Switches).
//
// # Seeing and controlling what is sent
//
// Pending lists the events waiting in memory and in the spool, each with
// the exact JSON that will be sent. Spooled events are listed as the check
// against the current catalog (see Spool) leaves them. NextPayload returns
// the next batch request byte for byte as the sender would post it, or a
// request with a sample event when nothing is waiting. Switches lists every switch in
// order with whether it applies. Package telemetrycli turns these, with
// SetEnabled and Forget, into "telemetry status|show|pending|enable|
// disable|forget" subcommands for the app's command line.
//
// # Deletion
//
// While telemetry is enabled, the first batch request the client builds, for
// an upload or for NextPayload, creates a random 256-bit deletion secret in
// <Home>/telemetry_secret (mode 0600) beside the install ID. Every batch
// request carries its SHA-256 as the member "deletion_key_hash", next to
// api_key and outside the events, and the collector keeps the first hash it
// gets for the install. Forget drops what is waiting, deletes the spool, the
// sent log, the ID and the secret, and while telemetry is enabled first
// posts the ID and the secret to Endpoint+"/api/v1/self/delete", so the
// collector deletes the install's events. While telemetry is disabled,
// Forget makes no connection and requires ForgetOptions.LocalOnly when a
// secret exists, because without the secret the events already sent can no
// longer be deleted by the user. Other clients on the same Home, such as
// other processes of the app, notice within about a second that the ID file
// is gone: they drop what is waiting and continue under the next ID and
// secret.
//
// # Privacy notice
//
// Notice returns a notice generated from the catalog: what is sent, where
// it goes and how to turn it off. Its version is the catalog fingerprint,
// so it needs showing on the first run and again whenever the catalog
// changes, until the app calls MarkNoticeShown, which records the version
// in <Home>/telemetry_notice. With Config.RequireNotice, the notice is a
// fifth switch: until the current version was shown, Capture ignores
// events (they are dropped, not held, so nothing captured before the
// notice is ever sent), and no install ID or secret is created and the
// spool is not sent.
//
// # Concurrency and shutdown
//
// All methods are safe for concurrent use. Close is idempotent and bounded
// by its context: it uploads what is queued while the context allows,
// spools the rest and returns the final Stats, with an error only when
// events were dropped at shutdown. Once the context has ended, Close
// writes at most as many spool files as fill an empty spool (ten by
// default) and drops what is left as "shutdown". After a failed upload it
// spools what is left at once, even when the context has time left, and
// the next start sends it. Only with the spool off or failing does it
// retry while the context allows. No goroutine of the client outlives
// Close. With Config.HTTPClient set, idle connections stay with that
// client's transport, which the app owns.
package telemetry
