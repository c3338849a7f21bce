package clickhouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/candor-dev/candor/internal/store"
)

// maxErrorBytes is the maximum length of a server error message kept in a
// returned error. ClickHouse appends long stack traces to some messages.
const maxErrorBytes = 1000

// client sends SQL to ClickHouse's HTTP interface. Every request is a POST,
// because the server rejects statements that change data in a GET. The
// statement goes in the body, or in the "query" URL parameter when the body
// carries data.
type client struct {
	url      string // base URL without a query string, such as "http://127.0.0.1:8123/"
	user     string
	password string
	http     *http.Client

	// settings are sent with every statement, such as async_insert=0. A
	// parameter of the statement with the same name takes precedence.
	// Open sets them before the Store is shared, and nothing changes them.
	settings url.Values
}

// idleConnTimeout closes an idle connection to ClickHouse before the
// server does. The server closes a connection after keep_alive_timeout
// seconds without a request: 10 when its config leaves the setting out, 3
// in the config.xml of Debian's clickhouse-server package. A request sent
// as the server closes the connection fails, often with the response cut
// short.
const idleConnTimeout = 2 * time.Second

// newTransport returns the transport of a store whose Config has no
// HTTPClient.
func newTransport() *http.Transport {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.IdleConnTimeout = idleConnTimeout
	return transport
}

// externalTable is a table sent along with a query as ClickHouse "external
// data": the query can read it by name, for example in "x IN name".
type externalTable struct {
	name      string
	structure string // column list, such as "project String, uuid String"
	rows      []byte // TabSeparated rows
}

// exec runs a statement that returns no rows.
func (c *client) exec(ctx context.Context, query string) error {
	_, err := c.post(ctx, statementKind(query), url.Values{}, "", strings.NewReader(query))
	return err
}

// execExternal runs a statement that returns no rows and reads tables as
// external data.
func (c *client) execExternal(ctx context.Context, query string, tables ...externalTable) error {
	_, err := c.postExternal(ctx, url.Values{}, query, tables)
	return err
}

// insert runs "INSERT INTO table FORMAT JSONEachRow" with rows as its data.
// ClickHouse responds only after it has written the new part to disk,
// unless asynchronous inserts are on without waiting, which Open prevents.
func (c *client) insert(ctx context.Context, table string, rows []byte) error {
	params := url.Values{"query": {"INSERT INTO " + table + " FORMAT JSONEachRow"}}
	_, err := c.post(ctx, "INSERT", params, "", bytes.NewReader(rows))
	return withoutQuotedData(err)
}

// query runs a SELECT and returns its rows, each a slice of fields. The
// query must not name an output format: query adds FORMAT TabSeparated.
func (c *client) query(ctx context.Context, query string, tables ...externalTable) ([][]string, error) {
	// wait_end_of_query makes the server buffer the whole result, so an
	// error in the middle of a query arrives as an error status instead of
	// text appended to a 200 response.
	params := url.Values{"wait_end_of_query": {"1"}}
	query += "\nFORMAT TabSeparated"

	var body []byte
	var err error
	if len(tables) == 0 {
		body, err = c.post(ctx, statementKind(query), params, "", strings.NewReader(query))
	} else {
		body, err = c.postExternal(ctx, params, query, tables)
	}
	if err != nil {
		return nil, err
	}
	return parseTabSeparated(body), nil
}

// postExternal sends query in the URL and tables as multipart form files,
// which is how ClickHouse's HTTP interface takes external data.
func (c *client) postExternal(ctx context.Context, params url.Values, query string, tables []externalTable) ([]byte, error) {
	var form bytes.Buffer
	writer := multipart.NewWriter(&form)
	for _, table := range tables {
		params.Set(table.name+"_structure", table.structure)
		params.Set(table.name+"_format", "TabSeparated")
		part, err := writer.CreateFormFile(table.name, table.name+".tsv")
		if err != nil {
			return nil, err
		}
		part.Write(table.rows)
	}
	if err := writer.Close(); err != nil {
		return nil, err
	}
	params.Set("query", query)
	data, err := c.post(ctx, statementKind(query), params, writer.FormDataContentType(), &form)
	return data, withoutQuotedData(err)
}

