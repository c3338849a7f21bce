package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

var _ store.InstallSecrets = (*Store)(nil)

// createSecretsSQL creates the table of deletion key hashes, one row per
// install, with the install's latest registration time in microseconds
// since the epoch. The table is created on first use rather than by a
// migration, because the methods below are the only ones that read it.
const createSecretsSQL = `CREATE TABLE IF NOT EXISTS install_secrets (
	project       VARCHAR NOT NULL,
	distinct_id   VARCHAR NOT NULL,
	hash          VARCHAR NOT NULL,
	registered_us BIGINT,
	PRIMARY KEY (project, distinct_id)
)`

// upgradeSecretsSQL adds registered_us to a table created before it
// existed. Its rows count as registered at the upgrade, so retention keeps
// them for one more period.
var upgradeSecretsSQL = []string{
	`ALTER TABLE install_secrets ADD COLUMN IF NOT EXISTS registered_us BIGINT`,
	`UPDATE install_secrets SET registered_us = ? WHERE registered_us IS NULL`,
}

// RegisterInstallSecret stores hash for the install unless one is stored
// already, and otherwise moves the registration time of the stored hash to
// now when it is before renewBefore, in one statement.
func (s *Store) RegisterInstallSecret(ctx context.Context, project, distinctID, hash string, renewBefore time.Time) error {
	err := s.withSecrets(ctx, func(conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, `INSERT INTO install_secrets (project, distinct_id, hash, registered_us) VALUES (?, ?, ?, ?)
			ON CONFLICT (project, distinct_id) DO UPDATE SET registered_us = excluded.registered_us
			WHERE install_secrets.registered_us < ?`,
			project, distinctID, hash, time.Now().UnixMicro(), renewBefore.UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("register the deletion key of an install of project %q: %w", project, err)
	}
	return nil
}

// InstallSecretHash returns the stored hash, or store.ErrSecretNotFound.
func (s *Store) InstallSecretHash(ctx context.Context, project, distinctID string) (string, error) {
	var hash string
	err := s.withSecrets(ctx, func(conn *sql.Conn) error {
		return conn.QueryRowContext(ctx,
			`SELECT hash FROM install_secrets WHERE project = ? AND distinct_id = ?`, project, distinctID).Scan(&hash)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrSecretNotFound
	}
	if err != nil {
		return "", fmt.Errorf("read the deletion key of an install of project %q: %w", project, err)
	}
	return hash, nil
}

// DeleteInstallSecret deletes the stored hash, if any.
func (s *Store) DeleteInstallSecret(ctx context.Context, project, distinctID string) error {
	err := s.withSecrets(ctx, func(conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx,
			`DELETE FROM install_secrets WHERE project = ? AND distinct_id = ?`, project, distinctID)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete the deletion key of an install of project %q: %w", project, err)
	}
	return nil
}

// DeleteInstallSecretsBefore deletes the hashes registered last before t.
func (s *Store) DeleteInstallSecretsBefore(ctx context.Context, t time.Time) (int64, error) {
	var deleted int64
	err := s.withSecrets(ctx, func(conn *sql.Conn) error {
		res, err := conn.ExecContext(ctx, `DELETE FROM install_secrets WHERE registered_us < ?`, t.UnixMicro())
		if err != nil {
			return err
		}
		deleted, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete deletion keys registered before %s: %w", t.Format(time.RFC3339), err)
	}
	return deleted, nil
}

// withSecrets runs fn on the write connection after creating the secrets
// table if needed. Reads take the write lock too: all three calls are rare
// (the collector registers each install once per process), and the lock
// orders a read after a registration that returned before it.
func (s *Store) withSecrets(ctx context.Context, fn func(conn *sql.Conn) error) error {
	release, err := s.acquire()
	if err != nil {
		return err
	}
	defer release()

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if !s.secretsReady {
		if err := s.prepareSecrets(ctx); err != nil {
			return err
		}
		s.secretsReady = true
	}
	return fn(s.writer)
}

// prepareSecrets creates the install_secrets table, or adds the
// registration time to one created before it existed.
func (s *Store) prepareSecrets(ctx context.Context) error {
	if _, err := s.writer.ExecContext(ctx, createSecretsSQL); err != nil {
		return fmt.Errorf("create install_secrets table: %w", err)
	}
	if _, err := s.writer.ExecContext(ctx, upgradeSecretsSQL[0]); err != nil {
		return fmt.Errorf("add registered_us to install_secrets: %w", err)
	}
	if _, err := s.writer.ExecContext(ctx, upgradeSecretsSQL[1], time.Now().UnixMicro()); err != nil {
		return fmt.Errorf("set registered_us in install_secrets: %w", err)
	}
	return nil
}

var _ store.InstallSecretCopier = (*Store)(nil)

// ReadInstallSecrets calls fn with every stored hash, in batches of at
// most batchSize, ordered by project and distinct ID. The query streams
// its rows on a connection of the pool, so fn may call the Store's other
// methods.
func (s *Store) ReadInstallSecrets(ctx context.Context, batchSize int, fn func(secrets []store.InstallSecret) error) error {
	if batchSize < 1 {
		return fmt.Errorf("read deletion keys: invalid batch size %d: use 1 or more", batchSize)
	}
	// The empty call creates the table when no install has registered yet.
	if err := s.withSecrets(ctx, func(*sql.Conn) error { return nil }); err != nil {
		return fmt.Errorf("read deletion keys: %w", err)
	}
	release, err := s.acquire()
	if err != nil {
		return err
	}
	defer release()

	rows, err := s.db.QueryContext(ctx,
		`SELECT project, distinct_id, hash, registered_us FROM install_secrets ORDER BY project, distinct_id`)
	if err != nil {
		return fmt.Errorf("read deletion keys: %w", err)
	}
	defer rows.Close()

	return readBatches(rows, batchSize, scanInstallSecret, fn, "read deletion keys")
}

// scanInstallSecret reads one row of ReadInstallSecrets's query.
func scanInstallSecret(rows *sql.Rows) (store.InstallSecret, error) {
	var secret store.InstallSecret
	var registeredUS int64
	if err := rows.Scan(&secret.Project, &secret.DistinctID, &secret.Hash, &registeredUS); err != nil {
		return store.InstallSecret{}, err
	}
	secret.Registered = time.UnixMicro(registeredUS).UTC()
	return secret, nil
}

// ImportInstallSecrets stores the hashes of the installs that have none
// yet, with their registration times, in one transaction.
func (s *Store) ImportInstallSecrets(ctx context.Context, secrets []store.InstallSecret) (int, error) {
	imported := 0
	err := s.withSecrets(ctx, func(conn *sql.Conn) error {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for _, secret := range secrets {
			result, err := tx.ExecContext(ctx,
				`INSERT INTO install_secrets (project, distinct_id, hash, registered_us) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				secret.Project, secret.DistinctID, secret.Hash, secret.Registered.UnixMicro())
			if err != nil {
				return err
			}
			stored, err := result.RowsAffected()
			if err != nil {
				return err
			}
			imported += int(stored)
		}
		return tx.Commit()
	})
	if err != nil {
		return 0, fmt.Errorf("import %d deletion keys: %w", len(secrets), err)
	}
	return imported, nil
}
