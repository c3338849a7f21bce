package collector

import "github.com/candor-dev/candor/sdk/catalog"

// internTable holds the event names, property names and enum values of
// the projects' catalogs. The property decoder takes a key or a value from it instead of
// allocating a new string, and an enum value already boxed in an `any`, so
// the strings that every event repeats cost no allocation. It is built by
// New and only read after.
type internTable struct {
	keys   map[string]string
	values map[string]any
}

// maxInterned bounds the entries of each map of an internTable, so that a
// catalog with huge enums costs bounded memory.
const maxInterned = 4096

func newInternTable(catalogs []*catalog.Catalog) *internTable {
	t := &internTable{keys: map[string]string{}, values: map[string]any{}}
	for _, c := range catalogs {
		t.addProperties(c.Base)
		for _, e := range c.Events {
			if len(t.keys) < maxInterned {
				t.keys[e.Name] = e.Name
			}
			t.addProperties(e.Properties)
		}
	}
	return t
}

func (t *internTable) addProperties(props []catalog.Property) {
	for _, p := range props {
		if len(t.keys) < maxInterned {
			t.keys[p.Name] = p.Name
		}
		if p.Class == catalog.Enum {
			for _, v := range p.Values {
				if len(t.values) < maxInterned {
					t.values[v] = v
				}
			}
		}
		t.addProperties(p.Properties)
	}
}

// key returns the string of the object key or event name rawKey, which
// has no escapes.
func (t *internTable) key(rawKey []byte) string {
	if t != nil {
		if s, ok := t.keys[string(rawKey)]; ok {
			return s
		}
	}
	return string(rawKey)
}

// value returns the string value inner, which has no escapes, in an any.
func (t *internTable) value(inner []byte) any {
	if t != nil {
		if v, ok := t.values[string(inner)]; ok {
			return v
		}
	}
	return string(inner)
}
