package catalog

import "sync/atomic"

// recentStrings remembers the last few strings that passed a class, each
// with what checking it produced: the normalized value for Normalize, its
// JSON for the encoder. The identifier, version and user agent rules take
// dozens of substring searches, and an app, or the apps behind a
// collector, send the same few values of a property again and again. The
// class functions are pure, so a remembered string gets the result they
// gave it. Rejected strings are never remembered, so it holds only values
// that are sent or stored anyway. It is safe for concurrent use.
type recentStrings[T any] struct {
	entries [recentEntries]atomic.Pointer[recentEntry[T]]
	next    atomic.Uint32
}

const (
	recentEntries = 8
	recentMaxLen  = 256 // longer strings are checked every time
)

type recentEntry[T any] struct {
	in  string
	out T
}

// lookup returns what was remembered for s.
func (m *recentStrings[T]) lookup(s string) (T, bool) {
	for i := range m.entries {
		if e := m.entries[i].Load(); e != nil && e.in == s {
			return e.out, true
		}
	}
	var zero T
	return zero, false
}

// remember keeps out for s, replacing the oldest entry. out must not
// change afterwards.
func (m *recentStrings[T]) remember(s string, out T) {
	if len(s) > recentMaxLen {
		return
	}
	i := m.next.Add(1) % recentEntries
	m.entries[i].Store(&recentEntry[T]{in: s, out: out})
}

// valueMemo is the recentStrings of one property for Normalize: each
// string with its normalized value, boxed once.
type valueMemo struct {
	class Class // the class the entries passed; the memo serves no other
	recentStrings[any]
}

// memoClasses are the classes whose string checks are worth a memo. The
// other string classes are enum, whose check is one scan of its values,
// and random ID, whose values rarely repeat.
var memoClasses = map[Class]bool{Identifier: true, Version: true, UserAgent: true, Platform: true, Variant: true}

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
