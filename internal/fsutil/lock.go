package fsutil

import (
	"errors"
	"fmt"
	"os"
	"strconv"
)

// ErrLocked is the error that LockFile wraps when another holder has the
// lock.
var ErrLocked = errors.New("locked by another process")

// LockedError is the error of LockFile when another process, or another
// open file of this process, holds the lock.
type LockedError struct {
	// Path is the lock file.
	Path string
	// PID is the process ID that the holder wrote into the file, or 0
	// when the file holds none.
	PID int
}

func (e *LockedError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("%s is %v", e.Path, ErrLocked)
	}
	return fmt.Sprintf("%s is %v (pid %d)", e.Path, ErrLocked, e.PID)
}

// Is reports whether target is ErrLocked.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Lock is an exclusive lock on a file. The operating system releases it
// when the process ends, however it ends.
type Lock struct {
	file *os.File
}

// LockFile creates path (mode 0600) if it is missing and takes an
// exclusive lock on it without waiting. It then writes the process ID
// into the file, so that the error of a later LockFile can name the
// holder. When the lock is held, LockFile returns a *LockedError.
func LockFile(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lock(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, &LockedError{Path: path, PID: readPID(path)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	pid := strconv.Itoa(os.Getpid()) + "\n"
	if err := f.Truncate(0); err == nil {
		// The process ID only makes errors clearer: failing to write it
		// leaves the lock held all the same.
		f.WriteAt([]byte(pid), 0)
	}
	return &Lock{file: f}, nil
}

// Unlock releases the lock. The file stays, so that the next holder
// locks the same file.
func (l *Lock) Unlock() error {
	if l == nil || l.file == nil {
		return nil
	}
	err := l.file.Close()
	l.file = nil
	return err
}

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 32 {
		return 0
	}
	pid, err := strconv.Atoi(string(trimNewline(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
