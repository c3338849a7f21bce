package dashboard

// columnKind is the type of a table column's values.
type columnKind int

const (
	textColumn  columnKind = iota // string
	intColumn                     // int64
	floatColumn                   // float64
)

// column describes one column of a table. A measure column holds a number
// computed from events or installs, which a suppressed row must not show.
// The other columns are dimensions, such as a day or an event name, which
// say what the row counts.
type column struct {
	name    string
	kind    columnKind
	measure bool
}

func dimension(name string, kind columnKind) column { return column{name: name, kind: kind} }
func measure(name string, kind columnKind) column {
	return column{name: name, kind: kind, measure: true}
}

// table is the result of every API route before k-anonymity applies: rows
// of values in column order, and for each row the number of distinct
// installs it was built from. Only kAnonymity.release turns a table into
// output.
type table struct {
	// name is the route's name, which starts the file name of a download.
	name     string
	columns  []column
	rows     [][]any
	installs []int64

	// shape, if set, builds the JSON body from the released rows instead
	// of the default {"k_anonymity": k, "rows": [...]}.
	shape func(released) any
}

// addRow appends a row built from installs distinct installs.
func (t *table) addRow(installs int64, values ...any) {
	t.rows = append(t.rows, values)
	t.installs = append(t.installs, installs)
}
