package clickhouse

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// mutationPollInterval is how often a delete checks system.mutations on a
// server without the mutations_sync setting.
const mutationPollInterval = 50 * time.Millisecond

// DeleteInstall deletes every event of one install in one project and
// returns how many events it deleted. No statement it sends contains the
// install ID: they select the install by installKey, so system.mutations
// and system.query_log keep only that key.
func (s *Store) DeleteInstall(ctx context.Context, project, distinctID string) (int64, error) {
	count := func(ctx context.Context) (int64, error) {
		return s.countInstallEvents(ctx, project, distinctID)
	}
	deleted, err := s.delete(ctx, installKeyCondition(project, distinctID), count)
	if err != nil {
		return 0, fmt.Errorf("delete an install of project %q: %w", project, err)
	}
	return deleted, nil
}

// DeleteBefore deletes every event with a timestamp before t and returns
// how many events it deleted.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	condition := fmt.Sprintf("ts_us < %d", t.UnixMicro())
	count := func(ctx context.Context) (int64, error) {
		return s.countEvents(ctx, condition)
	}
	deleted, err := s.delete(ctx, condition, count)
	if err != nil {
		return 0, fmt.Errorf("delete events before %s: %w", t.UTC().Format(time.RFC3339Nano), err)
	}
	return deleted, nil
}

// delete counts the events that match condition with count, deletes them
// with an ALTER TABLE ... DELETE mutation and waits until the mutation is
// done.
//
// It holds writeMu, so no batch of this Store is written between the count
// and the mutation. Events that another Store inserts in between may be
// deleted without being counted. It fails with store.ErrUnavailable within
// about 3 s when the server stops responding (whileResponsive).
func (s *Store) delete(ctx context.Context, condition string, count func(context.Context) (int64, error)) (int64, error) {
	release, err := s.acquire()
	if err != nil {
		return 0, err
	}
	defer release()

	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	var matched int64
	err = s.whileResponsive(ctx, func(ctx context.Context) error {
		var err error
		matched, err = count(ctx)
		if err != nil {
			return fmt.Errorf("count events: %w", err)
		}
		if matched == 0 {
			return nil
		}
		return s.mutate(ctx, "events", `ALTER TABLE `+s.events+` DELETE WHERE `+condition)
	})
	if err != nil {
		return 0, err
	}
	return matched, nil
}

// countEvents returns the number of events that match condition.
func (s *Store) countEvents(ctx context.Context, condition string) (int64, error) {
	rows, err := s.client.query(ctx, `SELECT `+countEvents+` FROM `+s.events+` WHERE `+condition)
	if err != nil {
		return 0, err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return 0, fmt.Errorf("unexpected result %q", rows)
	}
	return parseCount(rows[0][0])
}

// countInstallEvents returns the number of events of one install, which
// installKeyCondition selects. It returns errInstallKeyShared when the key
// also selects events of another install.
func (s *Store) countInstallEvents(ctx context.Context, project, distinctID string) (int64, error) {
	rows, err := s.client.query(ctx, `SELECT distinct_id, `+countEvents+` FROM `+s.events+
		` WHERE `+installKeyCondition(project, distinctID)+` GROUP BY distinct_id`)
	if err != nil {
		return 0, err
	}
	var matched int64
	for _, row := range rows {
		if len(row) != 2 {
			return 0, fmt.Errorf("unexpected row with %d fields", len(row))
		}
		if row[0] != distinctID {
			return 0, errInstallKeyShared(project, distinctID)
		}
		if matched, err = parseCount(row[1]); err != nil {
			return 0, err
		}
	}
	return matched, nil
}

// mutate runs an ALTER TABLE mutation of table, a table of the Store's
// database, and returns when the server has applied it to every part.
func (s *Store) mutate(ctx context.Context, table, statement string) error {
	if s.mutationsSync {
		params := url.Values{"mutations_sync": {"1"}}
		if _, err := s.client.post(ctx, statementKind(statement), params, "", strings.NewReader(statement)); err != nil {
			return fmt.Errorf("run mutation: %w", err)
		}
		return nil
	}

	if err := s.client.exec(ctx, statement); err != nil {
		return fmt.Errorf("run mutation: %w", err)
	}
	return s.waitForMutations(ctx, table)
}

// waitForMutations polls system.mutations until no mutation of table is
// pending. This includes mutations that other Stores started, which only
// makes the wait longer.
//
// NOTE: ClickHouse 18.16 keeps a failed mutation pending without a reason
// in system.mutations, so there a failed deletion waits until ctx ends.
func (s *Store) waitForMutations(ctx context.Context, table string) error {
	query := `SELECT count() FROM system.mutations
		WHERE database = ` + quoteString(s.config.Database) + ` AND table = ` + quoteString(table) + ` AND is_done = 0`
	ticker := time.NewTicker(mutationPollInterval)
	defer ticker.Stop()
	for {
		rows, err := s.client.query(ctx, query)
		if err != nil {
			return fmt.Errorf("wait for mutation: %w", err)
		}
		if len(rows) == 1 && len(rows[0]) == 1 && rows[0][0] == "0" {
			return nil
		}

		select {
		case <-ticker.C:
		case <-ctx.Done():
			return fmt.Errorf("wait for mutation: %w (the deletion goes on in the server)", ctx.Err())
		}
	}
}
