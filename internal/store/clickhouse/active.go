package clickhouse

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// dayNumberSQL is the UTC day of ts as days since 1970-01-01.
const dayNumberSQL = "intDiv(toUInt32(ts), 86400)"

// dayNumber returns the UTC day of t as days since 1970-01-01.
func dayNumber(t time.Time) int64 {
	return t.Unix() / 86400
}

// formatDay returns day, counted from 1970-01-01, as YYYY-MM-DD.
func formatDay(day int64) string {
	return time.Unix(day*86400, 0).UTC().Format(time.DateOnly)
}

// activeChange is the sum of the changes of the active install count of
// one window on one day, and the number of installs active on that day.
type activeChange struct {
	window int
	day    int64
	delta  int64
	starts int64
}

// ActiveInstalls counts the installs active in windows of q.Windows days
// that end on each day of the range.
//
// The query reduces the selected events to each install's sorted active
// days. Each active day a opens a span [a, min(a+w, next active day)) for
// window w, so the spans of one install never overlap, and their union
// holds the days whose window contains one of its events. The query
// returns +1 per span start and -1 per span end, summed per window and
// day, and the running sum in Go gives the active installs of each day.
// This needs no window functions and no count per day and window.
func (s *Store) ActiveInstalls(ctx context.Context, q store.ActiveQuery) ([]store.ActiveRow, error) {
	release, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()

	if len(q.Windows) == 0 {
		return nil, nil
	}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("query active installs: %w", err)
	}
	windows := slices.Clone(q.Windows)
	slices.Sort(windows)
	windows = slices.Compact(windows)

	// The events of the look-back before From count towards the first
	// days' windows.
	f := q.Filter
	if !f.From.IsZero() {
		f.From = utcDay(f.From).AddDate(0, 0, -(windows[len(windows)-1] - 1))
	}
	changes, err := s.activeChanges(ctx, f, windows)
	if err != nil {
		return nil, fmt.Errorf("query active installs: %w", err)
	}
	if len(changes) == 0 {
		return nil, nil
	}

	first, last := activeRange(changes)
	if !q.Filter.From.IsZero() {
		first = dayNumber(q.Filter.From)
	}
	if !q.Filter.To.IsZero() {
		last = dayNumber(q.Filter.To.Add(-time.Microsecond))
	}
	// No install is active before the first change or from the last one
	// on, so a range of centuries costs no more than the active days.
	// changes[0] is the first active day, and the last change, the end of
	// the longest window's last span, is the last day of any change.
	first = max(first, changes[0].day)
	last = min(last, changes[len(changes)-1].day)
	return runningCounts(changes, first, last), nil
}

// activeChanges returns the changes per window and day, ordered by window,
// then day.
func (s *Store) activeChanges(ctx context.Context, f store.Filter, windows []int) ([]activeChange, error) {
	list := make([]string, len(windows))
	for i, w := range windows {
		list[i] = strconv.Itoa(w)
	}
	// 4294967295 stands for "no next active day": every a+w is smaller.
	rows, err := s.client.query(ctx, `SELECT w, tupleElement(change, 1) AS change_day,
			sum(tupleElement(change, 2)), countIf(tupleElement(change, 2) = 1)
		FROM (
			SELECT w, arrayJoin(arrayConcat(
				arrayMap(d -> (d, toInt64(1)), days),
				arrayMap((d, next_day) -> (least(d + w, next_day), toInt64(-1)), days,
					arrayPushBack(arrayPopFront(days), toInt64(4294967295)))
			)) AS change
			FROM (
				SELECT arraySort(groupUniqArray(toInt64(`+dayNumberSQL+`))) AS days
				FROM `+s.events+` WHERE `+filterConditions(f, selectAll)+`
				GROUP BY project, distinct_id
			)
			ARRAY JOIN [`+strings.Join(list, ", ")+`] AS w
		)
		GROUP BY w, change_day
		ORDER BY w, change_day`)
	if err != nil {
		return nil, err
	}

	changes := make([]activeChange, len(rows))
	for i, row := range rows {
		if len(row) != 4 {
			return nil, fmt.Errorf("unexpected row %q", row)
		}
		window, err := strconv.Atoi(row[0])
		if err != nil {
			return nil, fmt.Errorf("invalid window %q", row[0])
		}
		numbers, err := parseCounts(row[1:])
		if err != nil {
			return nil, err
		}
		changes[i] = activeChange{window: window, day: numbers[0], delta: numbers[1], starts: numbers[2]}
	}
	return changes, nil
}

// activeRange returns the first and the last day with a selected event.
func activeRange(changes []activeChange) (first, last int64) {
	found := false
	for _, c := range changes {
		if c.starts == 0 {
			continue
		}
		if !found || c.day < first {
			first = c.day
		}
		if !found || c.day > last {
			last = c.day
		}
		found = true
	}
	return first, last
}

// runningCounts returns, for each window and each day from first to last,
// the running sum of the changes up to that day, leaving out days without
// active installs.
func runningCounts(changes []activeChange, first, last int64) []store.ActiveRow {
	var active []store.ActiveRow
	for start := 0; start < len(changes); {
		window := changes[start].window
		end := start
		for end < len(changes) && changes[end].window == window {
			end++
		}

		next, running := start, int64(0)
		for day := first; day <= last; day++ {
			for next < end && changes[next].day <= day {
				running += changes[next].delta
				next++
			}
			if running > 0 {
				active = append(active, store.ActiveRow{Day: formatDay(day), Window: window, Installs: running})
			}
		}
		start = end
	}
	return active
}

// utcDay returns the UTC midnight that starts the day of t.
func utcDay(t time.Time) time.Time {
	return t.UTC().Truncate(24 * time.Hour)
}
