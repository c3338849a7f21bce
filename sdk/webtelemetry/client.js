// Browser client of candor's webtelemetry handler (Go package
// github.com/candor-dev/candor/sdk/webtelemetry). The page posts each event
// to its own backend, which checks it against the event catalog and alone
// decides whether to send it. Nothing here talks to an analytics service.
//
// track() never throws and returns nothing. It does nothing under test
// automation, in end-to-end runs and under a development server, unless
// configure() allows it, and noopReason() returns the case that applies.

const settings = {
  base: "/api/telemetry/",
  dev: false,
  allowAutomation: false,
  debug: false,
  requestTimeoutMs: 10000,
};

// Default ports of development servers that production servers rarely
// use: Parcel 1234, Angular CLI 4200, Astro 4321, Vite 5173 and its next
// free port 5174, Storybook 6006. Generic ports are left out, because a
// backend on localhost may serve its own production UI there. 8000, 8080
// and 8081 are common defaults of Go, Python and Java servers. 3000 and
// 3001 are the defaults of Create React App and Next.js, but also of
// Express's generated apps, Rails, Grafana and Gitea. Those two
// development servers are detected by process.env.NODE_ENV instead.
const DEV_PORTS = new Set(["1234", "4200", "4321", "5173", "5174", "6006"]);
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

// Chromium opens at most 6 HTTP/1.1 connections per host, and the page's
// own requests to its backend share them. So at most MAX_IN_FLIGHT track
// requests run at once, and a slow backend cannot stall the page. The
// other events wait in a queue of at most MAX_QUEUED, and track drops new
// events while it is full.
const MAX_IN_FLIGHT = 2;
const MAX_QUEUED = 100;
// Every track request is a keepalive request, so that it outlives the
// page. Chromium rejects a keepalive fetch when the bodies of the page's
// keepalive requests in flight, its own included, would add up to more
// than 64 KiB of UTF-8. That was measured in Chromium 156, and
// internal/clientjs/browser_test.go in the root module checks the client
// against the installed Chromium. So the client counts the bytes of its
// bodies in flight and posts an event only when it fits, and drops an
// event longer than the whole budget.
// The page's own keepalive requests share the budget, but the client
// cannot see them. Chromium 156 rejects a fetch beyond the budget with
// "TypeError: Failed to fetch". So a track request that fails with a
// TypeError before its response is sent once more without keepalive while
// the page is visible, and kept in sessionStorage while it is hidden (see
// keepRejected). While the page is visible, a backend that is down fails
// both attempts, and the event is dropped.
// NOTE: Chromium reports a network error with the same TypeError, so an
// event whose connection broke after the backend had read the request is
// sent twice. A request sent again without keepalive is cancelled, and
// its event lost, when the page unloads before the response. An event
// that a hidden page kept is lost when the tab closes before it is sent.
const KEEPALIVE_BUDGET_BYTES = 64 * 1024;
// After a hidden page has kept an event that Chromium rejected, the
// client posts no stored event while hidden for KEEPALIVE_RETRY_MIN_MS.
// It then posts the oldest stored event alone, and when that one gets a
// response, the others that fit. Each further rejection doubles the wait,
// up to KEEPALIVE_RETRY_MAX_MS, until the page is visible again. So while
// the page is hidden, a backend that is down gets one request per wait
// and one per track call.
const KEEPALIVE_RETRY_MIN_MS = 1000;
const KEEPALIVE_RETRY_MAX_MS = 5 * 60 * 1000;
// When the page turns hidden, the queued events that do not fit into the
// keepalive budget go to sessionStorage under UNSENT_KEY: at most
// MAX_STORED_BYTES of request bodies, and fewer when the origin's storage
// is full. Each is kept for at most MAX_STORED_AGE_MS after its track
// call. See storeUnsent and resumeUnsent.
// NOTE: a browser that duplicates a tab copies its sessionStorage, so
// both tabs send the events it kept.
const UNSENT_KEY = "candor-telemetry-unsent";
const MAX_STORED_BYTES = 256 * 1024;
const MAX_STORED_AGE_MS = 60 * 60 * 1000;
// When resumeUnsent fails to read the backend's status, it reads it again
// at the first configure or track call, or return of the page to visible,
// after STATUS_RETRY_MIN_MS.
// Each further failure doubles the wait, up to STATUS_RETRY_MAX_MS. A page
// that neither calls configure or track nor turns visible makes no
// request, and the retries end when the stored events have expired after
// MAX_STORED_AGE_MS.
const STATUS_RETRY_MIN_MS = 5000;
const STATUS_RETRY_MAX_MS = 5 * 60 * 1000;
// A track request that has no response after TRACK_TIMEOUT_MS is aborted,
// which frees its connection.
const TRACK_TIMEOUT_MS = 10000;
// Browsers and Node.js run a setTimeout whose delay is longer than
// 2^31 - 1 ms (about 24.8 days) after 1 ms, so requestTimeoutMs is capped
// at that delay.
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

