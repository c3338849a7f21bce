package collector

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/candor-dev/candor/sdk/catalog"
)

func TestTokenBucket(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newTokenBucket(10, 20, start)
	steps := []struct {
		at    time.Duration
		cost  int
		ok    bool
		retry time.Duration
	}{
		{0, 15, true, 0},                                  // 5 left
		{0, 6, false, 100 * time.Millisecond},             // 1 more token needed
		{100 * time.Millisecond, 6, true, 0},              // 0 left
		{time.Second, 50, false, 1100 * time.Millisecond}, // 9 tokens; needs a full bucket
		{2100 * time.Millisecond, 50, true, 0},            // debt of 30
		{2100 * time.Millisecond, 1, false, 3100 * time.Millisecond},
		{10 * time.Second, 1, true, 0},  // refilled to 20, capped
		{10 * time.Second, 19, true, 0}, // 0 left
		{10 * time.Second, 1, false, 100 * time.Millisecond},
	}
	for i, s := range steps {
		ok, retry := b.take(s.cost, start.Add(s.at))
		if ok != s.ok || retry != s.retry {
			t.Errorf("step %d: take(%d) at %s = %v, %s; want %v, %s", i, s.cost, s.at, ok, retry, s.ok, s.retry)
		}
	}
}

// A rate so low that the wait for one token is beyond the maximum
// time.Duration still gets a positive wait, so the 429 carries a
// Retry-After header.
func TestTokenBucketTinyRate(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newTokenBucket(1e-12, 1, start)
	if ok, _ := b.take(1, start); !ok {
		t.Fatal("first take of a full bucket failed")
	}
	ok, retry := b.take(1, start)
	if ok {
		t.Fatal("second take of an empty bucket succeeded")
	}
	if retry != math.MaxInt64 {
		t.Errorf("retry after = %s, want the largest time.Duration", retry)
	}
}

func TestBudget(t *testing.T) {
	b := &budget{capacity: 100}
	if !b.acquire(150) {
		t.Error("an empty budget refused an amount over its capacity")
	}
	if b.acquire(1) {
		t.Error("a budget over its capacity granted more")
	}
	b.release(150)
	if !b.acquire(60) || !b.acquire(40) {
		t.Error("a budget refused amounts within its capacity")
	}
	if b.acquire(1) {
		t.Error("a full budget granted more")
	}
	r := &reservation{b: b}
	b.release(40)
	if !r.add(30) || !r.add(10) || r.add(1) {
		t.Error("reservation.add did not stop at the capacity")
	}
	r.releaseAll()
	if got := b.inUse(); got != 60 {
		t.Errorf("in use after releaseAll = %d, want 60", got)
	}
}

// TestDecodeExpansionEstimate measures the memory that one decoded request
// keeps alive while its events are checked, per byte of JSON, for Mux-like
// events. decodeExpansion must not be below it.
func TestDecodeExpansionEstimate(t *testing.T) {
	c := catalog.New("testapp")
	c.MustRegister(messageSent{}, "")
	p := &project{name: "mux", catalog: c}

	events := make([]string, 5000)
	for i := range events {
		events[i] = fmt.Sprintf(`{"event":"message_sent","distinct_id":"0b9f7c1e-3f4a-4c2b-9d8e-1a2b3c4d5e6f",`+
			`"uuid":"00000000-0000-4000-8000-%012d","timestamp":"2026-03-10T11:59:00Z","properties":{`+
			`"workspaceId":"0b9f7c1e-3f4a-4c2b-9d8e-1a2b3c4d5e6f","model":"anthropic/claude-sonnet-4-5",`+
			`"message_length_b2":300,"mode":"plan","version":"1.4.2","backend_platform":"linux",`+
			`"$lib":"posthog-go","$lib_version":"1.23.1","$geoip_disable":true}}`, i)
	}
	text := []byte(`{"api_key":"k","batch":[` + strings.Join(events, ",") + `]}`)

	peak, out := decodePeakHeap(t, p, text)
	if len(out.events) != len(events) || len(out.droppedProperties) != 0 {
		t.Fatalf("checked %d events, want %d; dropped %v and properties %v", len(out.events), len(events), out.dropped, out.droppedProperties)
	}
	ratio := float64(peak) / float64(len(text))
	t.Logf("%d bytes of JSON keep up to %d bytes alive while decoded and checked: %.2f per byte", len(text), peak, ratio)
	// The text itself is reserved too, so the factor covers ratio + 1.
	if ratio+1 > decodeExpansion {
		t.Errorf("decoding keeps %.2f bytes per byte of JSON alive, plus the text itself; decodeExpansion is %d", ratio, decodeExpansion)
	}
}

