package server

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/candor-dev/candor/internal/fsutil"
)

// LockFile is the file in the data folder that candor serve with the
// DuckDB store locks while it runs, and candor compact while it rewrites
// the database. DuckDB locks its own file, but candor compact lets go of
// that lock before it renames the new file over the old one.
const LockFile = "candor.lock"

// LockDataDir takes the lock of the data folder dir. It fails at once
// when another process holds it, with an error that names the process,
// and when the lock file cannot be opened, such as in a read-only folder.
func LockDataDir(dir string) (*fsutil.Lock, error) {
	lock, err := fsutil.LockFile(filepath.Join(dir, LockFile))
	var locked *fsutil.LockedError
	switch {
	case errors.As(err, &locked) && locked.PID != 0:
		return nil, fmt.Errorf("data folder %s is in use by another candor process (pid %d): stop it, or pass another --data", dir, locked.PID)
	case errors.As(err, &locked):
		return nil, fmt.Errorf("data folder %s is in use by another candor process: stop it, or pass another --data", dir)
	case err != nil:
		return nil, fmt.Errorf("lock data folder %s: %w: pass --data a folder that candor can write", dir, err)
	}
	return lock, nil
}
