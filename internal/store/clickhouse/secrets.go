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

var _ store.InstallSecretCopier = (*Store)(nil)

// ReadInstallSecrets calls fn with every stored hash, in batches of at
// most batchSize, ordered by project and distinct ID. An install with
// several rows, one per renewal, gives one InstallSecret with the hash of
// its first row and the time of its newest, as the other reads take them.
// The rows stream from the server, and fn runs while they do, holding the
// lock of the Store's deletion key methods, so fn must not call them.
func (s *Store) ReadInstallSecrets(ctx context.Context, batchSize int, fn func(secrets []store.InstallSecret) error) error {
	if batchSize < 1 {
		return fmt.Errorf("read deletion keys: invalid batch size %d: use 1 or more", batchSize)
	}
	var fnErr error
	err := s.withSecrets(ctx, func(ctx context.Context) error {
		batch := make([]store.InstallSecret, 0, batchSize)
		var current store.InstallSecret
		started := false
		flush := func() error {
			if started {
				batch = append(batch, current)
			}
			if len(batch) < batchSize {
				return nil
			}
			fnErr = fn(batch)
			batch = make([]store.InstallSecret, 0, batchSize)
			return fnErr
		}

		query := `SELECT project, distinct_id, hash, registered_us FROM ` + s.secretsTable() +
			` ORDER BY project, distinct_id, registered_us, hash`
		err := s.client.queryEach(ctx, query, nil, func(fields []string) error {
			if len(fields) != 4 {
				return fmt.Errorf("unexpected row %q", fields)
			}
			registeredUS, err := strconv.ParseInt(fields[3], 10, 64)
			if err != nil {
				return fmt.Errorf("read registered_us %q: %w", fields[3], err)
			}
			registered := time.UnixMicro(registeredUS).UTC()
			if started && current.Project == fields[0] && current.DistinctID == fields[1] {
				current.Registered = registered
				return nil
			}
			if err := flush(); err != nil {
				return err
			}
			current = store.InstallSecret{Project: fields[0], DistinctID: fields[1], Hash: fields[2], Registered: registered}
			started = true
			return nil
		})
		if err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
		if len(batch) > 0 {
			fnErr = fn(batch)
		}
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("read deletion keys: %w", err)
	}
	return nil
}

// ImportInstallSecrets stores the hashes of the installs that have no row
// yet, with their registration times, in one INSERT. Like
// RegisterInstallSecret, it sends the install IDs as data only.
func (s *Store) ImportInstallSecrets(ctx context.Context, secrets []store.InstallSecret) (int, error) {
	type install struct{ project, distinctID string }
	imported := 0
	err := s.withSecrets(ctx, func(ctx context.Context) error {
		var refs []byte
		for _, secret := range secrets {
			refs = appendTabSeparated(refs, secret.Project)
			refs = append(refs, '\t')
			refs = appendTabSeparated(refs, secret.DistinctID)
			refs = append(refs, '\n')
		}
		if len(refs) == 0 {
			return nil
		}
		rows, err := s.client.query(ctx, `SELECT DISTINCT project, distinct_id FROM `+s.secretsTable()+` WHERE `+installRefCondition,
			externalTable{name: "install_ref", structure: "project String, distinct_id String", rows: refs})
		if err != nil {
			return err
		}
		stored := make(map[install]bool, len(rows)+len(secrets))
		for _, row := range rows {
			if len(row) != 2 {
				return fmt.Errorf("unexpected row %q", row)
			}
			stored[install{row[0], row[1]}] = true
		}

		var data []byte
		for _, secret := range secrets {
			key := install{secret.Project, secret.DistinctID}
			if stored[key] {
				continue
			}
			stored[key] = true
			row, err := json.Marshal(secretRow{Project: secret.Project, DistinctID: secret.DistinctID,
				Hash: secret.Hash, RegisteredUS: secret.Registered.UnixMicro()})
			if err != nil {
				return err
			}
			data = append(append(data, row...), '\n')
			imported++
		}
		if len(data) == 0 {
			return nil
		}
		return s.client.insert(ctx, s.secretsTable(), data)
	})
	if err != nil {
		return 0, fmt.Errorf("import %d deletion keys: %w", len(secrets), err)
	}
	return imported, nil
}
