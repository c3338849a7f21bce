package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFreeBytes(t *testing.T) {
	free, err := FreeBytes(t.TempDir())
	if errors.Is(err, ErrFreeBytesUnsupported) {
		t.Skip(err)
	}
	if err != nil || free == 0 {
		t.Errorf("FreeBytes(temporary folder) = %d, %v, want a positive number", free, err)
	}
	if _, err := FreeBytes(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("FreeBytes of a missing folder returned no error")
	}
}

func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(dir); err != nil {
		t.Errorf("SyncDir(%s) = %v, want nil", dir, err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); err == nil {
		t.Error("SyncDir of a missing folder returned no error")
	}
}

func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	first, err := LockFile(path)
	if err != nil {
		t.Fatalf("LockFile(%s) = %v, want nil", path, err)
	}

	_, err = LockFile(path)
	var locked *LockedError
	if !errors.As(err, &locked) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second LockFile(%s) = %v, want a *LockedError", path, err)
	}
	if locked.PID != os.Getpid() || locked.Path != path {
		t.Errorf("LockedError = %+v, want Path %s and PID %d", locked, path, os.Getpid())
	}

	if err := first.Unlock(); err != nil {
		t.Fatalf("Unlock() = %v", err)
	}
	second, err := LockFile(path)
	if err != nil {
		t.Fatalf("LockFile after Unlock = %v, want nil", err)
	}
	second.Unlock()
}

func TestLockFileWithoutPID(t *testing.T) {
	err := (&LockedError{Path: "/data/candor.lock"}).Error()
	if want := "/data/candor.lock is locked by another process"; err != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "record.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("new\n"), 0o600); err != nil {
		t.Fatalf("WriteFileAtomic: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "new\n" {
		t.Errorf("file contains %q, %v; want the new data", data, err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("folder has %d entries, %v; want only the file, no temporary file left", len(entries), err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), nil, 0o600); err == nil {
		t.Error("WriteFileAtomic into a missing folder returned no error")
	}
}
