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

function reset() {
  client.configure({ base: "/api/telemetry/", dev: false, allowAutomation: false, debug: false });
  for (const name of ["navigator", "location", "document", "__CANDOR_E2E__", "__MUX_E2E__"]) {
    Object.defineProperty(globalThis, name, { value: undefined, configurable: true, writable: true });
  }
  stubFetch(ok);
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

  reset();
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
  stubFetch(() => Promise.reject(new TypeError("network down")));
  check(trackOnce().thrown === null, "track threw when fetch rejected");
  stubFetch(() => {
    throw new TypeError("bad request");
  });
  check(trackOnce().thrown === null, "track threw when fetch threw");
  globalThis.fetch = undefined;
  check(trackOnce().thrown === null, "track threw without fetch");
  stubFetch(ok);
  const cyclic = {};
  cyclic.self = cyclic;
  const r = trackOnce(cyclic);
  check(r.thrown === null && r.sent === 0, "track with cyclic properties: thrown " + r.thrown + ", sent " + r.sent);
  check((() => { try { client.configure(null); client.configure("x"); return true; } catch { return false; } })(), "configure threw on a non-object");

  // Automation and end-to-end flags.
  reset();
  globalThis.navigator = { webdriver: true, userAgent: "x", platform: "Linux x86_64" };
  check(client.noopReason() === "navigator.webdriver", "noopReason() = " + client.noopReason() + " under webdriver");
  check(trackOnce().sent === 0, "track sent under webdriver");
  client.configure({ allowAutomation: true });
  check(trackOnce().sent === 1, "track did not send under webdriver with allowAutomation");
  for (const flag of ["__CANDOR_E2E__", "__MUX_E2E__"]) {
    reset();
    globalThis[flag] = true;
    check(client.noopReason() === flag, "noopReason() = " + client.noopReason() + " with " + flag);
    check(trackOnce().sent === 0, "track sent with " + flag);
  }
  reset();
  process.env.NODE_ENV = "test";
  check(client.noopReason() === "test runner", "noopReason() = " + client.noopReason() + " with NODE_ENV=test");
  check(trackOnce().sent === 0, "track sent with NODE_ENV=test");
  process.env.NODE_ENV = "production";

  // Development servers.
  reset();
  globalThis.location = { hostname: "localhost", port: "5173" };
  check(trackOnce().sent === 0, "track sent from localhost:5173");
  client.configure({ dev: true });
  check(trackOnce().sent === 1, "track did not send from localhost:5173 with dev: true");
  reset();
  globalThis.location = { hostname: "127.0.0.1", port: "43121" };
  check(trackOnce().sent === 1, "track did not send from 127.0.0.1 on a port no development server uses");

  // The page's own switch wins over every option.
  reset();
  globalThis.document = { querySelector: (sel) => (sel === 'meta[name="candor-telemetry"]' ? { getAttribute: () => " Off " } : null) };
  client.configure({ dev: true, allowAutomation: true });
  check(trackOnce().sent === 0, "track sent with meta candor-telemetry off");

  // Another mount point.
  reset();
  client.configure({ base: "/telemetry" });
  trackOnce();
  check(calls.length === 1 && calls[0].url === "/telemetry/track", "track with base /telemetry posted to " + (calls[0] && calls[0].url));

  // Status and toggle reject with the backend's message.
  reset();
  stubFetch(() => Promise.resolve({ ok: false, status: 500, json: () => Promise.resolve({ error: "disk full" }) }));
  const message = await client.setEnabled(false).then(() => "resolved", (err) => err.message);
  check(message === "disk full", "setEnabled after a 500 settled with " + message + ", want the error disk full");
  check(calls.length === 1 && JSON.parse(calls[0].init.body).enabled === false, "setEnabled sent " + (calls[0] && calls[0].init.body));
  const status = { enabled: true, explicit: false, locked: false, reason: "r" };
  stubFetch(() => Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve(status) }));
  const got = await client.getStatus();
  check(got.enabled === true && calls[0].url === "/api/telemetry/status", "getStatus returned " + JSON.stringify(got));

  // Let pending promise handlers run before reporting.
  await new Promise((resolve) => setTimeout(resolve, 20));
  process.stdout.write(JSON.stringify({
    userAgents: input.userAgents.map(client.reduceUserAgent),
    platforms: input.platforms.map(client.reducePlatform),
    base2: input.base2.map(client.roundBase2),
    checks: failures,
  }));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack) + "\n");
  process.exit(1);
});
