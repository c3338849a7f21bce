package telemetry

import (
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
