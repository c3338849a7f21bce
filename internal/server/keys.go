package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/candor-dev/candor/internal/fsutil"
)

// KeysFile is the name of the file in the data folder that keeps the
// generated write key and admin token.
const KeysFile = "keys.json"

// MinAdminTokenLength is the fewest characters an admin token may have.
const MinAdminTokenLength = 16

// Keys are the two secrets of a collector: the write key that SDKs put in
// api_key, which can only write events, and the admin token that opens the
// dashboard and the query API.
type Keys struct {
	WriteKey   string `json:"write_key"`
	AdminToken string `json:"admin_token"`
}

// LoadOrCreateKeys returns the keys kept in dir, creating and saving new
// random ones (file mode 0600) for each that is missing. created reports
// whether the file was written.
func LoadOrCreateKeys(dir string) (keys Keys, created bool, err error) {
	path := filepath.Join(dir, KeysFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &keys); err != nil {
			return Keys{}, false, fmt.Errorf("read keys %q: %w (fix or delete the file to generate new keys)", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return Keys{}, false, fmt.Errorf("read keys: %w", err)
	}
	if keys.WriteKey != "" && keys.AdminToken != "" {
		return keys, false, nil
	}
	if keys.WriteKey == "" {
		keys.WriteKey = "phc_" + randomHex(16)
	}
	if keys.AdminToken == "" {
		keys.AdminToken = "cadm_" + randomHex(24)
	}
	if err := writeKeys(path, keys); err != nil {
		return Keys{}, false, err
	}
	return keys, true, nil
}

// checkStoredAdminToken returns an error when token, the admin token in
// dir's keys.json, is shorter than MinAdminTokenLength, as after a hand
// edit of the file.
func checkStoredAdminToken(dir, token string) error {
	n := utf8.RuneCountInString(token)
	if n >= MinAdminTokenLength {
		return nil
	}
	return fmt.Errorf("invalid admin_token in %s: it has %d characters, and an admin token needs at least %d: "+
		"set a longer one, delete the member to generate one, or pass --admin-token",
		filepath.Join(dir, KeysFile), n, MinAdminTokenLength)
}

// writeKeys saves keys to path, readable by the owner only.
func writeKeys(path string, keys Keys) error {
	data, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write keys: %w", err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand.Read never fails on supported platforms
	}
	return hex.EncodeToString(b)
}