const queue = [];
let inFlight = 0;
// keepaliveBytes is the UTF-8 length of the bodies of the track requests
// in flight.
let keepaliveBytes = 0;
let lifecycleListening = false;
// pageHidden is true from the moment the page turns hidden or fires
// pagehide until it is visible again. The page may then be discarded
// without another event, so track posts each event at once when it fits
// into the keepalive budget and stores it otherwise.
let pageHidden = false;
// storedRetryTimer is the timer of retryStored while it is scheduled, and
// storedRetryDelayMs is its latest delay (see KEEPALIVE_RETRY_MIN_MS).
let storedRetryTimer = null;
let storedRetryDelayMs = 0;
// resumeState tracks the events that an earlier page of this tab stored:
// "unchecked" until the first configure or track call, "pending" while the
// backend's status is read, "failed" when that read failed, and "done"
// once they were claimed or dropped. Stored events are posted only in
// state "done".
let resumeState = "unchecked";
// statusRetryDelayMs is the wait after the latest failed status read of
// resumeUnsent, and statusRetryAt the monotonicNow() time when it ends.
let statusRetryDelayMs = 0;
let statusRetryAt = 0;
// loggedNoopReason is the last reason debug logged for a dropped track,
// so that each reason is logged once and not per event.
let loggedNoopReason = null;

/**
 * Changes the client's settings; unknown or mistyped options are ignored.
 * base is the URL prefix the backend mounted the handler at (default
 * "/api/telemetry/"); dev: true sends from a development server;
 * allowAutomation: true sends under test automation; debug: true logs
 * the backend's error for each rejected event to the console. The error
 * names the event, the property and the catalog's reason, never the
 * value, and names a member of an object property by its dotted path,
 * such as frontendPlatform.userAgent. requestTimeoutMs is how long
 * getStatus, setEnabled, getSent and getPending wait for the backend's response, in
 * milliseconds (default 10000). A value that is not a positive finite
 * number is ignored, and one above 2147483647 (about 24.8 days, the
 * longest setTimeout delay) counts as 2147483647. After the configure
 * calls of the current task, and while noopReason() is null, the client
 * sends or drops the events that an earlier page of this tab kept in
 * sessionStorage, as track does.
 */
export function configure(options) {
  try {
    if (!options || typeof options !== "object") return;
    if (typeof options.base === "string" && options.base !== "") {
      settings.base = options.base.endsWith("/") ? options.base : options.base + "/";
    }
    for (const key of ["dev", "allowAutomation", "debug"]) {
      if (typeof options[key] === "boolean") settings[key] = options[key];
    }
    const timeout = options.requestTimeoutMs;
    if (typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0) {
      settings.requestTimeoutMs = Math.min(timeout, MAX_TIMER_DELAY_MS);
    }
    // The resume waits for a microtask, so that every configure call of
    // this task has set base before resumeUnsent reads the status.
    Promise.resolve().then(() => guarded(resumeAfterConfigure));
  } catch {
    // configure never throws into the page.
  }
}

// resumeAfterConfigure starts resumeUnsent as a track call would, so
// that a page that calls configure but never track still sends or drops
// the events that an earlier page of this tab stored.
function resumeAfterConfigure() {
  if (noopReason() !== null) return;
  listenForPageLifecycle();
  resumeUnsent();
}

/**
 * Returns why track() does nothing on this page, such as
 * "navigator.webdriver", or null when it sends. A development server's
 * reason names what detected it and the fix, configure({dev: true}).
 */
export function noopReason() {
  try {
    if (pageSwitchedOff()) return 'meta candor-telemetry="off"';
    const automation = automationReason();
    if (automation && !settings.allowAutomation) return automation;
    const dev = devServerReason();
    if (dev && !settings.dev) return dev;
    return null;
  } catch {
    return "client error";
  }
}

/**
 * Sends one event to the backend, fire and forget. Numbers in properties
 * whose names end in _b2 are rounded up to a power of two and userAgent
 * strings reduced to a browser and OS family before the request leaves
 * the page. At most 2 requests run at once, and up to 100 more events
 * wait. They are sent as requests finish. When the page turns hidden or
 * fires pagehide, the waiting events are sent at once as far as 64 KiB of
 * keepalive request bodies allow, and the rest are kept in sessionStorage
 * for the next page of this tab. Until the page is visible again, every
 * event is sent at once or kept that way. A request that fails before its
 * response is sent once more without keepalive while the page is visible,
 * and kept in sessionStorage while it is hidden. Chromium fails a
 * keepalive request that way when the page's keepalive bodies in flight,
 * its own included, would exceed 64 KiB. An event is dropped when 100
 * already wait or its JSON is longer than 64 KiB in UTF-8.
 */
