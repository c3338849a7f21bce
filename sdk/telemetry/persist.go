package telemetry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// configWriteMu serializes SetEnabled calls of all clients in the process.
var configWriteMu sync.Mutex

// SetEnabled persists the user's choice as "telemetryEnabled" in
// <Home>/config.json and applies it at once. The file's other keys keep
// their values, written back sorted by name with two-space indentation.
// Turning telemetry off also cancels the upload in flight, whose events
// are dropped rather than retried, and drops the events queued in memory
// and in the spool, all counted as DropDisabled. The environment switches
// still override a true choice, which Status then explains.
//
// It fails, leaving the file unchanged, when config.json exists but is not
// a JSON object: the user has to fix or remove it.
func (c *Client) SetEnabled(enabled bool) error {
	if c.cfg.Home == "" {
		return errors.New("save telemetry choice: no home folder: set Config.Home")
	}
	path := filepath.Join(c.cfg.Home, ConfigFile)
	if err := writeChoice(path, enabled); err != nil {
		return err
	}
	token := ""
	if !enabled {
		var err error
		if token, err = writeOptOutToken(c.cfg.Home); err != nil {
			c.log.Warn("telemetry: opt-out token not saved", "error", errorText(err))
		}
	}

	c.switches.config.invalidate()
	c.refresh()
	if !enabled {
		// Capture stamps events with the new count only now that it
		// ignores them until an opt-in.
		c.ownOptOut.Store(&optOut{token: token, optOuts: c.optOuts.Add(1)})
	}
	if !enabled && c.spool != nil {
		c.spool.purge(DropDisabled)
	}
	select {
	case c.nudge <- struct{}{}:
	default:
	}
	return nil
}

// writeOptOutToken replaces OptOutFile in home with a new token and
// returns it. Every sender compares the token at each look at the
// switches, so it drops what it has waiting even when the user opted in
// again before it saw config.json off. NOTE: a process that edits
// config.json itself writes no token, so an opt-out and opt-in it makes
// between two polls goes unseen.
func writeOptOutToken(home string) (string, error) {
	token := fmt.Sprintf("%d-%s", time.Now().UnixNano(), randomHex(8))
	if err := replaceFile(filepath.Join(home, OptOutFile), ".optout-*", []byte(token+"\n")); err != nil {
		return "", err
	}
	return token, nil
}

// optOut is an opt-out of this process: the token it wrote, and
// Client.optOuts after it.
type optOut struct {
	token   string
	optOuts uint64
}

// writeChoice sets telemetryEnabled in the config file at path, replacing
// the file atomically.
func writeChoice(path string, enabled bool) error {
	configWriteMu.Lock()
	defer configWriteMu.Unlock()

	keys := map[string]json.RawMessage{}
	mode := fs.FileMode(0o600)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &keys); err != nil || keys == nil {
			return fmt.Errorf("save telemetry choice: %s is not a JSON object: fix or remove it", ConfigFile)
		}
		if info, err := os.Stat(path); err == nil {
			mode = info.Mode().Perm()
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("save telemetry choice: read %s: %s", ConfigFile, errorText(err))
	}

	keys["telemetryEnabled"] = json.RawMessage(fmt.Sprint(enabled))
	out, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return fmt.Errorf("save telemetry choice: %w", err)
	}
	out = append(out, '\n')

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save telemetry choice: create home folder: %s", errorText(err))
	}
	tmp, err := writeTemp(dir, ".config-*.json", out)
	if err != nil {
		return fmt.Errorf("save telemetry choice: write %s: %s", ConfigFile, errorText(err))
	}
	os.Chmod(tmp, mode)
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save telemetry choice: replace %s: %s", ConfigFile, errorText(err))
	}
	return nil
}
