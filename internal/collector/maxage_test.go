package collector_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/collector"
)

// TestEventsOlderThanMaxAgeDropped checks that an event the retention pass
// would delete at once is dropped as expired instead of stored.
func TestEventsOlderThanMaxAgeDropped(t *testing.T) {
	e := newEnv(t, func(cfg *collector.Config) { cfg.MaxEventAge = 30 * 24 * time.Hour })
	at := func(uuid string, ts time.Time) string {
		event := messageEvent(uuid)
		return strings.Replace(event, `{"event"`, `{"timestamp":"`+ts.Format(time.RFC3339)+`","event"`, 1)
	}
	body := batchBody(muxKey,
		at(uuidN(1), testNow.Add(-31*24*time.Hour)),
		at(uuidN(2), testNow.Add(-29*24*time.Hour)),
		messageEvent(uuidN(3)),
	)
	res := mustOK(t, e.postJSON("/batch/", body))
	if res.Accepted != 2 {
		t.Errorf("accepted = %d, want 2", res.Accepted)
	}
	if diff := cmp.Diff(map[string]int{"expired": 1}, res.Dropped); diff != "" {
		t.Errorf("dropped mismatch (-want +got):\n%s", diff)
	}
	for _, ev := range e.store.stored() {
		if ev.UUID == uuidN(1) {
			t.Errorf("stored the event of %s, older than MaxEventAge", ev.Timestamp)
		}
	}
}

// TestMaxAgeZeroKeepsOldEvents checks that without MaxEventAge an event of
// any age is stored.
func TestMaxAgeZeroKeepsOldEvents(t *testing.T) {
	e := newEnv(t)
	event := strings.Replace(messageEvent(uuidN(1)), `{"event"`, `{"timestamp":"2001-01-01T00:00:00Z","event"`, 1)
	res := mustOK(t, e.postJSON("/batch/", batchBody(muxKey, event)))
	if res.Accepted != 1 {
		t.Errorf("accepted = %d, want 1", res.Accepted)
	}
}