export function track(event, properties) {
  try {
    const reason = noopReason();
    if (reason !== null) {
      if (reason !== loggedNoopReason) debugLog("events are not sent: " + reason);
      loggedNoopReason = reason;
      return;
    }
    const body = JSON.stringify({ event: String(event), properties: prepare(properties ?? {}) });
    const size = utf8Length(body);
    if (size > KEEPALIVE_BUDGET_BYTES) {
      debugLog("event dropped: its JSON is " + size + " bytes, more than the " + KEEPALIVE_BUDGET_BYTES + " bytes that Chromium sends as keepalive requests");
      return;
    }
    const request = { body, size, trackedAt: Date.now() };
    listenForPageLifecycle();
    resumeUnsent();
    if (pageHidden) {
      if (fitsBudget(request)) post(request);
      else storeUnsent([request]);
      return;
    }
    if (queue.length === 0 && inFlight < MAX_IN_FLIGHT && fitsBudget(request)) {
      post(request);
      return;
    }
    if (queue.length >= MAX_QUEUED) {
      if (queueDrops === 0) debugLog("event dropped: " + MAX_QUEUED + " events already wait for the backend; later ones are dropped too until the queue has room");
      queueDrops++;
      return;
    }
    queue.push(request);
  } catch (err) {
    debugLog(err);
  }
}

// post sends one track request and, when it has finished, the next
// events that fit.
function post(request) {
  inFlight++;
  keepaliveBytes += request.size;
  let budgetCounted = true;
  const releaseBudget = () => {
    if (budgetCounted) keepaliveBytes -= request.size;
    budgetCounted = false;
  };
  let delivery;
  try {
    delivery = deliver(request, releaseBudget);
  } catch (err) {
    inFlight--;
    releaseBudget();
    debugLog(err);
    return;
  }
  delivery
    .catch(debugLog)
    .then(() => {
      inFlight--;
      releaseBudget();
      if (pageHidden || queue.length === 0) sendStored();
      else sendQueued(MAX_IN_FLIGHT);
    });
}

// deliver posts request as a keepalive request and reads the response.
// When the fetch fails with a TypeError, before any response, it sends
// the request again without keepalive while the page is visible, and
// keeps it in sessionStorage while the page is hidden. A fetch that
// throws instead of returning a promise is not sent again.
function deliver(request, releaseBudget) {
  const keepalive = Promise.resolve(fetchTrack(request.body, true));
  return keepalive.then(readTrackResponse, (err) => {
    releaseBudget();
    if (!(err instanceof TypeError)) throw err;
    if (pageIsHidden()) {
      keepRejected(request, err);
      return undefined;
    }
    return Promise.resolve(fetchTrack(request.body, false)).then(readTrackResponse);
  });
}

function fetchTrack(body, keepalive) {
  return globalThis.fetch(settings.base + "track", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
    keepalive,
    credentials: "same-origin",
    signal: timeoutSignal(),
  });
}

// pageIsHidden reports whether the page is hidden, also before the
// client's visibilitychange listener has run.
function pageIsHidden() {
  const doc = globalThis.document;
  return pageHidden || Boolean(doc && doc.visibilityState === "hidden");
}

// keepRejected stores an event whose keepalive request a hidden page
// could not send, and schedules retryStored, so that the event is not
// posted again until then.
function keepRejected(request, err) {
  debugLog("a keepalive track request failed while the page is hidden, so its event is kept in sessionStorage: " + (err && err.message));
  storeUnsent([request]);
  if (storedRetryTimer !== null) return;
  storedRetryDelayMs = Math.min(Math.max(2 * storedRetryDelayMs, KEEPALIVE_RETRY_MIN_MS), KEEPALIVE_RETRY_MAX_MS);
  storedRetryTimer = setTimeout(() => guarded(retryStored), storedRetryDelayMs);
}

// retryStored posts the oldest stored event while the page is hidden.
// When it gets a response, post calls sendStored, which posts the
// stored events that fit.
function retryStored() {
  storedRetryTimer = null;
  if (!pageHidden || resumeState !== "done") return;
  for (const request of takeStored(KEEPALIVE_BUDGET_BYTES - keepaliveBytes, 1)) post(request);
}

// cancelStoredRetry ends the wait of keepRejected, once the page is
// visible again.
function cancelStoredRetry() {
  if (storedRetryTimer !== null) clearTimeout(storedRetryTimer);
  storedRetryTimer = null;
  storedRetryDelayMs = 0;
}

function fitsBudget(request) {
  return keepaliveBytes + request.size <= KEEPALIVE_BUDGET_BYTES;
}

// sendQueued posts queued events, oldest first, while fewer than limit
// requests run and the next event fits into the keepalive budget.
function sendQueued(limit) {
  while (queue.length > 0 && inFlight < limit && fitsBudget(queue[0])) post(queue.shift());
  if (queueDrops > 0 && queue.length < MAX_QUEUED) {
    debugLog(queueDrops + " events were dropped while " + MAX_QUEUED + " events waited for the backend");
    queueDrops = 0;
  }
}

// queueDrops counts the events dropped since the queue filled, so that
// debug mode logs a full queue once, not once per event.
let queueDrops = 0;

