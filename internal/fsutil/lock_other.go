//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package fsutil

import (
	"errors"
	"os"
)

var errWouldBlock = errors.New("the lock is held")

// lock does nothing on this platform.
//
// NOTE: without flock(2), LockFile never fails with ErrLocked, so two
// processes can both hold the lock here.
func lock(*os.File) error { return nil }
