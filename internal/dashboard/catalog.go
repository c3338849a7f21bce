package dashboard

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/candor-dev/candor/sdk/catalog"
)

// breakdownClasses are the privacy classes whose values may split a trend
// or select events. Random IDs are left out because each value belongs to
// one workspace or install, and objects because they have no single value.
var breakdownClasses = []catalog.Class{
	catalog.Enum, catalog.Bool, catalog.Identifier, catalog.Version, catalog.Platform,
	catalog.UserAgent, catalog.Variant, catalog.Bucket, catalog.Base2, catalog.Count, catalog.Fingerprint,
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
// the projects whose events the dashboard shows. A query of one project
// uses that project's catalog. A query of every project uses all of them,
// and may name an event or property that any one of them declares. A
// property that two catalogs declare with different classes may be used
// only in a query of one project. The body of /api/v1/catalog for every
// project merges the catalogs. An event that two of them declare lists the
// properties of both, with the first one's description. A property that
// they give different classes is listed with class "mixed", as neither a
// breakdown nor a histogram.
type propertyIndex struct {
	body     catalogBody
	all      classIndex
	projects map[string]*projectIndex
	ordered  []*projectIndex // the projects in the order of the configuration
}

// projectIndex is the catalog of one project, its events and properties
// as the API lists them, and the classes of its properties.
type projectIndex struct {
	classIndex
	catalog *catalog.Catalog
	body    catalogBody
}

// classIndex maps each base property, and each property of each event, to
// its class.
type classIndex struct {
	base   map[string]catalog.Class
	events map[string]map[string]catalog.Class
}

// mixedClass is the class in propertyIndex.all of a property that two
// catalogs declare with different classes.
const mixedClass catalog.Class = "mixed"

func newClassIndex() classIndex {
	return classIndex{base: map[string]catalog.Class{}, events: map[string]map[string]catalog.Class{}}
}

// newPropertyIndex indexes the catalogs of projects, whose names and
// catalogs New has checked.
func newPropertyIndex(projects []Project) *propertyIndex {
	index := &propertyIndex{
		body:     catalogBody{Apps: []string{}, Base: []propertyInfo{}, Events: []eventInfo{}},
		all:      newClassIndex(),
		projects: map[string]*projectIndex{},
	}
	listed := map[string]int{} // index of each event in index.body.Events
	for _, project := range projects {
		c := project.Catalog
		own := &projectIndex{classIndex: newClassIndex(), catalog: c, body: catalogBody{Apps: []string{c.App}, Base: flatten(c.Base)}}
		index.projects[project.Name] = own
		index.ordered = append(index.ordered, own)
		index.body.Apps = append(index.body.Apps, c.App)
		for _, p := range flatten(c.Base) {
			own.base[p.Name] = p.Class
			index.body.Base = mergeInfo(index.body.Base, p)
			merge(index.all.base, p.Name, p.Class)
		}
		for _, def := range c.Events {
			event := eventInfo{Name: def.Name, Description: def.Description, Properties: flatten(def.Properties)}
			classes := map[string]catalog.Class{}
			if index.all.events[def.Name] == nil {
				index.all.events[def.Name] = map[string]catalog.Class{}
			}
			for _, p := range event.Properties {
				classes[p.Name] = p.Class
				merge(index.all.events[def.Name], p.Name, p.Class)
			}
			own.events[def.Name] = classes
			own.body.Events = append(own.body.Events, event)
			i, ok := listed[def.Name]
			if !ok {
				listed[def.Name] = len(index.body.Events)
				index.body.Events = append(index.body.Events, eventInfo{Name: def.Name, Description: def.Description})
				i = len(index.body.Events) - 1
			}
			for _, p := range event.Properties {
				index.body.Events[i].Properties = mergeInfo(index.body.Events[i].Properties, p)
			}
		}
	}
	sortEvents(index.body.Events)
	for _, own := range index.projects {
		sortEvents(own.body.Events)
	}
	return index
}

func sortEvents(events []eventInfo) {
	sort.Slice(events, func(i, j int) bool { return events[i].Name < events[j].Name })
}

// listing returns the events and properties of project's catalog as the
// API lists them, or those of every catalog when project is empty.
func (ix *propertyIndex) listing(project string) *catalogBody {
	if own, ok := ix.projects[project]; ok {
		return &own.body
	}
	return &ix.body
}

// mergeInfo adds p to infos, the listing of every catalog, unless a
// property of that name is listed already. When that property has another
// class, it becomes of class mixedClass, which no breakdown or histogram
// accepts.
func mergeInfo(infos []propertyInfo, p propertyInfo) []propertyInfo {
	i := slices.IndexFunc(infos, func(known propertyInfo) bool { return known.Name == p.Name })
	if i < 0 {
		return append(infos, p)
	}
	if infos[i].Class != p.Class {
		infos[i] = propertyInfo{Name: p.Name, Class: mixedClass}
	}
	return infos
}

// merge sets classes[name] to class, or to mixedClass when it holds
// another class already.
func merge(classes map[string]catalog.Class, name string, class catalog.Class) {
	if known, ok := classes[name]; ok && known != class {
		class = mixedClass
	}
	classes[name] = class
}

// scope returns the classes a query of project uses: those of its catalog,
// or those of every catalog when project is empty.
func (ix *propertyIndex) scope(project string) *classIndex {
	if own, ok := ix.projects[project]; ok {
		return &own.classIndex
	}
	return &ix.all
}

// scopeProjects returns the index of project, or of every project when
// project is empty.
func (ix *propertyIndex) scopeProjects(project string) []*projectIndex {
	if own, ok := ix.projects[project]; ok {
		return []*projectIndex{own}
	}
	return ix.ordered
}

// propertyClass returns the class of the named property of event in the
// index, base properties included, and whether the catalog declares it.
func (ci *classIndex) propertyClass(event, name string) (catalog.Class, bool) {
	if _, ok := ci.events[event]; !ok {
		return "", false
	}
	if class, ok := ci.base[name]; ok {
		return class, true
	}
	class, ok := ci.events[event][name]
	return class, ok
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
// any event when events is empty, in the catalogs of project. Base
// properties belong to every event.
func (ix *propertyIndex) class(project string, events []string, name string) (catalog.Class, bool) {
	scope := ix.scope(project)
	if class, ok := scope.base[name]; ok {
		return class, true
	}
	if len(events) == 0 {
		var found catalog.Class
		for _, classes := range scope.events {
			if class, ok := classes[name]; ok {
				if found != "" && found != class {
					return mixedClass, true
				}
				found = class
			}
		}
		return found, found != ""
	}
	var found catalog.Class
	for _, event := range events {
		if class, ok := scope.events[event][name]; ok {
			if found != "" && found != class {
				return mixedClass, true
			}
			found = class
		}
	}
	return found, found != ""
}

// checkEvents returns an error for the first of events that no catalog of
// project declares. The collector stores only catalog events, so such a
// name, often a typo, could only select nothing.
func (ix *propertyIndex) checkEvents(project string, events []string) error {
	scope := ix.scope(project)
	for _, name := range events {
		if _, ok := scope.events[name]; !ok {
			if project != "" {
				return fmt.Errorf("unknown event %q: use an event of the catalog of project %q", name, project)
			}
			return fmt.Errorf("unknown event %q: use an event of the catalog, which /api/v1/catalog lists", name)
		}
	}
	return nil
}

// check returns an error unless the named property of events exists in
// the catalogs of project and has one of classes. use names what the
// property is for, such as "breakdown", in the error.
func (ix *propertyIndex) check(project string, events []string, name, use string, classes []catalog.Class) error {
	class, ok := ix.class(project, events, name)
	if !ok {
		owner := "any event"
		if len(events) > 0 {
			owner = fmt.Sprintf("the events %q", events)
		}
		return fmt.Errorf("unknown %s property %q: it is neither a base property nor a property of %s in the catalog; see /api/v1/catalog",
			use, name, owner)
	}
	if class == mixedClass {
		return fmt.Errorf("invalid %s property %q: the catalogs of the configured projects give it different classes; query one project with project=NAME",
			use, name)
	}
	if !slices.Contains(classes, class) {
		return fmt.Errorf("invalid %s property %q: its class %s cannot be used for a %s; use one of class %v",
			use, name, class, use, classes)
	}
	return nil
}

// checkConditionValue returns an error when the value of condition, such as
// message_length_b2=350, is one that the class of its property never
// stores for events, in any catalog of project that declares the property
// for one of them, so that it could only select nothing. It returns the
// error of the first such catalog in the order of the configuration.
// Without events it checks nothing. Enum values are not checked: events
// stored before a catalog change may hold values that the catalog no
// longer lists.
func (ix *propertyIndex) checkConditionValue(project string, events []string, condition string) error {
	property, _, _ := strings.Cut(condition, "=")
	var first error
	for _, event := range events {
		for _, own := range ix.scopeProjects(project) {
			class, ok := own.propertyClass(event, property)
			if !ok {
				continue
			}
			if class == catalog.Enum {
				return nil
			}
			err := own.catalog.CheckCondition(event, condition)
			if err == nil {
				return nil
			}
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// serveCatalog lists the events and properties of the catalog of the
// project parameter, Config.Project without it, as the other routes
// default, and of every catalog when it is empty.
func (h *Handler) serveCatalog(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	if err := checkParameters(query, []string{"project"}); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	project, err := h.project, error(nil)
	if query.Has("project") {
		project, err = singleValue(query, "project")
		if err == nil {
			err = h.checkProject(project)
		}
	}
	if err != nil {
		writeRequestError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h.properties.listing(project))
}
