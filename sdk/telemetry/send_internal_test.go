package telemetry

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// lateReader is a transport that responds at once and reads the request
// body only later, as net/http's Transport may when a server responds
// before the body is written. It closes the body first, as net/http's
// Transport may while its writing goroutine still reads it.
type lateReader struct{ bodies []io.ReadCloser }

func (l *lateReader) RoundTrip(req *http.Request) (*http.Response, error) {
	req.Body.Close()
	l.bodies = append(l.bodies, req.Body)
	return &http.Response{
		StatusCode: http.StatusOK,
		Body:       io.NopCloser(strings.NewReader(`{"status":"Ok"}`)),
		Request:    req,
	}, nil
}

// TestUploadBodyNotReusedWhileRead uploads twice through a transport that
// has not read the first body yet: the first body must still hold the
// first batch.
func TestUploadBodyNotReusedWhileRead(t *testing.T) {
	transport := &lateReader{}
	u := newUploader("http://127.0.0.1:1", "phc_test", &http.Client{Transport: transport})
	first := &batch{events: [][]byte{[]byte(`{"event":"first"}`)}}
	second := &batch{events: [][]byte{[]byte(`{"event":"second"}`)}}
	for _, b := range []*batch{first, second} {
		if res := u.upload(context.Background(), b); res.outcome != outcomeSent {
			t.Fatalf("upload: outcome %d, %v", res.outcome, res.err)
		}
	}

	zr, err := gzip.NewReader(transport.bodies[0])
	if err != nil {
		t.Fatalf("first body: %v", err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("first body: %v", err)
	}
	if !bytes.Contains(data, []byte(`"first"`)) {
		t.Errorf("first body read after the second upload holds %s, want the first batch", data)
	}
}

// writeCounter counts the writes that reach it.
type writeCounter struct{ writes int }

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes++
	return len(p), nil
}

// TestUploadRequestOneWrite checks that an upload's request, headers and
// body, leaves the connection's buffer in one write.
func TestUploadRequestOneWrite(t *testing.T) {
	u := newUploader("http://127.0.0.1:1", "phc_test", nil)
	data := []byte(strings.Repeat("x", 4096))
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/batch/", u.newBody(data))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(data))

	counter := &writeCounter{}
	bw := bufio.NewWriterSize(counter, 32<<10)
	if err := writeRequest(bw, req); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if counter.writes != 1 {
		t.Errorf("request left in %d writes, want 1", counter.writes)
	}
	if created, written := u.bodiesMade.Load(), u.bodiesWritten.Load(); created != written {
		t.Errorf("%d request bodies created and %d written, want as many written", created, written)
	}
}

func TestCollectorErrorMessage(t *testing.T) {
	// The cut at maxCollectorError bytes falls inside a two-byte "é".
	long := "a" + strings.Repeat("é", maxCollectorError)
	tests := []struct {
		name, body, want string
	}{
		{"candor error", `{"status":401,"error":"write key is not known"}`, "write key is not known"},
		{"error object", `{"error":{"code":1}}`, ""},
		{"plain text", "404 page not found\n", ""},
		{"no message", `{"status":"Ok"}`, ""},
		{"long message", `{"error":"` + long + `"}`, long[:maxCollectorError-1] + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := collectorError([]byte(tt.body)); got != tt.want {
				t.Errorf("collectorError(%.40q) = %.40q, want %.40q", tt.body, got, tt.want)
			}
		})
	}
}
