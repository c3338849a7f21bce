// Runs client.js under Node.js for client_test.go. It reads the user
// agents, platforms and numbers to reduce from standard input and prints
// their reductions with a list of failed checks as JSON.
import * as client from "../client.js";

const failures = [];
function check(condition, message) {
  if (!condition) failures.push(message);
}

process.on("unhandledRejection", (reason) => {
  failures.push("unhandled rejection: " + reason);
});

// calls records the requests track makes through the stubbed fetch.
let calls = [];
function stubFetch(respond) {
  calls = [];
  globalThis.fetch = (url, init) => {
    calls.push({ url, init });
    return respond(url, init);
  };
}
const ok = () => Promise.resolve({ ok: true, status: 204, json: () => Promise.reject(new Error("no body")) });

// settle lets the requests of earlier tracks finish, so that the next check
// starts with none in flight.
function settle() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

async function reset() {
  await settle();
  client.configure({ base: "/api/telemetry/", dev: false, allowAutomation: false, debug: false, requestTimeoutMs: 10000 });
  for (const name of ["navigator", "location", "document", "__CANDOR_E2E__", "__MUX_E2E__"]) {
    Object.defineProperty(globalThis, name, { value: undefined, configurable: true, writable: true });
  }
  stubFetch(ok);
}

// withDeadline returns the message of promise's rejection, "resolved", or
// "still pending after ms" when it has not settled within ms milliseconds.
function withDeadline(promise, ms) {
  let timer;
  const deadline = new Promise((resolve) => {
    timer = setTimeout(() => resolve("still pending after " + ms + " ms"), ms);
  });
  const settled = promise.then(() => "resolved", (err) => String(err && err.message));
  return Promise.race([settled, deadline]).finally(() => clearTimeout(timer));
}

function trackOnce(properties) {
  calls = [];
  let thrown = null;
  try {
    client.track("message_sent", properties ?? { workspaceId: "w" });
  } catch (err) {
    thrown = err;
  }
  return { thrown, sent: calls.length };
}

