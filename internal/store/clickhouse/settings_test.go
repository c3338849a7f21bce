package clickhouse

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// asyncInsertSettings are the settings that make ClickHouse acknowledge an
// INSERT before it writes the rows, as a settings profile may set them.
var asyncInsertSettings = map[string]string{"async_insert": "1", "wait_for_async_insert": "0"}

// requireAsyncInsert skips the test on a server without asynchronous
// inserts, such as ClickHouse 18.16, which rejects the settings.
func requireAsyncInsert(t *testing.T) {
	t.Helper()
	admin, closeAdmin := newAdmin(serverURL(t))
	defer closeAdmin()
	rows, err := admin.query(t.Context(), `SELECT count() FROM system.settings WHERE name = 'async_insert'`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || len(rows[0]) != 1 || rows[0][0] != "1" {
		t.Skip("the server has no async_insert setting (ClickHouse before 21.11)")
	}
}

// profileClient returns an HTTP client that adds settings to every request
// that does not set them, as a settings profile of the server's user would.
func profileClient(t *testing.T, settings map[string]string) *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(transport.CloseIdleConnections)
	var base http.RoundTripper = transport
	for name, value := range settings {
		base = settingTransport{base: base, name: name, value: value}
	}
	return &http.Client{Transport: base}
}

// effectiveSetting returns the value of a setting that the server applies
// to the Store's own statements.
func effectiveSetting(t *testing.T, s *Store, name string) string {
	t.Helper()
	rows, err := s.client.query(t.Context(), `SELECT value FROM system.settings WHERE name = `+quoteString(name))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("setting %s: unexpected rows %q", name, rows)
	}
	return rows[0][0]
}

// TestInsertsSynchronousUnderAsyncProfile opens a Store for a user whose
// profile turns on asynchronous inserts without waiting for them.
func TestInsertsSynchronousUnderAsyncProfile(t *testing.T) {
	requireAsyncInsert(t)
	s := openTest(t, newDatabase(t), Config{HTTPClient: profileClient(t, asyncInsertSettings)})

	if got := effectiveSetting(t, s, "async_insert"); got != "0" {
		t.Errorf("async_insert of the Store's statements = %q, want 0", got)
	}
	if n, err := s.Insert(t.Context(), testEvents(0, 10)); err != nil || n != 10 {
		t.Fatalf("Insert = %d, %v; want 10, nil", n, err)
	}
	if got := mustOverview(t, s, store.Filter{}).TotalEvents; got != 10 {
		t.Errorf("events right after Insert = %d, want 10", got)
	}
}

// emulatedProfileTransport returns the values of profile, and the
// server's mutations_sync, for the Store's read of system.settings. It
// records and removes the async insert settings of the other requests
// before they reach the server. So a server without these settings, such
// as ClickHouse 18.16, can stand in for one whose user profile sets them.
type emulatedProfileTransport struct {
	base    http.RoundTripper
	profile map[string]string

	mu     sync.Mutex
	insert []string // async_insert parameter of each INSERT, or "" when absent
}

func (e *emulatedProfileTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/ping") {
		return e.base.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	query := r.URL.Query()
	statement := query.Get("query") + string(body)
	if strings.Contains(statement, "FROM system.settings") && strings.Contains(statement, "async_insert") {
		return e.readSettings(r, body)
	}

	if statementKind(statement) == "INSERT" {
		e.mu.Lock()
		e.insert = append(e.insert, query.Get("async_insert"))
		e.mu.Unlock()
	}
	query.Del("async_insert")
	query.Del("wait_for_async_insert")
	forwarded := r.Clone(r.Context())
	forwarded.URL.RawQuery = query.Encode()
	forwarded.Body = io.NopCloser(bytes.NewReader(body))
	forwarded.ContentLength = int64(len(body))
	return e.base.RoundTrip(forwarded)
}

// readSettings runs the Store's read of system.settings on the server and
// returns its mutations_sync row with the rows of profile.
func (e *emulatedProfileTransport) readSettings(r *http.Request, body []byte) (*http.Response, error) {
	forwarded := r.Clone(r.Context())
	forwarded.Body = io.NopCloser(bytes.NewReader(body))
	forwarded.ContentLength = int64(len(body))
	response, err := e.base.RoundTrip(forwarded)
	if err != nil {
		return nil, err
	}
	server, err := io.ReadAll(response.Body)
	response.Body.Close()
	if err != nil {
		return nil, err
	}

	var rows strings.Builder
	for line := range strings.Lines(string(server)) {
		if strings.HasPrefix(line, "mutations_sync\t") {
			rows.WriteString(line)
		}
	}
	for name, value := range e.profile {
		rows.WriteString(name + "\t" + value + "\n")
	}
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(strings.NewReader(rows.String())), Request: r}, nil
}

