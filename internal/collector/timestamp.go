package collector

import (
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxFutureSkew is how far past the receive time an event's timestamp may
// lie. As in PostHog's capture service, a later timestamp is replaced by the
// receive time.
const MaxFutureSkew = 23 * time.Hour

// unixEpoch is the earliest timestamp an event keeps.
var unixEpoch = time.Unix(0, 0).UTC()

// resolveTimestamp returns when an event happened, following PostHog's
// capture service:
//   - the receive time by default;
//   - a parseable timestamp, shifted by the client's clock error
//     (now - sentAt) when the request has sent_at and the event does not set
//     $ignore_sent_at;
//   - now - offset milliseconds when the event has an offset, which wins
//     over timestamp.
//
// A result more than 23 hours ahead of now becomes now. A result before
// the Unix epoch becomes now too when sent_at or offset produced it,
// because an app cannot have recorded an event before 1970, so that
// sent_at or offset is wrong. A timestamp that the client sent before the
// epoch becomes the epoch, because ClickHouse's DateTime column starts
// there and one event it cannot store would fail the whole group commit.
func resolveTimestamp(now, sentAt time.Time, ignoreSentAt bool, timestamp, offset json.RawMessage) time.Time {
	ts, corrected := now, false
	if t, ok := parseTimestamp(timestamp); ok {
		if !sentAt.IsZero() && !ignoreSentAt {
			ts, corrected = correctSkew(now, t, sentAt), true
		} else {
			ts = t
		}
	}
	if ms, ok := parseOffset(offset); ok {
		ts, corrected = addMillis(now, -ms), true
	}

	switch {
	case ts.After(now.Add(MaxFutureSkew)):
		return now.UTC()
	case corrected && ts.Before(unixEpoch):
		return now.UTC()
	case ts.Before(unixEpoch) || ts.Year() > 9999:
		return unixEpoch
	}
	return ts.UTC()
}

// correctSkew returns now + (t - sentAt). time.Time.Sub saturates at
// about 292 years, so a larger difference is taken in milliseconds.
func correctSkew(now, t, sentAt time.Time) time.Time {
	d := t.Sub(sentAt)
	if d == math.MaxInt64 || d == math.MinInt64 {
		return addMillis(now, t.UnixMilli()-sentAt.UnixMilli())
	}
	return now.Add(d)
}

// maxDurationMillis is the largest number of milliseconds that a
// time.Duration holds, about 292 years.
const maxDurationMillis = math.MaxInt64 / int64(time.Millisecond)

// addMillis returns t moved by ms milliseconds, which may be more than a
// time.Duration holds. The caller keeps |ms| within a few times maxMillis,
// so that the sum with t's epoch milliseconds cannot overflow.
func addMillis(t time.Time, ms int64) time.Time {
	if ms > maxDurationMillis || ms < -maxDurationMillis {
		return time.UnixMilli(t.UnixMilli() + ms)
	}
	return t.Add(time.Duration(ms) * time.Millisecond)
}

// parseTimestamp reads a timestamp field: a string in one of timeLayouts or
// with epoch seconds or milliseconds, or a JSON number of either.
func parseTimestamp(raw json.RawMessage) (time.Time, bool) {
	if isJSONNull(raw) {
		return time.Time{}, false
	}
	if s, ok := jsonString(raw); ok {
		return parseTimeString(s)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return time.Time{}, false
	}
	return epochTime(f), true
}

// timeLayouts are the timestamp formats accepted, besides epoch numbers. A
// layout without a zone reads the time as UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
	time.RFC1123Z,
	time.RFC1123,
	time.RFC850,
	time.RFC822Z,
	time.RFC822,
	time.ANSIC,
}

func parseTimeString(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		return epochTime(f), true
	}
	return time.Time{}, false
}

// parseOffset returns the offset field in milliseconds, clamped to
// ±maxMillis; ok is false when it is absent or not a number. NaN, which
// strconv accepts but JSON cannot carry, is not a number here either.
func parseOffset(raw json.RawMessage) (ms int64, ok bool) {
	if isJSONNull(raw) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	return int64(math.Max(-maxMillis, math.Min(f, maxMillis))), true
}

// maxMillis bounds epoch and offset milliseconds: about 285,000 years, so
// that adding them to a time's epoch milliseconds cannot overflow.
const maxMillis = 9e15

// epochTime reads f as epoch milliseconds when its magnitude is at least
// 1e11 (which as seconds would be past the year 5000), else as seconds.
func epochTime(f float64) time.Time {
	f = math.Max(-maxMillis, math.Min(f, maxMillis))
	if math.Abs(f) >= 1e11 {
		return time.UnixMilli(int64(f))
	}
	return time.UnixMilli(int64(f * 1000))
}

// querySentAt reads the sent_at or _ query parameter as epoch milliseconds.
// A value that lands in 2020 or earlier, such as one in seconds, is ignored,
// as PostHog's capture service does, and so is one after the year 9999.
func querySentAt(query url.Values) time.Time {
	for _, name := range []string{"sent_at", "_"} {
		value := query.Get(name)
		if value == "" {
			continue // saves ParseInt's error value
		}
		ms, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			continue
		}
		if t := time.UnixMilli(ms); t.Year() > 2020 && t.Year() <= 9999 {
			return t
		}
	}
	return time.Time{}
}
