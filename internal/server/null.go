package server

import (
	"context"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// nullStore is the store of StoreNull: Insert reports every event as newly
// stored and keeps none, and every query finds nothing.
type nullStore struct{}

var _ store.Store = nullStore{}

func (nullStore) Insert(_ context.Context, events []store.Event) (int, error) {
	return len(events), nil
}

func (nullStore) Overview(context.Context, store.Filter) (store.Overview, error) {
	return store.Overview{Events: map[string]int64{}}, nil
}

func (nullStore) EventsPerDay(context.Context, store.Filter) ([]store.DayCount, error) {
	return nil, nil
}

func (nullStore) ActiveInstallsPerDay(context.Context, store.Filter) ([]store.DayValue, error) {
	return nil, nil
}

func (nullStore) DeleteInstall(context.Context, string, string) (int64, error) { return 0, nil }

func (nullStore) DeleteBefore(context.Context, time.Time) (int64, error) { return 0, nil }

func (nullStore) Close() error { return nil }
