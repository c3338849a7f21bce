package telemetry

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestErrorTextOmitsPaths checks the file errors that the client logs:
// none may name a path, because a path in Home may hold the user's name.
func TestErrorTextOmitsPaths(t *testing.T) {
	const home = "/home/alice/.mux"
	tests := []struct {
		err  error
		want string
	}{
		{&fs.PathError{Op: "open", Path: home + "/telemetry_id", Err: syscall.ENOTDIR}, "open: not a directory"},
		{&os.LinkError{Op: "rename", Old: home + "/.telemetry_id-1", New: home + "/telemetry_id", Err: syscall.EEXIST}, "rename: file exists"},
		{errors.New("disk full"), "disk full"},
	}
	for _, tt := range tests {
		got := errorText(tt.err)
		if got != tt.want {
			t.Errorf("errorText(%v) = %q, want %q", tt.err, got, tt.want)
		}
		if strings.Contains(got, "alice") {
			t.Errorf("errorText(%v) = %q, which names the user's home path", tt.err, got)
		}
	}
}
