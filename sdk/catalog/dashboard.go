package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Dashboard names the events and properties from which the collector's
// dashboard builds three panels for an app: new installs, the default
// funnel and errors. Each part is optional. For a part that is not
// declared, the dashboard's panel states what is missing instead of
// showing zeros. The zero value declares nothing.
//
// The JSON keys are those of the "dashboard" object that MarshalIndent
// writes and Parse reads.
type Dashboard struct {
	// FirstLaunchEvent is the event an install sends when it starts for
	// the first time, such as app_started. The new-installs panel counts
	// the installs that sent it.
	FirstLaunchEvent string `json:"first_launch_event,omitempty"`
	// FirstLaunchProperty, if set, is a bool property of FirstLaunchEvent
	// that is true on an install's first start only, such as
	// isFirstLaunch. Empty counts every FirstLaunchEvent as a first launch.
	FirstLaunchProperty string `json:"first_launch_property,omitempty"`

	// Funnel is the funnel the dashboard opens with: 2 to MaxFunnelSteps
	// steps in order. A step is an event name, optionally followed by
	// property=value conditions in brackets, such as
	// "app_started[isFirstLaunch=true]" or "message_sent[model=m1,thinkingLevel=high]",
	// in the format that ParseFunnelStep reads and the dashboard's step
	// parameter takes. A value that contains a comma is written in double
	// quotes, as in message_sent[model="a,b"]. A condition's value must be
	// one that the property's class stores, such as 512 and not 350 for a
	// base2 property.
	Funnel []string `json:"funnel,omitempty"`

	// ErrorEvent is the event an app sends when an operation fails, such
	// as error_occurred. The errors panel counts it.
	ErrorEvent string `json:"error_event,omitempty"`
	// ErrorBreakdown names 1 or MaxErrorBreakdown properties of ErrorEvent
	// that the errors panel splits the errors by: the first over time,
	// both in a table. Required with ErrorEvent.
	ErrorBreakdown []string `json:"error_breakdown,omitempty"`
}

// Limits of a Dashboard declaration. They are those of the dashboard's
// funnel and trend queries.
const (
	MaxFunnelSteps    = 10
	MaxErrorBreakdown = 2
)

// SetDashboard checks d against the registered events and stores a copy
// of it in c.Dashboard. Call it after Register has added the events that
// d names. On error, which names the first invalid value, c is unchanged.
func (c *Catalog) SetDashboard(d Dashboard) error {
	if err := c.checkDashboard(d); err != nil {
		return err
	}
	d.Funnel = slices.Clone(d.Funnel)
	d.ErrorBreakdown = slices.Clone(d.ErrorBreakdown)
	c.Dashboard = d
	return nil
}

// MustSetDashboard is SetDashboard for catalogs built at package
// initialization. It panics on error, which only a mistake in the
// declaration causes.
func (c *Catalog) MustSetDashboard(d Dashboard) {
	if err := c.SetDashboard(d); err != nil {
		panic(err)
	}
}

// checkDashboard returns an error unless every event and property that d
// names is in c and has a class that its panel can use.
func (c *Catalog) checkDashboard(d Dashboard) error {
	if err := c.checkFirstLaunch(d.FirstLaunchEvent, d.FirstLaunchProperty); err != nil {
		return fmt.Errorf("declare dashboard: %w", err)
	}
	if err := c.checkFunnel(d.Funnel); err != nil {
		return fmt.Errorf("declare dashboard: %w", err)
	}
	if err := c.checkErrors(d.ErrorEvent, d.ErrorBreakdown); err != nil {
		return fmt.Errorf("declare dashboard: %w", err)
	}
	return nil
}

func (c *Catalog) checkFirstLaunch(event, property string) error {
	if event == "" {
		if property != "" {
			return fmt.Errorf("first_launch_property %q without first_launch_event: name the event that has it", property)
		}
		return nil
	}
	def, err := c.declaredEvent("first_launch_event", event)
	if err != nil || property == "" {
		return err
	}
	p := eventProperty(def.Properties, property)
	if p == nil {
		return fmt.Errorf("first_launch_property %q is not a property of event %q: name one of its bool properties", property, event)
	}
	if p.Class != Bool {
		return fmt.Errorf("first_launch_property %q of event %q has class %s, not bool: name a bool property that is true on an install's first start only",
			property, event, p.Class)
	}
	return nil
}

func (c *Catalog) checkFunnel(steps []string) error {
	if len(steps) == 0 {
		return nil
	}
	if len(steps) < 2 || len(steps) > MaxFunnelSteps {
		return fmt.Errorf("funnel of %s: give 2 to %d", countSteps(len(steps)), MaxFunnelSteps)
	}
	for _, step := range steps {
		if err := c.checkStep(step); err != nil {
			return fmt.Errorf("funnel step %q: %w", step, err)
		}
	}
	return nil
}

// checkStep checks one funnel step, which ParseFunnelStep reads.
func (c *Catalog) checkStep(step string) error {
	event, conditions, parseErr := ParseFunnelStep(step)
	if event == "" {
		return parseErr
	}
	def, err := c.declaredEvent("event", event)
	if err != nil {
		return err
	}
	if parseErr != nil {
		return parseErr
	}
	for _, condition := range conditions {
		if err := c.checkCondition(def, condition); err != nil {
			return err
		}
	}
	return nil
}

