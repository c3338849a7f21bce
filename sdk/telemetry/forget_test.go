package telemetry

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/candor-dev/candor/sdk/mux"
)

// deletingCollector is the test collector plus a self-service deletion
// endpoint that checks the secret against the hash of the install's
// batches, as candor's collector does.
type deletingCollector struct {
	*collector
	url string

	mu       sync.Mutex
	requests []selfDeleteRequest
	status   int // if not 0, the status every deletion request gets
}

func newDeletingCollector(t *testing.T) *deletingCollector {
	t.Helper()
	d := &deletingCollector{collector: newCollector(t)}
	routes := http.NewServeMux()
	routes.HandleFunc("/batch/", d.collector.serve)
	routes.HandleFunc("POST "+SelfDeletePath, d.serveDelete)
	srv := httptest.NewServer(routes)
	t.Cleanup(srv.Close)
	d.url = srv.URL
	return d
}

func (d *deletingCollector) serveDelete(w http.ResponseWriter, r *http.Request) {
	var req selfDeleteRequest
	json.NewDecoder(r.Body).Decode(&req)
	d.mu.Lock()
	d.requests = append(d.requests, req)
	status := d.status
	d.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"code": "forbidden", "error": "secret does not match"})
		return
	}

	var hash string
	deleted := 0
	d.collector.mu.Lock()
	var bodies [][]byte
	for _, r := range d.collector.requests {
		if r.accepted {
			bodies = append(bodies, r.rawBody)
		}
	}
	d.collector.mu.Unlock()
	for _, body := range bodies {
		var batch map[string]json.RawMessage
		json.Unmarshal(body, &batch)
		var events []decoded
		json.Unmarshal(batch["batch"], &events)
		for _, ev := range events {
			if ev.DistinctID == req.DistinctID {
				json.Unmarshal(batch[DeletionKeyHashField], &hash)
				deleted++
			}
		}
	}
	switch {
	case hash == "":
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]any{"code": SelfDeleteNotFoundCode, "error": "unknown install"})
	case hash != HashDeletionSecret(req.Secret):
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(map[string]any{"code": "forbidden", "error": "secret does not match"})
	default:
		json.NewEncoder(w).Encode(map[string]any{"deleted": deleted})
	}
}

func (d *deletingCollector) deleteRequests() []selfDeleteRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]selfDeleteRequest(nil), d.requests...)
}

func fileExists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return err == nil
}

func TestForgetDeletesRemoteAndLocal(t *testing.T) {
	col := newDeletingCollector(t)
	cfg := testConfig(t, col.url)
	cfg.SentLog = filepath.Join(t.TempDir(), "sent.jsonl")
	c := newClient(t, cfg)
	captureN(c, 3)
	flush(t, c)
	oldID := c.InstallID()
	secret, _ := readSecret(filepath.Join(cfg.Home, SecretFile))

	res, err := c.Forget(testContext(t), ForgetOptions{})
	if err != nil {
		t.Fatalf("Forget: %v", err)
	}
	if res.InstallID != oldID || !res.RemoteAsked || res.RemoteDeleted != 3 || res.RemoteNote != "" {
		t.Errorf("Forget result = %+v, want the old ID, asked, 3 deleted", res)
	}
	reqs := col.deleteRequests()
	if len(reqs) != 1 {
		t.Fatalf("collector got %d deletion requests, want 1", len(reqs))
	}
	want := selfDeleteRequest{APIKey: cfg.WriteKey, DistinctID: oldID, Secret: secret}
	if d := diff(want, reqs[0]); d != "" {
		t.Errorf("deletion request:\n%s", d)
	}
	if fileExists(t, cfg.SentLog) {
		t.Error("sent log still exists after Forget")
	}
	if newSecret, _ := readSecret(filepath.Join(cfg.Home, SecretFile)); newSecret == secret {
		t.Error("the old deletion secret is still in Home")
	}

	newID := c.InstallID()
	if newID == "" || newID == oldID {
		t.Errorf("install ID after Forget = %q, want a new one (old %q)", newID, oldID)
	}
	c.Capture(mux.CommandUsed{Command: "new"})
	flush(t, c)
	events := col.accepted()
	if last := events[len(events)-1]; last.DistinctID != newID {
		t.Errorf("event after Forget has distinct_id %q, want the new ID %q", last.DistinctID, newID)
	}
}

