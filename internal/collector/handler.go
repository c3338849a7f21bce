package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

// ServeHTTP serves every capture path (see Routes and Handles) for GET,
// POST and OPTIONS. It responds with 200 only after the request's valid
// events are committed, or with 204 for ?beacon=1.
func (c *Collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	defer c.countResponse(sw)
	defer c.recoverPanic(sw, r)

	setCORSHeaders(sw, r)
	rt, ok := matchRoute(r.URL.Path)
	if !ok {
		c.fail(sw, r, reject(http.StatusNotFound, codeNotFound,
			"no capture endpoint at %q (candor serves no feature flags or session recordings): send events to %s",
			r.URL.Path, capturePathList()))
		return
	}
	switch r.Method {
	case http.MethodOptions:
		writeJSON(sw, http.StatusOK, map[string]string{"status": "Ok"})
		return
	case http.MethodGet, http.MethodPost:
	default:
		sw.Header().Set("Allow", "GET, POST, OPTIONS")
		c.fail(sw, r, reject(http.StatusMethodNotAllowed, codeMethodNotAllowed, "method %s is not allowed: use POST or GET", r.Method))
		return
	}

	if !c.enter() {
		c.fail(sw, r, reject(http.StatusServiceUnavailable, codeUnavailable, "collector is shutting down"))
		return
	}
	defer c.inflight.Done()

	resp, err := c.capture(sw, r, rt)
	switch {
	case err != nil:
		c.fail(sw, r, err)
	case resp == nil:
		// The client left while its events were being committed.
	case isBeacon(r):
		sw.WriteHeader(http.StatusNoContent)
	default:
		writeCaptureResponse(sw, resp)
	}
}

// capture runs the whole pipeline for one request. It returns a nil response
// and a nil error when the client left before the commit finished.
//
// The request's memory is bounded in two phases. From the body to the
// decoded events it holds a reservation of Config.MaxBufferedBytes, and its
// decoding runs in one of Config.MaxDecoding slots. From the hand-over to
// the committer until the commit it holds its events' share of
// Config.MaxPendingEvents.
func (c *Collector) capture(w http.ResponseWriter, r *http.Request, rt route) (*captureResponse, *requestError) {
	// A request that finds the pending-events budget full would be read
	// and decoded only to get 503 from the committer. Under overload that
	// wasted decoding took the CPU from the commits, so it gets 503 now.
	if c.pending.full() {
		return nil, overloaded(LimitPendingEvents)
	}

	now := c.now().UTC()
	mem := &reservation{b: c.buffered}
	defer mem.releaseAll()

	body, err := c.readBody(w, r, rt, mem)
	if err != nil {
		return nil, err
	}

	// RequestTimeout runs from here. The steps that wait take the deadline
	// instead of a context with a timer, which would cost every request.
	ctx, deadline := r.Context(), time.Now().Add(c.cfg.RequestTimeout)
	p, out, received, err := c.decode(ctx, deadline, r, rt, body, now, mem)
	if err != nil {
		return nil, err
	}
	// The events no longer refer to the body or the payload; from here on
	// the pending-events budget accounts for them.
	body = nil
	mem.releaseAll()

	resp := &captureResponse{Status: "Ok", Dropped: out.dropped, DroppedProperties: out.droppedProperties, Violations: out.violations}
	if len(out.events) == 0 {
		c.stats.handled(p.name, out, received)
		zero := 0
		resp.Duplicates = &zero
		return resp, nil
	}

	// The committer counts the events as received when it commits them,
	// so that a retry after a 503 is not counted twice, and a request
	// that stops waiting first is counted too.
	res, submitErr := c.committer.submit(ctx, deadline, p.name, out, received)
	var busy *errOverloaded
	switch {
	case errors.As(submitErr, &busy):
		return nil, overloaded(busy.limit)
	case res.err != nil:
		return nil, reject(http.StatusServiceUnavailable, codeUnavailable, "storing events failed; retry later")
	case submitErr != nil && r.Context().Err() == nil:
		// RequestTimeout passed; the events may still be committed.
		return nil, overloaded(LimitRequestTimeout)
	case submitErr != nil:
		c.stats.submitted()
		return nil, nil
	}
	c.stats.submitted()
	resp.Accepted = len(out.events)
	if res.known {
		resp.Duplicates = &res.duplicates
	}
	return resp, nil
}

