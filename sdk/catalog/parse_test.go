package catalog_test

import (
	"strings"
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
)

// checkParseError checks that Parse rejects file with an error that
// contains each of parts.
func checkParseError(t *testing.T, file string, parts ...string) {
	t.Helper()
	_, err := catalog.Parse([]byte(file))
	if err == nil {
		t.Fatal("Parse succeeded, want an error")
	}
	for _, part := range parts {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not contain %q", err, part)
		}
	}
}

func TestParseRejectsTrailingData(t *testing.T) {
	single := `{"app": "game", "events": [{"name": "opened", "properties": []}]}`
	tests := []struct {
		name, file string
	}{
		{"second catalog", single + "\n" + `{"app": "other", "events": []}`},
		{"stray bracket", single + "}"},
		{"stray word", single + " null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := catalog.Parse([]byte(tt.file))
			if err == nil {
				t.Fatal("Parse succeeded, want an error for the data after the catalog")
			}
			if !strings.Contains(err.Error(), "after the catalog") {
				t.Errorf("error %q does not say that data follows the catalog", err)
			}
			if !strings.Contains(err.Error(), "line 2") && !strings.Contains(err.Error(), "line 1") {
				t.Errorf("error %q does not give the line", err)
			}
		})
	}
}

func TestParseAcceptsTrailingSpace(t *testing.T) {
	file := `{"app": "game", "events": [{"name": "opened", "properties": []}]}` + "\n\n \t\n"
	if _, err := catalog.Parse([]byte(file)); err != nil {
		t.Fatalf("Parse: %v", err)
	}
}

func TestParseNamesPositionOfJSONErrors(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string
	}{
		{"syntax error", "{\n  \"app\": \"game\",\n  \"events\": [,]\n}", []string{"line 3, column 14", "invalid character ','"}},
		{"ends early", "{\n  \"app\": \"game\",\n  \"events\": [", []string{"ends early", "line 3"}},
		{"empty file", "", []string{"empty"}},
		{"blank file", "  \n", []string{"empty"}},
		{"wrong type", "{\"app\": \"game\",\n\"events\": [{\"name\": \"opened\", \"properties\": [\n" +
			`{"name": "n", "class": "count", "max": "10"}]}]}`, []string{"line 3", `"events.properties.max"`, "write a number"}},
		{"unknown field", "{\"app\": \"game\",\n\"events\": [{\"name\": \"opened\", \"properties\": [\n" +
			`{"name": "n", "class": "bool", "optinal": true}]}]}`, []string{"line 3, column 32", `unknown field "optinal"`}},
		{"misplaced known field", "{\"app\": \"game\",\n\"events\": [{\"name\": \"opened\", \"max\": 3, \"properties\": [\n" +
			`{"name": "n", "class": "count", "max": 10}]}]}`, []string{`unknown field "max"`, "no such field"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkParseError(t, tt.file, tt.want...)
		})
	}
}

func TestParseRejectsOptionsOfAnotherClass(t *testing.T) {
	tests := []struct {
		name, property, want string
	}{
		{"values on identifier", `{"name": "mode", "class": "identifier", "values": ["a", "b"]}`, "values apply only to class enum"},
		{"edges on count", `{"name": "n", "class": "count", "max": 5, "edges": [0, 1]}`, "edges apply only to class bucket"},
		{"max on bucket", `{"name": "n", "class": "bucket", "edges": [0, 1], "max": 5}`, "max applies only to class count"},
		{"properties on bool", `{"name": "b", "class": "bool", "properties": [{"name": "x", "class": "bool"}]}`, "properties apply only to class object"},
		{"empty enum value", `{"name": "mode", "class": "enum", "values": ["a", ""]}`, "empty enum value"},
		{"repeated enum value", `{"name": "mode", "class": "enum", "values": ["a", "b", "a"]}`, `enum value "a" listed twice`},
		{"repeated bucket edge", `{"name": "n", "class": "bucket", "edges": [0, 10, 10]}`, "bucket edge 10 listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := `{"app": "game", "events": [{"name": "opened", "properties": [` + tt.property + `]}]}`
			checkParseError(t, file, tt.want, `event "opened" property`)
		})
	}
}
