package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

// muxDocPath is the committed Markdown page of the Mux catalog, relative to
// this package's folder.
const muxDocPath = "../../docs/catalog/mux.md"

func TestCatalogDocUpToDate(t *testing.T) {
	committed, err := os.ReadFile(muxDocPath)
	if err != nil {
		t.Fatalf("read the committed catalog page: %v", err)
	}
	generated, _ := runCatalogCommand(t, 0, "catalog", "--app", "mux", "--format", "markdown")
	if generated != string(committed) {
		t.Errorf("docs/catalog/mux.md differs from the Mux catalog. Regenerate it from the repository root with\n"+
			"\tgo run ./cmd/candor catalog --app mux --format markdown > docs/catalog/mux.md\n"+
			"diff (-committed +generated):\n%s", cmp.Diff(string(committed), generated))
	}
}

func TestCatalogFormats(t *testing.T) {
	c := mux.Catalog()
	json, err := c.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"catalog"}, string(json) + "\n"},
		{[]string{"catalog", "--app", "mux", "--format", "json"}, string(json) + "\n"},
		{[]string{"catalog", "--format", "markdown"}, string(c.Markdown())},
		{[]string{"catalog", "--app", "mux", "--format", "typescript"}, string(c.TypeScript())},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, _ := runCatalogCommand(t, 0, tt.args...)
			if got != tt.want {
				t.Errorf("output differs from the catalog's own rendering (-want +got):\n%s", cmp.Diff(tt.want, got))
			}
		})
	}
}

func TestCatalogJSONParses(t *testing.T) {
	out, _ := runCatalogCommand(t, 0, "catalog", "--format", "json")
	c, err := catalog.Parse([]byte(out))
	if err != nil {
		t.Fatalf("Parse the output of --format json: %v", err)
	}
	if got, want := c.Fingerprint(), mux.Catalog().Fingerprint(); got != want {
		t.Errorf("fingerprint of the parsed output = %s, want the Mux catalog's %s", got, want)
	}
}

func TestCatalogFile(t *testing.T) {
	path := writeCatalogFile(t, "mux.json", mux.Catalog())
	for _, format := range []string{"json", "markdown", "typescript"} {
		fromFile, _ := runCatalogCommand(t, 0, "catalog", "--file", path, "--format", format)
		builtin, _ := runCatalogCommand(t, 0, "catalog", "--app", "mux", "--format", format)
		if fromFile != builtin {
			t.Errorf("--file with the Mux catalog's JSON prints another %s than --app mux (-app +file):\n%s",
				format, cmp.Diff(builtin, fromFile))
		}
	}
}

