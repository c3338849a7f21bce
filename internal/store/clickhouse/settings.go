package clickhouse

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
)

// serverSettings are the values that system.settings shows for the
// Store's user, by setting name. A setting that the server does not know
// has no entry.
type serverSettings map[string]string

// readServerSettings reads the settings that change how the Store writes.
// The query runs on ClickHouse 18.16, which has none of the async insert
// settings, and on current releases.
func (s *Store) readServerSettings(ctx context.Context) (serverSettings, error) {
	rows, err := s.client.query(ctx, `SELECT name, value FROM system.settings
		WHERE name IN ('mutations_sync', 'async_insert', 'wait_for_async_insert')`)
	if err != nil {
		return nil, fmt.Errorf("read server settings: %w", err)
	}
	settings := make(serverSettings, len(rows))
	for _, row := range rows {
		if len(row) != 2 {
			return nil, fmt.Errorf("read server settings: unexpected row %q", row)
		}
		settings[row[0]] = row[1]
	}
	return settings, nil
}

// isOff reports whether value is a false boolean setting, as
// system.settings shows it: "0" in every release, "false" in some.
func isOff(value string) bool {
	return value == "0" || value == "false"
}

// acknowledgesEarly reports whether the server acknowledges an INSERT
// before it writes the rows: async_insert = 1 with wait_for_async_insert =
// 0 keeps the rows in a buffer in memory, where a crash of the server
// loses them.
func (settings serverSettings) acknowledgesEarly() bool {
	asyncInsert, known := settings["async_insert"]
	return known && !isOff(asyncInsert) && isOff(settings["wait_for_async_insert"])
}

// settingRejectedCodes are ClickHouse's error codes for a setting that the
// user may not change: SETTING_CONSTRAINT_VIOLATION, from a constraint of
// the user's profile, and READONLY, for a user with readonly = 1.
var settingRejectedCodes = []string{"452", "164"}

// turnOffAsyncInserts makes every statement of the Store carry
// async_insert = 0 on a server that has asynchronous inserts (ClickHouse
// 21.11 and later), so that each INSERT returns only after the server has
// written its rows to disk, whatever the user's profile sets now or later.
// The Store batches its inserts itself, so the server's buffer would add
// only latency. ClickHouse 18.16 rejects unknown settings, so the Store
// sends none to a server without the setting.
//
// When the server rejects the setting, as under a constraint of the
// user's profile, the Store sends no setting if the profile's values are
// durable and fails with the fix otherwise.
//
// NOTE: without the setting, the Store relies on the values read here. A
// profile that a running Store cannot override and that turns
// wait_for_async_insert off later goes unnoticed until the Store opens
// again.
func (s *Store) turnOffAsyncInserts(ctx context.Context, settings serverSettings) error {
	if _, known := settings["async_insert"]; !known {
		return nil
	}
	s.client.settings = url.Values{"async_insert": {"0"}}
	_, err := s.client.query(ctx, `SELECT 1`)
	if err == nil || !slices.Contains(settingRejectedCodes, errorCode(err)) {
		return err
	}

	s.client.settings = nil
	if !settings.acknowledgesEarly() {
		return nil
	}
	user := cmp.Or(s.config.User, "default")
	return fmt.Errorf("set async_insert = 0 for the inserts of user %s: %w: the user's settings profile sets "+
		"async_insert = 1 with wait_for_async_insert = 0, under which ClickHouse acknowledges an INSERT before "+
		"it writes the rows, so a crash could lose events that candor reported as stored: set wait_for_async_insert = 1 "+
		"or async_insert = 0 in the profile, or remove its constraint on async_insert", user, err)
}
