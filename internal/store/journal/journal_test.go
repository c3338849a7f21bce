package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/internal/store/duckdb"
	"github.com/candor-dev/candor/internal/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func openDuckDB(t *testing.T) store.Store {
	t.Helper()
	db, err := duckdb.Open("")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.TempDir(), db, Options{})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, openDuckDB)
}

func TestAnalyticsConformance(t *testing.T) {
	storetest.RunAnalytics(t, openDuckDB)
}

func TestSecretsConformance(t *testing.T) {
	storetest.RunSecrets(t, openDuckDB)
}

// fakeStore keeps events in memory. Its Insert fails while failures is
// positive, for the events of failProject alone if that is set, and waits
// while gate is set.
type fakeStore struct {
	store.Analytics // nil: the tests here run no analytics query

	mu          sync.Mutex
	events      map[string]store.Event // by project and UUID
	calls       []int                  // events per Insert call
	failures    int
	failProject string
	reject      string // a UUID whose every insert fails
	rejected    int    // inserts that failed because of reject
	// unavailable is a UUID whose inserts fail with store.ErrUnavailable,
	// as on a disk with room for some events only.
	unavailable string
	// unavailableHits counts the inserts that failed because of
	// unavailable.
	unavailableHits int
	gate            chan struct{}
	closed          bool
}

func newFakeStore() *fakeStore {
	return &fakeStore{events: map[string]store.Event{}}
}

func (f *fakeStore) Insert(ctx context.Context, events []store.Event) (int, error) {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, store.ErrClosed
	}
	for _, e := range events {
		if e.UUID == f.reject {
			f.rejected++
			return 0, fmt.Errorf("event %s: invalid value", e.UUID)
		}
		if e.UUID == f.unavailable {
			f.unavailableHits++
			return 0, store.Unavailable(errors.New("no space left on device"))
		}
	}
	if f.failures > 0 && (f.failProject == "" || f.failProject == events[0].Project) {
		f.failures--
		return 0, errors.New("disk full")
	}

	f.calls = append(f.calls, len(events))
	stored := 0
	for _, e := range events {
		key := e.Project + "/" + e.UUID
		if _, ok := f.events[key]; !ok {
			f.events[key] = e
			stored++
		}
	}
	return stored, nil
}

func (f *fakeStore) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events)
}

func (f *fakeStore) Overview(context.Context, store.Filter) (store.Overview, error) {
	return store.Overview{TotalEvents: int64(f.count())}, nil
}

func (f *fakeStore) EventsPerDay(context.Context, store.Filter) ([]store.DayCount, error) {
	return nil, nil
}

func (f *fakeStore) ActiveInstallsPerDay(context.Context, store.Filter) ([]store.DayValue, error) {
	return nil, nil
}

func (f *fakeStore) DeleteInstall(_ context.Context, project, distinctID string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var deleted int64
	for key, e := range f.events {
		if e.Project == project && e.DistinctID == distinctID {
			delete(f.events, key)
			deleted++
		}
	}
	return deleted, nil
}

func (f *fakeStore) DeleteBefore(context.Context, time.Time) (int64, error) { return 0, nil }

func (f *fakeStore) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

var day = time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)

// testEvents returns count events of project with UUIDs from first on.
func testEvents(project string, first, count int) []store.Event {
	events := make([]store.Event, count)
	for i := range events {
		events[i] = store.Event{
			Project:    project,
			UUID:       fmt.Sprintf("00000000-0000-4000-8000-%012x", first+i),
			Name:       "app_started",
			DistinctID: "install-a",
			Timestamp:  day.Add(time.Duration(first+i) * time.Second),
			ReceivedAt: day,
			Properties: map[string]any{"version": "1.2.3", "count_b2": int64(8)},
		}
	}
	return events
}

func mustOpen(t *testing.T, dir string, inner store.Store, opts Options) *Store {
	t.Helper()
	s, err := Open(dir, inner, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func mustInsert(t *testing.T, s *Store, events []store.Event) {
	t.Helper()
	stored, err := s.Insert(context.Background(), events)
	if err != nil {
		t.Fatalf("Insert(%d events): %v", len(events), err)
	}
	if stored != store.StoredUnknown {
		t.Fatalf("Insert returned %d, want store.StoredUnknown", stored)
	}
}

// tallyLoads sums what s reports through ReportLoads and returns the
// function that reads the sums.
func tallyLoads(s *Store) func() (reported, stored int) {
	var mu sync.Mutex
	var reported, stored int
	s.ReportLoads(func(_ string, events, newly int) {
		mu.Lock()
		reported, stored = reported+events, stored+newly
		mu.Unlock()
	})
	return func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return reported, stored
	}
}

// waitForFirstStored waits until inner holds an event: the one before the
// event that inner cannot take.
func waitForFirstStored(t *testing.T, inner *fakeStore) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); inner.count() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the store holds %d events, want the 1 before the failing one", inner.count())
		}
	}
}

func journalFiles(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// leaveInJournal inserts batches through a Store whose store fails every
// load, and closes it, so the events stay in the journal files of dir as
// after a crash.
func leaveInJournal(t *testing.T, dir string, opts Options, batches ...[]store.Event) {
	t.Helper()
	failing := newFakeStore()
	failing.failures = 1 << 30
	opts.CloseTimeout = time.Millisecond
	s := mustOpen(t, dir, failing, opts)
	total := 0
	for _, events := range batches {
		mustInsert(t, s, events)
		total += len(events)
	}
	err := s.Close()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d events were not loaded", total)) {
		t.Fatalf("Close with failing loads: %v, want an error that names the %d events left", err, total)
	}
}

func TestOpenLoadsWhatWasLeft(t *testing.T) {
	dir := t.TempDir()
	leaveInJournal(t, dir, Options{}, testEvents("mux", 0, 3), testEvents("other", 0, 2), testEvents("mux", 3, 1))

	inner := newFakeStore()
	s := mustOpen(t, dir, inner, Options{})
	defer s.Close()
	if got := inner.count(); got != 6 {
		t.Errorf("after Open the store holds %d events, want 6", got)
	}
	// Only the new, empty journal file is left.
	if files := journalFiles(t, dir); len(files) != 1 {
		t.Errorf("journal files after Open: %v, want one", files)
	}
}

