// Package tscheck runs the TypeScript compiler in the tests of the
// declarations that sdk/catalog generates and of the browser client's
// client.d.ts.
package tscheck

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

// Find returns the tsc that "npm ci" installs in
// sdk/catalog/testdata/typescript, or else tsc on PATH, and skips t without
// either. catalogDir is the path of sdk/catalog from the test's working
// directory, such as "." or "../catalog".
func Find(t testing.TB, catalogDir string) string {
	t.Helper()
	local, err := filepath.Abs(filepath.Join(catalogDir, "testdata", "typescript", "node_modules", ".bin", "tsc"))
	if err == nil {
		if _, err := os.Stat(local); err == nil {
			return local
		}
	}
	tsc, err := exec.LookPath("tsc")
	if err != nil {
		t.Skip("tsc not found: run npm ci in sdk/catalog/testdata/typescript (scripts/test.sh does) to run this test")
	}
	return tsc
}

// diagnostic matches the first line of a tsc error, which starts with
// "file(line,column): error TSnnnn:" and may go on in indented lines.
var diagnostic = regexp.MustCompile(`^(\S+?)\(\d+,\d+\): error TS\d+:`)

// Check runs tsc with options on the files names, which are in dir. Each
// file that want lists must fail with an error containing its message, and
// every other file must type-check. Check reports each difference on t,
// and logs the compiler's output when there is one.
func Check(t testing.TB, tsc, dir string, options, names []string, want map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tsc, append(append([]string{}, options...), names...)...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // the files that must fail make tsc exit non-zero, so only its output is checked

	got := map[string]string{}
	failed := false
	file := ""
	for _, line := range strings.Split(out.String(), "\n") {
		if m := diagnostic.FindStringSubmatch(line); m != nil {
			file = m[1]
			if _, bad := want[file]; !bad {
				t.Errorf("tsc rejected a file that must type-check: %s", line)
				failed = true
			}
		}
		got[file] += line + "\n"
	}
	for file, message := range want {
		if !strings.Contains(got[file], message) {
			t.Errorf("tsc on %s: no error containing %q", file, message)
			failed = true
		}
	}
	if failed {
		t.Logf("tsc output:\n%s", out.String())
	}
}
