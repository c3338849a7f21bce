package clickhouse

import (
	"bufio"
	"context"
	"database/sql/driver"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"

	"github.com/candor-dev/candor/internal/store"
)

// exportTimeLayout prints a timestamp as the DuckDB backend's CSV export
// does, such as "2025-03-03 09:30:00.5+00".
const exportTimeLayout = "2006-01-02 15:04:05.999999-07"

// exportSettings let the server sort an export larger than its memory on
// disk: beyond 512 MiB, ORDER BY spills to the server's tmp_path.
var exportSettings = url.Values{"max_bytes_before_external_sort": {strconv.Itoa(512 << 20)}}

// ExportEvents writes the events f selects to w, ordered by timestamp and
// UUID, with each (project, uuid) once. CSV is written while the rows
// arrive. Parquet is written by DuckDB, which ClickHouse 18.16 cannot do
// itself: the rows go to a temporary CSV file, an in-memory DuckDB
// database copies that file to a temporary Parquet file with the column
// types of the DuckDB backend's export, and that file is copied to w.
//
// received_at has whole seconds only, because the events table stores it
// to the second.
func (s *Store) ExportEvents(ctx context.Context, f store.Filter, format store.ExportFormat, w io.Writer) error {
	release, err := s.acquire()
	if err != nil {
		return err
	}
	defer release()

	switch format {
	case store.CSV:
		err = s.exportCSV(ctx, f, w)
	case store.Parquet:
		err = s.exportParquet(ctx, f, w)
	default:
		return fmt.Errorf("export events: invalid format %q: use csv or parquet", format)
	}
	if err != nil {
		return fmt.Errorf("export events: %w", err)
	}
	return nil
}

// exportedEvent is one event as the export query returns it.
type exportedEvent struct {
	fields     []string // project, uuid, event, distinct_id, version, platform, properties
	micros     int64    // timestamp in microseconds since the Unix epoch
	receivedAt int64    // in seconds since the Unix epoch
}

// eachExported calls row for each event f selects, in export order.
func (s *Store) eachExported(ctx context.Context, f store.Filter, row func(exportedEvent) error) error {
	query := `SELECT project, uuid, event, distinct_id, version, platform, properties, ts_us, toUInt32(received_at)
		FROM ` + s.events + ` WHERE ` + filterConditions(f, selectAll) + `
		ORDER BY ts_us, uuid
		LIMIT 1 BY project, uuid`
	return s.client.queryEach(ctx, query, exportSettings, func(fields []string) error {
		if len(fields) != 9 {
			return fmt.Errorf("unexpected row %q", fields)
		}
		micros, err := strconv.ParseInt(fields[7], 10, 64)
		if err != nil {
			return fmt.Errorf("invalid ts_us %q", fields[7])
		}
		receivedAt, err := strconv.ParseInt(fields[8], 10, 64)
		if err != nil {
			return fmt.Errorf("invalid received_at %q", fields[8])
		}
		// Rows written before the properties lost the newline of their
		// JSON encoding still end with it.
		fields[6] = strings.TrimSuffix(fields[6], "\n")
		return row(exportedEvent{fields: fields[:7], micros: micros, receivedAt: receivedAt})
	})
}

