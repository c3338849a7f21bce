package duckdb

import (
	"path/filepath"
	"testing"

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
	if err := s.RegisterInstallSecret(t.Context(), "mux", "a", "ab12"); err != nil {
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
