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
//	candor migrate   copy a stopped collector's events and deletion keys from DuckDB to ClickHouse
//
// Run "candor COMMAND -h" or "candor help COMMAND" for a command's flags.
//
// Exit status:
//
//	0  success, or help that the command line requested
//	1  the command failed at run time, such as a store that cannot open,
//	   a port in use or an I/O error
//	2  usage error: an unknown command or flag, an invalid or missing flag
//	   value, a file named on the command line that does not exist or is
//	   not a catalog, or a wrong number of arguments
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
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
	{"migrate", "copy a stopped collector's events and deletion keys from DuckDB to ClickHouse", runMigrate},
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

// Exit codes of run.
const (
	exitOK      = 0
	exitFailure = 1 // the command failed at run time
	exitUsage   = 2 // the command line is invalid
)

// run executes one command line and returns the process exit code. Help
// that the command line requests goes to stdout, and help printed because
// of a usage error goes to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "help":
		if len(args) == 1 {
			usage(stdout)
			return exitOK
		}
		// "candor help COMMAND [SUBCOMMAND]" prints the command's flags, as
		// "candor COMMAND [SUBCOMMAND] -h" does.
		return run(ctx, append(slices.Clone(args[1:]), "-h"), stdout, stderr)
	}
	for _, c := range commands {
		if c.name == args[0] {
			return exitCode(c.name, c.run(ctx, args[1:], stdout, stderr), stderr)
		}
	}
	usage(stderr)
	fmt.Fprintf(stderr, "\ncandor: unknown command %q\n", args[0])
	return exitUsage
}

// exitCode prints the error of the command name, unless the flag package
// printed it already, and returns the exit code for it.
func exitCode(name string, err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	}
	fmt.Fprintf(stderr, "candor %s: %v\n", name, err)
	var usageErr *usageError
	if errors.As(err, &usageErr) {
		return exitUsage
	}
	return exitFailure
}

// errUsage reports a usage error that was already printed with the
// command's usage text, as the flag package does for an unknown flag.
var errUsage = errors.New("usage error")

// usageError is a usage error that a command finds after parsing its flags,
// such as an invalid or missing flag value or a file named on the command
// line that does not exist. run prints it and exits with status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf formats a usageError. %w wraps an error as fmt.Errorf does.
func usageErrorf(format string, a ...any) error {
	return &usageError{fmt.Errorf(format, a...)}
}

// asUsageError marks err, unless it is nil, as a usage error.
func asUsageError(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err}
}

// isNotFound reports whether err means that a path does not exist or that
// one of its parent folders is a file.
func isNotFound(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// exitStatusHelp ends the usage text. The package documentation and the
// README list the same codes.
const exitStatusHelp = `Exit status:
  0  success, or help that the command line requested
  1  the command failed at run time, such as a store that cannot open,
     a port in use or an I/O error
  2  usage error: an unknown command or flag, an invalid or missing flag
     value, a file named on the command line that does not exist or is
     not a catalog, or a wrong number of arguments
`

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
	fmt.Fprintln(w)
	fmt.Fprint(w, exitStatusHelp)
}

// newFlagSet returns a flag set that prints its errors to stderr and
// returns them instead of exiting. Its Usage writes to fs.Output().
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("candor "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: candor %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, rejects arguments after the flags and turns flag
// errors into errUsage. It prints the usage text to stdout for -h.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	if err := parseWithUsage(fs, stdout, func() error { return fs.Parse(args) }); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		fmt.Fprintf(fs.Output(), "\nunexpected argument %q%s\n", fs.Arg(0), boolValueHint(fs, args))
		return errUsage
	}
	return nil
}

// parseWithUsage calls parse, which calls fs.Parse, and prints fs.Usage
// once: to stdout when the flags ask for help with -h or --help, and to
// fs.Output() after a flag error. It returns flag.ErrHelp, errUsage or nil.
func parseWithUsage(fs *flag.FlagSet, stdout io.Writer, parse func() error) error {
	// The flag package calls Usage before it returns flag.ErrHelp or an
	// error, so Usage is held back until the returned error shows which
	// stream it belongs to.
	printUsage := fs.Usage
	fs.Usage = func() {}
	// The flag package prints its error message before it returns. The
	// message is held back too, and printed after the usage text, so the
	// usage does not scroll it off the screen.
	output := fs.Output()
	var message bytes.Buffer
	fs.SetOutput(&message)
	err := parse()
	fs.SetOutput(output)
	fs.Usage = printUsage

	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		fs.SetOutput(output)
		return flag.ErrHelp
	}
	fs.Usage()
	fmt.Fprintf(output, "\n%s", message.Bytes())
	return errUsage
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