// decode turns a request body into checked events of one project, within a
// decoding slot. It also applies the project's rate limit, as soon as the
// write key and the number of events are known. received is the number of
// events in the request.
func (c *Collector) decode(ctx context.Context, deadline time.Time, r *http.Request, rt route, body []byte, now time.Time, mem *reservation) (p *project, out eventOutcome, received int, rerr *requestError) {
	if ok, _ := c.decoding.acquire(ctx, min(c.cfg.DecodeWait, time.Until(deadline))); !ok {
		return nil, out, 0, overloaded(LimitDecoding)
	}
	defer c.decoding.release()

	// A payload whose decompression or decoding would need more than the
	// whole buffered-bytes budget can never be decoded, so it gets 413, not
	// a 503 to retry.
	var overBudget int64
	reserve := func(n int64) bool {
		if n+mem.held > c.cfg.MaxBufferedBytes {
			overBudget = n
			return false
		}
		return mem.add(n)
	}

	var query url.Values // nil reads as empty, without parsing an empty query
	var queryErr error
	if r.URL.RawQuery != "" {
		query, queryErr = url.ParseQuery(r.URL.RawQuery)
	}
	text, err := decodePayload(payloadSource{
		query:           query,
		queryErr:        queryErr,
		contentType:     r.Header.Get("Content-Type"),
		contentEncoding: r.Header.Get("Content-Encoding"),
		body:            body,
		legacy:          rt.legacy,
	}, c.cfg.MaxDecompressed, reserve)
	if overBudget > 0 {
		return nil, out, 0, reject(http.StatusRequestEntityTooLarge, codeTooLarge,
			"body of %d bytes needs %d bytes more to decompress, over the memory budget of %d bytes: send smaller requests, or raise the budget (candor serve --max-buffered-mib)", len(body), overBudget, c.cfg.MaxBufferedBytes)
	}
	if err != nil {
		return nil, out, 0, err
	}
	req, err := parseRequest(text, rt, c.cfg.MaxDepth, c.cfg.MaxProperties, reserve)
	if overBudget > 0 {
		return nil, out, 0, reject(http.StatusRequestEntityTooLarge, codeTooLarge,
			"payload of %d bytes has too many values to decode within the memory budget of %d bytes: send fewer events per request, or raise the budget (candor serve --max-buffered-mib)", len(text), c.cfg.MaxBufferedBytes)
	}
	if err != nil {
		return nil, out, 0, err
	}

	decoded := decodeEvents(req, c.cfg.MaxEventSize, c.names)
	// With no event left to store, the request gets 413, which clients do
	// not retry. An event over a limit is not decoded, so a token inside it
	// would be missed and the request would otherwise get 401.
	if allOverLimits(decoded) {
		return nil, out, 0, reject(http.StatusRequestEntityTooLarge, codeTooLarge, "%s", c.overLimitsMessage(decoded))
	}
	p, err = c.authenticate(req, decoded)
	if err != nil {
		return nil, out, 0, err
	}
	if err := c.checkRateLimit(p, len(decoded)); err != nil {
		return nil, out, 0, err
	}

	sentAt := req.sentAt
	if sentAt.IsZero() {
		sentAt = querySentAt(query)
	}
	ectx := eventContext{project: p, names: c.names, now: now, sentAt: sentAt, engage: req.engage}
	if c.cfg.MaxEventAge > 0 {
		ectx.oldest = now.Add(-c.cfg.MaxEventAge)
	}
	out = checkEvents(ectx, decoded)
	c.registerDeletionKeys(ctx, deadline, p, req.deletionKeyHash, out.events)
	return p, out, len(decoded), nil
}

// overLimitsMessage returns the error message of a request whose events
// are all over the limits per event, naming the limits they break.
func (c *Collector) overLimitsMessage(events []decodedEvent) string {
	var tooLarge, tooDeep, tooManyMembers bool
	for i := range events {
		switch events[i].dropped {
		case ReasonEventTooLarge:
			tooLarge = true
		case ReasonEventTooDeep:
			tooDeep = true
		case ReasonEventTooManyMembers:
			tooManyMembers = true
		}
	}
	if !tooDeep && !tooManyMembers {
		return fmt.Sprintf("every event of the request is over the limit of %d bytes per event: send smaller events", c.cfg.MaxEventSize)
	}
	var limits []string
	if tooLarge {
		limits = append(limits, fmt.Sprintf("over %d bytes", c.cfg.MaxEventSize))
	}
	if tooDeep {
		limits = append(limits, fmt.Sprintf("nested deeper than %d levels from the top of the payload", c.cfg.MaxDepth))
	}
	if tooManyMembers {
		limits = append(limits, fmt.Sprintf("with an object of more than %d members", c.cfg.MaxProperties))
	}
	return "every event of the request is over a limit per event (" + strings.Join(limits, "; ") + "): send events within these limits"
}

// checkRateLimit takes one token per event from the project's bucket, or
// returns a 429 whose Retry-After is the time until the tokens are back.
func (c *Collector) checkRateLimit(p *project, events int) *requestError {
	if p.bucket == nil {
		return nil
	}
	ok, wait := p.bucket.take(events, c.now())
	if ok {
		return nil
	}
	c.stats.rateLimited(p.name)
	e := reject(http.StatusTooManyRequests, codeRateLimited, "write key is over its limit of %g events per second; retry after %s",
		c.cfg.RateLimit, wait.Round(time.Millisecond))
	e.retryAfter = wait
	return e
}

