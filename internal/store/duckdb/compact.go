package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/candor-dev/candor/internal/fsutil"
)

// compactSuffix ends the name of the file that Compact writes before it
// replaces the database with it.
const compactSuffix = ".compact"

// compactWALReserve is the free space that Compact requires for DuckDB's
// WAL on top of a second copy of the database. DuckDB writes the rows of
// a table with less than about one row group (122,880 rows) to the WAL
// of the copy before it checkpoints them. With VARIANT properties,
// 120,000 Mux events took 70 MB of WAL and 100,000 took 58 MB. 350,000
// went straight to the new file, with less than 20 KB of WAL.
// NOTE: measured with Mux events only. Events with larger properties
// need more.
const compactWALReserve = 96 << 20

// Compact rewrites the database file at path with DuckDB's COPY FROM
// DATABASE into a new file, which holds only the rows that are not
// deleted, and replaces path with it. It returns the sizes of the file
// before and after.
//
// DuckDB marks deleted rows and keeps their values in the file until it
// rewrites the blocks that hold them, which a deletion of one install
// rarely causes. Compact removes those values, so that the events that
// DeleteInstall or DeleteBefore removed no longer stay on disk. It needs
// the database to itself: a Store of this or another process that has the
// file open makes it fail. Compact replays the WAL of the database, as
// Open does, but leaves the schema at its version, so that Open with the
// caller's Options migrates it later. The new file gets the mode and, on
// Unix, the owner and group of the old one. When path is a symbolic link,
// the file it points to is replaced and the link stays. A crash before
// the rename leaves a file ending in compactSuffix next to that file,
// which the next call replaces. Between the copy and the rename Compact
// holds no lock of the database: a caller that shares the file with other
// processes keeps them away until Compact returns.
func Compact(ctx context.Context, path string) (before, after int64, err error) {
	if path == "" {
		return 0, 0, errors.New("compact duckdb: no path: name the database file")
	}
	file, err := filepath.EvalSymlinks(path)
	if err != nil {
		return 0, 0, fmt.Errorf("compact duckdb %q: %w", path, err)
	}
	target := file + compactSuffix
	if err := checkFreeSpace(path, file); err != nil {
		return 0, 0, fmt.Errorf("compact duckdb %q: %w", path, err)
	}

	if err := copyDatabase(ctx, path, target); err != nil {
		return 0, 0, fmt.Errorf("compact duckdb %q: %w", path, err)
	}
	// copyDatabase has released DuckDB's lock, so a process that opens
	// the database before the rename writes to the replaced file. candor
	// compact holds the data folder's lock, which candor serve takes too.
	if before, after, err = replaceDatabase(path, file, target); err != nil {
		os.Remove(target)
		return 0, 0, fmt.Errorf("compact duckdb %q: %w", path, err)
	}
	return before, after, nil
}

// checkFreeSpace fails when the file system of file has less free space
// than the compaction may take: the database, twice its WAL (replayed
// into the old file, then copied) and compactWALReserve. It checks
// nothing where fsutil.FreeBytes is not supported. DuckDB names the WAL after
// the path it opened, so path and file may each have one.
func checkFreeSpace(path, file string) error {
	database, err := os.Stat(file)
	if err != nil {
		return err
	}
	need := uint64(database.Size()) + compactWALReserve
	wals := []string{path + ".wal"}
	if file != path {
		wals = append(wals, file+".wal")
	}
	for _, wal := range wals {
		info, err := os.Stat(wal)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		need += 2 * uint64(info.Size())
	}

	dir := filepath.Dir(file)
	free, err := fsutil.FreeBytes(dir)
	if errors.Is(err, fsutil.ErrFreeBytesUnsupported) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("measure the free space of %s: %w", dir, err)
	}
	if free < need {
		return fmt.Errorf("the file system of %s has %d MiB free, and the compaction may take up to %d MiB "+
			"for the new file and DuckDB's WAL: free space there and compact again", dir, free>>20, need>>20+1)
	}
	return nil
}

