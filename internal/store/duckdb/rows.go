package duckdb

import (
	"crypto/md5"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"
	"github.com/google/uuid"

	"github.com/candor-dev/candor/internal/store"
)

// eventRows contains the events of one Insert call as appender rows, in
// the column order of insertColumns, without repeated (project, UUID)
// pairs.
type eventRows struct {
	rows []eventRow
	// properties contains the JSON text of every row's properties, one
	// after the other.
	properties []byte
}

type eventRow struct {
	project    string
	id         duckdbdriver.UUID
	name       string
	distinctID string
	install    uint64
	timestamp  time.Time
	receivedAt time.Time
	// base is the value of each of baseColumns: a string, a bool, or nil
	// for NULL.
	base [len(baseColumns)]driver.Value
	// propertiesEnd is the end offset of the row's properties in
	// eventRows.properties. They start where those of the previous row end.
	propertiesEnd int
}

// baseColumn is a base property that Insert stores in a column of its
// own rather than in the properties column.
type baseColumn struct {
	property string
	column   string
	// boolean marks a BOOLEAN column. The others are VARCHAR.
	boolean bool
}

// baseColumns are the base properties that the SDK sends with every event,
// each stored in a column of its own. Every key of a VARIANT value costs
// DuckDB time on each insert, and these columns cut the CPU time of storing
// a Mux message_sent event by about a sixth (docs/benchmarks.md).
//
// Version and platform date from schema version 1, and until version 3
// Insert also kept them in the properties column. Rows stored before
// version 3 have the other properties in the properties column and NULL in
// their columns, so the reads fall back to the properties column.
var baseColumns = [...]baseColumn{
	{property: "version", column: "version"},
	{property: "backend_platform", column: "platform"},
	{property: "electronVersion", column: "electron_version"},
	{property: "nodeVersion", column: "node_version"},
	{property: "bunVersion", column: "bun_version"},
	{property: "goVersion", column: "go_version"},
	{property: "catalogFingerprint", column: "catalog_fingerprint"},
	{property: "$lib", column: "lib"},
	{property: "$lib_version", column: "lib_version"},
	{property: "$geoip_disable", column: "geoip_disable", boolean: true},
}

// baseColumnIndex maps the property of each of baseColumns to its index.
var baseColumnIndex = func() map[string]int {
	index := make(map[string]int, len(baseColumns))
	for i, c := range baseColumns {
		index[c.property] = i
	}
	return index
}()

// columnValue returns the value that the column of c stores for a
// property's value, or nil when the value does not fit the column. A
// BOOLEAN column takes a bool, and a VARCHAR one a non-empty string of
// valid UTF-8. A value that does not fit stays in the properties column.
// The appender stores NULL for a string that is not valid UTF-8, while the
// properties column keeps it with U+FFFD in place of each invalid byte.
func (c *baseColumn) columnValue(value any) driver.Value {
	if c.boolean {
		if b, ok := value.(bool); ok {
			return b
		}
		return nil
	}
	if text, ok := value.(string); ok && text != "" && utf8.ValidString(text) {
		return text
	}
	return nil
}

// insertColumns are the names and types of the columns that Insert
// appends, which both the query appender and the staging table have: the
// event's own columns, the base columns, then the properties as JSON text.
var insertColumns = func() []insertColumn {
	columns := []insertColumn{
		{"project", duckdbdriver.TYPE_VARCHAR},
		{"uuid", duckdbdriver.TYPE_UUID},
		{"event", duckdbdriver.TYPE_VARCHAR},
		{"distinct_id", duckdbdriver.TYPE_VARCHAR},
		{"install", duckdbdriver.TYPE_UBIGINT},
		{"ts", duckdbdriver.TYPE_TIMESTAMP},
		{"received_at", duckdbdriver.TYPE_TIMESTAMP},
	}
	for _, c := range baseColumns {
		dataType := duckdbdriver.TYPE_VARCHAR
		if c.boolean {
			dataType = duckdbdriver.TYPE_BOOLEAN
		}
		columns = append(columns, insertColumn{c.column, dataType})
	}
	return append(columns, insertColumn{"properties", duckdbdriver.TYPE_VARCHAR})
}()

type insertColumn struct {
	name     string
	dataType duckdbdriver.Type
}

