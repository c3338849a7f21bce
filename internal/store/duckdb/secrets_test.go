package duckdb

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/storetest"
)

func TestSecretsConformanceInMemory(t *testing.T) {
	storetest.RunSecrets(t, func(t *testing.T) store.Store {
		return mustOpen(t, "")
	})
}

func TestSecretsKeptAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	s := mustOpen(t, path)
	if err := s.RegisterInstallSecret(t.Context(), "mux", "a", "ab12", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, path)
	hash, err := s.InstallSecretHash(t.Context(), "mux", "a")
	if err != nil || hash != "ab12" {
		t.Errorf("hash after reopening = %q, %v; want ab12", hash, err)
	}
}

// TestSecretsUpgradeAddsRegistrationTime opens a database whose
// install_secrets table predates registered_us: its rows count as
// registered at the upgrade, so retention keeps them for one more period.
func TestSecretsUpgradeAddsRegistrationTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	s := mustOpen(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE install_secrets (project VARCHAR NOT NULL, distinct_id VARCHAR NOT NULL,
			hash VARCHAR NOT NULL, PRIMARY KEY (project, distinct_id))`,
		`INSERT INTO install_secrets VALUES ('mux', 'a', 'ab12')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	before := time.Now()
	s = mustOpen(t, path)
	ctx := t.Context()
	if deleted, err := s.DeleteInstallSecretsBefore(ctx, before); err != nil || deleted != 0 {
		t.Errorf("DeleteInstallSecretsBefore(before the upgrade) = %d, %v; want 0, nil", deleted, err)
	}
	if hash, err := s.InstallSecretHash(ctx, "mux", "a"); err != nil || hash != "ab12" {
		t.Errorf("hash after the upgrade = %q, %v; want ab12", hash, err)
	}
	if err := s.RegisterInstallSecret(ctx, "mux", "b", "cd34", time.Time{}); err != nil {
		t.Fatalf("RegisterInstallSecret after the upgrade: %v", err)
	}
	if deleted, err := s.DeleteInstallSecretsBefore(ctx, time.Now().Add(time.Second)); err != nil || deleted != 2 {
		t.Errorf("DeleteInstallSecretsBefore(now) = %d, %v; want 2, nil", deleted, err)
	}
	if _, err := s.InstallSecretHash(ctx, "mux", "a"); !errors.Is(err, store.ErrSecretNotFound) {
		t.Errorf("hash of an upgraded row after its expiry: err = %v, want store.ErrSecretNotFound", err)
	}
}

func TestSecretCopyConformance(t *testing.T) {
	storetest.RunSecretCopy(t, func(t *testing.T) store.Store {
		return mustOpen(t, "")
	})
}
