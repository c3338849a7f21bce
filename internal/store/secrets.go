package store

import (
	"context"
	"errors"
)

// ErrSecretNotFound is returned by InstallSecretHash when no deletion key
// hash is registered for the install.
var ErrSecretNotFound = errors.New("store: no deletion key registered for the install")

// InstallSecrets is implemented by backends that keep the deletion key
// hash of each install, which self-service deletion checks. It is separate
// from Store so that a backend can be written without it; the collector
// finds it with a type assertion on its Store and, without it, neither
// registers hashes nor serves self-service deletion.
//
// A hash is the hex SHA-256 of the install's random deletion secret. The
// secret itself never reaches the store. An install is one (project,
// distinct_id) pair, as in Store. Store.DeleteInstall and
// Store.DeleteBefore leave the hashes: the collector deletes an install's
// hash with DeleteInstallSecret after its events.
type InstallSecrets interface {
	// RegisterInstallSecret stores hash for the install unless one is
	// already stored: the first registration wins and later calls, with
	// any hash, change nothing and return nil. That way a client that
	// learns an install ID later cannot take over its deletion.
	RegisterInstallSecret(ctx context.Context, project, distinctID, hash string) error

	// InstallSecretHash returns the stored hash, or ErrSecretNotFound.
	InstallSecretHash(ctx context.Context, project, distinctID string) (string, error)

	// DeleteInstallSecret deletes the stored hash, if any. Deleting a hash
	// that is not stored is not an error.
	DeleteInstallSecret(ctx context.Context, project, distinctID string) error
}
