package browsertest

import (
	"os"
	"path/filepath"
	"testing"
)

// Chromium makes a folder for its singleton socket in TMPDIR and leaves it
// there when the test stops the browser, so NewContext gives it a TMPDIR
// that the test removes.
func TestNewContextLeavesNoTempFiles(t *testing.T) {
	SkipWithoutChromium(t)
	// Not t.TempDir, whose long name would make the socket's path too long.
	tmp, err := os.MkdirTemp("", "browsertest-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	t.Setenv("TMPDIR", tmp)

	t.Run("browser", func(t *testing.T) {
		NewContext(t, 800, 600)
	})

	leftovers, err := filepath.Glob(filepath.Join(tmp, "*chromium*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(leftovers) > 0 {
		t.Errorf("the browser left %q in TMPDIR after the test stopped it", leftovers)
	}
}