function timeoutSignal() {
  const Signal = globalThis.AbortSignal;
  return Signal && typeof Signal.timeout === "function" ? Signal.timeout(TRACK_TIMEOUT_MS) : undefined;
}

// listenForPageLifecycle flushes the queue when the page turns hidden or
// fires pagehide, whichever comes first. A hidden page may be discarded or
// killed without pagehide, as mobile browsers and tab discarding do, and
// its queued events would be lost with it. The page's own listeners may
// run before or after these, so track posts at once until the page is
// visible again.
function listenForPageLifecycle() {
  if (lifecycleListening || typeof globalThis.addEventListener !== "function") return;
  lifecycleListening = true;
  // A page that loads hidden, as in a background tab, gets no
  // visibilitychange until it is shown and may be discarded before, so it
  // counts as hidden from the start.
  pageHidden = pageIsHidden();
  globalThis.addEventListener("pagehide", () => guarded(flush));
  globalThis.addEventListener("pageshow", () => guarded(show));
  const doc = globalThis.document;
  if (doc && typeof doc.addEventListener === "function") {
    doc.addEventListener("visibilitychange", () => guarded(doc.visibilityState === "hidden" ? flush : show));
  }
}

function guarded(handler) {
  try {
    handler();
  } catch (err) {
    debugLog(err);
  }
}

// flush posts the queued events that fit into the keepalive budget and
// stores the rest. An event leaves the queue as it is posted or stored, so
// a second flush, as pagehide after visibilitychange runs it, sends
// nothing twice.
function flush() {
  pageHidden = true;
  sendQueued(Infinity);
  storeUnsent(queue.splice(0));
}

// show runs when the page is visible again, after a bfcache restore too,
// and moves the stored events back into the queue.
function show() {
  const doc = globalThis.document;
  if (!pageHidden || (doc && doc.visibilityState === "hidden")) return;
  pageHidden = false;
  cancelStoredRetry();
  resumeUnsent();
  sendStored();
}

// sendStored sends the stored events once resumeUnsent has checked them.
// While the page is hidden it posts those that fit into the keepalive
// budget, unless retryStored is scheduled. Otherwise it puts as many as
// the queue has room for in front of it. post calls it again when the
// queue has emptied, so that more than MAX_QUEUED stored events all leave
// sessionStorage.
function sendStored() {
  if (resumeState !== "done") return;
  if (pageHidden) {
    if (storedRetryTimer !== null) return;
    for (const request of takeStored(KEEPALIVE_BUDGET_BYTES - keepaliveBytes, Infinity)) post(request);
    return;
  }
  queue.unshift(...takeStored(Infinity, MAX_QUEUED - queue.length));
  sendQueued(MAX_IN_FLIGHT);
}

// resumeUnsent runs at the first track call of a page and in a microtask
// after each configure call, so after the page set base, but only while
// noopReason() is null. When an earlier page of this tab stored events, it
// reads the backend's status first: the events are sent when telemetry is
// on and dropped when it is off (readStatus drops them). When the status
// cannot be read, they stay stored, as do those that this page stores,
// and a later configure or track call or return to visible reads the
// status again after the wait described at STATUS_RETRY_MIN_MS.
function resumeUnsent() {
  if (resumeState === "failed" && monotonicNow() < statusRetryAt) return;
  if (resumeState !== "unchecked" && resumeState !== "failed") return;
  if (readStored().length === 0) {
    resumeState = "done";
    return;
  }
  resumeState = "pending";
  getStatus().then(
    () => {
      resumeState = "done";
      sendStored();
    },
    (err) => {
      statusRetryDelayMs = Math.min(Math.max(2 * statusRetryDelayMs, STATUS_RETRY_MIN_MS), STATUS_RETRY_MAX_MS);
      statusRetryAt = monotonicNow() + statusRetryDelayMs;
      resumeState = "failed";
      debugLog("stored events wait, because reading the telemetry status failed: " + (err && err.message) +
        ". The first configure or track call or return to visible after " + statusRetryDelayMs / 1000 + " s reads it again.");
    },
  );
}

// monotonicNow returns milliseconds from performance.now(), which a change
// of the system clock does not move, or from Date.now() where it is
// missing.
function monotonicNow() {
  const performance = globalThis.performance;
  return performance && typeof performance.now === "function" ? performance.now() : Date.now();
}

// dropUnsent drops the queued and the stored events, because the user
// opted out or the backend's status has enabled false.
function dropUnsent() {
  queue.length = 0;
  const storage = sessionStore();
  if (storage) storage.removeItem(UNSENT_KEY);
}

function sessionStore() {
  try {
    const storage = globalThis.sessionStorage;
    return storage && typeof storage.getItem === "function" ? storage : null;
  } catch {
    // Reading sessionStorage throws where the browser blocks storage.
    return null;
  }
}

