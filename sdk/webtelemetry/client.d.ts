// Declarations of client.js, the browser client of candor's webtelemetry
// handler. For the types of a catalog's events, import the declarations
// the handler serves as catalog.d.ts (for the Mux catalog, mux.d.ts in
// this package contains the same) and type track with their Track:
//
//   import { track as untypedTrack } from "./client.js";
//   import type { Track } from "./mux";
//   export const track: Track = untypedTrack;

/** The backend's telemetry state, as GET status returns it. */
export interface TelemetryStatus {
  /** Whether events are sent now. */
  enabled: boolean;
  /** Whether the user switched telemetry off, as opposed to a CI or test run. */
  explicit: boolean;
  /** Whether a switch other than the user's choice keeps telemetry off, such as MUX_DISABLE_TELEMETRY=1. setEnabled(false) still saves an opt-out. */
  locked: boolean;
  /** One sentence on what decides the state. */
  reason: string;
  /** One sentence per telemetry variable set to a value that has no effect, such as MUX_DISABLE_TELEMETRY="true" or MUX_TELEMETRY_DEBUG=1; empty when there is none. */
  notes: string[];
  /** Added by the client, not the backend: noopReason() of this page, such as "development server on localhost:5173: pass configure({dev: true}) to send from a development server", or null when track sends. */
  noopReason: string | null;
}

/** The body of GET sent: the backend's most recent sent events. */
export interface SentEvents {
  /** Whether the app keeps a log of sent events (telemetry.Config.SentLog). */
  logged: boolean;
  /** The most recent sent events, oldest first, each as the collector received it; empty when there are none or logged is false. */
  events: object[];
  /** When logged is false, how the app turns the log on. */
  note?: string;
}

/** One event waiting on the backend to be sent. */
export interface PendingEvent {
  /** "memory" for the client's queue, "spool" for the spool folder. */
  location: "memory" | "spool";
  event: string;
  uuid: string;
  distinct_id: string;
  timestamp: string;
  /** The event exactly as the batch request will carry it. */
  wire: object;
}

/** The body of GET pending. */
export interface PendingEvents {
  /** The first waiting events, up to the limit, in the order they will be sent. */
  events: PendingEvent[];
  /** The number of all waiting events. */
  total: number;
}

/** Settings of the client; each one left out keeps its current value. */
export interface ClientOptions {
  /** URL prefix the backend mounted the handler at. Default "/api/telemetry/". */
  base?: string;
  /** Send from a development server: import.meta.env.DEV is true, process.env.NODE_ENV is "development", or the page is on localhost, 127.0.0.1 or [::1] at port 1234, 4200, 4321, 5173, 5174 or 6006. Default false. */
  dev?: boolean;
  /** Send under test automation (navigator.webdriver, __CANDOR_E2E__, __MUX_E2E__, a test runner). Default false. */
  allowAutomation?: boolean;
  /** Log the backend's error for each rejected event to the console. The error names the event, the property and the reason, never the value, and names an object's member by its dotted path, such as frontendPlatform.userAgent. Default false. */
  debug?: boolean;
  /** How long getStatus, setEnabled, getSent and getPending wait for the backend's response, in milliseconds. A value that is not a positive finite number is ignored, and one above 2147483647 (about 24.8 days, the longest setTimeout delay) counts as 2147483647. Default 10000. */
  requestTimeoutMs?: number;
}

/** The browser and OS family of the page, as the Mux catalog's frontendPlatform property holds them. */
export interface FrontendPlatform {
  userAgent: string;
  platform: string;
}

/** Changes the client's settings. Never throws. After the configure calls of the current task, and while noopReason() is null, the client reads the backend's status and then sends or drops the events that an earlier page of the tab kept in sessionStorage, as track does. */
export function configure(options: ClientOptions): void;

/** Returns why track does nothing on this page, or null when it sends. A development server's reason names the fix, configure({dev: true}). */
export function noopReason(): string | null;

/** Sends one event to the backend, fire and forget. Never throws. At most 2 requests run at once and up to 100 more events wait. When the page turns hidden, waiting events beyond the 64 KiB that Chromium sends as keepalive requests are kept in sessionStorage for up to an hour and sent by the next page of the tab that calls configure or track, unless the backend's status then has enabled false. When that status request fails, the first configure or track call or return to visible at least 5 s later reads the status again, and each further failure doubles the wait, up to 5 minutes. A page that loads hidden, as in a background tab, sends the kept events at once as keepalive requests, as far as the 64 KiB allow, and keeps the rest. A request that fails before its response, as Chromium fails a keepalive request beyond 64 KiB of the page's keepalive bodies in flight, the page's own included, is sent once more without keepalive while the page is visible, and kept in sessionStorage while it is hidden. An event beyond those 100, or with JSON over 64 KiB in UTF-8, is dropped. */
export function track(event: string, properties?: object): void;

/** Returns the backend's telemetry status; rejects when the request fails or the backend does not respond within requestTimeoutMs. A status with enabled false drops the events that wait to be sent, in memory or in sessionStorage. */
export function getStatus(): Promise<TelemetryStatus>;

/** Persists the user's choice and returns the new status; rejects when it could not be saved. When the backend does not respond within requestTimeoutMs, it rejects with an error saying that the choice may or may not have been saved, so call getStatus to read it again. Calls are sent one after another, in the order they were made. setEnabled(false) drops the events that wait to be sent, in memory or in sessionStorage, at once. Any argument but true or false, such as the string "true", rejects with a TypeError that names it, and the choice and the waiting events stay as they are. */
export function setEnabled(enabled: boolean): Promise<TelemetryStatus>;

/** Returns the backend's most recent sent events, at most limit (1 to 10000, default 100); rejects like getStatus. */
export function getSent(limit?: number): Promise<SentEvents>;

/** Returns the first events waiting on the backend to be sent, up to limit (1 to 10000, default 100), and the number of all. Rejects like getStatus. */
export function getPending(limit?: number): Promise<PendingEvents>;

/** Returns the page's reduced user agent and platform. */
export function frontendPlatform(): FrontendPlatform;

/** Rounds a number up to a power of two: 350 gives 512, 0.3 gives 0.5, v <= 0 gives 0. */
export function roundBase2(value: number): number;

/** Reduces a user agent to a browser family, major version and OS family, such as "Chrome 131 (Linux)". */
export function reduceUserAgent(userAgent: string): string;

/** Reduces a navigator.platform string or an OS name such as "darwin" to an OS family, such as "macOS". */
export function reducePlatform(platform: string): string;
