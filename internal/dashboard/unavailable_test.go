package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/dashboard"
	"github.com/candor-dev/candor/internal/store"
)

// stallingStore is a store.Store whose Overview returns overviewErr, or
// waits for its context to end when overviewErr is nil, and whose Ping
// returns pingErr. The embedded Store is nil, because the overview route
// and the ping call only these two methods.
type stallingStore struct {
	store.Store
	overviewErr error
	pingErr     error
}

func (s stallingStore) Overview(ctx context.Context, _ store.Filter) (store.Overview, error) {
	if s.overviewErr != nil {
		return store.Overview{}, s.overviewErr
	}
	<-ctx.Done()
	return store.Overview{}, fmt.Errorf("query overview: %w", ctx.Err())
}

func (s stallingStore) Ping(context.Context) error { return s.pingErr }

// refusedError is the error of a dial to a port where no server listens.
var refusedError = &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}

func TestQueryErrorStatus(t *testing.T) {
	tests := []struct {
		name        string
		store       stallingStore
		status      int
		retryAfter  bool
		message     string
		notInBody   string
		loggedError string
	}{
		{
			name:        "store marked unavailable",
			store:       stallingStore{overviewErr: store.Unavailable(errors.New("disk I/O error"))},
			status:      http.StatusServiceUnavailable,
			retryAfter:  true,
			message:     "store is unavailable",
			notInBody:   "narrow",
			loggedError: "disk I/O error",
		},
		{
			name:        "connection refused",
			store:       stallingStore{overviewErr: fmt.Errorf("query overview: %w", refusedError)},
			status:      http.StatusServiceUnavailable,
			retryAfter:  true,
			message:     "store is unavailable",
			notInBody:   "narrow",
			loggedError: "connection refused",
		},
		{
			name:        "timeout and failed ping",
			store:       stallingStore{pingErr: fmt.Errorf("ping: %w", context.DeadlineExceeded)},
			status:      http.StatusServiceUnavailable,
			retryAfter:  true,
			message:     "store is unavailable",
			notInBody:   "narrow",
			loggedError: "deadline exceeded",
		},
		{
			name:        "timeout and successful ping",
			store:       stallingStore{},
			status:      http.StatusServiceUnavailable,
			message:     "narrow the date range",
			notInBody:   "unavailable",
			loggedError: "deadline exceeded",
		},
		{
			name:        "other error",
			store:       stallingStore{overviewErr: errors.New("syntax error at position 12")},
			status:      http.StatusInternalServerError,
			message:     "query failed",
			notInBody:   "syntax error",
			loggedError: "syntax error at position 12",
		},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			logger, logs := logBuffer()
			server := startServer(t, dashboard.Config{Store: test.store, Logger: logger, QueryTimeout: 50 * time.Millisecond})

			response, body := send(t, server, http.MethodGet, "/api/v1/overview", withBearer(adminToken))
			if response.StatusCode != test.status {
				t.Errorf("status = %d, want %d", response.StatusCode, test.status)
			}
			if got := response.Header.Get("Retry-After"); (got != "") != test.retryAfter {
				t.Errorf("Retry-After = %q, want one: %v", got, test.retryAfter)
			}
			if !strings.Contains(body, test.message) {
				t.Errorf("body = %s, want it to contain %q", body, test.message)
			}
			if strings.Contains(body, test.notInBody) {
				t.Errorf("body = %s, want it without %q", body, test.notInBody)
			}
			if !strings.Contains(logs.String(), test.loggedError) {
				t.Errorf("log %q does not contain the store error %q", logs.String(), test.loggedError)
			}
		})
	}
}

