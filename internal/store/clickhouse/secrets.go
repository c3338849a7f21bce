package clickhouse

import (
	"context"
	"fmt"
	"net/url"
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

func installCondition(project, distinctID string) string {
	return "project = " + quoteString(project) + " AND distinct_id = " + quoteString(distinctID)
}

// RegisterInstallSecret stores hash for the install unless one is stored
// already.
func (s *Store) RegisterInstallSecret(ctx context.Context, project, distinctID, hash string) error {
	err := s.withSecrets(ctx, func() error {
		rows, err := s.client.query(ctx, `SELECT count() FROM `+s.secretsTable()+` WHERE `+installCondition(project, distinctID))
		if err != nil {
			return err
		}
		if len(rows) == 1 && len(rows[0]) == 1 && rows[0][0] != "0" {
			return nil
		}
		insert := fmt.Sprintf(`INSERT INTO %s VALUES (%s, %s, %s, %d)`, s.secretsTable(),
			quoteString(project), quoteString(distinctID), quoteString(hash), time.Now().UnixMicro())
		return s.client.exec(ctx, insert)
	})
	if err != nil {
		return fmt.Errorf("register deletion key of install %q of project %q: %w", distinctID, project, err)
	}
	return nil
}

// InstallSecretHash returns the first registered hash, or
// store.ErrSecretNotFound.
func (s *Store) InstallSecretHash(ctx context.Context, project, distinctID string) (string, error) {
	var rows [][]string
	err := s.withSecrets(ctx, func() error {
		var err error
		rows, err = s.client.query(ctx, `SELECT hash FROM `+s.secretsTable()+` WHERE `+installCondition(project, distinctID)+
			` ORDER BY registered_us, hash LIMIT 1`)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("read deletion key of install %q of project %q: %w", distinctID, project, err)
	}
	if len(rows) == 0 || len(rows[0]) != 1 {
		return "", store.ErrSecretNotFound
	}
	return rows[0][0], nil
}

// DeleteInstallSecret deletes the stored hashes of the install with an
// ALTER TABLE ... DELETE mutation and returns once the server applied it.
func (s *Store) DeleteInstallSecret(ctx context.Context, project, distinctID string) error {
	err := s.withSecrets(ctx, func() error {
		statement := `ALTER TABLE ` + s.secretsTable() + ` DELETE WHERE ` + installCondition(project, distinctID)
		if s.mutationsSync {
			_, err := s.client.post(ctx, url.Values{"mutations_sync": {"1"}}, "", strings.NewReader(statement))
			return err
		}
		if err := s.client.exec(ctx, statement); err != nil {
			return err
		}
		return s.waitForSecretMutations(ctx)
	})
	if err != nil {
		return fmt.Errorf("delete the deletion key of an install of project %q: %w", project, err)
	}
	return nil
}

// withSecrets runs fn under writeMu after creating the secrets table if
// needed. The lock orders a read after a registration of this Store that
// returned before it, and keeps one Store from registering an install twice.
func (s *Store) withSecrets(ctx context.Context, fn func() error) error {
	release, err := s.acquire()
	if err != nil {
		return err
	}
	defer release()

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.client.exec(ctx, strings.ReplaceAll(createSecretsSQL, "{table}", s.secretsTable())); err != nil {
		return fmt.Errorf("create install_secrets table: %w", err)
	}
	return fn()
}

// waitForSecretMutations polls system.mutations until no mutation of the
// secrets table is pending, on servers without mutations_sync.
func (s *Store) waitForSecretMutations(ctx context.Context) error {
	query := `SELECT count() FROM system.mutations
		WHERE database = ` + quoteString(s.config.Database) + ` AND table = 'install_secrets' AND is_done = 0`
	ticker := time.NewTicker(mutationPollInterval)
	defer ticker.Stop()
	for {
		rows, err := s.client.query(ctx, query)
		if err != nil {
			return fmt.Errorf("wait for mutation: %w", err)
		}
		if len(rows) == 1 && len(rows[0]) == 1 {
			if pending, err := strconv.Atoi(rows[0][0]); err == nil && pending == 0 {
				return nil
			}
		}
		select {
		case <-ticker.C:
		case <-ctx.Done():
			return fmt.Errorf("wait for mutation: %w (the deletion goes on in the server)", ctx.Err())
		}
	}
}
