package clickhouse

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// pausingProxy forwards HTTP requests to a ClickHouse server until pause
// is called. From then on it holds every request, /ping included, without
// a response, as a server stopped with SIGSTOP does, until resume.
type pausingProxy struct {
	server *httptest.Server

	mu      sync.Mutex
	resumed chan struct{} // nil while requests pass, closed by resume
}

func newPausingProxy(t *testing.T, target string) *pausingProxy {
	t.Helper()
	targetURL, err := url.Parse(target)
	if err != nil {
		t.Fatalf("parse %s: %v", target, err)
	}
	forward := httputil.NewSingleHostReverseProxy(targetURL)
	// The proxy's own connections to ClickHouse close before the server's
	// keep-alive timeout, as the store's do.
	transport := newTransport()
	forward.Transport = transport
	// A request that the client gives up on while the proxy holds it is
	// expected here, so the proxy does not log it.
	forward.ErrorLog = log.New(io.Discard, "", 0)

	p := &pausingProxy{}
	p.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		resumed := p.resumed
		p.mu.Unlock()
		if resumed != nil {
			select {
			case <-resumed:
			case <-r.Context().Done():
				return
			}
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		p.resume()
		p.server.Close()
		transport.CloseIdleConnections()
	})
	return p
}

func (p *pausingProxy) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resumed == nil {
		p.resumed = make(chan struct{})
	}
}

func (p *pausingProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resumed != nil {
		close(p.resumed)
		p.resumed = nil
	}
}

// TestPausedServerFailsWritesQuickly checks that the calls the collector
// makes while it takes events or deletes them end with store.ErrUnavailable
// within a few seconds when the server stops responding, instead of
// holding the request until its own deadline.
func TestPausedServerFailsWritesQuickly(t *testing.T) {
	proxy := newPausingProxy(t, serverURL(t))
	database := newDatabase(t)
	s, err := Open(context.Background(), Config{URL: proxy.server.URL, Database: database, FlushInterval: testFlushInterval})
	if err != nil {
		t.Fatalf("Open through the proxy: %v", err)
	}
	defer s.Close()

	const install = "install-0"
	const hash = "5f2b3c7e9a1d4f6b8c0e2a4d6f8b0c2e4a6d8f0b2c4e6a8d0f2b4c6e8a0d2f4b"
	if _, err := s.Insert(context.Background(), testEvents(0, 10)); err != nil {
		t.Fatalf("Insert before the pause: %v", err)
	}
	if err := s.RegisterInstallSecret(context.Background(), "mux", install, hash, time.Time{}); err != nil {
		t.Fatalf("RegisterInstallSecret before the pause: %v", err)
	}

	proxy.pause()
	// A call that the watchdog does not end returns at this deadline with
	// context.DeadlineExceeded, so the test fails without waiting for it.
	const callTimeout = 8 * time.Second
	const maxElapsed = 6 * time.Second
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Insert", func(ctx context.Context) error {
			_, err := s.Insert(ctx, testEvents(10, 10))
			return err
		}},
		{"RegisterInstallSecret", func(ctx context.Context) error {
			return s.RegisterInstallSecret(ctx, "mux", "install-5", hash, time.Time{})
		}},
		{"RegisterInstallSecret with a renewal", func(ctx context.Context) error {
			return s.RegisterInstallSecret(ctx, "mux", install, hash, time.Now())
		}},
		{"InstallSecretHash", func(ctx context.Context) error {
			_, err := s.InstallSecretHash(ctx, "mux", install)
			return err
		}},
		{"DeleteInstall", func(ctx context.Context) error {
			_, err := s.DeleteInstall(ctx, "mux", install)
			return err
		}},
		{"DeleteInstallSecret", func(ctx context.Context) error {
			return s.DeleteInstallSecret(ctx, "mux", install)
		}},
		{"DeleteBefore", func(ctx context.Context) error {
			_, err := s.DeleteBefore(ctx, day(1))
			return err
		}},
		{"DeleteInstallSecretsBefore", func(ctx context.Context) error {
			_, err := s.DeleteInstallSecretsBefore(ctx, time.Now())
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			// Without the failed ping of the previous call, this call
			// waits for a ping of its own.
			s.lastFailedPing.Store(nil)
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			start := time.Now()
			err := c.call(ctx)
			elapsed := time.Since(start)

			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s on a paused server: error %v, want one that matches store.ErrUnavailable", c.name, err)
			}
			if elapsed > maxElapsed {
				t.Errorf("%s on a paused server returned after %s, want at most %s", c.name, elapsed.Round(time.Millisecond), maxElapsed)
			}
		})
	}

	// The last call's ping failed just now, so the next call is not sent.
	start := time.Now()
	_, err = s.InstallSecretHash(context.Background(), "mux", install)
	elapsed := time.Since(start)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("InstallSecretHash right after a failed ping: error %v, want one that matches store.ErrUnavailable", err)
	}
	if elapsed > serverWatchInterval/2 {
		t.Errorf("InstallSecretHash right after a failed ping returned after %s, want at once", elapsed.Round(time.Millisecond))
	}

	proxy.resume()
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping after the pause: %v", err)
	}
	if _, err := s.Insert(context.Background(), testEvents(20, 10)); err != nil {
		t.Errorf("Insert after the pause: %v", err)
	}
	if got, err := s.InstallSecretHash(context.Background(), "mux", install); err != nil || got != hash {
		t.Errorf("InstallSecretHash after the pause = %q, %v; want %q", got, err, hash)
	}
}