func TestOpenReadsUpToTornRecord(t *testing.T) {
	dir := t.TempDir()
	leaveInJournal(t, dir, Options{}, testEvents("mux", 0, 2), testEvents("mux", 2, 2))
	files := journalFiles(t, dir)
	// A third record that the process was writing when it stopped: a
	// header that promises more bytes than follow.
	f, err := os.OpenFile(files[len(files)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, 5}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	inner := newFakeStore()
	s := mustOpen(t, dir, inner, Options{})
	defer s.Close()
	if got := inner.count(); got != 4 {
		t.Errorf("after Open the store holds %d events, want the 4 of the whole records", got)
	}
}

func TestOpenFailsOnDamagedOlderFile(t *testing.T) {
	dir := t.TempDir()
	// SegmentBytes of 1 starts a new file after every record.
	leaveInJournal(t, dir, Options{SegmentBytes: 1}, testEvents("mux", 0, 2), testEvents("mux", 2, 2))
	files := journalFiles(t, dir)
	if len(files) != 3 {
		t.Fatalf("journal files: %v, want 3", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 0xff // the checksum no longer matches
	if err := os.WriteFile(files[0], data, 0o600); err != nil {
		t.Fatal(err)
	}

	_, err = Open(dir, newFakeStore(), Options{})
	if err == nil || !strings.Contains(err.Error(), files[0]) || !strings.Contains(err.Error(), "move it out") {
		t.Fatalf("Open with a damaged older file: %v, want an error that names %s and the fix", err, files[0])
	}
	if got := journalFiles(t, dir); len(got) != 3 {
		t.Errorf("journal files after the failed Open: %v, want all 3 kept", got)
	}
}

func TestOpenRejectsForeignFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, segmentName(1))
	if err := os.WriteFile(path, []byte("some other file"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, newFakeStore(), Options{})
	if err == nil || !strings.Contains(err.Error(), "not a candor journal file") {
		t.Fatalf("Open: %v, want an error about the foreign file", err)
	}
}

func TestFailedOpenKeepsEvents(t *testing.T) {
	dir := t.TempDir()
	leaveInJournal(t, dir, Options{}, testEvents("mux", 0, 2))
	// A store that fails every insert: Open's insert of each event on its
	// own, after the failed load, fails too.
	failing := newFakeStore()
	failing.failures = 1 << 30
	if _, err := Open(dir, failing, Options{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Open with a failing store: %v, want the store's error", err)
	}
	inner := newFakeStore()
	s := mustOpen(t, dir, inner, Options{})
	defer s.Close()
	if got := inner.count(); got != 2 {
		t.Errorf("the next Open loaded %d events, want 2", got)
	}
}

func TestRecover(t *testing.T) {
	dir := t.TempDir()
	if err := Recover(filepath.Join(dir, "missing"), newFakeStore(), Options{}); err != nil {
		t.Fatalf("Recover without a journal folder: %v", err)
	}
	leaveInJournal(t, dir, Options{}, testEvents("mux", 0, 5))
	inner := newFakeStore()
	if err := Recover(dir, inner, Options{}); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	if got := inner.count(); got != 5 {
		t.Errorf("Recover loaded %d events, want 5", got)
	}
	if files := journalFiles(t, dir); len(files) != 0 {
		t.Errorf("journal files after Recover: %v, want none", files)
	}
}

// TestCloseStopsHungLoad checks that Close returns after CloseTimeout
// when a load hangs, and that the next Open loads the event it left.
func TestCloseStopsHungLoad(t *testing.T) {
	dir := t.TempDir()
	inner := newFakeStore()
	inner.gate = make(chan struct{}) // never opened: every load hangs
	s := mustOpen(t, dir, inner, Options{CloseTimeout: 100 * time.Millisecond, LoadDelay: time.Millisecond})
	mustInsert(t, s, testEvents("mux", 0, 1))

	start := time.Now()
	err := s.Close()
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Close took %s with a hung load, want about the close timeout of 100ms", took)
	}
	if err == nil || !strings.Contains(err.Error(), "1 events were not loaded") {
		t.Errorf("Close = %v, want an error that 1 event was not loaded", err)
	}

	again := newFakeStore()
	s = mustOpen(t, dir, again, Options{})
	defer s.Close()
	if n := again.count(); n != 1 {
		t.Errorf("Open after a hung load loaded %d events, want 1", n)
	}
}

func TestReadsWaitForLoads(t *testing.T) {
	inner := newFakeStore()
	gate := make(chan struct{})
	inner.gate = gate
	s := mustOpen(t, t.TempDir(), inner, Options{})
	defer s.Close()
	mustInsert(t, s, testEvents("mux", 0, 3))

	got := make(chan int64, 1)
	go func() {
		o, err := s.Overview(context.Background(), store.Filter{})
		if err != nil {
			t.Error(err)
		}
		got <- o.TotalEvents
	}()
	select {
	case n := <-got:
		t.Fatalf("Overview returned %d events before the load", n)
	case <-time.After(50 * time.Millisecond):
	}
	close(gate)
	if n := <-got; n != 3 {
		t.Errorf("Overview after the load: %d events, want 3", n)
	}

	// A read gives up when its context ends.
	inner.mu.Lock()
	inner.gate = make(chan struct{})
	inner.mu.Unlock()
	mustInsert(t, s, testEvents("mux", 3, 1))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Overview(ctx, store.Filter{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Overview while the load waits: %v, want context.DeadlineExceeded", err)
	}
	inner.mu.Lock()
	close(inner.gate)
	inner.mu.Unlock()
}

func TestDeleteInstallAfterLoad(t *testing.T) {
	s := openDuckDB(t).(*Store)
	defer s.Close()
	mustInsert(t, s, testEvents("mux", 0, 4))
	deleted, err := s.DeleteInstall(context.Background(), "mux", "install-a")
	if err != nil {
		t.Fatal(err)
	}
	if deleted != 4 {
		t.Errorf("DeleteInstall right after Insert deleted %d events, want 4", deleted)
	}
}

func TestDeletionRemovesJournaledEvents(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, newFakeStore(), Options{})
	defer s.Close()
	mustInsert(t, s, testEvents("mux", 0, 3))
	otherInstall := testEvents("mux", 3, 1)
	otherInstall[0].DistinctID = "install-b"
	mustInsert(t, s, otherInstall)

	if deleted, err := s.DeleteInstall(context.Background(), "mux", "install-a"); err != nil || deleted != 3 {
		t.Fatalf("DeleteInstall = %d, %v; want 3 deleted", deleted, err)
	}
	for _, path := range journalFiles(t, dir) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("install-a")) {
			t.Errorf("%s still contains events of the deleted install", path)
		}
	}

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// copyJournal copies the journal folder dir as a crash would leave it,
// while the Store that writes it runs on.
func copyJournal(t *testing.T, dir string) string {
	t.Helper()
	crashed := filepath.Join(t.TempDir(), "journal")
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatalf("copy the journal: %v", err)
	}
	return crashed
}

