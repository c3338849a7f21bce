package duckdb

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/candor-dev/candor/internal/store"
)

// deletedInstall is the distinct ID whose events TestCompactRemovesDeletedValues
// deletes. No other value of the test contains it.
const deletedInstall = "zq7-deleted-install-5c1e"

func TestCompactRemovesDeletedValues(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	events := muxBenchEvents(0, 3000)
	for i := range events {
		if i%2 == 0 {
			events[i].DistinctID = deletedInstall
		}
	}
	if _, err := s.Insert(ctx, events); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterInstallSecret(ctx, "mux", "kept-install", "ab12"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteInstall(ctx, "mux", deletedInstall); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !fileContains(t, path, deletedInstall) {
		t.Log("the deleted distinct ID is gone from the file before Compact; DuckDB now rewrites the blocks itself")
	}

	before, after, err := Compact(ctx, path)
	if err != nil {
		t.Fatalf("Compact: %v", err)
	}
	if before <= 0 || after <= 0 {
		t.Errorf("Compact sizes %d and %d, want both positive", before, after)
	}
	if fileContains(t, path, deletedInstall) {
		t.Error("the deleted distinct ID is still in the database file after Compact")
	}
	for _, leftover := range []string{path + compactSuffix, path + ".wal"} {
		if _, err := os.Stat(leftover); err == nil {
			t.Errorf("%s is left after Compact", leftover)
		}
	}

	s, err = Open(path)
	if err != nil {
		t.Fatalf("Open after Compact: %v", err)
	}
	defer s.Close()
	overview, err := s.Overview(ctx, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if overview.TotalEvents != 1500 {
		t.Errorf("events after Compact = %d, want the 1,500 not deleted", overview.TotalEvents)
	}
	if hash, err := s.InstallSecretHash(ctx, "mux", "kept-install"); err != nil || hash != "ab12" {
		t.Errorf("install secret after Compact = %q, %v; want ab12", hash, err)
	}
	// The primary key still makes Insert skip stored events: of events 1
	// and 2, only event 2, deleted before, is stored again.
	if stored, err := s.Insert(ctx, events[1:3]); err != nil || stored != 1 {
		t.Errorf("Insert of a stored and a deleted event after Compact = %d, %v; want 1", stored, err)
	}
}

func TestCompactRefusesOpenDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "candor.duckdb")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	_, _, err = Compact(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "already open") {
		t.Errorf("Compact of a database in use = %v, want an error that says it is open", err)
	}
}

func TestCompactMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.duckdb")
	if _, _, err := Compact(context.Background(), path); err == nil || !strings.Contains(err.Error(), "none.duckdb") {
		t.Errorf("Compact of a missing file = %v, want an error naming it", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("Compact of a missing file created it")
	}
}

// fileContains reports whether the file at path contains text.
func fileContains(t *testing.T, path, text string) bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(data, []byte(text))
}