// TestDecodeReservationCoversTinyValues measures, as
// TestDecodeExpansionEstimate does, payloads of tiny values, which keep far
// more memory alive per byte than Mux-like events. decodeReservation must
// cover each of them.
func TestDecodeReservationCoversTinyValues(t *testing.T) {
	c := catalog.New("testapp")
	c.MustRegister(messageSent{}, "")
	p := &project{name: "mux", catalog: c}
	inProperties := func(elements string) string {
		return `[{"event":"message_sent","distinct_id":"d","properties":{"x":[` + elements + `]}}]`
	}
	tests := []struct {
		name string
		text string
	}{
		{"batch of empty objects", `{"api_key":"k","batch":[` + strings.Repeat(`{},`, 100_000) + `{}]}`},
		{"array of numbers", `[` + strings.Repeat(`1,`, 100_000) + `1]`},
		{"empty objects in properties", inProperties(strings.Repeat(`{},`, 100_000) + `{}`)},
		{"empty arrays in properties", inProperties(strings.Repeat(`[],`, 100_000) + `[]`)},
		{"numbers in properties", inProperties(strings.Repeat(`1.5,`, 100_000) + `1`)},
		{"strings in properties", inProperties(strings.Repeat(`"ab",`, 100_000) + `""`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := []byte(tt.text)
			shape, rerr := checkJSONLimits(text, DefaultMaxDepth, DefaultMaxProperties)
			if rerr != nil {
				t.Fatal(rerr)
			}

			peak, _ := decodePeakHeap(t, p, text)
			reserved := decodeReservation(len(text), shape)
			t.Logf("%d bytes of JSON keep up to %d bytes alive; %d reserved", len(text), peak, reserved)
			if peak > reserved {
				t.Errorf("decoding keeps %d bytes alive, over the %d reserved", peak, reserved)
			}
		})
	}
}

// decodePeakHeap parses, decodes and checks the events of text for p, as
// a request does, and returns the largest growth of the live heap over the
// three steps, with the checked events. The live heap is measured after
// each step, because each step frees what the previous one built.
func decodePeakHeap(t *testing.T, p *project, text []byte) (int64, eventOutcome) {
	t.Helper()
	before := liveHeap()
	var peak int64
	measure := func() {
		peak = max(peak, liveHeap()-before)
	}
	req, rerr := parseRequest(text, route{path: "/batch", batch: true}, DefaultMaxDepth, DefaultMaxProperties, allowAll)
	if rerr != nil {
		t.Fatal(rerr)
	}
	measure()
	decoded := decodeEvents(req, DefaultMaxEventSize, nil)
	measure()
	out := checkEvents(eventContext{project: p, now: time.Now()}, decoded)
	measure()
	runtime.KeepAlive(req)
	runtime.KeepAlive(decoded)
	return peak, out
}

