package collector

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/candor-dev/candor/internal/logutil"
	"github.com/candor-dev/candor/internal/store"
)

// Self-service deletion. A candor SDK keeps a random deletion secret per
// install and sends its hex SHA-256 with every batch as the request member
// DeletionKeyHashField. The collector reads that member before the catalog
// checks the events, so it never becomes an event property, and registers
// the hash for each install of the batch's valid events before their
// commit. The first hash registered for an install wins. A request to SelfDeletePath that carries
// the write key, the install ID and the secret itself deletes the
// install's events.
//
// NOTE: a batch registers its hash for every distinct_id among its valid
// events, up to maxRegistrationsPerRequest. A client that sends the first
// batch of someone else's install ID
// would register its own hash, but install IDs are random UUIDs that only
// the install and the collector's operator see.
const (
	// SelfDeletePath is the path of self-service deletion:
	// POST {"api_key", "distinct_id", "secret"}.
	SelfDeletePath = "/api/v1/self/delete"
	// DeletionKeyHashField is the member of a batch request that carries
	// the hex SHA-256 of the install's deletion secret.
	DeletionKeyHashField = "deletion_key_hash"
)

// Error codes of self-service deletion, beside those of capture requests.
const (
	codeInstallNotFound = "install_not_found"
	codeSecretMismatch  = "secret_mismatch"
	codeNotSupported    = "not_supported"
)

// maxSelfDeleteBody caps the body of a deletion request, which holds three
// short strings.
const maxSelfDeleteBody = 4 << 10

// maxRegisteredInstalls bounds the set of installs whose registration the
// collector remembers. When the set is full, the collector clears it and
// registers each install once more, which the store ignores.
const maxRegisteredInstalls = 100_000

// selfDeleteState is the collector's state for self-service deletion.
type selfDeleteState struct {
	mu sync.Mutex
	// registered holds, for each project + "\x00" + distinct_id whose hash
	// is stored, when this process registered or renewed it.
	registered map[string]time.Time

	registerLog logutil.Limiter
	deleteLog   logutil.Limiter
}

