// Package fsutil contains the file system calls that the collector's
// stores, server and commands share: syncing a folder, measuring free
// space and locking a file.
package fsutil

import (
	"errors"
	"os"
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
