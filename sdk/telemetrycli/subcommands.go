package telemetrycli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/candor-dev/candor/sdk/telemetry"
)

// runStatus prints the state, every switch in order and the counters.
func (c *Command) runStatus(args []string) error {
	if err := c.parse(c.flagSet("status"), args); err != nil {
		return err
	}
	out := c.stdout()
	st := c.Client.Status()
	switches := c.Client.Switches()

	if st.Enabled {
		fmt.Fprintln(out, "Telemetry is enabled.")
		fmt.Fprintf(out, "Install ID: %s\n", c.Client.InstallID())
	} else {
		fmt.Fprintf(out, "Telemetry is disabled by %s.\n", st.Switch)
	}
	if st.Debug != "" {
		fmt.Fprintf(out, "Debug mode: %s.\n", st.Debug)
	}
	// The switch table repeats the ignored opt-out values, but not an
	// ignored debug value, which belongs to no switch.
	for _, note := range st.Ignored {
		if !slices.Contains(st.Reasons, note) {
			fmt.Fprintf(out, "Note: %s.\n", note)
		}
	}

	fmt.Fprintln(out, "\nSwitches, in the order they are checked; the first that applies decides:")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for i, s := range switches {
		state := "does not apply"
		if s.Applies {
			state = "applies"
		}
		if s.Decides {
			state = "applies, decides"
		}
		fmt.Fprintf(tw, "  %d.\t%s\t%s\t%s\n", i+1, s.Name, state, s.Reason)
	}
	tw.Flush()

	stats := c.Client.Stats()
	fmt.Fprintf(out, "\nEvents waiting: %d in memory, %d in the spool. Events of this run: %d sent, %d dropped, %d ignored.\n",
		stats.Queued, stats.Spooled, stats.Sent, stats.Dropped, stats.Ignored)
	if len(stats.DroppedByReason) > 0 {
		fmt.Fprintf(out, "Dropped events by reason: %s.\n", countsByReason(stats.DroppedByReason))
	}
	if len(stats.Violations) > 0 {
		fmt.Fprintf(out, "Property values that broke their class, by reason: %s.\n", countsByReason(stats.Violations))
		fmt.Fprintln(out, "Property values that broke their class, by event and property:")
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		for _, key := range slices.Sorted(maps.Keys(stats.ViolationsByProperty)) {
			fmt.Fprintf(tw, "  %s\t%d\n", key, stats.ViolationsByProperty[key])
		}
		tw.Flush()
	}
	if stats.LogFailures > 0 {
		fmt.Fprintf(out, "Log records lost because the app's log handler panicked: %d.\n", stats.LogFailures)
	}
	if _, version, needs := c.Client.Notice(); needs {
		fmt.Fprintf(out, "The privacy notice of catalog %s has not been shown yet.\n", version)
	}
	return nil
}

// countsByReason formats counts as "reason count" pairs, sorted by
// reason and separated by commas.
func countsByReason(counts map[string]int64) string {
	parts := make([]string, 0, len(counts))
	for _, reason := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s %d", reason, counts[reason]))
	}
	return strings.Join(parts, ", ")
}

// runShow prints the next request body, indented, or with -raw as is.
func (c *Command) runShow(ctx context.Context, args []string) error {
	fs := c.flagSet("show")
	raw := fs.Bool("raw", false, "print the request body byte for byte instead of indented")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	p, err := c.Client.NextPayload(ctx, c.Sample)
	if err != nil {
		return err
	}
	out := c.stdout()
	if p.Events == 0 {
		fmt.Fprintln(out, "Nothing is waiting to be sent.")
		return nil
	}

	if *raw {
		_, err := out.Write(append(p.Body, '\n'))
		return err
	}
	switch {
	case p.Preview:
		fmt.Fprintf(out, "Telemetry is disabled by %s, so nothing is sent. If it were enabled, a request with this sample event would be:\n",
			c.Client.Status().Switch)
	case p.Source == telemetry.PayloadSample:
		fmt.Fprintln(out, "Nothing is waiting to be sent. A request with this sample event would be:")
	case p.Source == telemetry.PayloadSpool:
		fmt.Fprintf(out, "The next request carries %d %s from the spool:\n", p.Events, plural(p.Events, "event", "events"))
	default:
		fmt.Fprintf(out, "The next request carries %d %s waiting in memory:\n", p.Events, plural(p.Events, "event", "events"))
	}
	fmt.Fprintf(out, "POST %s (gzip-compressed)\n", p.URL)
	var indented bytes.Buffer
	if err := json.Indent(&indented, p.Body, "", "  "); err != nil {
		return fmt.Errorf("indent request body: %w", err)
	}
	indented.WriteByte('\n')
	_, err = out.Write(indented.Bytes())
	if p.Preview {
		fmt.Fprintf(out, "Where the install ID or the deletion secret does not exist yet, %s and %s stand in for them.\n",
			telemetry.PreviewInstallID, telemetry.PreviewDeletionKeyHash)
	}
	return err
}

