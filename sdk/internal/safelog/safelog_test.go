package safelog_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/candor-dev/candor/sdk/internal/safelog"
	"github.com/candor-dev/candor/sdk/internal/safelogtest"
)

func TestHandlePanicCounted(t *testing.T) {
	var failures atomic.Int64
	logger := safelog.New(slog.New(safelogtest.PanickingHandler{InHandle: true}), &failures)

	logger.Info("first")
	logger.Info("second")

	if got := failures.Load(); got != 2 {
		t.Errorf("failures = %d after two records, want 2", got)
	}
	err := logger.Handler().Handle(context.Background(), slog.Record{})
	if !errors.Is(err, safelog.ErrHandlerPanicked) {
		t.Errorf("Handle = %v, want ErrHandlerPanicked", err)
	}
}

func TestEnabledPanicDisables(t *testing.T) {
	var failures atomic.Int64
	logger := safelog.New(slog.New(safelogtest.PanickingHandler{InEnabled: true}), &failures)

	if logger.Enabled(context.Background(), slog.LevelError) {
		t.Error("Enabled = true after the handler's Enabled panicked, want false")
	}
	if got := failures.Load(); got != 1 {
		t.Errorf("failures = %d, want 1", got)
	}
}

func TestWithAttrsPanicDiscards(t *testing.T) {
	var failures atomic.Int64
	logger := safelog.New(slog.New(safelogtest.PanickingHandler{InWithAttrs: true, InHandle: true}), &failures)

	logger.With("key", "value").Info("lost")

	if got := failures.Load(); got != 1 {
		t.Errorf("failures = %d, want 1 for WithAttrs and none for the discarded record", got)
	}
}

func TestWithGroupPanicDiscards(t *testing.T) {
	var failures atomic.Int64
	logger := safelog.New(slog.New(safelogtest.PanickingHandler{InWithGroup: true, InHandle: true}), &failures)

	logger.WithGroup("group").Info("lost")

	if got := failures.Load(); got != 1 {
		t.Errorf("failures = %d, want 1 for WithGroup and none for the discarded record", got)
	}
}

func TestNilLoggerDiscards(t *testing.T) {
	var failures atomic.Int64
	logger := safelog.New(nil, &failures)

	logger.Error("discarded")

	if logger.Enabled(context.Background(), slog.LevelError) {
		t.Error("Enabled = true for a nil logger, want false")
	}
	if got := failures.Load(); got != 0 {
		t.Errorf("failures = %d, want 0", got)
	}
}
