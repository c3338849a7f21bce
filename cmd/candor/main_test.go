package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHelpCommandPrintsFlags(t *testing.T) {
	for _, name := range []string{"serve", "report", "catalog"} {
		code, stdout, _ := runCommand(t, "help", name)
		if code != 0 {
			t.Errorf("candor help %s exit code = %d, want 0", name, code)
		}
		if want := "Usage: candor " + name + " "; !strings.Contains(stdout, want) {
			t.Errorf("candor help %s stdout %q does not contain %q", name, stdout, want)
		}
	}
}

func TestHelpUnknownCommand(t *testing.T) {
	code, _, stderr := runCommand(t, "help", "bogus")
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if want := `unknown command "bogus"`; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not contain %q", stderr, want)
	}
}

func TestCompactEmptyData(t *testing.T) {
	code, _, stderr := runCommand(t, "compact", "--data", "")
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if want := "missing --data: pass the data folder of candor serve"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not contain %q", stderr, want)
	}
}

func TestSimulateInvalidEndpoint(t *testing.T) {
	for _, endpoint := range []string{"127.0.0.1:8787", "localhost:8787", "ftp://127.0.0.1:8787"} {
		code, stdout, stderr := runCommand(t, "simulate", "--endpoint", endpoint, "--write-key", "phc_x", "--installs", "1", "--days", "1")
		if code != 2 {
			t.Errorf("candor simulate --endpoint %s exit code = %d, want 2", endpoint, code)
		}
		if stdout != "" {
			t.Errorf("candor simulate --endpoint %s stdout = %q, want none", endpoint, stdout)
		}
		want := `invalid --endpoint "` + endpoint + `": use an http or https URL, such as http://127.0.0.1:8787`
		if !strings.Contains(stderr, want) {
			t.Errorf("candor simulate --endpoint %s stderr %q does not contain %q", endpoint, stderr, want)
		}
	}
}

func TestCatalogDiffFlagAfterArguments(t *testing.T) {
	code, stdout, _ := runCommand(t, "catalog", "diff", "mux", "mux", "-h")
	if code != 0 {
		t.Errorf("candor catalog diff mux mux -h exit code = %d, want 0", code)
	}
	if want := "Usage: candor catalog diff OLD NEW"; !strings.Contains(stdout, want) {
		t.Errorf("candor catalog diff mux mux -h stdout %q does not contain %q", stdout, want)
	}

	code, _, stderr := runCommand(t, "catalog", "diff", "mux", "mux", "--bogus")
	if code != 2 {
		t.Errorf("candor catalog diff mux mux --bogus exit code = %d, want 2", code)
	}
	if want := "flag provided but not defined: -bogus"; !strings.Contains(stderr, want) {
		t.Errorf("candor catalog diff mux mux --bogus stderr %q does not contain %q", stderr, want)
	}
}

func TestCatalogDiffDashDashEndsFlags(t *testing.T) {
	code, _, stderr := runCommand(t, "catalog", "diff", "mux", "--", "-missing.json")
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if want := `read catalog file "-missing.json"`; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not contain %q", stderr, want)
	}
}

func TestBoolFlagWithSeparateValue(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--journal", "false"}, `unexpected argument "false" after --journal: a boolean flag takes its value after "=", such as --journal=false`},
		{[]string{"demo", "-resimulate", "true"}, `unexpected argument "true" after -resimulate: a boolean flag takes its value after "=", such as -resimulate=true`},
		{[]string{"serve", "--metrics-public", "yes"}, `unexpected argument "yes" after --metrics-public: a boolean flag takes its value after "=", such as --metrics-public=true`},
	}
	for _, test := range tests {
		code, _, stderr := runCommand(t, test.args...)
		if code != 2 {
			t.Errorf("candor %v exit code = %d, want 2", test.args, code)
		}
		if !strings.Contains(stderr, test.want) {
			t.Errorf("candor %v stderr %q does not contain %q", test.args, stderr, test.want)
		}
	}
}

func TestServeDataIsFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCommand(t, "serve", "--data", file, "--listen", "127.0.0.1:0")
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	want := `invalid --data "` + file + `": it is a file: pass --data a folder that candor can create and write`
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not contain %q", stderr, want)
	}
}

// The usage line of each command names the command's own flags. The demo's
// serve flags are listed under Flags only.
func TestUsageLineNamesFlags(t *testing.T) {
	commands := map[string][]string{
		"demo":     {"--data", "--listen", "--installs", "--days", "--seed", "--resimulate"},
		"simulate": {"--endpoint", "--write-key", "--installs", "--days", "--seed", "--concurrency", "--close-timeout"},
		"report":   {"--server", "--token", "--project", "--from", "--to", "--format"},
		"compact":  {"--data"},
		"catalog":  {"--app", "--file", "--format"},
	}
	for name, flags := range commands {
		_, stdout, _ := runCommand(t, name, "-h")
		usage, _, _ := strings.Cut(stdout, "\n")
		for _, flag := range flags {
			if !strings.Contains(usage, flag) {
				t.Errorf("usage line of candor %s %q does not name %s", name, usage, flag)
			}
		}
	}
}

// The help of each command has a paragraph between its usage line and its
// flags that describes what the command does.
func TestHelpDescribesCommand(t *testing.T) {
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, _ := runCommand(t, "help", c.name)
			if code != 0 {
				t.Fatalf("candor help %s exit code = %d, want 0", c.name, code)
			}
			head, _, found := strings.Cut(stdout, "\nFlags:\n")
			if !found {
				t.Fatalf("candor help %s output %q has no Flags section", c.name, stdout)
			}
			paragraphs := strings.Split(strings.TrimSpace(head), "\n\n")
			if len(paragraphs) < 2 {
				t.Errorf("candor help %s has no description between the usage line and the flags:\n%s", c.name, head)
			}
		})
	}
}
