package catalog

import "sync/atomic"

// valueMemo remembers, for one property, the last few strings that passed
// its class, each with the value Normalize returned for it. The identifier,
// version and user agent rules take dozens of substring searches, and the
// apps behind a collector send the same few values of a property again and
// again. The class functions are pure, so a remembered string gets the
// result they gave it. Rejected strings are never remembered, so a memo
// holds only values that are sent or stored anyway.
type valueMemo struct {
	class   Class // the class the entries passed; the memo serves no other
	entries [valueMemoEntries]atomic.Pointer[memoEntry]
	next    atomic.Uint32
}

const (
	valueMemoEntries = 8
	valueMemoMaxLen  = 256 // longer strings are checked every time
)

type memoEntry struct {
	in  string
	out any // the normalized value, boxed once
}

// memoClasses are the classes whose string checks are worth a memo. The
// other string classes are enum, whose check is one scan of its values,
// and random ID, whose values rarely repeat.
var memoClasses = map[Class]bool{Identifier: true, Version: true, UserAgent: true, Platform: true, Variant: true}

// lookup returns the value remembered for s.
func (m *valueMemo) lookup(s string) (any, bool) {
	for i := range m.entries {
		if e := m.entries[i].Load(); e != nil && e.in == s {
			return e.out, true
		}
	}
	return nil, false
}

// remember keeps out as the normalized value of s, replacing the oldest
// entry.
func (m *valueMemo) remember(s string, out any) {
	if len(s) > valueMemoMaxLen {
		return
	}
	i := m.next.Add(1) % valueMemoEntries
	m.entries[i].Store(&memoEntry{in: s, out: out})
}

// attachMemos gives each property of props, nested ones included, a memo
// when its class has one.
func attachMemos(props []Property) {
	for i := range props {
		p := &props[i]
		if memoClasses[p.Class] && p.memo == nil {
			p.memo = &valueMemo{class: p.Class}
		}
		attachMemos(p.Properties)
	}
}

// memoFor returns the property's memo, or nil when it has none or its
// class changed after the memo was made.
func (p *Property) memoFor() *valueMemo {
	if p.memo == nil || p.memo.class != p.Class {
		return nil
	}
	return p.memo
}
