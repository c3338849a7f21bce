package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
)

// notesPackage is the telemetry package of a small app with its own
// catalog, as an app that imports the SDK writes it.
const notesPackage = `package telemetry

import "github.com/candor-dev/candor/sdk/catalog"

type NoteSaved struct {
	Pinned bool ` + "`" + `json:"pinned" candor:"bool" doc:"Whether the note is pinned."` + "`" + `
}

func (NoteSaved) EventName() string { return "note_saved" }

func Catalog() (*catalog.Catalog, error) {
	c := catalog.New("notes")
	if err := c.Register(NoteSaved{}, "The user saved a note."); err != nil {
		return nil, err
	}
	return c, nil
}
`

// writeNotesModule writes a Go module that requires this repository's SDK,
// with the files given by path, and returns its folder.
func writeNotesModule(t *testing.T, files map[string]string) string {
	t.Helper()
	sdk, err := filepath.Abs("../../sdk")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(sdk, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files["go.mod"] = "module example.com/notes\n\ngo 1.26\n\n" +
		"require github.com/candor-dev/candor/sdk v0.0.0\n\n" +
		"require github.com/klauspost/compress v1.18.3 // indirect\n\n" +
		"replace github.com/candor-dev/candor/sdk => " + sdk + "\n"
	files["go.sum"] = string(sum)
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCatalogFromGoPackage(t *testing.T) {
	dir := writeNotesModule(t, map[string]string{"internal/telemetry/telemetry.go": notesPackage})
	t.Chdir(filepath.Join(dir, "internal"))

	out, _ := runCatalogCommand(t, 0, "catalog", "--go", "./telemetry")
	c, err := catalog.Parse([]byte(out))
	if err != nil {
		t.Fatalf("parse the printed catalog: %v\n%s", err, out)
	}
	if c.App != "notes" {
		t.Errorf("app = %q, want notes", c.App)
	}
	if _, ok := c.Lookup("note_saved"); !ok {
		t.Errorf("the printed catalog has no event note_saved:\n%s", out)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".candor-catalog") {
			t.Errorf("candor catalog --go left %s in the module", e.Name())
		}
	}

	md, _ := runCatalogCommand(t, 0, "catalog", "--go", "example.com/notes/internal/telemetry", "--format", "markdown")
	if !strings.Contains(md, "note_saved") {
		t.Errorf("the Markdown of the catalog does not name note_saved:\n%s", md)
	}

	// A package of a dependency builds in the current folder's module.
	out, _ = runCatalogCommand(t, 0, "catalog", "--go", "github.com/candor-dev/candor/sdk/mux")
	c, err = catalog.Parse([]byte(out))
	if err != nil {
		t.Fatalf("parse the printed catalog of sdk/mux: %v\n%s", err, out)
	}
	if c.App != "mux" {
		t.Errorf("app of sdk/mux = %q, want mux", c.App)
	}
}

// TestCatalogFromGoWorkspace runs candor catalog --go in a go.work
// workspace, from its root, which is in no module, and from another
// module of it, for a package under internal/.
func TestCatalogFromGoWorkspace(t *testing.T) {
	root := t.TempDir()
	notes := writeNotesModule(t, map[string]string{"internal/telemetry/telemetry.go": notesPackage})
	if err := os.Rename(notes, filepath.Join(root, "notes")); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(root, "other")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.work"), []byte("go 1.26\n\nuse ./notes\nuse ./other\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	folders := []struct{ name, path string }{{"workspace root", root}, {"other module", other}}
	for _, folder := range folders {
		t.Run(folder.name, func(t *testing.T) {
			t.Chdir(folder.path)
			out, _ := runCatalogCommand(t, 0, "catalog", "--go", "example.com/notes/internal/telemetry")
			c, err := catalog.Parse([]byte(out))
			if err != nil {
				t.Fatalf("parse the printed catalog: %v\n%s", err, out)
			}
			if c.App != "notes" {
				t.Errorf("app = %q, want notes", c.App)
			}
		})
	}
}

func TestCatalogFromGoPackageErrors(t *testing.T) {
	dir := writeNotesModule(t, map[string]string{
		"telemetry/telemetry.go": notesPackage,
		"nocatalog/nocatalog.go": "package nocatalog\n\nfunc Other() {}\n",
		"wrongtype/wrongtype.go": "package wrongtype\n\nfunc Catalog() string { return \"notes\" }\n",
		"cmd/notes/main.go":      "package main\n\nfunc main() {}\n",
	})
	t.Chdir(dir)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--go", "./missing"}, 2, "go list failed"},
		{[]string{"--go", "./..."}, 2, "names 4 packages"},
		{[]string{"--go", "./nocatalog"}, 2, "has no exported function Catalog"},
		{[]string{"--go", "./wrongtype"}, 1, "Catalog is a func() string, expected"},
		{[]string{"--go", "./cmd/notes"}, 2, "is a main package"},
		{[]string{"--go", "./telemetry", "--app", "mux"}, 2, "pass only one of them"},
		{[]string{"--go", "./telemetry", "--file", "x.json"}, 2, "pass only one of them"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, stderr := runCatalogCommand(t, tt.code, append([]string{"catalog"}, tt.args...)...)
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr does not contain %q:\n%s", tt.want, stderr)
			}
		})
	}
}