// quotedDataMarkers start the parts of ClickHouse's parse errors that quote
// the data of a request: "before: " in 18.16, and "parsed text" and a new
// line before the rows of newer releases.
var quotedDataMarkers = []string{" before: ", "parsed text", "\n"}

// withoutQuotedData cuts the quoted data out of a server error of a request
// that carries rows, which contain install IDs, so that the error can be
// logged. Other errors are returned as they are.
func withoutQuotedData(err error) error {
	var se *serverError
	if !errors.As(err, &se) {
		return err
	}
	cut := len(se.message)
	for _, marker := range quotedDataMarkers {
		if i := strings.Index(se.message, marker); i >= 0 && i < cut {
			cut = i
		}
	}
	if cut < len(se.message) {
		se.message = se.message[:cut] + " [data left out]"
	}
	return err
}

// post sends one request and returns the response body, or an error that
// contains the server's message when the status is not 200 OK. kind is
// the statement's first keyword, such as SELECT, for the error.
func (c *client) post(ctx context.Context, kind string, params url.Values, contentType string, body io.Reader) ([]byte, error) {
	response, err := c.send(ctx, kind, params, contentType, body)
	if err != nil {
		return nil, err
	}
	defer response.Close()

	data, err := io.ReadAll(response)
	if err != nil {
		return nil, transportError(c.url, fmt.Errorf("read response from %s: %w", c.url, err))
	}
	return data, nil
}

// send sends one request and returns the response body for the caller to
// read and close, or an error that contains the server's message when the
// status is not 200 OK. kind is the statement's first keyword, such as
// SELECT, for the error.
func (c *client) send(ctx context.Context, kind string, params url.Values, contentType string, body io.Reader) (io.ReadCloser, error) {
	if len(c.settings) > 0 {
		params = withSettings(params, c.settings)
	}
	target := c.url
	if len(params) > 0 {
		target += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.user != "" || c.password != "" {
		req.SetBasicAuth(c.user, c.password)
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, transportError(c.url, c.withoutQuery(err, kind))
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("read response from %s: %w", c.url, err)
		}
		return nil, &serverError{status: resp.StatusCode, message: trimMessage(data)}
	}
	return resp.Body, nil
}

// withSettings returns a copy of params with the settings that params
// does not set.
func withSettings(params, settings url.Values) url.Values {
	merged := make(url.Values, len(params)+len(settings))
	for name, values := range settings {
		merged[name] = values
	}
	for name, values := range params {
		merged[name] = values
	}
	return merged
}

// withoutQuery replaces the request URL in err, a *url.Error of http.Client,
// by the base URL and the statement's kind. The full URL can contain the
// whole SQL of the statement, which makes a log line hundreds of
// characters long and can contain the literals of its conditions.
func (c *client) withoutQuery(err error, kind string) error {
	var urlErr *url.Error
	if !errors.As(err, &urlErr) {
		return err
	}
	return &url.Error{Op: "send " + kind + " statement to", URL: c.url, Err: urlErr.Err}
}

// statementKind returns the first keyword of a SQL statement in upper
// case, such as SELECT or ALTER, or "SQL" for an empty statement.
func statementKind(statement string) string {
	statement = strings.TrimLeftFunc(statement, unicode.IsSpace)
	if end := strings.IndexFunc(statement, unicode.IsSpace); end >= 0 {
		statement = statement[:end]
	}
	if statement == "" {
		return "SQL"
	}
	return strings.ToUpper(statement)
}

// ping checks that the server responds 200 OK to GET /ping.
func (c *client) ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"ping", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(c.url, err)
	}
	defer resp.Body.Close()

	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	if resp.StatusCode != http.StatusOK {
		return &serverError{status: resp.StatusCode, message: trimMessage(data)}
	}
	return nil
}

