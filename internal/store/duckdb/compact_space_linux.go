package duckdb

import "syscall"

// freeBytes returns the bytes that an unprivileged process may still
// write on the file system that holds path, as df shows them.
func freeBytes(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Frsize), nil
}
