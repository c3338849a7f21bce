// Package safelog wraps an app's slog.Logger so that a panic in its handler
// stays inside the SDK. A handler that panics loses the record, and the
// panic is counted instead of logged, because logging it would call the
// same handler again.
package safelog

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
)

// ErrHandlerPanicked is returned by the wrapped handler's Handle when the
// app's handler panicked on the record.
var ErrHandlerPanicked = errors.New("slog handler panicked")

// New returns a logger that sends each record to logger's handler and
// recovers a panic in any of the handler's methods, adding one to
// failures for each. A nil logger discards every record.
func New(logger *slog.Logger, failures *atomic.Int64) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(handler{next: logger.Handler(), failures: failures})
}

// handler recovers the panics of next, the app's handler.
type handler struct {
	next     slog.Handler
	failures *atomic.Int64
}

// recovered reports whether the deferred call recovered a panic, and
// counts it.
func (h handler) recovered(r any) bool {
	if r == nil {
		return false
	}
	h.failures.Add(1)
	return true
}

func (h handler) Enabled(ctx context.Context, level slog.Level) (enabled bool) {
	defer func() {
		if h.recovered(recover()) {
			enabled = false
		}
	}()
	return h.next.Enabled(ctx, level)
}

func (h handler) Handle(ctx context.Context, record slog.Record) (err error) {
	defer func() {
		if h.recovered(recover()) {
			err = ErrHandlerPanicked
		}
	}()
	return h.next.Handle(ctx, record)
}

// WithAttrs returns a handler that discards every record when next's
// WithAttrs panics, since no handler with the attributes exists then.
func (h handler) WithAttrs(attrs []slog.Attr) (out slog.Handler) {
	defer func() {
		if h.recovered(recover()) {
			out = slog.DiscardHandler
		}
	}()
	return handler{next: h.next.WithAttrs(attrs), failures: h.failures}
}

// WithGroup returns a handler that discards every record when next's
// WithGroup panics.
func (h handler) WithGroup(name string) (out slog.Handler) {
	defer func() {
		if h.recovered(recover()) {
			out = slog.DiscardHandler
		}
	}()
	return handler{next: h.next.WithGroup(name), failures: h.failures}
}
