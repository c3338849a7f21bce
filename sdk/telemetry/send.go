package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Upload limits.
const (
	// maxBatchBytes bounds the uncompressed JSON of one batch's events.
	maxBatchBytes = 512 << 10
	// maxRetryAfter caps the wait a collector may ask for with Retry-After.
	maxRetryAfter = time.Hour
	// retryBase is the backoff ceiling of the first retry; each further
	// failure doubles it up to Config.MaxRetryDelay.
	retryBase = 500 * time.Millisecond
	// maxRedirects is how many redirects an upload follows.
	maxRedirects = 3
)

// errInsecureRedirect is returned for a redirect from https to http, which
// would send the batch and the write key in clear text.
var errInsecureRedirect = errors.New("redirect from https to http rejected: it would send the write key in clear text")

// errMethodRedirect is returned for a redirect that turns the POST into a
// GET without the batch (301, 302 and 303), which the collector would
// reject and the batch would be lost. The upload is retried, so a
// collector that stops redirecting gets the batch.
var errMethodRedirect = errors.New("redirect would resend the batch as a GET without it: point Endpoint at the collector's final URL, or redirect with 307 or 308")

// newHTTPClient returns the client that uploads batches: a copy of base, or
// of a default client when base is nil, whose redirect policy rejects
// https→http downgrades, method changes and other hosts before applying
// base's own policy.
//
// The default client sends through a directTransport, and through a clone
// of http.DefaultTransport for proxies from the environment. It has no
// Client.Timeout: every request carries a context deadline of
// DefaultRequestTimeout instead, because http.Client starts a goroutine per
// request to enforce its Timeout for any transport but its own.
func newHTTPClient(base *http.Client) (client *http.Client, owned bool) {
	if base == nil {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.Proxy = http.ProxyFromEnvironment
		transport.ResponseHeaderTimeout = DefaultRequestTimeout
		// Room for the headers and a typical compressed batch, so that a
		// request leaves in one write instead of 4 KiB pieces.
		transport.WriteBufferSize = 32 << 10
		base = &http.Client{Transport: newDirectTransport(transport)}
		owned = true
	}
	c := *base
	next := base.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 && via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return errInsecureRedirect
		}
		if len(via) > 0 && req.Method != via[0].Method {
			return errMethodRedirect
		}
		// The privacy notice names the Endpoint's host as where events go,
		// and the request carries the write key, the batch or the deletion
		// secret, so no other host gets it.
		if len(via) > 0 && !strings.EqualFold(req.URL.Hostname(), via[0].URL.Hostname()) {
			return fmt.Errorf("redirect from host %q to host %q rejected: point Endpoint at the collector's final URL", via[0].URL.Hostname(), req.URL.Hostname())
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &c, owned
}

// outcome is the action an upload attempt calls for.
type outcome int

const (
	outcomeSent   outcome = iota // acknowledged with 2xx
	outcomeRetry                 // network error, 408, 429 or 5xx
	outcomeSplit                 // 413: send the halves separately
	outcomeReject                // any other status: drop the batch
)

type uploadResult struct {
	outcome    outcome
	status     int           // HTTP status, 0 for network errors
	retryAfter time.Duration // from the Retry-After header, 0 if none
	dropReason string        // for outcomeReject
	// collectorDrops counts, for outcomeSent, the batch's events that the
	// collector dropped, by its reason.
	collectorDrops map[string]int64
	err            error
}

// uploader posts batches to the collector.
type uploader struct {
	url      string
	writeKey []byte // JSON-quoted
	client   *http.Client
	gz       *gzip.Writer
	body     bytes.Buffer
	raw      bytes.Buffer
	// ahead is the body of aheadBatch, compressed at aheadAt by
	// compressAhead. The uploader holds aheadBatch, so no other batch can
	// get its address.
	ahead      bytes.Buffer
	aheadBatch *batch
	aheadAt    time.Time
	// bodiesMade counts the request bodies of the last upload, and
	// bodiesWritten those that the direct transport finished writing.
	// Until the two match, another transport may still read body's
	// storage.
	bodiesMade, bodiesWritten atomic.Int64
	// extra, if set, returns JSON members written after api_key, each
	// starting with a comma, such as the deletion key hash.
	extra func() string
}

func newUploader(endpoint, writeKey string, client *http.Client) *uploader {
	key, _ := json.Marshal(writeKey)
	gz, _ := gzip.NewWriterLevel(io.Discard, compressionLevel) // the level is valid
	return &uploader{url: endpoint + "/batch/", writeKey: key, client: client, gz: gz}
}

