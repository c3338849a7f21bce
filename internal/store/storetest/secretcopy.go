package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/store"
)

// RunSecretCopy runs the conformance suite of store.InstallSecretCopier.
// open must return a new, empty store that implements it and
// store.InstallSecrets.
func RunSecretCopy(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.InstallSecrets, c store.InstallSecretCopier)
	}{
		{"ImportAndRead", testSecretImportAndRead},
		{"ImportKeepsFirst", testSecretImportKeepsFirst},
		{"ReadRenewed", testSecretReadRenewed},
		{"ReadStopsAtError", testSecretReadStopsAtError},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			secrets, ok := s.(store.InstallSecrets)
			if !ok {
				t.Fatalf("%T does not implement store.InstallSecrets", s)
			}
			copier, ok := s.(store.InstallSecretCopier)
			if !ok {
				t.Fatalf("%T does not implement store.InstallSecretCopier", s)
			}
			test.run(t, secrets, copier)
		})
	}
}

// readAllSecrets returns what ReadInstallSecrets reads in batches of
// batchSize, and the size of each batch.
func readAllSecrets(t *testing.T, c store.InstallSecretCopier, batchSize int) ([]store.InstallSecret, []int) {
	t.Helper()
	var all []store.InstallSecret
	var sizes []int
	err := c.ReadInstallSecrets(context.Background(), batchSize, func(batch []store.InstallSecret) error {
		all = append(all, batch...)
		sizes = append(sizes, len(batch))
		return nil
	})
	if err != nil {
		t.Fatalf("ReadInstallSecrets: %v", err)
	}
	return all, sizes
}

func testSecretImportAndRead(t *testing.T, s store.InstallSecrets, c store.InstallSecretCopier) {
	if got, _ := readAllSecrets(t, c, 10); len(got) != 0 {
		t.Errorf("ReadInstallSecrets of an empty store = %v, want none", got)
	}

	registered := time.Date(2025, time.April, 2, 3, 4, 5, 678901000, time.UTC)
	want := []store.InstallSecret{
		{Project: "demo", DistinctID: "a", Hash: hashOf(1), Registered: registered},
		{Project: "mux", DistinctID: "a", Hash: hashOf(2), Registered: registered.Add(time.Hour)},
		{Project: "mux", DistinctID: "b\tc\n", Hash: hashOf(3), Registered: registered.Add(-time.Hour)},
	}
	imported, err := c.ImportInstallSecrets(context.Background(), []store.InstallSecret{want[2], want[0], want[1]})
	if err != nil || imported != 3 {
		t.Fatalf("ImportInstallSecrets = %d, %v; want 3, nil", imported, err)
	}

	got, sizes := readAllSecrets(t, c, 2)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ReadInstallSecrets (-want +got):\n%s", d)
	}
	if !cmp.Equal(sizes, []int{2, 1}) {
		t.Errorf("ReadInstallSecrets batch sizes = %v, want [2 1]", sizes)
	}
	if hash := mustHash(t, s, "mux", "b\tc\n"); hash != hashOf(3) {
		t.Errorf("InstallSecretHash of an imported install = %q, want %q", hash, hashOf(3))
	}
	// Retention expires an imported hash by its imported registration time.
	deleted, err := s.DeleteInstallSecretsBefore(context.Background(), registered)
	if err != nil || deleted != 1 {
		t.Errorf("DeleteInstallSecretsBefore(the second registration) = %d, %v; want 1, nil", deleted, err)
	}
}

func testSecretImportKeepsFirst(t *testing.T, s store.InstallSecrets, c store.InstallSecretCopier) {
	mustRegister(t, s, "mux", "a", hashOf(1))
	registered := time.Date(2025, time.April, 2, 0, 0, 0, 0, time.UTC)
	secrets := []store.InstallSecret{
		{Project: "mux", DistinctID: "a", Hash: hashOf(2), Registered: registered},
		{Project: "mux", DistinctID: "b", Hash: hashOf(3), Registered: registered},
		{Project: "mux", DistinctID: "b", Hash: hashOf(4), Registered: registered},
	}
	imported, err := c.ImportInstallSecrets(context.Background(), secrets)
	if err != nil || imported != 1 {
		t.Fatalf("ImportInstallSecrets = %d, %v; want 1, nil", imported, err)
	}
	if hash := mustHash(t, s, "mux", "a"); hash != hashOf(1) {
		t.Errorf("hash of an install registered before the import = %q, want %q", hash, hashOf(1))
	}
	if hash := mustHash(t, s, "mux", "b"); hash != hashOf(3) {
		t.Errorf("hash of an install imported twice in one call = %q, want the first %q", hash, hashOf(3))
	}

	// A second import of the same hashes, as a second migration sends,
	// stores nothing.
	imported, err = c.ImportInstallSecrets(context.Background(), secrets)
	if err != nil || imported != 0 {
		t.Errorf("second ImportInstallSecrets = %d, %v; want 0, nil", imported, err)
	}
	if got, _ := readAllSecrets(t, c, 10); len(got) != 2 {
		t.Errorf("ReadInstallSecrets after two imports = %v, want 2 installs", got)
	}
}

// testSecretReadRenewed checks that a renewed install reads as one entry
// with its first hash and its latest registration time.
func testSecretReadRenewed(t *testing.T, s store.InstallSecrets, c store.InstallSecretCopier) {
	mustRegister(t, s, "mux", "a", hashOf(1))
	before, _ := readAllSecrets(t, c, 10)
	renewAfter := sleepPastMicrosecond()
	if err := s.RegisterInstallSecret(context.Background(), "mux", "a", hashOf(2), renewAfter); err != nil {
		t.Fatalf("RegisterInstallSecret with a renewal: %v", err)
	}
	after, _ := readAllSecrets(t, c, 10)
	if len(before) != 1 || len(after) != 1 {
		t.Fatalf("ReadInstallSecrets before and after a renewal = %v and %v, want one install each", before, after)
	}
	if after[0].Hash != hashOf(1) {
		t.Errorf("hash after a renewal = %q, want %q", after[0].Hash, hashOf(1))
	}
	if after[0].Registered.Before(renewAfter) {
		t.Errorf("registration time after a renewal at %s = %s, want the renewal's", renewAfter, after[0].Registered)
	}
}

func testSecretReadStopsAtError(t *testing.T, s store.InstallSecrets, c store.InstallSecretCopier) {
	for _, install := range []string{"a", "b", "c"} {
		mustRegister(t, s, "mux", install, hashOf(1))
	}
	stop := errors.New("stop")
	calls := 0
	err := c.ReadInstallSecrets(context.Background(), 1, func([]store.InstallSecret) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("ReadInstallSecrets = %v, want the callback's error", err)
	}
	if calls != 1 {
		t.Errorf("callback ran %d times, want 1", calls)
	}
	if err := c.ReadInstallSecrets(context.Background(), 0, func([]store.InstallSecret) error { return nil }); err == nil {
		t.Error("ReadInstallSecrets with batch size 0 succeeded, want an error")
	}
}
