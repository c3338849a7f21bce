package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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
		rows, err := s.client.query(ctx, `SELECT DISTINCT distinct_id FROM `+s.secretsTable()+
			` WHERE `+installRefCondition, installRef(project, distinctID))
		if err != nil {
			return err
		}
		if slices.ContainsFunc(rows, func(row []string) bool { return len(row) == 1 && row[0] == distinctID }) {
			return nil
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
	var rows [][]string
	err := s.withSecrets(ctx, func(ctx context.Context) error {
		var err error
		rows, err = s.client.query(ctx, `SELECT distinct_id, hash FROM `+s.secretsTable()+
			` WHERE `+installRefCondition+` ORDER BY registered_us, hash`, installRef(project, distinctID))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read the deletion key of an install of project %q: %w", project, err)
	}
	for _, row := range rows {
		if len(row) == 2 && row[0] == distinctID {
			return row[1], nil
		}
	}
	return "", store.ErrSecretNotFound
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
