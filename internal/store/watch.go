package store

import (
	"context"
	"time"
)

// WhileResponsive runs fn with a context that ends when ping fails or
// takes longer than timeout, so that a call on a store that stopped
// responding ends early while a slow call on a live store runs on. ping
// first runs interval after fn starts, then interval after each ping
// that succeeded. WhileResponsive returns fn's error and, when a failed
// ping ended fn's context, that ping's error.
func WhileResponsive(ctx context.Context, interval, timeout time.Duration,
	ping, fn func(ctx context.Context) error) (err, pingErr error) {
	call, cancelCall := context.WithCancel(ctx)
	defer cancelCall()
	// watch ends when fn returns, which also cancels a ping in flight.
	watch, endWatch := context.WithCancel(call)
	done := make(chan struct{})

	go func() {
		defer close(done)
		timer := time.NewTimer(interval)
		defer timer.Stop()
		for {
			select {
			case <-watch.Done():
				return
			case <-timer.C:
			}
			pingCtx, cancelPing := context.WithTimeout(watch, timeout)
			err := ping(pingCtx)
			cancelPing()
			if watch.Err() != nil {
				// fn returned or ctx ended during the ping.
				return
			}
			if err != nil {
				pingErr = err
				cancelCall()
				return
			}
			timer.Reset(interval)
		}
	}()

	err = fn(call)
	endWatch()
	<-done
	return err, pingErr
}
