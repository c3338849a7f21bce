package clickhouse

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// queryEach runs a SELECT and calls row with the fields of each row while
// the response arrives, so a result larger than memory passes through. The
// query must not name an output format: queryEach adds FORMAT TabSeparated.
// The fields slice is reused between calls. An error from row stops the
// query and is returned as it is. settings, if not nil, holds query
// settings such as max_bytes_before_external_sort.
//
// wait_end_of_query makes the server finish the query before it sends the
// first row, keeping the result in memory and then in temporary files, so
// an error in the middle of a query arrives as an error status. Only then
// does row see any row.
func (c *client) queryEach(ctx context.Context, query string, settings url.Values, row func(fields []string) error) error {
	params := url.Values{"wait_end_of_query": {"1"}}
	for name, values := range settings {
		params[name] = values
	}
	response, err := c.send(ctx, statementKind(query), params, "", strings.NewReader(query+"\nFORMAT TabSeparated"))
	if err != nil {
		return err
	}
	defer response.Close()

	reader := bufio.NewReaderSize(response, 64<<10)
	var fields []string
	for {
		line, err := reader.ReadString('\n')
		if errors.Is(err, io.EOF) && line == "" {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read response from %s: %w", c.url, err)
		}

		fields = fields[:0]
		for field := range strings.SplitSeq(strings.TrimSuffix(line, "\n"), "\t") {
			fields = append(fields, unescapeTabSeparated(field))
		}
		if err := row(fields); err != nil {
			return err
		}
	}
}
