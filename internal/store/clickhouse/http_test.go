package clickhouse

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/internal/store"
)

func TestParseTabSeparated(t *testing.T) {
	tests := []struct {
		name string
		body string
		want [][]string
	}{
		{"empty", "", nil},
		{"one row", "a\t1\n", [][]string{{"a", "1"}}},
		{"escapes", `tab\there	new\nline	back\\slash	quote\'	nul\0	bell\a` + "\n", [][]string{{"tab\there", "new\nline", `back\slash`, "quote'", "nul\x00", "bell\a"}}},
		{"totals", "e1\t1\t1\n\n\t1\t1\n", [][]string{{"e1", "1", "1"}, nil, {"", "1", "1"}}},
		{"empty field", "\t\n", [][]string{{"", ""}}},
		{"trailing backslash", "a\\\n", [][]string{{`a\`}}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			if d := cmp.Diff(test.want, parseTabSeparated([]byte(test.body))); d != "" {
				t.Errorf("parseTabSeparated(%q) (-want +got):\n%s", test.body, d)
			}
		})
	}
}

func TestQuoteString(t *testing.T) {
	tests := map[string]string{
		"":           `''`,
		"plain":      `'plain'`,
		"it's":       `'it\'s'`,
		`back\slash`: `'back\\slash'`,
		"nul\x00":    `'nul\0'`,
		"new\nline":  "'new\nline'",
	}
	for in, want := range tests {
		if got := quoteString(in); got != want {
			t.Errorf("quoteString(%q) = %s, want %s", in, got, want)
		}
	}
}

// FuzzTabSeparatedRoundTrip checks that fields written with
// appendTabSeparated come back unchanged from parseTabSeparated.
func FuzzTabSeparatedRoundTrip(f *testing.F) {
	f.Add("plain", "tab\tnew\nline")
	f.Add(`back\slash`, "nul\x00\r")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, first, second string) {
		var row []byte
		row = appendTabSeparated(row, first)
		row = append(row, '\t')
		row = appendTabSeparated(row, second)
		row = append(row, '\n')

		got := parseTabSeparated(row)
		want := [][]string{{first, second}}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("round trip of %q (-want +got):\n%s", strings.TrimSuffix(string(row), "\n"), d)
		}
	})
}

// refusingClient returns a client of a loopback address where no server
// listens, and that address's URL.
func refusingClient(t *testing.T) (*client, string) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	url := "http://" + listener.Addr().String() + "/"
	listener.Close()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	return &client{url: url, http: &http.Client{Transport: transport}}, url
}

func TestRefusedConnectionIsUnavailable(t *testing.T) {
	c, _ := refusingClient(t)

	_, err := c.query(context.Background(), "SELECT 1")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("query with no server listening: error %v, want one that matches store.ErrUnavailable", err)
	}
	if err := c.ping(context.Background()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("ping with no server listening: error %v, want one that matches store.ErrUnavailable", err)
	}
}

// An operator's collector gets the refused connection in its log, so the
// error names the fix in terms of the server and the URL, not a script of
// this repository.
func TestRefusedConnectionNamesFix(t *testing.T) {
	c, url := refusingClient(t)

	err := c.ping(context.Background())
	if err == nil {
		t.Fatal("ping with no server listening: no error")
	}
	message := err.Error()
	if !strings.Contains(message, "no ClickHouse server listens at "+url) {
		t.Errorf("error %q does not say that no server listens at %s", message, url)
	}
	if !strings.Contains(message, "start clickhouse-server") {
		t.Errorf("error %q does not say to start clickhouse-server", message)
	}
	if strings.Contains(message, "scripts/") {
		t.Errorf("error %q names a script of the candor repository, which an operator's host does not have", message)
	}
}

// The URL of a statement sent in the query parameter contains its SQL, and
// the commit and query logs show the error, so the error names only the
// server and the kind of statement.
func TestRefusedConnectionLeavesSQLOut(t *testing.T) {
	c, url := refusingClient(t)

	const installID = "0b9f7c1e-3f4a-4c2b-9d8e-1a2b3c4d5e6f"
	tests := []struct {
		name string
		kind string
		call func() error
	}{
		{"query with external data", "SELECT", func() error {
			_, err := c.query(context.Background(),
				"SELECT uuid FROM candor.events WHERE distinct_id = '"+installID+"' AND (project, uuid) IN batch_keys",
				externalTable{name: "batch_keys", structure: "project String, uuid String", rows: []byte("mux\t" + installID + "\n")})
			return err
		}},
		{"insert", "INSERT", func() error {
			return c.insert(context.Background(), "candor.events", []byte(`{"distinct_id":"`+installID+`"}`))
		}},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			err := test.call()
			if err == nil {
				t.Fatal("no error with no server listening")
			}
			message := err.Error()
			for _, leaked := range []string{"candor.events", "query=", "batch_keys", installID} {
				if strings.Contains(message, leaked) {
					t.Errorf("error %q contains %q from the request URL", message, leaked)
				}
			}
			if !strings.Contains(message, url) {
				t.Errorf("error %q does not name the server %s", message, url)
			}
			if !strings.Contains(message, test.kind) {
				t.Errorf("error %q does not name the statement kind %s", message, test.kind)
			}
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("error %q does not match store.ErrUnavailable", message)
			}
		})
	}
}

func TestStatementKind(t *testing.T) {
	tests := map[string]string{
		"SELECT 1":                          "SELECT",
		"\n\tselect\ncount() FROM events":   "SELECT",
		"ALTER TABLE events DELETE WHERE 1": "ALTER",
		"INSERT":                            "INSERT",
		"  ":                                "SQL",
	}
	for statement, want := range tests {
		if got := statementKind(statement); got != want {
			t.Errorf("statementKind(%q) = %q, want %q", statement, got, want)
		}
	}
}

// A connection left idle for longer than idleConnTimeout is not used
// again, so the store never sends a request on a connection that the
// server closes at its keep-alive timeout.
func TestIdleConnectionNotReused(t *testing.T) {
	var connections atomic.Int32
	server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "1\n")
	}))
	server.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			connections.Add(1)
		}
	}
	server.Start()
	defer server.Close()
	transport := newTransport()
	defer transport.CloseIdleConnections()
	c := &client{url: server.URL + "/", http: &http.Client{Transport: transport}}

	for i := range 2 {
		if i > 0 {
			time.Sleep(idleConnTimeout + 500*time.Millisecond)
		}
		if _, err := c.query(context.Background(), "SELECT 1"); err != nil {
			t.Fatalf("query %d: %v", i+1, err)
		}
	}
	if got := connections.Load(); got != 2 {
		t.Errorf("two queries %s apart used %d connections, want 2", idleConnTimeout+500*time.Millisecond, got)
	}
}

// The parse error of a request with rows quotes those rows, with their
// install IDs. The error of insert and of a statement with external data
// leaves them out, so that it can be logged.
func TestParseErrorLeavesDataOut(t *testing.T) {
	const install = "0f8c8e0e-4c4e-4a8e-9c55-2d7e4f1c6b3a"
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `Code: 27, e.displayText() = DB::Exception: Cannot parse input: expected " before: `+install+`", e.what() = DB::Exception`+"\n")
	}))
	defer server.Close()
	c := &client{url: server.URL + "/", http: server.Client()}

	errs := map[string]error{
		"insert": c.insert(context.Background(), "events", []byte(`{"distinct_id":"`+install+`"}`)),
		"execExternal": c.execExternal(context.Background(), "INSERT INTO t SELECT * FROM ref",
			externalTable{name: "ref", structure: "distinct_id String", rows: []byte(install + "\n")}),
	}
	for name, err := range errs {
		if err == nil {
			t.Fatalf("%s: no error from a server that answers 500", name)
		}
		if strings.Contains(err.Error(), install) {
			t.Errorf("%s: error %q contains the install ID of the rows", name, err)
		}
		if !strings.Contains(err.Error(), "Cannot parse input") {
			t.Errorf("%s: error %q lost the server's message", name, err)
		}
	}
}

// A query whose context ends while the server is silent may be a slow
// query, so its error stays a context error without the unavailable mark.
func TestTimedOutQueryIsNotUnavailable(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer listener.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		conn, err := listener.Accept()
		if err == nil {
			accepted <- conn
		}
	}()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	c := &client{url: "http://" + listener.Addr().String() + "/", http: &http.Client{Transport: transport}}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.query(ctx, "SELECT 1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("query of a silent server: error %v, want context.DeadlineExceeded", err)
	}
	if errors.Is(err, store.ErrUnavailable) {
		t.Errorf("query of a silent server: error %v matches store.ErrUnavailable, want a plain timeout", err)
	}
	(<-accepted).Close()
}

// TestOpenNamesFixForAccessErrors checks that Open adds what to check when
// ClickHouse rejects the user, as a read-only or unknown user gets.
func TestOpenNamesFixForAccessErrors(t *testing.T) {
	tests := []struct {
		status  int
		message string
	}{
		{http.StatusInternalServerError, "Code: 164, e.displayText() = DB::Exception: Cannot execute query in readonly mode"},
		{http.StatusForbidden, "Code: 497. DB::Exception: reader: Not enough privileges. To execute this query, it's necessary to have the grant CREATE DATABASE ON candor.*"},
		{http.StatusUnauthorized, "Code: 516. DB::Exception: nobody: Authentication failed: password is incorrect, or there is no user with such name"},
		{http.StatusInternalServerError, "Code: 192, e.displayText() = DB::Exception: Unknown user nobody"},
	}
	for _, tc := range tests {
		server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/ping" {
				w.Write([]byte("Ok.\n"))
				return
			}
			http.Error(w, tc.message, tc.status)
		}))
		_, err := Open(context.Background(), Config{URL: server.URL, Database: "candor", User: "nobody"})
		server.Close()
		if err == nil {
			t.Fatalf("Open against a server that answers %q succeeded", tc.message)
		}
		for _, want := range []string{tc.message[:8], "user nobody", "CREATE DATABASE"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Open error %q does not contain %q", err, want)
			}
		}
	}
}
