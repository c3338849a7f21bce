package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/internal/store"
)

// TestSecretExpiryOutlastsEvents checks that retention cannot delete the
// deletion key hash of an install that still has events. The stored
// registration time lags the arrival of the install's newest event by at
// most two renewals, and that event's timestamp may lie up to
// collector.MaxFutureSkew after its arrival.
func TestSecretExpiryOutlastsEvents(t *testing.T) {
	for _, retention := range []time.Duration{time.Second, time.Minute, time.Hour, 16 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 400 * 24 * time.Hour} {
		newestEvent := 2*secretRenewal(retention) + collector.MaxFutureSkew
		if expiry := secretExpiry(retention); expiry <= newestEvent+retention {
			t.Errorf("retention %s: hashes expire %s after their registration, want more than the %s after it that an event of the install may be kept",
				retention, expiry, newestEvent+retention)
		}
	}
}

// TestRetentionKeepsKeyOfFutureEvent sends an event timestamped 20 hours
// ahead, which the collector keeps, and runs retention of one second:
// the event outlasts many retention periods, and so must its install's
// deletion key hash.
func TestSecretRenewalAtLeastAnHour(t *testing.T) {
	for _, retention := range []time.Duration{time.Second, 2 * time.Minute, 16 * time.Hour} {
		if got := secretRenewal(retention); got != time.Hour {
			t.Errorf("secretRenewal(%s) = %s, want 1h", retention, got)
		}
	}
	if got := secretRenewal(400 * 24 * time.Hour); got != 25*24*time.Hour {
		t.Errorf("secretRenewal(400d) = %s, want 25 days", got)
	}
}

func TestRetentionKeepsKeyOfFutureEvent(t *testing.T) {
	const retention = time.Second
	cfg := Config{KAnonymity: 1, WriteKey: testWriteKey, AdminToken: testAdminToken, Retention: retention}
	srv := startTunedServer(t, cfg, func(srv *Server) { srv.retentionInterval = 50 * time.Millisecond })
	waitUntil(t, "ready", func() bool {
		status, _ := send(t, http.MethodGet, srv.URL()+"/readyz", "", "")
		return status == http.StatusOK
	})

	secret, hash := deletionKey("secret of install-future")
	future := time.Now().Add(20 * time.Hour).UTC().Format(time.RFC3339)
	event := `{"event":"command_used","distinct_id":"install-future","uuid":"5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f",` +
		`"timestamp":"` + future + `","properties":{"command":"clear","version":"1.4.2"}}`
	if status, body := send(t, http.MethodPost, srv.URL()+"/batch/", "", batchWithKey(testWriteKey, hash, event)); status != http.StatusOK {
		t.Fatalf("POST event = %d %s", status, body)
	}
	waitUntil(t, "the event is stored", func() bool { return getOverview(t, srv, "").TotalEvents == 1 })

	// Retention passes run every 50 ms for twice the 1.25 s after which a
	// hash expired when the expiry left out the future skew.
	time.Sleep(2500 * time.Millisecond)
	if got := getOverview(t, srv, "").TotalEvents; got != 1 {
		t.Fatalf("TotalEvents after the retention passes = %d, want 1: the event lies in the future", got)
	}
	if got, err := srv.store.(store.InstallSecrets).InstallSecretHash(context.Background(), "mux", "install-future"); err != nil || got != hash {
		t.Errorf("deletion key hash of install-future = %q, %v; want %q", got, err, hash)
	}
	status, body := send(t, http.MethodPost, srv.URL()+collector.SelfDeletePath, "", selfDeleteBody("install-future", secret))
	if status != http.StatusOK || !strings.Contains(body, `"deleted":1`) {
		t.Errorf("self-service deletion of install-future = %d %s, want 200 with one event deleted", status, body)
	}
}

// deleteBeforeFailingStore fails its first `failures` calls of DeleteBefore
// and counts every call.
type deleteBeforeFailingStore struct {
	store.Store
	failures int

	mu    sync.Mutex
	calls int
}

func (s *deleteBeforeFailingStore) DeleteBefore(ctx context.Context, before time.Time) (int64, error) {
	s.mu.Lock()
	s.calls++
	fail := s.calls <= s.failures
	s.mu.Unlock()
	if fail {
		return 0, store.Unavailable(errors.New("connection refused"))
	}
	return s.Store.DeleteBefore(ctx, before)
}

func (s *deleteBeforeFailingStore) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// A retention pass that fails is retried after retentionRetry rather than
// at the next daily pass, and the retries stop once a pass succeeds.
func TestRetentionRetriesFailedPass(t *testing.T) {
	failing := &deleteBeforeFailingStore{failures: 2}
	cfg := Config{KAnonymity: 1, WriteKey: testWriteKey, AdminToken: testAdminToken, Retention: 400 * 24 * time.Hour}
	startTunedServer(t, cfg, func(srv *Server) {
		failing.Store = srv.store
		srv.store = failing
		srv.retentionInterval = time.Hour
		srv.retentionRetry = 20 * time.Millisecond
	})

	waitUntil(t, "a pass after two failed ones", func() bool { return failing.callCount() >= 3 })
	time.Sleep(200 * time.Millisecond)
	if got := failing.callCount(); got != 3 {
		t.Errorf("DeleteBefore calls = %d, want 3: two failed passes and the one that succeeded", got)
	}
}
