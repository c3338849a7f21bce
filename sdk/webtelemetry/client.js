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
// Chromium fails keepalive requests once the bodies in flight add up to
// more than 64 KiB, so a longer body is dropped before it is queued. The
// limit counts UTF-16 code units, which equal bytes for ASCII JSON.
const MAX_BODY_LENGTH = 64 * 1024;
// A track request that has no response after TRACK_TIMEOUT_MS is aborted,
// which frees its connection.
const TRACK_TIMEOUT_MS = 10000;
// Browsers and Node.js run a setTimeout whose delay is longer than
// 2^31 - 1 ms (about 24.8 days) after 1 ms, so requestTimeoutMs is capped
// at that delay.
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

const queue = [];
let inFlight = 0;
let pagehideListening = false;
// pageHidden is true from pagehide until pageshow. track then posts at
// once, because no request finishes in an unloaded page to send a queued
// event.
let pageHidden = false;
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
 * longest setTimeout delay) counts as 2147483647.
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
  } catch {
    // configure never throws into the page.
  }
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
 * wait. They are sent as requests finish, or all at once on pagehide, and
 * from pagehide until pageshow every event is sent at once. An event is
 * dropped when 100 already wait or its JSON is longer than 64 KiB.
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
    if (body.length > MAX_BODY_LENGTH) {
      debugLog("event dropped: its JSON is longer than " + MAX_BODY_LENGTH + " characters");
      return;
    }
    const request = { url: settings.base + "track", body };
    listenForPagehide();
    if (inFlight < MAX_IN_FLIGHT || pageHidden) {
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

// post sends one track request and, when it has finished, the next queued
// event.
function post(request) {
  inFlight++;
  let response;
  try {
    response = globalThis.fetch(request.url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: request.body,
      keepalive: true,
      credentials: "same-origin",
      signal: timeoutSignal(),
    });
  } catch (err) {
    inFlight--;
    debugLog(err);
    return;
  }
  Promise.resolve(response)
    .then(reportRejection, debugLog)
    .catch(() => {})
    .then(() => {
      inFlight--;
      sendQueued(MAX_IN_FLIGHT);
    });
}

// sendQueued posts queued events while fewer than limit requests run.
function sendQueued(limit) {
  while (queue.length > 0 && inFlight < limit) post(queue.shift());
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

// listenForPagehide sends the whole queue when the page is hidden, since
// the queued events would be lost with the page. Keepalive requests outlive
// the page. The page's own pagehide listeners may run before or after this
// one, so track posts at once until pageshow.
function listenForPagehide() {
  if (pagehideListening || typeof globalThis.addEventListener !== "function") return;
  pagehideListening = true;
  globalThis.addEventListener("pagehide", () => {
    pageHidden = true;
    try {
      sendQueued(Infinity);
    } catch (err) {
      debugLog(err);
    }
  });
  globalThis.addEventListener("pageshow", () => {
    pageHidden = false;
  });
}

function reportRejection(response) {
  if (!settings.debug || !response || response.ok) return;
  response.json().then(
    (body) => debugLog(body && body.error),
    () => debugLog("HTTP " + response.status),
  ).catch(() => {});
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
 * sends nothing from this page. The promise rejects with an Error
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
 * after another, in the order they were made.
 */
export function setEnabled(enabled) {
  const save = () => requestWithTimeout("enabled", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ enabled: enabled === true }),
  }, " The choice may or may not have been saved: call getStatus to read it again.", readStatus);
  // One save at a time: the backend responds with the state after its
  // save, which a concurrent save could change before it reads it.
  const result = lastSave.then(save, save);
  lastSave = result.then(() => {}, () => {});
  return result;
}

// lastSave settles when the latest setEnabled call has settled.
let lastSave = Promise.resolve();

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
