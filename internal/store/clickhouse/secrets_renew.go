package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// RenewInstallSecret adds a row with the install's first hash and the
// current time when its newest row is older than t. Reads take the oldest
// row, so the hash stays the first one registered, and retention deletes
// rows by their own time without losing the hash of a renewed install.
// Like RegisterInstallSecret, it selects the install by
// installRefCondition and sends the row as data.
func (s *Store) RenewInstallSecret(ctx context.Context, project, distinctID string, t time.Time) error {
	err := s.withSecrets(ctx, func(ctx context.Context) error {
		rows, err := s.client.query(ctx, `SELECT distinct_id, hash, registered_us FROM `+s.secretsTable()+
			` WHERE `+installRefCondition+` ORDER BY registered_us, hash`, installRef(project, distinctID))
		if err != nil {
			return err
		}
		var first string
		var newest int64
		found := false
		for _, row := range rows {
			if len(row) != 3 || row[0] != distinctID {
				continue
			}
			registered, err := strconv.ParseInt(row[2], 10, 64)
			if err != nil {
				return fmt.Errorf("read registered_us %q: %w", row[2], err)
			}
			if !found {
				first, found = row[1], true
			}
			newest = max(newest, registered)
		}
		if !found || newest >= t.UnixMicro() {
			return nil
		}
		row, err := json.Marshal(secretRow{Project: project, DistinctID: distinctID, Hash: first, RegisteredUS: time.Now().UnixMicro()})
		if err != nil {
			return err
		}
		return s.client.insert(ctx, s.secretsTable(), row)
	})
	if err != nil {
		return fmt.Errorf("renew the deletion key of an install of project %q: %w", project, err)
	}
	return nil
}

// DeleteInstallSecretsBefore deletes the rows registered before t with an
// ALTER TABLE ... DELETE mutation, and returns how many installs had no
// newer row. The rows of a renewed install that are older than t go too.
func (s *Store) DeleteInstallSecretsBefore(ctx context.Context, t time.Time) (int64, error) {
	var installs int64
	err := s.withSecrets(ctx, func(ctx context.Context) error {
		before := strconv.FormatInt(t.UnixMicro(), 10)
		rows, err := s.client.query(ctx, `SELECT countIf(newest < `+before+`), sum(old) FROM (
			SELECT max(registered_us) AS newest, countIf(registered_us < `+before+`) AS old
			FROM `+s.secretsTable()+` GROUP BY project, distinct_id)`)
		if err != nil {
			return err
		}
		if len(rows) != 1 || len(rows[0]) != 2 {
			return fmt.Errorf("count deletion keys: unexpected result %v", rows)
		}
		installs, err = strconv.ParseInt(rows[0][0], 10, 64)
		if err != nil {
			return fmt.Errorf("count deletion keys: %w", err)
		}
		if old, err := strconv.ParseInt(rows[0][1], 10, 64); err == nil && old == 0 {
			return nil
		}
		return s.mutate(ctx, "install_secrets", `ALTER TABLE `+s.secretsTable()+` DELETE WHERE registered_us < `+before)
	})
	if err != nil {
		return 0, fmt.Errorf("delete deletion keys registered before %s: %w", t.Format(time.RFC3339), err)
	}
	return installs, nil
}