async function main() {
  const input = JSON.parse(await new Promise((resolve) => {
    let data = "";
    process.stdin.on("data", (chunk) => (data += chunk));
    process.stdin.on("end", () => resolve(data));
  }));

  await reset();
  check(client.noopReason() === null, "noopReason() = " + client.noopReason() + " in plain Node.js, want null");

  // The body: rounding, reduction, and the endpoint.
  trackOnce({
    message_length_b2: 350,
    platform: "MacIntel",
    frontendPlatform: {
      userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
      platform: "MacIntel",
    },
  });
  check(calls.length === 1, "track made " + calls.length + " requests, want 1");
  if (calls.length === 1) {
    const { url, init } = calls[0];
    check(url === "/api/telemetry/track", "track posted to " + url);
    check(init.method === "POST", "track used method " + init.method);
    check(init.headers["Content-Type"] === "application/json", "track sent Content-Type " + init.headers["Content-Type"]);
    const body = JSON.parse(init.body);
    check(body.event === "message_sent", "body event = " + body.event);
    check(body.properties.message_length_b2 === 512, "message_length_b2 = " + body.properties.message_length_b2 + ", want 512");
    check(body.properties.frontendPlatform.userAgent === "Chrome 131 (Linux)", "userAgent = " + body.properties.frontendPlatform.userAgent);
    check(body.properties.frontendPlatform.platform === "macOS", "nested platform = " + body.properties.frontendPlatform.platform);
    check(body.properties.platform === "MacIntel", "top-level platform without a userAgent changed to " + body.properties.platform);
  }

  // Failures never reach the page.
  await settle();
  stubFetch(() => Promise.reject(new TypeError("network down")));
  check(trackOnce().thrown === null, "track threw when fetch rejected");
  await settle();
  stubFetch(() => {
    throw new TypeError("bad request");
  });
  const threwSync = trackOnce();
  check(threwSync.thrown === null && threwSync.sent === 1, "track when fetch threw: thrown " + threwSync.thrown + ", sent " + threwSync.sent);
  globalThis.fetch = undefined;
  check(trackOnce().thrown === null, "track threw without fetch");
  stubFetch(ok);
  const cyclic = {};
  cyclic.self = cyclic;
  const r = trackOnce(cyclic);
  check(r.thrown === null && r.sent === 0, "track with cyclic properties: thrown " + r.thrown + ", sent " + r.sent);
  check((() => { try { client.configure(null); client.configure("x"); return true; } catch { return false; } })(), "configure threw on a non-object");

  // Automation and end-to-end flags.
  await reset();
  globalThis.navigator = { webdriver: true, userAgent: "x", platform: "Linux x86_64" };
  check(client.noopReason() === "navigator.webdriver", "noopReason() = " + client.noopReason() + " under webdriver");
  check(trackOnce().sent === 0, "track sent under webdriver");
  client.configure({ allowAutomation: true });
  check(trackOnce().sent === 1, "track did not send under webdriver with allowAutomation");
  for (const flag of ["__CANDOR_E2E__", "__MUX_E2E__"]) {
    await reset();
    globalThis[flag] = true;
    check(client.noopReason() === flag, "noopReason() = " + client.noopReason() + " with " + flag);
    check(trackOnce().sent === 0, "track sent with " + flag);
  }
  await reset();
  process.env.NODE_ENV = "test";
  check(client.noopReason() === "test runner", "noopReason() = " + client.noopReason() + " with NODE_ENV=test");
  check(trackOnce().sent === 0, "track sent with NODE_ENV=test");
  process.env.NODE_ENV = "production";

  // Development servers.
  await reset();
  globalThis.location = { hostname: "localhost", port: "5173" };
  check(trackOnce().sent === 0, "track sent from localhost:5173");
  client.configure({ dev: true });
  check(trackOnce().sent === 1, "track did not send from localhost:5173 with dev: true");
  await reset();
  globalThis.location = { hostname: "127.0.0.1", port: "43121" };
  check(trackOnce().sent === 1, "track did not send from 127.0.0.1 on a port no development server uses");
  // Ports that backends serving their own production UI use by default
  // are no sign of a development server.
  for (const port of ["3000", "3001", "8000", "8080", "8081"]) {
    await reset();
    globalThis.location = { hostname: "127.0.0.1", port };
    check(client.noopReason() === null, "noopReason() = " + client.noopReason() + " on 127.0.0.1:" + port + ", want null");
    check(trackOnce().sent === 1, "track did not send from 127.0.0.1:" + port);
  }
  for (const port of ["1234", "4200", "4321", "5173", "5174", "6006"]) {
    await reset();
    globalThis.location = { hostname: "localhost", port };
    const reason = String(client.noopReason());
    check(reason.includes(port) && reason.includes("dev: true"), "noopReason() = " + reason + " on localhost:" + port + ", want the port and the fix dev: true");
  }
  await reset();
  process.env.NODE_ENV = "development";
  const nodeEnvReason = String(client.noopReason());
  check(nodeEnvReason.includes("NODE_ENV") && nodeEnvReason.includes("dev: true"), "noopReason() = " + nodeEnvReason + " with NODE_ENV=development, want NODE_ENV and the fix dev: true");
  check(trackOnce().sent === 0, "track sent with NODE_ENV=development");
  process.env.NODE_ENV = "production";

  // Debug mode logs once why track sends nothing, and getStatus returns
  // the reason beside the backend's status.
  await reset();
  globalThis.location = { hostname: "localhost", port: "5173" };
  client.configure({ debug: true });
  const warnings = [];
  const savedWarn = console.warn;
  console.warn = (...args) => warnings.push(args.join(" "));
  trackOnce();
  trackOnce();
  console.warn = savedWarn;
  check(warnings.length === 1, "two tracks from localhost:5173 with debug logged " + warnings.length + " warnings, want 1: " + JSON.stringify(warnings));
  check(warnings.length > 0 && warnings[0].includes("5173") && warnings[0].includes("dev: true"), "debug warning " + JSON.stringify(warnings[0]) + " does not name port 5173 and the fix dev: true");
  stubFetch(() => Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve({ enabled: true, explicit: false, locked: false, reason: "r", notes: [] }) }));
  const devStatus = await client.getStatus();
  check(String(devStatus.noopReason).includes("dev: true"), "getStatus on localhost:5173 returned noopReason " + devStatus.noopReason + ", want the development server and the fix dev: true");
  client.configure({ dev: true });
  const sendingStatus = await client.getStatus();
  check(sendingStatus.noopReason === null, "getStatus with dev: true returned noopReason " + sendingStatus.noopReason + ", want null");

  // The page's own switch wins over every option.
  await reset();
  globalThis.document = { querySelector: (sel) => (sel === 'meta[name="candor-telemetry"]' ? { getAttribute: () => " Off " } : null) };
  client.configure({ dev: true, allowAutomation: true });
  check(trackOnce().sent === 0, "track sent with meta candor-telemetry off");

  // Another mount point.
  await reset();
  client.configure({ base: "/telemetry" });
  trackOnce();
  check(calls.length === 1 && calls[0].url === "/telemetry/track", "track with base /telemetry posted to " + (calls[0] && calls[0].url));

  // A backend that does not respond gets at most two track requests at a
  // time, so the page's own requests keep the other connections to its
  // host. Up to 100 more events wait and are sent as requests finish.
  await reset();
  let pagehide = null;
  let pageshow = null;
  globalThis.addEventListener = (type, listener) => {
    if (type === "pagehide") pagehide = listener;
    if (type === "pageshow") pageshow = listener;
  };
  const pending = [];
  stubFetch(() => new Promise((resolve) => pending.push(resolve)));
  client.configure({ debug: true });
  const dropWarnings = [];
  const warnBeforeQueue = console.warn;
  console.warn = (...args) => dropWarnings.push(args.join(" "));
  for (let i = 0; i < 150; i++) client.track("workspace_switched", { fromWorkspaceId: "w" + i });
  check(calls.length === 2, "150 tracks to a backend that does not respond made " + calls.length + " requests, want 2");
  // Debug mode logs a full queue once, not once per event.
  check(dropWarnings.length === 1 && dropWarnings[0].includes("dropped"),
    "48 events dropped from a full queue logged " + JSON.stringify(dropWarnings) + ", want one warning");
  check(calls.length > 0 && calls[0].init.signal instanceof AbortSignal, "track sent no AbortSignal to time out a request that hangs");
  while (pending.length > 0) {
    pending.shift()({ ok: true, status: 204 });
    await settle();
  }
  console.warn = warnBeforeQueue;
  client.configure({ debug: false });
  check(dropWarnings.length === 2 && dropWarnings[1].includes("48 events were dropped"),
    "after the queue drained, debug logged " + JSON.stringify(dropWarnings) + ", want a second warning that 48 events were dropped");
  check(calls.length === 102, "after the backend responded, 150 tracks made " + calls.length + " requests, want 102: 2 in flight and 100 queued");
  const last = calls.length > 0 ? JSON.parse(calls[calls.length - 1].init.body).properties.fromWorkspaceId : "";
  check(last === "w101", "the last queued event sent is " + last + ", want w101");

  // The queue goes out at once when the page is hidden, since it would be
  // lost with the page.
  calls = [];
  for (let i = 0; i < 5; i++) client.track("workspace_switched", { fromWorkspaceId: "p" + i });
  check(calls.length === 2, "5 tracks to a backend that does not respond made " + calls.length + " requests, want 2");
  check(typeof pagehide === "function", "track registered no pagehide listener for its queue");
  if (typeof pagehide === "function") pagehide();
  check(calls.length === 5, "pagehide sent " + (calls.length - 2) + " queued events, want 3");
  check(calls.every((call) => call.init.keepalive === true), "a track request without keepalive");

  // Once the page is hidden, track sends at once, because no request will
  // finish to send a queued event. Pages track from their own pagehide
  // listeners, which may run after the client's.
  client.track("workspace_switched", { fromWorkspaceId: "h0" });
  check(calls.length === 6, "a track after pagehide made " + (calls.length - 5) + " requests, want 1");
  // A page restored from the back-forward cache queues again.
  check(typeof pageshow === "function", "track registered no pageshow listener to queue again after a restore");
  if (typeof pageshow === "function") pageshow({ persisted: true });
  client.track("workspace_switched", { fromWorkspaceId: "s0" });
  check(calls.length === 6, "a track after pageshow made " + (calls.length - 6) + " requests with 6 in flight, want 0");
  pending.splice(0).forEach((resolve) => resolve({ ok: true, status: 204 }));
  delete globalThis.addEventListener;

  // A body that browsers would reject as a keepalive request is dropped
  // instead of queued.
  await reset();
  const large = trackOnce({ workspaceId: "x".repeat(70 * 1024) });
  check(large.thrown === null && large.sent === 0, "track of a 70 KiB body: thrown " + large.thrown + ", sent " + large.sent + ", want 0");

  // The limit counts UTF-8 bytes, as fetch sends them: 40 Ki characters
  // of é are 80 KiB.
  await reset();
  const wide = trackOnce({ workspaceId: "é".repeat(40 * 1024) });
  check(wide.sent === 0, "track of a body of 40 Ki characters and 80 KiB in UTF-8 sent " + wide.sent + " requests, want 0");

  await checkKeepaliveBudget();
  await checkStorageQuota();
  await checkStatusRetry();
  await checkResumeAtConfigure();
  await checkKeepaliveRejectedVisible();
  await checkKeepaliveRejectedHidden();
  await checkLoadedHidden();
  await checkSetEnabledArgument();

  // Status and toggle reject with the backend's message.
  await reset();
  stubFetch(() => Promise.resolve({ ok: false, status: 500, json: () => Promise.resolve({ error: "disk full" }) }));
  const message = await client.setEnabled(false).then(() => "resolved", (err) => err.message);
  check(message === "disk full", "setEnabled after a 500 settled with " + message + ", want the error disk full");
  check(calls.length === 1 && JSON.parse(calls[0].init.body).enabled === false, "setEnabled sent " + (calls[0] && calls[0].init.body));
  // setEnabled calls go out one at a time, so each resolves with the
  // state its own save left, not with one saved after it.
  await reset();
  const pendingSaves = [];
  stubFetch((url, init) => new Promise((resolve) => {
    const enabled = JSON.parse(init.body).enabled;
    pendingSaves.push(() => resolve({ ok: true, status: 200, json: () => Promise.resolve({ enabled, explicit: !enabled, locked: false, reason: "r" }) }));
  }));
  const first = client.setEnabled(false);
  const second = client.setEnabled(true);
  await settle();
  check(calls.length === 1, "two setEnabled calls started " + calls.length + " requests at once, want 1");
  while (pendingSaves.length > 0) {
    pendingSaves.shift()();
    await settle();
  }
  const [firstState, secondState] = await Promise.all([first, second]);
  check(firstState.enabled === false && secondState.enabled === true && calls.length === 2,
    "setEnabled(false) then setEnabled(true) resolved with " + JSON.stringify([firstState.enabled, secondState.enabled]) + " after " + calls.length + " requests");

  const status = { enabled: true, explicit: false, locked: false, reason: "r" };
  stubFetch(() => Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve(status) }));
  const got = await client.getStatus();
  check(got.enabled === true && calls[0].url === "/api/telemetry/status", "getStatus returned " + JSON.stringify(got));

  // Against a backend that never responds, getStatus and setEnabled
  // reject after the request timeout instead of staying pending, and
  // setEnabled's error states that the choice may or may not have been
  // saved.
  await reset();
  client.configure({ requestTimeoutMs: 30 });
  const hung = [];
  stubFetch((url, init) => new Promise((resolve, reject) => {
    hung.push(init.signal);
    if (init.signal) init.signal.addEventListener("abort", () => reject(init.signal.reason));
  }));
  const statusError = await withDeadline(client.getStatus(), 2000);
  check(statusError.includes("did not respond within 30 ms"), "getStatus against a hung backend settled with " + statusError + ", want an error that it did not respond within 30 ms");
  check(hung.length === 1 && hung[0] instanceof AbortSignal && hung[0].aborted, "getStatus did not abort its request after the timeout");
  const enabledError = await withDeadline(client.setEnabled(true), 2000);
  check(enabledError.includes("did not respond within 30 ms"), "setEnabled against a hung backend settled with " + enabledError + ", want an error that it did not respond within 30 ms");
  check(enabledError.includes("may or may not have been saved") && enabledError.includes("getStatus"), "setEnabled's timeout error " + JSON.stringify(enabledError) + " does not say the choice may or may not have been saved and to call getStatus");
  client.configure({ requestTimeoutMs: -1 });
  client.configure({ requestTimeoutMs: "5" });
  stubFetch(() => new Promise(() => {}));
  const kept = await withDeadline(client.getStatus(), 2000);
  check(kept.includes("within 30 ms"), "configure with an invalid requestTimeoutMs changed the timeout: getStatus settled with " + kept);

  // setTimeout runs a delay above 2^31 - 1 ms after 1 ms, so a larger
  // requestTimeoutMs must wait at least as long as the largest delay,
  // not time out at once.
  client.configure({ requestTimeoutMs: 3e9 });
  let answer;
  stubFetch(() => new Promise((resolve) => {
    answer = resolve;
  }));
  const huge = await withDeadline(client.getStatus(), 200);
  check(huge === "still pending after 200 ms", "getStatus with requestTimeoutMs 3e9 settled with " + huge + ", want it still waiting after 200 ms");
  // Resolve the hung request, so that the long timer is cleared.
  answer({ ok: true, status: 200, json: () => Promise.resolve(status) });
  client.configure({ requestTimeoutMs: 30 });

  // getSent and getPending read what was sent and what waits.
  await reset();
  const sentBody = { logged: true, events: [{ event: "message_sent" }] };
  stubFetch(() => Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve(sentBody) }));
  const sent = await client.getSent(5);
  check(calls.length === 1 && calls[0].url === "/api/telemetry/sent?limit=5", "getSent(5) requested " + (calls[0] && calls[0].url) + ", want /api/telemetry/sent?limit=5");
  check(sent.logged === true && sent.events.length === 1, "getSent returned " + JSON.stringify(sent));
  await client.getSent();
  check(calls.length === 2 && calls[1].url === "/api/telemetry/sent", "getSent() requested " + (calls[1] && calls[1].url) + ", want /api/telemetry/sent");
  stubFetch(() => Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve({ events: [] }) }));
  const pendingList = await client.getPending();
  check(calls.length === 1 && calls[0].url === "/api/telemetry/pending" && Array.isArray(pendingList.events), "getPending requested " + (calls[0] && calls[0].url) + " and returned " + JSON.stringify(pendingList));
  stubFetch(() => Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve({}) }));
  const invalid = await withDeadline(client.getPending(), 2000);
  check(invalid.includes("invalid"), "getPending of a body without events settled with " + invalid + ", want an invalid-body error");
  client.configure({ requestTimeoutMs: 30 });
  stubFetch(() => new Promise(() => {}));
  const sentTimeout = await withDeadline(client.getSent(), 2000);
  check(sentTimeout.includes("did not respond within 30 ms"), "getSent against a hung backend settled with " + sentTimeout);

  // Let pending promise handlers run before reporting.
  await new Promise((resolve) => setTimeout(resolve, 20));
  process.stdout.write(JSON.stringify({
    userAgents: input.userAgents.map(client.reduceUserAgent),
    platforms: input.platforms.map(client.reducePlatform),
    base2: input.base2.map(client.roundBase2),
    checks: failures,
  }));
}