// readStored returns the stored events that are younger than
// MAX_STORED_AGE_MS, oldest first. The key contains
// {"events": [{"body": "...", "trackedAt": ms}, ...]}.
function readStored() {
  const storage = sessionStore();
  if (!storage) return [];
  let entries = null;
  try {
    entries = JSON.parse(storage.getItem(UNSENT_KEY) || "null").events;
  } catch {
    entries = null;
  }
  if (!Array.isArray(entries)) return [];
  const now = Date.now();
  const out = [];
  for (const entry of entries) {
    if (!entry || typeof entry.body !== "string" || typeof entry.trackedAt !== "number") continue;
    const age = now - entry.trackedAt;
    if (age < 0 || age >= MAX_STORED_AGE_MS) continue;
    out.push({ body: entry.body, size: utf8Length(entry.body), trackedAt: entry.trackedAt });
  }
  return out;
}

// writeStored replaces the stored events. It throws when sessionStorage
// is missing or full.
function writeStored(requests) {
  const storage = sessionStore();
  if (!storage) throw new Error("sessionStorage is not available");
  if (requests.length === 0) {
    storage.removeItem(UNSENT_KEY);
    return;
  }
  const events = requests.map((r) => ({ body: r.body, trackedAt: r.trackedAt }));
  storage.setItem(UNSENT_KEY, JSON.stringify({ events }));
}

// storeUnsent appends requests to the stored events while their bodies
// add up to at most MAX_STORED_BYTES and sessionStorage accepts them, and
// drops the others.
function storeUnsent(requests) {
  if (requests.length === 0) return;
  if (!sessionStore()) {
    debugLog(countEvents(requests.length) + " dropped: they did not fit into the keepalive budget, and sessionStorage is not available");
    return;
  }
  const stored = readStored();
  const toStore = stored.slice();
  let bytes = stored.reduce((sum, r) => sum + r.size, 0);
  let overCap = 0;
  for (const request of requests) {
    if (bytes + request.size > MAX_STORED_BYTES) {
      overCap++;
      continue;
    }
    bytes += request.size;
    toStore.push(request);
  }
  if (overCap > 0) debugLog(countEvents(overCap) + " dropped: they did not fit into the keepalive budget or into the " + MAX_STORED_BYTES + " bytes kept in sessionStorage");

  const written = writeMostStored(toStore);
  // sessionStorage still contains the earlier stored events when it
  // accepted no write.
  const kept = written > 0 ? written : stored.length;
  if (kept < toStore.length) debugLog(countEvents(toStore.length - kept) + " dropped: sessionStorage rejected them, and it keeps " + countEvents(kept));
}

// writeMostStored stores the oldest of requests, as many as
// sessionStorage accepts, and returns their number, or 0 when it accepted
// none and still contains the earlier value. setItem throws a
// QuotaExceededError when the origin's storage is full, and other data
// of the page may fill it, so a failed write is retried with fewer
// events. The oldest are kept, as MAX_STORED_BYTES keeps them, so the
// events stored earlier stay ahead of newer ones. A binary search for the
// number that fits takes at most about log2(requests.length) + 1 writes.
function writeMostStored(requests) {
  let fits = 0;
  let fails = requests.length + 1;
  let lastError = null;
  // The last write that succeeded stored fits events, unless fits is 0,
  // and writes of fails or more events failed.
  for (let n = requests.length; fails - fits > 1; n = Math.floor((fits + fails) / 2)) {
    try {
      writeStored(requests.slice(0, n));
      fits = n;
    } catch (err) {
      fails = n;
      lastError = err;
    }
  }
  if (lastError) debugLog(lastError);
  return fits;
}

// countEvents returns "1 event" or "n events".
function countEvents(n) {
  return n === 1 ? "1 event" : n + " events";
}

// takeStored removes from storage and returns the oldest stored events, as
// many as fit into maxBytes and maxCount. It returns none when it cannot
// remove them, so that no event is sent twice.
function takeStored(maxBytes, maxCount) {
  const stored = readStored();
  let bytes = 0;
  let n = 0;
  while (n < stored.length && n < maxCount && bytes + stored[n].size <= maxBytes) {
    bytes += stored[n].size;
    n++;
  }
  if (n === 0) return [];
  try {
    writeStored(stored.slice(n));
  } catch (err) {
    debugLog(err);
    return [];
  }
  return stored.slice(0, n);
}

// utf8Length returns the number of bytes of s in UTF-8, as fetch encodes a
// string body. A lone surrogate counts 3 bytes, as its replacement
// character U+FFFD does.
function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      n += 1;
    } else if (c < 0x800) {
      n += 2;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else {
      n += 3;
    }
  }
  return n;
}

// readTrackResponse reads the whole response body, because Chromium frees
// a keepalive request's share of the budget only once its body is read:
// a keepalive fetch made as soon as the previous one resolved was rejected
// in Chromium 156. In debug mode it logs the backend's error.
async function readTrackResponse(response) {
  if (!response) return;
  let text = "";
  if (typeof response.text === "function") {
    text = await response.text();
  } else if (!response.ok && settings.debug && typeof response.json === "function") {
    text = JSON.stringify(await response.json());
  }
  if (response.ok || !settings.debug) return;
  let message = "HTTP " + response.status;
  try {
    const body = JSON.parse(text);
    if (body && typeof body.error === "string") message = body.error;
  } catch {
    // A body that is not JSON leaves the status as the message.
  }
  debugLog(message);
}

