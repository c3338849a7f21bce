package duckdb

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/candor-dev/candor/internal/store"
)

// exportColumns selects store.ExportColumns. Timestamps become TIMESTAMPTZ
// so that CSV shows their +00 offset and Parquet marks them as UTC, and the
// UUID becomes text because many Parquet readers show the UUID type as
// bytes. The properties are exported whole, with the base columns merged
// back in (exportPropertiesSQL).
var exportColumns = `project, CAST(uuid AS VARCHAR) AS uuid, event, distinct_id,
	CAST(ts AS TIMESTAMPTZ) AS timestamp, CAST(received_at AS TIMESTAMPTZ) AS received_at,
	version, platform AS backend_platform, ` + exportPropertiesSQL + ` AS properties`

// exportPropertiesSQL is the JSON of an event's properties: the properties
// column patched with the base columns that are not NULL. Patching an empty
// object with the base columns drops those that are NULL. The properties
// column is the target rather than the patch, because a JSON merge patch
// (RFC 7386) removes every member whose value in the patch is null, and a
// property may be null, at any depth. Rows stored before schema version 3
// contain version and backend_platform in both, with the same value.
var exportPropertiesSQL = func() string {
	members := make([]string, 0, 2*len(baseColumns))
	for _, c := range baseColumns {
		members = append(members, "'"+c.property+"'", c.column)
	}
	return "json_merge_patch(CAST(properties AS JSON), json_merge_patch('{}', json_object(" +
		strings.Join(members, ", ") + ")))"
}()

// ExportEvents writes the events f selects to w. DuckDB's COPY writes them
// to a temporary file, which is then copied to w and removed, so a slow
// reader of w does not hold the database open.
func (s *Store) ExportEvents(ctx context.Context, f store.Filter, format store.ExportFormat, w io.Writer) error {
	var options string
	switch format {
	case store.CSV:
		options = "FORMAT csv, HEADER"
	case store.Parquet:
		options = "FORMAT parquet"
	default:
		return fmt.Errorf("export events: invalid format %q: use csv or parquet", format)
	}

	file, err := os.CreateTemp("", "candor-export-*."+string(format))
	if err != nil {
		return fmt.Errorf("export events: %w", err)
	}
	path := file.Name()
	file.Close()
	defer os.Remove(path)

	if err := s.copyEvents(ctx, f, path, options); err != nil {
		return fmt.Errorf("export events: %w", err)
	}
	exported, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("export events: %w", err)
	}
	defer exported.Close()
	if _, err := io.Copy(w, exported); err != nil {
		return fmt.Errorf("export events: write %s: %w", format, err)
	}
	return nil
}

func (s *Store) copyEvents(ctx context.Context, f store.Filter, path, options string) error {
	release, err := s.acquire()
	if err != nil {
		return err
	}
	defer release()

	where := filterConditions(f, selectAll, "")
	// COPY takes its target as a literal, not a parameter. The path comes
	// from os.CreateTemp.
	_, err = s.db.ExecContext(ctx, `COPY (SELECT `+exportColumns+` FROM events WHERE `+where.text+
		` ORDER BY ts, uuid) TO `+quoteLiteral(path)+` (`+options+`)`, where.args...)
	return err
}
