package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// rawConn is the HTTP/1.1 keep-alive connection of one closed-loop worker,
// with one request in flight at a time. It writes each request with one
// Write call and parses the response itself: net/http's Transport costs
// tens of µs of CPU per request, which on a shared machine the server would
// lose. The server still receives ordinary HTTP/1.1 requests with
// Content-Length bodies.
//
// A failed request closes the connection, and the next request dials a new
// one. Close may be called from another goroutine to end a request that is
// in flight.
type rawConn struct {
	addr      string    // host:port of the server
	userAgent string    // value of the User-Agent header
	deadline  time.Time // read and write deadline of every connection

	mu     sync.Mutex // guards conn and closed against Close
	conn   net.Conn
	closed bool

	r   *bufio.Reader
	req []byte // the request being sent, reused
}

// errConnClosed is returned for requests after Close.
var errConnClosed = errors.New("connection closed by the load generator")

func newRawConn(addr string, deadline time.Time) *rawConn {
	return &rawConn{addr: addr, userAgent: "candor-loadgen", deadline: deadline}
}

// Close closes the connection and makes every later request fail.
func (c *rawConn) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// post sends one POST request with a JSON body and returns the response's
// status code after reading its whole body.
func (c *rawConn) post(path string, body []byte, encoding string) (int, error) {
	conn, err := c.connect()
	if err != nil {
		return 0, err
	}
	status, err := c.roundTrip(conn, path, body, encoding)
	if err != nil {
		c.drop(conn)
		return 0, err
	}
	return status, nil
}

// connect returns the open connection or dials a new one.
func (c *rawConn) connect() (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errConnClosed
	}
	if c.conn != nil {
		return c.conn, nil
	}
	conn, err := net.DialTimeout("tcp", c.addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", c.addr, err)
	}
	if err := conn.SetDeadline(c.deadline); err != nil {
		conn.Close()
		return nil, fmt.Errorf("set deadline on the connection to %s: %w", c.addr, err)
	}
	c.conn = conn
	if c.r == nil {
		c.r = bufio.NewReaderSize(conn, 4096)
	} else {
		c.r.Reset(conn)
	}
	return conn, nil
}

// drop closes conn. When conn is still the current connection, the next
// request dials a new one.
func (c *rawConn) drop(conn net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == conn {
		c.conn = nil
	}
	conn.Close()
}

func (c *rawConn) roundTrip(conn net.Conn, path string, body []byte, encoding string) (int, error) {
	req := append(c.req[:0], "POST "...)
	req = append(req, path...)
	req = append(req, " HTTP/1.1\r\nHost: "...)
	req = append(req, c.addr...)
	req = append(req, "\r\nUser-Agent: "...)
	req = append(req, c.userAgent...)
	req = append(req, "\r\nContent-Type: application/json\r\n"...)
	if encoding != "" {
		req = append(req, "Content-Encoding: "...)
		req = append(req, encoding...)
		req = append(req, "\r\n"...)
	}
	req = append(req, "Content-Length: "...)
	req = strconv.AppendInt(req, int64(len(body)), 10)
	req = append(req, "\r\n\r\n"...)
	req = append(req, body...)
	c.req = req
	if _, err := conn.Write(req); err != nil {
		return 0, err
	}

	status, keepAlive, err := readResponse(c.r)
	if err != nil {
		return 0, err
	}
	if !keepAlive {
		c.drop(conn)
	}
	return status, nil
}

// readResponse reads one HTTP/1.1 response: the status line, the headers
// and a body framed by Content-Length or chunked encoding, which it
// discards. A body with neither is read to the end of the connection.
// keepAlive is false when the connection cannot carry another request.
func readResponse(r *bufio.Reader) (status int, keepAlive bool, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, false, fmt.Errorf("read status line: %w", err)
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("invalid status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("invalid status line %q", line)
	}
	keepAlive = line[7] == '1' // HTTP/1.0 closes by default

	length, chunked := int64(-1), false
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return 0, false, fmt.Errorf("read header: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("invalid header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return 0, false, fmt.Errorf("invalid Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keepAlive = false
			}
		}
	}

	switch {
	case status == 204 || status == 304 || status < 200:
		// No body.
	case chunked:
		err = discardChunked(r)
	case length >= 0:
		_, err = r.Discard(int(length))
	default:
		_, err = io.Copy(io.Discard, r)
		keepAlive = false
	}
	if err != nil {
		return 0, false, fmt.Errorf("read body: %w", err)
	}
	return status, keepAlive, nil
}

// discardChunked reads a chunked body and its trailer.
func discardChunked(r *bufio.Reader) error {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		sizeText, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeText)), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("invalid chunk size %q", line)
		}
		if size == 0 {
			break
		}
		if _, err := r.Discard(int(size) + 2); err != nil { // the data and its CRLF
			return err
		}
	}
	for { // the trailer ends with an empty line
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return nil
		}
	}
}
