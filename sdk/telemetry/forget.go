package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
)

// DropForgotten is the Stats.DroppedByReason key of the events that Forget
// deleted from memory and from the spool.
const DropForgotten = "forgotten"

// ErrForgetNeedsConnection is returned by Forget while telemetry is
// disabled and the install may have events on the collector, unless
// ForgetOptions.LocalOnly is set.
var ErrForgetNeedsConnection = errors.New("telemetry is disabled, so forget makes no connection to delete this install's events on the collector")

// ForgetOptions configures Forget.
type ForgetOptions struct {
	// LocalOnly deletes the local files only and makes no connection. While
	// telemetry is disabled Forget requires it whenever an install ID and a
	// deletion secret exist: deleting the secret means the events already
	// sent can no longer be deleted by the user, only by the collector's
	// operator or its retention.
	LocalOnly bool
}

// ForgetResult reports what Forget deleted.
type ForgetResult struct {
	// InstallID is the forgotten install ID, "" when there was none.
	InstallID string
	// DroppedQueued and DroppedSpooled count the events deleted from memory
	// and from the spool; both are counted in Stats as DropForgotten.
	DroppedQueued  int64
	DroppedSpooled int64
	// RemoteAsked reports whether the collector was asked to delete the
	// install's events, and RemoteDeleted how many it deleted.
	RemoteAsked   bool
	RemoteDeleted int64
	// RemoteNote explains why the collector was not asked, or that it had
	// no record of the install. It is "" when the collector deleted the
	// events.
	RemoteNote string
}

// Forget deletes what the client keeps about this install and, while
// telemetry is enabled, requests that the collector delete the install's
// events:
//
//  1. It drops the events waiting in memory and deletes the spool and the
//     sent log (Config.SentLog and its rotated copy).
//  2. Unless opts.LocalOnly is set, it posts the install ID and the
//     deletion secret to Endpoint+SelfDeletePath. The collector deletes the
//     events only when the secret's SHA-256 matches the hash this install
//     registered with its batches.
//  3. It deletes <Home>/telemetry_id and <Home>/telemetry_secret. While
//     telemetry stays enabled, the next events go out under a new install
//     ID, which nothing links to the old one.
//
// When the collector cannot be reached or rejects the request, Forget
// returns the error after step 1 and keeps the ID and the secret, so a
// later call can try again. The persisted choice and the notice record are
// kept. While the sender is uploading a batch, Forget waits for that upload
// to end.
func (c *Client) Forget(ctx context.Context, opts ForgetOptions) (ForgetResult, error) {
	c.privacy.forgetMu.Lock()
	defer c.privacy.forgetMu.Unlock()

	st := c.refresh()
	remote := st.Enabled && !opts.LocalOnly
	if !st.Enabled && !opts.LocalOnly && c.hasStoredSecret() {
		return ForgetResult{}, fmt.Errorf("forget telemetry install: %w (%s): enable telemetry and forget again to delete them too, or forget locally only",
			ErrForgetNeedsConnection, st.Switch)
	}

	var res ForgetResult
	var forgetErr error
	err := c.onSender(ctx, func(s *sender) {
		res.DroppedQueued = c.dropMemory(s)
		res.DroppedSpooled = c.dropSpool()
		c.deleteSentLog()

		id, secret := c.currentIdentity()
		res.InstallID = id
		switch {
		case !remote && opts.LocalOnly:
			res.RemoteNote = "not asked: forget was local only"
		case !remote:
			res.RemoteNote = "not asked: telemetry is disabled and this install has no deletion secret, so it has no events the collector could verify"
		case id == "" || secret == "":
			res.RemoteNote = "not asked: this install has no deletion secret yet, because it has not sent a batch"
		default:
			res.RemoteAsked = true
			deleted, found, err := c.deleteRemote(ctx, s, id, secret)
			if err != nil {
				forgetErr = err
				return
			}
			res.RemoteDeleted = deleted
			if !found {
				res.RemoteNote = "nothing deleted, because the collector has no deletion key for this install. " +
					"Either no batch of this install that it stored carried a key, or the install's events and key were " +
					"deleted already, for example by the collector's operator. If events of this install may remain, " +
					"ask the collector's operator to delete install " + id
			}
		}
		c.deleteIdentity(s != nil)
	})
	if err != nil {
		return ForgetResult{}, fmt.Errorf("forget telemetry install: %w", err)
	}
	if forgetErr != nil {
		return res, fmt.Errorf("forget telemetry install: %w (the install ID and deletion secret were kept, so forget can be run again)", forgetErr)
	}
	return res, nil
}

// dropMemory drops the events in the capture queue and the sender's
// batches and returns how many it dropped.
func (c *Client) dropMemory(s *sender) int64 {
	if s == nil {
		return 0
	}
	before := c.stats.snapshot(0).DroppedByReason[DropForgotten]
	s.discard(DropForgotten)
	return c.stats.snapshot(0).DroppedByReason[DropForgotten] - before
}

// dropSpool deletes the spool's files, except those another process is
// sending, and returns how many events they held.
func (c *Client) dropSpool() int64 {
	if c.spool == nil {
		return 0
	}
	return c.spool.purge(DropForgotten)
}

