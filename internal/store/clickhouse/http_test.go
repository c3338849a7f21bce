package clickhouse

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
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

func TestRefusedConnectionIsUnavailable(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	address := listener.Addr().String()
	listener.Close()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	defer transport.CloseIdleConnections()
	c := &client{url: "http://" + address + "/", http: &http.Client{Transport: transport}}

	_, err = c.query(context.Background(), "SELECT 1")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("query with no server listening: error %v, want one that matches store.ErrUnavailable", err)
	}
	if err := c.ping(context.Background()); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("ping with no server listening: error %v, want one that matches store.ErrUnavailable", err)
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