// memoryStorage is a stand-in for sessionStorage.
function memoryStorage() {
  const items = new Map();
  return {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
  };
}

// quotaStorage is a stand-in for sessionStorage that stores at most
// maxChars characters of keys and values, as browsers limit the storage of
// an origin. setItem throws a QuotaExceededError beyond that and keeps the
// old value.
function quotaStorage(maxChars) {
  const items = new Map();
  const used = () => [...items].reduce((sum, [key, value]) => sum + key.length + value.length, 0);
  return {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => {
      value = String(value);
      const old = items.has(key) ? key.length + items.get(key).length : 0;
      if (used() - old + key.length + value.length > maxChars) {
        throw new DOMException("the quota has been exceeded", "QuotaExceededError");
      }
      items.set(key, value);
    },
    removeItem: (key) => items.delete(key),
  };
}

const UNSENT_KEY = "candor-telemetry-unsent";

function storedEvents() {
  const raw = globalThis.sessionStorage.getItem(UNSENT_KEY);
  return raw === null ? [] : JSON.parse(raw).events;
}

function utf8Bytes(s) {
  return Buffer.byteLength(s, "utf8");
}

// checkKeepaliveBudget hides a page with 100 KiB of queued events. The
// requests must stay within 64 KiB of UTF-8 bodies, and the rest go to
// sessionStorage. A fresh copy of the client, as the next page loads it,
// sends them or drops them as the backend's status requires.
async function checkKeepaliveBudget() {
  await reset();
  globalThis.sessionStorage = memoryStorage();
  const listeners = {};
  globalThis.addEventListener = (type, listener) => (listeners[type] = listener);
  globalThis.document = {
    visibilityState: "visible",
    addEventListener: (type, listener) => (listeners["document " + type] = listener),
    querySelector: () => null,
  };
  const pending = [];
  stubFetch(() => new Promise((resolve) => pending.push(resolve)));
  // A fresh copy of the client, so that it registers its listeners here.
  const hidden = await import("../client.js?hidden-page");
  // Each event is about 10 KiB in UTF-8 but 5 Ki characters long.
  for (let i = 0; i < 10; i++) hidden.track("workspace_switched", { fromWorkspaceId: "é".repeat(5 * 1024) + i });
  check(calls.length === 2, "10 tracks to a backend that does not respond made " + calls.length + " requests, want 2");

  const hide = listeners["document visibilitychange"];
  check(typeof hide === "function", "track registered no visibilitychange listener");
  globalThis.document.visibilityState = "hidden";
  if (typeof hide === "function") hide();
  const sentBytes = calls.reduce((sum, call) => sum + utf8Bytes(call.init.body), 0);
  check(sentBytes <= 64 * 1024, "requests in flight after the page turned hidden carry " + sentBytes + " bytes, more than the 64 KiB keepalive budget");
  check(calls.length === 6, "the page turned hidden with 8 queued events of 10 KiB and 2 in flight: " + calls.length + " requests in flight, want 6");
  const stored = storedEvents().length;
  check(stored === 4, "sessionStorage keeps " + stored + " events after the page turned hidden, want the 4 beyond the budget");
  if (typeof listeners.pagehide === "function") listeners.pagehide();
  check(calls.length === 6 && storedEvents().length === stored,
    "pagehide after visibilitychange sent or stored events again: " + calls.length + " requests, " + storedEvents().length + " stored");

  // A response frees its share of the budget once its body is read, and a
  // hidden page then posts the stored events that fit.
  pending.shift()({ ok: true, status: 204, text: () => Promise.resolve("") });
  await settle();
  check(calls.length === 7 && storedEvents().length === 3,
    "after one response while hidden: " + calls.length + " requests and " + storedEvents().length + " stored, want 7 and 3");
  delete globalThis.addEventListener;

  // The next page: the status has enabled true, so the stored events
  // are sent.
  const bodies = storedEvents().map((e) => e.body);
  const statusOn = { enabled: true, explicit: false, locked: false, reason: "r", notes: [] };
  const answer = (status) => (url) => Promise.resolve(url.endsWith("/status")
    ? { ok: true, status: 200, json: () => Promise.resolve(status) }
    : { ok: true, status: 204, text: () => Promise.resolve("") });
  globalThis.document.visibilityState = "visible";
  stubFetch(answer(statusOn));
  const next = await import("../client.js?next-page");
  next.track("workspace_switched", { fromWorkspaceId: "n0" });
  await settle();
  await settle();
  const resent = calls.filter((call) => call.url.endsWith("/track")).map((call) => call.init.body);
  check(bodies.every((body) => resent.includes(body)), "the next page sent " + resent.length + " track requests, want the " + bodies.length + " stored events among them");
  check(storedEvents().length === 0, "sessionStorage keeps " + storedEvents().length + " events after the next page sent them, want 0");

  // The status has enabled false, so the stored events are dropped.
  const storeOne = (trackedAt) => globalThis.sessionStorage.setItem(UNSENT_KEY, JSON.stringify({ events: [{ body: bodies[0], trackedAt }] }));
  storeOne(Date.now());
  stubFetch(answer({ ...statusOn, enabled: false }));
  const off = await import("../client.js?status-off");
  off.track("workspace_switched", { fromWorkspaceId: "o0" });
  await settle();
  check(!calls.some((call) => call.init.body === bodies[0]), "a page whose backend status is off sent a stored event");
  check(globalThis.sessionStorage.getItem(UNSENT_KEY) === null, "sessionStorage keeps events after the backend status said off");

  // setEnabled(false) drops them before its request returns.
  storeOne(Date.now());
  stubFetch(() => new Promise(() => {}));
  off.configure({ requestTimeoutMs: 50 });
  off.setEnabled(false).catch(() => {});
  check(globalThis.sessionStorage.getItem(UNSENT_KEY) === null, "sessionStorage keeps events after setEnabled(false)");
  await settle();

  // An event stored more than an hour ago is dropped unsent, without a
  // status request.
  storeOne(Date.now() - 61 * 60 * 1000);
  stubFetch(answer(statusOn));
  const late = await import("../client.js?expired");
  late.track("workspace_switched", { fromWorkspaceId: "l0" });
  await settle();
  check(calls.length === 1 && calls[0].url.endsWith("/track"),
    "a page with only an expired stored event requested " + calls.map((c) => c.url).join(", ") + ", want one track request");
  delete globalThis.sessionStorage;
}

