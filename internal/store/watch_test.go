package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWhileResponsiveEndsCallOnFailedPing(t *testing.T) {
	down := errors.New("server down")
	ping := func(context.Context) error { return down }
	fn := func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}
	err, pingErr := WhileResponsive(t.Context(), 10*time.Millisecond, time.Second, ping, fn)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if pingErr != down {
		t.Errorf("pingErr = %v, want %v", pingErr, down)
	}
}

func TestWhileResponsiveLetsSlowCallRun(t *testing.T) {
	pings := 0
	ping := func(context.Context) error {
		pings++
		return nil
	}
	fn := func(ctx context.Context) error {
		select {
		case <-time.After(100 * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err, pingErr := WhileResponsive(t.Context(), 10*time.Millisecond, time.Second, ping, fn)
	if err != nil || pingErr != nil {
		t.Errorf("WhileResponsive = %v, %v; want nil, nil", err, pingErr)
	}
	if pings == 0 {
		t.Error("ping never ran during a call of 100 ms with an interval of 10 ms")
	}
}

func TestWhileResponsiveEndsCallOnSlowPing(t *testing.T) {
	ping := func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}
	fn := func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}
	err, pingErr := WhileResponsive(t.Context(), 10*time.Millisecond, 20*time.Millisecond, ping, fn)
	if err == nil || !errors.Is(pingErr, context.DeadlineExceeded) {
		t.Errorf("WhileResponsive = %v, %v; want an error and context.DeadlineExceeded", err, pingErr)
	}
}
