package telemetry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestSpoolCountAfterConcurrentRemove recounts the spool while the sender
// deletes its last file, as SetEnabled(false)'s purge does during an
// upload. Once both are done, Stats.Spooled must match the empty spool.
func TestSpoolCountAfterConcurrentRemove(t *testing.T) {
	cfg := Config{Home: t.TempDir()}
	cfg = cfg.withDefaults()
	stats := &counters{}
	sp := newSpool(&cfg, stats)
	for i := range 2000 {
		if err := sp.write([][]byte{[]byte(`{}`), []byte(`{}`), []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		b, err := sp.claimNext()
		if err != nil || b == nil {
			t.Fatalf("claimNext = %v, %v, want the batch just written", b, err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			sp.recount()
		}()
		sp.remove(b)
		wg.Wait()
		if n := stats.spooled.Load(); n != 0 {
			t.Fatalf("round %d: Spooled = %d after the last file was removed, want 0", i, n)
		}
	}
}

// spoolLine is a spooled command_used event whose UUID starts with prefix,
// four hex digits.
func spoolLine(prefix string) string {
	return `{"uuid":"` + prefix + `2b7e-9a4d-4c1e-8b2a-5d6e7f809a1b","event":"command_used","distinct_id":"x","timestamp":"2026-01-01T00:00:00Z","properties":{"command":"new"}}`
}

// TestSpoolNameCountNotTrusted plants a 3-byte file whose name claims
// 999999999 events next to a real batch. The file is dropped as one
// corrupt file, and its name neither inflates the counters nor pushes the
// real batch out of the spool.
func TestSpoolNameCountNotTrusted(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	dir := filepath.Join(cfg.Home, SpoolDir)
	writeFile(t, filepath.Join(dir, "00000000000000000001-999999999-aaaa.batch"), "{}\n")
	writeFile(t, filepath.Join(dir, "00000000000000000002-1-bbbb.batch"), spoolLine("3f1c")+"\n")

	c := newClient(t, cfg)
	waitFor(t, "the real spooled event", func() bool { return len(col.accepted()) == 1 })
	st := closeClient(t, c)

	if got := st.DroppedByReason[DropSpoolCorrupt]; got != 1 {
		t.Errorf("spool_corrupt drops = %d, want 1 for the file whose name claims more than it holds", got)
	}
	if st.Dropped != 1 {
		t.Errorf("Dropped = %d (%v), want only the corrupt file", st.Dropped, st.DroppedByReason)
	}
	if st.Sent != 1 {
		t.Errorf("Sent = %d, want the real batch's event", st.Sent)
	}
}

// TestSpoolPurgeNameCountNotTrusted plants the same 3-byte file and opts
// out, which deletes the spool. The drop is counted as one corrupt file.
func TestSpoolPurgeNameCountNotTrusted(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	// Print mode keeps the sender from claiming the spool before the
	// opt-out deletes it.
	cfg.Getenv = env{"MUX_TELEMETRY_DEBUG": DebugPrint}.get
	cfg.DebugOutput = io.Discard
	dir := filepath.Join(cfg.Home, SpoolDir)
	writeFile(t, filepath.Join(dir, "00000000000000000001-999999999-aaaa.batch"), "{}\n")

	c := newClient(t, cfg)
	if got := c.Stats().Spooled; got > 1 {
		t.Errorf("Spooled = %d before the opt-out, want at most 1", got)
	}
	if err := c.SetEnabled(false); err != nil {
		t.Fatal(err)
	}
	st := closeClient(t, c)

	if got := st.DroppedByReason[DropSpoolCorrupt]; got != 1 {
		t.Errorf("spool_corrupt drops = %d, want 1 for the one file", got)
	}
	if st.Dropped != 1 {
		t.Errorf("Dropped = %d (%v), want only the corrupt file", st.Dropped, st.DroppedByReason)
	}
}

// plantSpool writes n spool files of one event each, oldest first, whose
// UUIDs start with the file's index as four hex digits.
//
// Each file is written outside the spool and renamed into it, as the
// spool writes its own files, because a running client that lists a file
// before its line is written takes it as corrupt.
func plantSpool(t *testing.T, home string, n int) {
	t.Helper()
	dir := filepath.Join(home, SpoolDir)
	staging := filepath.Join(home, "planted")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("%020d-1-%04x.batch", i+1, i)
		writeFile(t, filepath.Join(staging, name), spoolLine(fmt.Sprintf("%04x", i))+"\n")
		if err := os.Rename(filepath.Join(staging, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSpoolBoundAtStart starts a client on a planted spool of 30
// one-event files with Spool.MaxEvents 10. Only the newest 10 are sent,
// and the 20 oldest are counted as spool_full.
func TestSpoolBoundAtStart(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.Spool.MaxEvents = 10
	plantSpool(t, cfg.Home, 30)

	c := newClient(t, cfg)
	flush(t, c)
	st := closeClient(t, c)

	events := col.accepted()
	if len(events) != 10 {
		t.Errorf("sent %d events, want the bound of 10", len(events))
	}
	for _, ev := range events {
		if index, _ := strconv.ParseInt(ev.UUID[:4], 16, 64); index < 20 {
			t.Errorf("sent event %s of file %d, want only the newest 10 files", ev.UUID, index)
		}
	}
	if got := st.DroppedByReason[DropSpoolFull]; got != 20 {
		t.Errorf("spool_full drops = %d, want 20", got)
	}
}

// TestSpoolBoundInPending plants 30 one-event files after the client
// started, with Spool.MaxEvents 10. Pending lists no more than the bound,
// and the 20 oldest are counted as spool_full.
func TestSpoolBoundInPending(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.Spool.MaxEvents = 10
	// Print mode keeps the sender from sending the spool, so only the
	// listing can enforce the bound.
	cfg.Getenv = env{"MUX_TELEMETRY_DEBUG": DebugPrint}.get
	cfg.DebugOutput = io.Discard
	c := newClient(t, cfg)
	plantSpool(t, cfg.Home, 30)

	pending, err := c.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 10 {
		t.Errorf("Pending listed %d events, want the bound of 10", len(pending))
	}
	st := closeClient(t, c)
	if got := st.DroppedByReason[DropSpoolFull]; got != 20 {
		t.Errorf("spool_full drops = %d (%v), want 20", got, st.DroppedByReason)
	}
}

// TestSpoolNameCountDisagrees plants a file whose name counts more or
// fewer events than the file has lines, within what its size allows. The
// first upload fails, so the file is claimed twice. Every event that a name
// counts, as Stats.Spooled does, ends up sent or dropped as spool_corrupt
// exactly once: the first lines, as many as the name counts, are the
// batch, and the lines after them were never counted.
func TestSpoolNameCountDisagrees(t *testing.T) {
	tests := []struct {
		name      string
		nameCount int
		lines     []string
		wantSent  []string // UUID prefixes
	}{
		{
			name:      "name counts more than the lines",
			nameCount: 3,
			lines:     []string{spoolLine("0001")},
			wantSent:  []string{"0001"},
		},
		{
			name:      "name counts fewer than the lines",
			nameCount: 1,
			lines:     []string{spoolLine("0001"), spoolLine("0002"), spoolLine("0003")},
			wantSent:  []string{"0001"},
		},
		{
			name:      "invalid line within the count",
			nameCount: 3,
			lines:     []string{spoolLine("0001"), `{"uuid":"torn`, spoolLine("0002"), spoolLine("0003")},
			wantSent:  []string{"0001", "0002"},
		},
		{
			name:      "invalid line after the count",
			nameCount: 2,
			lines:     []string{spoolLine("0001"), spoolLine("0002"), `{"uuid":"torn`},
			wantSent:  []string{"0001", "0002"},
		},
		{
			name:      "blank lines between events",
			nameCount: 2,
			lines:     []string{spoolLine("0001"), "", spoolLine("0002")},
			wantSent:  []string{"0001", "0002"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := newCollector(t)
			col.failFirst(http.StatusServiceUnavailable)
			cfg := testConfig(t, col.srv.URL)
			name := fmt.Sprintf("%020d-%d-aaaa.batch", 1, tt.nameCount)
			writeFile(t, filepath.Join(cfg.Home, SpoolDir, name), strings.Join(tt.lines, "\n")+"\n")

			c := newClient(t, cfg)
			waitFor(t, "a retry after the failed upload", func() bool { return col.requestCount() >= 2 })
			flush(t, c)
			st := closeClient(t, c)

			var sent []string
			for _, ev := range col.accepted() {
				sent = append(sent, ev.UUID[:4])
			}
			if d := diff(tt.wantSent, sent); d != "" {
				t.Errorf("sent events (UUID prefixes): %s", d)
			}
			if st.Sent != int64(len(tt.wantSent)) {
				t.Errorf("Sent = %d, want %d", st.Sent, len(tt.wantSent))
			}
			wantCorrupt := int64(tt.nameCount - len(tt.wantSent))
			if got := st.DroppedByReason[DropSpoolCorrupt]; got != wantCorrupt {
				t.Errorf("spool_corrupt drops = %d, want %d", got, wantCorrupt)
			}
			if st.Dropped != wantCorrupt {
				t.Errorf("Dropped = %d (%v), want only the %d spool_corrupt drops", st.Dropped, st.DroppedByReason, wantCorrupt)
			}
			if st.Spooled != 0 {
				t.Errorf("Spooled = %d after the spool was sent, want 0", st.Spooled)
			}
			if total := st.Sent + st.Dropped + st.Spooled; total != int64(tt.nameCount) {
				t.Errorf("Sent + Dropped + Spooled = %d, want the %d events the name counts", total, tt.nameCount)
			}
		})
	}
}

// TestStatsCountSpoolAtStart reads Stats before the sender starts, as a
// "telemetry status" command does right after New. The spooled events of
// an earlier run are counted already, also while DO_NOT_TRACK keeps them
// for a later run, as Pending lists them then.
func TestStatsCountSpoolAtStart(t *testing.T) {
	for _, vars := range []env{{}, {"DO_NOT_TRACK": "1"}} {
		cfg := testConfig(t, "http://127.0.0.1:1")
		cfg.Getenv = vars.get
		plantSpool(t, cfg.Home, 3)

		c, err := build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Stats().Spooled; got != 3 {
			t.Errorf("with %v: Spooled = %d, want the 3 events planted before New", vars, got)
		}
	}
}

// TestSpoolBatchLargerThanMaxBytes spools batches whose encoded size is
// above Spool.MaxBytes. The spool keeps the newest events that fit, and
// every captured event is counted as sent, spooled or dropped.
func TestSpoolBatchLargerThanMaxBytes(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1") // nothing listens there
	cfg.Spool.MaxBytes = 4 << 10
	cfg.BatchSize = 100
	c := newClient(t, cfg)
	for range 300 {
		c.Capture(validMessage())
	}
	st := closeClient(t, c)

	if got := st.Sent + st.Dropped + st.Queued + st.Spooled; got != st.Captured {
		t.Errorf("sent %d + dropped %d + queued %d + spooled %d = %d, want the %d captured: %v",
			st.Sent, st.Dropped, st.Queued, st.Spooled, got, st.Captured, st.DroppedByReason)
	}
	if st.Spooled == 0 {
		t.Errorf("Spooled = 0, want the newest events that fit in %d bytes", cfg.Spool.MaxBytes)
	}
	if n := st.DroppedByReason[DropSpoolCorrupt]; n != 0 {
		t.Errorf("%d events dropped as %s, want none: the client wrote every spool file itself", n, DropSpoolCorrupt)
	}
	if st.DroppedByReason[DropSpoolFull] == 0 {
		t.Errorf("no events dropped as %s, want the oldest that did not fit: %v", DropSpoolFull, st.DroppedByReason)
	}
	files, err := os.ReadDir(filepath.Join(cfg.Home, SpoolDir))
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	for _, f := range files {
		info, err := f.Info()
		if err != nil {
			t.Fatal(err)
		}
		size += info.Size()
	}
	if size > cfg.Spool.MaxBytes {
		t.Errorf("spool holds %d bytes, over Spool.MaxBytes %d", size, cfg.Spool.MaxBytes)
	}
}

// TestSpoolEventLargerThanMaxBytes spools a batch with one event that
// alone is larger than Spool.MaxBytes. That event is dropped as
// spool_full, and the other events are spooled.
func TestSpoolEventLargerThanMaxBytes(t *testing.T) {
	cfg := Config{Home: t.TempDir(), Spool: SpoolConfig{MaxBytes: 64}}
	cfg = cfg.withDefaults()
	stats := &counters{}
	sp := newSpool(&cfg, stats)
	huge := []byte(`{"event":"` + strings.Repeat("x", 100) + `"}`)
	if err := sp.write([][]byte{[]byte(`{"a":1}`), huge, []byte(`{"b":2}`)}); err != nil {
		t.Fatal(err)
	}

	if n := stats.spooled.Load(); n != 2 {
		t.Errorf("Spooled = %d, want the 2 events that fit", n)
	}
	if st := stats.snapshot(0); st.DroppedByReason[DropSpoolFull] != 1 {
		t.Errorf("dropped %v, want 1 event as %s", st.DroppedByReason, DropSpoolFull)
	}
}