// readBody reads the body up to the route's size cap within
// BodyReadTimeout. The body's memory is reserved in mem as the bytes
// arrive, so a client that announces a large body and stalls holds little
// of Config.MaxBufferedBytes.
func (c *Collector) readBody(w http.ResponseWriter, r *http.Request, rt route, mem *reservation) ([]byte, *requestError) {
	limit := c.cfg.MaxEventBody
	if rt.batch {
		limit = c.cfg.MaxBatchBody
	}

	// The deadline also bounds the server's own read of an unread body
	// after a rejection, and the server lifts it once the body is complete.
	// A request without a body gets none: the server is already waiting
	// for the next request on the connection, and a deadline would cancel
	// this request's context.
	// NOTE: where the ResponseWriter cannot set a read deadline (a wrapper
	// without Unwrap), only the server's ReadTimeout bounds the read.
	if r.ContentLength != 0 {
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(c.cfg.BodyReadTimeout))
	}

	if r.ContentLength > limit {
		return nil, reject(http.StatusRequestEntityTooLarge, codeTooLarge, "body of %d bytes is over the limit of %d bytes for %s", r.ContentLength, limit, rt.path)
	}
	// MaxBytesReader gets the server's ResponseWriter, so that it can mark
	// the connection to be closed once the cap is hit.
	rw := w
	if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
		rw = u.Unwrap()
	}
	var body []byte
	var err error
	if r.ContentLength > 0 {
		body, err = readAnnounced(http.MaxBytesReader(rw, r.Body, limit), r.ContentLength, mem)
	} else {
		var buf bytes.Buffer
		_, err = buf.ReadFrom(http.MaxBytesReader(rw, io.NopCloser(&budgetReader{r: r.Body, res: mem}), limit))
		body = buf.Bytes()
	}
	var tooLarge *http.MaxBytesError
	switch {
	case err == nil:
		return body, nil
	case errors.Is(err, errBodyOverBudget):
		return nil, reject(http.StatusRequestEntityTooLarge, codeTooLarge,
			"body is over the memory budget of %d bytes: send smaller requests, or raise the budget (candor serve --max-buffered-mib)", c.cfg.MaxBufferedBytes)
	case errors.Is(err, errBudgetExhausted):
		return nil, overloaded(LimitBufferedBytes)
	case errors.As(err, &tooLarge):
		return nil, reject(http.StatusRequestEntityTooLarge, codeTooLarge, "body is over the limit of %d bytes for %s", limit, rt.path)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, reject(http.StatusRequestTimeout, codeBodyReadTimeout, "body was not received within %s", c.cfg.BodyReadTimeout)
	}
	return nil, reject(http.StatusBadRequest, codeDecoding, "read body: %v", err)
}

// authenticate finds the project of the request's token. Every token in the
// request, at batch level and in each event, must be the same.
func (c *Collector) authenticate(req *rawRequest, events []decodedEvent) (*project, *requestError) {
	tokens := append([]string(nil), req.tokens...)
	for i := range events {
		if events[i].token != "" {
			tokens = append(tokens, events[i].token)
		}
	}
	if len(tokens) == 0 {
		return nil, reject(http.StatusUnauthorized, codeKeyRequired, "request has no api_key or token: send the project's write key")
	}
	for _, t := range tokens[1:] {
		if t != tokens[0] {
			return nil, reject(http.StatusBadRequest, codeUnroutable, "request holds events with different tokens: send each project's events separately")
		}
	}
	p := c.findProject(tokens[0])
	if p == nil {
		return nil, reject(http.StatusUnauthorized, codeKeyUnknown, unknownKeyMessage)
	}
	return p, nil
}

// fail writes an error response and counts it. Rejected requests are logged
// at the debug level only, because clients can send them at any rate.
func (c *Collector) fail(w http.ResponseWriter, r *http.Request, e *requestError) {
	c.stats.rejected(e.code)
	if e.limit != "" {
		c.stats.overloaded(e.limit)
	}
	c.logger.LogAttrs(r.Context(), slog.LevelDebug, "capture request rejected",
		slog.String("path", r.URL.Path), slog.Int("status", e.status), slog.String("code", e.code), slog.String("err", e.msg))
	c.writeError(w, e)
}

// recoverPanic turns a panic of the handler into a 500 response and an error
// log line with the stack, at most one per logutil.Interval.
func (c *Collector) recoverPanic(w *statusWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	c.panicLog.Error(c.logger, "capture handler panicked", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	c.stats.rejected(codeInternal)
	if !w.wroteHeader {
		c.writeError(w, reject(http.StatusInternalServerError, codeInternal, "internal error"))
	}
}

func isBeacon(r *http.Request) bool {
	if r.URL.RawQuery == "" {
		return false
	}
	switch r.URL.Query().Get("beacon") {
	case "1", "true":
		return true
	}
	return false
}

// countResponse counts the status code of a written response.
func (c *Collector) countResponse(w *statusWriter) {
	if w.wroteHeader {
		c.stats.responded(w.status)
	}
}

// statusWriter records the status of the response, so that recoverPanic
// does not write a second response and the status can be counted.
type statusWriter struct {
	http.ResponseWriter
	wroteHeader bool
	status      int
}

func (w *statusWriter) WriteHeader(status int) {
	if !w.wroteHeader {
		w.wroteHeader, w.status = true, status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.wroteHeader, w.status = true, http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's ResponseWriter.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
