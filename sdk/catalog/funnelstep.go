package catalog

import (
	"errors"
	"fmt"
	"strings"
)

// A funnel step is an event name, optionally followed by property=value
// conditions in brackets and separated by commas, such as
// app_started[isFirstLaunch=true] or message_sent[model=m1,thinkingLevel=high].
// A value that starts with a double quote runs to the closing quote, and
// in it a backslash makes the next character literal: "a,b" is the value
// a,b and "say \"hi\"" is say "hi". Any other value runs to the next comma
// and may contain = and ], and a double quote inside it is literal, so
// every unquoted form keeps its meaning. SetDashboard and the dashboard's
// step parameter read steps with ParseFunnelStep.

// Errors of ParseFunnelStep, for errors.Is. ErrUnclosedQuote comes
// wrapped with the condition's text.
var (
	ErrUnclosedConditions = errors.New("unclosed conditions: end them with ]")
	ErrUnclosedQuote      = errors.New(`missing closing ": end the quoted value with "`)
)

// FunnelCondition is one property=value condition of a funnel step.
type FunnelCondition struct {
	Property string // trimmed of spaces
	Value    string // without quotes and escapes; trimmed of spaces when unquoted
	Text     string // the condition as written, trimmed of spaces
}

// ParseFunnelStep reads a funnel step in the format described above. It
// returns the event name trimmed of spaces, also together with an error
// about the conditions, so that a caller can check the event first. A
// step without brackets has no conditions. ParseFunnelStep checks only
// the format: whether the event and the properties exist is left to the
// caller.
func ParseFunnelStep(step string) (event string, conditions []FunnelCondition, err error) {
	event, rest, hasConditions := strings.Cut(step, "[")
	event = strings.TrimSpace(event)
	if event == "" {
		return "", nil, fmt.Errorf("missing event name: start the step with one, such as message_sent")
	}
	if !hasConditions {
		return event, nil, nil
	}
	inner, closed := strings.CutSuffix(rest, "]")
	if !closed {
		return event, nil, ErrUnclosedConditions
	}
	conditions, err = parseConditions(inner)
	return event, conditions, err
}

// parseConditions splits the text between a step's brackets into its
// conditions.
func parseConditions(inner string) ([]FunnelCondition, error) {
	var conditions []FunnelCondition
	rest := inner
	for {
		start := rest
		end := strings.IndexAny(rest, ",=")
		if end < 0 || rest[end] == ',' {
			text, _, _ := strings.Cut(rest, ",")
			return nil, invalidConditionError(strings.TrimSpace(text))
		}
		condition := FunnelCondition{Property: strings.TrimSpace(rest[:end])}
		rest = strings.TrimLeft(rest[end+1:], " \t")

		if strings.HasPrefix(rest, `"`) {
			var err error
			condition.Value, rest, err = CutQuoted(rest)
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
			condition.Value = strings.TrimSpace(value)
			rest = rest[len(value):]
		}
		condition.Text = strings.TrimSpace(start[:len(start)-len(rest)])
		if condition.Property == "" {
			return nil, invalidConditionError(condition.Text)
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

// CutQuoted reads the double-quoted string at the start of s, in which a
// backslash makes the next character literal. It returns the string
// without its quotes and escapes, and the rest of s after the closing
// quote, or ErrUnclosedQuote. The dashboard reads quoted list items with
// it too.
func CutQuoted(s string) (value, rest string, err error) {
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
	return "", "", ErrUnclosedQuote
}
