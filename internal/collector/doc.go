// Package collector is the ingestion side of candor serve: an http.Handler
// that speaks the v0 capture protocol of PostHog, so unmodified PostHog
// clients (posthog-go, posthog-node, posthog-python, posthog-js) and the
// candor SDK can send to it.
//
// # Paths and methods
//
// /batch, /capture, /e, /i/v0/e, /track and /engage, each with or without a
// trailing slash and with runs of slashes collapsed, accept GET (payload in
// the data query parameter), POST and OPTIONS. CORS is permissive: Origin
// and the requested headers are mirrored and credentials are allowed.
//
// # Payload
//
// A payload is decoded in the order PostHog's capture service uses. The
// steps are the data parameter or the body, an optimistic base64 decoding, a
// urlencoded form's data field decoded from base64, and the compression hint
// (query, form field, Content-Encoding). Then come gzip (also found by its
// magic bytes) or lz-string, and on /e, /capture, /track and /engage one
// more base64 layer.
// The JSON is an array of events, a batch object {"api_key"|"token",
// "batch", "sent_at"}, a single event, or on /engage an object without
// "event" that becomes $identify.
//
// # Authentication
//
// The token is the batch's api_key or token, else each event's token,
// $token, api_key, properties.token or properties.$token. Every token of a
// request must be the same (400 otherwise); no token or an unknown one gets
// 401. A write key only lets its holder add events to its project.
//
// # Events
//
// Each event needs a non-empty name and a distinct_id. The distinct_id
// must be a random ID or a plain identifier (catalog.CheckDistinctID). An
// email address, a URL, a path, an IP address or a phone number drops the
// event as invalid_distinct_id. A missing or empty uuid is replaced by a
// UUIDv7; an invalid one drops the event. Timestamps
// are corrected for client clock skew as PostHog does. With the request's
// sent_at, an event is placed at the receive time minus the time from its
// timestamp to sent_at. An event's offset, in milliseconds before sending,
// places it at the receive time minus offset and wins over timestamp.
//
// A correction that would place an event before 1970, such as an offset of
// 1e300 or a sent_at millennia ahead, cannot be right, so the event gets
// the receive time. A correction to any time since 1970 is kept, because
// posthog-python stamps every batch with sent_at, also batches that import
// events years old. A timestamp more than 23 hours ahead of the receive
// time becomes the receive time, and one that the client sent before 1970
// without a correction becomes the Unix epoch, since ClickHouse's DateTime
// column starts there. With Config.MaxEventAge, an event whose timestamp is
// older than that before the receive time is dropped as expired.
//
// The properties are then normalized by the project's catalog: unknown events
// and required properties that break their class drop the event. Unknown
// properties, undeclared members of nested objects and invalid optional
// properties are left out. Every drop is counted by reason
// in the response and in Stats, and the valid events of the request are
// stored. The collector never stores the client's IP address, its
// User-Agent header or a location.
//
// # Responses
//
// 200 {"status":"Ok","accepted":n,"duplicates":n,"dropped":{...},
// "dropped_properties":{...},"violations":{...}} once the events are
// committed, or 204 for ?beacon=1. Dropped events still get 200, because a
// client must not retry what can never succeed. "violations" is present
// when the catalog rejected a value. It counts the rejections by event,
// property and reason, such as "message_sent frontendPlatform.userAgent
// wrong_type", and names a member of an object property by its dotted
// path. Its keys contain only names the catalog declares and never a
// value, and Stats and the metrics count by reason only. Errors are {"status":n,"code":"...","error":"..."}:
// 400 for malformed requests, 401 for keys, 404 for a path that is not a
// capture path, 405 for a method other than GET, POST and OPTIONS, 408
// for a body that arrives too slowly, 413 for payloads over a limit, 429
// with Retry-After for a write key over its rate limit, 500 for a panic
// and 503 with Retry-After when the store fails, the collector is
// overloaded or it is closing.
//
// # Self-service deletion
//
// A batch request may carry deletion_key_hash, the hex SHA-256 of the
// install's deletion secret, beside api_key. The collector never stores
// the member as a property. It registers the first hash it gets for each
// install among the batch's valid events before it commits them, for at
// most 4 installs per batch, since each registration is a store call. The
// SDK sends one install per batch, so none of its events is stored before
// the registration of its install's key was tried. An install left out of
// a larger batch is registered with its next batch.
// A failed registration is logged, and the install's next batch tries
// again. A batch that gets 503 after the registration, because its commit
// failed or the collector was overloaded, leaves its key registered. That
// key is the client's own, the client retries the batch with it, and a
// deletion with it deletes whatever is stored, possibly nothing.
//
// POST /api/v1/self/delete with {"api_key", "distinct_id", "secret"}
// deletes the install's events and gets 200 {"deleted": n}. A wrong secret
// gets 403 secret_mismatch, an install without a registered hash 404
// install_not_found, and a store that keeps no hashes 501 not_supported.
//
// # Limits
//
// Each event is capped at Config.MaxEventSize bytes of JSON and at
// Config.MaxProperties members per object. Its nesting is capped at
// Config.MaxDepth levels, counted from the top of the payload. An event of
// a batch object is at level 3, its properties at level 4. An event over a cap
// is dropped as event_too_large, event_too_deep or event_too_many_members
// without being decoded, and the valid events of its request are stored.
// A request whose events are all over a cap gets 413, because a token
// inside them is not read. A payload over the depth or member cap outside
// its events, such as a batch object with too many members, gets 413, and
// so does one nested deeper than 10,000 levels, where encoding/json stops.
//
// Each write key has a token bucket (Config.RateLimit events per second,
// Config.RateBurst at once); a request costs one token per event. Memory is
// bounded for the whole collector: requests reserve their bodies and decoded
// payloads in Config.MaxBufferedBytes, at most Config.MaxDecoding requests
// decode at once, and at most Config.MaxPendingEvents events wait for their
// commit. A request over the buffered bytes or the pending events gets 503
// at once, and so does one that finds no decoding slot within
// Config.DecodeWait. While the pending events fill their whole budget, a
// request gets 503 before its body is decoded, so the CPU goes to the
// commits. Config.RequestTimeout bounds the wait for a commit.
//
// # Durability
//
// A request gets its response only after Store.Insert has committed its
// events.
// One committer goroutine merges concurrent requests into one Insert call
// (group commit) and hands every request the result of its commit.
// Duplicates by (project, uuid) are skipped by the store.
//
// # Observability
//
// Stats returns counters, in total and per project. A Collector is also a
// prometheus.Collector that exports them as candor_* metrics, with a
// histogram of commit durations. The logger gets a summary line per
// Config.SummaryInterval, commit failures (rate-limited), panics, and
// rejected requests at the debug level, never one line per event.
package collector