// copyDatabase opens the database at path without migrating its schema
// and copies every table into a new database at target. Closing both
// checkpoints them, so neither keeps a WAL. It touches the files at
// target only once it holds the database, so that a compaction that finds
// the database in use leaves the copy of the one that runs. When the copy
// fails, it removes them.
func copyDatabase(ctx context.Context, path, target string) error {
	db, closeDB, err := openUnmigrated(ctx, path)
	if err != nil {
		return err
	}
	if err := removeLeftovers(target); err != nil {
		return errors.Join(err, closeDB())
	}

	var name string
	err = db.QueryRowContext(ctx, `SELECT current_database()`).Scan(&name)
	for _, statement := range []string{
		`ATTACH ` + quoteLiteral(target) + ` AS compacted`,
		`COPY FROM DATABASE ` + quoteIdentifier(name) + ` TO compacted`,
		`DETACH compacted`,
	} {
		if err != nil {
			break
		}
		if _, err = db.ExecContext(ctx, statement); err != nil {
			err = fmt.Errorf("%s: %w", statement, err)
		}
	}
	if err = errors.Join(err, closeDB()); err != nil {
		os.Remove(target)
		os.Remove(target + ".wal")
	}
	return err
}

// openUnmigrated opens the database at path as Open does, which replays
// its WAL, but does not migrate its schema. It fails with
// ErrNotCandorDatabase for a file without candor's schema_version table,
// and for a schema newer than this candor's.
// closeDB closes the database and releases path.
func openUnmigrated(ctx context.Context, path string) (db *sql.DB, closeDB func() error, err error) {
	absPath, err := claimPath(path)
	if err != nil {
		return nil, nil, err
	}
	db, err = connect(path, absPath, DefaultMemoryLimitMiB)
	if err != nil {
		releasePath(absPath)
		return nil, nil, err
	}
	closeDB = func() error {
		err := db.Close()
		releasePath(absPath)
		return err
	}
	if err := checkCandorSchema(ctx, db, false); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("open duckdb %q: %w", path, err), closeDB())
	}
	if _, err := readSchemaVersion(ctx, db); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("open duckdb %q: %w", path, err), closeDB())
	}
	return db, closeDB, nil
}

// removeLeftovers removes the database at target and its WAL, which an
// interrupted compaction left.
func removeLeftovers(target string) error {
	for _, leftover := range []string{target, target + ".wal"} {
		if _, err := os.Lstat(leftover); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := os.Remove(leftover); err != nil {
			return fmt.Errorf("remove %s left by an earlier compaction: %w", leftover, err)
		}
	}
	return nil
}

// replaceDatabase syncs the database at target and renames it to file,
// the database file that path names or links to, and returns the sizes of
// both. It fails while any of them has a WAL, whose rows the rename
// would separate from their database. DuckDB names the WAL after the path
// it opened, so path and file may each have one.
func replaceDatabase(path, file, target string) (before, after int64, err error) {
	for _, wal := range []string{path + ".wal", file + ".wal", target + ".wal"} {
		if _, err := os.Stat(wal); err == nil {
			return 0, 0, fmt.Errorf("%s remains after closing the database: open the database with candor serve once and stop it, then compact again", wal)
		}
	}

	old, err := os.Stat(file)
	if err != nil {
		return 0, 0, err
	}
	f, err := os.OpenFile(target, os.O_RDWR, 0)
	if err != nil {
		return 0, 0, err
	}
	info, err := f.Stat()
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return 0, 0, err
	}

	if err := os.Chmod(target, old.Mode().Perm()); err != nil {
		return 0, 0, err
	}
	if err := copyOwner(target, old); err != nil {
		return 0, 0, err
	}
	if err := os.Rename(target, file); err != nil {
		return 0, 0, err
	}
	return old.Size(), info.Size(), fsutil.SyncDir(filepath.Dir(file))
}

// quoteLiteral returns s as an SQL string literal. Doubling single quotes
// is the only escape a DuckDB string literal needs.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// quoteIdentifier returns s as a quoted SQL identifier.
func quoteIdentifier(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
