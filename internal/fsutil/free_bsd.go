//go:build darwin || freebsd

package fsutil

import "syscall"

// FreeBytes returns the bytes that an unprivileged process may
// still write on the file system that holds path, as df shows them.
func FreeBytes(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	// FreeBSD reports a negative count once the space reserved for root
	// is in use.
	available := int64(st.Bavail)
	if available < 0 {
		available = 0
	}
	return uint64(available) * uint64(st.Bsize), nil
}
