package webtelemetry

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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
  const pending: PendingEvents = await getPending();
  console.log(reason, saved.locked, saved.noopReason, sent.logged, sent.note, pending.events[0]?.location,
    reduceUserAgent(navigator.userAgent), reducePlatform(navigator.platform));
}
void settings();
`

// TestClientTypesCompile runs tsc on client.d.ts and mux.d.ts with a page
// that uses every declaration, and with calls that must not type-check.
// It uses the compiler that scripts/test.sh installs for sdk/catalog.
func TestClientTypesCompile(t *testing.T) {
	tsc, err := filepath.Abs(filepath.Join("..", "catalog", "testdata", "typescript", "node_modules", ".bin", "tsc"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tsc); err != nil {
		if tsc, err = exec.LookPath("tsc"); err != nil {
			t.Skip("tsc not found: run npm ci in sdk/catalog/testdata/typescript (scripts/test.sh does) to run this test")
		}
	}
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

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	args := append([]string{"--strict", "--noEmit", "--pretty", "false", "--target", "es2022",
		"--module", "esnext", "--moduleResolution", "bundler", "--lib", "es2022,dom"}, names...)
	cmd := exec.CommandContext(ctx, tsc, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // the bad files make tsc exit non-zero, so only its output is checked

	want := map[string]string{
		"bad_option.ts":  `'timeout' does not exist in type 'ClientOptions'`,
		"bad_enabled.ts": `not assignable to parameter of type 'boolean'`,
		"bad_sent.ts":    `Property 'missing' does not exist on type 'SentEvents'`,
	}
	diagnostic := regexp.MustCompile(`^(\S+?)\(\d+,\d+\): error TS\d+:`)
	got := map[string]string{}
	file := ""
	for _, line := range strings.Split(out.String(), "\n") {
		if m := diagnostic.FindStringSubmatch(line); m != nil {
			file = m[1]
			if _, bad := want[file]; !bad {
				t.Errorf("tsc rejected a file that must type-check: %s", line)
			}
		}
		got[file] += line + "\n"
	}
	for file, message := range want {
		if !strings.Contains(got[file], message) {
			t.Errorf("tsc on %s: no error containing %q\n%s", file, message, out.String())
		}
	}
}
