// Package logutil holds logging helpers shared by the collector and the server.
package logutil

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Interval is the shortest time between two log lines of one Limiter.
const Interval = 10 * time.Second

// Limiter logs a repeated message at most once per Interval and adds the
// number of lines it held back since the previous line as "suppressed".
// A line that follows no held-back line has no "suppressed" attribute.
// The zero value is ready to use, and a Limiter is safe for concurrent use.
type Limiter struct {
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// Error logs msg at slog.LevelError unless the Limiter logged within Interval.
func (l *Limiter) Error(logger *slog.Logger, msg string, args ...any) {
	l.log(logger, slog.LevelError, msg, args)
}

// Warn logs msg at slog.LevelWarn unless the Limiter logged within Interval.
func (l *Limiter) Warn(logger *slog.Logger, msg string, args ...any) {
	l.log(logger, slog.LevelWarn, msg, args)
}

func (l *Limiter) log(logger *slog.Logger, level slog.Level, msg string, args []any) {
	l.mu.Lock()
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	if !l.last.IsZero() && now.Sub(l.last) < Interval {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	if l.suppressed > 0 {
		args = append(args, "suppressed", l.suppressed)
	}
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	logger.Log(context.Background(), level, msg, args...)
}