// importPage imports a fresh copy of the client, as a new page loads it,
// with a document in visibilityState, and returns functions that hide and show the
// page, and the listeners the page registered.
async function importPage(query, visibilityState = "visible") {
  const listeners = {};
  globalThis.addEventListener = (type, listener) => (listeners[type] = listener);
  globalThis.document = {
    visibilityState,
    addEventListener: (type, listener) => (listeners["document " + type] = listener),
    querySelector: () => null,
  };
  const page = await import("../client.js?" + query);
  const hide = () => {
    globalThis.document.visibilityState = "hidden";
    listeners["document visibilitychange"]();
  };
  const show = () => {
    globalThis.document.visibilityState = "visible";
    listeners["document visibilitychange"]();
  };
  return { page, hide, show, listeners };
}

// checkStorageQuota hides a page while other data of the page leaves
// sessionStorage room for only 2 of the 4 events beyond the keepalive
// budget: the 2 oldest are kept, and debug mode logs that 2 were dropped.
async function checkStorageQuota() {
  await reset();
  // Each stored event takes about 5,200 characters, and the page's own
  // data leaves 13,000 free.
  const pageData = "x".repeat(100000);
  globalThis.sessionStorage = quotaStorage("page-data".length + pageData.length + 13000);
  globalThis.sessionStorage.setItem("page-data", pageData);
  stubFetch(() => new Promise(() => {}));
  const { page, hide } = await importPage("quota");
  page.configure({ debug: true });
  const warnings = [];
  const savedWarn = console.warn;
  console.warn = (...args) => warnings.push(args.join(" "));

  // 2 events go out at once, 4 more fit into the keepalive budget when
  // the page turns hidden, and the events 6 to 9 are to be stored.
  for (let i = 0; i < 10; i++) page.track("workspace_switched", { fromWorkspaceId: "é".repeat(5 * 1024) + i });
  hide();
  const storedIds = () => storedEvents().map((e) => JSON.parse(e.body).properties.fromWorkspaceId.slice(-1));
  check(JSON.stringify(storedIds()) === '["6","7"]',
    "sessionStorage with room for 2 events keeps the events " + JSON.stringify(storedIds()) + ", want the oldest 2 of the 4 beyond the budget, 6 and 7");
  check(warnings.some((w) => w.includes("2 events dropped") && w.includes("sessionStorage")),
    "debug logged " + JSON.stringify(warnings.map((w) => w.slice(0, 200))) + ", want a warning that 2 events were dropped because sessionStorage is full");

  // A track while hidden that fits neither the budget nor the storage
  // leaves the stored events as they were.
  warnings.length = 0;
  page.track("workspace_switched", { fromWorkspaceId: "é".repeat(5 * 1024) + "h" });
  check(JSON.stringify(storedIds()) === '["6","7"]',
    "after a track while hidden into full storage, sessionStorage keeps " + JSON.stringify(storedIds()) + ", want 6 and 7");
  check(warnings.some((w) => w.includes("1 event dropped")),
    "a track while hidden into full storage logged " + JSON.stringify(warnings.map((w) => w.slice(0, 200))) + ", want a warning that 1 event was dropped");
  check(globalThis.sessionStorage.getItem("page-data") === pageData, "the client changed the page's own sessionStorage data");
  console.warn = savedWarn;
  delete globalThis.addEventListener;
  delete globalThis.sessionStorage;
}

