package catalog

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// classSummaries is one sentence per privacy class, saying what a value of
// that class may hold and what normalization does to it. The Markdown page
// prints them in this order.
var classSummaries = []struct {
	class   Class
	summary string
}{
	{RandomID, "A UUID (version 4 or 7) or a random token of at least 96 bits and at most 64 characters. " +
		"A token is written in hex (24 or more digits) or in base64url or standard base64 without '/' (16 or more characters before any padding). " +
		"A token is rejected when it has fewer distinct characters, or one character more often, than random data has with a chance of 1 in a billion. " +
		"Base64 is rejected when it has only one of upper-case letters, lower-case letters and digits, as words do, " +
		"or more than 8 digits in a row, as a phone number does, or when it reads as words, such as Workspace-Of-Alice, WorkspaceOfALICE or Alice-Workspace-24. " +
		"A token is also rejected when it starts like the API key of a known service, when it decodes to readable text, such as an encoded email address, " +
		"or when it is an IBAN. A UUID with one digit in more than half of its 32 places is rejected too. " +
		"A hash looks random as well: the hex digest of an MD5 or SHA hash of an email address passes, so put only random values here, never a hash."},
	{Enum, "One of the values listed for the property. Any other value is rejected."},
	{Bool, "The JSON value true or false."},
	{Base2, "A number rounded up to a power of two, so 350 becomes 512 and 0.3 becomes 0.5. Zero and negative numbers become 0."},
	{Bucket, "A number replaced by the largest listed edge that is not above it. Values below the first edge become the first edge."},
	{Count, "A whole number, rounded down and clamped to the range from 0 to the listed max."},
	{Identifier, fmt.Sprintf("A short name such as a model id, an error type or a provider: ASCII letters, digits and ._:/- only, at most %d characters. "+
		"Values that look like a file path, an email address, a URL, a secret key or an IP address are rejected, "+
		"and so are UUIDs of a version other than 4 and 7. "+
		"URLs include those written without a scheme, as a host name followed by a path or a port (example.com/alice, www.example.org:8080), "+
		"when the host ends in a common top-level domain such as com, org, io, dev, local, de or jp. "+
		"A name whose last part after a dot is no such domain passes, as azure.openai/gpt-4o and main.go:12 do. "+
		"Secret keys include text encoded in base64 or in hex and keys split by slashes, "+
		"and IP addresses include IPv4 written with hex parts (0x7f.0x0.0x0.0x1), IPv6 written with dashes (fe80--1-eth0), "+
		"and loopback, private and link-local IPv4 addresses written as one to three numbers (0x7f000001, 127.1). "+
		"Values with more than %d digits in a row, which could be a phone, card or account number, are rejected too, "+
		"and so are runs of %d or %d digits unless they are a date written yyyymmdd, as in claude-3-5-sonnet-20241022, "+
		"or part of a word in hex, as in 0x10004003, or of a UUID.", MaxIdentifierLen, maxDigitRun, minNumberRun, maxDigitRun)},
	{Version, fmt.Sprintf("A version string such as 1.4.2, v2.0.0-rc.1 or go1.26.8, or the word unknown: at most %d characters, "+
		"starting with at most %d letters and then a digit, followed by letters, digits and .+_- only. "+
		"Values that look like an IP address, a phone or card number (555.123.4567, 44.20.7946.0958, 61.2.9876.5432), a UUID or a secret key, "+
		"text encoded in base64 included, are rejected. "+
		"Four numbers that read as an IPv4 address pass only in the WSL 2 kernel release 5.15.153.1-microsoft-standard-WSL2 and its like, "+
		"and not when they are a private, loopback or link-local address.", MaxVersionLen, maxVersionPrefix)},
	{UserAgent, fmt.Sprintf(`A browser user agent, reduced to the browser family, its major version and the OS family, such as "Chrome 131 (macOS)". `+
		"A major version of more than %d digits, which no browser has reached, is left out.", maxMajorVersionDigits)},
	{Platform, "A browser's navigator.platform or an OS name, such as Mac OS X or darwin, reduced to the OS family: " +
		"Windows, macOS, iOS, Android, ChromeOS, Linux or Other."},
	{Variant, "A feature flag or experiment variant: an identifier, true, false or null."},
	{Object, "A nested object. Each of its properties has its own class and is listed on its own row."},
	{Fingerprint, "A catalog fingerprint as the SDK computes it: 16 lower-case hex digits, or the word unknown. " +
		"Any other value is rejected. Unlike an identifier it may hold more than 8 digits in a row, as about 1 fingerprint in 19 does."},
}

