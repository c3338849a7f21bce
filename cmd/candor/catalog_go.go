package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/candor-dev/candor/sdk/catalog"
)

// catalogFuncName is the function that candor catalog --go calls in the
// app's package.
const catalogFuncName = "Catalog"

// catalogProgram is the program that candor catalog --go runs in the app's
// module: it calls the package's Catalog function and writes the catalog as
// JSON to the file named by its argument, not to stdout, where the app's
// own packages may write while they load. It accepts both usual
// signatures, so an app's Catalog may build the catalog with
// catalog.MustRegister or return Register's error.
const catalogProgram = `package main

import (
	"fmt"
	"os"

	"github.com/candor-dev/candor/sdk/catalog"

	app %s
)

func main() {
	var (
		c   *catalog.Catalog
		err error
	)
	switch f := any(app.Catalog).(type) {
	case func() *catalog.Catalog:
		c = f()
	case func() (*catalog.Catalog, error):
		c, err = f()
	default:
		err = fmt.Errorf("%%s.Catalog is a %%T, expected func() *catalog.Catalog or func() (*catalog.Catalog, error)", %s, f)
	}
	if err == nil && c == nil {
		err = fmt.Errorf("%%s.Catalog returned a nil catalog", %s)
	}
	var data []byte
	if err == nil {
		data, err = c.MarshalIndent()
	}
	if err == nil {
		err = os.WriteFile(os.Args[1], data, 0o600)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`

// goCatalog builds and runs a program that writes the catalog of the Go
// package pkg, as "go list" names it from the current folder, and parses
// what it writes. The program builds in the package's module, or in the
// module of the current folder when the package is a dependency's. The
// package must export a function Catalog of type
// func() *catalog.Catalog or func() (*catalog.Catalog, error).
//
// The program exists only in an overlay of the go command. Its folder in
// that module is not on disk, so the program builds with the module's
// go.mod and nothing is written into the app's source tree.
func goCatalog(ctx context.Context, pkg string) (*catalog.Catalog, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("--go %s: the go command was not found in PATH (%v): install Go, or write the catalog file from the app and pass --file", pkg, err)
	}
	listed, err := runGo(ctx, goCmd, "", "list", "-f", "{{.ImportPath}}\t{{.Name}}\t{{with .Module}}{{if .Main}}{{.Dir}}{{end}}{{end}}", pkg)
	if err != nil {
		return nil, usageErrorf("--go %s: go list failed: %w: pass a Go package of the app, such as ./internal/telemetry, from a folder of its module", pkg, err)
	}
	lines := strings.Split(strings.TrimRight(listed, "\n"), "\n")
	if len(lines) != 1 {
		return nil, usageErrorf("--go %s: names %d packages: pass the one package whose %s function returns the app's catalog", pkg, len(lines), catalogFuncName)
	}
	fields := strings.Split(lines[0], "\t")
	if len(fields) != 3 {
		return nil, fmt.Errorf("--go %s: unexpected output of go list: %q", pkg, lines[0])
	}
	importPath, name, moduleDir := fields[0], fields[1], fields[2]
	if name == "main" {
		return nil, usageErrorf("--go %s: %s is a main package, which no program can import: move its %s function to a package of its own", pkg, importPath, catalogFuncName)
	}
	// The program builds in the package's own module when it is a main
	// module, as each module of a go.work workspace is, so that it may
	// import a package under internal/ from any folder of the workspace.
	// A package of a dependency is built from the current folder's module.
	if moduleDir == "" {
		goMod, err := runGo(ctx, goCmd, "", "env", "GOMOD")
		if err != nil {
			return nil, fmt.Errorf("--go %s: go env GOMOD failed: %w", pkg, err)
		}
		goMod = strings.TrimSpace(goMod)
		if goMod == "" || goMod == os.DevNull {
			return nil, usageErrorf("--go %s: the current folder is in no Go module: run candor catalog in a folder of the app's module", pkg)
		}
		moduleDir = filepath.Dir(goMod)
	}

	tmp, err := os.MkdirTemp("", "candor-catalog-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	random := make([]byte, 8)
	rand.Read(random)
	// The folder starts with a dot, so "go build ./..." in the module
	// would not pick it up, and it does not exist on disk.
	progDir := filepath.Join(moduleDir, ".candor-catalog-"+hex.EncodeToString(random))
	quoted := strconv.Quote(importPath)
	source := filepath.Join(tmp, "main.go")
	if err := os.WriteFile(source, fmt.Appendf(nil, catalogProgram, quoted, quoted, quoted), 0o600); err != nil {
		return nil, err
	}
	overlay, err := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(progDir, "main.go"): source}})
	if err != nil {
		return nil, err
	}
	overlayFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o600); err != nil {
		return nil, err
	}

	// The program is built and run in two steps, so that a Catalog
	// function that fails is not reported as a package that does not
	// export one.
	prog := filepath.Join(tmp, "catalog-program")
	if runtime.GOOS == "windows" {
		prog += ".exe"
	}
	_, err = runGo(ctx, goCmd, moduleDir, "build", "-overlay", overlayFile, "-o", prog, "."+string(filepath.Separator)+filepath.Base(progDir))
	if err != nil && strings.Contains(err.Error(), "undefined: app."+catalogFuncName) {
		return nil, usageErrorf("--go %s: package %s has no exported function %s: add func %s() *catalog.Catalog or func %s() (*catalog.Catalog, error) that returns the app's catalog",
			pkg, importPath, catalogFuncName, catalogFuncName, catalogFuncName)
	}
	if err != nil {
		return nil, fmt.Errorf("--go %s: build a program that calls %s.%s: %w: the package must export func %s() *catalog.Catalog or func %s() (*catalog.Catalog, error)",
			pkg, importPath, catalogFuncName, err, catalogFuncName, catalogFuncName)
	}
	catalogFile := filepath.Join(tmp, "catalog.json")
	if _, err := runProgram(ctx, moduleDir, prog, catalogFile); err != nil {
		return nil, fmt.Errorf("--go %s: %s.%s failed: %w", pkg, importPath, catalogFuncName, err)
	}
	out, err := os.ReadFile(catalogFile)
	if err != nil {
		return nil, fmt.Errorf("--go %s: read the catalog that %s.%s returned: %w", pkg, importPath, catalogFuncName, err)
	}
	c, err := catalog.Parse(out)
	if err != nil {
		return nil, fmt.Errorf("--go %s: parse the catalog that %s.%s returned: %w", pkg, importPath, catalogFuncName, err)
	}
	return c, nil
}

// maxGoErrorBytes bounds the go command's error output kept in an error.
const maxGoErrorBytes = 2000

// runGo runs the go command in dir (the current folder when dir is "") and
// returns its stdout. Its error carries the command's stderr.
func runGo(ctx context.Context, goCmd, dir string, args ...string) (string, error) {
	return runProgram(ctx, dir, goCmd, args...)
}

// runProgram runs the program name in dir (the current folder when dir is
// "") and returns its stdout. Its error carries the program's stderr, or
// the exit status when the stderr is empty.
func runProgram(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.String(), nil
	}
	msg := strings.TrimSpace(stderr.String())
	if len(msg) > maxGoErrorBytes {
		msg = msg[:maxGoErrorBytes] + "…"
	}
	if msg == "" {
		return "", err
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return "", errors.New(msg)
	}
	return "", fmt.Errorf("%w: %s", err, msg)
}