function debugLog(message) {
  try {
    if (settings.debug) console.warn("candor telemetry:", message);
  } catch {
    // Console access can fail in locked-down frames.
  }
}

const RETRY_ADVICE = " Try again, or check that the app's server is running.";

/**
 * Returns the backend's telemetry status:
 * {enabled, explicit, locked, reason, notes}, with noopReason() of this
 * page added as noopReason, because the backend cannot see that track()
 * sends nothing from this page. A status with enabled false drops the
 * events that wait in memory or in sessionStorage. The promise rejects with an Error
 * holding the backend's message when the request fails, and with a timeout
 * Error when the backend does not respond within requestTimeoutMs.
 */
export function getStatus() {
  return requestWithTimeout("status", {
    headers: { Accept: "application/json" },
  }, RETRY_ADVICE, readStatus);
}

/**
 * Persists the user's choice on the backend and returns the new status.
 * The promise rejects with an Error holding the backend's message when the
 * choice could not be saved; the status is then unchanged. When the
 * backend does not respond within requestTimeoutMs, the promise rejects
 * with an Error saying that the choice may or may not have been saved,
 * because the request may have reached the backend. Calls are sent one
 * after another, in the order they were made. setEnabled(false) drops
 * the events that wait in memory or in sessionStorage at once. Any
 * argument but true or false, such as the string "true", rejects with a
 * TypeError at once, and the choice and the waiting events stay as they
 * are.
 */
export function setEnabled(enabled) {
  if (typeof enabled !== "boolean") {
    return Promise.reject(new TypeError("invalid setEnabled argument " + describeValue(enabled) + ": pass true or false"));
  }
  if (!enabled) guarded(dropUnsent);
  const save = () => requestWithTimeout("enabled", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ enabled }),
  }, " The choice may or may not have been saved: call getStatus to read it again.", readStatus);
  // One save at a time: the backend responds with the state after its
  // save, which a concurrent save could change before it reads it.
  const result = lastSave.then(save, save);
  lastSave = result.then(() => {}, () => {});
  return result;
}

// lastSave settles when the latest setEnabled call has settled.
let lastSave = Promise.resolve();

// describeValue returns value for an error message: a string or object as
// JSON, cut after 100 characters, and anything else as String does.
function describeValue(value) {
  let text;
  if (typeof value === "string" || (typeof value === "object" && value !== null)) {
    try {
      text = JSON.stringify(value);
    } catch {
      // An object with a cycle has no JSON.
    }
    if (text === undefined) text = "an object";
  } else {
    text = String(value);
  }
  return text.length > 100 ? text.slice(0, 100) + "…" : text;
}

/**
 * Returns the most recent events the backend sent to the collector, oldest
 * first, as its sent log recorded them: {logged, events, note}. logged is
 * false, with a note on how the app turns the log on, when the backend
 * keeps none. limit, 1 to 10000, bounds the number of events (default
 * 100). The promise rejects like getStatus's.
 */
export function getSent(limit) {
  const query = limit === undefined ? "" : "?limit=" + encodeURIComponent(String(limit));
  return requestWithTimeout("sent" + query, { headers: { Accept: "application/json" } }, RETRY_ADVICE, readEventList);
}

/**
 * Returns the first events waiting on the backend to be sent, in the order
 * they will be sent, and the number of all: {events, total}, each event
 * {location, event, uuid, distinct_id, timestamp, wire}. limit, 1 to
 * 10000, bounds the number of events (default 100). The promise rejects
 * like getStatus's.
 */
export function getPending(limit) {
  const query = limit === undefined ? "" : "?limit=" + encodeURIComponent(String(limit));
  return requestWithTimeout("pending" + query, { headers: { Accept: "application/json" } }, RETRY_ADVICE, readEventList);
}

// requestWithTimeout fetches the endpoint and returns read(response). After
// settings.requestTimeoutMs it aborts the request and rejects, even when
// fetch ignores the abort signal, so a settings page never waits forever.
// timeoutAdvice is appended to the timeout error's message.
function requestWithTimeout(endpoint, init, timeoutAdvice, read) {
  const ms = settings.requestTimeoutMs;
  const url = settings.base + endpoint;
  const Controller = globalThis.AbortController;
  const controller = typeof Controller === "function" ? new Controller() : null;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error("telemetry request " + url + " timed out: the backend did not respond within " + ms + " ms." + timeoutAdvice);
      err.name = "TimeoutError";
      if (controller) controller.abort(err);
      reject(err);
    }, ms);
  });
  const request = (async () => {
    const response = await globalThis.fetch(url, {
      ...init,
      credentials: "same-origin",
      signal: controller ? controller.signal : undefined,
    });
    return read(response);
  })();
  // The request's own rejection after a timeout has no listener otherwise.
  request.catch(() => {});
  return Promise.race([request, timeout]).finally(() => clearTimeout(timer));
}

