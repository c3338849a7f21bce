package dashboard

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"
)

// writeParquet writes rel as a Parquet file, whatever the store's backend:
// a private in-memory DuckDB database takes the rows through its appender
// and writes them with COPY ... (FORMAT parquet) to a temporary file,
// which is then sent and removed. It uses the driver without database/sql,
// whose connection pool would start a goroutine per request.
func writeParquet(ctx context.Context, w http.ResponseWriter, rel released, filename string) error {
	file, err := os.CreateTemp("", "candor-table-*.parquet")
	if err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	path := file.Name()
	file.Close()
	defer os.Remove(path)

	if err := copyToParquet(ctx, rel, path); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	encoded, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	defer encoded.Close()

	setDownload(w, parquetContentType, filename)
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, encoded); err != nil {
		return fmt.Errorf("send parquet: %w", err)
	}
	return nil
}

// copyToParquet loads rel into a table of an in-memory database and copies
// it to path.
func copyToParquet(ctx context.Context, rel released, path string) (err error) {
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

	if _, err := execer.ExecContext(ctx, createTableSQL(rel.columns), nil); err != nil {
		return err
	}
	if err := appendRows(conn, rel); err != nil {
		return err
	}
	// COPY takes its target as a literal. The path comes from
	// os.CreateTemp, and doubling quotes is the only escape a DuckDB
	// string literal needs.
	target := "'" + strings.ReplaceAll(path, "'", "''") + "'"
	_, err = execer.ExecContext(ctx, "COPY table_rows TO "+target+" (FORMAT parquet)", nil)
	return err
}

// createTableSQL returns the statement that creates the table table_rows with
// rel's columns and the suppressed column. Column names are quoted, so a
// breakdown property named like an SQL keyword stays a name.
func createTableSQL(columns []column) string {
	definitions := make([]string, 0, len(columns)+1)
	for _, c := range columns {
		sqlType := "VARCHAR"
		switch c.kind {
		case intColumn:
			sqlType = "BIGINT"
		case floatColumn:
			sqlType = "DOUBLE"
		}
		definitions = append(definitions, quoteIdentifier(c.name)+" "+sqlType)
	}
	definitions = append(definitions, "suppressed BOOLEAN NOT NULL")
	return "CREATE TABLE table_rows (" + strings.Join(definitions, ", ") + ")"
}

func quoteIdentifier(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func appendRows(conn driver.Conn, rel released) error {
	appender, err := duckdbdriver.NewAppender(conn, "", "", "table_rows")
	if err != nil {
		return err
	}
	for i, row := range rel.rows {
		values := make([]driver.Value, 0, len(row)+1)
		for j, value := range row {
			values = append(values, parquetValue(rel.columns[j], value))
		}
		values = append(values, rel.suppressed[i])
		if err := appender.AppendRow(values...); err != nil {
			appender.Close()
			return fmt.Errorf("append row %d: %w", i, err)
		}
	}
	return appender.Close()
}

// parquetValue converts a table value to the Go type the appender expects
// for the column's SQL type.
func parquetValue(c column, value any) driver.Value {
	switch v := value.(type) {
	case nil:
		return nil
	case int:
		if c.kind == floatColumn {
			return float64(v)
		}
		return int64(v)
	case int64:
		if c.kind == floatColumn {
			return float64(v)
		}
		return v
	case float64:
		return v
	case string:
		return v
	}
	return fmt.Sprint(value)
}