// isDeletionKeyHash reports whether s has the form of a hex SHA-256.
func isDeletionKeyHash(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func installKey(project, distinctID string) string {
	return project + "\x00" + distinctID
}

// registerDeletionKeys stores hash for the installs of events that this
// process has not registered in the last registrationRecheck, at most
// maxRegistrationsPerRequest of them, and renews
// the registrations older than Config.SecretRenewal, with one store call
// per install. A failure is logged
// and not returned: the events are valid either way, and the SDK sends
// the hash again with its next batch.
func (c *Collector) registerDeletionKeys(ctx context.Context, deadline time.Time, p *project, hash string, events []store.Event) {
	if hash == "" || len(events) == 0 {
		return
	}
	secrets, ok := c.store.(store.InstallSecrets)
	if !ok || !isDeletionKeyHash(hash) {
		return
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	sd := &c.selfDelete
	renewal := c.cfg.SecretRenewal
	recheck := registrationRecheck
	if renewal > 0 {
		recheck = min(recheck, renewal)
	}
	now := time.Now()
	// The registration also renews an install whose hash a process
	// registered before, perhaps long ago.
	var renewBefore time.Time
	if renewal > 0 {
		renewBefore = now.Add(-renewal)
	}
	for _, id := range dueInstalls(sd, p.name, events, now, recheck) {
		err := secrets.RegisterInstallSecret(ctx, p.name, id, hash, renewBefore)
		if err != nil {
			sd.registerLog.Error(c.logger, "register deletion key failed; the next batch of the install retries",
				"project", p.name, "err", err)
			continue
		}
		sd.mu.Lock()
		if len(sd.registered) >= maxRegisteredInstalls {
			clear(sd.registered)
		}
		sd.registered[installKey(p.name, id)] = now
		sd.mu.Unlock()
	}
}

// maxRegistrationsPerRequest bounds the installs whose deletion key one
// request registers. Each registration is a store call, made while the
// request holds a decoding slot: a batch of 2,000 installs took 4.5 s on
// DuckDB (candor serve on 2 cores). The SDK sends one install per batch,
// and a batch that names more installs leaves the others to their next
// batches.
const maxRegistrationsPerRequest = 4

// registrationRecheck is how long the collector trusts that an install it
// registered still has its hash. Another collector that shares the store
// may have deleted the install since, and the next batch after this
// period registers the hash again.
var registrationRecheck = 24 * time.Hour

// dueInstalls returns the distinct installs of events that this process
// has not registered yet, or registered at least recheck before now. It
// returns at most the first maxRegistrationsPerRequest of them.
func dueInstalls(sd *selfDeleteState, project string, events []store.Event, now time.Time, recheck time.Duration) []string {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if sd.registered == nil {
		sd.registered = map[string]time.Time{}
	}
	var ids []string
	seen := map[string]bool{}
	for _, e := range events {
		if seen[e.DistinctID] {
			continue
		}
		if at, ok := sd.registered[installKey(project, e.DistinctID)]; ok && now.Sub(at) < recheck {
			continue
		}
		seen[e.DistinctID] = true
		ids = append(ids, e.DistinctID)
		if len(ids) == maxRegistrationsPerRequest {
			break
		}
	}
	return ids
}

// selfDeleteRequest is the body of a deletion request.
type selfDeleteRequest struct {
	APIKey     string `json:"api_key"`
	DistinctID string `json:"distinct_id"`
	Secret     string `json:"secret"`
}

// SelfDeleteHandler returns the handler of SelfDeletePath. It responds
// 200 {"deleted": n} after deleting the install's events, 403 when the
// secret's SHA-256 differs from the registered hash, 404 with code
// install_not_found when no hash is registered for the install, 401 for an
// unknown write key, 400 for a malformed body, and 501 when the store keeps
// no hashes.
func (c *Collector) SelfDeleteHandler() http.Handler {
	return http.HandlerFunc(c.serveSelfDelete)
}

func (c *Collector) serveSelfDelete(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		c.writeError(w, reject(http.StatusMethodNotAllowed, codeMethodNotAllowed, "method %s is not allowed: use POST", r.Method))
		return
	}
	if !c.enter() {
		c.writeError(w, reject(http.StatusServiceUnavailable, codeUnavailable, "collector is shutting down"))
		return
	}
	defer c.inflight.Done()

	secrets, ok := c.store.(store.InstallSecrets)
	if !ok {
		c.writeError(w, reject(http.StatusNotImplemented, codeNotSupported, "this collector's store keeps no deletion keys: ask its operator to delete the install"))
		return
	}
	req, rerr := readSelfDeleteRequest(w, r)
	if rerr != nil {
		c.writeError(w, rerr)
		return
	}
	p := c.findProject(strings.TrimSpace(req.APIKey))
	if p == nil {
		c.writeError(w, reject(http.StatusUnauthorized, codeKeyUnknown, unknownKeyMessage))
		return
	}
	if rerr := c.checkRateLimit(p, 1); rerr != nil {
		c.writeError(w, rerr)
		return
	}

	deleted, rerr := c.deleteOwnInstall(r.Context(), secrets, p, req)
	if rerr != nil {
		c.writeError(w, rerr)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"deleted": deleted})
}

func readSelfDeleteRequest(w http.ResponseWriter, r *http.Request) (selfDeleteRequest, *requestError) {
	var req selfDeleteRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSelfDeleteBody))
	if err := dec.Decode(&req); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return req, reject(http.StatusRequestEntityTooLarge, codeTooLarge, "body is over the limit of %d bytes", maxSelfDeleteBody)
		}
		return req, reject(http.StatusBadRequest, codeParsing, `invalid JSON: send {"api_key", "distinct_id", "secret"}`)
	}
	switch {
	case strings.TrimSpace(req.APIKey) == "":
		return req, reject(http.StatusUnauthorized, codeKeyRequired, "request has no api_key: send the project's write key")
	case req.DistinctID == "":
		return req, reject(http.StatusBadRequest, codeParsing, "missing distinct_id: send the install ID")
	case req.Secret == "":
		return req, reject(http.StatusBadRequest, codeParsing, "missing secret: send the install's deletion secret")
	}
	return req, nil
}

