package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/candor-dev/candor/internal/server"
	"github.com/candor-dev/candor/sdk/mux"
)

// Streams of a command's output.
const (
	toStdout = "stdout"
	toStderr = "stderr"
)

// exitCase is one command line with its expected exit code, the stream
// that carries its help or message, and a part of that output. The other
// stream must stay empty.
type exitCase struct {
	args   []string
	code   int
	stream string
	want   string
	usage  bool // the output also contains the command's usage text
}

// Each command line runs as a process of its own, so the test checks the
// exit code and the streams that a shell gets.
func TestCommandLineExitCodes(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	notCatalog := filepath.Join(dir, "not-a-catalog.json")
	if err := os.WriteFile(notCatalog, []byte(`{"app": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	plainFile := filepath.Join(dir, "file")
	if err := os.WriteFile(plainFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	shopCatalog := writeCatalogFile(t, "shop-catalog.json", mux.Catalog())
	busyAddr := listenLoopback(t)
	closedURL := "http://" + closedLoopbackAddr(t)
	lockedData := lockedDataFolder(t)
	token := "cadm_0123456789abcdef"
	// loadgen runs --candor as its server. With a program that exits at
	// once, a check that no longer rejects its command line makes loadgen
	// fail without sending any load.
	noServer, err := exec.LookPath("false")
	if err != nil {
		t.Fatalf("find the false program for loadgen --candor: %v", err)
	}
	loadgenArgs := func(args ...string) []string {
		return append([]string{"loadgen", "--candor", noServer}, args...)
	}
	// A usage error of serve or demo must leave unusedData uncreated.
	unusedData := filepath.Join(dir, "unused")
	t.Cleanup(func() {
		if _, err := os.Stat(unusedData); err == nil {
			t.Errorf("a rejected command line created the data folder %s", unusedData)
		}
	})

	var cases []exitCase
	for _, c := range commands {
		cases = append(cases,
			exitCase{[]string{"help", c.name}, 0, toStdout, "Usage: candor " + c.name + " ", false},
			exitCase{[]string{c.name, "-h"}, 0, toStdout, "Usage: candor " + c.name + " ", false},
			exitCase{[]string{c.name, "--help"}, 0, toStdout, "Usage: candor " + c.name + " ", false},
			exitCase{[]string{c.name, "--bogus"}, 2, toStderr, "flag provided but not defined: -bogus", true},
			exitCase{[]string{c.name, "extra"}, 2, toStderr, `unexpected argument "extra"`, true},
		)
	}
	cases = append(cases, []exitCase{
		{nil, 2, toStderr, "Usage: candor COMMAND", false},
		{[]string{"help"}, 0, toStdout, "Usage: candor COMMAND", false},
		{[]string{"-h"}, 0, toStdout, "Usage: candor COMMAND", false},
		{[]string{"--help"}, 0, toStdout, "Exit status:\n  0  success", false},
		{[]string{"bogus"}, 2, toStderr, `unknown command "bogus"`, true},
		{[]string{"help", "bogus"}, 2, toStderr, `unknown command "bogus"`, true},
		{[]string{"help", "serve", "extra"}, 2, toStderr, `unexpected argument "extra"`, true},
		{[]string{"help", "catalog", "diff"}, 0, toStdout, "Usage: candor catalog diff OLD NEW", false},

		{[]string{"serve", "--data", unusedData, "--listen", "nope"}, 2, toStderr, `invalid --listen "nope"`, false},
		{[]string{"serve", "--data", unusedData, "--listen", "127.0.0.1:99999"}, 2, toStderr, `invalid --listen "127.0.0.1:99999"`, false},
		{[]string{"serve", "--data", unusedData, "--listen", "127.0.0.1:0", "--store", "bogus"}, 2, toStderr, `invalid --store "bogus"`, false},
		{[]string{"serve", "--data", unusedData, "--listen", "127.0.0.1:0", "--store", "null", "--journal=false"}, 2, toStderr, "--journal applies to the DuckDB store only", false},
		{[]string{"serve", "--data", unusedData, "--listen", "127.0.0.1:0", "--rate-limit", "-1"}, 2, toStderr, "invalid --rate-limit -1", false},
		{[]string{"serve", "--data", unusedData, "--listen", "127.0.0.1:0", "--admin-token", "short"}, 2, toStderr, "invalid --admin-token", false},
		{[]string{"serve", "--data", unusedData, "--listen", "127.0.0.1:0", "--admin-token", token, "--write-key", token}, 2, toStderr, "invalid --write-key: it equals --admin-token", false},
		{[]string{"serve", "--data", unusedData, "--listen", "127.0.0.1:0", "--log-level", "loud"}, 2, toStderr, `invalid --log-level "loud"`, false},
		{[]string{"serve", "--data", unusedData, "--listen", "127.0.0.1:0", "--k-anonymity", "0"}, 2, toStderr, "invalid --k-anonymity 0", false},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--data", plainFile}, 2, toStderr, `invalid --data "` + plainFile + `": it is a file`, false},
		{[]string{"serve", "--data", unusedData, "--listen", "127.0.0.1:0", "--rate-limit", "fast"}, 2, toStderr, `invalid value "fast" for flag -rate-limit`, true},
		{[]string{"serve", "--data", unusedData, "--listen", "127.0.0.1:0", "--retention", "-1d"}, 2, toStderr, `invalid retention "-1d"`, true},
		{[]string{"serve", "--data", unusedData, "--listen", "127.0.0.1:0", "--retention", "1ns"}, 2, toStderr, `invalid retention "1ns": must be at least 1d`, true},
		{[]string{"serve", "--data", unusedData, "--listen", "127.0.0.1:0", "--project", "shop=" + missing + ":phc_shop"}, 2, toStderr, `read catalog of project "shop"`, true},
		{[]string{"serve", "--data", unusedData, "--listen", "127.0.0.1:0", "--project", "shop=" + shopCatalog + ":phc_shop", "--project", "shop=" + shopCatalog + ":phc_shop2"},
			2, toStderr, `invalid --project "shop": given twice`, true},
		{[]string{"serve", "--data", unusedData, "--listen", "127.0.0.1:0", "--project", "shop=" + shopCatalog + ":phc_shop", "--project", "store=" + shopCatalog + ":phc_shop"},
			2, toStderr, `invalid --project "store": its write key equals that of --project "shop"`, true},
		{[]string{"serve", "--data", unusedData, "--listen", "127.0.0.1:0", "--project", "shop=" + shopCatalog + ":phc_mux", "--write-key", "phc_mux"},
			2, toStderr, `invalid --project "shop": its write key equals --write-key`, true},
		{[]string{"demo", "--data", unusedData, "--listen", "127.0.0.1:0", "--project", "shop=" + shopCatalog + ":phc_shop", "--project", "shop=" + shopCatalog + ":phc_shop"},
			2, toStderr, `invalid --project "shop": given twice`, true},
		{[]string{"serve", "--data", filepath.Join(dir, "serve"), "--listen", busyAddr}, 1, toStderr, `listen on "` + busyAddr + `"`, false},

		{[]string{"demo", "--data", unusedData, "--days", "0"}, 2, toStderr, "invalid --days 0", false},
		{[]string{"demo", "--data", unusedData, "--installs", "-1"}, 2, toStderr, "invalid --installs -1", false},
		{[]string{"demo", "--data", unusedData, "--listen", "nope"}, 2, toStderr, `invalid --listen "nope"`, false},
		{[]string{"demo", "--data", filepath.Join(dir, "demo"), "--listen", busyAddr}, 1, toStderr, `listen on "` + busyAddr + `"`, false},

		{[]string{"simulate"}, 2, toStderr, "missing --endpoint", true},
		{[]string{"simulate", "--endpoint", "http://127.0.0.1:1"}, 2, toStderr, "missing --write-key", true},
		{[]string{"simulate", "--endpoint", "127.0.0.1:8787", "--write-key", "phc_x"}, 2, toStderr, `invalid --endpoint "127.0.0.1:8787"`, false},
		{[]string{"simulate", "--endpoint", "http://127.0.0.1:1", "--write-key", "phc_x", "--installs", "0"}, 2, toStderr, "invalid --installs 0", false},
		{[]string{"simulate", "--endpoint", "http://127.0.0.1:1", "--write-key", "phc_x", "--installs", "x"}, 2, toStderr, `invalid value "x" for flag -installs`, true},

		{[]string{"report"}, 2, toStderr, "missing --server", true},
		{[]string{"report", "--server", closedURL}, 2, toStderr, "missing --token", true},
		{[]string{"report", "--server", "localhost:8787", "--token", token}, 2, toStderr, `invalid --server "localhost:8787"`, false},
		{[]string{"report", "--server", closedURL, "--token", token, "--format", "yaml"}, 2, toStderr, `invalid --format "yaml"`, false},
		{[]string{"report", "--server", closedURL, "--token", token, "--from", "2025-13-01"}, 2, toStderr, `invalid --from "2025-13-01"`, false},
		{[]string{"report", "--server", closedURL, "--token", token, "--project", ""}, 2, toStderr, `invalid --project ""`, false},
		{[]string{"report", "--server", closedURL, "--token", token}, 1, toStderr, "check that candor serve is running at --server", false},

		{[]string{"catalog", "--format", "yaml"}, 2, toStderr, `invalid --format "yaml"`, false},
		{[]string{"catalog", "--app", "slack"}, 2, toStderr, `unknown --app "slack"`, false},
		{[]string{"catalog", "--app", "mux", "--file", notCatalog}, 2, toStderr, "pass only one of them", false},
		{[]string{"catalog", "--file", missing}, 2, toStderr, `read catalog file "` + missing + `": no such file or directory`, false},
		{[]string{"catalog", "--file", dir}, 2, toStderr, `read catalog file "` + dir + `": is a directory`, false},
		{[]string{"catalog", "--file", notCatalog}, 2, toStderr, `read catalog file "` + notCatalog + `"`, false},
		{[]string{"catalog", "diff", "-h"}, 0, toStdout, "Usage: candor catalog diff OLD NEW", false},
		{[]string{"catalog", "diff", "mux", "mux", "--help"}, 0, toStdout, "Usage: candor catalog diff OLD NEW", false},
		{[]string{"catalog", "diff", "--bogus"}, 2, toStderr, "flag provided but not defined: -bogus", true},
		{[]string{"catalog", "diff", "mux"}, 2, toStderr, "expected 2 arguments, OLD and NEW, but got 1", true},
		{[]string{"catalog", "diff", "mux", "mux", "mux"}, 2, toStderr, "expected 2 arguments, OLD and NEW, but got 3", true},
		{[]string{"catalog", "diff", "mux", missing}, 2, toStderr, `read catalog file "` + missing + `": no such file or directory`, false},
		{[]string{"catalog", "diff", notCatalog, "mux"}, 2, toStderr, `read catalog file "` + notCatalog + `"`, false},

		{[]string{"compact", "--data", ""}, 2, toStderr, "missing --data", false},
		{[]string{"compact", "--data", dir}, 2, toStderr, "no database candor.duckdb in " + dir, false},
		{[]string{"compact", "--data", plainFile}, 2, toStderr, "no database candor.duckdb in " + plainFile, false},
		{[]string{"compact", "--data", lockedData}, 1, toStderr, "is in use by another candor process", false},

		{loadgenArgs("--duration", "0s"), 2, toStderr, "invalid --duration 0s", false},
		{loadgenArgs("--concurrency", "0"), 2, toStderr, "invalid --concurrency 0", false},
		{loadgenArgs("--overload", "NaN"), 2, toStderr, "invalid --overload NaN", false},
		{loadgenArgs("--duckdb-properties", "xml"), 2, toStderr, `invalid --duckdb-properties "xml"`, false},
		{loadgenArgs("--phases", "batch,soak"), 2, toStderr, `invalid phase "soak" in --phases`, false},
		{[]string{"loadgen", "--candor", missing}, 2, toStderr, `invalid --candor "` + missing + `"`, false},
	}...)
	if runtime.GOOS == "linux" {
		// Reading /proc/self/mem from offset 0 fails with EIO, a read
		// error that the command line does not cause.
		cases = append(cases, exitCase{[]string{"catalog", "--file", "/proc/self/mem"}, 1, toStderr, "input/output error", false})
	}

	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runMain(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code = %d, want %d\nstderr: %s", code, tc.code, stderr)
			}
			output, other, otherName := stderr, stdout, toStdout
			if tc.stream == toStdout {
				output, other, otherName = stdout, stderr, toStderr
			}
			if !strings.Contains(output, tc.want) {
				t.Errorf("%s %q does not contain %q", tc.stream, output, tc.want)
			}
			if tc.usage && !strings.Contains(output, "Usage: candor") {
				t.Errorf("%s %q does not contain the usage text", tc.stream, output)
			}
			if other != "" {
				t.Errorf("%s = %q, want nothing", otherName, other)
			}
		})
	}
}

// runMain runs candor with args as a process and returns its exit code
// and output.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := candorCommand(args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run candor %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// listenLoopback returns the address of a loopback port that stays in use
// until the test ends.
func listenLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// closedLoopbackAddr returns the address of a loopback port that was free
// a moment ago, so that a connection to it is refused.
func closedLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// lockedDataFolder returns a data folder with a database file, locked by
// this process as a running candor serve locks it.
func lockedDataFolder(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, server.DatabaseFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	lock, err := server.LockDataDir(data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Unlock() })
	return data
}

// TestUsageErrorAfterUsage checks that a flag, argument or command error
// is printed after the usage text, where it stays on screen.
func TestUsageErrorAfterUsage(t *testing.T) {
	dir := t.TempDir()
	shop := "shop=" + writeCatalogFile(t, "shop-catalog.json", mux.Catalog()) + ":phc_shop"
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--project", shop, "--write-key", "phc_shop"}, `invalid --project "shop"`},
		{[]string{"report", "--server", "http://127.0.0.1:1", "--token", "x", "extra"}, `unexpected argument "extra"`},
		{[]string{"simulate", "--installs", "many"}, `invalid value "many" for flag -installs`},
		{[]string{"catalog", "diff", "--bogus", "mux", "mux"}, "flag provided but not defined: -bogus"},
		{[]string{"catalog", "diff", "mux"}, "expected 2 arguments, OLD and NEW, but got 1"},
		{[]string{"bogus"}, `unknown command "bogus"`},
	}
	for _, tc := range tests {
		code, _, stderr := runCommand(t, tc.args...)
		if code != exitUsage {
			t.Errorf("candor %v exited with %d, want %d", tc.args, code, exitUsage)
		}
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if last := lines[len(lines)-1]; !strings.Contains(last, tc.want) || !strings.Contains(stderr, "Usage: candor") {
			t.Errorf("candor %v: last line of stderr %q, want the usage above and %q last", tc.args, last, tc.want)
		}
	}
}
