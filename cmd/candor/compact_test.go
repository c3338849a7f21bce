package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/candor-dev/candor/internal/server"
	"github.com/candor-dev/candor/internal/store/duckdb"
	"github.com/candor-dev/candor/internal/store/duckdb/duckdbtest"
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

// A data folder whose database is not candor's gets an error that names
// the fix, for a DuckDB file of another program and for a damaged file.
func TestCompactForeignDatabaseNamesFix(t *testing.T) {
	foreign := t.TempDir()
	duckdbtest.CreateForeignDatabase(t, filepath.Join(foreign, server.DatabaseFile))
	damaged := t.TempDir()
	if err := os.WriteFile(filepath.Join(damaged, server.DatabaseFile), []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct{ name, data, want string }{
		{"another program's database", foreign, "not a candor database"},
		{"damaged file", damaged, "not a DuckDB database file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// No server is needed at the ClickHouse URL, because the check
			// comes first.
			for _, args := range [][]string{
				{"compact", "--data", tt.data},
				{"migrate", "--data", tt.data, "--clickhouse-url", "http://127.0.0.1:19499"},
			} {
				command := args[0]
				code, _, stderr := runCommand(t, args...)
				if code != 1 {
					t.Errorf("candor %s exited with %d, want 1", command, code)
				}
				if !strings.Contains(stderr, tt.want) {
					t.Errorf("candor %s printed %q, want %q", command, stderr, tt.want)
				}
				if !strings.Contains(stderr, "pass the data folder of candor serve with --data") {
					t.Errorf("candor %s printed %q, want the fix", command, stderr)
				}
				if _, err := os.Stat(filepath.Join(tt.data, server.LockFile)); !os.IsNotExist(err) {
					t.Errorf("candor %s left %s in the folder (stat: %v)", command, server.LockFile, err)
				}
			}
		})
	}
}