// deleteOwnInstall checks the secret against the registered hash in
// constant time and deletes the install's events and its hash.
func (c *Collector) deleteOwnInstall(ctx context.Context, secrets store.InstallSecrets, p *project, req selfDeleteRequest) (int64, *requestError) {
	stored, err := secrets.InstallSecretHash(ctx, p.name, req.DistinctID)
	if errors.Is(err, store.ErrSecretNotFound) {
		return 0, reject(http.StatusNotFound, codeInstallNotFound, "no deletion key is registered for this install")
	}
	if err != nil {
		c.selfDelete.deleteLog.Error(c.logger, "self-service deletion failed: reading the deletion key", "project", p.name, "err", err)
		return 0, reject(http.StatusServiceUnavailable, codeUnavailable, "reading the deletion key failed; retry later")
	}
	sum := sha256.Sum256([]byte(req.Secret))
	given := hex.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(given), []byte(stored)) != 1 {
		c.logger.Debug("self-service deletion rejected: wrong secret", "project", p.name)
		return 0, reject(http.StatusForbidden, codeSecretMismatch, "the secret does not match the install's deletion key")
	}

	deleted, err := c.store.DeleteInstall(ctx, p.name, req.DistinctID)
	if err != nil {
		c.selfDelete.deleteLog.Error(c.logger, "self-service deletion failed", "project", p.name, "err", err)
		return 0, reject(http.StatusServiceUnavailable, codeUnavailable, "deleting the install's events failed; retry later")
	}
	if err := secrets.DeleteInstallSecret(ctx, p.name, req.DistinctID); err != nil {
		c.selfDelete.deleteLog.Error(c.logger, "deleting the deletion key failed after the install's events were deleted", "project", p.name, "err", err)
	}
	c.forgetRegistration(p.name, req.DistinctID)
	// The install ID is not logged: the log outlives the deletion.
	c.logger.Info("install deleted by its owner", "project", p.name, "deleted", deleted)
	return deleted, nil
}

// DeleteInstall deletes every event of one install in one project, then
// the install's deletion key hash when the store keeps hashes, and returns
// how many events it deleted. It also removes the install from this
// collector's set of registered installs, so that the install's next batch
// registers its hash again, as a first batch does. It checks no secret: it
// serves the operator's deletion.
//
// When only the hash deletion failed, it returns the count with the error,
// and a second call deletes the hash.
//
// NOTE: other collectors that share a ClickHouse database keep the install
// in their own sets until they restart or the set fills up, so a batch of
// the install that reaches one of them registers no hash.
func (c *Collector) DeleteInstall(ctx context.Context, project, distinctID string) (int64, error) {
	deleted, err := c.store.DeleteInstall(ctx, project, distinctID)
	if err != nil {
		return 0, err
	}
	if secrets, ok := c.store.(store.InstallSecrets); ok {
		if err := secrets.DeleteInstallSecret(ctx, project, distinctID); err != nil {
			return deleted, fmt.Errorf("after deleting %d events: %w", deleted, err)
		}
	}
	// Forgetting before the hash's deletion would let a batch in between
	// mark the install registered, which the deletion then leaves with no
	// hash.
	c.forgetRegistration(project, distinctID)
	return deleted, nil
}

// forgetRegistration removes the install from the set of installs whose
// hash this collector registered.
func (c *Collector) forgetRegistration(project, distinctID string) {
	c.selfDelete.mu.Lock()
	delete(c.selfDelete.registered, installKey(project, distinctID))
	c.selfDelete.mu.Unlock()
}