// CheckCondition returns an error unless condition, such as
// "thinkingLevel=high", can select events of the named event. The
// property must be a property of the event or a base property, of a class
// whose values select events. The value must be one that the class stores.
// Nested properties are named parent.child. A base2 property, for
// example, stores 350 as 512, so "message_length_b2=350" fails and names
// 512.
func (c *Catalog) CheckCondition(event, condition string) error {
	def, err := c.declaredEvent("event", event)
	if err != nil {
		return err
	}
	name, value, ok := strings.Cut(condition, "=")
	if !ok || name == "" {
		return fmt.Errorf("invalid condition %q: write property=value, such as isFirstLaunch=true", condition)
	}
	return c.checkCondition(def, FunnelCondition{Property: name, Value: value, Text: condition})
}

func (c *Catalog) checkCondition(def *EventDef, parsed FunnelCondition) error {
	condition, name, value := parsed.Text, parsed.Property, parsed.Value
	p, err := c.selectableProperty(def, name)
	if err != nil {
		return fmt.Errorf("condition %q: %w", condition, err)
	}
	switch {
	case p.Class == Bool && value != "true" && value != "false":
		return fmt.Errorf("condition %q: %q is a bool property: compare it with true or false", condition, name)
	case p.Class == Enum && !slices.Contains(p.Values, value):
		return fmt.Errorf("condition %q: %q is not a value of enum %q: use one of %s",
			condition, value, name, strings.Join(p.Values, ", "))
	}
	return checkStoredValue(p, condition, name, value)
}

// checkStoredValue returns an error when the class of p never stores
// value, so that a condition comparing the property with it would select
// no event. Variant properties are not checked, because they store an
// identifier, a bool or null.
func checkStoredValue(p *Property, condition, name, value string) error {
	switch p.Class {
	case Base2, Bucket, Count:
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return fmt.Errorf("condition %q: %q is not a number, but %q has class %s: compare it with a number", condition, value, name, p.Class)
		}
		stored, reason := p.normalizeNumber(f)
		if reason == "" && stored == f {
			return nil
		}
		if reason != "" {
			return fmt.Errorf("condition %q: class %s of %q rejects %q (%s): compare it with a value the class stores", condition, p.Class, name, value, reason)
		}
		return fmt.Errorf("condition %q: class %s of %q stores %q as %s, so no event has the value %q: compare it with %s",
			condition, classWithOptions(p), name, value, formatNumber(stored), value, formatNumber(stored))
	case Identifier, Version, UserAgent, Platform, Fingerprint:
		stored, reason := p.normalizeString(value)
		if reason != "" {
			return fmt.Errorf("condition %q: class %s of %q rejects %q (%s): compare it with a value the class stores", condition, p.Class, name, value, reason)
		}
		if stored != value {
			return fmt.Errorf("condition %q: class %s of %q stores %q as %q: compare it with %q", condition, p.Class, name, value, stored, stored)
		}
	}
	return nil
}

// formatNumber returns f as text without an exponent, such as 512 or 0.5.
func formatNumber(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func (c *Catalog) checkErrors(event string, breakdown []string) error {
	if event == "" {
		if len(breakdown) > 0 {
			return fmt.Errorf("error_breakdown %q without error_event: name the event that has these properties", breakdown)
		}
		return nil
	}
	def, err := c.declaredEvent("error_event", event)
	if err != nil {
		return err
	}
	if len(breakdown) == 0 || len(breakdown) > MaxErrorBreakdown {
		return fmt.Errorf("error_breakdown of error_event %q has %d properties: name 1 or %d, such as the error type and the operation that failed",
			event, len(breakdown), MaxErrorBreakdown)
	}
	for i, name := range breakdown {
		if slices.Contains(breakdown[:i], name) {
			return fmt.Errorf("error_breakdown names %q twice: name each property once", name)
		}
		if _, err := c.selectableProperty(def, name); err != nil {
			return fmt.Errorf("error_breakdown: %w", err)
		}
	}
	return nil
}

// declaredEvent returns the registered event that the declaration key
// names.
func (c *Catalog) declaredEvent(key, name string) (*EventDef, error) {
	def, ok := c.byName[name]
	if !ok {
		return nil, fmt.Errorf("%s %q is not an event of catalog %q: register the event first, or name a registered one", key, name, c.App)
	}
	return def, nil
}

// selectableProperty returns the property of def, or the base property,
// with that name, provided its values can select or split events. Names
// of nested properties join the object's name and theirs with a dot.
func (c *Catalog) selectableProperty(def *EventDef, name string) (*Property, error) {
	p := eventProperty(def.Properties, name)
	if p == nil {
		p = c.baseProperty(name)
	}
	if p == nil {
		return nil, fmt.Errorf("%q is neither a property of event %q nor a base property: name one of them", name, def.Name)
	}
	if p.Class == RandomID || p.Class == Object {
		return nil, fmt.Errorf("property %q of event %q has class %s, whose values cannot select or split events: name a property of another class",
			name, def.Name, p.Class)
	}
	return p, nil
}

// eventProperty returns the property of props with that name, looking
// into objects for names such as parent.child, or nil.
func eventProperty(props []Property, name string) *Property {
	for i := range props {
		p := &props[i]
		if p.Name == name {
			return p
		}
		if rest, ok := strings.CutPrefix(name, p.Name+"."); ok && p.Class == Object {
			if nested := eventProperty(p.Properties, rest); nested != nil {
				return nested
			}
		}
	}
	return nil
}

// countSteps returns n followed by "step" or "steps".
func countSteps(n int) string {
	if n == 1 {
		return "1 step"
	}
	return fmt.Sprintf("%d steps", n)
}
