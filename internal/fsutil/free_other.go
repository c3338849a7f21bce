//go:build !linux && !darwin && !freebsd

package fsutil

// FreeBytes returns ErrFreeBytesUnsupported on this platform.
func FreeBytes(string) (uint64, error) {
	return 0, ErrFreeBytesUnsupported
}