// While the store is down every API request fails the same way, so the
// log keeps one line per logutil.Interval and counts the rest.
func TestQueryFailedLogIsRateLimited(t *testing.T) {
	logger, logs := logBuffer()
	clock := &fakeClock{now: time.Date(2024, time.May, 6, 12, 0, 0, 0, time.UTC)}
	server := startServer(t, dashboard.Config{
		Store:  stallingStore{overviewErr: fmt.Errorf("query overview: %w", refusedError)},
		Logger: logger,
		Now:    clock.Now,
	})

	for range 20 {
		response, _ := send(t, server, http.MethodGet, "/api/v1/overview", withBearer(adminToken))
		if response.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status = %d, want 503", response.StatusCode)
		}
	}
	clock.Add(time.Minute)
	send(t, server, http.MethodGet, "/api/v1/overview", withBearer(adminToken))

	var lines []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `msg="query failed"`) {
			lines = append(lines, line)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("logged %d query failed lines for 21 failed requests, want 2:\n%s", len(lines), logs.String())
	}
	if strings.Contains(lines[0], "suppressed=") {
		t.Errorf("first line has a suppressed count, but no line was held back before it:\n%s", lines[0])
	}
	if !strings.Contains(lines[1], "suppressed=19") {
		t.Errorf("second line does not count the 19 suppressed lines:\n%s", lines[1])
	}
}

// httpStore is a store.Store whose Overview and Ping each send a GET to an
// HTTP server, as the ClickHouse store does, and fail unless it responds
// 200 OK before their context ends.
type httpStore struct {
	store.Store
	queryURL, pingURL string
}

func (s httpStore) Overview(ctx context.Context, _ store.Filter) (store.Overview, error) {
	if err := getOK(ctx, s.queryURL); err != nil {
		return store.Overview{}, fmt.Errorf("query overview: %w", err)
	}
	return store.Overview{Events: map[string]int64{}}, nil
}

func (s httpStore) Ping(ctx context.Context) error { return getOK(ctx, s.pingURL) }

func getOK(ctx context.Context, url string) error {
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, response.StatusCode)
	}
	return nil
}

// startDelayedServer starts an HTTP server that responds 200 OK after
// delay, or, with a negative delay, never: it holds each request until the
// client gives up or the test ends, like a paused ClickHouse server.
func startDelayedServer(t *testing.T, delay time.Duration) string {
	t.Helper()
	release := make(chan struct{})
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var after <-chan time.Time
		if delay >= 0 {
			after = time.After(delay)
		}
		select {
		case <-after:
			w.WriteHeader(http.StatusOK)
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(server.Close)
	t.Cleanup(func() { close(release) })
	return server.URL
}

func TestHungStoreGets503Quickly(t *testing.T) {
	hung := startDelayedServer(t, -1)
	logger, logs := logBuffer()
	server := startServer(t, dashboard.Config{
		Store:  httpStore{queryURL: hung + "/query", pingURL: hung + "/ping"},
		Logger: logger,
	})

	start := time.Now()
	response, body := send(t, server, http.MethodGet, "/api/v1/overview", withBearer(adminToken))
	elapsed := time.Since(start)

	if response.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503; body: %s", response.StatusCode, body)
	}
	if got := response.Header.Get("Retry-After"); got == "" {
		t.Error("Retry-After is missing")
	}
	if !strings.Contains(body, "store is unavailable") {
		t.Errorf("body = %s, want it to say the store is unavailable", body)
	}
	// One watch interval of 1 s plus a ping timeout of 2 s take about 3 s.
	// The bound leaves a loaded CI machine 12 s more and stays at half of
	// DefaultQueryTimeout, which a response without the watch would take.
	if elapsed > dashboard.DefaultQueryTimeout/2 {
		t.Errorf("response took %s, want about 3 s and less than %s", elapsed.Round(time.Millisecond), dashboard.DefaultQueryTimeout/2)
	}
	if !strings.Contains(logs.String(), "store ping failed while a query ran") {
		t.Errorf("log %q does not contain the failed ping", logs.String())
	}
}

func TestSlowQueryOnLiveStoreRunsOn(t *testing.T) {
	const queryTime = 3500 * time.Millisecond
	slow := startDelayedServer(t, queryTime)
	live := startDelayedServer(t, 0)
	server := startServer(t, dashboard.Config{
		Store: httpStore{queryURL: slow + "/query", pingURL: live + "/ping"},
	})

	start := time.Now()
	response, body := send(t, server, http.MethodGet, "/api/v1/overview", withBearer(adminToken))
	elapsed := time.Since(start)

	if response.StatusCode != http.StatusOK {
		t.Errorf("status = %d, want 200; body: %s", response.StatusCode, body)
	}
	if elapsed < queryTime {
		t.Errorf("response took %s, want at least the query's %s", elapsed.Round(time.Millisecond), queryTime)
	}
}
