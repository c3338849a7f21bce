package catalog

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Register adds the event type of ev to the catalog. ev must be a struct
// (or a pointer to one, which may be nil) whose exported fields each carry
// a json tag with the wire name and a candor tag with the privacy class and
// its options:
//
//	Model   string `json:"model" candor:"identifier" doc:"Model id."`
//	Length  int    `json:"message_length_b2" candor:"base2"`
//	Runtime string `json:"runtimeType" candor:"enum=local|worktree|ssh"`
//	Agent   string `json:"agentId,omitempty" candor:"identifier,optional"`
//	Tools   int    `json:"tool_count" candor:"count,max=1000"`
//	Percent int    `json:"percent_bucket" candor:"bucket,edges=0|25|50|75|100"`
//
// An optional field is left out when it holds its zero value; optional
// numbers and bools must be pointers, because their zero value is a value.
// Register skips unexported fields and fields tagged json:"-", as
// encoding/json does, and rejects a candor tag on either. Wire names follow
// the rule of property names in the package documentation. An object
// property's struct type may not contain itself, and objects nest at most
// MaxObjectDepth levels.
//
// A field without a class, with an unknown class, with a class that does
// not fit its Go type or with an invalid wire name makes Register return an
// error naming the event and the field. So does an event name that another
// registered type already returns.
func (c *Catalog) Register(ev Event, description string) error {
	if ev == nil {
		return fmt.Errorf("register event: nil event: pass a value of the event's struct type, such as MessageSent{}")
	}
	t := reflect.TypeOf(ev)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
		// A nil pointer cannot call a method with a value receiver, so the
		// name comes from a pointer to a zero value.
		if reflect.ValueOf(ev).IsNil() {
			ev = reflect.New(t).Interface().(Event)
		}
	}
	return c.registerType(ev.EventName(), t, description)
}

// registerType adds the event named name whose properties are the fields
// of t.
func (c *Catalog) registerType(name string, t reflect.Type, description string) error {
	if t.Kind() != reflect.Struct {
		return fmt.Errorf("register event %q: type %s is not a struct", name, t)
	}
	props, err := structProperties(name, t, "", []reflect.Type{t})
	if err != nil {
		return err
	}
	def := &EventDef{Name: name, Description: description, Properties: props}
	def.encoder = newStructEncoder(t, props)
	return c.add(def)
}

// MustRegister is Register for catalogs built at package initialization; it
// panics on error, which only a programming mistake in the event types causes.
func (c *Catalog) MustRegister(ev Event, description string) {
	if err := c.Register(ev, description); err != nil {
		panic(err)
	}
}

// MaxObjectDepth is the maximum nesting of object properties in an event:
// 1 for an object property whose members are not objects. An SDK batch
// wraps the properties in 4 levels of JSON (the batch object, its array,
// the event and its properties), so an event at this depth just fits the
// collector's default limit of 64 levels of JSON nesting.
const MaxObjectDepth = 60

// structProperties returns the properties of the fields of struct type t.
// prefix is the Go field path that leads to t, such as "Frontend.", for
// error messages. outer lists the struct types that enclose t's fields,
// from the event's own type down to t.
func structProperties(event string, t reflect.Type, prefix string, outer []reflect.Type) ([]Property, error) {
	var props []Property
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		field := prefix + f.Name
		_, tagged := f.Tag.Lookup("candor")
		if !f.IsExported() || f.Tag.Get("json") == "-" {
			// Such a field is never sent, so a candor tag on it would
			// declare a property that never arrives.
			if tagged && !f.IsExported() {
				return nil, fmt.Errorf("register event %q field %s: unexported field with a candor tag: export it or remove the tag", event, field)
			}
			if tagged {
				return nil, fmt.Errorf("register event %q field %s: json:\"-\" excludes the field from JSON, so it is never sent: remove the candor tag, or give the json tag a wire name", event, field)
			}
			continue
		}
		p, err := fieldProperty(event, field, f)
		if err != nil {
			return nil, err
		}
		p.field = []int{i}
		if p.Class == Object {
			p.Properties, err = objectProperties(event, field, f.Type, outer)
			if err != nil {
				return nil, err
			}
		}
		props = append(props, p)
	}
	return props, nil
}

// objectProperties returns the members of the object property of Go type
// ft, a struct or a pointer to one, held by the field at path field.
func objectProperties(event, field string, ft reflect.Type, outer []reflect.Type) ([]Property, error) {
	if ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	if slices.Contains(outer, ft) {
		return nil, fmt.Errorf("register event %q field %s: type %s contains itself through this field, so it has no finite set of properties: give the nested object its own struct type that does not refer back to %s",
			event, field, ft, ft)
	}
	if len(outer) > MaxObjectDepth {
		return nil, fmt.Errorf("register event %q field %s: object properties nest deeper than %d levels: flatten the nested objects",
			event, field, MaxObjectDepth)
	}
	return structProperties(event, ft, field+".", append(slices.Clip(outer), ft))
}

// fieldProperty returns the property of field f, at Go field path field.
func fieldProperty(event, field string, f reflect.StructField) (Property, error) {
	fail := func(format string, args ...any) (Property, error) {
		return Property{}, fmt.Errorf("register event %q field %s: %s", event, field, fmt.Sprintf(format, args...))
	}
	jsonName, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if jsonName == "" {
		return fail("missing json tag with the wire name")
	}
	if problem := propertyNameProblem(jsonName); problem != "" {
		return fail("invalid property name %q in the json tag: %s: rename it, such as userAgent or user_agent", jsonName, problem)
	}
	tag, ok := f.Tag.Lookup("candor")
	if !ok || tag == "" {
		return fail("missing candor tag with a privacy class, such as candor:\"enum=a|b\"")
	}
	parts := strings.Split(tag, ",")
	p := Property{Name: jsonName, Description: f.Tag.Get("doc")}
	className, arg, _ := strings.Cut(parts[0], "=")
	p.Class = Class(className)
	if !p.Class.Valid() {
		return fail("unknown privacy class %q: use one of %s", className, classList)
	}
	if err := p.parseOptions(arg, parts[1:]); err != nil {
		return fail("%v", err)
	}
	typ, err := jsonType(p.Class, f.Type, p.Optional)
	if err != nil {
		return fail("%v", err)
	}
	p.Type = typ
	return p, nil
}

