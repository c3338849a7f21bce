package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// backfillBatchRows is the number of rewritten events per INSERT of
// backfillProperties.
const backfillBatchRows = 10000

// optimizeAttempts is how often backfillMonth tries to merge a partition
// while a background merge holds its parts.
const optimizeAttempts = 5

// lacksProperties selects the events written before schema version 2,
// which have no prop_keys although their properties are not empty.
const lacksProperties = `length(prop_keys) = 0 AND properties != '{}'`

// backfillProperties gives the events written before schema version 2 their
// prop_keys and prop_values, one monthly partition at a time: it inserts
// each such event again with the arrays filled, then merges the partition
// with OPTIMIZE ... FINAL, which keeps the row inserted last of each
// (project, uuid). Until that merge, the analytics queries may see both
// rows of an event, so a breakdown may count it under its value and under
// store.NoValue.
//
// It is safe to run twice and to stop at any point: a partition that was
// rewritten but not merged is rewritten again, with rows equal to the first
// rewrite.
func (s *Store) backfillProperties(ctx context.Context) error {
	rows, err := s.client.query(ctx, `SELECT DISTINCT toYYYYMM(ts) AS month FROM `+s.events+
		` WHERE `+lacksProperties+` ORDER BY month`)
	if err != nil {
		return fmt.Errorf("find events without prop_keys: %w", err)
	}
	for _, row := range rows {
		if len(row) != 1 {
			return fmt.Errorf("find events without prop_keys: unexpected row %q", row)
		}
		month, err := strconv.Atoi(row[0])
		if err != nil {
			return fmt.Errorf("find events without prop_keys: invalid month %q", row[0])
		}
		if err := s.backfillMonth(ctx, month); err != nil {
			return fmt.Errorf("add prop_keys to the events of month %d: %w", month, err)
		}
	}
	return nil
}

func (s *Store) backfillMonth(ctx context.Context, month int) error {
	var batch []byte
	count := 0
	flush := func() error {
		if count == 0 {
			return nil
		}
		err := s.client.insert(ctx, s.events, batch)
		batch, count = batch[:0], 0
		return err
	}

	query := fmt.Sprintf(`SELECT project, uuid, event, distinct_id, ts_us, toUInt32(received_at), properties
		FROM %s WHERE toYYYYMM(ts) = %d AND %s
		LIMIT 1 BY project, uuid`, s.events, month, lacksProperties)
	err := s.client.queryEach(ctx, query, nil, func(fields []string) error {
		row, err := rewriteRow(fields)
		if err != nil {
			return err
		}
		batch = append(batch, row...)
		count++
		if count == backfillBatchRows {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	return s.optimizePartition(ctx, month)
}

// rewriteRow returns the JSONEachRow line of a stored event, given as the
// fields that backfillMonth selects, with prop_keys and prop_values.
func rewriteRow(fields []string) ([]byte, error) {
	if len(fields) != 7 {
		return nil, fmt.Errorf("unexpected row %q", fields)
	}
	micros, err := strconv.ParseInt(fields[4], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("invalid ts_us %q", fields[4])
	}
	received, err := strconv.ParseInt(fields[5], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("invalid received_at %q", fields[5])
	}
	// Numbers stay json.Number, so the properties encode to the same text.
	decoder := json.NewDecoder(strings.NewReader(fields[6]))
	decoder.UseNumber()
	var properties map[string]any
	if err := decoder.Decode(&properties); err != nil {
		return nil, fmt.Errorf("decode properties of event %q: %w", fields[1], err)
	}

	return encodeRow(store.Event{
		Project:    fields[0],
		UUID:       fields[1],
		Name:       fields[2],
		DistinctID: fields[3],
		Timestamp:  time.UnixMicro(micros).UTC(),
		ReceivedAt: time.Unix(received, 0).UTC(),
		Properties: properties,
	})
}

// optimizePartition merges the parts of one month into one. With
// optimize_throw_if_noop, OPTIMIZE fails instead of doing nothing when a
// background merge holds some of the parts, so it is tried again.
func (s *Store) optimizePartition(ctx context.Context, month int) error {
	params := url.Values{"optimize_throw_if_noop": {"1"}}
	statement := fmt.Sprintf("OPTIMIZE TABLE %s PARTITION %d FINAL", s.events, month)
	var err error
	for attempt := range optimizeAttempts {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * time.Second):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if _, err = s.client.post(ctx, statementKind(statement), params, "", strings.NewReader(statement)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("merge partition: %w (open the store again to retry)", err)
}
