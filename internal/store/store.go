// Package store defines the storage interface of the collector and the types
// that cross it. Each backend lives in its own subpackage (duckdb, clickhouse)
// and passes the shared conformance suite in storetest.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("store: closed")

// ErrUnavailable matches, with errors.Is, an error of Unavailable: a
// failure of the store itself, such as a full disk, that is not caused
// by the events of the call.
var ErrUnavailable = errors.New("store: unavailable")

// Unavailable marks err as a failure of the store itself. The result has
// the text of err and matches both err and ErrUnavailable.
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	return unavailableError{err}
}

type unavailableError struct{ err error }

func (e unavailableError) Error() string { return e.err.Error() }

func (e unavailableError) Unwrap() []error { return []error{e.err, ErrUnavailable} }

// Event is one validated event as the collector stores it. Properties have
// already been normalized against the project's catalog, so a store never
// sees a value that breaks its privacy class.
type Event struct {
	Project    string // project name the write key belongs to, such as "mux"
	UUID       string // canonical lowercase UUID; (Project, UUID) is unique
	Name       string // event name, such as "message_sent"
	DistinctID string // the install ID
	Timestamp  time.Time
	ReceivedAt time.Time
	Properties map[string]any
}

// Filter selects events for a query. The zero Filter selects everything.
type Filter struct {
	Project   string    // empty selects every project
	Projects  []string  // when not empty, also restricts the events to these projects
	From      time.Time // inclusive; zero means unbounded
	To        time.Time // exclusive; zero means unbounded
	Versions  []string  // app versions ("version" property); empty selects all
	Platforms []string  // "backend_platform" values; empty selects all
	Events    []string  // event names; empty selects all
}

// Overview is the summary of the events a Filter selects.
type Overview struct {
	TotalEvents int64            `json:"total_events"`
	Installs    int64            `json:"installs"`
	Events      map[string]int64 `json:"events"`
	Versions    []KeyCount       `json:"top_versions"`
	Platforms   []KeyCount       `json:"top_platforms"`
}

// KeyCount is one row of a breakdown: a property value, its event count and
// the number of distinct installs behind it.
type KeyCount struct {
	Key      string `json:"key"`
	Events   int64  `json:"events"`
	Installs int64  `json:"installs"`
}

// DayCount is the number of events of one name on one UTC day.
type DayCount struct {
	Day   string `json:"day"` // YYYY-MM-DD, UTC
	Event string `json:"event"`
	Count int64  `json:"count"`
}

// DayValue is one value per UTC day, such as daily active installs.
type DayValue struct {
	Day   string `json:"day"` // YYYY-MM-DD, UTC
	Value int64  `json:"value"`
}

// StoredUnknown is the return value of Store.Insert in place of a count of
// newly stored events, when the events are durable but the store has not
// yet learned which of them it held already, as with a journal.
const StoredUnknown = -1

// LoadReporter is implemented by stores whose Insert returns
// StoredUnknown. The store calls report when the count becomes known, with
// the number of events of one project and how many of them it newly
// stored. report must not block.
type LoadReporter interface {
	ReportLoads(report func(project string, events, stored int))
}

// Store is implemented by every storage backend. All methods are safe for
// concurrent use.
type Store interface {
	// Insert stores events durably: when it returns nil, every event is
	// committed and survives a crash. Events whose (Project, UUID) is already
	// stored are skipped. It returns how many events were newly stored, or
	// StoredUnknown when the events are durable but that count is not known
	// yet.
	Insert(ctx context.Context, events []Event) (int, error)

	// Overview summarizes the selected events; Versions and Platforms hold
	// at most 10 rows each, most events first.
	Overview(ctx context.Context, f Filter) (Overview, error)

	// EventsPerDay counts the selected events per UTC day and event name,
	// ordered by day, then name. Days without events are absent.
	EventsPerDay(ctx context.Context, f Filter) ([]DayCount, error)

	// ActiveInstallsPerDay counts distinct installs per UTC day, ordered by
	// day. Days without events are absent.
	ActiveInstallsPerDay(ctx context.Context, f Filter) ([]DayValue, error)

	// DeleteInstall deletes every event of one install in one project and
	// returns how many were deleted.
	DeleteInstall(ctx context.Context, project, distinctID string) (int64, error)

	// DeleteBefore deletes every event with a Timestamp before t and returns
	// how many were deleted.
	DeleteBefore(ctx context.Context, t time.Time) (int64, error)

	// Close flushes and releases the store. It is idempotent.
	Close() error
}

// Ping checks that st responds: through its own Ping method when it has
// one, otherwise with an Overview over an empty time range, which reads no
// events.
func Ping(ctx context.Context, st Store) error {
	if p, ok := st.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx)
	}
	now := time.Now()
	_, err := st.Overview(ctx, Filter{From: now, To: now})
	return err
}
