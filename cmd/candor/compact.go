package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/candor-dev/candor/internal/server"
	"github.com/candor-dev/candor/internal/store/duckdb"
)

const compactSynopsis = `[--data DIR]

Rewrite the DuckDB database of a stopped collector, DIR/` + server.DatabaseFile + `, so
that the values of deleted events, such as those of a deleted install or
past --retention, no longer stay in the file's bytes. Stop candor serve
first: compact takes the data folder's lock, as serve does. It needs free
space for a second copy of the database, and it leaves the journal for the
next candor serve to load. Ctrl-C during the copy leaves the file as it was.

  candor compact --data ./candor-data`

// runCompact rewrites the DuckDB database of a data folder without the
// values of deleted events.
func runCompact(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compact", compactSynopsis, stderr)
	data := fs.String("data", "./candor-data", "data folder of a stopped candor serve, which holds "+server.DatabaseFile)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}

	if *data == "" {
		return usageErrorf("missing --data: pass the data folder of candor serve, which contains %s", server.DatabaseFile)
	}
	path := filepath.Join(*data, server.DatabaseFile)
	if _, err := os.Stat(path); err != nil {
		if isNotFound(err) {
			return usageErrorf("no database %s in %s (%v): pass the data folder of candor serve with --data", server.DatabaseFile, *data, err)
		}
		return fmt.Errorf("read database %s: %w", path, err)
	}
	// The lock keeps a candor serve from opening the database between
	// Compact's copy and its rename. A lock file that compact creates in
	// the folder of another program's database is removed again.
	lockPath := filepath.Join(*data, server.LockFile)
	_, statErr := os.Stat(lockPath)
	lockCreated := isNotFound(statErr)
	lock, err := server.LockDataDir(*data)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	before, after, err := duckdb.Compact(ctx, path)
	if lockCreated && (errors.Is(err, duckdb.ErrNotCandorDatabase) || errors.Is(err, duckdb.ErrNotDuckDBFile)) {
		lock.Unlock()
		if removeErr := os.Remove(lockPath); removeErr != nil {
			return fmt.Errorf("%w. Removing the lock file %s failed too (%v): delete it", withDataFolderFix(err), lockPath, removeErr)
		}
	}
	// Compact reads ctx only while it copies the database, before it
	// replaces the file, so an interruption leaves the file as it was.
	if err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return fmt.Errorf("interrupted: %s is unchanged; run candor compact again to compact it", path)
	}
	if err != nil {
		return withDataFolderFix(err)
	}
	fmt.Fprintf(stdout, "Compacted %s: %d bytes before, %d after. Deleted events no longer stay in the file.\n", path, before, after)
	return nil
}

// withDataFolderFix adds the fix to an error of a data folder whose
// database file is not candor's: a DuckDB file of another program or a file
// that is no DuckDB database.
func withDataFolderFix(err error) error {
	if errors.Is(err, duckdb.ErrNotCandorDatabase) || errors.Is(err, duckdb.ErrNotDuckDBFile) {
		return fmt.Errorf("%w: pass the data folder of candor serve with --data", err)
	}
	return err
}
