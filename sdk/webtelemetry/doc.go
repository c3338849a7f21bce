// Package webtelemetry connects a web frontend to the telemetry client of
// its own backend. The page never talks to the collector: it posts each
// event to the app's backend, which checks it against the catalog and alone
// decides whether to send it. That keeps ad blockers out of the path and
// the on/off switch in one place.
//
// Mount the handler under a prefix of the app's server:
//
//	client, err := telemetry.New(telemetry.Config{App: mux.App, Catalog: mux.Catalog(), ...})
//	...
//	tel := webtelemetry.New(webtelemetry.Config{
//		Client:      client, // its catalog checks the page's events
//		AllowToggle: true,
//	})
//	routes.Handle("/api/telemetry/", http.StripPrefix("/api/telemetry/", tel))
//
// The handler serves, relative to that prefix:
//
//	POST track        {"event": "...", "properties": {...}}: 204, or 400 naming
//	                  the event and the property or member that broke the catalog
//	GET  status       {"enabled", "explicit", "locked", "reason", "notes"}
//	POST enabled      {"enabled": bool}: persists the user's choice (Config.AllowToggle);
//	                  while another switch keeps telemetry off, only false (else 403)
//	GET  sent         {"logged", "events", "note"}: the most recent events sent to
//	                  the collector, oldest first, as the telemetry client's sent
//	                  log recorded them; ?limit=N for 1 to 10000 (default 100).
//	                  Without a sent log, logged is false and note names the
//	                  setting that turns it on
//	GET  pending      {"events": [...], "total": N}: the first events
//	                  waiting to be sent, as telemetry.Client.Pending lists
//	                  them, and the number of all; ?limit=N as for sent
//	GET  client.js    the browser client, an ES module
//	GET  client.d.ts  its TypeScript declarations
//	GET  catalog.d.ts TypeScript types of the catalog's events
//
// The sent and pending events carry the install ID as distinct_id, so
// they get the same origin checks as every other endpoint (see Requests).
//
// The status body's notes lists one sentence per telemetry variable that is
// set to a value that has no effect, such as
// `MUX_DISABLE_TELEMETRY="true" is ignored: only "1" turns telemetry off`
// or a MUX_TELEMETRY_DEBUG value other than print and tee, and is an empty
// array otherwise. A settings page shows them, since the user who set such
// a variable expects telemetry to be off or printed.
//
// # Requests
//
// POST bodies must be uncompressed JSON (Content-Type application/json,
// and no Content-Encoding other than identity, else 415) and at most
// Config.MaxBodyBytes long (else 413). A request sent by a page of
// another origin gets 403: the Origin header, when present, must name the
// request's own host or one of Config.AllowedOrigins, and Sec-Fetch-Site
// must not be same-site or cross-site. A same-origin request is trusted
// only when the Host header is an IP address, localhost or the host of an
// origin in AllowedOrigins, so a DNS rebinding page cannot switch
// telemetry on: an app served under another host name lists its own
// origin in AllowedOrigins. Without that, its page still loads client.js
// and the declarations, and only its calls fail. Requests without Origin
// and Sec-Fetch-Site come from programs other than browsers, or from a
// plain-HTTP page under a host name other than localhost, where Chromium
// sends neither on a GET. They are served, except by status, sent and
// pending, which read the install ID or the environment and require such
// a Host too. For the origins in Config.AllowedOrigins the
// handler accepts CORS preflights (OPTIONS, else 403) and sets
// Access-Control-Allow-Origin, so a development server's page on another
// port may call it directly.
//
// A rejected event's 400 body names the event, the property and the
// catalog's reason, such as looks_like_path, and never the value. A member
// of an object property is named by its dotted path, such as
// frontendPlatform.userAgent. A member that the catalog does not declare
// is reported under the object's name, because the page chose its name.
// The error message then states what to send, from the catalog alone: the
// event's property names, the JSON type, the members of an object, the
// enum values or the privacy class. An event name or property name that
// is not a plain identifier is not echoed either.
//
// # The browser client
//
// client.js, also in this folder for bundlers with client.d.ts, exports
// track(event, properties), which never throws and never returns anything:
// failures are swallowed. Before an event leaves the page, numbers in
// properties whose names end in _b2 are rounded up to a power of two and
// userAgent strings are reduced to a browser and OS family, with the rules
// of catalog.RoundBase2 and catalog.ReduceUserAgent.
//
// At most 2 track requests run at once, so that a slow backend leaves the
// page's own requests the other connections that the browser opens to a
// host over HTTP/1.1 (6 in Chromium). Up to 100 more events wait in memory
// and go out as requests finish. track drops an event when 100 already
// wait or when its JSON is longer than 64 KiB in UTF-8. A request without
// a response after 10 s is aborted.
//
// Every track request is a keepalive request, so it outlives the page. In
// Chromium (checked in 156) the keepalive request bodies that a page has
// in flight may add up to at most 64 KiB, and a fetch beyond that fails.
// The client counts the UTF-8 bytes of its own bodies in flight and posts
// an event only when it fits. A request's share counts until its response
// body is read, which the client does. The page's own keepalive requests
// share the budget, but the client cannot see them. Chromium rejects a
// fetch beyond the budget with a TypeError, the same error as for a
// backend that cannot be reached. So a track request that fails that way
// is sent once more without keepalive while the page is visible, and then
// dropped if it fails again. While the page is hidden, the event is kept
// as described below. The page then posts no kept event for 1 s, then the
// oldest one alone, and the rest once that one gets a response. Each
// further failure doubles the wait, up to 5 minutes. An event whose
// connection broke after the backend had read it is sent twice, and a
// request sent without keepalive is cancelled, with its event, when the
// page unloads before the response.
//
// When the page turns hidden (visibilitychange) or fires pagehide,
// whichever comes first, the waiting events are sent at once as far as
// the budget allows. A hidden page may be discarded or killed without
// pagehide, as mobile browsers and tab discarding do. Each event leaves
// the queue as it is sent or kept, so none is sent twice. The exceptions
// are an event whose connection broke, as described above, and the kept
// events of a duplicated tab, because the browser copies the
// sessionStorage described below into the new tab. Until the page is
// visible again, track sends each event at once, or keeps it, so the
// events of the page's own pagehide listeners are not lost. A page that
// loads hidden, as in a background tab, counts as hidden from the start.
//
// # What the browser keeps
//
// The events that do not fit into the budget when the page turns hidden
// are kept in the sessionStorage of the page's origin, under the key
// candor-telemetry-unsent, as the JSON bodies that track would have
// posted. sessionStorage belongs to one tab: the browser deletes it when
// the tab is closed, so the events kept then are lost. The key holds at
// most 256 KiB of bodies, and track drops what does not fit. When the
// origin's storage is full, as the page's own data can make it, the
// oldest events that still fit are kept and the newer ones dropped. An
// event is kept for at most an hour after its track call and then
// dropped unsent.
//
// While the page stays alive, the kept events are sent as the budget
// frees up, and when the page is visible again. Otherwise, the next page
// of the tab that loads client.js, such as the page after a navigation
// or a reload, reads GET status first, after its first configure or
// track call. A configure call starts the read after the other configure
// calls of the same task, so it uses their base. The page sends the kept
// events when telemetry is on and drops them when telemetry is off. A
// page on which track does nothing, as noopReason() reports, reads no
// status and leaves them kept. When the status request fails, the events
// stay kept, as do those that this page keeps, and the first configure
// or track call or return to visible at least 5 s after the failure
// reads the status again. Each further failure doubles that wait, up to
// 5 minutes. setEnabled(false) and every status with enabled false, from
// getStatus or setEnabled, drop the kept events and those waiting in
// memory at once. So events kept before a user opted out are never sent
// afterwards. The one exception is an opt-out made in another tab and
// reverted within the hour before this tab's next page reads the status.
// The backend stamps each event when it arrives, so a kept event's
// timestamp is up to an hour late.
//
// track does nothing in these cases, which noopReason() reports:
//
//   - the page has <meta name="candor-telemetry" content="off">;
//   - the page is driven by automation or a test runner: navigator.webdriver
//     is true, globalThis.__CANDOR_E2E__ or globalThis.__MUX_E2E__ (the flag
//     Mux's end-to-end tests set) is truthy, import.meta.env.MODE is "test",
//     or the code runs under Node.js with NODE_ENV=test, CI=true, CI=1 or
//     VITEST set. configure({allowAutomation: true}) sends anyway: an app
//     calls it only when started in a test mode, so that its own browser
//     tests can check the events, as examples/muxapp does with
//     --allow-automation;
//   - the page comes from a development server: import.meta.env.DEV is
//     true, or process.env.NODE_ENV is "development", as webpack's bundles
//     under Create React App and Next.js read it. A page served from
//     localhost, 127.0.0.1 or [::1] counts as well when its port is one
//     that only development servers use by default: 1234 (Parcel), 4200
//     (Angular), 4321 (Astro), 5173 and 5174 (Vite) or 6006 (Storybook).
//     configure({dev: true}) sends anyway. Generic ports such as 3000,
//     8000 and 8080 are no sign of a development server, because backends
//     serve production pages there too.
//
// With configure({debug: true}), track logs each reason to the console
// once. getStatus always adds noopReason() to the status it returns as
// noopReason, so a settings page can show it.
//
// getStatus(), setEnabled(enabled), getSent(limit) and getPending(limit) call
// the status, enabled, sent and pending endpoints for a settings page.
// Unlike track, they reject their promise when the request fails, so the
// page can show the failure. They also reject when the backend does not
// respond within 10 s, or the milliseconds set with
// configure({requestTimeoutMs}), so a page never waits forever on a hung
// backend. setEnabled's timeout
// error says that the choice may or may not have been saved, because the
// request may have reached the backend, and that getStatus reads it again.
// setEnabled sends its calls one at a time, so a call waits for those
// before it, and its timeout starts when its own request does.
// setEnabled with any argument but true or false, such as the string
// "true", rejects with a TypeError that names the value, sends nothing
// and drops nothing.
//
// mux.d.ts in this folder holds the types of the built-in Mux catalog, as
// GET catalog.d.ts serves them for a handler whose client has the Mux
// catalog. With
// them, a typed track is one line:
//
//	import { track as untypedTrack } from "./client.js";
//	import type { Track } from "./mux";
//	export const track: Track = untypedTrack;
//
// # Concurrency
//
// A Handler is safe for concurrent use. It adds no goroutines: accepted
// events are handed to the telemetry client, whose Capture never blocks.
package webtelemetry
