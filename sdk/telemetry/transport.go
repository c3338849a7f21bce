package telemetry

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// directTransport sends each request on a kept-alive HTTP/1.1 connection
// and reads the response on the calling goroutine. net/http's Transport
// hands every request to a writing and a reading goroutine of the
// connection. On a 2-core VM, one upload of 100 events took about 90 µs of
// CPU time through it and about 45 µs written and read by one goroutine.
//
// Requests that go through a proxy, and schemes other than http and https,
// go to fallback. The direct path speaks HTTP/1.1 only and keeps one idle
// connection.
type directTransport struct {
	fallback *http.Transport
	dialer   net.Dialer

	mu   sync.Mutex
	idle *directConn
}

// directIdleTimeout is how long an idle connection is kept, as
// http.DefaultTransport's IdleConnTimeout.
const directIdleTimeout = 90 * time.Second

// earlyResponseWait is how long a request whose write failed waits for a
// response that the server sent before it stopped reading.
const earlyResponseWait = 50 * time.Millisecond

// directConn is one connection of a directTransport.
type directConn struct {
	conn     net.Conn
	key      string        // scheme, host and port of the requests it carries
	br       *bufio.Reader // reads through Read, so within readLimit
	bw       *bufio.Writer
	idleFrom time.Time
	// readLimit is how many more bytes the current response may take
	// from conn.
	readLimit int64
}

// maxResponseBytes bounds what one response may take from the
// connection: informational responses, the status line and headers, the
// body's framing and trailers. Without it a server that sends an endless
// header fills memory until the request's deadline. net/http's Transport
// bounds the headers to 10 MiB by default (MaxResponseHeaderBytes), and
// the SDK reads at most maxResponseBody of a body.
const maxResponseBytes = 1 << 20

var errResponseTooLarge = fmt.Errorf("response is over %d bytes: check that Endpoint is a candor collector", maxResponseBytes)

// Read reads from the connection while the current response stays within
// readLimit.
func (pc *directConn) Read(p []byte) (int, error) {
	if pc.readLimit <= 0 {
		return 0, errResponseTooLarge
	}
	if int64(len(p)) > pc.readLimit {
		p = p[:pc.readLimit]
	}
	n, err := pc.conn.Read(p)
	pc.readLimit -= int64(n)
	return n, err
}

func newDirectTransport(fallback *http.Transport) *directTransport {
	return &directTransport{
		fallback: fallback,
		dialer:   net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
	}
}

// RoundTrip sends req and returns its response, with the body read in
// full, up to maxResponseBody+1 bytes. When a connection that carried an
// earlier request fails before any byte of the response arrives, the
// request is sent once more on a new connection, because servers close
// idle connections. A batch keeps its event UUIDs, so the collector drops
// a copy it had already stored.
func (t *directTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" || t.proxied(req) {
		return t.fallback.RoundTrip(req)
	}
	ctx := req.Context()
	addr := dialAddress(req.URL)
	for attempt := 0; ; attempt++ {
		pc, reused, err := t.conn(ctx, req.URL.Scheme, addr)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, responded, reusable, err := pc.roundTrip(req)
		if err == nil {
			if reusable {
				t.put(pc)
			} else {
				pc.conn.Close()
			}
			return resp, nil
		}
		pc.conn.Close()
		if !reused || responded || attempt > 0 || ctx.Err() != nil {
			return nil, err
		}
		if req, err = rewind(req); err != nil {
			return nil, err
		}
	}
}

