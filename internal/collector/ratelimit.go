package collector

import (
	"math"
	"sync"
	"time"
)

// tokenBucket limits the events one write key may send: it refills at rate
// tokens per second up to burst, and a request costs one token per event.
//
// A request is admitted while the bucket holds at least as many tokens as
// it costs, or a full bucket when it costs more than burst. The bucket may
// then go negative, and that debt delays the next requests, so a request
// larger than the burst is not refused forever.
type tokenBucket struct {
	rate  float64 // tokens per second
	burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64, burst int, now time.Time) *tokenBucket {
	return &tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// take admits a request of cost tokens at now. When it does not, it returns
// how long the client should wait before it retries.
func (b *tokenBucket) take(cost int, now time.Time) (ok bool, retryAfter time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()

	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(b.burst, b.tokens+elapsed*b.rate)
		b.last = now
	}

	need := math.Min(float64(cost), b.burst)
	if b.tokens >= need {
		b.tokens -= float64(cost)
		return true, 0
	}
	wait := math.Ceil((need - b.tokens) / b.rate * float64(time.Second))
	if wait >= math.MaxInt64 {
		// The wait is over time.Duration's maximum of about 292 years, which
		// only a rate near zero gives.
		return false, math.MaxInt64
	}
	return false, time.Duration(wait)
}
