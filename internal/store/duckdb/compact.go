package duckdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// compactSuffix ends the name of the file that Compact writes before it
// replaces the database with it.
const compactSuffix = ".compact"

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
// file open makes it fail. It opens the database as Open does, which
// brings its schema up to date, and changes nothing else before the
// rename. A crash before the rename leaves a file ending in compactSuffix,
// which the next call replaces.
func Compact(ctx context.Context, path string) (before, after int64, err error) {
	if path == "" {
		return 0, 0, errors.New("compact duckdb: no path: name the database file")
	}
	if _, err := os.Stat(path); err != nil {
		return 0, 0, fmt.Errorf("compact duckdb %q: %w", path, err)
	}
	target := path + compactSuffix
	for _, leftover := range []string{target, target + ".wal"} {
		if err := os.Remove(leftover); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, 0, fmt.Errorf("compact duckdb %q: remove %s left by an earlier compaction: %w", path, leftover, err)
		}
	}

	if err := copyDatabase(ctx, path, target); err != nil {
		os.Remove(target)
		os.Remove(target + ".wal")
		return 0, 0, fmt.Errorf("compact duckdb %q: %w", path, err)
	}
	if before, after, err = replaceDatabase(path, target); err != nil {
		os.Remove(target)
		return 0, 0, fmt.Errorf("compact duckdb %q: %w", path, err)
	}
	return before, after, nil
}

// copyDatabase opens the database at path as a Store, which brings its
// schema up to date, and copies every table into a new database at target.
// Closing both checkpoints them, so neither keeps a WAL.
func copyDatabase(ctx context.Context, path, target string) error {
	s, err := Open(path)
	if err != nil {
		return err
	}
	var name string
	err = s.db.QueryRowContext(ctx, `SELECT current_database()`).Scan(&name)
	for _, statement := range []string{
		`ATTACH ` + quoteLiteral(target) + ` AS compacted`,
		`COPY FROM DATABASE ` + quoteIdentifier(name) + ` TO compacted`,
		`DETACH compacted`,
	} {
		if err != nil {
			break
		}
		if _, err = s.db.ExecContext(ctx, statement); err != nil {
			err = fmt.Errorf("%s: %w", statement, err)
		}
	}
	return errors.Join(err, s.Close())
}

// replaceDatabase syncs the database at target and renames it to path,
// and returns the sizes of both. It refuses while either has a WAL, whose
// rows the rename would separate from their database.
func replaceDatabase(path, target string) (before, after int64, err error) {
	for _, wal := range []string{path + ".wal", target + ".wal"} {
		if _, err := os.Stat(wal); err == nil {
			return 0, 0, fmt.Errorf("%s remains after closing the database: open the database with candor serve once and stop it, then compact again", wal)
		}
	}
	old, err := os.Stat(path)
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
	if err := os.Rename(target, path); err != nil {
		return 0, 0, err
	}
	return old.Size(), info.Size(), syncFolder(filepath.Dir(path))
}

// syncFolder syncs the folder at dir, so that a rename in it survives a
// crash.
func syncFolder(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// quoteLiteral returns s as an SQL string literal.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// quoteIdentifier returns s as a quoted SQL identifier.
func quoteIdentifier(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