// featureFlagDescription is the meaning of the "$feature/<flag>" base
// properties, which the catalog accepts by prefix instead of listing them.
const featureFlagDescription = "Variant of the feature flag or experiment named after the slash that this install was assigned, one property per active flag."

// Markdown renders the catalog as a page for users and app teams: the
// fingerprint, the privacy classes, the base properties, the dashboard
// panels that the Dashboard declaration feeds and a table of properties
// for each event, in registration order. The output depends only
// on the catalog, so it can be committed and compared.
func (c *Catalog) Markdown() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Event catalog: %s\n\n", c.App)
	fmt.Fprintf(&b, "Catalog fingerprint: %s. It changes whenever an event, a property, a class or an allowed value changes, "+
		"and the SDK sends it with every event as the base property `catalogFingerprint`.\n\n", codeSpan(c.Fingerprint()))
	b.WriteString("This page lists every event the app may send and every property each event may carry. " +
		"The SDK checks each event against this catalog before it leaves the app, and the collector checks it again before storing it: " +
		"an event that is not listed is rejected, and a property that is not listed is dropped.\n\n")

	writeClassSummaries(&b)
	writeBaseProperties(&b, c.Base)
	c.writeDashboard(&b)
	writeEventIndex(&b, c.Events, c.eventAnchors())
	for _, e := range c.Events {
		writeEvent(&b, e)
	}
	return b.Bytes()
}

func writeClassSummaries(b *bytes.Buffer) {
	b.WriteString("## Privacy classes\n\n")
	b.WriteString("Every property has a privacy class: the rule its value must keep to be sent and stored. " +
		"Each value is normalized by its class before it is sent. A value that breaks its class is never sent: " +
		"the SDK drops that property, or the whole event when the property is required.\n\n")
	for _, s := range classSummaries {
		fmt.Fprintf(b, "- %s: %s\n", codeSpan(string(s.class)), s.summary)
	}
	b.WriteString("\n")
}

func writeBaseProperties(b *bytes.Buffer, base []Property) {
	b.WriteString("## Base properties\n\n")
	b.WriteString("Any event may carry these properties. They are all optional, so a value that breaks its class drops only that property.\n\n")
	writeTableHeader(b)
	for i := range base {
		writePropertyRows(b, "", &base[i])
	}
	flag := featureProperty
	flag.Name = FeaturePrefix + "<flag>"
	flag.Description = featureFlagDescription
	writePropertyRows(b, "", &flag)
	b.WriteString("\n")
}

func writeEventIndex(b *bytes.Buffer, events []*EventDef, anchors map[string]string) {
	b.WriteString("## Events\n\n")
	if len(events) == 0 {
		b.WriteString("The catalog has no events.\n\n")
		return
	}
	fmt.Fprintf(b, "The catalog has %d events.\n\n", len(events))
	b.WriteString("| event | meaning |\n|---|---|\n")
	for _, e := range events {
		fmt.Fprintf(b, "| [%s](#%s) | %s |\n", codeSpan(e.Name), anchors[e.Name], tableText(e.Description))
	}
	b.WriteString("\n")
}

func writeEvent(b *bytes.Buffer, e *EventDef) {
	fmt.Fprintf(b, "### %s\n\n", codeSpan(e.Name))
	if e.Description != "" {
		fmt.Fprintf(b, "%s\n\n", oneLine(e.Description))
	}
	if len(e.Properties) == 0 {
		b.WriteString("This event has no properties.\n\n")
		return
	}
	writeTableHeader(b)
	for i := range e.Properties {
		writePropertyRows(b, "", &e.Properties[i])
	}
	b.WriteString("\n")
}