// fakePage imports a fresh copy of the client with a visible document and
// sessionStorage. Timers of 1 s and more are faked: the test runs each
// with fire(), and restore puts the real timers back.
async function fakePage(query) {
  globalThis.sessionStorage = memoryStorage();
  const realSetTimeout = globalThis.setTimeout;
  const realClearTimeout = globalThis.clearTimeout;
  const timers = [];
  globalThis.setTimeout = (callback, ms, ...args) => {
    if (!(ms >= 1000)) return realSetTimeout(callback, ms, ...args);
    const timer = {
      ms,
      cleared: false,
      fired: false,
      fire: () => {
        timer.fired = true;
        callback(...args);
      },
    };
    timers.push(timer);
    return timer;
  };
  globalThis.clearTimeout = (id) => {
    if (timers.includes(id)) id.cleared = true;
    else realClearTimeout(id);
  };
  const { page, hide, show } = await importPage(query);
  const restore = () => {
    globalThis.setTimeout = realSetTimeout;
    globalThis.clearTimeout = realClearTimeout;
    delete globalThis.addEventListener;
    delete globalThis.sessionStorage;
  };
  return { page, hide, show, timers, restore };
}

// fakeStoredEventPage gives the page sessionStorage and a clock that the
// test moves by hand through clock.now. storeEarlier stores earlier, an
// event of an earlier page of the tab, and restore undoes it all.
function fakeStoredEventPage() {
  globalThis.sessionStorage = memoryStorage();
  const savedPerformance = Object.getOwnPropertyDescriptor(globalThis, "performance");
  const clock = { now: 1000 };
  Object.defineProperty(globalThis, "performance", { value: { now: () => clock.now }, configurable: true, writable: true });
  const earlier = JSON.stringify({ event: "workspace_switched", properties: { fromWorkspaceId: "earlier" } });
  const storeEarlier = () => globalThis.sessionStorage.setItem(UNSENT_KEY, JSON.stringify({ events: [{ body: earlier, trackedAt: Date.now() }] }));
  const restore = () => {
    Object.defineProperty(globalThis, "performance", savedPerformance);
    delete globalThis.addEventListener;
    delete globalThis.sessionStorage;
  };
  return { clock, earlier, storeEarlier, restore };
}

