package telemetrycli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/telemetry"
)

// ErrUsage is returned, after the usage message was printed, for an
// unknown subcommand or invalid flags.
var ErrUsage = errors.New("invalid telemetry command")

// Subcommand describes one subcommand, for wiring into command libraries.
type Subcommand struct {
	Name    string // such as "status"
	Args    string // the flags it takes, such as "[-json]"; "" when none
	Summary string // one line for help output
}

// Subcommands lists the subcommands in the order usage prints them.
var Subcommands = []Subcommand{
	{Name: "status", Summary: "show whether telemetry is on and explain every switch in order"},
	{Name: "show", Args: "[-raw]", Summary: "print the exact next request the app would send"},
	{Name: "pending", Args: "[-json]", Summary: "list the events waiting in memory and in the spool"},
	{Name: "enable", Summary: "save the choice to send telemetry"},
	{Name: "disable", Summary: "save the choice not to send telemetry and delete what is waiting"},
	{Name: "forget", Args: "[-local]", Summary: "delete this install's ID and local data, and its events on the collector"},
}

// Command runs the telemetry subcommands for one app. Set Client before
// calling Run; the other fields are optional.
type Command struct {
	// Client is the app's telemetry client. Required.
	Client *telemetry.Client
	// Sample is the event "show" encodes when nothing is waiting to be
	// sent, such as mux.AppStarted{}. nil means "show" then only reports
	// that nothing is waiting.
	Sample catalog.Event
	// Name is the command as users type it, used in usage and hints, such
	// as "mux telemetry". "" means "telemetry".
	Name string
	// Stdout and Stderr receive the output and the usage message. nil
	// means os.Stdout and os.Stderr.
	Stdout io.Writer
	Stderr io.Writer
}

// Run runs the subcommand named by args[0] with client, writing to stdout
// and stderr. No arguments run "status".
func Run(ctx context.Context, client *telemetry.Client, args []string, stdout, stderr io.Writer) error {
	cmd := &Command{Client: client, Stdout: stdout, Stderr: stderr}
	return cmd.Run(ctx, args)
}

// Run runs the subcommand named by args[0]; no arguments run "status". It
// returns ErrUsage for an unknown subcommand or invalid flags, and
// flag.ErrHelp for -h.
func (c *Command) Run(ctx context.Context, args []string) error {
	if c.Client == nil {
		return errors.New("run telemetry command: Command.Client is nil: set it to the app's telemetry client")
	}
	name := "status"
	if len(args) > 0 {
		name, args = args[0], args[1:]
	}
	switch name {
	case "status":
		return c.runStatus(args)
	case "show":
		return c.runShow(ctx, args)
	case "pending":
		return c.runPending(ctx, args)
	case "enable":
		return c.runChoice(args, true)
	case "disable":
		return c.runChoice(args, false)
	case "forget":
		return c.runForget(ctx, args)
	case "help", "-h", "-help", "--help":
		c.usage(c.stdout())
		return nil
	}
	fmt.Fprintf(c.stderr(), "%s: unknown command %q\n\n", c.name(), name)
	c.usage(c.stderr())
	return fmt.Errorf("%w %q: use one of %s", ErrUsage, name, strings.Join(subcommandNames(), ", "))
}

// Usage writes the list of subcommands to w.
func (c *Command) Usage(w io.Writer) { c.usage(w) }

func (c *Command) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s <command>\n\nCommands:\n", c.name())
	for _, s := range Subcommands {
		fmt.Fprintf(w, "  %-18s %s\n", strings.TrimSpace(s.Name+" "+s.Args), s.Summary)
	}
}

// AddFlagCommand adds the telemetry commands to the usage message of fs,
// an app's flag set, and returns the function that runs them. Call that
// function after fs.Parse with fs.Args(): when the arguments start with
// "telemetry" it runs cmd with the rest and reports handled, and otherwise
// it does nothing. cmd.Client may be set after AddFlagCommand, before the
// returned function is called.
func AddFlagCommand(fs *flag.FlagSet, cmd *Command) func(ctx context.Context, args []string) (handled bool, err error) {
	if cmd.Name == "" {
		cmd.Name = fs.Name() + " telemetry"
	}
	appUsage := fs.Usage
	fs.Usage = func() {
		if appUsage != nil {
			appUsage()
		} else {
			fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
			fs.PrintDefaults()
		}
		fmt.Fprintln(fs.Output())
		cmd.usage(fs.Output())
	}
	return func(ctx context.Context, args []string) (bool, error) {
		if len(args) == 0 || args[0] != "telemetry" {
			return false, nil
		}
		return true, cmd.Run(ctx, args[1:])
	}
}

// flagSet returns a flag set for one subcommand whose usage names it.
func (c *Command) flagSet(sub string) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name()+" "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr())
	var args string
	for _, s := range Subcommands {
		if s.Name == sub {
			args = s.Args
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(c.stderr(), "Usage: %s\n", strings.TrimSpace(c.name()+" "+sub+" "+args))
		fs.PrintDefaults()
	}
	return fs
}

// parse parses a subcommand's flags and rejects positional arguments.
func (c *Command) parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.stderr(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return fmt.Errorf("%w: %s takes no arguments, got %q", ErrUsage, fs.Name(), fs.Arg(0))
	}
	return nil
}

func (c *Command) name() string {
	if c.Name == "" {
		return "telemetry"
	}
	return c.Name
}

func (c *Command) stdout() io.Writer {
	if c.Stdout == nil {
		return os.Stdout
	}
	return c.Stdout
}

func (c *Command) stderr() io.Writer {
	if c.Stderr == nil {
		return os.Stderr
	}
	return c.Stderr
}

func subcommandNames() []string {
	names := make([]string, len(Subcommands))
	for i, s := range Subcommands {
		names[i] = s.Name
	}
	return names
}
