package telemetry

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Self-service deletion. Each install keeps a random deletion secret beside
// its install ID and sends only the secret's SHA-256 with every batch, as
// the request member DeletionKeyHashField. The collector stores the first
// hash it receives for an install. Forget later sends the secret itself to
// SelfDeletePath, and the collector deletes the install's events only when
// the secret's hash matches the stored one.
const (
	// SecretFile is the file in Config.Home that keeps the deletion secret:
	// 64 hex digits (256 random bits) on one line, mode 0600.
	SecretFile = "telemetry_secret"
	// DeletionKeyHashField is the member of each batch request, beside
	// api_key, that carries the hex SHA-256 of the deletion secret. It is
	// read before the catalog checks the events, and is never an event
	// property.
	DeletionKeyHashField = "deletion_key_hash"
	// SelfDeletePath is the collector path that Forget posts
	// {"api_key", "distinct_id", "secret"} to.
	SelfDeletePath = "/api/v1/self/delete"
)

// secretBytes is the size of the deletion secret: 256 bits, far more than
// the 128 that make guessing it hopeless, so a plain SHA-256 of it is safe
// to store and no slow key derivation is needed.
const secretBytes = 32

// HashDeletionSecret returns the hex SHA-256 of a deletion secret as the
// SDK sends it and the collector stores it.
func HashDeletionSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// isSecret reports whether s has the form of a deletion secret.
func isSecret(s string) bool {
	return len(s) == 2*secretBytes && isLowerHex(s)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func newSecret() string {
	b := make([]byte, secretBytes)
	rand.Read(b) // never fails on supported platforms since Go 1.24
	return hex.EncodeToString(b)
}

// loadSecret returns the deletion secret kept in home, creating it when
// there is none. Processes that start together agree on one secret, as
// they do on the install ID. When home cannot be written, the secret lives
// in memory for this process only, like the ID.
func loadSecret(home string) (secret string, persisted bool, err error) {
	if home == "" {
		return newSecret(), false, errors.New("no home folder: set Config.Home")
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return newSecret(), false, fmt.Errorf("create home folder: %s", errorText(err))
	}
	path := filepath.Join(home, SecretFile)
	for range 150 {
		secret, err := readSecret(path)
		switch {
		case err == nil:
			return secret, true, nil
		case errors.Is(err, fs.ErrNotExist):
			created, err := secretValueFile.create(path)
			if err == nil {
				return created, true, nil
			}
			if !errors.Is(err, fs.ErrExist) {
				return newSecret(), false, err
			}
		case errors.Is(err, errIDBeingWritten):
			time.Sleep(20 * time.Millisecond)
		default:
			replaced, err := secretValueFile.replace(path)
			if err != nil {
				return newSecret(), false, err
			}
			return replaced, true, nil
		}
	}
	return newSecret(), false, errors.New("read deletion secret: the file kept changing while it was read")
}

// readSecret reads and checks the secret file. An empty file younger than
// idFreshFile may still be written by another process.
func readSecret(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	secret := strings.TrimSpace(string(data))
	if isSecret(secret) {
		return secret, nil
	}
	if secret == "" {
		if info, err := os.Stat(path); err == nil && time.Since(info.ModTime()) < idFreshFile {
			return "", errIDBeingWritten
		}
	}
	return "", errors.New("deletion secret file does not hold 64 hex digits")
}

var secretValueFile = randomValueFile{
	name:     "deletion secret",
	pattern:  ".telemetry_secret-*",
	generate: newSecret,
	read:     readSecret,
}

// deletionSecret returns the install's deletion secret and its hash,
// loading or creating the secret on first use. Both are "" while telemetry
// is disabled, so a disabled client creates no secret.
func (c *Client) deletionSecret() (secret, hash string) {
	if !c.enabled.Load() {
		return "", ""
	}
	p := &c.privacy
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.secret == "" {
		secret, _, err := loadSecret(c.cfg.Home)
		if err != nil {
			c.log.Warn("telemetry: deletion secret kept in memory for this run", "error", err)
		}
		p.secret, p.secretHash = secret, HashDeletionSecret(secret)
	}
	return p.secret, p.secretHash
}

// requestFields returns the members the uploader adds to every batch
// request after api_key: the deletion key hash, or "" while telemetry is
// disabled.
func (c *Client) requestFields() string {
	_, hash := c.deletionSecret()
	if hash == "" {
		return ""
	}
	return deletionKeyMember(hash)
}

func deletionKeyMember(hash string) string {
	return `,"` + DeletionKeyHashField + `":"` + hash + `"`
}