func TestDeletedEventsStayDeletedAfterCrash(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, newFakeStore(), Options{})
	defer s.Close()
	mustInsert(t, s, testEvents("mux", 0, 3))
	if deleted, err := s.DeleteInstall(context.Background(), "mux", "install-a"); err != nil || deleted != 3 {
		t.Fatalf("DeleteInstall = %d, %v; want 3 deleted", deleted, err)
	}
	if _, err := s.DeleteBefore(context.Background(), day); err != nil {
		t.Fatalf("DeleteBefore: %v", err)
	}
	// Events journaled after the deletion stay in the journal, loaded
	// or not, and are loaded again after a crash.
	mustInsert(t, s, testEvents("mux", 3, 2))
	if _, err := s.Overview(context.Background(), store.Filter{}); err != nil {
		t.Fatal(err)
	}
	crashed := copyJournal(t, dir)

	// The store starts empty, so it ends with what the journal kept.
	restarted := newFakeStore()
	s2 := mustOpen(t, crashed, restarted, Options{})
	defer s2.Close()
	restarted.mu.Lock()
	var got []string
	for key := range restarted.events {
		got = append(got, key)
	}
	restarted.mu.Unlock()
	slices.Sort(got)
	want := []string{"mux/00000000-0000-4000-8000-000000000003", "mux/00000000-0000-4000-8000-000000000004"}
	if !slices.Equal(got, want) {
		t.Errorf("events loaded from the journal after a crash: %v, want only %v, journaled after the deletion", got, want)
	}
	// The new journal numbers its records from 1, so no checkpoint of the
	// old one may stay.
	if _, err := os.Stat(filepath.Join(crashed, checkpointFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("checkpoint after Open: %v, want it removed", err)
	}

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("journal folder after Close holds %d files, want none", len(entries))
	}
}

// slowDeleteStore is a fakeStore whose DeleteInstall signals started and
// then waits until proceed is closed.
type slowDeleteStore struct {
	*fakeStore
	started chan struct{}
	proceed chan struct{}
}

func (d *slowDeleteStore) DeleteInstall(ctx context.Context, project, distinctID string) (int64, error) {
	close(d.started)
	<-d.proceed
	return d.fakeStore.DeleteInstall(ctx, project, distinctID)
}

func TestCloseWaitsForDeletion(t *testing.T) {
	dir := t.TempDir()
	inner := &slowDeleteStore{fakeStore: newFakeStore(), started: make(chan struct{}), proceed: make(chan struct{})}
	s := mustOpen(t, dir, inner, Options{})
	mustInsert(t, s, testEvents("mux", 0, 3))

	type result struct {
		deleted int64
		err     error
	}
	deletion := make(chan result, 1)
	go func() {
		deleted, err := s.DeleteInstall(context.Background(), "mux", "install-a")
		deletion <- result{deleted, err}
	}()
	<-inner.started
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()

	// Close must not remove the journal files or close the store while
	// the deletion, which wrote its checkpoint, still runs.
	select {
	case err := <-closed:
		t.Errorf("Close returned (%v) while a deletion ran in the store", err)
		closed <- err // for the receive below
	case <-time.After(50 * time.Millisecond):
	}
	close(inner.proceed)
	if r := <-deletion; r.err != nil || r.deleted != 3 {
		t.Errorf("DeleteInstall during Close = %d, %v; want 3 deleted", r.deleted, r.err)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("journal folder after Close holds %d files, want none", len(entries))
	}

	// A deletion after Close fails before it writes a checkpoint.
	if _, err := s.DeleteInstall(context.Background(), "mux", "install-a"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("DeleteInstall after Close: %v, want store.ErrClosed", err)
	}
}

func TestOpenRejectsForeignFileName(t *testing.T) {
	dir := t.TempDir()
	leaveInJournal(t, dir, Options{}, testEvents("mux", 0, 1))
	path := filepath.Join(dir, "backup.journal")
	if err := os.Rename(journalFiles(t, dir)[0], path); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, newFakeStore(), Options{})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a candor journal file") {
		t.Fatalf("Open with %s: %v, want an error that names the file", path, err)
	}
}

func TestOpenRejectsInvalidCheckpoint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, checkpointFile)
	if err := os.WriteFile(path, []byte("twelve"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, newFakeStore(), Options{})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "remove it") {
		t.Fatalf("Open with an invalid checkpoint: %v, want an error that names %s and the fix", err, path)
	}
}

func TestInsertWaitsForRoom(t *testing.T) {
	inner := newFakeStore()
	gate := make(chan struct{})
	inner.gate = gate
	s := mustOpen(t, t.TempDir(), inner, Options{MaxPending: 10})
	defer s.Close()

	mustInsert(t, s, testEvents("mux", 0, 6))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Insert(ctx, testEvents("mux", 6, 6)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Insert past MaxPending: %v, want context.DeadlineExceeded", err)
	}
	if got := s.Pending(); got != 6 {
		t.Errorf("Pending = %d, want 6: the refused events were not journaled", got)
	}

	done := make(chan error, 1)
	go func() {
		_, err := s.Insert(context.Background(), testEvents("mux", 6, 6))
		done <- err
	}()
	close(gate)
	if err := <-done; err != nil {
		t.Fatalf("Insert after the load: %v", err)
	}
	// One call larger than MaxPending goes in when nothing is pending.
	mustInsert(t, s, testEvents("mux", 12, 25))
	if o, err := s.Overview(context.Background(), store.Filter{}); err != nil || o.TotalEvents != 37 {
		t.Errorf("Overview = %d events, %v; want 37", o.TotalEvents, err)
	}
}