// checkStatusRetry loads a page with a stored event while GET status
// fails. The client reads the status again at a later track call or when
// the page turns visible, no sooner than 5 s after the first failure and
// 10 s after the second. It sends the stored events, the page's own
// included, only once the status has enabled true.
async function checkStatusRetry() {
  await reset();
  const { clock, earlier, storeEarlier, restore } = fakeStoredEventPage();
  storeEarlier();

  // status is the body of GET status, and null makes it fail with 503.
  let status = null;
  const respond = (url) => {
    if (!url.endsWith("/status")) return Promise.resolve({ ok: true, status: 204, text: () => Promise.resolve("") });
    if (status === null) return Promise.resolve({ ok: false, status: 503, json: () => Promise.resolve({ error: "backend starting" }) });
    return Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve(status) });
  };
  stubFetch(respond);
  const statusCalls = () => calls.filter((call) => call.url.endsWith("/status")).length;
  const sentIds = () => calls.filter((call) => call.url.endsWith("/track")).map((call) => JSON.parse(call.init.body).properties.fromWorkspaceId);
  const { page, hide, show } = await importPage("status-retry");

  page.track("workspace_switched", { fromWorkspaceId: "a0" });
  await settle();
  check(statusCalls() === 1, "the first track with a stored event made " + statusCalls() + " status requests, want 1");

  // Within 5 s of the failure, neither tracks nor visibility changes read
  // the status again.
  for (let i = 0; i < 20; i++) page.track("workspace_switched", { fromWorkspaceId: "a" + (i + 1) });
  clock.now += 4000;
  hide();
  // While hidden, 6 events of 10 KiB fit into the keepalive budget and
  // the page stores the 7th itself.
  for (let i = 0; i < 7; i++) page.track("workspace_switched", { fromWorkspaceId: "é".repeat(5 * 1024) + "b" + i });
  show();
  await settle();
  check(statusCalls() === 1, "after tracks and a visibility change within 5 s of a failed status request, the page made " + statusCalls() + " status requests, want 1");
  check(!sentIds().includes("earlier"), "a stored event was sent although no status request succeeded");
  check(storedEvents().length === 2, "sessionStorage keeps " + storedEvents().length + " events, want 2: the earlier page's and the one this page stored while hidden");

  // 5 s after the failure, the page turning visible reads the status
  // again. It fails again, so the next read waits 10 s.
  clock.now += 1000;
  hide();
  show();
  await settle();
  check(statusCalls() === 2, "after the page turned visible 5 s after a failed status request, it made " + statusCalls() + " status requests, want 2");
  clock.now += 9000;
  page.track("workspace_switched", { fromWorkspaceId: "c0" });
  await settle();
  check(statusCalls() === 2, "after a track 9 s after the second failed status request, the page made " + statusCalls() + " status requests, want 2");
  check(!sentIds().includes("earlier"), "a stored event was sent after two failed status requests");

  // The third read succeeds with enabled true, and the stored events go.
  clock.now += 1000;
  status = { enabled: true, explicit: false, locked: false, reason: "r", notes: [] };
  page.track("workspace_switched", { fromWorkspaceId: "c1" });
  await settle();
  await settle();
  check(statusCalls() === 3, "after a track 10 s after the second failed status request, the page made " + statusCalls() + " status requests, want 3");
  const sent = sentIds();
  check(sent.includes("earlier") && sent.some((id) => id.endsWith("b6")),
    "after a status with enabled true, the stored events were not both sent: sent " + JSON.stringify(sent.map((id) => id.slice(-8))));
  check(storedEvents().length === 0, "sessionStorage keeps " + storedEvents().length + " events after a status with enabled true, want 0");
  page.track("workspace_switched", { fromWorkspaceId: "c2" });
  await settle();
  check(statusCalls() === 3, "after a track that followed a successful status request, the page made " + statusCalls() + " status requests, want 3");

  // A retry whose status has enabled false drops the stored event.
  storeEarlier();
  status = null;
  stubFetch(respond);
  const off = await importPage("status-retry-off");
  off.page.track("workspace_switched", { fromWorkspaceId: "d0" });
  await settle();
  clock.now += 5000;
  status = { enabled: false, explicit: true, locked: false, reason: "r", notes: [] };
  off.page.track("workspace_switched", { fromWorkspaceId: "d1" });
  await settle();
  await settle();
  check(statusCalls() === 2, "the page with a status off made " + statusCalls() + " status requests, want 2");
  check(!sentIds().includes("earlier"), "a stored event was sent after a retried status had enabled false");
  check(globalThis.sessionStorage.getItem(UNSENT_KEY) === null, "sessionStorage keeps events after a retried status had enabled false");

  // setEnabled(false) between a failed status request and its retry drops
  // the stored event, and the retry finds none to send.
  storeEarlier();
  status = null;
  stubFetch(respond);
  const optOut = await importPage("status-retry-opt-out");
  optOut.page.track("workspace_switched", { fromWorkspaceId: "e0" });
  await settle();
  optOut.page.setEnabled(false).catch(() => {});
  check(globalThis.sessionStorage.getItem(UNSENT_KEY) === null, "sessionStorage keeps events after setEnabled(false) following a failed status request");
  clock.now += 5000;
  status = { enabled: true, explicit: false, locked: false, reason: "r", notes: [] };
  optOut.page.track("workspace_switched", { fromWorkspaceId: "e1" });
  await settle();
  await settle();
  check(!sentIds().includes("earlier"), "a stored event was sent after setEnabled(false)");

  restore();
}

// checkResumeAtConfigure loads pages that call configure but never track,
// each with an event that an earlier page of the tab stored. configure
// starts the status read at the base that the page's configure calls set.
// The stored event then follows the same rules as after a track call.
async function checkResumeAtConfigure() {
  await reset();
  const { clock, earlier, storeEarlier, restore } = fakeStoredEventPage();

  // status is the body of GET status, and null makes it fail with 503.
  let status = { enabled: true, explicit: false, locked: false, reason: "r", notes: [] };
  const respond = (url) => {
    if (!url.endsWith("/status")) return Promise.resolve({ ok: true, status: 204, text: () => Promise.resolve("") });
    if (status === null) return Promise.resolve({ ok: false, status: 503, json: () => Promise.resolve({ error: "backend starting" }) });
    return Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve(status) });
  };
  const statusUrls = () => calls.filter((call) => call.url.endsWith("/status")).map((call) => call.url);
  const sentEarlier = () => calls.filter((call) => call.url.endsWith("/track") && call.init.body === earlier).map((call) => call.url);

  // Status on: the stored event is sent once, to the base of the second
  // configure call of the same task.
  storeEarlier();
  stubFetch(respond);
  const on = await importPage("configure-on");
  on.page.configure({ debug: false });
  on.page.configure({ base: "/app/telemetry" });
  await settle();
  await settle();
  check(JSON.stringify(statusUrls()) === '["/app/telemetry/status"]',
    "a page that only calls configure, with a stored event, requested the status at " + JSON.stringify(statusUrls()) + ", want once at /app/telemetry/status");
  check(JSON.stringify(sentEarlier()) === '["/app/telemetry/track"]',
    "a page that only calls configure sent the stored event to " + JSON.stringify(sentEarlier()) + ", want once to /app/telemetry/track");
  check(storedEvents().length === 0, "sessionStorage keeps " + storedEvents().length + " events after a configure call and a status with enabled true, want 0");
  on.page.configure({ debug: false });
  on.page.track("workspace_switched", { fromWorkspaceId: "f0" });
  await settle();
  check(statusUrls().length === 1 && sentEarlier().length === 1,
    "after a further configure and track call, the page made " + statusUrls().length + " status requests and sent the stored event " + sentEarlier().length + " times, want 1 and 1");

  // Status off: the stored event is dropped unsent.
  storeEarlier();
  status = { enabled: false, explicit: true, locked: false, reason: "r", notes: [] };
  stubFetch(respond);
  const off = await importPage("configure-off");
  off.page.configure({});
  await settle();
  await settle();
  check(statusUrls().length === 1, "a page that only calls configure, with a stored event, made " + statusUrls().length + " status requests, want 1");
  check(sentEarlier().length === 0, "a page that only calls configure sent a stored event although the status had enabled false");
  check(globalThis.sessionStorage.getItem(UNSENT_KEY) === null, "sessionStorage keeps events after a configure call and a status with enabled false");

  // A page whose track does nothing reads no status at configure either,
  // until a configure call lets it send.
  storeEarlier();
  status = { enabled: true, explicit: false, locked: false, reason: "r", notes: [] };
  stubFetch(respond);
  const automated = await importPage("configure-automation");
  globalThis.__CANDOR_E2E__ = true;
  automated.page.configure({});
  await settle();
  check(calls.length === 0, "a page under test automation requested " + JSON.stringify(calls.map((call) => call.url)) + " at configure, want none");
  automated.page.configure({ allowAutomation: true });
  await settle();
  await settle();
  check(statusUrls().length === 1 && sentEarlier().length === 1,
    "after configure({allowAutomation: true}), the page made " + statusUrls().length + " status requests and sent the stored event " + sentEarlier().length + " times, want 1 and 1");
  globalThis.__CANDOR_E2E__ = undefined;

  // A failed status read started by configure keeps its back-off: neither
  // configure calls nor a return to visible within 5 s read it again.
  storeEarlier();
  status = null;
  stubFetch(respond);
  const retry = await importPage("configure-retry");
  retry.page.configure({});
  await settle();
  check(statusUrls().length === 1, "a page that only calls configure, with a stored event, made " + statusUrls().length + " status requests, want 1");
  const listening = typeof retry.listeners["document visibilitychange"] === "function";
  check(listening, "configure registered no visibilitychange listener on a page with a stored event");
  if (!listening) retry.listeners["document visibilitychange"] = () => {};
  clock.now += 4000;
  retry.page.configure({});
  retry.hide();
  retry.show();
  await settle();
  check(statusUrls().length === 1,
    "after a configure call and a visibility change within 5 s of a failed status request, the page made " + statusUrls().length + " status requests, want 1");
  check(sentEarlier().length === 0, "a stored event was sent although no status request succeeded");
  clock.now += 1000;
  status = { enabled: true, explicit: false, locked: false, reason: "r", notes: [] };
  retry.hide();
  retry.show();
  await settle();
  await settle();
  check(statusUrls().length === 2 && sentEarlier().length === 1,
    "after the page turned visible 5 s after a failed status request, it made " + statusUrls().length + " status requests and sent the stored event " + sentEarlier().length + " times, want 2 and 1");

  restore();
}

