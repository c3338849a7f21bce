package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// storePingTimeout bounds the ping that distinguishes a store that does
// not respond from a query that is too slow.
const storePingTimeout = 2 * time.Second

// storeWatchInterval is how long a query runs before watchStore first
// pings the store, and the pause between its pings. A query that returns
// sooner costs no ping.
const storeWatchInterval = time.Second

// storeRetryAfter is the Retry-After of a 503 response for an unavailable
// store.
const storeRetryAfter = 5 * time.Second

// storeUnavailable reports whether a query failed with err because the
// store is down or hung rather than because of the query. That is the case
// for an error marked with store.Unavailable, a refused connection, and a
// timeout after which the store does not respond to a ping either. ctx is
// the request's context, which bounds the ping.
func (h *Handler) storeUnavailable(ctx context.Context, err error) bool {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	if !isTimeout(err) || ctx.Err() != nil {
		return false
	}

	pingCtx, cancel := context.WithTimeout(ctx, storePingTimeout)
	defer cancel()
	pingErr := store.Ping(pingCtx, h.store)
	if pingErr == nil {
		return false
	}
	h.logger.Error("store ping failed after a query timed out", "timeout", storePingTimeout, "err", pingErr)
	return true
}

// watchStore runs the query fn while it pings the store every
// storeWatchInterval (store.WhileResponsive). A ping that fails or takes
// longer than storePingTimeout ends the query, so a query on a hung or
// unreachable store ends after about 3 s instead of Config.QueryTimeout,
// while a slow query on a store that responds to pings runs on. The error
// of a query that a ping ended is the ping's, marked with
// store.Unavailable. The DuckDB, journal and ClickHouse stores have Ping
// methods that run no query, so queries in flight do not delay a ping.
// Another store is pinged with an Overview of an empty time range (see
// store.Ping).
func (h *Handler) watchStore(ctx context.Context, fn func(ctx context.Context) error) error {
	ping := func(ctx context.Context) error { return store.Ping(ctx, h.store) }
	err, pingErr := store.WhileResponsive(ctx, storeWatchInterval, storePingTimeout, ping, fn)
	if err != nil && pingErr != nil {
		return store.Unavailable(fmt.Errorf("store ping failed while a query ran (timeout %s): %w", storePingTimeout, pingErr))
	}
	return err
}

// isTimeout reports whether err is a timeout: a context deadline, such as
// Config.QueryTimeout, or a timeout of the store's own network client.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}
