package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

// builtinCatalogs are the catalogs compiled into candor, by app name.
var builtinCatalogs = map[string]func() *catalog.Catalog{
	mux.App: mux.Catalog,
}

// catalogFormats are the renderers of --format, by format name.
var catalogFormats = map[string]func(*catalog.Catalog) ([]byte, error){
	"json": func(c *catalog.Catalog) ([]byte, error) {
		data, err := c.MarshalIndent()
		return append(data, '\n'), err
	},
	"markdown":   func(c *catalog.Catalog) ([]byte, error) { return c.Markdown(), nil },
	"typescript": func(c *catalog.Catalog) ([]byte, error) { return c.TypeScript(), nil },
}

const catalogSynopsis = `[--app NAME | --file FILE | --go PACKAGE] [--format json|markdown|typescript]
       candor catalog diff OLD NEW

Print an app's event catalog: every event it may send, with each property's
privacy class. "candor catalog diff" prints the changes between two catalogs.

With --go, candor builds and runs a small program in the package's module,
or a dependency's package in the current folder's module, that calls its
exported function
Catalog() *catalog.Catalog, or Catalog() (*catalog.Catalog, error), and
prints what it returns. This writes the catalog file of an app for
"candor serve --project", for example:

  candor catalog --go ./internal/telemetry > notes-catalog.json`

// runCatalog prints a built-in catalog or a catalog file, or with "diff" as
// its first argument, the changes between two catalogs.
func runCatalog(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "diff" {
		return runCatalogDiff(args[1:], stdout, stderr)
	}

	fs := newFlagSet("catalog", catalogSynopsis, stderr)
	app := fs.String("app", mux.App, "`name` of the built-in catalog to print: "+strings.Join(builtinCatalogNames(), ", "))
	file := fs.String("file", "", "catalog `file` to print instead of a built-in catalog, in the JSON that --format json prints")
	goPkg := fs.String("go", "", "Go `package` of the app, such as ./internal/telemetry, whose exported Catalog function returns its catalog; needs the go command")
	format := fs.String("format", "json", "output `format`: json, markdown or typescript")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	render, ok := catalogFormats[*format]
	if !ok {
		return usageErrorf("invalid --format %q: use json, markdown or typescript", *format)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["app"] && set["file"] {
		return usageErrorf("invalid flags --app %q and --file %q: pass only one of them", *app, *file)
	}
	if set["go"] && (set["app"] || set["file"]) {
		return usageErrorf("invalid flag --go %q with --app or --file: pass only one of them", *goPkg)
	}
	// An empty value, as an unset shell variable gives, would otherwise
	// print the built-in Mux catalog in place of the app's.
	if set["file"] && *file == "" {
		return usageErrorf(`invalid --file "": name a catalog file, such as notes-catalog.json`)
	}
	if set["go"] && *goPkg == "" {
		return usageErrorf(`invalid --go "": name a Go package of the app, such as ./internal/telemetry`)
	}

	var c *catalog.Catalog
	var err error
	if set["go"] {
		c, err = goCatalog(ctx, *goPkg)
	} else {
		c, err = catalogFromFlags(*app, *file)
	}
	if err != nil {
		return err
	}
	data, err := render(c)
	if err != nil {
		return fmt.Errorf("render catalog %q as %s: %w", c.App, *format, err)
	}
	_, err = stdout.Write(data)
	return err
}

func catalogFromFlags(app, file string) (*catalog.Catalog, error) {
	if file != "" {
		c, err := readCatalogFile(file)
		if err != nil {
			return nil, fmt.Errorf("invalid --file: %w (%s)", err, catalogFileHint)
		}
		return c, nil
	}
	build, ok := builtinCatalogs[app]
	if !ok {
		return nil, usageErrorf("unknown --app %q: use one of the built-in catalogs (%s), or --file for a catalog file",
			app, strings.Join(builtinCatalogNames(), ", "))
	}
	return build(), nil
}

// runCatalogDiff prints one line per change from the OLD catalog to the
// NEW one. It succeeds whether or not there are changes.
func runCatalogDiff(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("catalog diff", "OLD NEW", stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: candor catalog diff OLD NEW\n\n"+
			"Print one line per change from the OLD catalog to the NEW one: events and\n"+
			"properties added or removed, changes of class, enum values, bucket edges,\n"+
			"count max, optionality and description, and dashboard panels (new_installs,\n"+
			"funnel, errors) added, removed or changed in the \"dashboard\" declaration.\n"+
			"It prints nothing when the catalogs are the same, and exits with status 0\n"+
			"whether or not there are changes.\n\n"+
			"OLD and NEW are catalog files in the JSON that the app's Catalog.MarshalIndent\n"+
			"writes, or the name of a built-in catalog (%s). Write ./NAME for a file\n"+
			"that has a built-in catalog's name.\n", strings.Join(builtinCatalogNames(), ", "))
	}
	var catalogs []string
	err := parseWithUsage(fs, stdout, func() error {
		var err error
		catalogs, err = parseInterspersed(fs, args)
		return err
	})
	if err != nil {
		return err
	}
	if len(catalogs) != 2 {
		fs.Usage()
		fmt.Fprintf(stderr, "\ncandor catalog diff: expected 2 arguments, OLD and NEW, but got %d\n", len(catalogs))
		return errUsage
	}

	old, err := loadCatalog(catalogs[0])
	if err != nil {
		return err
	}
	new, err := loadCatalog(catalogs[1])
	if err != nil {
		return err
	}
	for _, ch := range catalog.Diff(old, new) {
		if _, err := fmt.Fprintln(stdout, ch); err != nil {
			return err
		}
	}
	return nil
}

// parseInterspersed parses the flags in args, also those after the first
// argument, such as the -h of "candor catalog diff OLD NEW -h", and returns
// the arguments. Everything after "--" is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		// fs.Parse drops a "--" that ends the flags, so it shows as a
		// shorter rest than the arguments after the last flag.
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// loadCatalog returns the built-in catalog of that name, or else reads the
// catalog file at that path.
func loadCatalog(nameOrPath string) (*catalog.Catalog, error) {
	if build, ok := builtinCatalogs[nameOrPath]; ok {
		return build(), nil
	}
	c, err := readCatalogFile(nameOrPath)
	if err != nil {
		return nil, fmt.Errorf("%w (%s, or name a built-in catalog: %s)", err, catalogFileHint, strings.Join(builtinCatalogNames(), ", "))
	}
	return c, nil
}

// catalogFileHint ends the errors about catalog files.
const catalogFileHint = `a catalog file is the JSON that the app's Catalog.MarshalIndent writes, as "candor catalog --go PACKAGE" prints it for an app's Go package`

// readCatalogFile reads and parses the catalog file at path. A path that
// does not exist or is a folder, and a file that is not a valid catalog,
// give a usageError, and other read errors do not.
func readCatalogFile(path string) (*catalog.Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		cause := err
		var pathErr *os.PathError
		if errors.As(err, &pathErr) {
			cause = pathErr.Err // the message names the path already
		}
		err = fmt.Errorf("read catalog file %q: %w", path, cause)
		if isNotFound(cause) || errors.Is(cause, syscall.EISDIR) {
			return nil, asUsageError(err)
		}
		return nil, err
	}
	c, err := catalog.Parse(data)
	if err != nil {
		return nil, usageErrorf("read catalog file %q: %w", path, err)
	}
	return c, nil
}

func builtinCatalogNames() []string {
	return slices.Sorted(maps.Keys(builtinCatalogs))
}