func TestCatalogErrors(t *testing.T) {
	dir := t.TempDir()
	invalid := filepath.Join(dir, "invalid.json")
	if err := os.WriteFile(invalid, []byte(`{"app": "x", "events": [{"name": "e", "properties": [{"name": "p", "class": "secret"}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.json")
	tests := []struct {
		args []string
		code int
		want string // part of stderr
	}{
		{[]string{"catalog", "--format", "yaml"}, 2, `invalid --format "yaml": use json, markdown or typescript`},
		{[]string{"catalog", "--app", "slack"}, 2, `unknown --app "slack": use one of the built-in catalogs (mux), or --file for a catalog file`},
		{[]string{"catalog", "--app", "mux", "--file", invalid}, 2, "pass only one of them"},
		{[]string{"catalog", "--file", missing}, 2, `invalid --file: read catalog file "` + missing + `": no such file or directory`},
		{[]string{"catalog", "--file", invalid}, 2, `unknown privacy class "secret"`},
		{[]string{"catalog", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"catalog", "--file", ""}, 2, `invalid --file "": name a catalog file`},
		{[]string{"catalog", "--go", ""}, 2, `invalid --go "": name a Go package`},
		{[]string{"catalog", "--go", "", "--file", invalid}, 2, "pass only one of them"},
		{[]string{"catalog", "diff", "mux"}, 2, "expected 2 arguments, OLD and NEW, but got 1"},
		{[]string{"catalog", "diff", "mux", missing}, 2, `read catalog file "` + missing + `": no such file or directory`},
		{[]string{"catalog", "diff", invalid, "mux"}, 2, `or name a built-in catalog: mux`},
		{[]string{"catalog", "diff", "mux", missing}, 2, "the JSON that the app's Catalog.MarshalIndent writes"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			stdout, stderr := runCatalogCommand(t, tt.code, tt.args...)
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q lacks %q", stderr, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing on error", stdout)
			}
		})
	}
}

func TestCatalogDiff(t *testing.T) {
	oldPath := writeCatalogFile(t, "old.json", mux.Catalog())

	// The next version drops app_started, allows one more runtime type in
	// message_sent and adds an event.
	data, err := mux.Catalog().MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	next, err := catalog.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	next.Events = slices.DeleteFunc(next.Events, func(e *catalog.EventDef) bool { return e.Name == "app_started" })
	// Parse rejects a dashboard declaration that names a removed event.
	next.Dashboard.FirstLaunchEvent, next.Dashboard.FirstLaunchProperty, next.Dashboard.Funnel = "", "", nil
	sent, _ := next.Lookup("message_sent")
	for i := range sent.Properties {
		if sent.Properties[i].Name == "runtimeType" {
			sent.Properties[i].Values = append(slices.Clone(sent.Properties[i].Values), "cloud")
		}
	}
	next.Events = append(next.Events, &catalog.EventDef{Name: "app_closed", Description: "The app closed.", Properties: []catalog.Property{
		{Name: "uptime_b2", Class: catalog.Base2, Type: "number"},
	}})
	newPath := writeCatalogFile(t, "new.json", next)

	want := `removed event app_started
changed property message_sent.runtimeType: enum values added: "cloud"
added event app_closed: "The app closed.", properties uptime_b2 (base2)
removed dashboard panel new_installs
removed dashboard panel funnel
`
	got, _ := runCatalogCommand(t, 0, "catalog", "diff", oldPath, newPath)
	if got != want {
		t.Errorf("catalog diff (-want +got):\n%s", cmp.Diff(want, got))
	}

	// The argument mux names the built-in catalog, so this is the same diff.
	got, _ = runCatalogCommand(t, 0, "catalog", "diff", "mux", newPath)
	if got != want {
		t.Errorf("catalog diff mux (-want +got):\n%s", cmp.Diff(want, got))
	}

	got, _ = runCatalogCommand(t, 0, "catalog", "diff", "mux", oldPath)
	if got != "" {
		t.Errorf("catalog diff of a catalog with its own JSON printed %q, want nothing", got)
	}
}

func TestCatalogDiffDashboardOnly(t *testing.T) {
	next := mux.Catalog()
	declared := next.Dashboard
	declared.Funnel = []string{"app_started", "message_sent"}
	declared.ErrorBreakdown = []string{"errorType"}
	next.MustSetDashboard(declared)
	newPath := writeCatalogFile(t, "new.json", next)

	// The fingerprint leaves the declaration out, so only the diff shows
	// this change.
	if next.Fingerprint() != mux.Catalog().Fingerprint() {
		t.Fatal("changing the dashboard declaration changed the fingerprint")
	}
	want := `changed dashboard panel funnel: funnel ["app_started[isFirstLaunch=true]", "workspace_created", "message_sent"] → ["app_started", "message_sent"]
changed dashboard panel errors: error_breakdown ["errorType", "context"] → ["errorType"]
`
	got, stderr := runCatalogCommand(t, 0, "catalog", "diff", "mux", newPath)
	if got != want {
		t.Errorf("catalog diff (-want +got):\n%s", cmp.Diff(want, got))
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing", stderr)
	}
}

// runCatalogCommand runs the candor command line in-process, checks its exit
// code and returns what it printed.
func runCatalogCommand(t *testing.T, wantCode int, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(t.Context(), args, &out, &errOut); code != wantCode {
		t.Fatalf("candor %s: exit code %d, want %d\nstderr:\n%s", strings.Join(args, " "), code, wantCode, errOut.String())
	}
	return out.String(), errOut.String()
}

// writeCatalogFile writes c as JSON to a file in a temporary folder and
// returns its path.
func writeCatalogFile(t *testing.T, name string, c *catalog.Catalog) string {
	t.Helper()
	data, err := c.MarshalIndent()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
