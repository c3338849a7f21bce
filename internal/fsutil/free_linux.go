package fsutil

import "syscall"

// FreeBytes returns the bytes that an unprivileged process may
// still write on the file system that holds path, as df shows them.
func FreeBytes(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	blockSize := st.Frsize
	if blockSize <= 0 {
		blockSize = st.Bsize
	}
	return st.Bavail * uint64(blockSize), nil
}
