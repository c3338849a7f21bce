package collector_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/duckdb"
)

func TestDeleteInstallDeletesDeletionKey(t *testing.T) {
	e, db := newDuckDBEnv(t)
	ctx := context.Background()
	mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, testHash, eventOf("install-1", uuidN(1)))))
	mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, testHash, eventOf("install-2", uuidN(2)))))

	deleted, err := e.collector.DeleteInstall(ctx, "mux", "install-1")
	if err != nil || deleted != 1 {
		t.Fatalf("DeleteInstall(mux, install-1) = %d, %v; want 1, nil", deleted, err)
	}
	if hash, err := db.InstallSecretHash(ctx, "mux", "install-1"); !errors.Is(err, store.ErrSecretNotFound) {
		t.Errorf("deletion key hash of install-1 after DeleteInstall = %q, %v; want store.ErrSecretNotFound", hash, err)
	}
	if hash, err := db.InstallSecretHash(ctx, "mux", "install-2"); err != nil || hash != testHash {
		t.Errorf("deletion key hash of install-2 = %q, %v; want %q", hash, err, testHash)
	}

	// The collector registered install-1 before the deletion. Its next
	// batch registers the hash that it carries, as a first batch does.
	next := strings.Repeat("ab", 32)
	mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, next, eventOf("install-1", uuidN(3)))))
	if hash, err := db.InstallSecretHash(ctx, "mux", "install-1"); err != nil || hash != next {
		t.Errorf("deletion key hash of install-1 after its next batch = %q, %v; want %q", hash, err, next)
	}
}

func TestDeleteInstallWithoutSecretStore(t *testing.T) {
	db, err := duckdb.Open("")
	if err != nil {
		t.Fatalf("open duckdb: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	// eventsOnly hides the InstallSecrets methods of the DuckDB store.
	eventsOnly := struct{ store.Store }{db}
	e := newEnv(t, func(c *collector.Config) { c.Store = eventsOnly })
	mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, testHash, eventOf("install-1", uuidN(1)))))

	deleted, err := e.collector.DeleteInstall(context.Background(), "mux", "install-1")
	if err != nil || deleted != 1 {
		t.Errorf("DeleteInstall(mux, install-1) = %d, %v; want 1, nil", deleted, err)
	}
}

// failingKeyDeletion is a DuckDB store whose DeleteInstallSecret fails.
type failingKeyDeletion struct{ *duckdb.Store }

var errKeyDeletion = errors.New("deletion key table is not writable")

func (failingKeyDeletion) DeleteInstallSecret(context.Context, string, string) error {
	return errKeyDeletion
}

func TestDeleteInstallReportsFailedKeyDeletion(t *testing.T) {
	db, err := duckdb.Open("")
	if err != nil {
		t.Fatalf("open duckdb: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	e := newEnv(t, func(c *collector.Config) { c.Store = failingKeyDeletion{db} })
	ctx := context.Background()
	mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, testHash, eventOf("install-1", uuidN(1)))))

	deleted, err := e.collector.DeleteInstall(ctx, "mux", "install-1")
	if !errors.Is(err, errKeyDeletion) {
		t.Errorf("DeleteInstall error = %v, want one that wraps %v", err, errKeyDeletion)
	}
	if deleted != 1 {
		t.Errorf("DeleteInstall deleted %d events, want 1: the events go before the key", deleted)
	}
	if got := totalEvents(t, db, "mux").TotalEvents; got != 0 {
		t.Errorf("events left after DeleteInstall = %d, want 0", got)
	}
}
