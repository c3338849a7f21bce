package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// serverPingTimeout bounds each ping of whileResponsive. GET /ping runs no
// query, so a server that takes longer is stopped, cut off or overloaded.
const serverPingTimeout = 2 * time.Second

// serverWatchInterval is how long a call runs before whileResponsive first
// pings the server, and the pause between its pings. A call that returns
// sooner costs no ping.
const serverWatchInterval = time.Second

// unresponsiveHold is how long after a failed ping whileResponsive fails
// calls at once, without sending them. Calls that queued behind a lock of
// the Store while the first one waited for its ping then return together
// instead of taking 3 s each.
const unresponsiveHold = serverWatchInterval + serverPingTimeout

// failedPing is a ping of whileResponsive that failed.
type failedPing struct {
	at  time.Time
	err error
}

// whileResponsive runs fn with a context that ends when the server stops
// responding to pings, and returns fn's error. When a ping ended fn, it
// returns the ping's error, which matches store.ErrUnavailable, so that
// the collector responds with 503 and Retry-After within about 3 s instead of
// holding the request until its deadline. For unresponsiveHold after a
// failed ping it returns an error that matches store.ErrUnavailable
// without calling fn.
//
// The calls that insert, register, look up and delete run under it. A
// query of the dashboard does not, because the dashboard pings the store
// itself. A statement that fn had sent may still run when the server
// resumes: an INSERT then stores its events, and a mutation deletes.
func (s *Store) whileResponsive(ctx context.Context, fn func(ctx context.Context) error) error {
	if failed := s.lastFailedPing.Load(); failed != nil {
		if since := time.Since(failed.at); since < unresponsiveHold {
			return store.Unavailable(fmt.Errorf("clickhouse did not respond to a ping %s ago, so the statement was not sent: %w",
				since.Round(time.Millisecond), failed.err))
		}
	}

	ping := func(ctx context.Context) error {
		err := s.client.ping(ctx)
		if err == nil {
			s.lastFailedPing.Store(nil)
		}
		return err
	}
	err, pingErr := store.WhileResponsive(ctx, serverWatchInterval, serverPingTimeout, ping, fn)
	if pingErr == nil {
		return err
	}
	s.lastFailedPing.Store(&failedPing{at: time.Now(), err: pingErr})
	if err == nil {
		return nil
	}
	return store.Unavailable(fmt.Errorf("clickhouse did not respond to a ping within %s while a statement ran: %w", serverPingTimeout, pingErr))
}
