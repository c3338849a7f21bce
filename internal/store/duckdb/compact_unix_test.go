//go:build unix

package duckdb

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
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

// TestCompactChecksFreeSpace compacts a database of 100,000 events, 3
// MiB, on a 40 MiB tmpfs. The tmpfs has room for a second copy of the
// database, but not for the 40 to 60 MB of WAL that DuckDB writes while
// it copies them, so Compact must fail before it changes anything.
func TestCompactChecksFreeSpace(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a 40 MiB tmpfs")
	}
	ctx := context.Background()
	built := filepath.Join(t.TempDir(), "candor.duckdb")
	s, err := Open(built)
	if err != nil {
		t.Fatal(err)
	}
	for first := 0; first < 100_000; first += 5000 {
		if _, err := s.Insert(ctx, muxBenchEvents(first, 5000)); err != nil {
			s.Close()
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=40m,mode=0700"); err != nil {
		t.Skipf("mount a tmpfs on %s: %v (the test needs CAP_SYS_ADMIN)", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount the tmpfs on %s: %v", dir, err)
		}
	})
	path := filepath.Join(dir, "candor.duckdb")
	if err := os.WriteFile(path, before, 0o600); err != nil {
		t.Fatal(err)
	}

	_, _, err = Compact(ctx, path)
	if err == nil || !strings.Contains(err.Error(), "MiB free") {
		t.Errorf("Compact on a tmpfs with %d MiB free = %v, want an error that names the free space", freeMiB(t, dir), err)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(before, after) {
		t.Errorf("the database file changed when Compact failed (read: %v)", err)
	}
	for _, leftover := range []string{path + compactSuffix, path + compactSuffix + ".wal", path + ".wal"} {
		if _, err := os.Stat(leftover); err == nil {
			t.Errorf("%s is left after Compact failed", leftover)
		}
	}
}

// freeMiB returns the free space of the file system of dir in MiB.
func freeMiB(t *testing.T, dir string) uint64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st.Bavail * uint64(st.Frsize) >> 20
}
