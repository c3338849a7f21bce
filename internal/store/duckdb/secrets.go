package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/candor-dev/candor/internal/store"
)

var _ store.InstallSecrets = (*Store)(nil)

// createSecretsSQL creates the table of deletion key hashes, one row per
// install. The table is created on first use rather than by a migration,
// because the methods below are the only ones that read it.
const createSecretsSQL = `CREATE TABLE IF NOT EXISTS install_secrets (
	project     VARCHAR NOT NULL,
	distinct_id VARCHAR NOT NULL,
	hash        VARCHAR NOT NULL,
	PRIMARY KEY (project, distinct_id)
)`

// RegisterInstallSecret stores hash for the install unless one is stored
// already.
func (s *Store) RegisterInstallSecret(ctx context.Context, project, distinctID, hash string) error {
	err := s.withSecrets(ctx, func(conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx,
			`INSERT INTO install_secrets VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, project, distinctID, hash)
		return err
	})
	if err != nil {
		return fmt.Errorf("register deletion key of install %q of project %q: %w", distinctID, project, err)
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
		return "", fmt.Errorf("read deletion key of install %q of project %q: %w", distinctID, project, err)
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
	if _, err := s.writer.ExecContext(ctx, createSecretsSQL); err != nil {
		return fmt.Errorf("create install_secrets table: %w", err)
	}
	return fn(s.writer)
}