func TestLoadsBatchAndReport(t *testing.T) {
	inner := newFakeStore()
	// Without a LoadDelay within the test, only the read at the end
	// starts a load.
	s := mustOpen(t, t.TempDir(), inner, Options{MaxLoad: 5, LoadDelay: time.Hour})
	defer s.Close()

	type report struct {
		project        string
		events, stored int
	}
	var mu sync.Mutex
	var reports []report
	s.ReportLoads(func(project string, events, stored int) {
		mu.Lock()
		reports = append(reports, report{project, events, stored})
		mu.Unlock()
	})

	// Loads take whole calls up to 5 events: 1+2+2, then 2+3. A load
	// gives each project its own call to the store.
	mustInsert(t, s, testEvents("mux", 0, 1))
	mustInsert(t, s, testEvents("mux", 1, 2))
	mustInsert(t, s, testEvents("mux", 1, 2)) // a retry: both are duplicates
	mixed := append(testEvents("mux", 3, 1), testEvents("other", 0, 1)...)
	mustInsert(t, s, mixed)
	mustInsert(t, s, testEvents("mux", 4, 3))
	if _, err := s.Overview(context.Background(), store.Filter{}); err != nil {
		t.Fatal(err)
	}

	inner.mu.Lock()
	calls := slices.Clone(inner.calls)
	inner.mu.Unlock()
	if want := []int{5, 4, 1}; !slices.Equal(calls, want) {
		t.Errorf("events per store call: %v, want %v", calls, want)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []report{{"mux", 5, 3}, {"mux", 4, 4}, {"other", 1, 1}}
	if !slices.Equal(reports, want) {
		t.Errorf("reports: %+v, want %+v", reports, want)
	}
}

func TestLoadStartsAtMaxLoad(t *testing.T) {
	inner := newFakeStore()
	s := mustOpen(t, t.TempDir(), inner, Options{MaxLoad: 5, LoadDelay: time.Hour})
	defer s.Close()
	mustInsert(t, s, testEvents("mux", 0, 2))
	mustInsert(t, s, testEvents("mux", 2, 3))
	// Nothing waits for the load, and LoadDelay is far off: the 5 pending
	// events start it.
	for deadline := time.Now().Add(5 * time.Second); inner.count() < 5 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := inner.count(); got != 5 {
		t.Errorf("the store holds %d events, want 5", got)
	}
}

func TestLoadRetriedAfterFailure(t *testing.T) {
	inner := newFakeStore()
	inner.failures = 2
	s := mustOpen(t, t.TempDir(), inner, Options{})
	defer s.Close()
	mustInsert(t, s, testEvents("mux", 0, 3))
	o, err := s.Overview(context.Background(), store.Filter{})
	if err != nil || o.TotalEvents != 3 {
		t.Errorf("Overview after two failed loads = %d events, %v; want 3", o.TotalEvents, err)
	}
}

func TestRetryReportsEachProjectOnce(t *testing.T) {
	inner := newFakeStore()
	inner.failures, inner.failProject = 1, "other"
	// Only the read below starts a load, so both calls go in one.
	s := mustOpen(t, t.TempDir(), inner, Options{LoadDelay: time.Hour})
	defer s.Close()
	var mu sync.Mutex
	var reports []string
	s.ReportLoads(func(project string, events, stored int) {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, fmt.Sprintf("%s: %d events, %d stored", project, events, stored))
	})

	mustInsert(t, s, testEvents("mux", 0, 2))
	mustInsert(t, s, testEvents("other", 0, 1))
	if _, err := s.Overview(context.Background(), store.Filter{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// The retry after the failed load of "other" does not load the mux
	// events again, which would count them as duplicates.
	want := []string{"mux: 2 events, 2 stored", "other: 1 events, 1 stored"}
	if !slices.Equal(reports, want) {
		t.Errorf("reports: %q, want %q", reports, want)
	}
}

func TestReadFailsWhileLoadsFail(t *testing.T) {
	inner := newFakeStore()
	inner.failures = 1 << 30
	s := mustOpen(t, t.TempDir(), inner, Options{CloseTimeout: time.Millisecond})
	mustInsert(t, s, testEvents("mux", 0, 3))

	// Once loads fail readFailAfter times in a row, a read returns the
	// store's error instead of waiting for its context to end, which for
	// a dashboard request may be never.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.Overview(ctx, store.Filter{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Overview while every load fails: %v, want the store's error", err)
	}
	if _, err := s.DeleteInstall(ctx, "mux", "install-a"); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("DeleteInstall while every load fails: %v, want the store's error", err)
	}
	if err := s.Ping(ctx); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Ping while every load fails: %v, want the store's error", err)
	}
	if err := s.Close(); err == nil {
		t.Error("Close with 3 events not loaded returned nil")
	}
}

func TestCloseWaitsBetweenRetries(t *testing.T) {
	const failures = 1 << 30
	inner := newFakeStore()
	inner.failures = failures
	s := mustOpen(t, t.TempDir(), inner, Options{CloseTimeout: 300 * time.Millisecond})
	mustInsert(t, s, testEvents("mux", 0, 3))
	if err := s.Close(); err == nil {
		t.Error("Close with 3 events not loaded returned nil")
	}

	// The waits between tries start at minRetry (100 ms) and double, and
	// the last one ends at CloseTimeout, so Close has time for about four
	// tries. Without the waits it tries thousands of times.
	inner.mu.Lock()
	tries := failures - inner.failures
	inner.mu.Unlock()
	if tries > 10 {
		t.Errorf("Close tried %d loads within a CloseTimeout of 300 ms, want at most 10", tries)
	}
}

func TestPingAfterLoadsRecover(t *testing.T) {
	inner := newFakeStore()
	inner.failures = readFailAfter
	s := mustOpen(t, t.TempDir(), inner, Options{})
	defer s.Close()
	mustInsert(t, s, testEvents("mux", 0, 3))
	// The read waits through the failed loads and returns once a load
	// succeeds, or with the error of the last failed one.
	if _, err := s.Overview(context.Background(), store.Filter{}); err != nil {
		if _, err := s.Overview(context.Background(), store.Filter{}); err != nil {
			t.Fatalf("Overview after the store recovered: %v", err)
		}
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping after a load succeeded: %v", err)
	}
}

// fullDisk opens journal files that fail like files on a full disk while
// full is set: a write stores half of its bytes and fails with ENOSPC.
// While cutFails is set, truncations fail as well, as they can on a
// copy-on-write file system.
type fullDisk struct {
	mu       sync.Mutex
	full     bool
	cutFails bool
}

