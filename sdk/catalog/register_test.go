package catalog

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// checkRegisterError checks that err is an error that contains each of
// parts.
func checkRegisterError(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("Register succeeded, want an error")
	}
	for _, part := range parts {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not contain %q", err, part)
		}
	}
}

type recursive struct {
	Next *recursive `json:"r,omitempty" candor:"object,optional"`
	Flag bool       `json:"a" candor:"bool"`
}

func (recursive) EventName() string { return "recursive" }

type mutualA struct {
	B    *mutualB `json:"b,omitempty" candor:"object,optional"`
	Flag bool     `json:"a" candor:"bool"`
}

type mutualB struct {
	A    *mutualA `json:"a,omitempty" candor:"object,optional"`
	Flag bool     `json:"flag" candor:"bool"`
}

func (mutualA) EventName() string { return "mutual" }

func TestRegisterRejectsRecursiveTypes(t *testing.T) {
	tests := []struct {
		ev    Event
		field string
		types string
	}{
		{recursive{}, "field Next", "catalog.recursive"},
		{mutualA{}, "field B.A", "catalog.mutualA"},
	}
	for _, tt := range tests {
		t.Run(tt.ev.EventName(), func(t *testing.T) {
			err := New("q").Register(tt.ev, "")
			checkRegisterError(t, err, `"`+tt.ev.EventName()+`"`, tt.field, tt.types, "contains itself", "own struct type")
		})
	}
}

func TestMustRegisterPanicsOnRecursiveType(t *testing.T) {
	defer func() {
		err, ok := recover().(error)
		if !ok {
			t.Fatalf("MustRegister panicked with %v, want an error", err)
		}
		if !strings.Contains(err.Error(), "contains itself") {
			t.Errorf("panic %q does not say that the type contains itself", err)
		}
	}()
	New("q").MustRegister(&recursive{}, "")
}

// nestedStruct returns a struct type whose object properties nest levels
// deep, each level tagged as a required object named "o".
func nestedStruct(levels int) reflect.Type {
	typ := reflect.TypeFor[struct {
		Flag bool `json:"a" candor:"bool"`
	}]()
	for range levels {
		typ = reflect.StructOf([]reflect.StructField{
			{Name: "O", Type: typ, Tag: `json:"o" candor:"object"`},
		})
	}
	return typ
}

func TestRegisterLimitsObjectDepth(t *testing.T) {
	c := New("q")
	if err := c.registerType("deepest", nestedStruct(MaxObjectDepth), ""); err != nil {
		t.Fatalf("Register of %d nested objects: %v", MaxObjectDepth, err)
	}
	err := c.registerType("too_deep", nestedStruct(MaxObjectDepth+1), "")
	checkRegisterError(t, err, `"too_deep"`, "field O.O.O", fmt.Sprintf("deeper than %d levels", MaxObjectDepth))
}

// nestedFile returns a catalog file whose one event has object properties
// nested levels deep.
func nestedFile(levels int) string {
	property := `{"name": "a", "class": "bool"}`
	for range levels {
		property = `{"name": "o", "class": "object", "properties": [` + property + `]}`
	}
	return `{"app": "q", "events": [{"name": "deep", "properties": [` + property + `]}]}`
}

func TestParseLimitsObjectDepth(t *testing.T) {
	if _, err := Parse([]byte(nestedFile(MaxObjectDepth))); err != nil {
		t.Fatalf("Parse of %d nested objects: %v", MaxObjectDepth, err)
	}
	_, err := Parse([]byte(nestedFile(MaxObjectDepth + 1)))
	checkRegisterError(t, err, `"deep"`, `"o.o.o`, fmt.Sprintf("deeper than %d levels", MaxObjectDepth))
}

type spacedName struct {
	Field bool `json:"a b" candor:"bool"`
}

func (spacedName) EventName() string { return "spaced" }

type accentedName struct {
	Field bool `json:"naïve" candor:"bool"`
}

func (accentedName) EventName() string { return "accented" }

type dottedName struct {
	Field string `json:"frontend.userAgent" candor:"user_agent"`
}

func (dottedName) EventName() string { return "dotted" }

type dottedMember struct {
	Frontend struct {
		Agent string `json:"user.agent" candor:"user_agent"`
	} `json:"frontend" candor:"object"`
}

func (dottedMember) EventName() string { return "dotted_member" }

type quotedName struct {
	Field bool `json:"say\"hi\"" candor:"bool"`
}

func (quotedName) EventName() string { return "quoted" }

type dollarOnly struct {
	Field bool `json:"$" candor:"bool"`
}

func (dollarOnly) EventName() string { return "dollar_only" }

type longName struct {
	Field bool `json:"ab123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" candor:"bool"`
}

func (longName) EventName() string { return "long_name" }