// TestInsertsCarryAsyncInsertOff checks on any server that every INSERT of
// a Store sends async_insert = 0 when the user's profile turns
// asynchronous inserts on without waiting for them.
func TestInsertsCarryAsyncInsertOff(t *testing.T) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	emulated := &emulatedProfileTransport{base: transport, profile: asyncInsertSettings}
	s := openTest(t, newDatabase(t), Config{HTTPClient: &http.Client{Transport: emulated}})

	if n, err := s.Insert(t.Context(), testEvents(0, 10)); err != nil || n != 10 {
		t.Fatalf("Insert = %d, %v; want 10, nil", n, err)
	}
	if err := s.RegisterInstallSecret(t.Context(), "mux", "install-1", "hash-1", time.Time{}); err != nil {
		t.Fatal(err)
	}

	emulated.mu.Lock()
	defer emulated.mu.Unlock()
	if len(emulated.insert) < 3 {
		t.Fatalf("the Store sent %d INSERTs, want at least 3 (schema version, events, deletion key)", len(emulated.insert))
	}
	for i, value := range emulated.insert {
		if value != "0" {
			t.Errorf("INSERT %d of %d has async_insert %q, want 0", i+1, len(emulated.insert), value)
		}
	}
}

// TestInsertsKeepSettingsOnOldServer checks that a Store sends no async
// insert setting to a server that lacks the settings.
func TestInsertsKeepSettingsOnOldServer(t *testing.T) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	emulated := &emulatedProfileTransport{base: transport, profile: map[string]string{}}
	s := openTest(t, newDatabase(t), Config{HTTPClient: &http.Client{Transport: emulated}})

	if n, err := s.Insert(t.Context(), testEvents(0, 10)); err != nil || n != 10 {
		t.Fatalf("Insert = %d, %v; want 10, nil", n, err)
	}

	emulated.mu.Lock()
	defer emulated.mu.Unlock()
	for i, value := range emulated.insert {
		if value != "" {
			t.Errorf("INSERT %d of %d has async_insert %q, want none", i+1, len(emulated.insert), value)
		}
	}
}

// constraintMessage returns an error message in the form of ClickHouse's
// SETTING_CONSTRAINT_VIOLATION, the error for a setting that a constraint
// of the user's profile makes read-only.
func constraintMessage(name string) string {
	return "Code: 452. DB::Exception: Setting " + name + " should not be changed. (SETTING_CONSTRAINT_VIOLATION)"
}

// TestOpenRejectsLockedAsyncInsert opens a Store for a user whose profile
// turns on asynchronous inserts without waiting for them and forbids
// changing async_insert. Open must fail with the fix rather than accept
// events that ClickHouse has not written yet.
func TestOpenRejectsLockedAsyncInsert(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.URL.Path == "/ping":
			w.Write([]byte("Ok.\n"))
		case r.URL.Query().Has("async_insert"):
			http.Error(w, constraintMessage("async_insert"), http.StatusInternalServerError)
		case strings.Contains(string(body), "system.settings"):
			w.Write([]byte("mutations_sync\t1\nasync_insert\t1\nwait_for_async_insert\t0\n"))
		default:
			http.Error(w, "Code: 62. DB::Exception: the test server runs no other statement. (SYNTAX_ERROR)", http.StatusBadRequest)
		}
	}))
	defer server.Close()

	_, err := Open(context.Background(), Config{URL: server.URL, User: "writer"})
	if err == nil {
		t.Fatal("Open succeeded for a user whose profile locks async_insert = 1 with wait_for_async_insert = 0")
	}
	for _, want := range []string{"SETTING_CONSTRAINT_VIOLATION", "user writer", "async_insert = 1", "wait_for_async_insert = 0", "wait_for_async_insert = 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open error %q does not contain %q", err, want)
		}
	}
}

// rejectSettingTransport fails every request that sets name, as a
// constraint of the user's profile that makes the setting read-only does.
type rejectSettingTransport struct {
	base http.RoundTripper
	name string
}

func (r rejectSettingTransport) RoundTrip(request *http.Request) (*http.Response, error) {
	if !request.URL.Query().Has(r.name) {
		return r.base.RoundTrip(request)
	}
	if request.Body != nil {
		request.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusInternalServerError, Status: "500 Internal Server Error",
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(constraintMessage(r.name))), Request: request}, nil
}

// TestOpenAcceptsLockedWaitingAsyncInsert opens a Store for a user whose
// profile locks async_insert = 1 but waits for each insert, which is
// durable, so the Store works without its own setting.
func TestOpenAcceptsLockedWaitingAsyncInsert(t *testing.T) {
	requireAsyncInsert(t)
	client := profileClient(t, map[string]string{"async_insert": "1", "wait_for_async_insert": "1"})
	client.Transport = rejectSettingTransport{base: client.Transport, name: "async_insert"}
	s := openTest(t, newDatabase(t), Config{HTTPClient: client})

	if n, err := s.Insert(t.Context(), testEvents(0, 10)); err != nil || n != 10 {
		t.Fatalf("Insert = %d, %v; want 10, nil", n, err)
	}
	if got := mustOverview(t, s, store.Filter{}).TotalEvents; got != 10 {
		t.Errorf("events right after Insert = %d, want 10", got)
	}
}
