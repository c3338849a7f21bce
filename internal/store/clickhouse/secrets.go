package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

var _ store.InstallSecrets = (*Store)(nil)

// createSecretsSQL creates the table of deletion key hashes. It is created
// on first use rather than by a migration, because only the methods below
// read it. "{table}" stands for the quoted table name.
//
// ClickHouse has no unique keys, so two collectors that register one
// install at the same moment may both write a row. Every read then takes
// the row with the smallest registered_us (and the smallest hash on a tie),
// which makes the first registration win everywhere.
const createSecretsSQL = `CREATE TABLE IF NOT EXISTS {table} (
	project       String,
	distinct_id   String,
	hash          String,
	registered_us Int64
) ENGINE = MergeTree ORDER BY (project, distinct_id)`

func (s *Store) secretsTable() string {
	return "`" + s.config.Database + "`.install_secrets"
}

// RegisterInstallSecret stores hash for the install unless one is stored
// already. It selects the install by installRefCondition and sends the
// new row as data, so the text of its statements contains no install ID.
func (s *Store) RegisterInstallSecret(ctx context.Context, project, distinctID, hash string) error {
	err := s.withSecrets(ctx, func(ctx context.Context) error {
		_, _, found, err := s.readInstallSecret(ctx, project, distinctID)
		if err != nil || found {
			return err
		}
		row, err := json.Marshal(secretRow{Project: project, DistinctID: distinctID, Hash: hash, RegisteredUS: time.Now().UnixMicro()})
		if err != nil {
			return err
		}
		return s.client.insert(ctx, s.secretsTable(), row)
	})
	if err != nil {
		return fmt.Errorf("register the deletion key of an install of project %q: %w", project, err)
	}
	return nil
}

// secretRow is one row of the secrets table in the JSONEachRow format.
type secretRow struct {
	Project      string `json:"project"`
	DistinctID   string `json:"distinct_id"`
	Hash         string `json:"hash"`
	RegisteredUS int64  `json:"registered_us"`
}

// InstallSecretHash returns the first registered hash, or
// store.ErrSecretNotFound.
func (s *Store) InstallSecretHash(ctx context.Context, project, distinctID string) (string, error) {
	var hash string
	var found bool
	err := s.withSecrets(ctx, func(ctx context.Context) error {
		var err error
		hash, _, found, err = s.readInstallSecret(ctx, project, distinctID)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read the deletion key of an install of project %q: %w", project, err)
	}
	if !found {
		return "", store.ErrSecretNotFound
	}
	return hash, nil
}

// readInstallSecret returns the hash of the install's first registration
// and the time of its newest in microseconds, or found false when none is
// stored. It selects the install by installRefCondition, and its caller
// runs it under withSecrets.
func (s *Store) readInstallSecret(ctx context.Context, project, distinctID string) (first string, newestUS int64, found bool, err error) {
	rows, err := s.client.query(ctx, `SELECT distinct_id, hash, registered_us FROM `+s.secretsTable()+
		` WHERE `+installRefCondition+` ORDER BY registered_us, hash`, installRef(project, distinctID))
	if err != nil {
		return "", 0, false, err
	}
	for _, row := range rows {
		if len(row) != 3 || row[0] != distinctID {
			continue
		}
		registered, err := strconv.ParseInt(row[2], 10, 64)
		if err != nil {
			return "", 0, false, fmt.Errorf("read registered_us %q: %w", row[2], err)
		}
		if !found {
			first, found = row[1], true
		}
		newestUS = max(newestUS, registered)
	}
	return first, newestUS, found, nil
}

// DeleteInstallSecret deletes the stored hashes of the install with an
// ALTER TABLE ... DELETE mutation and returns once the server applied it.
// It returns errInstallKeyShared, and deletes nothing, when the install's
// key also selects another install's row.
func (s *Store) DeleteInstallSecret(ctx context.Context, project, distinctID string) error {
	err := s.withSecrets(ctx, func(ctx context.Context) error {
		condition := installKeyCondition(project, distinctID)
		rows, err := s.client.query(ctx, `SELECT DISTINCT distinct_id FROM `+s.secretsTable()+` WHERE `+condition)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		if slices.ContainsFunc(rows, func(row []string) bool { return len(row) != 1 || row[0] != distinctID }) {
			return errInstallKeyShared(project, distinctID)
		}

		return s.mutate(ctx, "install_secrets", `ALTER TABLE `+s.secretsTable()+` DELETE WHERE `+condition)
	})
	if err != nil {
		return fmt.Errorf("delete the deletion key of an install of project %q: %w", project, err)
	}
	return nil
}

// withSecrets runs fn under secretsMu after creating the secrets table on
// the Store's first call. The lock orders a read after a registration of
// this Store that returned before it, and keeps one Store from
// registering an install twice. fn gets a context that whileResponsive
// ends when the server stops responding, and so does the creation of the
// table.
func (s *Store) withSecrets(ctx context.Context, fn func(ctx context.Context) error) error {
	release, err := s.acquire()
	if err != nil {
		return err
	}
	defer release()

	s.secretsMu.Lock()
	defer s.secretsMu.Unlock()
	return s.whileResponsive(ctx, func(ctx context.Context) error {
		if !s.secretsReady {
			if err := s.client.exec(ctx, strings.ReplaceAll(createSecretsSQL, "{table}", s.secretsTable())); err != nil {
				return fmt.Errorf("create install_secrets table: %w", err)
			}
			s.secretsReady = true
		}
		return fn(ctx)
	})
}

// RenewInstallSecret adds a row with the install's first hash and the
// current time when its newest row is older than t. Reads take the oldest
// row, so the hash stays the first one registered, and retention deletes
// rows by their own time without losing the hash of a renewed install.
// Like RegisterInstallSecret, it selects the install by
// installRefCondition and sends the row as data.
func (s *Store) RenewInstallSecret(ctx context.Context, project, distinctID string, t time.Time) error {
	err := s.withSecrets(ctx, func(ctx context.Context) error {
		first, newest, found, err := s.readInstallSecret(ctx, project, distinctID)
		if err != nil {
			return err
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
