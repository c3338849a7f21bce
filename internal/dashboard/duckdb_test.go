package dashboard_test

import (
	"testing"

	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/duckdb"
)

// The API tests and the browser test also run against an in-memory DuckDB
// store, so the numbers they check are the real backend's.
func init() {
	testStores = append(testStores, testStore{"duckdb", openDuckDB})
}

func openDuckDB(t *testing.T) store.Store {
	t.Helper()
	s, err := duckdb.Open("")
	if err != nil {
		t.Fatalf("open in-memory DuckDB: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close DuckDB: %v", err)
		}
	})
	return s
}
