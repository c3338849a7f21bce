package collector_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/duckdb"
)

// newDuckDBEnv returns an env whose collector writes to an in-memory DuckDB
// store.
func newDuckDBEnv(t *testing.T, configure ...func(*collector.Config)) (*env, *duckdb.Store) {
	t.Helper()
	db, err := duckdb.Open("")
	if err != nil {
		t.Fatalf("open duckdb: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close duckdb: %v", err)
		}
	})
	configure = append(configure, func(c *collector.Config) { c.Store = db })
	return newEnv(t, configure...), db
}

func totalEvents(t *testing.T, db *duckdb.Store, project string) store.Overview {
	t.Helper()
	o, err := db.Overview(context.Background(), store.Filter{Project: project})
	if err != nil {
		t.Fatalf("Overview: %v", err)
	}
	return o
}

func TestDuckDBStoresValidEvents(t *testing.T) {
	e, db := newDuckDBEnv(t)
	body := batchBody(muxKey,
		`{"event":"message_sent","distinct_id":"install-1","uuid":"`+uuidN(1)+`","properties":{"workspaceId":"`+workspaceID+
			`","model":"gpt-4o","message_length_b2":300,"version":"1.4.2","backend_platform":"linux"}}`,
		`{"event":"app_started","distinct_id":"install-2","uuid":"`+uuidN(2)+`","properties":{"version":"1.4.2","backend_platform":"darwin"}}`,
		`{"event":"message_deleted","distinct_id":"install-1","uuid":"`+uuidN(3)+`"}`,
	)
	res := mustOK(t, e.do(http.MethodPost, "/batch/", gzipBytes(t, body), "Content-Encoding", "gzip"))
	if res.Accepted != 2 || res.Duplicates == nil || *res.Duplicates != 0 {
		t.Errorf("accepted %d duplicates %v, want 2 and 0", res.Accepted, res.Duplicates)
	}

	got := totalEvents(t, db, "mux")
	want := store.Overview{
		TotalEvents: 2,
		Installs:    2,
		Events:      map[string]int64{"message_sent": 1, "app_started": 1},
		Versions:    []store.KeyCount{{Key: "1.4.2", Events: 2, Installs: 2}},
		Platforms:   []store.KeyCount{{Key: "darwin", Events: 1, Installs: 1}, {Key: "linux", Events: 1, Installs: 1}},
	}
	byKey := cmpopts.SortSlices(func(a, b store.KeyCount) bool { return a.Key < b.Key })
	if diff := cmp.Diff(want, got, byKey); diff != "" {
		t.Errorf("Overview mismatch (-want +got):\n%s", diff)
	}
	if other := totalEvents(t, db, "other"); other.TotalEvents != 0 {
		t.Errorf("project other has %d events, want 0", other.TotalEvents)
	}

	// A retry of the same batch is acknowledged, and the store skips it.
	res = mustOK(t, e.postJSON("/batch/", body))
	if res.Accepted != 2 || res.Duplicates == nil || *res.Duplicates != 2 {
		t.Errorf("retry: accepted %d duplicates %v, want 2 and 2", res.Accepted, res.Duplicates)
	}
	if got := totalEvents(t, db, "mux").TotalEvents; got != 2 {
		t.Errorf("after retry: %d events, want 2", got)
	}
}

func TestDuckDBConcurrentRequests(t *testing.T) {
	e, db := newDuckDBEnv(t)
	const requests, perRequest = 30, 5

	var wg sync.WaitGroup
	results := make([]response, requests)
	for i := range requests {
		wg.Go(func() {
			var events []string
			for j := range perRequest {
				events = append(events, messageEvent(uuidN(i*perRequest+j)))
			}
			results[i] = e.postJSON("/batch/", batchBody(muxKey, events...))
		})
	}
	wg.Wait()

	for i, r := range results {
		if res := mustOK(t, r); res.Accepted != perRequest {
			t.Errorf("request %d: accepted %d, want %d", i, res.Accepted, perRequest)
		}
	}
	if got := totalEvents(t, db, "mux").TotalEvents; got != requests*perRequest {
		t.Errorf("stored %d events, want %d", got, requests*perRequest)
	}
	stats := e.collector.Stats()
	t.Logf("%d requests committed in %d Insert calls", requests, stats.Commits)
	if stats.Commits >= requests {
		t.Errorf("Insert calls = %d, want fewer than the %d requests", stats.Commits, requests)
	}
}

func TestDuckDBClosedStoreAnswers503(t *testing.T) {
	e, db := newDuckDBEnv(t)
	if err := db.Close(); err != nil {
		t.Fatalf("close duckdb: %v", err)
	}
	r := e.postJSON("/batch/", batchBody(muxKey, messageEvent(uuidN(1))))
	mustFail(t, r, http.StatusServiceUnavailable, "service_unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}
