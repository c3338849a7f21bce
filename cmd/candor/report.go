package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

const reportSynopsis = `--server URL --token TOKEN [--project NAME] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--format table|json]

Print a collector's overview in the terminal: the event and install totals,
the count of each event, and the top versions and platforms, of one
--project or of all projects together. It needs a running candor serve at
--server and its admin token, and reads GET /api/v1/overview, so counts
from fewer installs than the collector's --k-anonymity show as "< k".
--from and --to are UTC dates, both included; without them the overview
covers every stored event.

  candor report --server http://127.0.0.1:8787 --token cadm_... --from 2026-11-01 --to 2026-11-30`

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", reportSynopsis, stderr)
	serverURL := fs.String("server", "", "collector base URL, such as http://127.0.0.1:8787 (required)")
	token := fs.String("token", "", "admin token (required)")
	project := fs.String("project", "", "`name` of the project to report on, such as mux or a --project of candor serve\n"+
		"(default: the events of all projects together)")
	from := fs.String("from", "", "first day, YYYY-MM-DD in UTC (default: all time)")
	to := fs.String("to", "", "last day, YYYY-MM-DD in UTC, inclusive (default: all time)")
	format := fs.String("format", "table", "output format: table or json")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *serverURL == "" {
		fs.Usage()
		return usageErrorf("missing --server: pass the collector's base URL, such as http://127.0.0.1:8787")
	}
	if *token == "" {
		fs.Usage()
		return usageErrorf("missing --token: pass the admin token that candor serve printed or kept in the data folder's keys.json")
	}
	if err := checkBaseURL("server", *serverURL); err != nil {
		return asUsageError(err)
	}
	if *format != "table" && *format != "json" {
		return usageErrorf("invalid --format %q: use table or json", *format)
	}

	projectSet := false
	fs.Visit(func(f *flag.Flag) { projectSet = projectSet || f.Name == "project" })
	if projectSet && *project == "" {
		return usageErrorf(`invalid --project "": name a project, such as mux, or leave the flag out for all projects`)
	}

	query := url.Values{}
	if *project != "" {
		query.Set("project", *project)
	}
	days := map[string]time.Time{}
	for _, day := range []struct{ flag, value string }{{"from", *from}, {"to", *to}} {
		if day.value == "" {
			continue
		}
		parsed, err := time.Parse("2006-01-02", day.value)
		if err != nil {
			return usageErrorf("invalid --%s %q: use a UTC date as YYYY-MM-DD", day.flag, day.value)
		}
		days[day.flag] = parsed
		query.Set(day.flag, day.value)
	}
	if first, last := days["from"], days["to"]; !first.IsZero() && !last.IsZero() && first.After(last) {
		return usageErrorf("invalid --from %q after --to %q: pass a --from on or before --to, or swap the two dates", *from, *to)
	}
	endpoint := strings.TrimRight(*serverURL, "/") + "/api/v1/overview"
	if len(query) > 0 {
		endpoint += "?" + query.Encode()
	}
	body, err := getJSON(ctx, endpoint, *token)
	if err != nil {
		return err
	}
	if *format == "json" {
		_, err := fmt.Fprintf(stdout, "%s\n", strings.TrimSpace(string(body)))
		return err
	}
	var ov overview
	if err := json.Unmarshal(body, &ov); err != nil {
		return fmt.Errorf("decode overview from %s: %w", endpoint, err)
	}
	return printOverview(stdout, cmp.Or(*project, "all"), ov)
}