func TestDecodeReservationOfMuxLikeEvents(t *testing.T) {
	event := `{"event":"message_sent","distinct_id":"0b9f7c1e-3f4a-4c2b-9d8e-1a2b3c4d5e6f",` +
		`"uuid":"00000000-0000-4000-8000-000000000001","timestamp":"2026-03-10T11:59:00Z","properties":{` +
		`"workspaceId":"0b9f7c1e-3f4a-4c2b-9d8e-1a2b3c4d5e6f","model":"anthropic/claude-sonnet-4-5",` +
		`"message_length_b2":300,"mode":"plan","version":"1.4.2","backend_platform":"linux",` +
		`"$lib":"posthog-go","$lib_version":"1.23.1","$geoip_disable":true}}`
	for _, text := range []string{
		`{"api_key":"k","batch":[` + strings.Repeat(event+",", 99) + event + `]}`,
		`[` + strings.Repeat(event+",", 99) + event + `]`,
	} {
		shape, rerr := checkJSONLimits([]byte(text), DefaultMaxDepth, DefaultMaxProperties)
		if rerr != nil {
			t.Fatal(rerr)
		}
		// Typical events keep the reservation that decodeExpansion sets.
		if got, want := decodeReservation(len(text), shape), int64(len(text))*(decodeExpansion-1); got != want {
			t.Errorf("reservation for 100 events of %d bytes is %d, want %d (shape %+v)", len(event), got, want, shape)
		}
	}
}

type messageSent struct {
	WorkspaceID string `json:"workspaceId" candor:"random_id"`
	Model       string `json:"model" candor:"identifier"`
	Length      int    `json:"message_length_b2" candor:"base2"`
	Mode        string `json:"mode,omitempty" candor:"enum=plan|exec,optional"`
}

func (messageSent) EventName() string { return "message_sent" }

func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func TestReadAnnouncedReservesAsItGrows(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 100<<10)
	mem := &reservation{b: &budget{capacity: 1 << 20}}

	got, err := readAnnounced(iotest.OneByteReader(bytes.NewReader(body)), int64(len(body)), mem)
	if err != nil {
		t.Fatalf("readAnnounced: %v", err)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("read %d bytes that differ from the %d sent", len(got), len(body))
	}
	if mem.held != int64(len(body)) {
		t.Errorf("reserved %d bytes for a body of %d", mem.held, len(body))
	}
}

func TestReadAnnouncedShortBody(t *testing.T) {
	mem := &reservation{b: &budget{capacity: 1 << 20}}
	_, err := readAnnounced(strings.NewReader("short"), 100, mem)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestReadAnnouncedStopsAtBudget(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 100<<10)
	mem := &reservation{b: &budget{capacity: 1 << 20}}
	other := &reservation{b: mem.b}
	if !other.add(1<<20 - 40<<10) {
		t.Fatal("could not fill the budget")
	}

	_, err := readAnnounced(bytes.NewReader(body), int64(len(body)), mem)
	if !errors.Is(err, errBudgetExhausted) {
		t.Errorf("err = %v, want errBudgetExhausted", err)
	}
	if mem.held > 40<<10 {
		t.Errorf("reserved %d bytes, more than the %d left in the budget", mem.held, 40<<10)
	}
}

// eofReader records whether a Read returned io.EOF.
type eofReader struct {
	r      io.Reader
	sawEOF bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.sawEOF = true
	}
	return n, err
}

func TestReadAnnouncedReadsToEOF(t *testing.T) {
	body := &eofReader{r: strings.NewReader("0123456789")}
	mem := &reservation{b: &budget{capacity: 1 << 20}}
	if _, err := readAnnounced(body, 10, mem); err != nil {
		t.Fatalf("readAnnounced: %v", err)
	}
	if !body.sawEOF {
		t.Error("readAnnounced stopped before the reader returned io.EOF")
	}
}

func TestReadAnnouncedLongerBody(t *testing.T) {
	mem := &reservation{b: &budget{capacity: 1 << 20}}
	_, err := readAnnounced(strings.NewReader("0123456789"), 5, mem)
	if err == nil || !strings.Contains(err.Error(), "longer than its Content-Length") {
		t.Errorf("err = %v, want one about a body longer than its Content-Length", err)
	}
}
