package clickhouse

import (
	"testing"

	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/storetest"
)

func TestSecretsConformance(t *testing.T) {
	serverURL(t)
	storetest.RunSecrets(t, func(t *testing.T) store.Store {
		return openTest(t, newDatabase(t), Config{})
	})
}

func TestSecretsConformancePolledMutations(t *testing.T) {
	serverURL(t)
	storetest.RunSecrets(t, func(t *testing.T) store.Store {
		s := openTest(t, newDatabase(t), Config{})
		s.mutationsSync = false
		return s
	})
}

// TestSecretsFirstAcrossStores registers one install through two stores
// that share a database, as two collectors do, and checks that both read
// the first hash.
func TestSecretsFirstAcrossStores(t *testing.T) {
	database := newDatabase(t)
	first := openTest(t, database, Config{})
	second := openTest(t, database, Config{})
	ctx := t.Context()

	if err := first.RegisterInstallSecret(ctx, "mux", "a", "hash-1"); err != nil {
		t.Fatal(err)
	}
	if err := second.RegisterInstallSecret(ctx, "mux", "a", "hash-2"); err != nil {
		t.Fatal(err)
	}
	for i, s := range []*Store{first, second} {
		hash, err := s.InstallSecretHash(ctx, "mux", "a")
		if err != nil || hash != "hash-1" {
			t.Errorf("store %d reads %q, %v; want hash-1", i+1, hash, err)
		}
	}
}