// rejectFetch is a fetch stub that fails as Chromium fails a keepalive
// request beyond its budget, and as it fails any request to a backend
// that is down.
const rejectFetch = () => Promise.reject(new TypeError("Failed to fetch"));
const okTrack = () => Promise.resolve({ ok: true, status: 204, text: () => Promise.resolve("") });

// trackedIds returns the fromWorkspaceId of each track request, and
// keepaliveFlags the keepalive option of each.
const trackedIds = () => calls.filter((call) => call.url.endsWith("/track")).map((call) => JSON.parse(call.init.body).properties.fromWorkspaceId);
const keepaliveFlags = () => calls.filter((call) => call.url.endsWith("/track")).map((call) => call.init.keepalive);

// checkKeepaliveRejectedVisible tracks on a visible page whose keepalive
// fetches fail with a TypeError. Each event is sent once more without
// keepalive, and no more, so a backend that is down gets two requests
// per event. Other failures, such as a timeout, are not sent again.
async function checkKeepaliveRejectedVisible() {
  await reset();
  const { page, restore } = await fakePage("rejected-visible");

  // The budget is full, and a request without keepalive gets a response.
  stubFetch((url, init) => (init.keepalive ? rejectFetch() : okTrack()));
  for (let i = 0; i < 5; i++) page.track("workspace_switched", { fromWorkspaceId: "v" + i });
  for (let i = 0; i < 10; i++) await settle();
  check(JSON.stringify(trackedIds()) === '["v0","v1","v0","v1","v2","v3","v2","v3","v4","v4"]',
    "with every keepalive fetch rejected, the visible page sent " + JSON.stringify(trackedIds()) + ", want each of v0 to v4 twice, 2 at a time");
  check(JSON.stringify(keepaliveFlags()) === "[true,true,false,false,true,true,false,false,true,false]",
    "with every keepalive fetch rejected, the keepalive options were " + JSON.stringify(keepaliveFlags()) + ", want each event first with keepalive, then without");

  // The backend is down: every fetch fails, and each event is dropped
  // after its second request.
  stubFetch(rejectFetch);
  for (let i = 0; i < 5; i++) page.track("workspace_switched", { fromWorkspaceId: "d" + i });
  for (let i = 0; i < 10; i++) await settle();
  check(calls.length === 10, "5 tracks to a backend that is down made " + calls.length + " requests, want 10: one with and one without keepalive each");
  await settle();
  check(calls.length === 10, "the requests to a backend that is down went on after 2 per event: " + calls.length);

  // A timeout is no TypeError: the request may have reached the backend.
  stubFetch(() => Promise.reject(new DOMException("signal timed out", "TimeoutError")));
  page.track("workspace_switched", { fromWorkspaceId: "t0" });
  for (let i = 0; i < 4; i++) await settle();
  check(calls.length === 1, "a track whose request timed out made " + calls.length + " requests, want 1");
  restore();
}