// unclassedPackage registers an event whose field has no privacy class,
// so its Catalog function builds but returns Register's error.
const unclassedPackage = `package unclassed

import "github.com/candor-dev/candor/sdk/catalog"

type NoteOpened struct {
	Path string ` + "`" + `json:"path"` + "`" + `
}

func (NoteOpened) EventName() string { return "note_opened" }

func Catalog() (*catalog.Catalog, error) {
	c := catalog.New("notes")
	if err := c.Register(NoteOpened{}, "The user opened a note."); err != nil {
		return nil, err
	}
	return c, nil
}
`

// TestCatalogFromGoPackageRunFailure runs Catalog functions that build
// but fail, one returning an error and one panicking. The message shows
// the function's own error and does not blame its signature, which is
// valid.
func TestCatalogFromGoPackageRunFailure(t *testing.T) {
	panicking := strings.Replace(unclassedPackage, "return nil, err", "panic(err)", 1)
	dir := writeNotesModule(t, map[string]string{
		"unclassed/unclassed.go": unclassedPackage,
		"panicking/panicking.go": strings.Replace(panicking, "package unclassed", "package panicking", 1),
	})
	t.Chdir(dir)
	for _, pkg := range []string{"./unclassed", "./panicking"} {
		t.Run(pkg, func(t *testing.T) {
			_, stderr := runCatalogCommand(t, 1, "catalog", "--go", pkg)
			if !strings.Contains(stderr, `field Path: missing candor tag`) {
				t.Errorf("stderr does not contain Register's error:\n%s", stderr)
			}
			if !strings.Contains(stderr, "Catalog failed") {
				t.Errorf("stderr does not say that the Catalog function failed:\n%s", stderr)
			}
			if strings.Contains(stderr, "must export") {
				t.Errorf("stderr blames the signature of a Catalog function that has the right one:\n%s", stderr)
			}
			if strings.Contains(stderr, "exit status") {
				t.Errorf("stderr contains the go command's exit status line:\n%s", stderr)
			}
		})
	}
}

// TestCatalogFromGoPackageWritingStdout reads the catalog of a package
// that writes to stdout while it loads, as a package that logs to stdout
// in init does. That output must not reach the catalog.
func TestCatalogFromGoPackageWritingStdout(t *testing.T) {
	chatty := strings.Replace(notesPackage, `import "github.com/candor-dev/candor/sdk/catalog"`,
		"import (\n\t\"fmt\"\n\n\t\"github.com/candor-dev/candor/sdk/catalog\"\n)\n\nfunc init() { fmt.Println(\"notes: loading plugins\") }", 1)
	dir := writeNotesModule(t, map[string]string{"telemetry/telemetry.go": chatty})
	t.Chdir(dir)

	out, _ := runCatalogCommand(t, 0, "catalog", "--go", "./telemetry")
	c, err := catalog.Parse([]byte(out))
	if err != nil {
		t.Fatalf("parse the printed catalog: %v\n%s", err, out)
	}
	if _, ok := c.Lookup("note_saved"); !ok {
		t.Errorf("the printed catalog has no event note_saved:\n%s", out)
	}
}
