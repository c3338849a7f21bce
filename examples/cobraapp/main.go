// Command cobraapp is a small app built with cobra that adds candor's
// telemetry commands to its command line:
//
//	cobraapp work                  capture an event, as the app's real work would
//	cobraapp telemetry status      whether telemetry is on, and why
//	cobraapp telemetry show        the exact next request
//	cobraapp telemetry pending     what waits to be sent
//	cobraapp telemetry enable      save the choice to send
//	cobraapp telemetry disable     save the choice not to send
//	cobraapp telemetry forget      delete this install's data here and on the collector
//
// It sends the Mux catalog's events to the collector at
// $CANDOR_ENDPOINT (default http://127.0.0.1:8787) with the write key
// $CANDOR_WRITE_KEY, and keeps its files in ~/.cobraapp. Start a collector
// with "candor serve" and pass the write key it prints.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/candor-dev/candor/sdk/mux"
	"github.com/candor-dev/candor/sdk/telemetry"
	"github.com/candor-dev/candor/sdk/telemetrycli"
)

// appName prefixes the environment switches, such as
// COBRAAPP_DISABLE_TELEMETRY, and names the home folder ~/.cobraapp.
const appName = "cobraapp"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err, unless telemetrycli printed it already with the
// usage message, and returns the process exit status: 2 for such a usage
// error, 1 for any other error.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, telemetrycli.ErrUsage):
		return 2
	}
	fmt.Fprintln(stderr, "cobraapp:", err)
	return 1
}

// run builds the telemetry client and executes the command line args.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := telemetry.Config{
		App:      appName,
		Catalog:  mux.Catalog(),
		Endpoint: getenv("CANDOR_ENDPOINT"),
		WriteKey: getenv("CANDOR_WRITE_KEY"),
		Home:     getenv("COBRAAPP_HOME"),
		Version:  "0.1.0",
		Getenv:   getenv,
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = "http://127.0.0.1:8787"
	}
	if cfg.WriteKey == "" && isHelpRequest(args) {
		// Cobra prints help without running a command, so no client is needed.
		return executeRoot(ctx, nil, args, stdout, stderr)
	}
	if cfg.WriteKey == "" {
		return errors.New("missing write key: set CANDOR_WRITE_KEY to the key that candor serve prints")
	}
	cfg.AllowAutomation = getenv("COBRAAPP_ALLOW_AUTOMATION") == "1"
	client, err := telemetry.New(cfg)
	if err != nil {
		return err
	}

	runErr := executeRoot(ctx, client, args, stdout, stderr)

	closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client.Close(closeCtx) // what cannot be sent now waits in the spool
	return runErr
}

// executeRoot runs the command tree on args.
func executeRoot(ctx context.Context, client *telemetry.Client, args []string, stdout, stderr io.Writer) error {
	root := newRootCommand(client)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

// isHelpRequest reports whether cobra itself prints help for args: no
// arguments, the help command, or -h or --help before a telemetry
// subcommand, whose flags telemetrycli parses with the client.
func isHelpRequest(args []string) bool {
	if len(args) == 0 || args[0] == "help" {
		return true
	}
	for i, arg := range args {
		if i > 0 && args[0] == "telemetry" && isTelemetrySubcommand(arg) {
			return false
		}
		if arg == "-h" || arg == "--help" {
			return true
		}
	}
	return false
}

func isTelemetrySubcommand(name string) bool {
	for _, sub := range telemetrycli.Subcommands {
		if sub.Name == name {
			return true
		}
	}
	return false
}

// newRootCommand returns the app's command tree.
func newRootCommand(client *telemetry.Client) *cobra.Command {
	root := &cobra.Command{
		Use:           appName,
		Short:         "An example app that shows candor's telemetry commands under cobra",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(&cobra.Command{
		Use:   "work",
		Short: "Capture an app_started event, as the app's real work would",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			client.Capture(mux.AppStarted{IsFirstLaunch: client.FirstLaunch()})
			fmt.Fprintln(cmd.OutOrStdout(), "Captured app_started.")
			return nil
		},
	})
	root.AddCommand(newTelemetryCommand(client))
	return root
}

// newTelemetryCommand adds one cobra subcommand per entry of
// telemetrycli.Subcommands. Each passes its arguments to
// telemetrycli.Command.Run unparsed, because telemetrycli parses the
// subcommands' flags itself.
func newTelemetryCommand(client *telemetry.Client) *cobra.Command {
	cli := &telemetrycli.Command{Client: client, Name: appName + " telemetry", Sample: mux.AppStarted{}}
	runCLI := func(cmd *cobra.Command, args []string) error {
		cli.Stdout, cli.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
		err := cli.Run(cmd.Context(), args)
		if errors.Is(err, flag.ErrHelp) {
			return nil // the usage message was printed
		}
		return err
	}

	// An argument that names no subcommand reaches RunE, so telemetrycli
	// reports it with the list of subcommands. Without arguments, Run
	// runs "status".
	parent := &cobra.Command{
		Use:   "telemetry",
		Short: "See and control the usage telemetry this app sends",
		Args:  cobra.ArbitraryArgs,
		RunE:  runCLI,
	}
	for _, sub := range telemetrycli.Subcommands {
		parent.AddCommand(&cobra.Command{
			Use:                strings.TrimSpace(sub.Name + " " + sub.Args),
			Short:              sub.Summary,
			DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, args []string) error {
				return runCLI(cmd, append([]string{sub.Name}, args...))
			},
		})
	}
	return parent
}
