package duckdb

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/candor-dev/candor/internal/store"
)

// TestInsertOnFullDiskIsUnavailable fills a tmpfs that holds the database
// and checks that the Insert that no longer fits fails with
// store.ErrUnavailable, so that the journal keeps its events. DuckDB
// reports a commit whose WAL write fails as a transaction error, not as
// an IO error.
func TestInsertOnFullDiskIsUnavailable(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a 16 MiB tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=16m,mode=0700"); err != nil {
		t.Skipf("mount a tmpfs on %s: %v (the test needs CAP_SYS_ADMIN)", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount the tmpfs on %s: %v", dir, err)
		}
	})
	s, err := Open(filepath.Join(dir, "events.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Insert(t.Context(), muxBenchEvents(0, 10)); err != nil {
		t.Fatal(err)
	}

	// Leave 2 MiB: room for a few one-event commits, each of which
	// writes hundreds of KB of WAL with VARIANT properties.
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Frsize
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Fallocate(int(filler.Fd()), 0, 0, free-2<<20); err != nil {
		t.Fatalf("fill the tmpfs: %v", err)
	}
	filler.Close()

	var insertErr error
	for i := range 200 {
		if _, insertErr = s.Insert(t.Context(), muxBenchEvents(10+i, 1)); insertErr != nil {
			break
		}
	}
	if insertErr == nil {
		t.Fatal("200 inserts of one event each fit in 2 MiB, want the disk to fill")
	}
	if !errors.Is(insertErr, store.ErrUnavailable) {
		t.Errorf("Insert on a full disk: %v, want an error that matches store.ErrUnavailable", insertErr)
	}
}
