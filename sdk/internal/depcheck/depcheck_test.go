// Package depcheck holds the test that keeps the SDK free of server code,
// cgo and third-party modules other than the gzip encoder.
package depcheck

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// sdkPackages are the packages an app imports.
var sdkPackages = []string{"../../telemetry", "../../mux", "../../catalog", "../../webtelemetry", "../../telemetrycli"}

func existing(t *testing.T) []string {
	var pkgs []string
	for _, p := range sdkPackages {
		if _, err := os.Stat(p); err == nil {
			pkgs = append(pkgs, p)
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("no SDK package found")
	}
	return pkgs
}

// allowedModules are the only modules besides the SDK and the standard
// library that an app gets with it. klauspost/compress is pure Go with no
// dependencies of its own, and its gzip encoder takes about half the CPU
// time of compress/gzip's on a batch (BenchmarkCompressionLevels).
var allowedModules = []string{"github.com/candor-dev/candor/sdk/", "github.com/klauspost/compress/"}

func TestSDKImportsOnlyAllowedModules(t *testing.T) {
	args := append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}"}, existing(t)...)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if !slices.ContainsFunc(allowedModules, func(prefix string) bool { return strings.HasPrefix(pkg, prefix) }) {
			t.Errorf("the SDK depends on %s: keep apps free of packages outside the SDK, klauspost/compress and the standard library", pkg)
		}
	}
}

func TestSDKBuildsWithoutCgo(t *testing.T) {
	args := append([]string{"build"}, existing(t)...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(slices.Clone(os.Environ()), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
}
