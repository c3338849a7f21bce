package collector_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/duckdb"
	"github.com/candor-dev/candor/sdk/telemetry"
)

// testSecret is a deletion secret and testHash its registered hash.
const testSecret = "5f0c6e9a3b2d4f1e8a7c6b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"

var testHash = func() string {
	sum := sha256.Sum256([]byte(testSecret))
	return hex.EncodeToString(sum[:])
}()

// batchWithKey returns a batch request that carries hash as its deletion key.
func batchWithKey(key, hash string, events ...string) string {
	return `{"api_key":"` + key + `","` + collector.DeletionKeyHashField + `":"` + hash + `","batch":[` + strings.Join(events, ",") + `]}`
}

func eventOf(install, uuid string) string {
	return `{"event":"app_started","distinct_id":"` + install + `","uuid":"` + uuid + `"}`
}

// selfDelete posts a deletion request to the collector's handler.
func selfDelete(t *testing.T, c *collector.Collector, body string) response {
	t.Helper()
	srv := httptest.NewServer(c.SelfDeleteHandler())
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+collector.SelfDeletePath, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", collector.SelfDeletePath, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

func deleteBody(key, install, secret string) string {
	data, _ := json.Marshal(map[string]string{"api_key": key, "distinct_id": install, "secret": secret})
	return string(data)
}

func TestSelfDeleteWithSecret(t *testing.T) {
	e, db := newDuckDBEnv(t)
	mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, testHash, eventOf("install-1", uuidN(1)), eventOf("install-1", uuidN(2)))))
	mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, testHash, eventOf("install-2", uuidN(3)))))

	r := selfDelete(t, e.collector, deleteBody(muxKey, "install-1", testSecret))
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"deleted":2}` {
		t.Fatalf("self-service deletion = %d %s, want 200 {\"deleted\":2}", r.status, r.body)
	}
	if got := totalEvents(t, db, "mux"); got.TotalEvents != 1 || got.Installs != 1 {
		t.Errorf("after deleting install-1: %d events of %d installs, want install-2's 1", got.TotalEvents, got.Installs)
	}
	if _, err := db.InstallSecretHash(context.Background(), "mux", "install-1"); !errors.Is(err, store.ErrSecretNotFound) {
		t.Errorf("deletion key of install-1 after deletion: %v, want it deleted", err)
	}

	// The deletion key is gone too, so a repeat finds no install.
	mustFail(t, selfDelete(t, e.collector, deleteBody(muxKey, "install-1", testSecret)), http.StatusNotFound, "install_not_found")
}

func TestSelfDeleteWrongSecret(t *testing.T) {
	e, db := newDuckDBEnv(t)
	mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, testHash, eventOf("install-1", uuidN(1)))))

	wrong := strings.Repeat("0", 64)
	mustFail(t, selfDelete(t, e.collector, deleteBody(muxKey, "install-1", wrong)), http.StatusForbidden, "secret_mismatch")
	mustFail(t, selfDelete(t, e.collector, deleteBody(muxKey, "install-1", testHash)), http.StatusForbidden, "secret_mismatch")
	if got := totalEvents(t, db, "mux").TotalEvents; got != 1 {
		t.Errorf("events after rejected deletions = %d, want 1", got)
	}
}

func TestSelfDeleteUnknownInstall(t *testing.T) {
	e, _ := newDuckDBEnv(t)
	mustOK(t, e.postJSON("/batch/", batchBody(muxKey, eventOf("install-1", uuidN(1)))))
	mustFail(t, selfDelete(t, e.collector, deleteBody(muxKey, "install-1", testSecret)), http.StatusNotFound, "install_not_found")
	mustFail(t, selfDelete(t, e.collector, deleteBody(muxKey, "never-seen", testSecret)), http.StatusNotFound, "install_not_found")
}

func TestSelfDeleteOtherProject(t *testing.T) {
	e, db := newDuckDBEnv(t)
	mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, testHash, eventOf("install-1", uuidN(1)))))
	mustOK(t, e.postJSON("/batch/", batchWithKey(otherKey, testHash, eventOf("install-1", uuidN(2)))))

	r := selfDelete(t, e.collector, deleteBody(otherKey, "install-1", testSecret))
	if r.status != http.StatusOK {
		t.Fatalf("self-service deletion = %d %s, want 200", r.status, r.body)
	}
	if got := totalEvents(t, db, "mux").TotalEvents; got != 1 {
		t.Errorf("events left in project mux = %d, want 1: a write key deletes in its own project only", got)
	}
}

func TestDeletionKeyFirstRegistrationWins(t *testing.T) {
	e, db := newDuckDBEnv(t)
	other := strings.Repeat("ab", 32)
	mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, testHash, eventOf("install-1", uuidN(1)))))
	mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, other, eventOf("install-1", uuidN(2)))))

	hash, err := db.InstallSecretHash(context.Background(), "mux", "install-1")
	if err != nil || hash != testHash {
		t.Errorf("registered hash = %q, %v; want the first %q", hash, err, testHash)
	}
}

func TestDeletionKeyNeverStoredAsProperty(t *testing.T) {
	e, db := newDuckDBEnv(t)
	res := mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, testHash, eventOf("install-1", uuidN(1)))))
	if len(res.DroppedProperties) != 0 {
		t.Errorf("dropped properties = %v, want none: the hash is a request member", res.DroppedProperties)
	}
	if got := totalEvents(t, db, "mux").TotalEvents; got != 1 {
		t.Errorf("stored %d events, want 1", got)
	}
}

func TestDeletionKeyIgnoredWhenMalformed(t *testing.T) {
	e, db := newDuckDBEnv(t)
	mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, "not-a-hash", eventOf("install-1", uuidN(1)))))
	if _, err := db.InstallSecretHash(context.Background(), "mux", "install-1"); !errors.Is(err, store.ErrSecretNotFound) {
		t.Errorf("a malformed hash was registered: %v", err)
	}
}

func TestSelfDeleteRejectsBadRequests(t *testing.T) {
	e, _ := newDuckDBEnv(t)
	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"unknown key", deleteBody("phc_unknown", "install-1", testSecret), http.StatusUnauthorized, "ingest_key_unknown"},
		{"no key", deleteBody("", "install-1", testSecret), http.StatusUnauthorized, "ingest_key_required"},
		{"no install", deleteBody(muxKey, "", testSecret), http.StatusBadRequest, "request_parsing_error"},
		{"no secret", deleteBody(muxKey, "install-1", ""), http.StatusBadRequest, "request_parsing_error"},
		{"not JSON", "secret=x", http.StatusBadRequest, "request_parsing_error"},
		{"too large", `{"secret":"` + strings.Repeat("a", 5000) + `"}`, http.StatusRequestEntityTooLarge, "payload_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustFail(t, selfDelete(t, e.collector, tt.body), tt.status, tt.code)
		})
	}

	srv := httptest.NewServer(e.collector.SelfDeleteHandler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + collector.SelfDeletePath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET = %d, Allow %q; want 405 and POST", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestSelfDeleteWithoutSecretStore(t *testing.T) {
	e := newEnv(t)
	mustFail(t, selfDelete(t, e.collector, deleteBody(muxKey, "install-1", testSecret)), http.StatusNotImplemented, "not_supported")
}

func TestSelfDeleteNamesMatchSDK(t *testing.T) {
	if collector.SelfDeletePath != telemetry.SelfDeletePath {
		t.Errorf("collector path %q, SDK path %q", collector.SelfDeletePath, telemetry.SelfDeletePath)
	}
	if collector.DeletionKeyHashField != telemetry.DeletionKeyHashField {
		t.Errorf("collector field %q, SDK field %q", collector.DeletionKeyHashField, telemetry.DeletionKeyHashField)
	}
	if telemetry.HashDeletionSecret(testSecret) != testHash {
		t.Error("the SDK and the collector hash a deletion secret differently")
	}
	if telemetry.SelfDeleteNotFoundCode != "install_not_found" {
		t.Errorf("SDK expects code %q for an unknown install, the collector sends install_not_found", telemetry.SelfDeleteNotFoundCode)
	}
}

// TestDeletionKeyRegisteredAgainAfterRecheck deletes an install's hash
// behind the collector's back, as another collector that shares the store
// does. The collector registers the hash again with the install's first
// batch after registrationRecheck, so the events sent since stay
// deletable.
func TestDeletionKeyRegisteredAgainAfterRecheck(t *testing.T) {
	collector.SetRegistrationRecheck(t, 100*time.Millisecond)
	e, db := newDuckDBEnv(t)
	mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, testHash, eventOf("install-1", uuidN(1)))))
	if err := db.DeleteInstallSecret(context.Background(), "mux", "install-1"); err != nil {
		t.Fatal(err)
	}

	time.Sleep(150 * time.Millisecond)
	mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, testHash, eventOf("install-1", uuidN(3)))))
	if hash, err := db.InstallSecretHash(context.Background(), "mux", "install-1"); err != nil || hash != testHash {
		t.Errorf("hash after the recheck period = %q, %v; want %q", hash, err, testHash)
	}
}

// countingSecrets is a DuckDB store that counts its RegisterInstallSecret
// calls.
type countingSecrets struct {
	*duckdb.Store
	calls atomic.Int64
}

func (s *countingSecrets) RegisterInstallSecret(ctx context.Context, project, distinctID, hash string, renewBefore time.Time) error {
	s.calls.Add(1)
	return s.Store.RegisterInstallSecret(ctx, project, distinctID, hash, renewBefore)
}

// TestDeletionKeyOneCallPerInstall checks that the collector registers and
// renews a due install with one store call, and that the call renews an
// install registered before the renewal period.
func TestDeletionKeyOneCallPerInstall(t *testing.T) {
	db, err := duckdb.Open("")
	if err != nil {
		t.Fatalf("open duckdb: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	counting := &countingSecrets{Store: db}
	e := newEnv(t, func(c *collector.Config) {
		c.Store = counting
		c.SecretRenewal = time.Hour
	})
	ctx := context.Background()

	// The install was registered two hours ago, by this collector's
	// predecessor.
	imported, err := db.ImportInstallSecrets(ctx, []store.InstallSecret{
		{Project: "mux", DistinctID: "install-1", Hash: testHash, Registered: time.Now().Add(-2 * time.Hour)},
	})
	if err != nil || imported != 1 {
		t.Fatalf("ImportInstallSecrets = %d, %v; want 1, nil", imported, err)
	}

	mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, testHash,
		eventOf("install-1", uuidN(1)), eventOf("install-1", uuidN(2)), eventOf("install-2", uuidN(3)))))
	if calls := counting.calls.Load(); calls != 2 {
		t.Errorf("store calls for two due installs = %d, want 2", calls)
	}

	var registered time.Time
	err = db.ReadInstallSecrets(ctx, 10, func(secrets []store.InstallSecret) error {
		for _, secret := range secrets {
			if secret.DistinctID == "install-1" {
				registered = secret.Registered
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(registered) > time.Hour {
		t.Errorf("registration time of install-1 after its batch = %s, want renewed to about now", registered)
	}
}

// failOnceStore is a DuckDB store whose first Insert fails.
type failOnceStore struct {
	*duckdb.Store
	failed atomic.Bool
}

func (s *failOnceStore) Insert(ctx context.Context, events []store.Event) (int, error) {
	if s.failed.CompareAndSwap(false, true) {
		return 0, store.Unavailable(errors.New("disk I/O error"))
	}
	return s.Store.Insert(ctx, events)
}

// The collector registers a batch's deletion key before the commit. A
// failed commit leaves the key, which is the client's own and deletes
// what is stored.
func TestDeletionKeyKeptAfterFailedCommit(t *testing.T) {
	db, err := duckdb.Open("")
	if err != nil {
		t.Fatalf("open duckdb: %v", err)
	}
	defer db.Close()
	e := newEnv(t, func(c *collector.Config) { c.Store = &failOnceStore{Store: db} })

	body := batchWithKey(muxKey, testHash, eventOf("install-1", uuidN(1)))
	mustFail(t, e.postJSON("/batch/", body), http.StatusServiceUnavailable, "service_unavailable")
	hash, err := db.InstallSecretHash(context.Background(), "mux", "install-1")
	if err != nil || hash != testHash {
		t.Errorf("deletion key after the failed commit = %q, %v; want %q", hash, err, testHash)
	}
	r := selfDelete(t, e.collector, deleteBody(muxKey, "install-1", testSecret))
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"deleted":0}` {
		t.Errorf("self-service deletion after the failed commit = %d %s, want 200 {\"deleted\":0}", r.status, r.body)
	}

	// The SDK retries the batch, which registers the key again, since the
	// deletion removed it, and stores the event.
	mustOK(t, e.postJSON("/batch/", body))
	r = selfDelete(t, e.collector, deleteBody(muxKey, "install-1", testSecret))
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"deleted":1}` {
		t.Errorf("self-service deletion after the retry = %d %s, want 200 {\"deleted\":1}", r.status, r.body)
	}
}

// TestDeletionKeyRegistrationsCapped sends one batch whose events name
// many installs. Each registration is a store call, so the collector
// registers at most a few installs per request, and a later batch of an
// install left out registers it.
func TestDeletionKeyRegistrationsCapped(t *testing.T) {
	db, err := duckdb.Open("")
	if err != nil {
		t.Fatalf("open duckdb: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	counting := &countingSecrets{Store: db}
	e := newEnv(t, func(c *collector.Config) { c.Store = counting })

	const installs = 50
	events := make([]string, installs)
	for i := range events {
		events[i] = eventOf(fmt.Sprintf("install-%d", i), uuidN(i))
	}
	res := mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, testHash, events...)))
	if res.Accepted != installs {
		t.Errorf("accepted = %d, want %d", res.Accepted, installs)
	}
	if calls := counting.calls.Load(); calls != collector.MaxRegistrationsPerRequest {
		t.Errorf("store calls for a batch of %d installs = %d, want %d", installs, calls, collector.MaxRegistrationsPerRequest)
	}

	last := fmt.Sprintf("install-%d", installs-1)
	mustOK(t, e.postJSON("/batch/", batchWithKey(muxKey, testHash, eventOf(last, uuidN(installs)))))
	if hash, err := db.InstallSecretHash(context.Background(), "mux", last); err != nil || hash != testHash {
		t.Errorf("hash of %s after its own batch = %q, %v; want %q", last, hash, err, testHash)
	}
}