func (c *Client) deleteSentLog() {
	if c.cfg.SentLog == "" {
		return
	}
	for _, path := range []string{c.cfg.SentLog, c.cfg.SentLog + ".1"} {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("telemetry: sent log not deleted", "error", errorText(err))
		}
	}
}

// currentIdentity returns the install ID and deletion secret in use, or,
// while telemetry is disabled, the ones stored in Home.
func (c *Client) currentIdentity() (id, secret string) {
	c.mu.Lock()
	if c.haveID {
		id = c.ident.id
	}
	c.mu.Unlock()
	c.privacy.mu.Lock()
	secret = c.privacy.secret
	c.privacy.mu.Unlock()

	if c.cfg.Home == "" {
		return id, secret
	}
	if id == "" {
		id, _ = readID(filepath.Join(c.cfg.Home, InstallIDFile))
	}
	if secret == "" {
		secret, _ = readSecret(filepath.Join(c.cfg.Home, SecretFile))
	}
	return id, secret
}

// hasStoredSecret reports whether Home holds an install ID and a deletion
// secret, so the collector may hold events it can delete.
func (c *Client) hasStoredSecret() bool {
	id, secret := c.currentIdentity()
	return id != "" && secret != ""
}

// deleteIdentity deletes the ID and secret files and clears them in
// memory. A running client then creates a new ID at once while enabled.
func (c *Client) deleteIdentity(running bool) {
	if c.cfg.Home != "" {
		for _, name := range []string{InstallIDFile, SecretFile} {
			if err := os.Remove(filepath.Join(c.cfg.Home, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				c.log.Warn("telemetry: file not deleted", "file", name, "error", errorText(err))
			}
		}
	}
	c.mu.Lock()
	c.ident, c.haveID = identity{}, false
	c.mu.Unlock()
	c.privacy.mu.Lock()
	c.privacy.secret, c.privacy.secretHash = "", ""
	c.privacy.mu.Unlock()
	if running {
		c.refresh()
	}
}

// forgottenElsewhere reports whether another process forgot this install:
// the install ID file that this client loaded is gone or holds another ID.
// It stats the file and reads it only when the stat changed.
func (c *Client) forgottenElsewhere() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.haveID || !c.ident.persisted {
		return false
	}
	path := filepath.Join(c.cfg.Home, InstallIDFile)
	stamp, err := statFile(path)
	if err != nil || stamp == c.idStamp {
		return false
	}
	id, err := readID(path)
	if err == nil && id == c.ident.id {
		c.idStamp = stamp
		return false
	}
	return !errors.Is(err, errIDBeingWritten)
}

// dropForgottenIdentity clears the install ID and the deletion secret held
// in memory after another process forgot the install, so that the next
// refresh loads the new ones. It leaves the files to that process.
func (c *Client) dropForgottenIdentity() {
	c.mu.Lock()
	c.ident, c.haveID, c.idStamp = identity{}, false, fileStamp{}
	c.mu.Unlock()
	c.privacy.mu.Lock()
	c.privacy.secret, c.privacy.secretHash = "", ""
	c.privacy.mu.Unlock()
}

// selfDeleteRequest is the body Forget posts to SelfDeletePath.
type selfDeleteRequest struct {
	APIKey     string `json:"api_key"`
	DistinctID string `json:"distinct_id"`
	Secret     string `json:"secret"`
}

// selfDeleteResponse is the collector's response body: deleted on 200,
// code and error otherwise.
type selfDeleteResponse struct {
	Deleted int64  `json:"deleted"`
	Code    string `json:"code"`
	Error   string `json:"error"`
}

// SelfDeleteNotFoundCode is the error code of the collector's 404 response
// when it has no deletion key for the install.
const SelfDeleteNotFoundCode = "install_not_found"

// deleteRemote requests that the collector delete the install's events.
// found is false when the collector has no deletion key for the install.
// On the sender goroutine, the request is also cancelled when Close's
// context ends.
func (c *Client) deleteRemote(ctx context.Context, s *sender, id, secret string) (deleted int64, found bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			deleted, found, err = 0, false, fmt.Errorf("ask collector to delete events: %w", httpClientPanic(r))
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, DefaultRequestTimeout)
	defer cancel()
	if s != nil {
		stop := context.AfterFunc(c.sendCtx, cancel)
		defer stop()
	}

	body, _ := json.Marshal(selfDeleteRequest{APIKey: c.cfg.WriteKey, DistinctID: id, Secret: secret})
	url := c.cfg.Endpoint + SelfDeletePath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, false, fmt.Errorf("ask collector to delete events: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", LibraryName+"/"+LibraryVersion)

	resp, err := c.http.Do(req)
	if err != nil {
		return 0, false, fmt.Errorf("ask collector to delete events: %w", err)
	}
	defer resp.Body.Close()
	var answer selfDeleteResponse
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	json.Unmarshal(data, &answer)

	switch {
	case resp.StatusCode == http.StatusOK:
		return answer.Deleted, true, nil
	case resp.StatusCode == http.StatusNotFound && answer.Code == SelfDeleteNotFoundCode:
		return 0, false, nil
	case answer.Error != "":
		return 0, false, fmt.Errorf("ask collector to delete events: %s responded with %s: %s", url, resp.Status, answer.Error)
	}
	return 0, false, fmt.Errorf("ask collector to delete events: %s responded with %s: check that Endpoint is a candor collector", url, resp.Status)
}
