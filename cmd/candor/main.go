// Command candor runs the candor collector and its tools.
//
// Usage:
//
//	candor demo      start a collector on ./candor-data and fill it with simulated Mux traffic
//	candor serve     run the collector: ingestion, dashboard and query API
//	candor simulate  send realistic Mux traffic through real SDK clients
//	candor report    print a collector's overview in the terminal
//	candor catalog   print an app's event catalog
//	candor loadgen   measure the collector's ingestion rate over loopback
//	candor compact   rewrite a stopped collector's database without the values of deleted events
//
// Run "candor COMMAND -h" or "candor help COMMAND" for a command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"demo", "start a collector on ./candor-data and fill it with simulated Mux traffic", runDemo},
	{"serve", "run the collector: ingestion, dashboard and query API", runServe},
	{"simulate", "send realistic Mux traffic through real SDK clients", runSimulate},
	{"report", "print a collector's overview in the terminal", runReport},
	{"catalog", "print an app's event catalog", runCatalog},
	{"loadgen", "measure the collector's ingestion rate over loopback", runLoadgen},
	{"compact", "rewrite a stopped collector's database without the values of deleted events", runCompact},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, the next one ends the process at once. A
	// shutdown never needs to finish for the events candor serve
	// acknowledged: they are in its journal or committed.
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the process exit code: 0 on
// success, 1 when the command failed, 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 1 && args[0] == "help" {
		// "candor help COMMAND" prints the command's flags, as "candor COMMAND -h" does.
		return run(ctx, []string{args[1], "-h"}, stdout, stderr)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		}
		fmt.Fprintf(stderr, "candor %s: %v\n", c.name, err)
		return 1
	}
	fmt.Fprintf(stderr, "candor: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// errUsage reports a command line that the flag package already explained.
var errUsage = errors.New("usage error")

func usage(w io.Writer) {
	fmt.Fprintln(w, "candor: privacy-first, transparent usage telemetry.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: candor COMMAND [flags]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "candor COMMAND -h" or "candor help COMMAND" for a command's flags.`)
}

// newFlagSet returns a flag set that prints its errors and usage to stderr
// and returns them instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("candor "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: candor %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and turns flag errors into errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q%s\n", fs.Arg(0), boolValueHint(fs, args))
		fs.Usage()
		return errUsage
	}
	return nil
}

// boolValueHint explains an unexpected argument that follows a boolean flag,
// as "false" does in "--journal false": the flag package reads a boolean
// flag's value only after "=". It returns "" for any other argument.
func boolValueHint(fs *flag.FlagSet, args []string) string {
	i := len(args) - fs.NArg()
	if i == 0 {
		return ""
	}
	previous := args[i-1]
	name := strings.TrimLeft(previous, "-")
	if name == previous || strings.Contains(name, "=") {
		return ""
	}
	f := fs.Lookup(name)
	if f == nil {
		return ""
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
		return ""
	}
	example := "true"
	if _, err := strconv.ParseBool(fs.Arg(0)); err == nil {
		example = fs.Arg(0)
	}
	return fmt.Sprintf(" after %s: a boolean flag takes its value after \"=\", such as %s=%s", previous, previous, example)
}
