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
