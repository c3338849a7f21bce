package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/store"
)

// testDeleteInstall deletes install a of project mux and checks that install
// a of project demo and install b of mux stay.
func testDeleteInstall(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustInsert(t, s, makeEvents(0,
		eventSpec{Name: "app_started", Install: "a", Time: day},
		eventSpec{Name: "message_sent", Install: "a", Time: day.Add(time.Hour)},
		eventSpec{Name: "message_sent", Install: "a", Time: day.AddDate(0, 0, 3)},
		eventSpec{Name: "app_started", Install: "b", Time: day},
		eventSpec{Name: "message_sent", Install: "b", Time: day.Add(time.Hour)},
		eventSpec{Project: "demo", Name: "app_started", Install: "a", Time: day},
	))

	deleted, err := s.DeleteInstall(ctx, "mux", "a")
	if err != nil {
		t.Fatalf("DeleteInstall(mux, a): %v", err)
	}
	if deleted != 3 {
		t.Errorf("DeleteInstall(mux, a) deleted %d events, want 3", deleted)
	}

	want := store.Overview{
		TotalEvents: 3,
		Installs:    2,
		Events:      map[string]int64{"app_started": 2, "message_sent": 1},
	}
	if d := diff(want, mustOverview(t, s, store.Filter{})); d != "" {
		t.Errorf("Overview after DeleteInstall (-want +got):\n%s", d)
	}
	if got := mustOverview(t, s, store.Filter{Project: "demo"}).TotalEvents; got != 1 {
		t.Errorf("events left in project demo = %d, want 1", got)
	}

	for _, install := range []string{"a", "unknown"} {
		deleted, err := s.DeleteInstall(ctx, "mux", install)
		if err != nil {
			t.Fatalf("DeleteInstall(mux, %s): %v", install, err)
		}
		if deleted != 0 {
			t.Errorf("DeleteInstall(mux, %s) with no events deleted %d, want 0", install, deleted)
		}
	}
}

// testDeleteInstallErrorOmitsID checks that a failed DeleteInstall returns
// an error without the install ID, because the server logs the error and
// the log outlives the deletion.
func testDeleteInstallErrorOmitsID(t *testing.T, s store.Store) {
	const install = "install-to-forget-7f3a"
	mustInsert(t, s, makeEvents(0, eventSpec{Name: "app_started", Install: install, Time: day}))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.DeleteInstall(ctx, "mux", install)
	if err == nil {
		t.Fatal("DeleteInstall with a canceled context returned no error")
	}
	if strings.Contains(err.Error(), install) {
		t.Errorf("DeleteInstall error %q contains the install ID", err)
	}
}

// testDeleteBefore checks that the event at exactly t stays and that t may
// be in any zone.
func testDeleteBefore(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustInsert(t, s, makeEvents(0,
		eventSpec{Name: "before", Install: "a", Time: day.Add(-time.Second)},
		eventSpec{Name: "before", Install: "a", Time: day.Add(-48 * time.Hour)},
		eventSpec{Name: "at", Install: "a", Time: day},
		eventSpec{Name: "after", Install: "b", Time: day.Add(time.Second)},
	))

	utcMinus5 := time.FixedZone("UTC-5", -5*60*60)
	deleted, err := s.DeleteBefore(ctx, day.In(utcMinus5))
	if err != nil {
		t.Fatalf("DeleteBefore: %v", err)
	}
	if deleted != 2 {
		t.Errorf("DeleteBefore(%s) deleted %d events, want 2", day, deleted)
	}
	wantEvents := map[string]int64{"at": 1, "after": 1}
	if d := cmp.Diff(wantEvents, mustOverview(t, s, store.Filter{}).Events); d != "" {
		t.Errorf("events left after DeleteBefore (-want +got):\n%s", d)
	}

	deleted, err = s.DeleteBefore(ctx, day)
	if err != nil {
		t.Fatalf("second DeleteBefore: %v", err)
	}
	if deleted != 0 {
		t.Errorf("second DeleteBefore(%s) deleted %d events, want 0", day, deleted)
	}

	deleted, err = s.DeleteBefore(ctx, day.AddDate(1, 0, 0))
	if err != nil {
		t.Fatalf("DeleteBefore a year later: %v", err)
	}
	if deleted != 2 {
		t.Errorf("DeleteBefore a year later deleted %d events, want 2", deleted)
	}
	if got := totalEvents(t, s); got != 0 {
		t.Errorf("TotalEvents after deleting everything = %d, want 0", got)
	}
}
