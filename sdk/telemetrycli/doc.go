// Package telemetrycli adds a "telemetry" command to an app's command line,
// so users can see and control what leaves their machine:
//
//	telemetry status           whether telemetry is on, every switch in order,
//	                           and this run's counts, with drops by reason and
//	                           broken values by event and property
//	telemetry show [-raw]      the exact next request the app would send
//	telemetry pending [-json]  the events waiting in memory and in the spool
//	telemetry enable           save the choice to send telemetry
//	telemetry disable          save the choice not to send telemetry
//	telemetry forget [-local]  delete the install ID, queue, spool and sent log,
//	                           and have the collector delete this install's events
//
// With the standard flag package, register the command before parsing and
// call the returned function with the positional arguments:
//
//	fs := flag.NewFlagSet("mux", flag.ExitOnError)
//	cmd := &telemetrycli.Command{Name: "mux telemetry", Sample: mux.AppStarted{}}
//	runTelemetry := telemetrycli.AddFlagCommand(fs, cmd)
//	fs.Parse(os.Args[1:])
//	cmd.Client = client // built after parsing, from the app's flags
//	if handled, err := runTelemetry(ctx, fs.Args()); handled {
//		...
//	}
//
// For an unknown subcommand or invalid flags, Run prints what is wrong and
// the usage message to Command.Stderr, then returns an error that wraps
// ErrUsage. An app that prints its errors can skip that one.
//
// With a command library such as cobra, add one subcommand per entry of
// Subcommands and pass its name and arguments to Command.Run;
// examples/cobraapp in the candor repository shows the wiring. The package
// itself uses the standard library only.
//
// The commands print plain text for people. Their output is not a stable
// format for scripts, apart from "show -raw", which prints the request body
// byte for byte, and "pending -json", which prints one wire event per line.
package telemetrycli
