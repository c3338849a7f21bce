package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// insertFailingStore is a store whose Insert returns insertErr while that
// is set, like a ClickHouse store whose user became read-only. Its ping
// still succeeds.
type insertFailingStore struct {
	store.Store
	mu        sync.Mutex
	insertErr error
}

func (s *insertFailingStore) Insert(ctx context.Context, events []store.Event) (int, error) {
	s.mu.Lock()
	err := s.insertErr
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return s.Store.Insert(ctx, events)
}

func (s *insertFailingStore) Ping(ctx context.Context) error {
	return store.Ping(ctx, s.Store)
}

func (s *insertFailingStore) setInsertErr(err error) {
	s.mu.Lock()
	s.insertErr = err
	s.mu.Unlock()
}

// startInsertFailingServer starts a server whose collector commits through
// an insertFailingStore, with the failing-commits thresholds of /readyz
// set to span and expiry.
func startInsertFailingServer(t *testing.T, logs *syncBuffer, span, expiry time.Duration) (*Server, *insertFailingStore) {
	t.Helper()
	failing := &insertFailingStore{}
	srv := startTunedServer(t, Config{
		WriteKey: testWriteKey, AdminToken: testAdminToken,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	}, func(s *Server) {
		// New built the collector on the store it opened, so the
		// collector is built again on the wrapper.
		if err := s.collector.Close(context.Background()); err != nil {
			t.Fatalf("close the first collector: %v", err)
		}
		failing.Store = s.store
		s.store = failing
		if err := s.buildHandlers(); err != nil {
			t.Fatalf("build handlers on the insert-failing store: %v", err)
		}
		s.httpServer.ConnState = s.listener.trackState
		s.failingCommitsSpan, s.failedCommitsExpiry = span, expiry
	})
	waitUntil(t, "ready", func() bool {
		status, _ := send(t, http.MethodGet, srv.URL()+"/readyz", "", "")
		return status == http.StatusOK
	})
	return srv, failing
}

// captureStatus sends one capture request with event number n and returns
// its status.
func captureStatus(t *testing.T, srv *Server, n int) int {
	t.Helper()
	id := fmt.Sprintf("0b7e7a38-6c1d-4f7e-9b1a-%012d", n)
	status, _ := send(t, http.MethodPost, srv.URL()+"/batch/", "", batch(testWriteKey, commandEvent(id, "install-1")))
	return status
}

func readyzResponse(t *testing.T, srv *Server) (int, string) {
	t.Helper()
	status, body := send(t, http.MethodGet, srv.URL()+"/readyz", "", "")
	return status, strings.TrimSpace(body)
}

func TestReadyzReportsFailingCommits(t *testing.T) {
	logs := &syncBuffer{}
	srv, failing := startInsertFailingServer(t, logs, 50*time.Millisecond, time.Minute)

	failing.setInsertErr(errors.New("readonly user: cannot insert"))
	if status := captureStatus(t, srv, 1); status != http.StatusServiceUnavailable {
		t.Fatalf("capture while inserts fail = %d, want 503", status)
	}
	if status, body := readyzResponse(t, srv); status != http.StatusOK {
		t.Errorf("/readyz after one failed commit = %d %q, want 200", status, body)
	}

	time.Sleep(60 * time.Millisecond)
	if status := captureStatus(t, srv, 2); status != http.StatusServiceUnavailable {
		t.Fatalf("second capture while inserts fail = %d, want 503", status)
	}
	if status, body := readyzResponse(t, srv); status != http.StatusServiceUnavailable || body != "commits failing" {
		t.Errorf("/readyz after two failed commits 60ms apart = %d %q, want 503 commits failing", status, body)
	}

	// The store works again, but /readyz waits for a commit to show it.
	failing.setInsertErr(nil)
	if status, body := readyzResponse(t, srv); status != http.StatusServiceUnavailable || body != "commits failing" {
		t.Errorf("/readyz before the next commit = %d %q, want 503 commits failing", status, body)
	}
	if status := captureStatus(t, srv, 3); status != http.StatusOK {
		t.Fatalf("capture after inserts work again = %d, want 200", status)
	}
	if status, body := readyzResponse(t, srv); status != http.StatusOK || body != "ready" {
		t.Errorf("/readyz after a successful commit = %d %q, want 200 ready", status, body)
	}

	if !strings.Contains(logs.String(), "commits keep failing; /readyz reports 503") {
		t.Errorf("log has no warning about failing commits:\n%s", logs.String())
	}
	var recovered []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "/readyz reports ready again") {
			recovered = append(recovered, line)
		}
	}
	if len(recovered) != 1 {
		t.Fatalf("logged %d recovery lines, want 1:\n%s", len(recovered), logs.String())
	}
	if !strings.Contains(recovered[0], `reason="commits failing"`) {
		t.Errorf("recovery line does not name failing commits as the reason: %s", recovered[0])
	}
}

func TestReadyzFailingCommitsExpire(t *testing.T) {
	srv, failing := startInsertFailingServer(t, &syncBuffer{}, 20*time.Millisecond, 300*time.Millisecond)

	failing.setInsertErr(errors.New("readonly user: cannot insert"))
	captureStatus(t, srv, 1)
	time.Sleep(30 * time.Millisecond)
	captureStatus(t, srv, 2)
	if status, body := readyzResponse(t, srv); status != http.StatusServiceUnavailable || body != "commits failing" {
		t.Fatalf("/readyz after two failed commits = %d %q, want 503 commits failing", status, body)
	}

	// Without traffic no commit runs, so the 503 ends after the expiry.
	waitUntil(t, "/readyz reports ready without a commit", func() bool {
		status, _ := readyzResponse(t, srv)
		return status == http.StatusOK
	})

	// The failures since the last successful commit still count, so one
	// more failed commit makes the server unready at once.
	if status := captureStatus(t, srv, 3); status != http.StatusServiceUnavailable {
		t.Fatalf("capture while inserts still fail = %d, want 503", status)
	}
	if status, body := readyzResponse(t, srv); status != http.StatusServiceUnavailable || body != "commits failing" {
		t.Errorf("/readyz after one more failed commit = %d %q, want 503 commits failing", status, body)
	}
}