func (p *Property) parseOptions(arg string, options []string) error {
	if arg != "" {
		options = append([]string{string(p.Class) + "=" + arg}, options...)
	}
	seen := map[string]bool{}
	for _, opt := range options {
		key, value, _ := strings.Cut(strings.TrimSpace(opt), "=")
		if seen[key] {
			return fmt.Errorf("option %q given twice in candor tag: give it once", key)
		}
		seen[key] = true
		switch key {
		case "optional":
			p.Optional = true
		case "enum":
			p.Values = strings.Split(value, "|")
		case "edges", "bucket":
			for _, s := range strings.Split(value, "|") {
				edge, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return fmt.Errorf("invalid bucket edge %q: use numbers such as edges=0|10|50", s)
				}
				p.Edges = append(p.Edges, edge)
			}
		case "max", "count":
			max, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return fmt.Errorf("invalid count maximum %q: use a whole number such as max=100", value)
			}
			p.Max = max
		default:
			return fmt.Errorf("unknown option %q in candor tag", key)
		}
	}
	return nil
}

// jsonType checks that the Go type fits the class and returns the JSON type
// it is sent as.
func jsonType(c Class, t reflect.Type, optional bool) (string, error) {
	pointer := t.Kind() == reflect.Pointer
	base := t
	if pointer {
		base = t.Elem()
	}
	k := base.Kind()
	var want string
	var jsonName string
	switch c {
	case RandomID, Enum, Identifier, Version, UserAgent, Platform, Fingerprint:
		want, jsonName = "a string", "string"
		if k != reflect.String || pointer {
			break
		}
		return jsonName, nil
	case Bool:
		want, jsonName = "a bool (a *bool when optional)", "boolean"
		if k == reflect.Bool && pointer == optional {
			return jsonName, nil
		}
	case Base2, Bucket:
		want, jsonName = "an integer or float (a pointer when optional)", "number"
		if isNumberKind(k) && pointer == optional {
			return jsonName, nil
		}
	case Count:
		want, jsonName = "an integer (a pointer when optional)", "number"
		if isIntegerKind(k) && pointer == optional {
			return jsonName, nil
		}
	case Object:
		want, jsonName = "a struct (a pointer when optional)", "object"
		if k == reflect.Struct && pointer == optional {
			return jsonName, nil
		}
	case Variant:
		want, jsonName = "any, a string or a bool", "string|boolean|null"
		if !optional && (k == reflect.Interface && base.NumMethod() == 0 || k == reflect.String || k == reflect.Bool) && !pointer {
			return jsonName, nil
		}
	}
	return "", fmt.Errorf("class %s needs %s, not %s", c, want, t)
}

func isIntegerKind(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Uint64
}

func isNumberKind(k reflect.Kind) bool {
	return isIntegerKind(k) || k == reflect.Float32 || k == reflect.Float64
}

// Properties returns the event's name and its raw property values, keyed by
// wire name, before normalization. Optional fields holding their zero value
// are left out. It returns an error when ev's type was not registered.
//
// A PropertyMap's values, given as a value or a pointer, are returned as a
// copy; its event must be in the catalog.
func (c *Catalog) Properties(ev Event) (string, map[string]any, error) {
	if p, isPointer := ev.(*PropertyMap); isPointer && p != nil {
		ev = *p
	}
	name := ev.EventName()
	def, ok := c.byName[name]
	if m, isMap := ev.(PropertyMap); isMap {
		if !ok {
			return name, nil, &Violation{Event: name, Reason: ReasonUnknownEvent}
		}
		return name, maps.Clone(m.Values), nil
	}
	if !ok || def.encoder == nil {
		return name, nil, &Violation{Event: name, Reason: ReasonUnknownEvent}
	}
	v := reflect.ValueOf(ev)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return name, nil, &Violation{Event: name, Reason: ReasonMissing}
		}
		v = v.Elem()
	}
	// Another type that returns a registered name would be read with the
	// registered type's field indexes.
	if v.Type() != def.encoder.typ {
		return name, nil, &Violation{Event: name, Reason: ReasonWrongType}
	}
	return name, encodeStruct(v, def.encoder.props), nil
}

// PropertyMap is an event given as its name and raw property values, for
// callers that have no Go type for it, such as a web frontend forwarding
// JSON. Its values are checked by Normalize like a struct's fields.
type PropertyMap struct {
	Name   string
	Values map[string]any
}

// EventName returns m.Name.
func (m PropertyMap) EventName() string { return m.Name }

func encodeStruct(v reflect.Value, props []Property) map[string]any {
	out := make(map[string]any, len(props))
	for i := range props {
		p := &props[i]
		if len(p.field) == 0 || v.Type().NumField() <= p.field[len(p.field)-1] {
			continue
		}
		f := v.FieldByIndex(p.field)
		if p.Optional && f.IsZero() {
			continue
		}
		if f.Kind() == reflect.Pointer {
			f = f.Elem()
		}
		if p.Class == Object {
			out[p.Name] = encodeStruct(f, p.Properties)
			continue
		}
		out[p.Name] = f.Interface()
	}
	return out
}
