package collector

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/sdk/catalog"
)

// insertOnlyStore stores every event as new. The embedded Store is nil,
// because the committer calls only Insert.
type insertOnlyStore struct {
	store.Store
}

func (insertOnlyStore) Insert(_ context.Context, events []store.Event) (int, error) {
	return len(events), nil
}

// The summary line is logged between two commits, when the requests of the
// last commit may not have taken their results yet. So a commit must count
// its requests' received events in the same step as the accepted ones.
func TestCommitCountsReceivedWithAccepted(t *testing.T) {
	c, err := New(Config{
		Store:    insertOnlyStore{},
		Projects: []Project{{Name: "mux", WriteKey: "phc_test_mux_write_key", Catalog: catalog.New("testapp")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()

	// A request of 4 events, of which the catalog dropped 1, waits for the
	// commit of the other 3.
	out := eventOutcome{events: make([]store.Event, 3), dropped: map[catalog.Reason]int{catalog.ReasonUnknownEvent: 1}}
	if !c.pending.acquire(3) {
		t.Fatal("pending-events budget rejected 3 events")
	}
	waiting := &pendingCommit{project: "mux", events: out.events, result: make(chan commitResult, 1), outcome: out, received: 4}
	c.committer.commitProject("mux", []*pendingCommit{waiting})

	stats := c.Stats()
	if stats.Accepted != 3 {
		t.Errorf("Accepted = %d, want 3", stats.Accepted)
	}
	if stats.Received != 4 {
		t.Errorf("Received = %d while the request has not taken its result, want 4", stats.Received)
	}
	if got := stats.Dropped[string(catalog.ReasonUnknownEvent)]; got != 1 {
		t.Errorf("Dropped[%s] = %d, want 1", catalog.ReasonUnknownEvent, got)
	}
	if got := stats.Projects["mux"].Received; got != 4 {
		t.Errorf("Projects[mux].Received = %d, want 4", got)
	}
	if res := <-waiting.result; res.err != nil {
		t.Errorf("commit result error = %v, want nil", res.err)
	}
}

// A store with a journal counts stored and duplicate events when it loads
// them, after their commit. A load of duplicates only must still get a
// summary line, or it waits for the next request.
func TestSummaryLogsLoadedDuplicates(t *testing.T) {
	var buf bytes.Buffer
	c, err := New(Config{
		Store:    insertOnlyStore{},
		Projects: []Project{{Name: "mux", WriteKey: "phc_test_mux_write_key", Catalog: catalog.New("testapp")}},
		Logger:   slog.New(slog.NewTextHandler(&buf, nil)),
		// The test calls its own summaryLogger, so the committer's stays off.
		SummaryInterval: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()

	var summary summaryLogger
	c.stats.loaded("mux", 2, 0)
	summary.log(c)

	line := buf.String()
	if !strings.Contains(line, "capture summary") {
		t.Fatalf("no summary line after 2 duplicates were loaded; log:\n%s", line)
	}
	if !strings.Contains(line, "duplicates=2") {
		t.Errorf("summary line lacks duplicates=2: %s", line)
	}
}