// readStatus returns the status body with noopReason() of this page added.
async function readStatus(response) {
  const body = await readBody(response);
  if (!body || typeof body.enabled !== "boolean") {
    throw new Error("invalid telemetry status from the backend");
  }
  if (!body.enabled) guarded(dropUnsent);
  body.noopReason = noopReason();
  return body;
}

async function readEventList(response) {
  const body = await readBody(response);
  if (!body || !Array.isArray(body.events)) {
    throw new Error("invalid telemetry event list from the backend: it has no events array");
  }
  return body;
}

// readBody returns the response's JSON body, and throws the backend's
// error message when the status is not 2xx.
async function readBody(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const detail = body && typeof body.error === "string" ? body.error : "HTTP " + response.status;
    throw new Error(detail);
  }
  return body;
}

/**
 * Returns the frontendPlatform object of the Mux catalog:
 * {userAgent, platform}, already reduced to families.
 */
export function frontendPlatform() {
  const nav = globalThis.navigator;
  const userAgent = nav && typeof nav.userAgent === "string" ? nav.userAgent : "";
  const platform = nav && typeof nav.platform === "string" ? nav.platform : "";
  return { userAgent: reduceUserAgent(userAgent), platform: reducePlatform(platform) };
}

function pageSwitchedOff() {
  const doc = globalThis.document;
  if (!doc || typeof doc.querySelector !== "function") return false;
  const meta = doc.querySelector('meta[name="candor-telemetry"]');
  return Boolean(meta) && String(meta.getAttribute("content")).trim().toLowerCase() === "off";
}

function automationReason() {
  const g = globalThis;
  if (g.navigator && g.navigator.webdriver === true) return "navigator.webdriver";
  if (g.__CANDOR_E2E__) return "__CANDOR_E2E__";
  if (g.__MUX_E2E__) return "__MUX_E2E__";
  const env = g.process && g.process.env;
  if (env && (env.NODE_ENV === "test" || env.CI === "true" || env.CI === "1" || env.VITEST)) return "test runner";
  const meta = importMetaEnv();
  if (meta && meta.MODE === "test") return "test runner";
  return "";
}

const DEV_FIX = ": pass configure({dev: true}) to send from a development server";

function devServerReason() {
  const meta = importMetaEnv();
  if (meta && meta.DEV === true) return "import.meta.env.DEV is true" + DEV_FIX;
  if (nodeEnv() === "development") return "process.env.NODE_ENV is development" + DEV_FIX;
  const location = globalThis.location;
  if (location && LOCAL_HOSTS.has(location.hostname) && DEV_PORTS.has(location.port)) {
    return "development server on " + location.hostname + ":" + location.port + DEV_FIX;
  }
  return "";
}

// nodeEnv returns process.env.NODE_ENV, or undefined where process does
// not exist. The expression is written out in full because webpack's
// DefinePlugin, which Create React App and Next.js configure, replaces it
// with a string literal in the bundle, so it reads "development" under
// their development servers too.
// NOTE: only Node.js runs this in the tests, not a webpack bundle.
function nodeEnv() {
  try {
    return process.env.NODE_ENV;
  } catch {
    return undefined;
  }
}

// importMetaEnv returns Vite's import.meta.env, or undefined elsewhere.
function importMetaEnv() {
  try {
    return import.meta.env;
  } catch {
    return undefined;
  }
}

// prepare returns a copy of properties with _b2 numbers rounded and user
// agents reduced; objects nested in it get the same treatment.
function prepare(properties) {
  if (!properties || typeof properties !== "object" || Array.isArray(properties)) return properties;
  const out = {};
  for (const [key, value] of Object.entries(properties)) {
    if (key.endsWith("_b2") && typeof value === "number") {
      out[key] = roundBase2(value);
    } else if (key === "userAgent" && typeof value === "string") {
      out[key] = reduceUserAgent(value);
    } else if (value && typeof value === "object" && !Array.isArray(value)) {
      out[key] = prepare(value);
    } else {
      out[key] = value;
    }
  }
  // platform is reduced only beside a userAgent, as in frontendPlatform:
  // elsewhere a property of that name may be an enum.
  if (typeof out.userAgent === "string" && typeof out.platform === "string") {
    out.platform = reducePlatform(out.platform);
  }
  return out;
}

/**
 * Rounds a number up to a power of two: v <= 0 gives 0, any other v gives
 * the smallest power of two >= v, so 350 gives 512 and 0.3 gives 0.5.
 * NaN, Infinity and non-numbers are returned unchanged; the backend
 * rejects them.
 */
export function roundBase2(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return v;
  if (v <= 0) return 0;
  let p = 2 ** Math.ceil(Math.log2(v));
  // Math.log2 may be off by one ulp; correct p to the smallest power >= v.
  if (p / 2 >= v) p /= 2;
  else if (p < v) p *= 2;
  return p;
}

