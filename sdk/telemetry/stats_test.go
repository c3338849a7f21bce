package telemetry

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/candor-dev/candor/sdk/mux"
)

// TestStatsNeverDropMoreThanCaptured reads Stats while other goroutines
// capture into a closed client, which counts each event as captured and
// dropped at once. No snapshot may show more drops than captured events.
func TestStatsNeverDropMoreThanCaptured(t *testing.T) {
	col := newCollector(t)
	c := newClient(t, testConfig(t, col.srv.URL))
	closeClient(t, c)

	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				c.Capture(mux.CommandUsed{Command: "new"})
			}
		}()
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()

	for range 20000 {
		st := c.Stats()
		if st.Dropped > st.Captured {
			t.Fatalf("Stats shows %d dropped of %d captured: %v", st.Dropped, st.Captured, st.DroppedByReason)
		}
	}
}
