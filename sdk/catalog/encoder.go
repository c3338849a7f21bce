package catalog

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/candor-dev/candor/sdk/internal/jsontext"
)

// structEncoder is a registered event type compiled once by Register: the
// struct fields to read, in the order json.Marshal writes the keys of the
// map Normalize returns, each with its key already encoded.
type structEncoder struct {
	props   []Property   // in declaration order, for Properties
	typ     reflect.Type // the registered struct type
	ptrType reflect.Type // a pointer to it, which Properties accepts too
	fields  []fieldEncoder
	plain   *mergePlan // the plan without base properties
	// compiled is false when a field cannot be read without Properties;
	// AppendProperties then leaves the event to Properties and Normalize.
	compiled bool
}

// fieldOp is the kind of read and check a field's value gets.
type fieldOp uint8

const (
	opString        fieldOp = iota // a string class on a string
	opVariantString                // the variant class on a string
	opBool                         // the bool or variant class on a bool
	opInt                          // a numeric class on a signed integer
	opUint                         // a numeric class on an unsigned integer
	opFloat                        // a numeric class on a float
	opObject                       // a nested struct
	opAny                          // anything else: the value goes through normalize as Properties returns it
)

type fieldEncoder struct {
	prop   *Property
	key    []byte // the name as a JSON string, then ':'
	index  int
	ptr    bool // the field is a pointer, nil when left out
	op     fieldOp
	fields []fieldEncoder         // opObject: the nested fields, sorted by name
	memo   *recentStrings[[]byte] // string fields of the classes that are slow to check: each string's JSON
}

func newStructEncoder(t reflect.Type, props []Property) *structEncoder {
	enc := &structEncoder{props: props, typ: t, ptrType: reflect.PointerTo(t)}
	enc.fields, enc.compiled = compileFields(t, props)
	enc.plain = newMergePlan(enc.fields, nil)
	return enc
}

// compileFields returns the encoders of props, sorted by name. It reports
// false when a property is not a single field of t.
func compileFields(t reflect.Type, props []Property) ([]fieldEncoder, bool) {
	fields := make([]fieldEncoder, 0, len(props))
	for i := range props {
		p := &props[i]
		if len(p.field) != 1 || p.field[0] >= t.NumField() {
			return nil, false
		}
		ft := t.Field(p.field[0]).Type
		fe := fieldEncoder{prop: p, index: p.field[0], ptr: ft.Kind() == reflect.Pointer}
		key, err := json.Marshal(p.Name)
		if err != nil {
			return nil, false
		}
		fe.key = append(key, ':')
		if fe.ptr {
			ft = ft.Elem()
		}
		if p.Class == Object {
			if ft.Kind() != reflect.Struct {
				return nil, false
			}
			fe.op = opObject
			var ok bool
			if fe.fields, ok = compileFields(ft, p.Properties); !ok {
				return nil, false
			}
		} else {
			fe.op = fieldOpOf(p.Class, ft)
			if fe.op == opVariantString || fe.op == opString && p.Class != Enum {
				fe.memo = &recentStrings[[]byte]{}
			}
		}
		fields = append(fields, fe)
	}
	slices.SortFunc(fields, func(a, b fieldEncoder) int { return strings.Compare(a.prop.Name, b.prop.Name) })
	return fields, true
}

// fieldOpOf picks the typed reading of a field. Only the predeclared types
// get one: normalize rejects a value of a named type such as
// `type Millis int64` as wrong_type, so such a field takes opAny and is
// rejected the same way.
func fieldOpOf(c Class, t reflect.Type) fieldOp {
	if t.PkgPath() != "" {
		return opAny
	}
	k := t.Kind()
	switch c {
	case RandomID, Enum, Identifier, Version, UserAgent, Platform, Fingerprint:
		if k == reflect.String {
			return opString
		}
	case Bool:
		if k == reflect.Bool {
			return opBool
		}
	case Variant:
		switch k {
		case reflect.String:
			return opVariantString
		case reflect.Bool:
			return opBool
		}
	case Base2, Bucket, Count:
		switch {
		case k >= reflect.Int && k <= reflect.Int64:
			return opInt
		case k >= reflect.Uint && k <= reflect.Uint64:
			return opUint
		case k == reflect.Float32 || k == reflect.Float64:
			return opFloat
		}
	}
	return opAny
}

// Base is a set of base properties, such as the SDK's version and the
// feature flag variants, checked by their classes and encoded once so that
// AppendProperties can add them to every event. A Base does not change once
// made and is safe for concurrent use.
type Base struct {
	entries []baseEntry // sorted by name
	plans   sync.Map    // *structEncoder to its *mergePlan with this base
}

type baseEntry struct {
	name   string
	member []byte // `"name":value`; nil when the value broke its class
	reason Reason
}