// runPending prints the counts and one line per waiting event, or with
// -json the wire events, one per line.
func (c *Command) runPending(ctx context.Context, args []string) error {
	fs := c.flagSet("pending")
	asJSON := fs.Bool("json", false, "print each waiting event's JSON, one per line")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	events, err := c.Client.Pending(ctx)
	if err != nil && events == nil {
		return err
	}
	out := c.stdout()
	if *asJSON {
		for _, ev := range events {
			fmt.Fprintf(out, "%s\n", ev.JSON)
		}
		return err
	}

	var memory, spool int
	for _, ev := range events {
		if ev.Location == telemetry.PendingSpool {
			spool++
		} else {
			memory++
		}
	}
	fmt.Fprintf(out, "%d %s waiting: %d in memory, %d in the spool.\n", len(events), plural(len(events), "event", "events"), memory, spool)
	if len(events) > 0 {
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "LOCATION\tEVENT\tTIMESTAMP\tUUID")
		for _, ev := range events {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ev.Location, ev.Name, ev.Timestamp, ev.UUID)
		}
		tw.Flush()
	}
	return err
}

// runChoice saves the user's choice and reports whether another switch
// still decides.
func (c *Command) runChoice(args []string, enabled bool) error {
	sub := "disable"
	if enabled {
		sub = "enable"
	}
	if err := c.parse(c.flagSet(sub), args); err != nil {
		return err
	}
	if err := c.Client.SetEnabled(enabled); err != nil {
		return err
	}
	out := c.stdout()
	st := c.Client.Status()
	fmt.Fprintf(out, "Saved telemetryEnabled: %v in %s.\n", enabled, telemetry.ConfigFile)
	switch {
	case enabled && st.Enabled:
		fmt.Fprintln(out, "Telemetry is enabled.")
	case enabled:
		fmt.Fprintf(out, "Telemetry stays disabled by %s. Run \"%s status\" for every switch.\n", st.Switch, c.name())
	default:
		fmt.Fprintln(out, "Telemetry is disabled. Events waiting in memory and in the spool were deleted.")
		fmt.Fprintf(out, "Events already sent stay on the collector. To delete them, run \"%s enable\", \"%s forget\", then \"%s disable\".\n",
			c.name(), c.name(), c.name())
	}
	return nil
}

// runForget deletes the local data and, while enabled, the collector's.
func (c *Command) runForget(ctx context.Context, args []string) error {
	fs := c.flagSet("forget")
	local := fs.Bool("local", false, "delete the local data only and make no connection")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	res, err := c.Client.Forget(ctx, telemetry.ForgetOptions{LocalOnly: *local})
	if errors.Is(err, telemetry.ErrForgetNeedsConnection) {
		return fmt.Errorf("%w\nTo delete the events on the collector too, run \"%s enable\" and \"%s forget\" (and \"%s disable\" afterwards). "+
			"To delete only the local data, run \"%s forget -local\"", err, c.name(), c.name(), c.name(), c.name())
	}
	if err != nil {
		return err
	}

	out := c.stdout()
	if res.InstallID != "" {
		fmt.Fprintf(out, "Forgot install %s.\n", res.InstallID)
	} else {
		fmt.Fprintln(out, "No install ID was stored.")
	}
	fmt.Fprintf(out, "Deleted %d events waiting in memory and %d in the spool, and the sent log if there was one.\n",
		res.DroppedQueued, res.DroppedSpooled)
	switch {
	case res.RemoteAsked && res.RemoteNote == "":
		fmt.Fprintf(out, "The collector deleted %d %s of this install.\n", res.RemoteDeleted, plural(int(res.RemoteDeleted), "event", "events"))
	default:
		fmt.Fprintf(out, "Collector: %s.\n", res.RemoteNote)
	}
	if st := c.Client.Status(); st.Enabled {
		fmt.Fprintf(out, "Telemetry is still enabled, so new events go out under the new install ID %s. Run \"%s disable\" to stop sending.\n",
			c.Client.InstallID(), c.name())
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