func writeTableHeader(b *bytes.Buffer) {
	b.WriteString("| property | type | privacy class | required | meaning |\n")
	b.WriteString("|---|---|---|---|---|\n")
}

// writePropertyRows writes the row of p and, for an object, one row per
// nested property, named by its dotted path.
func writePropertyRows(b *bytes.Buffer, prefix string, p *Property) {
	name := prefix + p.Name
	required := "required"
	if p.Optional {
		required = "optional"
	}
	fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n",
		tableText(codeSpan(name)), wireTypeText(p), tableText(classText(p)), required, tableText(p.Description))
	for i := range p.Properties {
		writePropertyRows(b, name+".", &p.Properties[i])
	}
}

// wireTypeText returns the property's JSON type in words, such as
// "string, boolean or null".
func wireTypeText(p *Property) string {
	types := strings.Split(wireType(p), "|")
	if len(types) == 1 {
		return types[0]
	}
	return strings.Join(types[:len(types)-1], ", ") + " or " + types[len(types)-1]
}

// wireType returns the JSON type of p: its declared Type, or the type its
// class implies when a catalog file leaves Type out.
func wireType(p *Property) string {
	if p.Type != "" {
		return p.Type
	}
	return classType(p.Class)
}

// classText returns the class with its parameters, such as
// "enum: `a`, `b`" or "count, max 100".
func classText(p *Property) string {
	class := codeSpan(string(p.Class))
	switch p.Class {
	case Enum:
		values := make([]string, len(p.Values))
		for i, v := range p.Values {
			values[i] = codeSpan(v)
		}
		return class + ": " + strings.Join(values, ", ")
	case Bucket:
		return class + ", edges " + joinNumbers(p.Edges, ", ")
	case Count:
		return class + ", max " + strconv.FormatInt(p.Max, 10)
	}
	return class
}

func joinNumbers(numbers []float64, sep string) string {
	s := make([]string, len(numbers))
	for i, n := range numbers {
		s[i] = strconv.FormatFloat(n, 'g', -1, 64)
	}
	return strings.Join(s, sep)
}

// codeSpan wraps s in a Markdown code span, with a fence longer than any run
// of backticks in s.
func codeSpan(s string) string {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] != '`' {
			run = 0
			continue
		}
		run++
		longest = max(longest, run)
	}
	if longest == 0 {
		return "`" + s + "`"
	}
	fence := strings.Repeat("`", longest+1)
	return fence + " " + s + " " + fence
}

// tableText makes s fit in one table cell: one line, with pipes escaped.
// GitHub Flavored Markdown needs the escape inside code spans too.
func tableText(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// headingAnchor returns the fragment GitHub derives from a heading's text:
// lower case, spaces turned into -, and every other character than
// letters, digits, - and _ removed. A heading whose fragment an earlier one
// took gets another: see eventAnchors.
func headingAnchor(text string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_':
			b.WriteRune(r)
		}
	}
	return b.String()
}

// eventAnchors returns the fragment of each event's section on the
// Markdown page, by event name. A heading whose fragment an earlier heading
// of the page took gets -1, -2 and so on appended, as github-slugger 1.5.0,
// which emulates GitHub's heading anchors, documents. So an event named
// events links to events-1, not to the Events section.
func (c *Catalog) eventAnchors() map[string]string {
	// suffixes maps each fragment in use to the last number appended to
	// it as a base.
	suffixes := map[string]int{}
	anchor := func(text string) string {
		base := headingAnchor(text)
		fragment := base
		for {
			if _, used := suffixes[fragment]; !used {
				break
			}
			suffixes[base]++
			fragment = base + "-" + strconv.Itoa(suffixes[base])
		}
		suffixes[fragment] = 0
		return fragment
	}
	for _, heading := range []string{"Event catalog: " + c.App, "Privacy classes", "Base properties", "Dashboard panels", "Events"} {
		anchor(heading)
	}
	anchors := make(map[string]string, len(c.Events))
	for _, e := range c.Events {
		anchors[e.Name] = anchor(e.Name)
	}
	return anchors
}
