package duckdb

import (
	"fmt"
	"strings"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// sqlBuilder assembles one statement and its positional arguments in the
// order their placeholders appear in the text.
type sqlBuilder struct {
	text strings.Builder
	args []any
}

// add appends a fragment whose placeholders take args.
func (b *sqlBuilder) add(fragment string, args ...any) *sqlBuilder {
	b.text.WriteString(fragment)
	b.args = append(b.args, args...)
	return b
}

func (b *sqlBuilder) String() string { return b.text.String() }

// sqlExpr is an SQL expression with the arguments of its placeholders.
type sqlExpr struct {
	text string
	args []any
}

// selection lists the parts of a Filter that a condition applies.
type selection struct {
	from, to bool // apply Filter.From and Filter.To
	events   bool // apply Filter.Events
}

var selectAll = selection{from: true, to: true, events: true}

// filterConditions returns the conditions of f that sel names, joined with
// AND, in the form whereClause documents. alias prefixes every column when
// not empty, such as "e." for a joined events table.
func filterConditions(f store.Filter, sel selection, alias string) sqlExpr {
	conditions := []string{"true"}
	var args []any

	if f.Project != "" {
		conditions = append(conditions, alias+"project = ?")
		args = append(args, f.Project)
	}
	conditions, args = appendIn(conditions, args, alias+"project", f.Projects)
	if sel.from && !f.From.IsZero() {
		conditions = append(conditions, alias+"ts >= CAST(? AS TIMESTAMP)")
		args = append(args, f.From.UTC())
	}
	if sel.to && !f.To.IsZero() {
		conditions = append(conditions, alias+"ts < CAST(? AS TIMESTAMP)")
		args = append(args, f.To.UTC())
	}
	conditions, args = appendIn(conditions, args, alias+"version", f.Versions)
	conditions, args = appendIn(conditions, args, alias+"platform", f.Platforms)
	if sel.events {
		conditions, args = appendIn(conditions, args, alias+"event", f.Events)
	}
	return sqlExpr{strings.Join(conditions, " AND "), args}
}

// propertyColumn is the SQL type of the properties column of events.
// Both types hold the same values and differ in how a property is read:
// JSON text is parsed on every read, while VARIANT is stored as typed
// columns per key, which makes reads much faster and inserts slower. The
// numbers are in docs/benchmarks.md.
type propertyColumn string

const (
	jsonProperties    propertyColumn = "JSON"
	variantProperties propertyColumn = "VARIANT"
)

// text returns the expression of a property's text, NULL when the event
// lacks it. "version" and "backend_platform" read their columns. The other
// base columns are read with the properties column as the fallback, which
// contains them for rows stored before schema version 3 and for values that
// do not fit the column. Other names are read one key per dot-separated
// part, and the keys are bound as arguments, so no name can change the
// statement.
func (c propertyColumn) text(name, alias string) (sqlExpr, error) {
	switch name {
	case "version":
		return sqlExpr{text: alias + "version"}, nil
	case "backend_platform":
		return sqlExpr{text: alias + "platform"}, nil
	}

	text, err := c.propertyText(name, alias)
	if err != nil {
		return sqlExpr{}, err
	}
	if i, ok := baseColumnIndex[name]; ok {
		column := alias + baseColumns[i].column
		if baseColumns[i].boolean {
			column = "CAST(" + column + " AS VARCHAR)"
		}
		text.text = "COALESCE(" + column + ", " + text.text + ")"
	}
	return text, nil
}

// propertyText returns the expression of a property's text in the
// properties column.
func (c propertyColumn) propertyText(name, alias string) (sqlExpr, error) {
	keys := strings.Split(name, ".")
	for _, key := range keys {
		if key == "" {
			return sqlExpr{}, fmt.Errorf("invalid property %q: a name is one or more keys separated by single dots", name)
		}
	}
	if c == jsonProperties {
		return jsonText(name, keys, alias)
	}

	expr := alias + "properties"
	args := make([]any, 0, len(keys))
	for _, key := range keys {
		expr = "variant_extract(" + expr + ", ?)"
		args = append(args, key)
	}
	return sqlExpr{text: "CAST(" + expr + " AS VARCHAR)", args: args}, nil
}

// jsonText reads a property from JSON text with a JSON path of quoted keys,
// such as $."frontendPlatform"."platform".
func jsonText(name string, keys []string, alias string) (sqlExpr, error) {
	path := "$"
	for _, key := range keys {
		if strings.ContainsAny(key, `"\`) {
			return sqlExpr{}, fmt.Errorf("invalid property %q: quotes and backslashes are not supported in names", name)
		}
		path += `."` + key + `"`
	}
	return sqlExpr{text: "json_extract_string(" + alias + "properties, ?)", args: []any{path}}, nil
}

// number returns the expression of a property's numeric value, NULL when
// the event lacks it or it is not a number.
func (c propertyColumn) number(name, alias string) (sqlExpr, error) {
	text, err := c.text(name, alias)
	if err != nil {
		return sqlExpr{}, err
	}
	// The text of a boolean is "true" or "false", which TRY_CAST turns
	// into NULL like any other non-numeric string.
	return sqlExpr{text: "TRY_CAST(" + text.text + " AS DOUBLE)", args: text.args}, nil
}

// conditions returns the conditions of where joined with AND, or "true"
// for none.
func (c propertyColumn) conditions(where []store.Condition, alias string) (sqlExpr, error) {
	conditions := []string{"true"}
	var args []any
	for _, condition := range where {
		text, err := c.text(condition.Property, alias)
		if err != nil {
			return sqlExpr{}, err
		}
		conditions = append(conditions, text.text+" = ?")
		args = append(args, text.args...)
		args = append(args, condition.Value)
	}
	return sqlExpr{strings.Join(conditions, " AND "), args}, nil
}

// utcDay returns the UTC midnight that starts the day of t.
func utcDay(t time.Time) time.Time {
	return t.UTC().Truncate(24 * time.Hour)
}
