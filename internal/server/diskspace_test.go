package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeDisk replaces Server.freeBytes: it reports free bytes, or err when
// that is set.
type fakeDisk struct {
	free atomic.Uint64
	err  atomic.Pointer[error]
}

func (d *fakeDisk) freeBytes(string) (uint64, error) {
	if err := d.err.Load(); err != nil {
		return 0, *err
	}
	return d.free.Load(), nil
}

// startOnFakeDisk starts a server whose data folder has the free space
// of the returned fakeDisk, 1 GiB at first, and waits until it is ready.
func startOnFakeDisk(t *testing.T, cfg Config) (*Server, *fakeDisk) {
	t.Helper()
	disk := &fakeDisk{}
	disk.free.Store(1 << 30)
	cfg.WriteKey, cfg.AdminToken = testWriteKey, testAdminToken
	srv := startTunedServer(t, cfg, func(s *Server) { s.freeBytes = disk.freeBytes })
	waitUntil(t, "ready", func() bool {
		status, _ := send(t, http.MethodGet, srv.URL()+"/readyz", "", "")
		return status == http.StatusOK
	})
	return srv, disk
}

func TestReadyzReportsLowDiskSpace(t *testing.T) {
	srv, disk := startOnFakeDisk(t, Config{})

	disk.free.Store(DefaultMinFreeBytes - 1)
	status, body := send(t, http.MethodGet, srv.URL()+"/readyz", "", "")
	if status != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz with 1 byte less than the minimum free = %d, want 503", status)
	}
	for _, want := range []string{
		"data folder " + srv.cfg.DataDir,
		fmt.Sprintf("has %d bytes free", DefaultMinFreeBytes-1),
		fmt.Sprintf("minimum of %d bytes", DefaultMinFreeBytes),
		"free space there",
		"--min-free-mib",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /readyz body %q lacks %q", body, want)
		}
	}

	// Capture requests are still taken while the events fit.
	status, body = send(t, http.MethodPost, srv.URL()+"/batch/", "", batch(testWriteKey, commandEvent("5d1f0a3e-2b4c-4d6e-8f0a-1b2c3d4e5f01", "install-1")))
	if status != http.StatusOK {
		t.Errorf("POST /batch/ while low on disk space = %d %s, want 200", status, body)
	}

	disk.free.Store(DefaultMinFreeBytes)
	if status, body := send(t, http.MethodGet, srv.URL()+"/readyz", "", ""); status != http.StatusOK {
		t.Errorf("GET /readyz with the minimum free = %d %q, want 200", status, body)
	}
}

func TestReadyzReportsFailedDiskMeasure(t *testing.T) {
	srv, disk := startOnFakeDisk(t, Config{})
	err := errors.New("no such file or directory")
	disk.err.Store(&err)
	status, body := send(t, http.MethodGet, srv.URL()+"/readyz", "", "")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "measure the free space of the data folder "+srv.cfg.DataDir) {
		t.Errorf("GET /readyz when statfs fails = %d %q, want 503 naming the data folder", status, body)
	}
}

func TestReadyzMinFreeBytes(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		free  uint64
		ready bool
	}{
		{"configured minimum met", Config{MinFreeBytes: 1 << 20}, 1 << 20, true},
		{"configured minimum missed", Config{MinFreeBytes: 1 << 20}, 1<<20 - 1, false},
		{"check off", Config{MinFreeBytes: -1}, 0, true},
		{"null store keeps nothing in the data folder", Config{Store: StoreNull}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, disk := startOnFakeDisk(t, tt.cfg)
			disk.free.Store(tt.free)
			status, body := send(t, http.MethodGet, srv.URL()+"/readyz", "", "")
			if got := status == http.StatusOK; got != tt.ready {
				t.Errorf("GET /readyz with %d bytes free = %d %q, want ready %v", tt.free, status, body, tt.ready)
			}
		})
	}
}

func TestMetricsReportFreeDiskBytes(t *testing.T) {
	srv, disk := startOnFakeDisk(t, Config{})
	disk.free.Store(12345)
	_, metrics := send(t, http.MethodGet, srv.URL()+"/metrics", testAdminToken, "")
	if !strings.Contains(metrics, "\ncandor_data_free_bytes 12345\n") {
		t.Errorf("/metrics lacks candor_data_free_bytes 12345")
	}

	// A failed measure leaves the gauge out and keeps the other metrics.
	err := errors.New("permission denied")
	disk.err.Store(&err)
	status, metrics := send(t, http.MethodGet, srv.URL()+"/metrics", testAdminToken, "")
	if status != http.StatusOK || strings.Contains(metrics, "candor_data_free_bytes") || !strings.Contains(metrics, "candor_commits_total") {
		t.Errorf("GET /metrics when statfs fails = %d, want 200 with the other metrics alone", status)
	}
}

func TestServeWarnsOfLowDiskSpace(t *testing.T) {
	logs := &syncBuffer{}
	cfg := Config{
		WriteKey:     testWriteKey,
		AdminToken:   testAdminToken,
		MinFreeBytes: 1 << 40,
		Logger:       slog.New(slog.NewTextHandler(logs, nil)),
	}
	startTunedServer(t, cfg, func(s *Server) {
		s.freeBytes = func(string) (uint64, error) { return 1 << 30, nil }
	})
	waitUntil(t, "the warning", func() bool { return strings.Contains(logs.String(), "level=WARN") })
	for _, want := range []string{"/readyz reports not ready", "has 1073741824 bytes free", "--min-free-mib"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs at start lack %q:\n%s", want, logs.String())
		}
	}
}
