package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", "--server URL --token TOKEN [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--format table|json]", stderr)
	serverURL := fs.String("server", "", "collector base URL, such as http://127.0.0.1:8787 (required)")
	token := fs.String("token", "", "admin token (required)")
	from := fs.String("from", "", "first day, YYYY-MM-DD in UTC (default: all time)")
	to := fs.String("to", "", "last day, YYYY-MM-DD in UTC, inclusive (default: all time)")
	format := fs.String("format", "table", "output format: table or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *serverURL == "" || *token == "" {
		fs.Usage()
		return errors.New("missing --server or --token")
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("invalid --format %q: use table or json", *format)
	}

	query := url.Values{}
	if *from != "" {
		query.Set("from", *from)
	}
	if *to != "" {
		query.Set("to", *to)
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
	var ov store.Overview
	if err := json.Unmarshal(body, &ov); err != nil {
		return fmt.Errorf("decode overview from %s: %w", endpoint, err)
	}
	return printOverview(stdout, ov)
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
		return nil, fmt.Errorf("query %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", endpoint, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("query %s: 401 unauthorized: check --token", endpoint)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("query %s: %s: %s", endpoint, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

func printOverview(w io.Writer, ov store.Overview) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "total_events\t%d\n", ov.TotalEvents)
	fmt.Fprintf(tw, "installs\t%d\n", ov.Installs)

	fmt.Fprintf(tw, "\nevent\tcount\n")
	names := make([]string, 0, len(ov.Events))
	for name := range ov.Events {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		if ov.Events[names[i]] != ov.Events[names[j]] {
			return ov.Events[names[i]] > ov.Events[names[j]]
		}
		return names[i] < names[j]
	})
	for _, name := range names {
		fmt.Fprintf(tw, "%s\t%d\n", name, ov.Events[name])
	}

	fmt.Fprintf(tw, "\nversion\tevents\tinstalls\n")
	for _, v := range ov.Versions {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", v.Key, v.Events, v.Installs)
	}
	fmt.Fprintf(tw, "\nplatform\tevents\tinstalls\n")
	for _, p := range ov.Platforms {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", p.Key, p.Events, p.Installs)
	}
	return tw.Flush()
}
