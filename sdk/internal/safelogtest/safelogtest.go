// Package safelogtest provides a slog handler that panics, for the tests
// of the SDK packages that wrap an app's logger with package safelog.
// Import it only from _test.go files, so that apps never compile it.
package safelogtest

import (
	"context"
	"log/slog"
)

// PanickingHandler is a slog.Handler whose methods panic where its fields
// are set. The other methods succeed: Enabled returns true for every
// level, Handle discards the record, and WithAttrs and WithGroup return
// the handler unchanged.
type PanickingHandler struct {
	InEnabled, InHandle, InWithAttrs, InWithGroup bool
}

func (h PanickingHandler) Enabled(context.Context, slog.Level) bool {
	if h.InEnabled {
		panic("Enabled failed")
	}
	return true
}

func (h PanickingHandler) Handle(context.Context, slog.Record) error {
	if h.InHandle {
		panic("Handle failed")
	}
	return nil
}

func (h PanickingHandler) WithAttrs([]slog.Attr) slog.Handler {
	if h.InWithAttrs {
		panic("WithAttrs failed")
	}
	return h
}

func (h PanickingHandler) WithGroup(string) slog.Handler {
	if h.InWithGroup {
		panic("WithGroup failed")
	}
	return h
}
