//go:build !linux && !darwin && !freebsd

package server

func freeBytesOnDisk(string) (uint64, error) {
	return 0, errFreeBytesUnsupported
}
