package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Limits whose exhaustion makes a request get status 503. They label the
// Overloaded counts of Stats.
const (
	// LimitDecoding: every decoding slot (Config.MaxDecoding) stayed busy
	// for Config.DecodeWait.
	LimitDecoding = "decoding"
	// LimitBufferedBytes: the request's body or decoded payload would take
	// the memory held by requests over Config.MaxBufferedBytes.
	LimitBufferedBytes = "buffered_bytes"
	// LimitPendingEvents: the request's events would take the events waiting
	// for their commit over Config.MaxPendingEvents.
	LimitPendingEvents = "pending_events"
	// LimitRequestTimeout: the request's events were not committed within
	// Config.RequestTimeout.
	LimitRequestTimeout = "request_timeout"
)

// decodeExpansion estimates the memory that decoding takes per byte of JSON
// text: the text itself, a copy of each event's text and the decoded
// property maps. A request reserves at least this many times its payload's
// size in the buffered-bytes budget before it decodes the payload, and more
// for payloads of many tiny values (decodeReservation).
// NOTE: the factor is an estimate. TestDecodeExpansionEstimate measures
// about 4.2 for Mux-like events of 400 bytes.
const decodeExpansion = 5

// Memory that decoding keeps alive per JSON value and per event of a
// payload. A payload of many tiny values, such as a batch of `{}` events,
// takes far more than decodeExpansion times its size: each value needs a
// slot, a map or a box, and each event a decodedEvent and a store.Event.
// TestDecodeReservationCoversTinyValues measures about 67 bytes per value
// and 408 per event (amd64, Go 1.26).
const (
	decodeBytesPerValue = 80
	decodeBytesPerEvent = 400
)

// decodeReservation returns the bytes that decoding a payload of textLen
// bytes with the given shape may keep alive, besides the text itself: the
// larger of decodeExpansion's estimate and the cost of its values and
// events.
func decodeReservation(textLen int, shape jsonShape) int64 {
	byText := int64(textLen) * (decodeExpansion - 1)
	byValues := int64(shape.values)*decodeBytesPerValue + int64(shape.events)*decodeBytesPerEvent
	return max(byText, byValues)
}

// errOverloaded marks a limit that a request could not get under. The
// limit is one of the Limit constants.
type errOverloaded struct{ limit string }

func (e *errOverloaded) Error() string { return "collector overloaded: " + e.limit }

// budget is a counting semaphore over a quantity such as bytes or events.
// acquire never waits: it fails when the amount would take the total over
// the capacity. A single amount larger than the capacity is granted when
// nothing else is held, so that no request is refused forever.
type budget struct {
	mu       sync.Mutex
	capacity int64
	used     int64
}

func (b *budget) acquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.capacity && b.used > 0 {
		return false
	}
	b.used += n
	return true
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
}

// full reports whether no request could acquire even one unit.
func (b *budget) full() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used >= b.capacity
}

func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// reservation is one request's share of a budget, returned in one call.
type reservation struct {
	b    *budget
	held int64
}

// add takes n more from the budget or reports false.
func (r *reservation) add(n int64) bool {
	if n <= 0 {
		return true
	}
	if !r.b.acquire(n) {
		return false
	}
	r.held += n
	return true
}

// releaseAll gives back everything the reservation holds.
func (r *reservation) releaseAll() {
	if r.held > 0 {
		r.b.release(r.held)
		r.held = 0
	}
}

// slots bounds how many requests decode at once. A request waits for a
// slot for at most the given time.
type slots struct {
	ch chan struct{}
}

func newSlots(n int) *slots { return &slots{ch: make(chan struct{}, n)} }

// acquire takes a slot, waiting up to wait or until ctx ends. It reports
// false when neither a slot came free nor ctx ended in time.
func (s *slots) acquire(ctx context.Context, wait time.Duration) (bool, error) {
	select {
	case s.ch <- struct{}{}:
		return true, nil
	default:
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case s.ch <- struct{}{}:
		return true, nil
	case <-timer.C:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func (s *slots) release() { <-s.ch }

func (s *slots) inUse() int { return len(s.ch) }

// errBudgetExhausted is returned by budgetReader when the buffered-bytes
// budget has no room for the next chunk of a body.
var errBudgetExhausted = errors.New("buffered-bytes budget exhausted")

// errBodyOverBudget is returned by readAnnounced and budgetReader when a
// body is larger than the whole buffered-bytes budget, so that it cannot
// be read even when no other request holds any of the budget.
var errBodyOverBudget = errors.New("body is larger than the whole buffered-bytes budget")

// budgetChunk is how many bytes budgetReader reserves at a time for a body
// of unknown length, and the first buffer of a body of known length. It is
// small so that stalled requests hold little memory. 4096 of them, the
// server's default connection limit, hold 64 MiB.
const budgetChunk = 16 << 10

// readAnnounced reads a body whose Content-Length is n. Its buffer starts
// at budgetChunk bytes and doubles up to n as the bytes arrive, and mem
// reserves each growth before it is allocated. A body shorter than n
// returns io.ErrUnexpectedEOF.
//
// It reads on until body returns io.EOF, because net/http lifts the read
// deadline and starts watching for the client leaving, which cancels the
// request's context, only once a request body has returned io.EOF.
func readAnnounced(body io.Reader, n int64, mem *reservation) ([]byte, error) {
	if n > mem.b.capacity {
		return nil, errBodyOverBudget
	}
	size := min(n, budgetChunk)
	if !mem.add(size) {
		return nil, errBudgetExhausted
	}
	buf := make([]byte, 0, size)
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			size = min(2*int64(cap(buf)), n)
			if !mem.add(size - int64(cap(buf))) {
				return nil, errBudgetExhausted
			}
			buf = append(make([]byte, 0, size), buf...)
		}
		read, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+read]
		if err == io.EOF && int64(len(buf)) < n {
			return nil, io.ErrUnexpectedEOF
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}

	var extra [1]byte
	read, err := body.Read(extra[:])
	switch {
	case read > 0:
		return nil, fmt.Errorf("body is longer than its Content-Length of %d bytes", n)
	case err != nil && err != io.EOF:
		return nil, err
	}
	return buf, nil
}

// budgetReader reserves budget for a body of unknown length as it reads it,
// one budgetChunk ahead of the bytes read so far.
type budgetReader struct {
	r    io.Reader
	res  *reservation
	read int64
}

func (br *budgetReader) Read(p []byte) (int, error) {
	capacity := br.res.b.capacity
	if len(p) > 0 && br.read >= capacity {
		// This body already fills the whole budget, so one more byte is over it.
		var extra [1]byte
		n, err := br.r.Read(extra[:])
		if n > 0 {
			return 0, errBodyOverBudget
		}
		return 0, err
	}
	// Reading at most up to the capacity, and rounding the reservation
	// up to no more than that, keeps a body that fits the budget from
	// failing on its own reservation.
	if br.read+int64(len(p)) > capacity {
		p = p[:capacity-br.read]
	}
	if br.read+int64(len(p)) > br.res.held {
		need := br.read + int64(len(p)) - br.res.held
		need = (need + budgetChunk - 1) / budgetChunk * budgetChunk
		need = min(need, capacity-br.res.held)
		if !br.res.add(need) {
			return 0, errBudgetExhausted
		}
	}
	n, err := br.r.Read(p)
	br.read += int64(n)
	return n, err
}
