package dashboard

import "slices"

// DefaultKAnonymity is the k-anonymity threshold of a zero
// Config.KAnonymity: every number the API releases is built from at least
// this many distinct installs.
const DefaultKAnonymity = 5

// kAnonymity is the one place that decides what the API may release. Every
// API route produces a table, and the only way from a table to a response
// body, in any format, is release. Raw event rows come from one install
// each, so they pass only when allowsRawEvents says so.
//
// NOTE: suppression is per row only. A total and the visible rows of a
// breakdown can together reveal the sum of the suppressed rows, such as
// the events of the few installs on a rare version.
type kAnonymity struct {
	k int // 1 releases everything
}

// released is a table after k-anonymity: the measures of each row built
// from fewer than k installs are removed, and the row is marked
// suppressed. Encoders accept only this type.
type released struct {
	name       string
	k          int
	columns    []column
	rows       [][]any // measures of suppressed rows are nil
	suppressed []bool
	shape      func(released) any
}

// release suppresses the rows of t that k-anonymity forbids. A row is
// suppressed when k is above 1 and it was built from fewer than k installs,
// including none: a zero next to a suppressed row, such as a funnel step
// after a step of 3 installs, would tell what those installs did.
func (p kAnonymity) release(t table) released {
	r := released{
		name:       t.name,
		k:          p.k,
		columns:    t.columns,
		rows:       make([][]any, len(t.rows)),
		suppressed: make([]bool, len(t.rows)),
		shape:      t.shape,
	}
	for i, row := range t.rows {
		row = slices.Clone(row)
		if p.k > 1 && t.installs[i] < int64(p.k) {
			r.suppressed[i] = true
			for j, c := range t.columns {
				if c.measure {
					row[j] = nil
				}
			}
		}
		r.rows[i] = row
	}
	return r
}

// allowsRawEvents reports whether the API may export raw events, which is
// only when k-anonymity is off.
func (p kAnonymity) allowsRawEvents() bool {
	return p.k <= 1
}
