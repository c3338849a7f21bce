package store

import (
	"context"
	"errors"
	"time"
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
// hash with DeleteInstallSecret after its events, and retention deletes
// the hashes of installs not registered for longer than the events are
// kept, with DeleteInstallSecretsBefore.
//
// Each install also has a latest registration time, which
// RegisterInstallSecret moves forward when given a renewal time. The
// collector renews the installs it receives events of, so retention can
// expire hashes by that time alone. Counting an install's stored events
// would not do, because its newest events may still wait in the journal.
type InstallSecrets interface {
	// RegisterInstallSecret stores hash for the install unless one is
	// already stored: the first registration wins and later calls, with
	// any hash, keep the stored hash and return nil. That way a client
	// that learns an install ID later cannot take over its deletion.
	//
	// When a hash is stored and the install's latest registration time is
	// before renewBefore, the call sets that time to now. A zero
	// renewBefore renews nothing. Registration and renewal are one call,
	// and one statement in each backend, because the collector makes it
	// for every install it receives events of.
	RegisterInstallSecret(ctx context.Context, project, distinctID, hash string, renewBefore time.Time) error

	// InstallSecretHash returns the stored hash, or ErrSecretNotFound.
	InstallSecretHash(ctx context.Context, project, distinctID string) (string, error)

	// DeleteInstallSecret deletes the stored hash, if any. Deleting a hash
	// that is not stored is not an error.
	DeleteInstallSecret(ctx context.Context, project, distinctID string) error

	// DeleteInstallSecretsBefore deletes the hash of every install whose
	// latest registration time is before t and returns how many installs
	// it deleted.
	DeleteInstallSecretsBefore(ctx context.Context, t time.Time) (int64, error)
}

// InstallSecret is the stored deletion key hash of one install.
type InstallSecret struct {
	Project    string
	DistinctID string
	Hash       string    // the first hash registered for the install
	Registered time.Time // the install's latest registration time, to the microsecond
}

// InstallSecretCopier is implemented by backends whose deletion key hashes
// candor migrate copies from one store to another, so that self-service
// deletion keeps working after the move.
type InstallSecretCopier interface {
	// ReadInstallSecrets calls fn with every stored hash, in batches of at
	// most batchSize, ordered by project and distinct ID. It stops at the
	// first error of fn and returns it.
	ReadInstallSecrets(ctx context.Context, batchSize int, fn func(secrets []InstallSecret) error) error

	// ImportInstallSecrets stores each hash with its registration time,
	// unless a hash is already stored for the install, and returns how
	// many it stored. As with RegisterInstallSecret, the first
	// registration wins, and of two entries for one install in secrets,
	// the first wins too.
	ImportInstallSecrets(ctx context.Context, secrets []InstallSecret) (int, error)
}
