// Package fsutil contains the file system calls that the collector's
// stores, server and commands share: syncing a folder, measuring free
// space and locking a file.
package fsutil

import (
	"errors"
	"os"
	"path/filepath"
)

// ErrFreeBytesUnsupported is the error of FreeBytes on a platform where
// it cannot measure free space.
var ErrFreeBytesUnsupported = errors.New("measuring free disk space is not supported on this platform")

// SyncDir syncs the folder dir, which makes the creation, removal and
// renaming of files in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// WriteFileAtomic replaces the file at path with data and mode perm. It
// writes a temporary file in the same folder, syncs it, renames it over
// path and syncs the folder, so a crash leaves the old file or the whole
// new one, never a part.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err := errors.Join(err, tmp.Close()); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return SyncDir(dir)
}
