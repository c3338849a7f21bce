package webtelemetry

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/candor-dev/candor/sdk/internal/tscheck"
)

// typesConsumer is a page that uses every declaration of client.d.ts,
// typed with the Mux catalog's Track.
const typesConsumer = `import {
  configure, noopReason, track as untypedTrack, getStatus, setEnabled,
  getSent, getPending, frontendPlatform, roundBase2, reduceUserAgent, reducePlatform,
} from "./client.js";
import type { TelemetryStatus, SentEvents, PendingEvents, ClientOptions } from "./client.js";
import type { Track } from "./mux.js";

const options: ClientOptions = { base: "/api/telemetry/", dev: false, allowAutomation: false, debug: true, requestTimeoutMs: 5000 };
configure(options);
const reason: string | null = noopReason();
export const track: Track = untypedTrack;
track("message_sent", {
  workspaceId: "w", model: "m", message_length_b2: roundBase2(300), runtimeType: "local",
  frontendPlatform: frontendPlatform(), thinkingLevel: "low",
});
async function settings(): Promise<void> {
  const status: TelemetryStatus = await getStatus();
  const saved: TelemetryStatus = await setEnabled(!status.enabled);
  const sent: SentEvents = await getSent(10);
  const pending: PendingEvents = await getPending(20);
  console.log(reason, saved.locked, saved.noopReason, sent.logged, sent.note, pending.events[0]?.location, pending.total,
    reduceUserAgent(navigator.userAgent), reducePlatform(navigator.platform));
}
void settings();
`

// TestClientTypesCompile runs tsc on client.d.ts and mux.d.ts with a page
// that uses every declaration, and with calls that must not type-check.
// It uses the compiler that scripts/test.sh installs for sdk/catalog.
func TestClientTypesCompile(t *testing.T) {
	tsc := tscheck.Find(t, filepath.Join("..", "catalog"))
	dir := t.TempDir()
	for _, name := range []string{"client.d.ts", "mux.d.ts"} {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"page.ts":        typesConsumer,
		"bad_option.ts":  `import { configure } from "./client.js";` + "\nconfigure({ timeout: 5 });\n",
		"bad_enabled.ts": `import { setEnabled } from "./client.js";` + "\nvoid setEnabled(\"yes\");\n",
		"bad_sent.ts":    `import { getSent } from "./client.js";` + "\ngetSent(10).then((s) => s.events.length + s.missing);\n",
	}
	names := []string{}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}

	tscheck.Check(t, tsc, dir, []string{"--strict", "--noEmit", "--pretty", "false", "--target", "es2022",
		"--module", "esnext", "--moduleResolution", "bundler", "--lib", "es2022,dom"}, names, map[string]string{
		"bad_option.ts":  `'timeout' does not exist in type 'ClientOptions'`,
		"bad_enabled.ts": `not assignable to parameter of type 'boolean'`,
		"bad_sent.ts":    `Property 'missing' does not exist on type 'SentEvents'`,
	})
}