// checkKeepaliveRejectedHidden tracks on a hidden page whose keepalive
// fetches fail. The events are kept in sessionStorage, and the page
// posts no stored event until retryStored's timer, which is faked here,
// and then one at a time with a doubling wait. Once one gets a response,
// the rest follow.
async function checkKeepaliveRejectedHidden() {
  await reset();
  const { page, hide, show, timers, restore } = await fakePage("rejected-hidden");
  page.track("workspace_switched", { fromWorkspaceId: "visible" });
  await settle();
  hide();

  stubFetch(rejectFetch);
  for (let i = 0; i < 5; i++) page.track("workspace_switched", { fromWorkspaceId: "h" + i });
  for (let i = 0; i < 10; i++) await settle();
  check(calls.length === 5 && keepaliveFlags().every((k) => k === true),
    "5 tracks on a hidden page with every fetch rejected made " + calls.length + " requests with keepalive " + JSON.stringify(keepaliveFlags()) + ", want 5, all with keepalive");
  const storedIds = () => storedEvents().map((e) => JSON.parse(e.body).properties.fromWorkspaceId);
  check(JSON.stringify(storedIds()) === '["h0","h1","h2","h3","h4"]', "a hidden page with every fetch rejected stored " + JSON.stringify(storedIds()) + ", want h0 to h4");
  const pendingTimers = () => timers.filter((timer) => !timer.cleared && !timer.fired);
  check(pendingTimers().length === 1 && pendingTimers()[0].ms === 1000,
    "after rejected fetches on a hidden page, the scheduled timers are " + JSON.stringify(pendingTimers().map((timer) => timer.ms)) + ", want one of 1000 ms");

  // Each timer posts the oldest stored event alone, and another rejection
  // doubles the wait.
  calls = [];
  for (const ms of [1000, 2000, 4000]) {
    const timer = pendingTimers()[0];
    check(timer && timer.ms === ms, "the retry timer waits " + (timer && timer.ms) + " ms, want " + ms);
    if (!timer) break;
    timer.fire();
    for (let i = 0; i < 6; i++) await settle();
  }
  check(JSON.stringify(trackedIds()) === '["h0","h1","h2"]',
    "3 retry timers on a hidden page whose fetches fail sent " + JSON.stringify(trackedIds()) + ", want the oldest stored event each time");
  check(storedEvents().length === 5, "sessionStorage keeps " + storedEvents().length + " events after the retries failed, want 5");

  // The budget has room again: the next retry gets a response, and the
  // page posts the other stored events.
  calls = [];
  stubFetch(okTrack);
  const lastRetry = pendingTimers()[0];
  if (lastRetry) lastRetry.fire();
  for (let i = 0; i < 10; i++) await settle();
  check(JSON.stringify(trackedIds().slice().sort()) === '["h0","h1","h2","h3","h4"]',
    "after a retry got a response, the hidden page sent " + JSON.stringify(trackedIds()) + ", want h0 to h4 once each");
  check(storedEvents().length === 0, "sessionStorage keeps " + storedEvents().length + " events after they were sent, want 0");

  // Turning visible cancels a scheduled retry and resets its wait.
  stubFetch(rejectFetch);
  page.track("workspace_switched", { fromWorkspaceId: "h5" });
  for (let i = 0; i < 4; i++) await settle();
  check(pendingTimers().length === 1 && pendingTimers()[0].ms === 16000,
    "after the retry timers of 1, 2, 4 and 8 s, a rejection scheduled the retry timers " + JSON.stringify(pendingTimers().map((timer) => timer.ms)) + ", want one of 16000 ms");
  stubFetch(okTrack);
  show();
  for (let i = 0; i < 6; i++) await settle();
  check(pendingTimers().length === 0, "a retry timer is still scheduled after the page turned visible");
  check(JSON.stringify(trackedIds()) === '["h5"]' && storedEvents().length === 0,
    "after the page turned visible, it sent " + JSON.stringify(trackedIds()) + " and keeps " + storedEvents().length + " events, want h5 and 0");
  hide();
  stubFetch(rejectFetch);
  page.track("workspace_switched", { fromWorkspaceId: "h6" });
  for (let i = 0; i < 4; i++) await settle();
  check(pendingTimers().length === 1 && pendingTimers()[0].ms === 1000,
    "after a rejection that followed a return to visible, the retry timers are " + JSON.stringify(pendingTimers().map((timer) => timer.ms)) + ", want one of 1000 ms");
  show();
  restore();
}

// checkLoadedHidden loads a page whose document is hidden from the start,
// as in a background tab, with an event of an earlier page stored. The
// page posts it at once as a keepalive request instead of queueing it.
// When the status read fails, the page's turning visible reads it again,
// as it does on a page that was hidden later.
async function checkLoadedHidden() {
  await reset();
  const { clock, earlier, storeEarlier, restore } = fakeStoredEventPage();
  const statusOn = { enabled: true, explicit: false, locked: false, reason: "r", notes: [] };
  let status = statusOn;
  const respond = (url) => {
    if (!url.endsWith("/status")) return new Promise(() => {});
    if (status === null) return Promise.resolve({ ok: false, status: 503, json: () => Promise.resolve({ error: "backend starting" }) });
    return Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve(status) });
  };
  const sentEarlier = () => calls.filter((call) => call.url.endsWith("/track") && call.init.body === earlier);

  // Two track requests that never finish hold the queue of a visible
  // page, but a hidden page posts the stored event beside them.
  storeEarlier();
  stubFetch(respond);
  const hiddenPage = await importPage("loaded-hidden", "hidden");
  hiddenPage.page.track("workspace_switched", { fromWorkspaceId: "a0" });
  hiddenPage.page.track("workspace_switched", { fromWorkspaceId: "a1" });
  for (let i = 0; i < 4; i++) await settle();
  check(sentEarlier().length === 1 && sentEarlier()[0].init.keepalive === true,
    "a page loaded hidden with 2 requests in flight posted the stored event " + sentEarlier().length + " times, want once with keepalive");
  check(storedEvents().length === 0, "a page loaded hidden keeps " + storedEvents().length + " events after posting them, want 0");

  // The status read fails, and the page turns visible 5 s later.
  storeEarlier();
  status = null;
  stubFetch(respond);
  const retry = await importPage("loaded-hidden-retry", "hidden");
  retry.page.configure({});
  for (let i = 0; i < 2; i++) await settle();
  const statusCalls = () => calls.filter((call) => call.url.endsWith("/status")).length;
  check(statusCalls() === 1, "a page loaded hidden with a stored event made " + statusCalls() + " status requests, want 1");
  clock.now += 5000;
  status = statusOn;
  retry.show();
  for (let i = 0; i < 4; i++) await settle();
  check(statusCalls() === 2 && sentEarlier().length === 1,
    "a page loaded hidden that turned visible 5 s after a failed status request made " + statusCalls() + " status requests and sent the stored event " + sentEarlier().length + " times, want 2 and 1");
  restore();
}

// checkSetEnabledArgument calls setEnabled with values that are not
// booleans. Each call rejects with an error that names the value and the
// fix, sends no request and keeps the stored events.
async function checkSetEnabledArgument() {
  await reset();
  globalThis.sessionStorage = memoryStorage();
  const earlier = JSON.stringify({ event: "workspace_switched", properties: { fromWorkspaceId: "earlier" } });
  globalThis.sessionStorage.setItem(UNSENT_KEY, JSON.stringify({ events: [{ body: earlier, trackedAt: Date.now() }] }));
  const cases = [
    ["true", '"true"'],
    ["false", '"false"'],
    [1, "1"],
    [0, "0"],
    [undefined, "undefined"],
    [null, "null"],
    [{ enabled: true }, '{"enabled":true}'],
  ];
  for (const [value, named] of cases) {
    let result;
    try {
      result = await withDeadline(client.setEnabled(value), 2000);
    } catch (err) {
      result = "threw " + err;
    }
    check(result.includes(named) && result.includes("pass true or false"),
      "setEnabled(" + named + ") settled with " + JSON.stringify(result) + ", want a rejection that names " + named + " and says to pass true or false");
  }
  check(calls.length === 0, "setEnabled with values that are not booleans made " + calls.length + " requests, want 0");
  check(storedEvents().length === 1, "setEnabled with values that are not booleans left " + storedEvents().length + " stored events, want the 1 stored before");

  // A rejected call does not hold up the next one.
  stubFetch(() => Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve({ enabled: true, explicit: true, locked: false, reason: "r" }) }));
  const saved = await withDeadline(client.setEnabled(true), 2000);
  check(saved === "resolved" && calls.length === 1 && JSON.parse(calls[0].init.body).enabled === true,
    "setEnabled(true) after rejected calls settled with " + saved + " after " + calls.length + " requests, want resolved after 1 request with enabled true");
  delete globalThis.sessionStorage;
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack) + "\n");
  process.exit(1);
});
