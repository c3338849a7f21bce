package main

import (
	"strings"
	"testing"
)

func TestHelpCommandPrintsFlags(t *testing.T) {
	for _, name := range []string{"serve", "report", "catalog"} {
		code, _, stderr := runCommand(t, "help", name)
		if code != 0 {
			t.Errorf("candor help %s exit code = %d, want 0", name, code)
		}
		if want := "Usage: candor " + name + " "; !strings.Contains(stderr, want) {
			t.Errorf("candor help %s stderr %q does not contain %q", name, stderr, want)
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
