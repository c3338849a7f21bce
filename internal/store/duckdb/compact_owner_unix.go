//go:build unix

package duckdb

import (
	"fmt"
	"os"
	"syscall"
)

// copyOwner gives the file at target the owner and group of old, so that
// a candor serve that runs as its own user can still open the database
// after a compaction run as root.
func copyOwner(target string, old os.FileInfo) error {
	st, ok := old.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	current, err := os.Stat(target)
	if err != nil {
		return err
	}
	if now, ok := current.Sys().(*syscall.Stat_t); ok && now.Uid == st.Uid && now.Gid == st.Gid {
		return nil
	}
	if err := os.Chown(target, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("give the compacted database the owner %d:%d of the old one: %w: run candor compact as that user or as root", st.Uid, st.Gid, err)
	}
	return nil
}
