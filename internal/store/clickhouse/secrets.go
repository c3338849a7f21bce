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
// the hash with the smallest hash_registered_us (and the smallest hash on
// a tie), which makes the first registration win everywhere.
//
// Each registration or renewal adds a row: hash_registered_us is when its
// hash was first registered for the install, and registered_us is the
// time of the row. A renewal copies the first hash and its
// hash_registered_us. ReplacingMergeTree(registered_us) keeps, of the
// rows with one (project, distinct_id, hash), the one with the latest
// registered_us when it merges parts. So an install holds one row per
// hash once its parts are merged, however often it is renewed: one row,
// unless registrations raced. Reads aggregate the rows, so they need no
// merge and no FINAL.
const createSecretsSQL = `CREATE TABLE IF NOT EXISTS {table} (
	project            String,
	distinct_id        String,
	hash               String,
	hash_registered_us Int64,
	registered_us      Int64
) ENGINE = ReplacingMergeTree(registered_us) ORDER BY (project, distinct_id, hash)`

// secretsTableName is the name of the table that createSecretsSQL creates.
// legacySecretsTableName is the MergeTree table that candor used before,
// whose rows withSecrets moves into it.
const (
	secretsTableName       = "install_secrets_v2"
	legacySecretsTableName = "install_secrets"
)

func (s *Store) secretsTable() string {
	return "`" + s.config.Database + "`." + secretsTableName
}

// registerSecretSQL registers the hash of install_ref unless the install
// has one, and renews a stored hash whose newest row is older than
// {renew_before}, in one INSERT ... SELECT. The install and the new hash
// travel as the external table install_ref, so the text of the statement
// contains no install ID. An install without rows reads found = 0 from
// the LEFT JOIN, which fills the columns of a missing row with defaults.
// The statement sets join_use_nulls = 0 itself, because a settings
// profile of the user may set 1, under which found would read NULL and
// the WHERE clause would insert nothing.
const registerSecretSQL = `INSERT INTO {table} (project, distinct_id, hash, hash_registered_us, registered_us)
SELECT project, distinct_id,
	if(found = 1, stored_hash, new_hash),
	if(found = 1, stored_hash_us, toInt64({now})),
	toInt64({now})
FROM (SELECT project, distinct_id, hash AS new_hash FROM install_ref) AS ref
ANY LEFT JOIN (
	SELECT project, distinct_id, 1 AS found,
		argMin(hash, (hash_registered_us, hash)) AS stored_hash,
		min(hash_registered_us) AS stored_hash_us,
		max(registered_us) AS newest_us
	FROM {table}
	WHERE (project, distinct_id) IN (SELECT project, distinct_id FROM install_ref)
	GROUP BY project, distinct_id
) AS stored USING (project, distinct_id)
WHERE found = 0 OR newest_us < toInt64({renew_before})
SETTINGS join_use_nulls = 0`

// RegisterInstallSecret stores hash for the install unless one is stored
// already, and otherwise renews the stored hash when its newest row is
// older than renewBefore, with one request (registerSecretSQL). Reads take
// the first hash, so a renewal keeps it, and retention deletes rows by
// their own time without losing the hash of a renewed install.
func (s *Store) RegisterInstallSecret(ctx context.Context, project, distinctID, hash string, renewBefore time.Time) error {
	err := s.withSecrets(ctx, func(ctx context.Context) error {
		statement := strings.NewReplacer(
			"{table}", s.secretsTable(),
			"{now}", strconv.FormatInt(time.Now().UnixMicro(), 10),
			"{renew_before}", strconv.FormatInt(renewBefore.UnixMicro(), 10),
		).Replace(registerSecretSQL)
		var ref []byte
		ref = appendTabSeparated(ref, project)
		ref = append(ref, '\t')
		ref = appendTabSeparated(ref, distinctID)
		ref = append(ref, '\t')
		ref = appendTabSeparated(ref, hash)
		ref = append(ref, '\n')
		return s.client.execExternal(ctx, statement,
			externalTable{name: "install_ref", structure: "project String, distinct_id String, hash String", rows: ref})
	})
	if err != nil {
		return fmt.Errorf("register the deletion key of an install of project %q: %w", project, err)
	}
	return nil
}

// secretRow is one row of the secrets table in the JSONEachRow format.
type secretRow struct {
	Project          string `json:"project"`
	DistinctID       string `json:"distinct_id"`
	Hash             string `json:"hash"`
	HashRegisteredUS int64  `json:"hash_registered_us"`
	RegisteredUS     int64  `json:"registered_us"`
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

// readInstallSecret returns the install's first registered hash and the
// time of its newest row in microseconds, or found false when none is
// stored. It selects the install by installRefCondition, and its caller
// runs it under withSecrets.
func (s *Store) readInstallSecret(ctx context.Context, project, distinctID string) (first string, newestUS int64, found bool, err error) {
	rows, err := s.client.query(ctx, `SELECT distinct_id, hash, registered_us FROM `+s.secretsTable()+
		` WHERE `+installRefCondition+` ORDER BY hash_registered_us, hash`, installRef(project, distinctID))
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

		return s.mutate(ctx, secretsTableName, `ALTER TABLE `+s.secretsTable()+` DELETE WHERE `+condition)
	})
	if err != nil {
		return fmt.Errorf("delete the deletion key of an install of project %q: %w", project, err)
	}
	return nil
}

