package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// RunSecrets runs the conformance suite of store.InstallSecrets. open must
// return a new, empty store that implements it.
func RunSecrets(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.InstallSecrets)
	}{
		{"RegisterAndRead", testSecretRegisterAndRead},
		{"FirstRegistrationWins", testSecretFirstWins},
		{"ConcurrentRegistrations", testSecretConcurrent},
		{"Delete", testSecretDelete},
		{"DeleteBefore", testSecretDeleteBefore},
		{"RenewKeepsHash", testSecretRenewKeepsHash},
		{"ErrClosed", nil},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			s := open(t)
			secrets, ok := s.(store.InstallSecrets)
			if !ok {
				s.Close()
				t.Fatalf("%T does not implement store.InstallSecrets", s)
			}
			if test.run == nil {
				testSecretErrClosed(t, s, secrets)
				return
			}
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			test.run(t, secrets)
		})
	}
}

// hashOf returns a distinct 64-hex-digit hash for n.
func hashOf(n int) string {
	return fmt.Sprintf("%064x", n)
}

func mustHash(t *testing.T, s store.InstallSecrets, project, install string) string {
	t.Helper()
	hash, err := s.InstallSecretHash(context.Background(), project, install)
	if err != nil {
		t.Fatalf("InstallSecretHash(%s, %s): %v", project, install, err)
	}
	return hash
}

func mustRegister(t *testing.T, s store.InstallSecrets, project, install, hash string) {
	t.Helper()
	if err := s.RegisterInstallSecret(context.Background(), project, install, hash, time.Time{}); err != nil {
		t.Fatalf("RegisterInstallSecret(%s, %s): %v", project, install, err)
	}
}

func testSecretRegisterAndRead(t *testing.T, s store.InstallSecrets) {
	mustRegister(t, s, "mux", "a", hashOf(1))
	mustRegister(t, s, "demo", "a", hashOf(2))
	mustRegister(t, s, "mux", "b", hashOf(3))

	if got := mustHash(t, s, "mux", "a"); got != hashOf(1) {
		t.Errorf("hash of mux/a = %q, want %q", got, hashOf(1))
	}
	if got := mustHash(t, s, "demo", "a"); got != hashOf(2) {
		t.Errorf("hash of demo/a = %q, want %q: one distinct_id in two projects is two installs", got, hashOf(2))
	}
	if got := mustHash(t, s, "mux", "b"); got != hashOf(3) {
		t.Errorf("hash of mux/b = %q, want %q", got, hashOf(3))
	}
	_, err := s.InstallSecretHash(context.Background(), "mux", "unknown")
	if !errors.Is(err, store.ErrSecretNotFound) {
		t.Errorf("InstallSecretHash of an unknown install = %v, want store.ErrSecretNotFound", err)
	}
}

func testSecretFirstWins(t *testing.T, s store.InstallSecrets) {
	mustRegister(t, s, "mux", "a", hashOf(1))
	mustRegister(t, s, "mux", "a", hashOf(2))
	mustRegister(t, s, "mux", "a", hashOf(1))
	if got := mustHash(t, s, "mux", "a"); got != hashOf(1) {
		t.Errorf("hash after a second registration = %q, want the first %q", got, hashOf(1))
	}
}

func testSecretConcurrent(t *testing.T, s store.InstallSecrets) {
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.RegisterInstallSecret(context.Background(), "mux", "a", hashOf(i), time.Time{})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent RegisterInstallSecret: %v", err)
		}
	}

	got := mustHash(t, s, "mux", "a")
	found := false
	for i := range writers {
		found = found || got == hashOf(i)
	}
	if !found {
		t.Errorf("hash after concurrent registrations = %q, want one of the registered hashes", got)
	}
	for range 3 {
		if again := mustHash(t, s, "mux", "a"); again != got {
			t.Errorf("hash changed from %q to %q after the registrations returned", got, again)
		}
	}
}

