package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
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
