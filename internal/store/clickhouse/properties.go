package clickhouse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// flatProperties are the properties of one event as the columns prop_keys
// and prop_values store them. They have one entry per value that is not an
// object, keyed by the path of its keys joined with dots, such as
// "frontendPlatform.platform", and sorted by key.
type flatProperties struct {
	keys   []string
	values []string
}

// flattenProperties returns the entries of properties. A value's text is
// the one store.Analytics defines and the DuckDB backend returns: a string
// as it is, true or false, and a number as DuckDB prints the number that
// JSON text parses to (see numberText). Null values are left out, and so
// are keys that are empty or contain a dot, which no dotted name can
// select.
//
// NOTE: an array is stored as its JSON text, while the DuckDB backend
// prints it in its own list syntax, such as [a, 1]. The catalog declares no
// array properties.
func flattenProperties(properties map[string]any) (flatProperties, error) {
	// Empty slices, not nil ones, because JSONEachRow takes [] for an
	// empty array and rejects null.
	flat := flatProperties{keys: []string{}, values: []string{}}
	if err := flat.addObject("", properties); err != nil {
		return flatProperties{}, err
	}
	return flat, nil
}

func (f *flatProperties) addObject(prefix string, object map[string]any) error {
	keys := make([]string, 0, len(object))
	for key := range object {
		if key != "" && !strings.Contains(key, ".") {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	for _, key := range keys {
		if err := f.addValue(prefix+key, object[key]); err != nil {
			return err
		}
	}
	return nil
}

// addValue adds the entries of one value. The types that the catalog's
// normalization produces are handled directly, and any other value goes
// through its JSON encoding, which is what the properties column stores.
func (f *flatProperties) addValue(path string, value any) error {
	switch v := value.(type) {
	case nil:
		return nil
	case string:
		f.add(path, v)
	case bool:
		f.add(path, strconv.FormatBool(v))
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return fmt.Errorf("invalid property %q: %v is no JSON number", path, v)
		}
		f.add(path, numberText(jsonFloat(v)))
	case int:
		f.add(path, strconv.Itoa(v))
	case int64:
		f.add(path, strconv.FormatInt(v, 10))
	case json.Number:
		f.add(path, numberText(string(v)))
	case map[string]any:
		return f.addObject(path+".", v)
	case []any:
		text, err := marshalJSON(v)
		if err != nil {
			return fmt.Errorf("encode property %q: %w", path, err)
		}
		f.add(path, strings.TrimSuffix(string(text), "\n"))
	default:
		return f.addEncoded(path, v)
	}
	return nil
}

// addEncoded adds a value of any other type by its JSON encoding, decoded
// with numbers kept as their text.
func (f *flatProperties) addEncoded(path string, value any) error {
	text, err := marshalJSON(value)
	if err != nil {
		return fmt.Errorf("encode property %q: %w", path, err)
	}
	decoder := json.NewDecoder(bytes.NewReader(text))
	decoder.UseNumber()
	var decoded any
	if err := decoder.Decode(&decoded); err != nil {
		return fmt.Errorf("decode property %q: %w", path, err)
	}
	return f.addValue(path, decoded)
}

func (f *flatProperties) add(key, value string) {
	f.keys = append(f.keys, key)
	f.values = append(f.values, value)
}

// jsonFloat returns the JSON text that encoding/json writes for v: decimal
// notation, or exponent notation below 1e-6 and from 1e21 on.
func jsonFloat(v float64) string {
	if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.FormatFloat(v, 'e', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// numberText returns the text of the JSON number literal as DuckDB v2.0.0
// prints the value it parses the literal to, when it stores JSON as
// VARIANT. A literal without fraction or exponent that fits a 64-bit
// integer stays an integer. Any other literal becomes a double, printed in
// the shortest form that reads back as the same double. That form uses
// exponent notation with at least two exponent digits when the decimal
// exponent is below -4 or at least 16 ("1e-05", "2e+19").
func numberText(literal string) string {
	if !strings.ContainsAny(literal, ".eE") {
		if n, err := strconv.ParseInt(literal, 10, 64); err == nil {
			return strconv.FormatInt(n, 10)
		}
		if n, err := strconv.ParseUint(literal, 10, 64); err == nil {
			return strconv.FormatUint(n, 10)
		}
	}
	v, err := strconv.ParseFloat(literal, 64)
	if err != nil {
		// Not a number literal: encoding/json writes none of these.
		return literal
	}
	scientific := strconv.FormatFloat(v, 'e', -1, 64)
	_, exponentText, _ := strings.Cut(scientific, "e")
	exponent, _ := strconv.Atoi(exponentText)
	if v != 0 && (exponent < -4 || exponent >= 16) {
		return scientific
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
