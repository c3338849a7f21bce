package dashboard

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// storePingTimeout bounds the ping that distinguishes a store that does
// not respond from a query that is too slow.
const storePingTimeout = 2 * time.Second

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

// isTimeout reports whether err is a timeout: a context deadline, such as
// Config.QueryTimeout, or a timeout of the store's own network client.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}