// compressionLevel is gzip's fastest level, from klauspost/compress. On a
// batch of 100 Mux events (BenchmarkCompressionLevels) it takes about half
// the CPU time of compress/gzip's fastest level and a third of its default
// level. It shrinks the JSON about 17 times instead of 19, because the keys
// and base properties that every event repeats are found at any level.
const compressionLevel = gzip.BestSpeed

// payload returns the uncompressed request body for events.
func (u *uploader) payload(events [][]byte) []byte {
	u.raw.Reset()
	u.raw.WriteString(`{"api_key":`)
	u.raw.Write(u.writeKey)
	if u.extra != nil {
		u.raw.WriteString(u.extra())
	}
	u.raw.WriteString(`,"batch":[`)
	for i, ev := range events {
		if i > 0 {
			u.raw.WriteByte(',')
		}
		u.raw.Write(ev)
	}
	u.raw.WriteString(`],"sent_at":"`)
	u.raw.Write(time.Now().UTC().AppendFormat(u.raw.AvailableBuffer(), time.RFC3339Nano))
	u.raw.WriteString(`"}`)
	return u.raw.Bytes()
}

// compress writes the gzip-compressed request body of events to dst.
func (u *uploader) compress(dst *bytes.Buffer, events [][]byte) error {
	dst.Reset()
	u.gz.Reset(dst)
	if _, err := u.gz.Write(u.payload(events)); err != nil {
		return err
	}
	return u.gz.Close()
}

// aheadMaxAge is the maximum age of a body from compressAhead when its
// upload starts. The body's sent_at is the time it was compressed, and the
// collector corrects event timestamps by the difference between sent_at
// and its own clock.
const aheadMaxAge = 20 * time.Millisecond

// compressAhead compresses the body of b, the batch to upload next, while
// the upload before it waits for its response. The next call of upload
// sends that body if it uploads b within aheadMaxAge.
func (u *uploader) compressAhead(b *batch) {
	u.aheadBatch = nil
	if u.compress(&u.ahead, b.events) != nil {
		return
	}
	u.aheadBatch, u.aheadAt = b, time.Now()
}

// upload posts the batch b, gzip-compressed, and classifies the response.
func (u *uploader) upload(ctx context.Context, b *batch) uploadResult {
	if u.bodiesMade.Load() != u.bodiesWritten.Load() {
		// net/http's Transport may still read the last request's body
		// after RoundTrip returned, even after closing it, so that
		// storage is left to it.
		u.body = bytes.Buffer{}
	}
	u.bodiesMade.Store(0)
	u.bodiesWritten.Store(0)
	if b == u.aheadBatch && time.Since(u.aheadAt) < aheadMaxAge {
		u.body, u.ahead = u.ahead, u.body
	} else if err := u.compress(&u.body, b.events); err != nil {
		return uploadResult{outcome: outcomeReject, dropReason: DropEncodeFailed, err: err}
	}
	u.aheadBatch = nil

	ctx, cancel := context.WithTimeout(ctx, DefaultRequestTimeout)
	defer cancel()
	data := u.body.Bytes()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.url, u.newBody(data))
	if err != nil {
		return uploadResult{outcome: outcomeReject, dropReason: DropRejected, err: err}
	}
	req.ContentLength = int64(len(data))
	req.GetBody = func() (io.ReadCloser, error) { return u.newBody(data), nil }
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("User-Agent", LibraryName+"/"+LibraryVersion)

	resp, body, ack, err := u.send(req)
	if err != nil {
		if errors.Is(err, errInsecureRedirect) {
			return uploadResult{outcome: outcomeReject, dropReason: DropInsecureRedirect, err: err}
		}
		return uploadResult{outcome: outcomeRetry, err: err}
	}
	res := classify(resp)
	if res.outcome == outcomeReject {
		if msg := collectorError(body); msg != "" {
			res.err = fmt.Errorf("%w: %s", res.err, msg)
		}
	}
	if res.outcome == outcomeSent && !ack {
		// A captive portal or a proxy answered, or the connection broke
		// before the collector's response ended. The batch keeps its
		// UUIDs, so the collector drops the copy it may already hold.
		res.outcome = outcomeRetry
		res.err = fmt.Errorf("collector responded with %s but not with its JSON acknowledgement", resp.Status)
	}
	if res.outcome == outcomeSent {
		res.collectorDrops = collectorDrops(body, len(b.events))
	}
	return res
}

// send posts req and reads the response body, which it closes. A panic
// in Config.HTTPClient, such as in its Transport or CheckRedirect, returns
// as an error, so the upload is retried like one that met a network error.
func (u *uploader) send(req *http.Request) (resp *http.Response, body []byte, ack bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, body, ack, err = nil, nil, false, httpClientPanic(r)
		}
	}()
	resp, err = u.client.Do(req)
	if err != nil {
		return nil, nil, false, err
	}
	defer resp.Body.Close()
	body, ack = readResponse(resp)
	return resp, body, ack, nil
}