// withSecrets runs fn under secretsMu after preparing the secrets table
// on the Store's first call (prepareSecretsToEnd). The lock orders a read
// after a registration of this Store that returned before it, and keeps
// one Store from registering an install twice. fn gets a context that
// whileResponsive ends when the server stops responding.
func (s *Store) withSecrets(ctx context.Context, fn func(ctx context.Context) error) error {
	release, err := s.acquire()
	if err != nil {
		return err
	}
	defer release()

	s.secretsMu.Lock()
	defer s.secretsMu.Unlock()
	if !s.secretsReady {
		if err := s.prepareSecretsToEnd(ctx); err != nil {
			return err
		}
		s.secretsReady = true
	}
	return s.whileResponsive(ctx, fn)
}

// prepareSecretsToEnd runs prepareSecrets until it ends, even when ctx
// ends first, and stops it only when the server stops responding or the
// Store closes. ClickHouse goes on with an INSERT ... SELECT whose client
// went away, so a move that the next call started again would copy the
// legacy rows a second time, and a move longer than the callers' deadlines
// would never end. The caller waits for the move.
func (s *Store) prepareSecretsToEnd(ctx context.Context) error {
	moveCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-moveCtx.Done():
		}
	}()
	return s.whileResponsive(moveCtx, s.prepareSecrets)
}

// prepareSecrets creates the secrets table and moves the rows of the
// legacy table into it, one row per install and hash, then drops the
// legacy table. The legacy table kept one row per registration and
// renewal in a MergeTree that never folded them.
//
// Two collectors that start together may both copy. The second copy adds
// rows equal to the first, which reads aggregate and merges fold, and a
// copy that fails because the other collector dropped the table meanwhile
// is done. Under the Atomic database engine of current releases, DROP does
// not wait for the other copy, so a key deleted in between may come back
// from it. The legacy table exists only once, at the upgrade.
//
// NOTE: a collector of an older candor that shares the database reads
// and writes only the legacy table. Its registrations fail once the table
// is dropped, until it restarts and creates the table again, and it never
// reads the keys registered here. Upgrade every collector of a database
// together.
func (s *Store) prepareSecrets(ctx context.Context) error {
	if err := s.client.exec(ctx, strings.ReplaceAll(createSecretsSQL, "{table}", s.secretsTable())); err != nil {
		return fmt.Errorf("create %s table: %w", secretsTableName, err)
	}
	exists, err := s.legacySecretsExist(ctx)
	if err != nil || !exists {
		return err
	}
	legacy := "`" + s.config.Database + "`." + legacySecretsTableName
	copyErr := s.client.exec(ctx, `INSERT INTO `+s.secretsTable()+` (project, distinct_id, hash, hash_registered_us, registered_us)
		SELECT project, distinct_id, hash, min(registered_us), max(registered_us) FROM `+legacy+`
		GROUP BY project, distinct_id, hash`)
	if copyErr != nil {
		if exists, err := s.legacySecretsExist(ctx); err == nil && !exists {
			return nil
		}
		return fmt.Errorf("copy the rows of %s into %s: %w", legacySecretsTableName, secretsTableName, copyErr)
	}
	if err := s.client.exec(ctx, `DROP TABLE IF EXISTS `+legacy); err != nil {
		return fmt.Errorf("drop %s after copying its rows into %s: %w", legacySecretsTableName, secretsTableName, err)
	}
	return nil
}

// legacySecretsExist reports whether the database has the legacy secrets
// table.
func (s *Store) legacySecretsExist(ctx context.Context) (bool, error) {
	rows, err := s.client.query(ctx, `SELECT count() FROM system.tables WHERE database = `+
		quoteString(s.config.Database)+` AND name = `+quoteString(legacySecretsTableName))
	if err != nil {
		return false, fmt.Errorf("look up table %s: %w", legacySecretsTableName, err)
	}
	return len(rows) == 1 && len(rows[0]) == 1 && rows[0][0] != "0", nil
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
		return s.mutate(ctx, secretsTableName, `ALTER TABLE `+s.secretsTable()+` DELETE WHERE registered_us < `+before)
	})
	if err != nil {
		return 0, fmt.Errorf("delete deletion keys registered before %s: %w", t.Format(time.RFC3339), err)
	}
	return installs, nil
}

var _ store.InstallSecretCopier = (*Store)(nil)

// ReadInstallSecrets calls fn with every stored hash, in batches of at
// most batchSize, ordered by project and distinct ID. An install with
// several rows, such as renewals not merged yet, gives one InstallSecret
// with its first hash and the time of its newest row, as the other reads
// take them.
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
			` ORDER BY project, distinct_id, hash_registered_us, hash`
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
				if registered.After(current.Registered) {
					current.Registered = registered
				}
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
			// The source keeps only the latest registration time, so it
			// is the first registration time of the hash too.
			registeredUS := secret.Registered.UnixMicro()
			row, err := json.Marshal(secretRow{Project: secret.Project, DistinctID: secret.DistinctID,
				Hash: secret.Hash, HashRegisteredUS: registeredUS, RegisteredUS: registeredUS})
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
