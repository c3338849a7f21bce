package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLockDataDirNamesFix checks that a lock file that cannot be opened,
// as in a read-only data folder, fails with an error that names the
// folder and the --data flag.
func TestLockDataDirNamesFix(t *testing.T) {
	dir := t.TempDir()
	// A directory in place of the lock file fails the open as a read-only
	// file system does, also for root, whom file modes do not stop.
	if err := os.Mkdir(filepath.Join(dir, LockFile), 0o700); err != nil {
		t.Fatal(err)
	}

	lock, err := LockDataDir(dir)
	if err == nil {
		lock.Unlock()
		t.Fatal("LockDataDir with a directory as the lock file succeeded, want an error")
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the data folder %s", err, dir)
	}
	if !strings.Contains(err.Error(), "--data") {
		t.Errorf("error %q does not name the fix: pass --data a folder that candor can write", err)
	}
}
