package dashboard

import (
	"errors"
	"fmt"
	"strings"
)

// Lists and funnel steps separate their items with commas, and steps
// close their conditions with ]. An item or a condition value that
// contains such a separator is written in double quotes, in which a
// backslash makes the next character literal: "a,b" is the value a,b and
// "say \"hi\"" is say "hi". Only a double quote at the start of an item
// or of a value opens a quoted string, so every unquoted form keeps its
// meaning.

// errUnclosedQuote is the error of a quoted string without its closing
// double quote.
var errUnclosedQuote = errors.New(`missing closing ": end the quoted value with "`)

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

// readQuoted reads the double-quoted string at the start of s. It returns
// the string without its quotes and escapes, and the rest of s after the
// closing quote.
func readQuoted(s string) (value, rest string, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", "", errUnclosedQuote
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
				item, rest, err = readQuoted(rest)
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

// rawCondition is one property=value condition of a funnel step, before
// any check against the catalogs. text is the condition as written.
type rawCondition struct {
	property, value, text string
}

// splitConditions splits the text between a step's brackets into its
// conditions, separated by commas. A value runs to the next comma unless
// it starts with a double quote, and then it runs to the closing quote.
// An unquoted value may contain = and ].
func splitConditions(inner string) ([]rawCondition, error) {
	var conditions []rawCondition
	rest := inner
	for {
		start := rest
		end := strings.IndexAny(rest, ",=")
		if end < 0 || rest[end] == ',' {
			text, _, _ := strings.Cut(rest, ",")
			return nil, invalidConditionError(strings.TrimSpace(text))
		}
		condition := rawCondition{property: strings.TrimSpace(rest[:end])}
		rest = strings.TrimLeft(rest[end+1:], " \t")

		if strings.HasPrefix(rest, `"`) {
			var err error
			condition.value, rest, err = readQuoted(rest)
			if err != nil {
				return nil, fmt.Errorf("invalid condition %q: %w", strings.TrimSpace(start), err)
			}
			rest = strings.TrimLeft(rest, " \t")
			if rest != "" && rest[0] != ',' {
				return nil, fmt.Errorf("invalid condition %q: put a comma between a quoted value and the next condition",
					strings.TrimSpace(start))
			}
		} else {
			value, _, _ := strings.Cut(rest, ",")
			condition.value = strings.TrimSpace(value)
			rest = rest[len(value):]
		}
		condition.text = strings.TrimSpace(start[:len(start)-len(rest)])
		if condition.property == "" {
			return nil, invalidConditionError(condition.text)
		}
		conditions = append(conditions, condition)

		if rest == "" {
			return conditions, nil
		}
		rest = rest[1:] // the comma
	}
}

func invalidConditionError(text string) error {
	return fmt.Errorf("invalid condition %q: use property=value, such as thinkingLevel=high", text)
}
