package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Event is implemented by the Go type of every catalog event.
type Event interface {
	// EventName returns the event's wire name, such as "message_sent".
	EventName() string
}

// Property describes one property of an event, or of an object property.
type Property struct {
	Name        string     `json:"name"`
	Class       Class      `json:"class"`
	Type        string     `json:"type"` // JSON type on the wire: string, number, boolean, object, or a|b for unions
	Optional    bool       `json:"optional,omitempty"`
	Values      []string   `json:"values,omitempty"`     // Enum: the allowed values
	Edges       []float64  `json:"edges,omitempty"`      // Bucket: ascending lower edges
	Max         int64      `json:"max,omitempty"`        // Count: the largest value sent
	Properties  []Property `json:"properties,omitempty"` // Object: the nested properties
	Description string     `json:"description,omitempty"`

	field []int      // index path of the Go struct field; nil when loaded from JSON
	memo  *valueMemo // strings that passed Class; nil for classes without a memo
}

// EventDef describes one event of a catalog.
type EventDef struct {
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Properties  []Property `json:"properties"`

	encoder *structEncoder // nil when loaded from JSON
}

// Catalog is the set of events an app may send, with the base properties
// added to every event. A Catalog is built once at start with Register and
// is then safe for concurrent use by any number of goroutines.
type Catalog struct {
	App    string      `json:"app"`
	Base   []Property  `json:"base_properties"`
	Events []*EventDef `json:"events"`
	// Dashboard names the events of the dashboard's new-installs, funnel
	// and errors panels. Set it with SetDashboard, which checks it. A
	// catalog file without the "dashboard" key declares none of them.
	Dashboard Dashboard `json:"dashboard,omitzero"`

	byName map[string]*EventDef
}

// FeaturePrefix starts the name of each feature flag base property, such as
// "$feature/new-onboarding".
const FeaturePrefix = "$feature/"

// New returns an empty catalog for the named app, holding the standard base
// properties.
func New(app string) *Catalog {
	c := &Catalog{App: app, Base: BaseProperties(), byName: map[string]*EventDef{}}
	attachMemos(c.Base)
	return c
}

// Lookup returns the definition of the named event.
func (c *Catalog) Lookup(name string) (*EventDef, bool) {
	e, ok := c.byName[name]
	return e, ok
}

// LookupProperty returns the definition of a property of the named event,
// or of a base property. path is the property's name or, for a member of an
// object property, its dotted path, such as "frontendPlatform.userAgent",
// as Violation.Property names it. Every "$feature/" name with a valid flag
// key returns the one definition that all feature flags share.
func (c *Catalog) LookupProperty(event, path string) (*Property, bool) {
	def, ok := c.byName[event]
	if !ok {
		return nil, false
	}
	if p := def.property(path); p != nil {
		return p, true
	}
	name, rest, nested := strings.Cut(path, ".")
	p := def.property(name)
	if p == nil || !nested {
		p = c.baseProperty(path)
		return p, p != nil
	}
	for nested && p != nil {
		name, rest, nested = strings.Cut(rest, ".")
		p = p.property(name)
	}
	return p, p != nil
}

// ViolationKey returns v as one string for counting: the event, the
// property and the reason separated by spaces, such as
// "message_sent frontendPlatform.userAgent wrong_type". A name that the
// catalog does not declare is left out, so that the set of keys stays
// bounded by the catalog: an unknown event gives only the reason, and an
// unknown property gives "command_used unknown_property".
func (c *Catalog) ViolationKey(v Violation) string {
	if _, ok := c.byName[v.Event]; !ok {
		return string(v.Reason)
	}
	if v.Property == "" {
		return v.Event + " " + string(v.Reason)
	}
	if _, ok := c.LookupProperty(v.Event, v.Property); !ok {
		return v.Event + " " + string(v.Reason)
	}
	return v.Event + " " + v.Property + " " + string(v.Reason)
}

