package webtelemetry_test

import (
	"go/parser"
	"go/token"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/candor-dev/candor/sdk/webtelemetry"
)

// TestDocNamesConfigFields fails when the package documentation names a
// Config field that does not exist, in its example or as Config.Name.
func TestDocNamesConfigFields(t *testing.T) {
	file, err := parser.ParseFile(token.NewFileSet(), "doc.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := file.Doc.Text()
	config := reflect.TypeFor[webtelemetry.Config]()

	_, example, ok := strings.Cut(doc, "webtelemetry.New(webtelemetry.Config{")
	if !ok {
		t.Fatal("the package documentation has no webtelemetry.New(webtelemetry.Config{...}) example")
	}
	example, _, _ = strings.Cut(example, "})")
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s*(\w+):`).FindAllStringSubmatch(example, -1) {
		names = append(names, m[1])
	}
	for _, m := range regexp.MustCompile(`Config\.(\w+)`).FindAllStringSubmatch(doc, -1) {
		names = append(names, m[1])
	}
	if len(names) == 0 {
		t.Fatal("found no Config field in the package documentation")
	}
	for _, name := range names {
		if _, ok := config.FieldByName(name); !ok {
			t.Errorf("the package documentation names Config.%s, which does not exist", name)
		}
	}
}
