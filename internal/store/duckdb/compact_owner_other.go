//go:build !unix

package duckdb

import "os"

// copyOwner does nothing outside Unix, where the new file's owner comes
// from the folder's permissions.
func copyOwner(target string, old os.FileInfo) error {
	return nil
}