// rewind returns a copy of req whose body can be sent again.
func rewind(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	if req.GetBody == nil {
		return nil, fmt.Errorf("resend %s %s: the body cannot be read again", req.Method, req.URL.Redacted())
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Body = body
	return req, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// proxied reports whether fallback's Proxy function names a proxy for req,
// or fails, which fallback then reports.
func (t *directTransport) proxied(req *http.Request) bool {
	if t.fallback.Proxy == nil {
		return false
	}
	proxy, err := t.fallback.Proxy(req)
	return err != nil || proxy != nil
}

// CloseIdleConnections closes the idle connection, and fallback's.
func (t *directTransport) CloseIdleConnections() {
	t.mu.Lock()
	pc := t.idle
	t.idle = nil
	t.mu.Unlock()
	if pc != nil {
		pc.conn.Close()
	}
	t.fallback.CloseIdleConnections()
}

// conn returns the idle connection to addr over scheme, or dials a new
// one. reused reports an idle connection.
func (t *directTransport) conn(ctx context.Context, scheme, addr string) (pc *directConn, reused bool, err error) {
	key := scheme + "://" + addr
	t.mu.Lock()
	pc, t.idle = t.idle, nil
	t.mu.Unlock()
	if pc != nil {
		if pc.key == key && time.Since(pc.idleFrom) < directIdleTimeout {
			return pc, true, nil
		}
		pc.conn.Close()
	}

	conn, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	if scheme == "https" {
		if conn, err = t.handshake(ctx, conn, addr); err != nil {
			return nil, false, err
		}
	}
	pc = &directConn{
		conn: conn,
		key:  key,
		// Room for the headers and a typical compressed batch, so that a
		// request leaves in one write.
		bw: bufio.NewWriterSize(conn, 32<<10),
	}
	pc.br = bufio.NewReaderSize(pc, 4<<10)
	return pc, false, nil
}

// handshake starts TLS on conn with fallback's TLS settings, if any, and
// offers HTTP/1.1 only.
func (t *directTransport) handshake(ctx context.Context, conn net.Conn, addr string) (net.Conn, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.fallback.TLSClientConfig != nil {
		cfg = t.fallback.TLSClientConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	cfg.NextProtos = []string{"http/1.1"}
	tlsConn := tls.Client(conn, cfg)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tlsConn, nil
}

// put keeps pc for the next request, or closes it when another connection
// is kept already.
func (t *directTransport) put(pc *directConn) {
	pc.idleFrom = time.Now()
	t.mu.Lock()
	if t.idle == nil {
		t.idle, pc = pc, nil
	}
	t.mu.Unlock()
	if pc != nil {
		pc.conn.Close()
	}
}

// roundTrip writes req and reads its response. responded reports whether
// any byte of a response arrived, and reusable whether the connection can
// carry the next request. A request without a deadline gets
// DefaultRequestTimeout.
func (pc *directConn) roundTrip(req *http.Request) (resp *http.Response, responded, reusable bool, err error) {
	ctx := req.Context()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultRequestTimeout)
	}
	pc.conn.SetDeadline(deadline)
	// Cancelling ctx ends a blocked write or read at once.
	stop := context.AfterFunc(ctx, func() { pc.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	writeErr := writeRequest(pc.bw, req)
	if writeErr == nil {
		writeErr = pc.bw.Flush()
	}
	if writeErr != nil {
		if ctx.Err() != nil {
			return nil, false, false, contextError(ctx, writeErr)
		}
		// A server that responds before it reads the whole body, such as
		// with 413, and closes the connection fails the write. Its
		// response is read if it comes at once, as net/http's Transport,
		// which reads on another goroutine, returns it too.
		if wait := time.Now().Add(earlyResponseWait); wait.Before(deadline) {
			pc.conn.SetReadDeadline(wait)
		}
	}
	if writeErr == nil {
		runWaitHook(ctx)
	}
	pc.readLimit = maxResponseBytes
	if _, err := pc.br.Peek(1); err != nil {
		if writeErr != nil {
			err = writeErr
		}
		return nil, false, false, contextError(ctx, err)
	}
	for {
		resp, err = http.ReadResponse(pc.br, req)
		if err != nil {
			return nil, true, false, contextError(ctx, err)
		}
		// An informational response comes before the final one.
		if resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	// ReadAll stops at the end of the body, which leaves the connection
	// ready for the next response, or after maxResponseBody+1 bytes, which
	// leaves the rest of the body unread.
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return nil, true, false, contextError(ctx, err)
	}
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	// Bytes that came after the response would be read as the next
	// response. stop reports false when ctx was cancelled meanwhile, which
	// may have set the connection's deadline in the past.
	reusable = writeErr == nil && len(body) <= maxResponseBody && pc.br.Buffered() == 0 &&
		!resp.Close && resp.StatusCode != http.StatusSwitchingProtocols && stop()
	if reusable {
		pc.conn.SetDeadline(time.Time{})
	}
	return resp, true, reusable, nil
}

// contextError adds the context's error to err, which is the deadline
// error of the connection when the context was cancelled.
func contextError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%w: %w", ctxErr, err)
	}
	return err
}

// dialAddress returns the host and port to dial for u, with the scheme's
// default port where u has none.
func dialAddress(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// waitHookKey is the context key of whileWaiting's function.
type waitHookKey struct{}

// whileWaiting returns a context that makes the direct transport call fn
// once, on the calling goroutine, when a request has been written and its
// response is awaited. Other transports do not call it.
func whileWaiting(ctx context.Context, fn func()) context.Context {
	done := false
	return context.WithValue(ctx, waitHookKey{}, func() {
		if !done {
			done = true
			fn()
		}
	})
}

// runWaitHook calls the function that whileWaiting put in ctx, if any.
func runWaitHook(ctx context.Context) {
	if fn, ok := ctx.Value(waitHookKey{}).(func()); ok {
		fn()
	}
}

// writeRequest writes req to bw as Request.Write does. Request.Write sends
// the headers in a write of their own before a body it does not know to
// be in memory, so an upload's body is passed to it as a *bytes.Reader,
// and the request leaves in one write.
func writeRequest(bw *bufio.Writer, req *http.Request) error {
	body, ok := req.Body.(*uploadBody)
	if !ok {
		return req.Write(bw)
	}
	defer body.written()
	r := *req
	r.Body = io.NopCloser(body.Reader)
	return r.Write(bw)
}