func testSecretDelete(t *testing.T, s store.InstallSecrets) {
	ctx := context.Background()
	mustRegister(t, s, "mux", "a", hashOf(1))
	mustRegister(t, s, "mux", "b", hashOf(2))

	if err := s.DeleteInstallSecret(ctx, "mux", "a"); err != nil {
		t.Fatalf("DeleteInstallSecret(mux, a): %v", err)
	}
	if _, err := s.InstallSecretHash(ctx, "mux", "a"); !errors.Is(err, store.ErrSecretNotFound) {
		t.Errorf("InstallSecretHash after delete = %v, want store.ErrSecretNotFound", err)
	}
	if got := mustHash(t, s, "mux", "b"); got != hashOf(2) {
		t.Errorf("hash of mux/b after deleting mux/a = %q, want %q", got, hashOf(2))
	}
	if err := s.DeleteInstallSecret(ctx, "mux", "unknown"); err != nil {
		t.Errorf("DeleteInstallSecret of an unknown install: %v, want nil", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.DeleteInstallSecret(canceled, "mux", "b"); err == nil || strings.Contains(err.Error(), `"b"`) {
		t.Errorf("DeleteInstallSecret with a canceled context = %v, want an error without the install ID", err)
	}
	// The collector logs these errors, and logs are no place for install
	// IDs.
	if err := s.RegisterInstallSecret(canceled, "mux", "install-c", hashOf(4), time.Now()); err == nil || strings.Contains(err.Error(), "install-c") {
		t.Errorf("RegisterInstallSecret with a canceled context = %v, want an error without the install ID", err)
	}
	if _, err := s.InstallSecretHash(canceled, "mux", "install-c"); err == nil || strings.Contains(err.Error(), "install-c") {
		t.Errorf("InstallSecretHash with a canceled context = %v, want an error without the install ID", err)
	}

	mustRegister(t, s, "mux", "a", hashOf(3))
	if got := mustHash(t, s, "mux", "a"); got != hashOf(3) {
		t.Errorf("hash registered after delete = %q, want %q", got, hashOf(3))
	}
}

// sleepPastMicrosecond makes the next registration time later than any
// taken before the call, on stores that keep microseconds.
func sleepPastMicrosecond() time.Time {
	time.Sleep(2 * time.Millisecond)
	t := time.Now()
	time.Sleep(2 * time.Millisecond)
	return t
}

func testSecretDeleteBefore(t *testing.T, s store.InstallSecrets) {
	ctx := context.Background()
	mustRegister(t, s, "mux", "old", hashOf(1))
	mustRegister(t, s, "demo", "old", hashOf(2))
	mustRegister(t, s, "mux", "renewed", hashOf(3))
	cutoff := sleepPastMicrosecond()
	mustRegister(t, s, "mux", "new", hashOf(4))
	if err := s.RegisterInstallSecret(ctx, "mux", "renewed", hashOf(5), cutoff); err != nil {
		t.Fatalf("RegisterInstallSecret with a renewal: %v", err)
	}

	deleted, err := s.DeleteInstallSecretsBefore(ctx, cutoff)
	if err != nil {
		t.Fatalf("DeleteInstallSecretsBefore: %v", err)
	}
	if deleted != 2 {
		t.Errorf("DeleteInstallSecretsBefore deleted %d installs, want 2 (mux/old and demo/old)", deleted)
	}
	for _, expired := range [][2]string{{"mux", "old"}, {"demo", "old"}} {
		if _, err := s.InstallSecretHash(ctx, expired[0], expired[1]); !errors.Is(err, store.ErrSecretNotFound) {
			t.Errorf("hash of %s/%s registered before the cutoff: err = %v, want store.ErrSecretNotFound", expired[0], expired[1], err)
		}
	}
	if got := mustHash(t, s, "mux", "renewed"); got != hashOf(3) {
		t.Errorf("hash of an install renewed after the cutoff = %q, want %q", got, hashOf(3))
	}
	if got := mustHash(t, s, "mux", "new"); got != hashOf(4) {
		t.Errorf("hash of an install registered after the cutoff = %q, want %q", got, hashOf(4))
	}

	deleted, err = s.DeleteInstallSecretsBefore(ctx, cutoff)
	if err != nil || deleted != 0 {
		t.Errorf("second DeleteInstallSecretsBefore = %d, %v; want 0, nil", deleted, err)
	}
}

func testSecretRenewKeepsHash(t *testing.T, s store.InstallSecrets) {
	ctx := context.Background()
	// A renewal time registers an install without a hash as any call does.
	if err := s.RegisterInstallSecret(ctx, "mux", "new", hashOf(3), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("RegisterInstallSecret of a new install with a renewal time: %v", err)
	}
	if got := mustHash(t, s, "mux", "new"); got != hashOf(3) {
		t.Errorf("hash of an install registered with a renewal time = %q, want %q", got, hashOf(3))
	}

	mustRegister(t, s, "mux", "a", hashOf(1))
	first := sleepPastMicrosecond()
	if err := s.RegisterInstallSecret(ctx, "mux", "a", hashOf(2), first); err != nil {
		t.Fatalf("RegisterInstallSecret with a renewal: %v", err)
	}
	second := sleepPastMicrosecond()
	mustRegister(t, s, "mux", "a", hashOf(2))
	if err := s.RegisterInstallSecret(ctx, "mux", "a", hashOf(2), second); err != nil {
		t.Fatalf("second RegisterInstallSecret with a renewal: %v", err)
	}
	// A renewal time before the latest registration changes nothing.
	if err := s.RegisterInstallSecret(ctx, "mux", "a", hashOf(2), first); err != nil {
		t.Fatalf("third RegisterInstallSecret with a renewal: %v", err)
	}
	// Registrations before the second renewal expire; the install keeps
	// its first hash.
	if _, err := s.DeleteInstallSecretsBefore(ctx, second); err != nil {
		t.Fatalf("DeleteInstallSecretsBefore: %v", err)
	}
	if got := mustHash(t, s, "mux", "a"); got != hashOf(1) {
		t.Errorf("hash after renewals and a second registration = %q, want the first %q", got, hashOf(1))
	}

	// Without a renewal time, a registration leaves the registration time
	// as it is, so retention deletes the hash.
	mustRegister(t, s, "mux", "b", hashOf(4))
	third := sleepPastMicrosecond()
	mustRegister(t, s, "mux", "b", hashOf(4))
	if _, err := s.DeleteInstallSecretsBefore(ctx, third); err != nil {
		t.Fatalf("DeleteInstallSecretsBefore: %v", err)
	}
	if _, err := s.InstallSecretHash(ctx, "mux", "b"); !errors.Is(err, store.ErrSecretNotFound) {
		t.Errorf("hash of an install registered again without a renewal time, after retention = %v; want store.ErrSecretNotFound", err)
	}
}

func testSecretErrClosed(t *testing.T, s store.Store, secrets store.InstallSecrets) {
	ctx := context.Background()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := secrets.RegisterInstallSecret(ctx, "mux", "a", hashOf(1), time.Time{}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("RegisterInstallSecret after Close = %v, want store.ErrClosed", err)
	}
	if _, err := secrets.InstallSecretHash(ctx, "mux", "a"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("InstallSecretHash after Close = %v, want store.ErrClosed", err)
	}
	if err := secrets.DeleteInstallSecret(ctx, "mux", "a"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("DeleteInstallSecret after Close = %v, want store.ErrClosed", err)
	}
	if _, err := secrets.DeleteInstallSecretsBefore(ctx, time.Now()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("DeleteInstallSecretsBefore after Close = %v, want store.ErrClosed", err)
	}
}