// The browser tokens are checked in order: Edge and Opera user agents also
// contain "Chrome/", and Chrome user agents also contain "Safari/".
const BROWSER_TOKENS = [
  ["Electron/", "Electron"],
  ["Edg/", "Edge"],
  ["EdgA/", "Edge"],
  ["OPR/", "Opera"],
  ["Firefox/", "Firefox"],
  ["FxiOS/", "Firefox"],
  ["CriOS/", "Chrome"],
  ["Chrome/", "Chrome"],
  ["Chromium/", "Chromium"],
  ["Version/", "Safari"],
];
const BROWSER_FAMILIES = ["Electron", "Edge", "Opera", "Firefox", "Chrome", "Chromium", "Safari", "Other"];
const OS_FAMILIES = ["Windows", "macOS", "iOS", "Android", "ChromeOS", "Linux", "Other"];

// OS_NAMES maps whole OS names, in lower case, to their OS family, as
// osNames in Go's catalog does: the $os values of PostHog's libraries and
// Go's GOOS values that have a family. reducePlatform matches them in any
// ASCII letter case.
const OS_NAMES = new Map([
  ["linux", "Linux"],
  ["darwin", "macOS"],
  ["mac os x", "macOS"],
  ["windows", "Windows"],
  ["win32", "Windows"],
  ["cygwin", "Windows"],
  ["ios", "iOS"],
  ["ipados", "iOS"],
  ["android", "Android"],
  ["chrome os", "ChromeOS"],
  ["chromeos", "ChromeOS"],
  ["macos", "macOS"],
]);

/**
 * Reduces a user agent to its browser family, major version and OS family,
 * such as "Chrome 131 (Linux)", with the rules of Go's
 * catalog.ReduceUserAgent. A string already in that form is returned
 * unchanged; anything unrecognised becomes "Other (Other)".
 */
export function reduceUserAgent(ua) {
  ua = String(ua);
  const reduced = parseReducedUserAgent(ua);
  if (reduced !== null) return reduced;
  let browser = "Other";
  let major = "";
  for (const [token, family] of BROWSER_TOKENS) {
    const i = ua.indexOf(token);
    if (i >= 0) {
      browser = family;
      major = majorVersion(ua.slice(i + token.length));
      break;
    }
  }
  return (major === "" ? browser : browser + " " + major) + " (" + osFamily(ua) + ")";
}

/**
 * Reduces a navigator.platform string such as "MacIntel" or "Linux x86_64",
 * or an OS name such as "Mac OS X" or "darwin", to an OS family, with the
 * rules of Go's catalog.ReducePlatform.
 */
export function reducePlatform(platform) {
  platform = String(platform);
  if (OS_FAMILIES.includes(platform)) return platform;
  const family = OS_NAMES.get(lowerASCII(platform));
  return family === undefined ? osFamily(platform) : family;
}

// lowerASCII lowers only the letters A to Z. String.prototype.toLowerCase
// would also lower letters such as "İ", which Go's catalog does not fold.
function lowerASCII(s) {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

function osFamily(s) {
  if (s.includes("Windows") || s.startsWith("Win")) return "Windows";
  if (s.includes("iPhone") || s.includes("iPad") || s.includes("iPod")) return "iOS";
  if (s.includes("Mac")) return "macOS";
  if (s.includes("Android")) return "Android";
  if (s.includes("CrOS")) return "ChromeOS";
  if (s.includes("Linux") || s.includes("X11")) return "Linux";
  return "Other";
}

// parseReducedUserAgent accepts "Family (OS)" and "Family N (OS)" and
// returns null for anything else.
function parseReducedUserAgent(s) {
  const open = s.indexOf("(");
  if (open < 2 || !s.endsWith(")") || s[open - 1] !== " ") return null;
  const os = s.slice(open + 1, -1);
  const head = s.slice(0, open - 1);
  const space = head.indexOf(" ");
  const family = space < 0 ? head : head.slice(0, space);
  const major = space < 0 ? "" : head.slice(space + 1);
  if (!OS_FAMILIES.includes(os) || !BROWSER_FAMILIES.includes(family)) return null;
  if (major !== "" && leadingDigits(major) !== major) return null;
  if (major.length > MAX_MAJOR_VERSION_DIGITS) return family + " (" + os + ")";
  return s;
}

// MAX_MAJOR_VERSION_DIGITS is the most digits a browser's major version may
// have, as in Go's catalog: a longer one is left out.
const MAX_MAJOR_VERSION_DIGITS = 3;

// majorVersion returns the digits that start s, or "" when there are more
// than MAX_MAJOR_VERSION_DIGITS of them.
function majorVersion(s) {
  const digits = leadingDigits(s);
  return digits.length > MAX_MAJOR_VERSION_DIGITS ? "" : digits;
}

function leadingDigits(s) {
  let n = 0;
  while (n < s.length && s[n] >= "0" && s[n] <= "9") n++;
  return s.slice(0, n);
}
