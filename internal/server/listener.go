package server

import (
	"container/list"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxConnections is the default of Config.MaxConnections.
const DefaultMaxConnections = 4096

// idleCloseAfter is how long a keep-alive connection must have been idle
// before the listener closes it to make room. A connection idle for less
// is likely to carry its client's next request, which then fails and has
// to be resent.
// NOTE: the value is an estimate, not measured against real clients.
const idleCloseAfter = 500 * time.Millisecond

// idleCheckInterval is how often a connection waiting for a slot looks
// for an idle connection to close.
const idleCheckInterval = 100 * time.Millisecond

// writeStallTimeout is how long a client may take to accept one
// writeChunkSize piece of a response before its connection is closed. The
// http.Server has no WriteTimeout, and TCP keeps open a connection whose
// client reads nothing, so without this limit such a client would hold its
// slot until it disconnects.
const writeStallTimeout = 30 * time.Second

// writeChunkSize is the largest piece of a response that limitConn.Write
// sends under one write deadline, so that a large response to a slow client
// that keeps reading is not cut off.
const writeChunkSize = 64 << 10

// limitListener serves at most cap(slots) connections at a time. Every
// served connection costs a goroutine and its buffers, so the limit bounds
// that memory under overload. At the limit, one accepted connection waits
// for a slot and further clients wait in the kernel's listen queue.
//
// While a connection waits, two things free a slot for it: every response
// carries "Connection: close" (see closeAfterResponse), and the keep-alive
// connection idle longest is closed once it has been idle for
// idleCloseAfter. Otherwise idle connections would keep the new client out
// until the server's IdleTimeout.
type limitListener struct {
	net.Listener
	slots     chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
	waiting   atomic.Bool // a connection waits for a slot

	// writeStallTimeout is the limit that limitConn.Write applies:
	// the constant writeStallTimeout, unless a test shortens it.
	writeStallTimeout time.Duration

	mu   sync.Mutex
	idle list.List // of *limitConn, longest idle first
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{
		Listener:          ln,
		slots:             make(chan struct{}, n),
		closed:            make(chan struct{}),
		writeStallTimeout: writeStallTimeout,
	}
}

// Accept takes the next connection from the kernel's listen queue and
// then waits for a slot for it. Taking the connection first means that an
// idle connection is closed only for a client that is already waiting.
func (l *limitListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if err := l.takeSlot(); err != nil {
		conn.Close()
		return nil, err
	}
	return &limitConn{Conn: conn, listener: l, release: sync.OnceFunc(func() { <-l.slots })}, nil
}

// takeSlot waits for a free slot, closing idle connections to free one.
func (l *limitListener) takeSlot() error {
	select {
	case l.slots <- struct{}{}:
		return nil
	default:
	}
	l.waiting.Store(true)
	defer l.waiting.Store(false)
	tick := time.NewTicker(idleCheckInterval)
	defer tick.Stop()
	for {
		l.closeLongestIdle(time.Now().Add(-idleCloseAfter))
		select {
		case l.slots <- struct{}{}:
			return nil
		case <-tick.C:
		case <-l.closed:
			return net.ErrClosed
		}
	}
}

// closeLongestIdle closes the connection that has been idle longest if it
// became idle before the given time. Its slot is free when it returns.
func (l *limitListener) closeLongestIdle(before time.Time) {
	l.mu.Lock()
	front := l.idle.Front()
	if front == nil || !front.Value.(*limitConn).idleSince.Before(before) {
		l.mu.Unlock()
		return
	}
	c := front.Value.(*limitConn)
	l.removeIdleLocked(c)
	l.mu.Unlock()
	c.Close()
}

// closeAfterResponse reports whether a response should close its
// connection, which it does while another connection waits for a slot.
func (l *limitListener) closeAfterResponse() bool { return l.waiting.Load() }

// trackState is the http.Server's ConnState hook. It records which
// connections are idle, longest idle first.
func (l *limitListener) trackState(conn net.Conn, state http.ConnState) {
	c, ok := conn.(*limitConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.removeIdleLocked(c)
	if state == http.StateIdle {
		c.idleSince = time.Now()
		c.idleAt = l.idle.PushBack(c)
		c.idle.Store(true)
	}
}

// markReading takes c off the idle list because bytes of its next request
// have arrived.
func (l *limitListener) markReading(c *limitConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.removeIdleLocked(c)
}

// removeIdleLocked takes c off the idle list if it is on it. The caller
// holds l.mu.
func (l *limitListener) removeIdleLocked(c *limitConn) {
	if c.idleAt == nil {
		return
	}
	l.idle.Remove(c.idleAt)
	c.idleAt = nil
	c.idle.Store(false)
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// limitConn gives its slot back on the first Close.
type limitConn struct {
	net.Conn
	listener *limitListener
	release  func()
	// idleAt and idleSince are set while the connection is on the idle
	// list, guarded by the listener's mu. idle is true at the same times,
	// so that Read can check it without the lock.
	idleAt    *list.Element
	idleSince time.Time
	idle      atomic.Bool
}

// Read takes the connection off the idle list once bytes of the next
// request arrive. The http.Server reports StateActive only after the whole
// request header is read, and until then the connection must not be
// closed to make room.
func (c *limitConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.idle.Load() {
		c.listener.markReading(c)
	}
	return n, err
}

// Write sends p in pieces of at most writeChunkSize bytes, each under a
// write deadline of the listener's writeStallTimeout. When a piece times
// out, the http.Server closes the connection. Write replaces any write
// deadline set on the connection before.
func (c *limitConn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		end := min(len(p), written+writeChunkSize)
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.listener.writeStallTimeout)); err != nil {
			return written, err
		}
		n, err := c.Conn.Write(p[written:end])
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