func TestForgetDropsQueueAndSpool(t *testing.T) {
	col := newDeletingCollector(t)
	col.setRespond(respond503)
	cfg := testConfig(t, col.url)
	cfg.MaxRetryDelay = time.Hour
	c := newClient(t, cfg)
	captureN(c, 2)
	if err := c.Flush(testContext(t)); err == nil {
		t.Fatal("Flush succeeded against a collector that answers 503")
	}
	c.Capture(mux.AppStarted{})

	res, err := c.Forget(testContext(t), ForgetOptions{})
	if err != nil {
		t.Fatalf("Forget: %v", err)
	}
	if res.DroppedSpooled != 2 || res.DroppedQueued != 1 {
		t.Errorf("Forget dropped %d spooled and %d queued, want 2 and 1", res.DroppedSpooled, res.DroppedQueued)
	}
	if !res.RemoteAsked || res.RemoteDeleted != 0 || res.RemoteNote == "" {
		t.Errorf("Forget after failed uploads = %+v, want asked, none deleted and a note", res)
	}
	if n := spoolFiles(t, cfg.Home); n != 0 {
		t.Errorf("%d spool files left after Forget", n)
	}
	if got := c.Stats().DroppedByReason[DropForgotten]; got != 3 {
		t.Errorf("Stats counts %d events as %s, want 3", got, DropForgotten)
	}
	if pending, _ := c.Pending(testContext(t)); len(pending) != 0 {
		t.Errorf("Pending after Forget = %d events, want 0", len(pending))
	}
}

func TestForgetRejectedKeepsIdentity(t *testing.T) {
	col := newDeletingCollector(t)
	cfg := testConfig(t, col.url)
	c := newClient(t, cfg)
	captureN(c, 1)
	flush(t, c)
	id := c.InstallID()
	col.mu.Lock()
	col.status = http.StatusForbidden
	col.mu.Unlock()

	_, err := c.Forget(testContext(t), ForgetOptions{})
	if err == nil {
		t.Fatal("Forget succeeded although the collector answered 403")
	}
	if c.InstallID() != id {
		t.Errorf("install ID changed to %q after a failed Forget, want %q kept", c.InstallID(), id)
	}
	for _, name := range []string{InstallIDFile, SecretFile} {
		if !fileExists(t, filepath.Join(cfg.Home, name)) {
			t.Errorf("%s deleted after a failed Forget", name)
		}
	}
}

func TestForgetWhileDisabledNeedsLocalOnly(t *testing.T) {
	col := newDeletingCollector(t)
	cfg := testConfig(t, col.url)
	c := newClient(t, cfg)
	captureN(c, 1)
	flush(t, c)
	if err := c.SetEnabled(false); err != nil {
		t.Fatal(err)
	}

	_, err := c.Forget(testContext(t), ForgetOptions{})
	if !errors.Is(err, ErrForgetNeedsConnection) {
		t.Fatalf("Forget while disabled = %v, want ErrForgetNeedsConnection", err)
	}
	if !fileExists(t, filepath.Join(cfg.Home, SecretFile)) {
		t.Fatal("the rejected Forget deleted the secret")
	}

	res, err := c.Forget(testContext(t), ForgetOptions{LocalOnly: true})
	if err != nil {
		t.Fatalf("Forget local only: %v", err)
	}
	if res.RemoteAsked || res.InstallID == "" {
		t.Errorf("Forget local only = %+v, want the stored ID and no request", res)
	}
	if n := len(col.deleteRequests()); n != 0 {
		t.Errorf("collector got %d deletion requests while disabled, want 0", n)
	}
	for _, name := range []string{InstallIDFile, SecretFile} {
		if fileExists(t, filepath.Join(cfg.Home, name)) {
			t.Errorf("%s kept after Forget", name)
		}
	}
	if fileExists(t, filepath.Join(cfg.Home, ConfigFile)) == false {
		t.Error("Forget deleted the persisted choice")
	}
}

func TestForgetWithoutSecretAsksNothing(t *testing.T) {
	col := newDeletingCollector(t)
	cfg := testConfig(t, col.url)
	c := newClient(t, cfg)

	res, err := c.Forget(testContext(t), ForgetOptions{})
	if err != nil {
		t.Fatalf("Forget: %v", err)
	}
	if res.RemoteAsked || res.RemoteNote == "" {
		t.Errorf("Forget before any batch = %+v, want no request and a note", res)
	}
}

func TestForgetUnknownInstallNotAnError(t *testing.T) {
	col := newDeletingCollector(t)
	cfg := testConfig(t, col.url)
	c := newClient(t, cfg)
	// A secret exists, but no batch carried its hash.
	c.deletionSecret()

	res, err := c.Forget(testContext(t), ForgetOptions{})
	if err != nil {
		t.Fatalf("Forget: %v", err)
	}
	if !res.RemoteAsked || res.RemoteDeleted != 0 || res.RemoteNote == "" {
		t.Errorf("Forget of an unknown install = %+v, want asked, none deleted and a note", res)
	}
}
