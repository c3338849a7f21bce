//go:build unix

package duckdb

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCompactKeepsOwner compacts, as root, a database that belongs to
// another user, as when an operator runs candor compact with sudo on the
// data folder of a candor serve that runs as its own user.
func TestCompactKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changes the owner of a file, which needs root")
	}
	const uid, gid = 65534, 65534
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}

	if _, _, err := Compact(context.Background(), path); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	if st.Uid != uid || st.Gid != gid {
		t.Errorf("owner after Compact = %d:%d, want %d:%d", st.Uid, st.Gid, uid, gid)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("mode after Compact = %o, want 600", mode)
	}
}