func (c *Catalog) add(def *EventDef) error {
	if err := validateName(def.Name); err != nil {
		return err
	}
	if other, dup := c.byName[def.Name]; dup {
		return duplicateError(other, def)
	}
	if err := validateProperties(def.Name, "", def.Properties, 0); err != nil {
		return err
	}
	if err := c.checkPropertyNames(def); err != nil {
		return err
	}
	attachMemos(def.Properties)
	c.Events = append(c.Events, def)
	c.byName[def.Name] = def
	return nil
}

// duplicateError returns the error for def, whose name the registered
// event other already has.
func duplicateError(other, def *EventDef) error {
	if other.encoder == nil || def.encoder == nil {
		return fmt.Errorf("register event %q: listed twice: remove one of the two, or rename it", def.Name)
	}
	if other.encoder.typ == def.encoder.typ {
		return fmt.Errorf("register event %q: type %s is already registered: register each type once", def.Name, def.encoder.typ)
	}
	return fmt.Errorf("register event %q: types %s and %s both return this name: change the EventName method of one of them",
		def.Name, other.encoder.typ, def.encoder.typ)
}

func validateName(name string) error {
	if name == "" || len(name) > MaxIdentifierLen {
		return fmt.Errorf("register event %q: a name needs 1 to %d characters", name, MaxIdentifierLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '_' && c != '-' && c != '.' && c != ':' {
			return fmt.Errorf("register event %q: use only letters, digits and _-.: in event names", name)
		}
	}
	return nil
}

// checkPropertyNames rejects event property names that the rest of the
// pipeline would treat as something else. A base property's name would
// replace the base value, such as the app's version, in the sent event.
// Names that start with $ are PostHog's, and the collector strips some of
// them, such as $set, before storing.
func (c *Catalog) checkPropertyNames(def *EventDef) error {
	for _, p := range def.Properties {
		if strings.HasPrefix(p.Name, "$") {
			return fmt.Errorf("register event %q property %q: names that start with $ are reserved for PostHog and base properties: rename it", def.Name, p.Name)
		}
		if c.baseProperty(p.Name) != nil {
			return fmt.Errorf("register event %q property %q: it is a base property that every event carries: rename it", def.Name, p.Name)
		}
	}
	return nil
}

// validateProperties checks props and fills in the Type of a property that
// a catalog file gave without one. parent is the dotted path of the object
// property that holds props, "" for an event's own properties, and depth is
// the number of objects that enclose props.
func validateProperties(event, parent string, props []Property, depth int) error {
	seen := map[string]bool{}
	for i := range props {
		p := &props[i]
		path := p.Name
		if parent != "" {
			path = parent + "." + p.Name
		}
		if p.Name == "" {
			return fmt.Errorf("register event %q: a property has no name", event)
		}
		if problem := propertyNameProblem(p.Name); problem != "" {
			return fmt.Errorf("register event %q property %q: invalid property name: %s: rename it, such as userAgent or user_agent, in the catalog and in the app that sends it",
				event, path, problem)
		}
		if seen[p.Name] {
			return fmt.Errorf("register event %q property %q: declared twice", event, path)
		}
		seen[p.Name] = true
		if err := p.validate(); err != nil {
			return fmt.Errorf("register event %q property %q: %w", event, path, err)
		}
		want := classType(p.Class)
		if p.Type == "" {
			p.Type = want
		} else if p.Type != want {
			return fmt.Errorf("register event %q property %q: type %q does not match class %s: use %q or leave it out",
				event, path, p.Type, p.Class, want)
		}
		if p.Class != Object {
			continue
		}
		if depth+1 > MaxObjectDepth {
			return fmt.Errorf("register event %q property %q: object properties nest deeper than %d levels: flatten the nested objects",
				event, path, MaxObjectDepth)
		}
		if err := validateProperties(event, path, p.Properties, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// propertyNameProblem returns why name is not a valid property name, or ""
// when it is. A valid name has 1 to MaxIdentifierLen bytes of ASCII
// letters, digits, '_' and '-', and may start with a $ as PostHog's own
// names do, such as $lib. A dot is excluded because violations and queries
// name an object's member by its dotted path, such as
// frontendPlatform.userAgent, and a space because violation keys separate
// the event, the property and the reason with spaces.
func propertyNameProblem(name string) string {
	rest := strings.TrimPrefix(name, "$")
	switch {
	case name == "":
		return "the name is empty"
	case rest == "":
		return "a $ needs a name after it"
	case len(name) > MaxIdentifierLen:
		return fmt.Sprintf("longer than %d bytes", MaxIdentifierLen)
	case strings.Contains(rest, "."):
		return "a dot separates an object property from its members, so a name cannot contain one"
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; !isAlnum(c) && c != '_' && c != '-' {
			return "use only ASCII letters, digits, '_' and '-', after an optional leading $"
		}
	}
	return ""
}

// classType returns the JSON type that values of class c are sent as.
func classType(c Class) string {
	switch c {
	case Bool:
		return "boolean"
	case Base2, Bucket, Count:
		return "number"
	case Object:
		return "object"
	case Variant:
		return "string|boolean|null"
	default:
		return "string"
	}
}

func (p *Property) validate() error {
	if !p.Class.Valid() {
		return fmt.Errorf("unknown privacy class %q", p.Class)
	}
	if err := p.checkOptionsOfClass(); err != nil {
		return err
	}
	switch p.Class {
	case Enum:
		if len(p.Values) == 0 {
			return fmt.Errorf("enum without values: list them as enum=a|b|c")
		}
		for i, v := range p.Values {
			if v == "" {
				return fmt.Errorf("empty enum value: remove it, or name the value, such as enum=none|a|b")
			}
			if slices.Contains(p.Values[:i], v) {
				return fmt.Errorf("enum value %q listed twice: list each value once", v)
			}
		}
	case Bucket:
		if len(p.Edges) == 0 || !slices.IsSorted(p.Edges) {
			return fmt.Errorf("bucket needs ascending edges, such as edges=0|10|50")
		}
		for i := 1; i < len(p.Edges); i++ {
			if p.Edges[i] == p.Edges[i-1] {
				return fmt.Errorf("bucket edge %s listed twice: list each edge once", joinNumbers(p.Edges[i:i+1], ""))
			}
		}
	case Count:
		if p.Max <= 0 {
			return fmt.Errorf("count needs a positive maximum, such as max=100")
		}
	case Object:
		// validateProperties checks the members.
		if len(p.Properties) == 0 {
			return fmt.Errorf("object without properties")
		}
	}
	return nil
}

// checkOptionsOfClass rejects the options of another class, such as enum
// values on an identifier. The class ignores them, so the property would
// accept values its author meant to exclude.
func (p *Property) checkOptionsOfClass() error {
	wrong := func(option, verb string, class Class) error {
		return fmt.Errorf("%s %s only to class %s, not %s: remove them, or change the class", option, verb, class, p.Class)
	}
	switch {
	case len(p.Values) > 0 && p.Class != Enum:
		return wrong("values", "apply", Enum)
	case len(p.Edges) > 0 && p.Class != Bucket:
		return wrong("edges", "apply", Bucket)
	case p.Max != 0 && p.Class != Count:
		return wrong("max", "applies", Count)
	case len(p.Properties) > 0 && p.Class != Object:
		return wrong("properties", "apply", Object)
	}
	return nil
}

func (p *Property) property(name string) *Property {
	for i := range p.Properties {
		if p.Properties[i].Name == name {
			return &p.Properties[i]
		}
	}
	return nil
}

func (e *EventDef) property(name string) *Property {
	for i := range e.Properties {
		if e.Properties[i].Name == name {
			return &e.Properties[i]
		}
	}
	return nil
}

func (c *Catalog) baseProperty(name string) *Property {
	if strings.HasPrefix(name, FeaturePrefix) {
		if checkIdentifier(name[len(FeaturePrefix):]) != "" {
			return nil
		}
		return &featureProperty
	}
	for i := range c.Base {
		if c.Base[i].Name == name {
			return &c.Base[i]
		}
	}
	return nil
}

var featureProperty = Property{Name: FeaturePrefix + "*", Class: Variant, Type: "string|boolean|null", Optional: true,
	memo: &valueMemo{class: Variant}}

// Normalize checks the properties of one event against the catalog and
// returns the properties to send or store, each value normalized by its
// class (base-2 rounding, bucketing, clamping, user agent reduction).
//
// The event is rejected, with a *Violation as the error, when its name is
// unknown or a required property is missing or breaks its class. Optional
// properties, base properties and unknown properties that fail, and
// members of nested objects that the catalog does not declare, are left
// out of the result and listed in the returned violations. props is not
// modified.
func (c *Catalog) Normalize(event string, props map[string]any) (map[string]any, []Violation, error) {
	def, ok := c.byName[event]
	if !ok {
		return nil, nil, &Violation{Event: event, Reason: ReasonUnknownEvent}
	}
	out := make(map[string]any, len(props))
	var dropped []Violation
	for i := range def.Properties {
		p := &def.Properties[i]
		raw, present := props[p.Name]
		if !present || raw == nil && p.Class != Variant {
			if p.Optional {
				continue
			}
			return nil, nil, &Violation{Event: event, Property: p.Name, Reason: ReasonMissing}
		}
		var value any
		var member string
		var reason Reason
		if p.Class == Object {
			value, member, reason = p.normalizeObject(raw, func(path string, r Reason) {
				dropped = append(dropped, Violation{Event: event, Property: joinPath(p.Name, path), Reason: r})
			})
		} else {
			value, reason = p.normalize(raw)
		}
		if reason != "" {
			v := Violation{Event: event, Property: joinPath(p.Name, member), Reason: reason}
			if p.Optional {
				dropped = append(dropped, v)
				continue
			}
			return nil, nil, &v
		}
		out[p.Name] = value
	}
	for name, raw := range props {
		if def.property(name) != nil {
			continue
		}
		base := c.baseProperty(name)
		if base == nil {
			dropped = append(dropped, Violation{Event: event, Property: name, Reason: ReasonUnknownProperty})
			continue
		}
		value, reason := base.normalize(raw)
		if reason != "" {
			dropped = append(dropped, Violation{Event: event, Property: name, Reason: reason})
			continue
		}
		out[name] = value
	}
	slices.SortFunc(dropped, func(a, b Violation) int { return strings.Compare(a.Property, b.Property) })
	return out, dropped, nil
}

// NormalizeBase checks one base property, such as a feature flag variant.
// The reason is empty when the value may be sent, ReasonUnknownProperty when
// name is not a base property, and the class's reason otherwise.
func (c *Catalog) NormalizeBase(name string, v any) (value any, reason Reason) {
	base := c.baseProperty(name)
	if base == nil {
		return nil, ReasonUnknownProperty
	}
	return base.normalize(v)
}

// MarshalIndent returns the catalog as indented JSON: the format that
// Parse reads and `candor catalog --format json` prints.
func (c *Catalog) MarshalIndent() ([]byte, error) {
	return json.MarshalIndent(c, "", "  ")
}

// Fingerprint returns a short hash of the catalog's canonical JSON. It
// changes whenever an event, a property, a class or an allowed value
// changes. The Dashboard declaration is left out, because it changes no
// data that the app sends.
func (c *Catalog) Fingerprint() string {
	sent := *c
	sent.Dashboard = Dashboard{}
	data, err := json.Marshal(&sent)
	if err != nil {
		return "unknown"
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:fingerprintBytes])
}

// fingerprintBytes is how many bytes of the SHA-256 a fingerprint keeps.
const fingerprintBytes = 8

// isFingerprint reports whether s is a value that Fingerprint returns:
// 2*fingerprintBytes lower-case hex digits, or "unknown".
func isFingerprint(s string) bool {
	if s == "unknown" {
		return true
	}
	if len(s) != 2*fingerprintBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Parse reads a catalog from the JSON that MarshalIndent writes and checks
// every event and property as Register does, and the dashboard declaration
// as SetDashboard does.
func Parse(data []byte) (*Catalog, error) {
	var c Catalog
	if err := decodeCatalog(data, &c); err != nil {
		return nil, fmt.Errorf("parse catalog: %w", err)
	}
	if c.App == "" {
		return nil, fmt.Errorf("parse catalog: missing \"app\" name")
	}
	if len(c.Base) == 0 {
		c.Base = BaseProperties()
	}
	if err := validateProperties("base properties", "", c.Base, 0); err != nil {
		return nil, fmt.Errorf("parse catalog %q: %w", c.App, err)
	}
	attachMemos(c.Base)
	events := c.Events
	c.Events = nil
	c.byName = map[string]*EventDef{}
	for _, e := range events {
		if e == nil {
			return nil, fmt.Errorf("parse catalog %q: null event", c.App)
		}
		if err := c.add(e); err != nil {
			return nil, fmt.Errorf("parse catalog %q: %w", c.App, err)
		}
	}
	if err := c.checkDashboard(c.Dashboard); err != nil {
		return nil, fmt.Errorf("parse catalog %q: %w", c.App, err)
	}
	return &c, nil
}

// BackendPlatforms are the values of the backend_platform base property:
// Node.js's names for operating systems, which is what analyses written for
// the original Mux app expect.
var BackendPlatforms = []string{
	"aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js", "linux",
	"netbsd", "openbsd", "plan9", "solaris", "sunos", "wasip1", "win32", "unknown",
}

// BaseProperties returns the properties that may come with every event. The
// SDK sends version, backend_platform, electronVersion, nodeVersion,
// bunVersion, goVersion, catalogFingerprint, $lib, $lib_version and
// $geoip_disable; the rest are what PostHog's own clients add. All are
// optional, so a value that breaks its class drops that property only.
// Each call returns new slices, enum values included, so a caller may
// change them.
func BaseProperties() []Property {
	return []Property{
		{Name: "version", Class: Version, Type: "string", Optional: true, Description: "Application version."},
		{Name: "backend_platform", Class: Enum, Type: "string", Optional: true, Values: slices.Clone(BackendPlatforms),
			Description: "Operating system of the backend, with Node.js names (win32, not windows)."},
		{Name: "electronVersion", Class: Version, Type: "string", Optional: true, Description: "Version of the desktop shell hosting the UI; unknown where there is none."},
		{Name: "nodeVersion", Class: Version, Type: "string", Optional: true, Description: "Node.js version; unknown for a Go backend."},
		{Name: "bunVersion", Class: Version, Type: "string", Optional: true, Description: "Bun version; unknown for a Go backend."},
		{Name: "goVersion", Class: Version, Type: "string", Optional: true, Description: "Go runtime version of the backend."},
		{Name: "catalogFingerprint", Class: Fingerprint, Type: "string", Optional: true, Description: "Hash of the event catalog the sender was built with."},
		{Name: "$lib", Class: Identifier, Type: "string", Optional: true, Description: "Name of the sending library."},
		{Name: "$lib_version", Class: Version, Type: "string", Optional: true, Description: "Version of the sending library."},
		{Name: "$geoip_disable", Class: Bool, Type: "boolean", Optional: true, Description: "Asks PostHog not to derive a location from the IP address."},
		{Name: "$is_server", Class: Bool, Type: "boolean", Optional: true, Description: "Set by PostHog's server libraries."},
		{Name: "$process_person_profile", Class: Bool, Type: "boolean", Optional: true, Description: "Set by PostHog's libraries for events without a person profile."},
		{Name: "$os", Class: Platform, Type: "string", Optional: true, Description: "OS family, reduced from the name PostHog's libraries send, such as Mac OS X or darwin."},
		{Name: "$os_version", Class: Version, Type: "string", Optional: true, Description: "Operating system version, as PostHog's libraries send it."},
		{Name: "$go_version", Class: Version, Type: "string", Optional: true, Description: "Go runtime version, as posthog-go sends it."},
	}
}
