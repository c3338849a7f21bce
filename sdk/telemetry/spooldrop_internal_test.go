package telemetry

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestSpoolDropOldestStaleListing lets two processes that share a spool
// enforce its bound from the same listing, one after the other. The files
// that the first one dropped are gone for the second, so together they
// drop only the 20 oldest of 30 files, and the newest 10 stay.
func TestSpoolDropOldestStaleListing(t *testing.T) {
	home := t.TempDir()
	newTestSpool := func(stats *counters) *spool {
		cfg := Config{Home: home, Spool: SpoolConfig{MaxEvents: 10}}
		cfg = cfg.withDefaults()
		return newSpool(&cfg, stats)
	}
	var firstStats, secondStats counters
	first, second := newTestSpool(&firstStats), newTestSpool(&secondStats)
	if err := os.MkdirAll(first.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		name := fmt.Sprintf("%020d-1-%04x.batch", i+1, i)
		if err := os.WriteFile(filepath.Join(first.dir, name), []byte(spoolLine(fmt.Sprintf("%04x", i))+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	firstListing, err := first.list()
	if err != nil {
		t.Fatal(err)
	}
	secondListing, err := second.list()
	if err != nil {
		t.Fatal(err)
	}
	first.dropOldest(firstListing)
	second.dropOldest(secondListing)

	left, err := first.list()
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 10 {
		t.Errorf("%d files left in the spool, want the newest 10", len(left))
	}
	if len(left) > 0 && left[0].name != fmt.Sprintf("%020d-1-%04x.batch", 21, 20) {
		t.Errorf("oldest file left is %s, want file 21 of 30", left[0].name)
	}
	dropped := firstStats.snapshot(0).DroppedByReason[DropSpoolFull] + secondStats.snapshot(0).DroppedByReason[DropSpoolFull]
	if dropped != 20 {
		t.Errorf("spool_full drops of both processes = %d, want 20", dropped)
	}
}