func (d *fullDisk) set(full, cutFails bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.full, d.cutFails = full, cutFails
}

func (d *fullDisk) state() (full, cutFails bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.full, d.cutFails
}

func (d *fullDisk) open(name string, flag int, perm os.FileMode) (segmentFile, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &fullDiskFile{File: f, disk: d}, nil
}

type fullDiskFile struct {
	*os.File
	disk *fullDisk
}

func (f *fullDiskFile) Write(b []byte) (int, error) {
	if full, _ := f.disk.state(); !full {
		return f.File.Write(b)
	}
	n, err := f.File.Write(b[:len(b)/2])
	if err != nil {
		return n, err
	}
	return n, syscall.ENOSPC
}

func (f *fullDiskFile) Truncate(size int64) error {
	if _, cutFails := f.disk.state(); cutFails {
		return syscall.ENOSPC
	}
	return f.File.Truncate(size)
}

// recoveredUUIDs loads a copy of the journal in dir into a new store, as a
// start after a crash at this moment would, and returns the UUIDs loaded.
func recoveredUUIDs(t *testing.T, dir string) []string {
	t.Helper()
	copyDir := filepath.Join(t.TempDir(), "journal")
	if err := os.CopyFS(copyDir, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	inner := newFakeStore()
	if err := Recover(copyDir, inner, Options{}); err != nil {
		t.Fatalf("recover a copy of the journal: %v", err)
	}
	var uuids []string
	for _, e := range inner.events {
		uuids = append(uuids, e.UUID)
	}
	slices.Sort(uuids)
	return uuids
}

// uuidsOf returns the sorted UUIDs of the testEvents of project mux that
// start at each of firsts, two events each.
func uuidsOf(firsts ...int) []string {
	var uuids []string
	for _, first := range firsts {
		for _, e := range testEvents("mux", first, 2) {
			uuids = append(uuids, e.UUID)
		}
	}
	slices.Sort(uuids)
	return uuids
}

// openGated opens a journal on disk whose store holds every load until
// the test ends, so that the journal files keep every record.
func openGated(t *testing.T, dir string, disk *fullDisk) (*Store, *fakeStore) {
	t.Helper()
	inner := newFakeStore()
	inner.gate = make(chan struct{})
	s := mustOpen(t, dir, inner, Options{openFile: disk.open})
	t.Cleanup(func() {
		close(inner.gate)
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, inner
}

func TestInsertAfterDiskFreed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	disk := &fullDisk{}
	s, _ := openGated(t, dir, disk)
	mustInsert(t, s, testEvents("mux", 0, 2))

	// The failed write is cut off the file, so the journal is not broken.
	disk.set(true, false)
	if _, err := s.Insert(ctx, testEvents("mux", 2, 2)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Insert on a full disk: %v, want ENOSPC", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after a failed write was cut off: %v, want nil", err)
	}
	if got, want := recoveredUUIDs(t, dir), uuidsOf(0); !slices.Equal(got, want) {
		t.Errorf("journal on a full disk holds %v, want the acknowledged %v", got, want)
	}

	disk.set(false, false)
	mustInsert(t, s, testEvents("mux", 4, 2))
	if got, want := recoveredUUIDs(t, dir), uuidsOf(0, 4); !slices.Equal(got, want) {
		t.Errorf("journal after the disk was freed holds %v, want the acknowledged %v", got, want)
	}
}

// TestBrokenJournalRepairsItself fills the disk so that a failed write
// cannot be cut off the file, which leaves the journal broken, and checks
// that it takes events again once the disk has room, without a restart.
func TestBrokenJournalRepairsItself(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	disk := &fullDisk{}
	s, _ := openGated(t, dir, disk)
	mustInsert(t, s, testEvents("mux", 0, 2))

	disk.set(true, true)
	_, err := s.Insert(ctx, testEvents("mux", 2, 2))
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "free space in "+dir) {
		t.Fatalf("Insert on a full disk: %v, want ENOSPC and the folder to free", err)
	}
	if _, err := s.Insert(ctx, testEvents("mux", 4, 2)); err == nil {
		t.Fatal("Insert into a broken journal on a full disk returned nil")
	}
	// Every Insert fails now, so /readyz must not report the store ready.
	if err := s.Ping(ctx); err == nil || !strings.Contains(err.Error(), "cutting") {
		t.Errorf("Ping of a broken journal: %v, want the error of the failed cut", err)
	}
	// A start now reads the file up to the partial record, the newest one.
	if got, want := recoveredUUIDs(t, dir), uuidsOf(0); !slices.Equal(got, want) {
		t.Errorf("broken journal holds %v, want the acknowledged %v", got, want)
	}

	// Ping repairs the journal once the file can be cut, with no Insert.
	disk.set(true, false)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping once the cut works: %v, want nil", err)
	}
	// Writes fail while the disk is full, but they are cut off again.
	if _, err := s.Insert(ctx, testEvents("mux", 6, 2)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Insert on a full disk after the repair: %v, want ENOSPC", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after a failed write was cut off: %v, want nil", err)
	}

	disk.set(false, false)
	mustInsert(t, s, testEvents("mux", 8, 2))
	if got, want := recoveredUUIDs(t, dir), uuidsOf(0, 8); !slices.Equal(got, want) {
		t.Errorf("repaired journal holds %v, want the acknowledged %v", got, want)
	}
}

func TestInsertRepairsBrokenJournal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	disk := &fullDisk{}
	s, _ := openGated(t, dir, disk)

	disk.set(true, true)
	if _, err := s.Insert(ctx, testEvents("mux", 0, 2)); err == nil {
		t.Fatal("Insert on a full disk returned nil")
	}
	disk.set(false, false)
	mustInsert(t, s, testEvents("mux", 2, 2))
	if got, want := recoveredUUIDs(t, dir), uuidsOf(2); !slices.Equal(got, want) {
		t.Errorf("journal repaired by Insert holds %v, want the acknowledged %v", got, want)
	}
}

func TestLoadedFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	inner := newFakeStore()
	s := mustOpen(t, dir, inner, Options{SegmentBytes: 1})
	for i := range 5 {
		mustInsert(t, s, testEvents("mux", i, 1))
	}
	if _, err := s.Overview(context.Background(), store.Filter{}); err != nil {
		t.Fatal(err)
	}
	// The loader removes the files right after the load that Overview
	// waited for.
	files := journalFiles(t, dir)
	for deadline := time.Now().Add(5 * time.Second); len(files) > 1 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		files = journalFiles(t, dir)
	}
	if len(files) != 1 {
		t.Errorf("journal files after every load: %v, want the active one", files)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if files := journalFiles(t, dir); len(files) != 0 {
		t.Errorf("journal files after Close: %v, want none", files)
	}
	if got := inner.count(); got != 5 {
		t.Errorf("the store holds %d events, want 5", got)
	}
}

// trafficStore is a fakeStore that, as steady traffic would, has one more
// call journaled during each load until calls run out, so the loader
// never finds every record loaded. It records the largest size of the
// journal folder at the start of each load.
type trafficStore struct {
	*fakeStore
	t        *testing.T
	journal  *Store
	dir      string
	calls    int
	maxBytes int64
	err      error
}

func (ts *trafficStore) Insert(ctx context.Context, events []store.Event) (int, error) {
	ts.maxBytes = max(ts.maxBytes, folderBytes(ts.t, ts.dir))
	if ts.calls > 0 && ts.err == nil {
		ts.calls--
		_, ts.err = ts.journal.Insert(ctx, largeEvents(ts.calls))
	}
	return ts.fakeStore.Insert(ctx, events)
}

// largeEvents returns one event of 64 KiB with UUID i.
func largeEvents(i int) []store.Event {
	events := testEvents("mux", i, 1)
	events[0].Properties["text"] = strings.Repeat("x", 64<<10)
	return events
}

func folderBytes(t *testing.T, dir string) int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Error(err)
		return 0
	}
	var total int64
	for _, e := range entries {
		if info, err := e.Info(); err == nil {
			total += info.Size()
		}
	}
	return total
}

func TestJournalStaysSmallUnderSteadyTraffic(t *testing.T) {
	// maxReplayBytes bounds what Open may load again after a crash and
	// decodes in memory. Restarted on a 64 MiB file of small events,
	// candor serve peaked at 752 MB of RSS.
	const maxReplayBytes = 10 << 20
	const calls = 256 // 16 MiB in all

	dir := t.TempDir()
	inner := &trafficStore{fakeStore: newFakeStore(), t: t, dir: dir, calls: calls}
	s := mustOpen(t, dir, inner, Options{LoadDelay: time.Nanosecond})
	inner.journal = s
	mustInsert(t, s, largeEvents(calls))
	for inner.count() < calls+1 {
		if _, err := s.Overview(context.Background(), store.Filter{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	if inner.err != nil {
		t.Fatalf("Insert during a load: %v", inner.err)
	}
	if inner.maxBytes > maxReplayBytes {
		t.Errorf("the journal folder grew to %d bytes while every load found more calls, want at most %d", inner.maxBytes, maxReplayBytes)
	}
}

func TestCloseLoadsPending(t *testing.T) {
	inner := newFakeStore()
	gate := make(chan struct{})
	inner.gate = gate
	s := mustOpen(t, t.TempDir(), inner, Options{})
	mustInsert(t, s, testEvents("mux", 0, 2))
	mustInsert(t, s, testEvents("mux", 2, 2))
	go func() {
		time.Sleep(20 * time.Millisecond)
		close(gate)
	}()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := inner.count(); got != 4 {
		t.Errorf("after Close the store holds %d events, want 4", got)
	}
	if _, err := s.Insert(context.Background(), testEvents("mux", 4, 1)); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Insert after Close: %v, want store.ErrClosed", err)
	}
}

func TestOpenNeedsAnalytics(t *testing.T) {
	_, err := Open(t.TempDir(), struct{ store.Store }{newFakeStore()}, Options{})
	if err == nil || !strings.Contains(err.Error(), "no analytics") {
		t.Fatalf("Open with a store without analytics: %v", err)
	}
}

func TestCloseKeepsCheckpointWithFileLeft(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, newFakeStore(), Options{})
	mustInsert(t, s, testEvents("mux", 0, 2))
	if _, err := s.DeleteInstall(context.Background(), "mux", "install-a"); err != nil {
		t.Fatal(err)
	}
	// A non-empty folder in place of the journal file cannot be removed.
	files := journalFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("journal files: %v, want one", files)
	}
	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(files[0], "x"), 0o700); err != nil {
		t.Fatal(err)
	}

	if err := s.Close(); err == nil {
		t.Error("Close returned nil, want the failed removal")
	}
	checkpoint, err := readCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if checkpoint != 1 {
		t.Errorf("checkpoint after Close = %d, want 1: the file left behind holds record 1", checkpoint)
	}
}

func TestSecondCloseWaitsForFirst(t *testing.T) {
	inner := newFakeStore()
	gate := make(chan struct{})
	inner.gate = gate
	s := mustOpen(t, t.TempDir(), inner, Options{})
	mustInsert(t, s, testEvents("mux", 0, 2))

	first := make(chan error, 1)
	go func() { first <- s.Close() }()
	for !s.isClosing() {
		time.Sleep(time.Millisecond)
	}
	second := make(chan error, 1)
	go func() { second <- s.Close() }()
	select {
	case err := <-second:
		t.Fatalf("second Close returned %v while the first still loads", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(gate)
	if err := <-second; err != nil {
		t.Errorf("second Close: %v", err)
	}
	inner.mu.Lock()
	closed := inner.closed
	inner.mu.Unlock()
	if !closed {
		t.Error("the store was not closed when the second Close returned")
	}
	if err := <-first; err != nil {
		t.Errorf("first Close: %v", err)
	}
}

func TestDeletionWaitsForPartlyLoadedBatch(t *testing.T) {
	dir := t.TempDir()
	inner := newFakeStore()
	inner.failures, inner.failProject = 1, "other"
	s := mustOpen(t, dir, inner, Options{LoadDelay: time.Hour})
	defer s.Close()

	// Right after the deletion's wait for the loads, which covered no
	// record, a batch of two projects arrives, and a read starts its
	// load. The load inserts the mux event, fails on the other project's
	// and retries after minRetry.
	read := make(chan error, 1)
	s.afterDeleteBarrier = func() {
		mustInsert(t, s, append(testEvents("mux", 0, 1), testEvents("other", 0, 1)...))
		go func() {
			_, err := s.Overview(context.Background(), store.Filter{})
			read <- err
		}()
		for deadline := time.Now().Add(5 * time.Second); inner.count() == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if inner.count() != 1 {
			t.Fatalf("the store holds %d events, want the mux event of the partly loaded batch", inner.count())
		}
	}
	if _, err := s.DeleteInstall(context.Background(), "mux", "install-a"); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatal(err)
	}

	// A crash now and a restart load the journal after the checkpoint,
	// which must not bring the deleted event back.
	crashed := filepath.Join(t.TempDir(), "journal")
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := Recover(crashed, inner, Options{}); err != nil {
		t.Fatal(err)
	}
	inner.mu.Lock()
	_, back := inner.events["mux/"+testEvents("mux", 0, 1)[0].UUID]
	inner.mu.Unlock()
	if back {
		t.Error("the deleted event came back from the journal after a crash")
	}
}

// readRejectedFile returns the contents of the one file of rejected
// events in the journal folder dir, and fails the test unless there is
// exactly one.
func readRejectedFile(t *testing.T, dir string) []byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, rejectedDir, "*.jsonl"))
	if err != nil || len(files) != 1 {
		t.Fatalf("rejected files: %v, %v; want one", files, err)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// waitLoaded waits until nothing is pending in s.
func waitLoaded(t *testing.T, s *Store) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.Pending() > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d events still pending", s.Pending())
		}
	}
}

