package telemetry

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connServer is an HTTP server on loopback that counts the
// connections it accepted and the requests it served.
type connServer struct {
	srv      *httptest.Server
	conns    atomic.Int64
	requests atomic.Int64
}

func newConnServer(t *testing.T, handler http.HandlerFunc, useTLS bool) *connServer {
	t.Helper()
	s := &connServer{}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		handler(w, r)
	}))
	s.srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	if useTLS {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	t.Cleanup(s.srv.Close)
	return s
}

// acknowledge responds as the collector does.
func acknowledge(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"status":"Ok"}`)
}

// defaultClient returns the client the SDK makes when Config.HTTPClient is
// nil, and its direct transport.
func defaultClient(t *testing.T) (*http.Client, *directTransport) {
	t.Helper()
	client, _ := newHTTPClient(nil)
	t.Cleanup(client.CloseIdleConnections)
	return client, client.Transport.(*directTransport)
}

// post sends body to url and returns the status and the response body.
func post(t *testing.T, client *http.Client, url, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response of POST %s: %v", url, err)
	}
	return resp.StatusCode, string(data)
}

func TestDirectTransportKeepsConnection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		tls     bool
	}{
		{"content length", acknowledge, false},
		{"chunked", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, `{"status":`)
			w.(http.Flusher).Flush()
			io.WriteString(w, `"Ok"}`)
		}, false},
		{"informational response first", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusEarlyHints)
			acknowledge(w, r)
		}, false},
		{"tls", acknowledge, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newConnServer(t, tc.handler, tc.tls)
			client, transport := defaultClient(t)
			if tc.tls {
				roots := x509.NewCertPool()
				roots.AddCert(srv.srv.Certificate())
				transport.fallback.TLSClientConfig = &tls.Config{RootCAs: roots}
			}
			for range 5 {
				status, body := post(t, client, srv.srv.URL+"/batch/", `{"batch":[]}`)
				if status != http.StatusOK || body != `{"status":"Ok"}` {
					t.Fatalf("response %d %q, want 200 {\"status\":\"Ok\"}", status, body)
				}
			}
			if n := srv.conns.Load(); n != 1 {
				t.Errorf("server accepted %d connections for 5 requests, want 1", n)
			}
		})
	}
}

func TestDirectTransportNewConnection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"connection close", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			acknowledge(w, r)
		}},
		{"body over the limit", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Write([]byte(strings.Repeat("x", 2*maxResponseBody)))
		}},
		{"bytes after the response", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijack: %v", err)
				return
			}
			// The connection stays open, with a stray response after the
			// real one.
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"status\":\"Ok\"}"+
				"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"status\":\"Ok\"}")
			t.Cleanup(func() { conn.Close() })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newConnServer(t, tc.handler, false)
			client, _ := defaultClient(t)
			for range 3 {
				if status, _ := post(t, client, srv.srv.URL+"/batch/", `{}`); status != http.StatusOK {
					t.Fatalf("status %d, want 200", status)
				}
			}
			if n := srv.conns.Load(); n != 3 {
				t.Errorf("server accepted %d connections for 3 requests, want 3", n)
			}
		})
	}
}

// TestDirectTransportIdleClosedByServer sends on a kept connection that
// the server closed meanwhile, without saying so in its response: the
// request goes out again on a new connection, once.
func TestDirectTransportIdleClosedByServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			// One request per connection, then close it: a server that
			// drops keep-alive connections on its own.
			req, err := http.ReadRequest(bufio.NewReader(conn))
			if err == nil {
				io.Copy(io.Discard, req.Body)
				requests.Add(1)
				io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"Ok\"}")
			}
			conn.Close()
		}
	}()
	defer wg.Wait()
	defer ln.Close()

	client, _ := defaultClient(t)
	url := "http://" + ln.Addr().String() + "/batch/"
	for i := range 3 {
		if i > 0 {
			time.Sleep(20 * time.Millisecond) // the close reaches the client
		}
		if status, body := post(t, client, url, `{"batch":[]}`); status != http.StatusOK || body != `{"status":"Ok"}` {
			t.Fatalf("request %d: response %d %q, want 200", i, status, body)
		}
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("server read %d requests, want 3", n)
	}
}

// TestDirectTransportCancel cancels a request whose response never comes.
func TestDirectTransportCancel(t *testing.T) {
	release := make(chan struct{})
	srv := newConnServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}, false)
	defer close(release)
	client, _ := defaultClient(t)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.srv.URL+"/batch/", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("request succeeded, want the context's error")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want one wrapping context.Canceled", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("request returned %v after the cancel, want at once", waited)
	}
}

// TestDirectTransportProxy sends a request that the Proxy function routes
// through a proxy: it goes through net/http's transport to the proxy.
func TestDirectTransportProxy(t *testing.T) {
	var target string
	proxy := newConnServer(t, func(w http.ResponseWriter, r *http.Request) {
		target = r.URL.String()
		acknowledge(w, r)
	}, false)
	proxyURL, err := url.Parse(proxy.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	client, transport := defaultClient(t)
	transport.fallback.Proxy = http.ProxyURL(proxyURL)

	// collector.invalid never resolves: only the proxy can respond.
	if status, _ := post(t, client, "http://collector.invalid/batch/", "{}"); status != http.StatusOK {
		t.Fatalf("status %d, want 200", status)
	}
	if target != "http://collector.invalid/batch/" {
		t.Errorf("proxy got a request for %q, want http://collector.invalid/batch/", target)
	}
}

// TestDirectTransportIPv6 sends to a literal IPv6 loopback address.
func TestDirectTransportIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(acknowledge)}
	go srv.Serve(ln)
	defer srv.Close()

	client, _ := defaultClient(t)
	if status, _ := post(t, client, "http://"+ln.Addr().String()+"/batch/", "{}"); status != http.StatusOK {
		t.Fatalf("status %d, want 200", status)
	}
}

// rawServer serves each connection on loopback with serve, which gets the
// request with its body unread. It closes the listener and the
// connections, and waits for serve to return, when the test ends.
func rawServer(t *testing.T, serve func(conn net.Conn, req *http.Request)) (url string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				serve(conn, req)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, conn := range conns {
			conn.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String() + "/batch/"
}

// TestDirectTransportEndlessResponse reads responses that never end
// before their body: the transport stops at maxResponseBytes instead of
// holding all of it in memory until the request's deadline.
func TestDirectTransportEndlessResponse(t *testing.T) {
	for _, tc := range []struct {
		name   string
		start  string // written once
		repeat string // then written again and again
	}{
		{"header", "HTTP/1.1 200 OK\r\n", "X-Padding: " + strings.Repeat("a", 1000) + "\r\n"},
		{"informational responses", "", "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"},
		{"trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n", "X-Padding: " + strings.Repeat("a", 1000) + "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := rawServer(t, func(conn net.Conn, req *http.Request) {
				io.Copy(io.Discard, req.Body)
				io.WriteString(conn, tc.start)
				for {
					if _, err := io.WriteString(conn, tc.repeat); err != nil {
						return
					}
				}
			})
			client, _ := defaultClient(t)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatal("request succeeded, want an error for the endless response")
			}
			if ctx.Err() != nil {
				t.Errorf("request failed at its deadline (%v), want as soon as the response was over %d bytes", err, maxResponseBytes)
			}
		})
	}
}

// TestDirectTransportEarlyResponse sends a body larger than the socket
// buffers to a server that responds 413 after the header and closes the
// connection without reading the body. The write fails, and the client
// still gets the 413, so that the SDK splits the batch.
func TestDirectTransportEarlyResponse(t *testing.T) {
	url := rawServer(t, func(conn net.Conn, req *http.Request) {
		io.WriteString(conn, "HTTP/1.1 413 Request Entity Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
	})
	client, _ := defaultClient(t)
	status, _ := post(t, client, url, strings.Repeat("x", 32<<20))
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d, want 413", status)
	}
}

// TestDirectTransportWaitHook checks that the function of whileWaiting
// runs once per request, after the request left and before its response
// is read, also when the request is redirected.
func TestDirectTransportWaitHook(t *testing.T) {
	hookRan := make(chan struct{})
	srv := newConnServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-hookRan:
		case <-time.After(5 * time.Second):
			http.Error(w, "the hook did not run while the client waited", http.StatusInternalServerError)
			return
		}
		if r.URL.Path == "/batch/" {
			http.Redirect(w, r, "/final/", http.StatusTemporaryRedirect)
			return
		}
		acknowledge(w, r)
	}, false)
	client, _ := defaultClient(t)

	calls := 0
	ctx := whileWaiting(context.Background(), func() {
		calls++
		close(hookRan)
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.srv.URL+"/batch/", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200", resp.StatusCode)
	}
	if resp.Request.URL.Path != "/final/" {
		t.Errorf("final request went to %s, want /final/", resp.Request.URL.Path)
	}
	if calls != 1 {
		t.Errorf("hook ran %d times, want 1", calls)
	}
}