// propertiesSizeHint is the expected size in bytes of one event's
// properties as JSON text. The 14 properties of a Mux message_sent event
// take 434.
const propertiesSizeHint = 512

// newEventRows converts events to rows. It keeps the first of several
// events with the same project and UUID, and fails on an invalid UUID or
// on properties that JSON cannot encode.
func newEventRows(events []store.Event) (*eventRows, error) {
	type eventKey struct {
		project string
		id      uuid.UUID
	}
	seen := make(map[eventKey]bool, len(events))
	rows := &eventRows{
		rows:       make([]eventRow, 0, len(events)),
		properties: make([]byte, 0, len(events)*propertiesSizeHint),
	}

	for _, e := range events {
		id, err := uuid.Parse(e.UUID)
		if err != nil {
			return nil, fmt.Errorf("insert event %q of project %q: invalid UUID: %w", e.UUID, e.Project, err)
		}
		key := eventKey{e.Project, id}
		if seen[key] {
			continue
		}
		seen[key] = true

		row := eventRow{
			project:    e.Project,
			id:         duckdbdriver.UUID(id),
			name:       e.Name,
			distinctID: e.DistinctID,
			install:    installKey(e.Project, e.DistinctID),
			timestamp:  e.Timestamp,
			receivedAt: e.ReceivedAt,
		}
		for i := range baseColumns {
			if value, ok := e.Properties[baseColumns[i].property]; ok {
				row.base[i] = baseColumns[i].columnValue(value)
			}
		}
		rows.properties, err = appendStoredProperties(rows.properties, e.Properties, &row.base)
		if err != nil {
			return nil, fmt.Errorf("insert event %q of project %q: encode properties: %w", e.UUID, e.Project, err)
		}
		row.propertiesEnd = len(rows.properties)
		rows.rows = append(rows.rows, row)
	}
	return rows, nil
}

// appendTo appends every row to appender. The appender copies each value,
// so one slice of values serves every row. TIMESTAMP values are stored as
// microseconds since the Unix epoch, whatever the location of a time.Time.
func (r *eventRows) appendTo(appender *duckdbdriver.Appender) error {
	values := make([]driver.Value, len(insertColumns))
	start := 0
	for i := range r.rows {
		row := &r.rows[i]
		values[0] = row.project
		values[1] = row.id
		values[2] = row.name
		values[3] = row.distinctID
		values[4] = row.install
		values[5] = row.timestamp
		values[6] = row.receivedAt
		copy(values[7:], row.base[:])
		values[len(values)-1] = r.properties[start:row.propertiesEnd]
		start = row.propertiesEnd

		if err := appender.AppendRow(values...); err != nil {
			return err
		}
	}
	return nil
}

// installKey returns the install column of an event, the key that
// installKeySQL computes in SQL: the low 64 bits of the MD5 of the
// project's length in characters, a colon, the project and the distinct
// ID. DuckDB's md5_number_lower reads bytes 8 to 15 of the digest as a
// little-endian integer, and its length counts Unicode code points.
// Computing the key here costs less CPU time than the SQL expression.
func installKey(project, distinctID string) uint64 {
	var stack [128]byte
	input := strconv.AppendInt(stack[:0], int64(utf8.RuneCountInString(project)), 10)
	input = append(input, ':')
	input = append(input, project...)
	input = append(input, distinctID...)
	sum := md5.Sum(input)
	return binary.LittleEndian.Uint64(sum[8:])
}

// newInsertAppender creates a query appender on conn that inserts the
// appended rows into events, with properties of type column. The query
// fails on a row whose (project, uuid) is already stored.
func newInsertAppender(conn driver.Conn, column propertyColumn) (*duckdbdriver.Appender, error) {
	types := make([]duckdbdriver.TypeInfo, len(insertColumns))
	names := make([]string, len(insertColumns))
	for i, c := range insertColumns {
		info, err := duckdbdriver.NewTypeInfo(c.dataType)
		if err != nil {
			return nil, fmt.Errorf("create appender: column %s: %w", c.name, err)
		}
		types[i], names[i] = info, c.name
	}

	appender, err := duckdbdriver.NewQueryAppender(conn, insertSQL(column, appendedTable, false), appendedTable, types, names)
	if err != nil {
		return nil, fmt.Errorf("create appender: %w", err)
	}
	return appender, nil
}