// NewBase checks each of props as Normalize checks a property that is not
// one of the event's own and encodes the values that pass. Those that fail
// are reported by AppendProperties with every event, as Normalize reports
// them.
func (c *Catalog) NewBase(props map[string]any) *Base {
	b := &Base{entries: make([]baseEntry, 0, len(props))}
	for name, raw := range props {
		e := baseEntry{name: name, reason: ReasonUnknownProperty}
		if p := c.baseProperty(name); p != nil {
			var value any
			value, e.reason = p.normalize(raw)
			if e.reason == "" {
				key, err := json.Marshal(name)
				member, ok := appendValue(append(key, ':'), value)
				if err != nil || !ok {
					e.reason = ReasonWrongType
				} else {
					e.member = member
				}
			}
		}
		b.entries = append(b.entries, e)
	}
	slices.SortFunc(b.entries, func(x, y baseEntry) int { return strings.Compare(x.name, y.name) })
	return b
}

// AppendProperties appends to dst, as one JSON object, the properties that
// Normalize returns for ev's properties (those Properties returns) together
// with base's. The object is byte for byte what json.Marshal writes for
// Normalize's map; dropped lists the values Normalize would leave out, in
// its order. It reads the struct's fields in place and checks them with the
// class functions Normalize uses. An event whose values all pass, with
// strings it has seen before, costs no allocation.
//
// ok is false, and dst is returned unchanged, when the event needs the
// general path. That is the case when its type is not the one registered
// under its name, when one of its properties shares a name with one of
// base's, and when a property that must be sent breaks its class. The
// caller then uses Properties and Normalize, which give the same
// properties or the rejection.
func (c *Catalog) AppendProperties(dst []byte, ev Event, base *Base) (out []byte, dropped []Violation, ok bool) {
	name := ev.EventName()
	def := c.byName[name]
	if def == nil || def.encoder == nil || !def.encoder.compiled {
		return dst, nil, false
	}
	enc := def.encoder
	v := reflect.ValueOf(ev)
	if t := v.Type(); t != enc.typ {
		if t != enc.ptrType || v.IsNil() {
			return dst, nil, false
		}
		v = v.Elem()
	}
	plan := enc.plain
	if base != nil {
		plan = base.plan(enc)
	}
	if plan.conflict {
		return dst, nil, false
	}

	s := encodeState{buf: append(dst, '{'), event: name}
	first := true
	for _, step := range plan.steps {
		if step.field == nil {
			if !first {
				s.buf = append(s.buf, ',')
			}
			s.buf = append(s.buf, step.members...)
			first = false
			continue
		}
		wrote, ok := s.field(step.field, v, first)
		if !ok {
			return dst, nil, false
		}
		first = first && !wrote
	}
	s.buf = append(s.buf, '}')
	for _, e := range plan.dropped {
		s.dropped = append(s.dropped, Violation{Event: name, Property: e.name, Reason: e.reason})
	}
	slices.SortFunc(s.dropped, func(a, b Violation) int { return strings.Compare(a.Property, b.Property) })
	return s.buf, s.dropped, true
}

// mergePlan is the order in which AppendProperties writes the fields of
// one event type and the members of one Base: both sorted by name, with
// each run of base members between two fields joined into one piece.
type mergePlan struct {
	steps   []mergeStep
	dropped []baseEntry // the base values that broke their class
	// conflict is set when a field and a base entry share a name, which
	// only Normalize resolves.
	conflict bool
}

// mergeStep is a field or a run of base members.
type mergeStep struct {
	field   *fieldEncoder
	members []byte // comma-separated `"name":value` pieces, when field is nil
}

// plan returns the merge plan of enc's fields with b, made on first use.
func (b *Base) plan(enc *structEncoder) *mergePlan {
	if p, ok := b.plans.Load(enc); ok {
		return p.(*mergePlan)
	}
	p, _ := b.plans.LoadOrStore(enc, newMergePlan(enc.fields, b.entries))
	return p.(*mergePlan)
}

func newMergePlan(fields []fieldEncoder, entries []baseEntry) *mergePlan {
	p := &mergePlan{}
	var run []byte
	endRun := func() {
		if run != nil {
			p.steps = append(p.steps, mergeStep{members: run})
			run = nil
		}
	}
	fi, bi := 0, 0
	for fi < len(fields) || bi < len(entries) {
		if bi < len(entries) && (fi == len(fields) || entries[bi].name < fields[fi].prop.Name) {
			e := entries[bi]
			bi++
			switch {
			case e.member == nil:
				p.dropped = append(p.dropped, e)
			case run == nil:
				run = append([]byte(nil), e.member...)
			default:
				run = append(append(run, ','), e.member...)
			}
			continue
		}
		if bi < len(entries) && entries[bi].name == fields[fi].prop.Name {
			p.conflict = true
		}
		endRun()
		p.steps = append(p.steps, mergeStep{field: &fields[fi]})
		fi++
	}
	endRun()
	return p
}

