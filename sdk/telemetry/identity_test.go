package telemetry

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewUUIDIsV4(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newUUID()
		if !isV4(id) {
			t.Fatalf("newUUID() = %q, want a lower-case UUIDv4", id)
		}
		if seen[id] {
			t.Fatalf("newUUID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestIdentityConcurrentGoroutines(t *testing.T) {
	home := filepath.Join(t.TempDir(), ".mux")
	const n = 16
	results := make([]identity, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			id, err := loadIdentity(home)
			if err != nil {
				t.Errorf("loadIdentity: %v", err)
			}
			results[i] = id
		}()
	}
	close(start)
	wg.Wait()

	created := 0
	for _, r := range results {
		if r.id != results[0].id {
			t.Errorf("goroutines got IDs %q and %q, want one", results[0].id, r.id)
		}
		if !r.persisted {
			t.Errorf("ID %q not persisted", r.id)
		}
		if r.created {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d goroutines created the ID, want 1", created)
	}
}

func TestIdentityReplacesBadFile(t *testing.T) {
	tests := map[string]string{
		"empty":      "",
		"whitespace": " \n",
		"corrupt":    "not-a-uuid\n",
		"version 1":  "3f1c2b7e-9a4d-1c1e-8b2a-5d6e7f809a1b\n",
		"truncated":  "3f1c2b7e-9a4d-4c1e-8b2a",
		"binary":     "\x00\xff\xfe",
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			home := t.TempDir()
			path := filepath.Join(home, InstallIDFile)
			writeFile(t, path, content)
			old := time.Now().Add(-time.Minute)
			os.Chtimes(path, old, old)

			id, err := loadIdentity(home)
			if err != nil {
				t.Fatalf("loadIdentity: %v", err)
			}
			if !isV4(id.id) || !id.persisted {
				t.Errorf("got %+v, want a persisted UUIDv4", id)
			}
			if id.created {
				t.Errorf("a replaced ID counts as the first launch")
			}
			data, _ := os.ReadFile(path)
			if strings.TrimSpace(string(data)) != id.id {
				t.Errorf("file holds %q, want %q", data, id.id)
			}
			if runtime.GOOS != "windows" {
				assertMode(t, path, 0o600)
			}
		})
	}
}

func TestIdentityConcurrentReplace(t *testing.T) {
	home := t.TempDir()
	path := filepath.Join(home, InstallIDFile)
	writeFile(t, path, "garbage")
	old := time.Now().Add(-time.Minute)
	os.Chtimes(path, old, old)

	const n = 8
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := loadIdentity(home)
			if err != nil {
				t.Errorf("loadIdentity: %v", err)
			}
			ids[i] = id.id
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Errorf("replacing goroutines got %q and %q, want one ID", ids[0], id)
		}
	}
	if _, err := os.Stat(path + ".lock"); !os.IsNotExist(err) {
		t.Errorf("lock file left behind (stat error %v)", err)
	}
}

func TestIdentityKeepsValidFile(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, InstallIDFile), "3F1C2B7E-9A4D-4C1E-8B2A-5D6E7F809A1B\n")
	id, err := loadIdentity(home)
	if err != nil {
		t.Fatal(err)
	}
	if id.id != "3f1c2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b" || id.created {
		t.Errorf("got %+v, want the file's ID in lower case, not created", id)
	}
}

func TestIdentityUnwritableHomeInMemory(t *testing.T) {
	parent := t.TempDir()
	blocker := filepath.Join(parent, "file")
	writeFile(t, blocker, "a file where the home folder's parent should be")
	id, err := loadIdentity(filepath.Join(blocker, ".mux"))
	if err == nil {
		t.Errorf("loadIdentity returned no error for a home that cannot be created")
	}
	if !isV4(id.id) || id.persisted || id.created {
		t.Errorf("got %+v, want an in-memory UUIDv4 that is not a first launch", id)
	}
}

func TestIdentityUnreadableFileInMemory(t *testing.T) {
	home := t.TempDir()
	// A folder where the file should be cannot be read or replaced.
	if err := os.Mkdir(filepath.Join(home, InstallIDFile), 0o700); err != nil {
		t.Fatal(err)
	}
	id, err := loadIdentity(home)
	if err == nil {
		t.Errorf("loadIdentity returned no error")
	}
	if !isV4(id.id) || id.persisted {
		t.Errorf("got %+v, want an in-memory UUIDv4", id)
	}
}

func TestIdentityReadOnlyHome(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("needs file modes that bind the user")
	}
	home := t.TempDir()
	if err := os.Chmod(home, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(home, 0o700)
	id, _ := loadIdentity(home)
	if !isV4(id.id) || id.persisted || id.created {
		t.Errorf("got %+v, want an in-memory UUIDv4", id)
	}
}

func TestClientReadOnlyHomeStillSends(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	blocker := filepath.Join(cfg.Home, "file")
	writeFile(t, blocker, "x")
	cfg.Home = filepath.Join(blocker, ".mux")
	c := newClient(t, cfg)
	if c.FirstLaunch() {
		t.Errorf("FirstLaunch = true with an ID kept in memory")
	}
	c.Capture(validMessage())
	st := closeClient(t, c)
	events := col.accepted()
	if len(events) != 1 || events[0].DistinctID != c.InstallID() {
		t.Errorf("got %v, want one event with the in-memory ID", events)
	}
	if st.Dropped != 0 {
		t.Errorf("dropped %v", st.DroppedByReason)
	}
}

func TestIDCreatedWhenEnabledLater(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	e := &syncEnv{}
	e.set("MUX_DISABLE_TELEMETRY", "1")
	cfg.Getenv = e.get
	c := newClient(t, cfg)
	if c.InstallID() != "" || c.FirstLaunch() {
		t.Fatalf("disabled client has ID %q first launch %v", c.InstallID(), c.FirstLaunch())
	}
	if _, err := os.Stat(filepath.Join(cfg.Home, InstallIDFile)); !os.IsNotExist(err) {
		t.Fatalf("ID file created while disabled")
	}
	e.set("MUX_DISABLE_TELEMETRY", "")
	if !c.IsEnabled() {
		t.Fatalf("not enabled after the variable was cleared: %s", c.Status())
	}
	if !isV4(c.InstallID()) || !c.FirstLaunch() {
		t.Errorf("after enabling: ID %q first launch %v, want a new ID and true", c.InstallID(), c.FirstLaunch())
	}
}

func TestIdentityStaleLockTakenOver(t *testing.T) {
	home := t.TempDir()
	path := filepath.Join(home, InstallIDFile)
	writeFile(t, path, "corrupt")
	writeFile(t, path+".lock", "")
	old := time.Now().Add(-2 * idLockStale)
	os.Chtimes(path, old, old)
	os.Chtimes(path+".lock", old, old)

	start := time.Now()
	id, err := loadIdentity(home)
	if err != nil || !id.persisted {
		t.Fatalf("loadIdentity = %+v, %v; want a persisted ID", id, err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %s to take over a stale lock", took)
	}
}
