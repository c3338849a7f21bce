package webtelemetry_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"context"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

var update = flag.Bool("update", false, "rewrite mux.d.ts from the Mux catalog")

// TestMuxTypesUpToDate fails when mux.d.ts no longer matches the Mux
// catalog; go test ./webtelemetry -run MuxTypes -update rewrites it.
func TestMuxTypesUpToDate(t *testing.T) {
	want := mux.Catalog().TypeScript()
	if *update {
		if err := os.WriteFile("mux.d.ts", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("mux.d.ts")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("mux.d.ts differs from mux.Catalog().TypeScript(): run go test ./webtelemetry -run MuxTypes -update")
	}
}

// userAgents are reduced by client.js and catalog.ReduceUserAgent, which
// must agree.
var userAgents = []string{
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/122.0.6261.89 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Mobile Safari/537.36 OPR/80.0",
	"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/537.36 (KHTML, like Gecko) mux/0.9.0 Chrome/124.0.6367.243 Electron/30.1.2 Safari/537.36",
	"Chrome 131 (Linux)",
	"Safari (macOS)",
	"Chrome 1234567 (Linux)",
	"Chrome 99999 (macOS)",
	"Chrome 1000 (macOS)",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99999.0.0.0 Safari/537.36",
	"curl/8.5.0",
	"",
	"Firefox/",
}

// platforms are reduced by client.js and catalog.ReducePlatform, which must
// agree: navigator.platform values, then the $os names of PostHog's
// libraries and Go's GOOS values in several letter cases.
var platforms = []string{
	"MacIntel", "Linux x86_64", "Win32", "iPhone", "Linux armv8l", "CrOS", "macOS", "", "FreeBSD amd64",
	"Mac OS X", "Chrome OS", "ChromeOS", "Windows Phone", "Windows Mobile", "iOS", "iPadOS", "Android", "Linux",
	"watchOS", "Xbox", "BlackBerry", "FreeBSD", "cygwin", "win32",
	"linux", "darwin", "windows", "ios", "android", "freebsd", "openbsd", "js", "wasip1",
	"LINUX", "Darwin", "MAC OS X", "chrome os", "ioſ", "İOS",
}

var base2Values = []float64{-3, 0, 0.3, 1, 1.5, 2, 3, 350, 1000, 1024, 1025, 1200, 65536, 1e9}

// nodeResult is what clientTestScript prints.
type nodeResult struct {
	UserAgents []string  `json:"userAgents"`
	Platforms  []string  `json:"platforms"`
	Base2      []float64 `json:"base2"`
	Checks     []string  `json:"checks"`
}

// TestClientInNode runs client.js under Node.js: its reductions must match
// the catalog's, track must send only when allowed, shape the body and
// never throw.
func TestClientInNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("skip: node not found; install Node.js to test client.js outside a browser")
	}
	input, err := json.Marshal(map[string]any{"userAgents": userAgents, "platforms": platforms, "base2": base2Values})
	if err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "client_test.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Stdin = bytes.NewReader(input)
	cmd.Env = append(os.Environ(), "NODE_ENV=production", "CI=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	var got nodeResult
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode node output %q: %v", out, err)
	}

	for i, ua := range userAgents {
		if want := catalog.ReduceUserAgent(ua); i >= len(got.UserAgents) || got.UserAgents[i] != want {
			t.Errorf("reduceUserAgent(%q) in client.js differs from catalog.ReduceUserAgent = %q", ua, want)
		}
	}
	for i, p := range platforms {
		if want := catalog.ReducePlatform(p); i >= len(got.Platforms) || got.Platforms[i] != want {
			t.Errorf("reducePlatform(%q) in client.js differs from catalog.ReducePlatform = %q", p, want)
		}
	}
	var wantBase2 []float64
	for _, v := range base2Values {
		rounded, _ := catalog.RoundBase2(v)
		wantBase2 = append(wantBase2, rounded)
	}
	if !reflect.DeepEqual(got.Base2, wantBase2) {
		t.Errorf("roundBase2 in client.js = %v, want catalog.RoundBase2's %v for %v", got.Base2, wantBase2, base2Values)
	}
	for _, failure := range got.Checks {
		t.Error("client.js: " + failure)
	}
}
