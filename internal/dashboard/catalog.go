package dashboard

import (
	"fmt"
	"net/http"
	"slices"
	"sort"

	"github.com/candor-dev/candor/sdk/catalog"
)

// breakdownClasses are the privacy classes whose values may split a trend
// or select events. Random IDs are left out because each value belongs to
// one workspace or install, and objects because they have no single value.
var breakdownClasses = []catalog.Class{
	catalog.Enum, catalog.Bool, catalog.Identifier, catalog.Version, catalog.Platform,
	catalog.UserAgent, catalog.Variant, catalog.Bucket, catalog.Base2, catalog.Count,
}

// histogramClasses are the privacy classes with few numeric values, whose
// distribution a histogram shows bar by bar.
var histogramClasses = []catalog.Class{catalog.Base2, catalog.Bucket, catalog.Count}

// propertyInfo is one property of the catalog as the API lists it. Name
// joins the keys of nested objects with dots.
type propertyInfo struct {
	Name      string        `json:"name"`
	Class     catalog.Class `json:"class"`
	Breakdown bool          `json:"breakdown"`
	Histogram bool          `json:"histogram"`
}

// eventInfo is one event of the catalog as the API lists it.
type eventInfo struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Properties  []propertyInfo `json:"properties"`
}

// catalogBody is the JSON body of /api/v1/catalog.
type catalogBody struct {
	Apps   []string       `json:"apps"`
	Base   []propertyInfo `json:"base_properties"`
	Events []eventInfo    `json:"events"`
}

// propertyIndex lists the properties a query may use, from the catalogs of
// the apps whose events the dashboard shows. It merges the catalogs, and an
// event or base property that two catalogs declare keeps the first
// catalog's definition.
type propertyIndex struct {
	body   catalogBody
	base   map[string]catalog.Class
	events map[string]map[string]catalog.Class
}

func newPropertyIndex(catalogs []*catalog.Catalog) *propertyIndex {
	index := &propertyIndex{
		body:   catalogBody{Apps: []string{}, Base: []propertyInfo{}, Events: []eventInfo{}},
		base:   map[string]catalog.Class{},
		events: map[string]map[string]catalog.Class{},
	}
	for _, c := range catalogs {
		index.body.Apps = append(index.body.Apps, c.App)
		for _, p := range flatten(c.Base) {
			if _, ok := index.base[p.Name]; !ok {
				index.base[p.Name] = p.Class
				index.body.Base = append(index.body.Base, p)
			}
		}
		for _, def := range c.Events {
			if _, ok := index.events[def.Name]; ok {
				continue
			}
			event := eventInfo{Name: def.Name, Description: def.Description, Properties: flatten(def.Properties)}
			classes := map[string]catalog.Class{}
			for _, p := range event.Properties {
				classes[p.Name] = p.Class
			}
			index.body.Events = append(index.body.Events, event)
			index.events[def.Name] = classes
		}
	}
	sort.Slice(index.body.Events, func(i, j int) bool { return index.body.Events[i].Name < index.body.Events[j].Name })
	return index
}

// flatten lists properties and the properties of nested objects, which it
// names parent.child.
func flatten(properties []catalog.Property) []propertyInfo {
	var infos []propertyInfo
	for _, p := range properties {
		if p.Class == catalog.Object {
			for _, nested := range flatten(p.Properties) {
				nested.Name = p.Name + "." + nested.Name
				infos = append(infos, nested)
			}
			continue
		}
		infos = append(infos, propertyInfo{
			Name:      p.Name,
			Class:     p.Class,
			Breakdown: slices.Contains(breakdownClasses, p.Class),
			Histogram: slices.Contains(histogramClasses, p.Class),
		})
	}
	return infos
}

// class returns the class of the named property of any of events, or of
// any event when events is empty. Base properties belong to every event.
func (ix *propertyIndex) class(events []string, name string) (catalog.Class, bool) {
	if class, ok := ix.base[name]; ok {
		return class, true
	}
	if len(events) == 0 {
		for _, classes := range ix.events {
			if class, ok := classes[name]; ok {
				return class, true
			}
		}
		return "", false
	}
	for _, event := range events {
		if class, ok := ix.events[event][name]; ok {
			return class, true
		}
	}
	return "", false
}

// checkEvents returns an error for the first of events that no catalog
// declares. The collector stores only catalog events, so such a name,
// often a typo, could only select nothing.
func (ix *propertyIndex) checkEvents(events []string) error {
	for _, name := range events {
		if _, ok := ix.events[name]; !ok {
			return fmt.Errorf("unknown event %q: use an event of the catalog, which /api/v1/catalog lists", name)
		}
	}
	return nil
}

// check returns an error unless the named property of events exists and
// has one of classes. use names what the property is for, such as
// "breakdown", in the error.
func (ix *propertyIndex) check(events []string, name, use string, classes []catalog.Class) error {
	class, ok := ix.class(events, name)
	if !ok {
		owner := "any event"
		if len(events) > 0 {
			owner = fmt.Sprintf("the events %q", events)
		}
		return fmt.Errorf("unknown %s property %q: it is neither a base property nor a property of %s in the catalog; see /api/v1/catalog",
			use, name, owner)
	}
	if !slices.Contains(classes, class) {
		return fmt.Errorf("invalid %s property %q: its class %s cannot be used for a %s; use one of class %v",
			use, name, class, use, classes)
	}
	return nil
}

func (h *Handler) serveCatalog(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.Query()) > 0 {
		writeError(w, http.StatusBadRequest, "invalid query: /api/v1/catalog takes no parameters")
		return
	}
	writeJSON(w, http.StatusOK, h.properties.body)
}
