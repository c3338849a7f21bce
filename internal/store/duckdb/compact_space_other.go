//go:build !linux

package duckdb

// freeBytes returns errFreeBytesUnsupported: outside Linux, Compact does
// not check the free space before it copies.
func freeBytes(path string) (uint64, error) {
	return 0, errFreeBytesUnsupported
}