func TestRejectedEventSetAside(t *testing.T) {
	dir := t.TempDir()
	inner := newFakeStore()
	events := testEvents("mux", 0, 3)
	inner.reject = events[1].UUID
	s := mustOpen(t, dir, inner, Options{})
	defer s.Close()
	mustInsert(t, s, events)
	mustInsert(t, s, testEvents("mux", 3, 1))
	waitLoaded(t, s)

	if got := inner.count(); got != 3 {
		t.Errorf("the store holds %d events, want the 3 it accepts", got)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping after the rejected event was set aside: %v", err)
	}
	data := readRejectedFile(t, dir)
	var got struct {
		UUID  string `json:"uuid"`
		Event string `json:"event"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("rejected file %q: %v", data, err)
	}
	if got.UUID != events[1].UUID || got.Event != "app_started" || !strings.Contains(got.Error, "invalid value") {
		t.Errorf("rejected event: %+v, want %s with the store's error", got, events[1].UUID)
	}
}

func TestUnavailableStoreSetsNothingAside(t *testing.T) {
	dir := t.TempDir()
	inner := newFakeStore()
	events := testEvents("mux", 0, 3)
	inner.unavailable = events[1].UUID
	s := mustOpen(t, dir, inner, Options{})
	defer s.Close()
	totals := tallyLoads(s)
	mustInsert(t, s, events)

	// Wait until the one-by-one pass has stored the event before the one
	// the store cannot take.
	waitForFirstStored(t, inner)
	if got := s.Pending(); got == 0 {
		t.Error("nothing pending while the store cannot take an event, want the event kept")
	}

	inner.mu.Lock()
	inner.unavailable = ""
	inner.mu.Unlock()
	waitLoaded(t, s)
	if got := inner.count(); got != 3 {
		t.Errorf("the store holds %d events after it recovered, want 3", got)
	}
	if reported, stored := totals(); reported != 3 || stored != 3 {
		t.Errorf("reported %d events, %d of them stored; want 3 and 3, no duplicates", reported, stored)
	}
	files, err := filepath.Glob(filepath.Join(dir, rejectedDir, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) > 0 {
		t.Errorf("rejected files %v, want none: the store failed, not the event", files)
	}
}

func TestUnavailableStoreStopsOneByOne(t *testing.T) {
	inner := newFakeStore()
	events := testEvents("mux", 0, 50)
	inner.unavailable = events[1].UUID
	s := mustOpen(t, t.TempDir(), inner, Options{})
	defer s.Close()
	mustInsert(t, s, events)

	// Three loads of the batch fail, then the one-by-one pass stores
	// events[0] and fails on events[1], and the next load fails again.
	hits := func() int {
		inner.mu.Lock()
		defer inner.mu.Unlock()
		return inner.unavailableHits
	}
	for deadline := time.Now().Add(20 * time.Second); hits() < readFailAfter+2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d inserts failed on the unavailable event, want %d", hits(), readFailAfter+2)
		}
	}
	if got := inner.count(); got != 1 {
		t.Errorf("the store holds %d events, want 1: the one-by-one pass goes on after the store failed", got)
	}

	inner.mu.Lock()
	inner.unavailable = ""
	inner.mu.Unlock()
	waitLoaded(t, s)
	if got := inner.count(); got != len(events) {
		t.Errorf("the store holds %d events after it recovered, want %d", got, len(events))
	}
}

func TestOpenKeepsEventsOfUnavailableStore(t *testing.T) {
	dir := t.TempDir()
	inner := newFakeStore()
	events := testEvents("mux", 0, 3)
	inner.gate = make(chan struct{}) // nothing loads before the crash
	s := mustOpen(t, dir, inner, Options{CloseTimeout: time.Millisecond})
	mustInsert(t, s, events)
	s.Close()

	inner = newFakeStore()
	inner.unavailable = events[1].UUID
	if _, err := Open(dir, inner, Options{}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open with a store that cannot take an event: %v, want store.ErrUnavailable", err)
	}
	inner.unavailable = ""
	reopened := mustOpen(t, dir, inner, Options{})
	defer reopened.Close()
	if got := inner.count(); got != 3 {
		t.Errorf("the store holds %d events after Open, want 3", got)
	}
}

func TestDeletionRemovesRejectedEvents(t *testing.T) {
	dir := t.TempDir()
	inner := newFakeStore()
	events := testEvents("mux", 0, 3)
	events[2].DistinctID = "install-b"
	events[2].Timestamp = day.AddDate(1, 0, 0)
	inner.reject = events[1].UUID
	s := mustOpen(t, dir, inner, Options{})
	defer s.Close()
	mustInsert(t, s, events)
	waitLoaded(t, s)
	// Set aside a second event, of install-b, in its own file.
	inner.mu.Lock()
	inner.reject = events[2].UUID
	inner.mu.Unlock()
	mustInsert(t, s, []store.Event{events[2], testEvents("mux", 3, 1)[0]})
	waitLoaded(t, s)
	files, err := filepath.Glob(filepath.Join(dir, rejectedDir, "*.jsonl"))
	if err != nil || len(files) != 2 {
		t.Fatalf("rejected files: %v, %v; want two", files, err)
	}

	if _, err := s.DeleteInstall(context.Background(), "mux", "install-a"); err != nil {
		t.Fatalf("DeleteInstall: %v", err)
	}
	data := readRejectedFile(t, dir)
	if bytes.Contains(data, []byte("install-a")) || !bytes.Contains(data, []byte(events[2].UUID)) {
		t.Errorf("rejected events after deleting install-a: %q, want only %s of install-b", data, events[2].UUID)
	}

	if _, err := s.DeleteBefore(context.Background(), day.AddDate(2, 0, 0)); err != nil {
		t.Fatalf("DeleteBefore: %v", err)
	}
	if files, err := filepath.Glob(filepath.Join(dir, rejectedDir, "*")); err != nil || len(files) != 0 {
		t.Errorf("rejected files after deleting every event: %v, %v; want none", files, err)
	}
}

func TestFailingStoreSetsNothingAside(t *testing.T) {
	dir := t.TempDir()
	inner := newFakeStore()
	// Three failed loads, then one failed insert for each of the 2
	// events, after which the store works again.
	inner.failures = readFailAfter + 2
	s := mustOpen(t, dir, inner, Options{})
	defer s.Close()
	mustInsert(t, s, testEvents("mux", 0, 2))
	waitLoaded(t, s)

	if got := inner.count(); got != 2 {
		t.Errorf("the store holds %d events, want 2", got)
	}
	if _, err := os.Stat(filepath.Join(dir, rejectedDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rejected folder: %v, want none", err)
	}
}

func TestOpenSetsAsideRejectedEvent(t *testing.T) {
	dir := t.TempDir()
	events := testEvents("mux", 0, 3)
	leaveInJournal(t, dir, Options{}, events)

	inner := newFakeStore()
	inner.reject = events[2].UUID
	s := mustOpen(t, dir, inner, Options{})
	defer s.Close()
	if got := inner.count(); got != 2 {
		t.Errorf("after Open the store holds %d events, want the 2 it accepts", got)
	}
	data := readRejectedFile(t, dir)
	if !strings.Contains(string(data), events[2].UUID) {
		t.Errorf("rejected file %q lacks %s", data, events[2].UUID)
	}
}

func TestRejectedEventAloneSetAside(t *testing.T) {
	dir := t.TempDir()
	inner := newFakeStore()
	rejected := testEvents("mux", 0, 1)
	inner.reject = rejected[0].UUID
	s := mustOpen(t, dir, inner, Options{})
	defer s.Close()

	// The rejected event's load fails alone, with nothing to show that the
	// store works, until an event journaled after it goes in.
	mustInsert(t, s, rejected)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		inner.mu.Lock()
		n := inner.rejected
		inner.mu.Unlock()
		if n >= readFailAfter+2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d failed inserts of the rejected event, want %d", n, readFailAfter+2)
		}
	}
	mustInsert(t, s, testEvents("mux", 1, 1))
	waitLoaded(t, s)

	if got := inner.count(); got != 1 {
		t.Errorf("the store holds %d events, want the one it accepts", got)
	}
	readRejectedFile(t, dir)
}

func TestInsertFailsWhenNoNewFileCanStart(t *testing.T) {
	dir := t.TempDir()
	const segmentBytes = 1024
	s := mustOpen(t, dir, newFakeStore(), Options{SegmentBytes: segmentBytes, LoadDelay: time.Hour})
	defer s.Close()

	// A folder in the place of every file the journal could start next
	// makes each rotation fail, as a folder without write permission does.
	for seq := uint64(2); seq < 200; seq++ {
		if err := os.Mkdir(filepath.Join(dir, segmentName(seq)), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	for i := 0; i < 200 && err == nil; i++ {
		_, err = s.Insert(context.Background(), testEvents("mux", i, 1))
	}
	if err == nil || !strings.Contains(err.Error(), "no new journal file can be created") {
		t.Fatalf("Insert while no file can start: %v, want an error about the journal folder", err)
	}
	info, statErr := os.Stat(filepath.Join(dir, segmentName(1)))
	if statErr != nil {
		t.Fatal(statErr)
	}
	if info.Size() > maxSegmentFactor*segmentBytes+1024 {
		t.Errorf("the journal file grew to %d bytes, want at most about %d", info.Size(), maxSegmentFactor*segmentBytes)
	}

	// Once a file can start again, Insert takes events again.
	for seq := uint64(2); seq < 200; seq++ {
		os.Remove(filepath.Join(dir, segmentName(seq)))
	}
	mustInsert(t, s, testEvents("mux", 500, 1))
}

// TestOneByOneCountsResentDuplicates loads a batch that contains one event
// twice, as a client that resent a request produces, through the
// one-by-one pass. The second copy is a duplicate the store skips, and the
// reports must count it, whether the batch is then set aside or loaded
// whole once the store recovers.
func TestOneByOneCountsResentDuplicates(t *testing.T) {
	for _, tc := range []struct {
		name        string
		unavailable bool // the store fails on its own and recovers, rather than rejecting the event
	}{
		{"event rejected", false},
		{"store unavailable", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := newFakeStore()
			events := testEvents("mux", 0, 3)
			events = append(events, events[0]) // the resent copy
			if tc.unavailable {
				inner.unavailable = events[1].UUID
			} else {
				inner.reject = events[1].UUID
			}
			s := mustOpen(t, t.TempDir(), inner, Options{})
			defer s.Close()
			totals := tallyLoads(s)
			mustInsert(t, s, events)

			if tc.unavailable {
				waitForFirstStored(t, inner)
				inner.mu.Lock()
				inner.unavailable = ""
				inner.mu.Unlock()
			}
			waitLoaded(t, s)

			wantStored := 2
			if tc.unavailable {
				wantStored = 3
			}
			reported, stored := totals()
			if reported != wantStored+1 {
				t.Errorf("reported %d events, want %d: the resent copy counts once", reported, wantStored+1)
			}
			if stored != wantStored {
				t.Errorf("reported %d events stored, want %d", stored, wantStored)
			}
		})
	}
}