func TestRegisterRejectsInvalidPropertyNames(t *testing.T) {
	tests := []struct {
		ev          Event
		field, name string
	}{
		{spacedName{}, "field Field", `"a b"`},
		{accentedName{}, "field Field", `"naïve"`},
		{dottedName{}, "field Field", `"frontend.userAgent"`},
		{dottedMember{}, "field Frontend.Agent", `"user.agent"`},
		{quotedName{}, "field Field", `"say\"hi\""`},
		{dollarOnly{}, "field Field", "a $ needs a name"},
		{longName{}, "field Field", "longer than 100 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.ev.EventName(), func(t *testing.T) {
			err := New("q").Register(tt.ev, "")
			checkRegisterError(t, err, `"`+tt.ev.EventName()+`"`, tt.field, tt.name, "invalid property name", "rename it")
		})
	}
}

func TestParseRejectsInvalidPropertyNames(t *testing.T) {
	event := func(property string) string {
		return `{"app": "q", "events": [{"name": "opened", "properties": [` + property + `]}]}`
	}
	tests := []struct {
		name, file, want string
	}{
		{"space", event(`{"name": "a b", "class": "bool"}`), `event "opened" property "a b"`},
		{"non-ASCII", event(`{"name": "naïve", "class": "bool"}`), `event "opened" property "naïve"`},
		{"dot", event(`{"name": "frontend.userAgent", "class": "user_agent"}`), `event "opened" property "frontend.userAgent"`},
		{"dotted member", event(`{"name": "frontend", "class": "object", "properties": [{"name": "user.agent", "class": "user_agent"}]}`),
			`event "opened" property "frontend.user.agent"`},
		{"base property", `{"app": "q", "base_properties": [{"name": "app version", "class": "version", "optional": true}], "events": []}`,
			`property "app version"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.file))
			checkRegisterError(t, err, tt.want, "invalid property name", "rename it")
		})
	}
}

func TestBuiltInPropertyNamesValid(t *testing.T) {
	for _, p := range BaseProperties() {
		if problem := propertyNameProblem(p.Name); problem != "" {
			t.Errorf("base property %q: %s", p.Name, problem)
		}
	}
	for _, name := range []string{"userAgent", "message_length_b2", "_private", "kebab-key", "2fa", "$lib_version", "$os"} {
		if problem := propertyNameProblem(name); problem != "" {
			t.Errorf("property name %q: %s", name, problem)
		}
	}
}

type excludedTagged struct {
	Model    string `json:"model" candor:"identifier"`
	Internal string `json:"-" candor:"identifier"`
}

func (excludedTagged) EventName() string { return "excluded_tagged" }

type excludedUntagged struct {
	Model    string `json:"model" candor:"identifier"`
	Internal string `json:"-"`
}

func (excludedUntagged) EventName() string { return "excluded_untagged" }

func TestRegisterRejectsTaggedExcludedField(t *testing.T) {
	err := New("q").Register(excludedTagged{}, "")
	checkRegisterError(t, err, `"excluded_tagged"`, "field Internal", `json:"-"`, "never sent", "remove the candor tag")
	if err != nil && strings.Contains(err.Error(), "missing json tag") {
		t.Errorf("error %q calls the json tag missing", err)
	}
}

func TestRegisterSkipsExcludedField(t *testing.T) {
	c := New("q")
	if err := c.Register(excludedUntagged{}, ""); err != nil {
		t.Fatalf("Register: %v", err)
	}
	def, _ := c.Lookup("excluded_untagged")
	if len(def.Properties) != 1 || def.Properties[0].Name != "model" {
		t.Errorf("properties = %+v, want only model", def.Properties)
	}
	_, props, err := c.Properties(excludedUntagged{Model: "m", Internal: "secret"})
	if err != nil {
		t.Fatalf("Properties: %v", err)
	}
	if want := map[string]any{"model": "m"}; !reflect.DeepEqual(props, want) {
		t.Errorf("Properties = %v, want %v", props, want)
	}
}

type dupFirst struct {
	Model string `json:"model" candor:"identifier"`
}

func (dupFirst) EventName() string { return "dup" }

type dupSecond struct {
	Flag bool `json:"flag" candor:"bool"`
}

func (dupSecond) EventName() string { return "dup" }

func TestRegisterNamesBothDuplicateTypes(t *testing.T) {
	c := New("q")
	c.MustRegister(dupFirst{}, "")
	err := c.Register(dupSecond{}, "")
	checkRegisterError(t, err, `"dup"`, "catalog.dupFirst", "catalog.dupSecond", "EventName")
}

func TestRegisterRejectsSameTypeTwice(t *testing.T) {
	c := New("q")
	c.MustRegister(dupFirst{}, "")
	err := c.Register(&dupFirst{}, "")
	checkRegisterError(t, err, `"dup"`, "catalog.dupFirst", "once")
}

func TestParseRejectsDuplicateEvents(t *testing.T) {
	file := `{"app": "q", "events": [{"name": "dup", "properties": []}, {"name": "dup", "properties": []}]}`
	_, err := Parse([]byte(file))
	checkRegisterError(t, err, `"dup"`, "listed twice", "remove")
}

func TestRegisterRejectsNilEvent(t *testing.T) {
	err := New("q").Register(nil, "")
	checkRegisterError(t, err, "nil")
}

func TestRegisterAcceptsNilPointer(t *testing.T) {
	c := New("q")
	if err := c.Register((*dupFirst)(nil), ""); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if _, ok := c.Lookup("dup"); !ok {
		t.Error(`Lookup("dup") found nothing after Register`)
	}
}
