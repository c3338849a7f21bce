package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/candor-dev/candor/internal/server"
	"github.com/candor-dev/candor/internal/store/duckdb"
)

func TestCompactDataFolder(t *testing.T) {
	data := newDataFolder(t)

	code, stdout, stderr := runCommand(t, "compact", "--data", data)
	if code != 0 {
		t.Fatalf("candor compact exited with %d: %s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "Compacted "+filepath.Join(data, server.DatabaseFile)+": ") {
		t.Errorf("candor compact printed %q, want the database it compacted", stdout)
	}
}

// newDataFolder returns a data folder with an empty database.
func newDataFolder(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	s, err := duckdb.Open(filepath.Join(data, server.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return data
}

func TestCompactWithoutDatabase(t *testing.T) {
	data := t.TempDir()
	code, _, stderr := runCommand(t, "compact", "--data", data)
	if code != 2 || !strings.Contains(stderr, "no database candor.duckdb in "+data) || !strings.Contains(stderr, "--data") {
		t.Errorf("candor compact of an empty folder exited with %d: %q, want 2 and a message naming the folder and --data", code, stderr)
	}
}

func TestCompactRefusesLockedDataFolder(t *testing.T) {
	data := newDataFolder(t)
	lock, err := server.LockDataDir(data)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()

	code, _, stderr := runCommand(t, "compact", "--data", data)
	want := fmt.Sprintf("data folder %s is in use by another candor process (pid %d)", data, os.Getpid())
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("candor compact of a locked data folder exited with %d: %q, want 1 and %q", code, stderr, want)
	}
}
