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

// watchStore returns a context for one query and a function to call when
// the query has returned. While the query runs, it pings the store every
// storeWatchInterval and cancels the context when a ping fails or takes
// longer than storePingTimeout. So a query on a hung or unreachable store
// ends after about 3 s instead of Config.QueryTimeout, while a slow query
// on a store that responds to pings runs on. stop returns the failed
// ping's error, marked with store.Unavailable, or nil. The DuckDB,
// journal and ClickHouse stores have Ping methods that run no query, so
// queries in flight do not delay a ping. Another store is pinged with an
// Overview of an empty time range (see store.Ping).
func (h *Handler) watchStore(ctx context.Context) (query context.Context, stop func() error) {
	query, cancelQuery := context.WithCancelCause(ctx)
	watch, endWatch := context.WithCancel(query)
	var pingErr error
	done := make(chan struct{})

	go func() {
		defer close(done)
		timer := time.NewTimer(storeWatchInterval)
		defer timer.Stop()
		for {
			select {
			case <-watch.Done():
				return
			case <-timer.C:
			}
			pingCtx, cancelPing := context.WithTimeout(watch, storePingTimeout)
			err := store.Ping(pingCtx, h.store)
			cancelPing()
			if watch.Err() != nil {
				// The query returned or ended during the ping.
				return
			}
			if err != nil {
				pingErr = store.Unavailable(fmt.Errorf("store ping failed while a query ran (timeout %s): %w", storePingTimeout, err))
				cancelQuery(pingErr)
				return
			}
			timer.Reset(storeWatchInterval)
		}
	}()

	stop = func() error {
		endWatch()
		<-done
		cancelQuery(nil)
		return pingErr
	}
	return query, stop
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
