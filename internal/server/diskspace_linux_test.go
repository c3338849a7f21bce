package server

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs of size bytes on a new folder and unmounts
// it when the test ends. It skips the test where mounting is not allowed.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("mount a tmpfs on %s: %v (the test needs CAP_SYS_ADMIN)", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount the tmpfs on %s: %v", dir, err)
		}
	})
	return dir
}

// fillDisk writes a file in dir until the file system is full and returns
// its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			break
		}
	}
	// The last pages may take a few more bytes.
	for range 64 {
		if _, err := f.Write(chunk[:1]); err != nil {
			break
		}
	}
	return path
}

// TestFullDiskRecovers fills the real file system of the data folder. It
// checks that /readyz reports the low disk space and that capture fails
// while nothing fits, then frees the space and checks that the server
// takes events again without a restart and stores every acknowledged one.
func TestFullDiskRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a 16 MiB tmpfs")
	}
	dir := mountTmpfs(t, 16<<20)
	srv := startServer(t, Config{DataDir: filepath.Join(dir, "data"), KAnonymity: 1, MinFreeBytes: 1 << 20,
		WriteKey: testWriteKey, AdminToken: testAdminToken})
	waitUntil(t, "ready", func() bool {
		status, _ := send(t, http.MethodGet, srv.URL()+"/readyz", "", "")
		return status == http.StatusOK
	})

	acknowledged := 0
	next := 0
	post := func() int {
		events := make([]string, 20)
		for i := range events {
			next++
			events[i] = commandEvent(fmt.Sprintf("6e0a4c2d-1f3b-4a5c-8d7e-%012x", next), "install-full")
		}
		status, _ := send(t, http.MethodPost, srv.URL()+"/batch/", "", batch(testWriteKey, events...))
		if status == http.StatusOK {
			acknowledged += len(events)
		}
		return status
	}
	if status := post(); status != http.StatusOK {
		t.Fatalf("POST /batch/ before the disk is full = %d, want 200", status)
	}

	filler := fillDisk(t, dir)
	status, body := send(t, http.MethodGet, srv.URL()+"/readyz", "", "")
	if status != http.StatusServiceUnavailable || !strings.Contains(body, "data folder "+srv.cfg.DataDir) {
		t.Errorf("GET /readyz on a full disk = %d %q, want 503 naming the data folder", status, body)
	}
	// A record may still fit in the last page of the journal file, so
	// capture fails after a few requests.
	failed := false
	for range 100 {
		if post() != http.StatusOK {
			failed = true
			break
		}
	}
	if !failed {
		t.Fatal("100 requests of 20 events each all fit on a full disk")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "ready after the disk was freed", func() bool {
		status, _ := send(t, http.MethodGet, srv.URL()+"/readyz", "", "")
		return status == http.StatusOK
	})
	if status := post(); status != http.StatusOK {
		t.Fatalf("POST /batch/ after the disk was freed = %d, want 200", status)
	}
	if ov := getOverview(t, srv, ""); ov.TotalEvents != int64(acknowledged) {
		t.Errorf("stored %d events, want the %d acknowledged", ov.TotalEvents, acknowledged)
	}
}