// exportCSV writes the CSV of store.ExportColumns. A missing version or
// platform is an empty field, as DuckDB writes NULL.
func (s *Store) exportCSV(ctx context.Context, f store.Filter, w io.Writer) error {
	buffered := bufio.NewWriterSize(w, 64<<10)
	out := csv.NewWriter(buffered)
	if err := out.Write(store.ExportColumns); err != nil {
		return err
	}
	record := make([]string, len(store.ExportColumns))
	err := s.eachExported(ctx, f, func(e exportedEvent) error {
		copy(record[:4], e.fields[:4])
		record[4] = time.UnixMicro(e.micros).UTC().Format(exportTimeLayout)
		record[5] = time.Unix(e.receivedAt, 0).UTC().Format(exportTimeLayout)
		copy(record[6:], e.fields[4:])
		return out.Write(record)
	})
	if err != nil {
		return err
	}
	out.Flush()
	if err := out.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	if err := buffered.Flush(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// exportParquet writes the events through a temporary CSV file of raw
// columns, which DuckDB reads in a stream, so neither side holds the
// export in memory.
func (s *Store) exportParquet(ctx context.Context, f store.Filter, w io.Writer) error {
	dir, err := os.MkdirTemp("", "candor-export-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rawPath := dir + "/events.csv"
	parquetPath := dir + "/events.parquet"

	if err := s.writeRawCSV(ctx, f, rawPath); err != nil {
		return err
	}
	if err := convertToParquet(ctx, rawPath, parquetPath); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	exported, err := os.Open(parquetPath)
	if err != nil {
		return err
	}
	defer exported.Close()
	if _, err := io.Copy(w, exported); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	return nil
}

// writeRawCSV writes the selected events to path as CSV without a header,
// with the columns that parquetFromCSV reads.
func (s *Store) writeRawCSV(ctx context.Context, f store.Filter, path string) (err error) {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, file.Close()) }()

	buffered := bufio.NewWriterSize(file, 64<<10)
	out := csv.NewWriter(buffered)
	record := make([]string, 9)
	err = s.eachExported(ctx, f, func(e exportedEvent) error {
		copy(record, e.fields)
		record[7] = strconv.FormatInt(e.micros, 10)
		record[8] = strconv.FormatInt(e.receivedAt, 10)
		return out.Write(record)
	})
	if err != nil {
		return err
	}
	out.Flush()
	if err := out.Error(); err != nil {
		return err
	}
	return buffered.Flush()
}

// parquetFromCSV copies the file of writeRawCSV to Parquet with the columns
// of the DuckDB backend's export: text columns as VARCHAR, a missing
// version or platform as NULL, the timestamps as TIMESTAMPTZ and the
// properties as JSON. Go's CSV writer leaves empty fields unquoted, which
// DuckDB reads as NULL, so coalesce restores the empty strings of the
// other columns.
const parquetFromCSV = `COPY (
	SELECT coalesce(project, '') AS project, coalesce(uuid, '') AS uuid,
		coalesce(event, '') AS event, coalesce(distinct_id, '') AS distinct_id,
		CAST(make_timestamp(ts_us) AS TIMESTAMPTZ) AS timestamp,
		CAST(make_timestamp(received_s * 1000000) AS TIMESTAMPTZ) AS received_at,
		version, platform AS backend_platform, CAST(properties AS JSON) AS properties
	FROM read_csv({source}, header = false, auto_detect = false, delim = ',', quote = '"', escape = '"',
		columns = {'project': 'VARCHAR', 'uuid': 'VARCHAR', 'event': 'VARCHAR', 'distinct_id': 'VARCHAR',
			'version': 'VARCHAR', 'platform': 'VARCHAR', 'properties': 'VARCHAR',
			'ts_us': 'BIGINT', 'received_s': 'BIGINT'})
) TO {target} (FORMAT parquet)`

// convertToParquet runs parquetFromCSV in a private in-memory DuckDB
// database. It uses the driver without database/sql, whose connection pool
// would start a goroutine per export.
func convertToParquet(ctx context.Context, source, target string) (err error) {
	connector, err := duckdbdriver.NewConnector("", nil)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, connector.Close()) }()
	conn, err := connector.Connect(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, conn.Close()) }()
	execer := conn.(driver.ExecerContext)

	// TIMESTAMPTZ values print in the session's time zone, which is UTC as
	// in the DuckDB backend.
	if _, err := execer.ExecContext(ctx, "SET TimeZone = 'UTC'", nil); err != nil {
		return err
	}
	statement := strings.NewReplacer("{source}", duckdbString(source), "{target}", duckdbString(target)).Replace(parquetFromCSV)
	_, err = execer.ExecContext(ctx, statement, nil)
	return err
}

// duckdbString returns s as a DuckDB string literal. COPY and read_csv take
// their paths as literals, and doubling quotes is the only escape such a
// literal needs.
func duckdbString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