// httpClientPanic returns the error for the value r that a panic in
// Config.HTTPClient raised. The client recovers those panics because on
// the sender goroutine they would end the app.
func httpClientPanic(r any) error {
	return fmt.Errorf("Config.HTTPClient panicked: %v", r)
}

// maxCollectorDropReasons bounds the reasons read from one response and
// the reasons a client counts in Stats, so a collector cannot grow Stats
// without bound.
const maxCollectorDropReasons = 16

// collectorDrops returns the "dropped" member of an acknowledgement, as
// candor's collector sends it: the number of the batch's events it did not
// store, by reason. The counts add up to at most events. It returns nil
// when nothing was dropped or the body has no such member.
func collectorDrops(body []byte, events int) map[string]int64 {
	var resp struct {
		Dropped map[string]float64 `json:"dropped"`
	}
	if json.Unmarshal(body, &resp) != nil || len(resp.Dropped) == 0 {
		return nil
	}
	var drops map[string]int64
	left := int64(events)
	for _, reason := range slices.Sorted(maps.Keys(resp.Dropped)) {
		// A count above the batch's events, such as 1e300, means all of
		// them; the comparison in float64 keeps it from overflowing int64.
		n := int64(min(max(resp.Dropped[reason], 0), float64(left)))
		if n == 0 {
			continue
		}
		if !isPlainReason(reason) || len(drops) >= maxCollectorDropReasons {
			reason = "other"
		}
		if drops == nil {
			drops = map[string]int64{}
		}
		drops[reason] += n
		left -= n
	}
	return drops
}

// isPlainReason reports whether s is a short lowercase name, such as
// "unknown_event".
func isPlainReason(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// uploadBody is the body of an upload's request. The direct transport
// counts it in bodiesWritten once it has written it.
type uploadBody struct {
	*bytes.Reader
	u *uploader
}

func (u *uploader) newBody(data []byte) io.ReadCloser {
	u.bodiesMade.Add(1)
	return &uploadBody{Reader: bytes.NewReader(data), u: u}
}

func (b *uploadBody) Close() error { return nil }

// written records that the direct transport no longer reads b.
func (b *uploadBody) written() { b.u.bodiesWritten.Add(1) }

// maxResponseBody bounds the response body the uploader reads.
const maxResponseBody = 64 << 10

// readResponse reads the response body, up to maxResponseBody bytes, and
// reports whether it acknowledges the batch: a complete JSON object, as
// candor's collector and PostHog's capture service send, or no body with
// status 204. A 200 with HTML or plain text comes from something else,
// such as a captive portal, and a body cut short means the response was
// lost.
func readResponse(resp *http.Response) (body []byte, ack bool) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil || len(body) > maxResponseBody {
		return nil, false
	}
	if resp.StatusCode == http.StatusNoContent {
		return body, len(body) == 0
	}
	trimmed := bytes.TrimSpace(body)
	return body, len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed)
}

// maxCollectorError bounds the collector's error message that an upload
// error carries into the log.
const maxCollectorError = 300

// collectorError returns the "error" member of a JSON error response, as
// candor's collector sends with a 4xx, or "" for any other body.
func collectorError(body []byte) string {
	var resp struct {
		Error any `json:"error"`
	}
	if json.Unmarshal(body, &resp) != nil {
		return ""
	}
	msg, _ := resp.Error.(string)
	if len(msg) > maxCollectorError {
		msg = strings.ToValidUTF8(msg[:maxCollectorError], "") + "…"
	}
	return msg
}

func classify(resp *http.Response) uploadResult {
	code := resp.StatusCode
	res := uploadResult{status: code}
	switch {
	case code >= 200 && code < 300:
		res.outcome = outcomeSent
	case code == http.StatusRequestEntityTooLarge:
		res.outcome = outcomeSplit
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		res.outcome = outcomeRetry
		res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		res.err = fmt.Errorf("collector responded with %s", resp.Status)
	default:
		res.outcome = outcomeReject
		res.dropReason = DropRejected
		res.err = fmt.Errorf("collector responded with %s", resp.Status)
	}
	return res
}

// parseRetryAfter reads a Retry-After header in seconds or as an HTTP date,
// capped at maxRetryAfter. It returns 0 for a missing or invalid header.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// backoff returns the wait before retry number attempt (1 for the first):
// full jitter, a uniform random duration up to min(maxDelay,
// retryBase·2^(attempt-1)), but at least retryAfter.
func backoff(attempt int, maxDelay, retryAfter time.Duration) time.Duration {
	ceiling := maxDelay
	if attempt < 30 {
		if d := retryBase << (attempt - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	wait := time.Millisecond + rand.N(ceiling)
	return max(wait, retryAfter)
}