// checkBaseURL rejects a value of the URL flag --name without an http or
// https scheme and a host, or with a query, fragment or user info. Without
// this check "127.0.0.1:8787" fails with a URL parse error,
// "localhost:8787" parses as scheme "localhost", and the API path appended
// to "http://127.0.0.1:8787?x=1" lands in the query.
func checkBaseURL(name, value string) error {
	parsed, err := url.Parse(value)
	if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
		return fmt.Errorf("invalid --%s %q: use an http or https URL, such as http://127.0.0.1:8787", name, value)
	}
	if parsed.RawQuery != "" || parsed.ForceQuery || parsed.Fragment != "" || strings.Contains(value, "#") || parsed.User != nil {
		redactedValue := value
		if parsed.User != nil {
			redactedValue = parsed.Redacted() // the error may reach a shared log
		}
		base := url.URL{Scheme: parsed.Scheme, Host: parsed.Host, Path: parsed.Path}
		return fmt.Errorf("invalid --%s %q: remove the query, fragment and user info, such as %q", name, redactedValue, base.String())
	}
	return nil
}

// overview is the JSON body of the collector's /api/v1/overview. The
// collector leaves out the counts built from fewer installs than its
// k-anonymity threshold: the totals are then absent, suppressed events are
// listed by name only, and suppressed version and platform rows have no
// counts.
type overview struct {
	K                int              `json:"k_anonymity"`
	TotalEvents      *int64           `json:"total_events"`
	Installs         *int64           `json:"installs"`
	Events           map[string]int64 `json:"events"`
	SuppressedEvents []string         `json:"suppressed_events"`
	Versions         []keyCount       `json:"top_versions"`
	Platforms        []keyCount       `json:"top_platforms"`
}

type keyCount struct {
	Key      string `json:"key"`
	Events   *int64 `json:"events"`
	Installs *int64 `json:"installs"`
}

func getJSON(ctx context.Context, endpoint, token string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, fmt.Errorf("invalid --server: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w: check that candor serve is running at --server", endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", endpoint, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return body, nil
	case http.StatusUnauthorized:
		return nil, fmt.Errorf("query %s: 401 unauthorized: check --token", endpoint)
	}
	if message, ok := errorMessage(body); ok {
		return nil, fmt.Errorf("query %s: %s: %s", endpoint, resp.Status, message)
	}
	// A 404 without the collector's JSON error body comes from a path that
	// the collector does not serve.
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("query %s: %s: check --server: pass the collector's base URL without a path, such as http://127.0.0.1:8787",
			endpoint, resp.Status)
	}
	return nil, fmt.Errorf("query %s: %s: %s", endpoint, resp.Status, strings.TrimSpace(string(body)))
}

// errorMessage returns the message of a collector's JSON error body, such
// as {"error": "unknown project ..."}. ok is false for any other body.
func errorMessage(body []byte) (message string, ok bool) {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return "", false
	}
	return e.Error, true
}

// printOverview prints the project, the totals, the events per name and
// the top versions and platforms. A suppressed count prints as "< k".
func printOverview(w io.Writer, project string, ov overview) error {
	hidden := fmt.Sprintf("< %d", ov.K)
	show := func(n *int64) string {
		if n == nil {
			return hidden
		}
		return fmt.Sprint(*n)
	}

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "project\t%s\n", project)
	fmt.Fprintf(tw, "total_events\t%s\n", show(ov.TotalEvents))
	fmt.Fprintf(tw, "installs\t%s\n", show(ov.Installs))

	// Events with the most events come first, then the suppressed ones,
	// whose counts are unknown.
	fmt.Fprintf(tw, "\nevent\tcount\n")
	names := slices.Collect(maps.Keys(ov.Events))
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(ov.Events[b], ov.Events[a]), strings.Compare(a, b))
	})
	for _, name := range names {
		fmt.Fprintf(tw, "%s\t%d\n", name, ov.Events[name])
	}
	for _, name := range slices.Sorted(slices.Values(ov.SuppressedEvents)) {
		fmt.Fprintf(tw, "%s\t%s\n", name, hidden)
	}

	fmt.Fprintf(tw, "\nversion\tevents\tinstalls\n")
	for _, v := range ov.Versions {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Key, show(v.Events), show(v.Installs))
	}
	fmt.Fprintf(tw, "\nplatform\tevents\tinstalls\n")
	for _, p := range ov.Platforms {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Key, show(p.Events), show(p.Installs))
	}
	return tw.Flush()
}