// encodeState is one AppendProperties call.
type encodeState struct {
	buf     []byte
	event   string
	dropped []Violation
}

// field appends one field as `"name":value`, preceded by a comma unless it
// is the first of its object. wrote is false when the field was left out:
// an optional field holding its zero value, or an optional value that broke
// its class and was added to dropped. ok is false when a value that must be
// sent broke its class.
func (s *encodeState) field(fe *fieldEncoder, v reflect.Value, first bool) (wrote, ok bool) {
	p := fe.prop
	f := v.Field(fe.index)
	if fe.ptr {
		if f.IsNil() {
			return false, p.Optional
		}
		f = f.Elem()
	} else if p.Optional && f.IsZero() {
		return false, true
	}
	mark := len(s.buf)
	if !first {
		s.buf = append(s.buf, ',')
	}
	s.buf = append(s.buf, fe.key...)
	reason, ok := s.value(fe, f)
	if !ok {
		return false, false
	}
	if reason == "" {
		return true, true
	}
	s.buf = s.buf[:mark]
	if !p.Optional {
		return false, false
	}
	s.dropped = append(s.dropped, Violation{Event: s.event, Property: p.Name, Reason: reason})
	return false, true
}

// value appends the normalized value of f, or returns the reason it broke
// its class. ok is false when a nested object cannot be sent as a whole.
func (s *encodeState) value(fe *fieldEncoder, f reflect.Value) (reason Reason, ok bool) {
	p := fe.prop
	switch fe.op {
	case opString, opVariantString:
		in := f.String()
		if fe.memo != nil {
			if json, ok := fe.memo.lookup(in); ok {
				s.buf = append(s.buf, json...)
				break
			}
		}
		out, r := in, Reason("")
		if fe.op == opString {
			out, r = p.normalizeString(in)
		} else {
			r = checkIdentifier(in) // what normalize checks a variant string with
		}
		if r != "" {
			return r, true
		}
		start := len(s.buf)
		s.buf = jsontext.AppendString(s.buf, out)
		if fe.memo != nil {
			fe.memo.remember(in, slices.Clone(s.buf[start:]))
		}
	case opBool:
		s.buf = strconv.AppendBool(s.buf, f.Bool())
	case opInt, opUint, opFloat:
		var x float64
		switch fe.op {
		case opInt:
			x = float64(f.Int())
		case opUint:
			x = float64(f.Uint())
		default:
			x = f.Float()
		}
		if r := checkNumber(x); r != "" {
			return r, true
		}
		n, r := p.normalizeNumber(x)
		if r != "" {
			return r, true
		}
		s.buf = appendFloat(s.buf, n)
	case opAny:
		out, r := p.normalize(f.Interface())
		if r != "" {
			return r, true
		}
		var ok bool
		if s.buf, ok = appendValue(s.buf, out); !ok {
			return ReasonWrongType, true
		}
	case opObject:
		s.buf = append(s.buf, '{')
		mark := len(s.dropped)
		first := true
		for i := range fe.fields {
			wrote, ok := s.field(&fe.fields[i], f, first)
			if !ok {
				return "", false
			}
			first = first && !wrote
		}
		s.buf = append(s.buf, '}')
		// Normalize names nested properties "parent.child".
		for i := mark; i < len(s.dropped); i++ {
			s.dropped[i].Property = p.Name + "." + s.dropped[i].Property
		}
	}
	return "", true
}

// appendValue appends a normalized value as json.Marshal writes it. It
// reports false for a value json.Marshal cannot write.
func appendValue(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case bool:
		return strconv.AppendBool(b, x), true
	case string:
		return jsontext.AppendString(b, x), true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return b, false
		}
		return appendFloat(b, x), true
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsontext.AppendString(b, k)
			b = append(b, ':')
			var ok bool
			if b, ok = appendValue(b, x[k]); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	}
	data, err := json.Marshal(v)
	if err != nil {
		return b, false
	}
	return append(b, data...), true
}

// appendFloat appends a finite f as json.Marshal writes a float64: like
// strconv's shortest form, with an exponent only below 1e-6 and from 1e21
// on, written without a leading zero.
func appendFloat(b []byte, f float64) []byte {
	// A whole number below 2^53 is its own shortest form.
	if f == math.Trunc(f) && math.Abs(f) < MaxExactNumber {
		if f == 0 && math.Signbit(f) {
			return append(b, "-0"...)
		}
		return strconv.AppendInt(b, int64(f), 10)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// "e-07" becomes "e-7".
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
