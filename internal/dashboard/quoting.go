package dashboard

import (
	"fmt"
	"strings"

	"github.com/candor-dev/candor/sdk/catalog"
)

// Lists and funnel steps separate their items with commas, and steps
// close their conditions with ]. An item or a condition value that
// contains such a separator is written in double quotes, in which a
// backslash makes the next character literal: "a,b" is the value a,b and
// "say \"hi\"" is say "hi". Only a double quote at the start of an item
// or of a value opens a quoted string, so every unquoted form keeps its
// meaning. catalog.ParseFunnelStep reads steps, the same way as for a
// catalog's declared funnel, and catalog.CutQuoted reads quoted items.

// listSpecials are the characters that make a list item need quotes.
const listSpecials = `,"`

// stepSpecials are the characters that make a condition value need
// quotes: the list separator, the end of the conditions and the page's
// step separator.
const stepSpecials = `,]>"`

// quoteIfNeeded returns s unchanged unless it contains one of specials,
// starts or ends with a space or is empty, and else s in double quotes
// with its backslashes and double quotes escaped.
func quoteIfNeeded(s, specials string) string {
	if s != "" && !strings.ContainsAny(s, specials) && strings.TrimSpace(s) == s {
		return s
	}
	escaped := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
	return `"` + escaped + `"`
}

// splitList returns the items of the list parameter name. Each value may
// hold several items separated by commas, and an item in double quotes
// may contain commas. Spaces around items and empty unquoted items are
// dropped, so an empty form field selects everything.
func splitList(name string, values []string) ([]string, error) {
	var items []string
	for _, value := range values {
		rest := value
		for {
			rest = strings.TrimLeft(rest, " \t")
			var item string
			if strings.HasPrefix(rest, `"`) {
				var err error
				item, rest, err = catalog.CutQuoted(rest)
				if err != nil {
					return nil, fmt.Errorf("invalid %s %q: %w", name, value, err)
				}
				rest = strings.TrimLeft(rest, " \t")
				if rest != "" && rest[0] != ',' {
					return nil, fmt.Errorf("invalid %s %q: separate a quoted item from the next one with a comma", name, value)
				}
				items = append(items, item)
			} else {
				item, _, _ = strings.Cut(rest, ",")
				rest = rest[len(item):]
				if item = strings.TrimSpace(item); item != "" {
					items = append(items, item)
				}
			}
			if rest == "" {
				break
			}
			rest = rest[1:] // the comma
		}
	}
	return items, nil
}

// joinList writes items as one list value that splitList reads back,
// with ", " between items and quotes where needed.
func joinList(items []string) string {
	quoted := make([]string, len(items))
	for i, item := range items {
		quoted[i] = quoteIfNeeded(item, listSpecials)
	}
	return strings.Join(quoted, ", ")
}