// serverError is an error status from ClickHouse with the message of its
// body, such as "Code: 60, e.displayText() = DB::Exception: Table ... doesn't exist".
// A parse error of a request with rows quotes the data after the value
// that failed, so withoutQuotedData cuts it out.
type serverError struct {
	status  int
	message string
}

func (e *serverError) Error() string {
	return fmt.Sprintf("clickhouse returned %d %s: %s", e.status, http.StatusText(e.status), e.message)
}

// accessErrorCodes are ClickHouse's error codes for a user that is unknown,
// has a wrong password or lacks a right: READONLY, UNKNOWN_USER,
// WRONG_PASSWORD, REQUIRED_PASSWORD, DATABASE_ACCESS_DENIED,
// ACCESS_DENIED and AUTHENTICATION_FAILED.
var accessErrorCodes = []string{"164", "192", "193", "194", "291", "497", "516"}

// isAccessError reports whether err is a ClickHouse error about the user's
// identity or rights.
func isAccessError(err error) bool {
	return slices.Contains(accessErrorCodes, errorCode(err))
}

// errorCode returns the ClickHouse error code at the start of the message
// of a serverError in err, such as "60", or "" when there is none.
func errorCode(err error) string {
	var se *serverError
	if !errors.As(err, &se) {
		return ""
	}
	code, ok := strings.CutPrefix(se.message, "Code: ")
	if !ok {
		return ""
	}
	end := strings.IndexFunc(code, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(code)
	}
	return code[:end]
}

func trimMessage(data []byte) string {
	message := strings.TrimSpace(string(data))
	if len(message) > maxErrorBytes {
		message = message[:maxErrorBytes] + "..."
	}
	return message
}

// transportError returns the error of a request that got no complete
// response. A refused or broken connection is a failure of the server, so
// the result matches store.ErrUnavailable. A timeout or an ended context
// stays unmarked, because it may come from a slow query as well. A refused
// connection, the usual error when no server runs at the configured URL,
// also gets the likely fix.
func transportError(base string, err error) error {
	var netErr net.Error
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &netErr) && netErr.Timeout()) {
		return err
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		err = fmt.Errorf("no ClickHouse server listens at %s, so start clickhouse-server there or correct the URL: %w", base, err)
	}
	return store.Unavailable(err)
}

// quoteString returns s as a ClickHouse string literal.
func quoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// quoteStrings returns values as a comma-separated list of literals.
func quoteStrings(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = quoteString(v)
	}
	return strings.Join(quoted, ", ")
}

// appendTabSeparated appends s as one field of a TabSeparated row.
func appendTabSeparated(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '\t':
			b = append(b, `\t`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case 0:
			b = append(b, `\0`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// parseTabSeparated splits a TabSeparated result into rows of unescaped
// fields. An escaped newline or tab never ends a row or field, because
// ClickHouse writes them as the two characters `\n` and `\t`. An empty line
// (the separator before a WITH TOTALS row) becomes a row without fields.
func parseTabSeparated(data []byte) [][]string {
	text := strings.TrimSuffix(string(data), "\n")
	if text == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	rows := make([][]string, len(lines))
	for i, line := range lines {
		if line == "" {
			continue
		}
		fields := strings.Split(line, "\t")
		for j, field := range fields {
			fields[j] = unescapeTabSeparated(field)
		}
		rows[i] = fields
	}
	return rows
}

// unescapeTabSeparated reverses ClickHouse's escaping of a TabSeparated
// field: a backslash before a, b, f, r, n, t, v or 0 stands for that
// control character, and before any other character for the character
// itself.
func unescapeTabSeparated(field string) string {
	if !strings.Contains(field, `\`) {
		return field
	}
	var b strings.Builder
	b.Grow(len(field))
	for i := 0; i < len(field); i++ {
		c := field[i]
		if c != '\\' || i+1 == len(field) {
			b.WriteByte(c)
			continue
		}
		i++
		switch next := field[i]; next {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '0':
			b.WriteByte(0)
		default:
			b.WriteByte(next)
		}
	}
	return b.String()
}
