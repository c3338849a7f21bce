package collector

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// payloadSource holds the parts of one request that the payload pipeline
// reads.
type payloadSource struct {
	query           url.Values
	queryErr        error // first error of parsing the query, whose valid pairs are in query
	contentType     string
	contentEncoding string
	body            []byte
	legacy          bool // route.legacy
}

// compression is a compression hint of the request.
type compression int

const (
	compressionNone compression = iota
	compressionGzip
	compressionLZ64
	compressionBase64
)

// sendPayloadHint ends the errors of a form without a data field, which
// PostHog rejects too. curl -d sends such a form, with a JSON body, unless
// the request sets Content-Type: application/json.
const sendPayloadHint = "send JSON with Content-Type: application/json, or a form with data=<base64 JSON>"

// decodePayload turns a request into JSON text of at most maxDecompressed
// bytes of valid UTF-8. It takes the steps of PostHog's capture service in
// the same order:
//  1. the data query parameter, else the body;
//  2. an optimistic base64 decoding;
//  3. the data field of a urlencoded form, decoded from base64;
//  4. the compression hint;
//  5. gzip (by hint or magic bytes) or lz-string;
//  6. on legacy paths, one more base64 decoding.
//
// Before a step allocates memory in proportion to the payload, reserve must
// grant it: the decompressed size for gzip, the dictionary and the
// decompressed size for lz-string, and the text plus its copy for base64.
// decodePayload returns status 503 when it does not.
func decodePayload(src payloadSource, maxDecompressed int64, reserve func(int64) bool) ([]byte, *requestError) {
	raw := []byte(src.query.Get("data"))
	if len(raw) == 0 {
		raw = src.body
	} else if isBase64(raw, true) {
		// Query decoding turns an unescaped '+' into a space.
		raw = bytes.ReplaceAll(raw, []byte(" "), []byte("+"))
	}
	if len(raw) == 0 {
		if src.queryErr != nil {
			return nil, reject(http.StatusBadRequest, codeDecoding,
				"invalid query string: %v: percent-encode the data parameter, or send the payload as the body", src.queryErr)
		}
		return nil, reject(http.StatusBadRequest, codeEmptyPayload, "request has no body and no data parameter")
	}

	// A payload that is all base64 is decoded up front, as legacy clients
	// wrap whole bodies. It is kept as sent when decoding fails, and so is
	// a JSON scalar such as null or 1234, which is also valid base64.
	original := raw
	unwrapped := false
	if !looksLikeForm(raw) && isBase64(raw, false) && !isJSONScalar(raw) {
		if !reserve(2 * int64(len(raw))) {
			return nil, overloaded(LimitBufferedBytes)
		}
		if decoded, err := base64.StdEncoding.DecodeString(string(raw)); err == nil {
			raw, unwrapped = decoded, true
		}
	}

	var form url.Values
	if isFormContentType(src.contentType) {
		if !looksLikeForm(raw) {
			return nil, reject(http.StatusBadRequest, codeDecoding, "Content-Type is a urlencoded form but the body has no data field: "+sendPayloadHint)
		}
		var err error
		form, err = url.ParseQuery(string(raw))
		if err != nil {
			return nil, reject(http.StatusBadRequest, codeDecoding, "invalid urlencoded form: %v", err)
		}
		data := form.Get("data")
		if data == "" {
			return nil, reject(http.StatusBadRequest, codeDecoding, "urlencoded form has no data field: "+sendPayloadHint)
		}
		raw = []byte(data)
		if isBase64(raw, true) {
			// Form decoding turned the '+' of base64 into spaces.
			raw = bytes.ReplaceAll(raw, []byte(" "), []byte("+"))
		}
	}

	hint := compressionHint(src.query.Get("compression"), form.Get("compression"), src.contentEncoding)
	if form != nil {
		var err *requestError
		if raw, err = unwrapFormData(raw, hint, reserve); err != nil {
			return nil, err
		}
	}
	text, err := decompress(raw, hint, maxDecompressed, unwrapped && form == nil, original, reserve)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(text) {
		if !isKnownContentEncoding(src.contentEncoding) {
			return nil, reject(http.StatusBadRequest, codeDecoding,
				"Content-Encoding %q is not supported: send gzip, or no Content-Encoding", src.contentEncoding)
		}
		// Text that is neither JSON nor base64 of JSON, such as "abcd",
		// gets here as the binary output of the base64 step.
		if unwrapped && form == nil && hint == compressionNone && !hasGzipMagic(raw) {
			return nil, reject(http.StatusBadRequest, codeDecoding,
				"payload %s is neither JSON nor base64-encoded JSON: send a JSON object or array of events", quotePrefix(original))
		}
		return nil, reject(http.StatusBadRequest, codeDecoding, "payload is not valid UTF-8")
	}

	if form == nil && isFormText(text) {
		return nil, reject(http.StatusBadRequest, codeParsing,
			"payload %s is a urlencoded form, but Content-Type is %q: send it with Content-Type: application/x-www-form-urlencoded", quotePrefix(text), src.contentType)
	}

	if src.legacy && isBase64(text, false) {
		if !reserve(2 * int64(len(text))) {
			return nil, overloaded(LimitBufferedBytes)
		}
		if decoded, err := base64.StdEncoding.DecodeString(string(text)); err == nil && utf8.Valid(decoded) {
			text = decoded
		}
	}
	return text, nil
}

// unwrapFormData decodes the base64 of a urlencoded form's data field on
// every capture path, so the field may also contain gzip. It leaves the
// field as sent when it is not base64 or is a JSON scalar, and when the hint
// is lz-string, whose output is base64 text itself, or base64, which
// decompress decodes.
func unwrapFormData(raw []byte, hint compression, reserve func(int64) bool) ([]byte, *requestError) {
	if hint == compressionLZ64 || hint == compressionBase64 || !isBase64(raw, false) || isJSONScalar(raw) {
		return raw, nil
	}
	if !reserve(2 * int64(len(raw))) {
		return nil, overloaded(LimitBufferedBytes)
	}
	decoded, err := base64.StdEncoding.DecodeString(string(raw))
	if err != nil {
		return raw, nil
	}
	return decoded, nil
}

// decompress applies the compression hint. Gzip is also detected by its
// magic bytes, because posthog-js (1.418) sends it without a hint. When the
// hint is lz-string and the optimistic base64 step decoded the raw body,
// decompress starts again from original, because lz-string's output is
// itself base64 text.
func decompress(raw []byte, hint compression, maxDecompressed int64, unwrapped bool, original []byte, reserve func(int64) bool) ([]byte, *requestError) {
	switch {
	case hint == compressionGzip || hasGzipMagic(raw):
		return gunzip(raw, maxDecompressed, reserve)

	case hint == compressionLZ64:
		if unwrapped {
			raw = original
		}
		text, err := decompressLZBase64(raw, maxDecompressed, reserve)
		switch {
		case err == errLZTooLarge:
			return nil, reject(http.StatusRequestEntityTooLarge, codeTooLarge, "payload is over %d bytes after lz-string decompression", maxDecompressed)
		case err == errLZBudget:
			return nil, overloaded(LimitBufferedBytes)
		case err != nil:
			return nil, reject(http.StatusBadRequest, codeDecoding, "invalid lz-string data: %v", err)
		}
		return text, nil

	case hint == compressionBase64 && isBase64(raw, false):
		if !reserve(2 * int64(len(raw))) {
			return nil, overloaded(LimitBufferedBytes)
		}
		decoded, err := base64.StdEncoding.DecodeString(string(raw))
		if err != nil {
			return nil, reject(http.StatusBadRequest, codeDecoding, "invalid base64 data: %v", err)
		}
		if int64(len(decoded)) > maxDecompressed {
			return nil, reject(http.StatusRequestEntityTooLarge, codeTooLarge, "payload is over %d bytes after base64 decoding", maxDecompressed)
		}
		return decoded, nil
	}

	if int64(len(raw)) > maxDecompressed {
		return nil, reject(http.StatusRequestEntityTooLarge, codeTooLarge, "payload is over %d bytes", maxDecompressed)
	}
	return raw, nil
}

// gunzip decompresses raw. It first trusts the size in the gzip trailer
// (gunzipToStatedSize). When that fails, it takes two passes. The first
// counts the output and stops at maxDecompressed, so a compression bomb
// gets status 413 while only the decompressor's window is in memory. The
// second fills a buffer of the exact size, once reserve grants it.
func gunzip(raw []byte, maxDecompressed int64, reserve func(int64) bool) ([]byte, *requestError) {
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, reject(http.StatusBadRequest, codeDecoding, "invalid gzip data: %v", err)
	}
	if text, ok, rerr := gunzipToStatedSize(zr, raw, maxDecompressed, reserve); ok || rerr != nil {
		return text, rerr
	}
	if err := zr.Reset(bytes.NewReader(raw)); err != nil {
		return nil, reject(http.StatusBadRequest, codeDecoding, "invalid gzip data: %v", err)
	}

	size, err := io.Copy(io.Discard, io.LimitReader(zr, maxDecompressed+1))
	if size > maxDecompressed {
		return nil, reject(http.StatusRequestEntityTooLarge, codeTooLarge, "payload is over %d bytes after gzip decompression", maxDecompressed)
	}
	if err != nil {
		return nil, reject(http.StatusBadRequest, codeDecoding, "invalid gzip data: %v", err)
	}

	if !reserve(size) {
		return nil, overloaded(LimitBufferedBytes)
	}
	if err := zr.Reset(bytes.NewReader(raw)); err != nil {
		return nil, reject(http.StatusBadRequest, codeDecoding, "invalid gzip data: %v", err)
	}
	text := make([]byte, size)
	if _, err := io.ReadFull(zr, text); err != nil {
		return nil, reject(http.StatusBadRequest, codeDecoding, "invalid gzip data: %v", err)
	}
	return text, nil
}

// gunzipToStatedSize decompresses in one pass into a buffer of the size
// that the gzip trailer states (ISIZE, the size modulo 2^32), when that is
// within maxDecompressed and within maxDeflateRatio times the size of raw.
// ok is false when the data does not end exactly there, as with a
// multi-member stream, a false size or corrupt data, and gunzip then
// counts the output first. The buffer is reserved before it
// is allocated, so memory stays within the same bounds as counting.
func gunzipToStatedSize(zr *gzip.Reader, raw []byte, maxDecompressed int64, reserve func(int64) bool) (text []byte, ok bool, rerr *requestError) {
	if len(raw) < 18 { // a header and a trailer
		return nil, false, nil
	}
	size := int64(binary.LittleEndian.Uint32(raw[len(raw)-4:]))
	if size > maxDecompressed || size > maxDeflateRatio*int64(len(raw)) {
		// A trailer that states more than raw can inflate to is false,
		// and trusting it would allocate a buffer that no data fills.
		return nil, false, nil
	}
	if !reserve(size) {
		return nil, false, overloaded(LimitBufferedBytes)
	}
	text = make([]byte, size)
	if _, err := io.ReadFull(zr, text); err != nil {
		return nil, false, nil
	}
	// The stream must end here, and the reader checks the CRC-32 there.
	var extra [1]byte
	if n, err := zr.Read(extra[:]); n != 0 || err != io.EOF {
		return nil, false, nil
	}
	return text, true, nil
}

// maxDeflateRatio bounds the output of DEFLATE (RFC 1951) per input byte:
// a length-258 match costs at least 2 bits, so no stream inflates more
// than 1032-fold, and gzip's headers only lower the ratio.
const maxDeflateRatio = 1032

// isJSONScalar reports whether b, which the caller knows to be base64
// text, is also a JSON literal (null, true, false) or number. The first
// byte spares most payloads the scan of json.Valid.
func isJSONScalar(b []byte) bool {
	if len(b) == 0 || !strings.ContainsRune("ntf0123456789", rune(b[0])) {
		return false
	}
	return json.Valid(b)
}

// quotePrefix quotes the first 32 bytes of b for an error message.
func quotePrefix(b []byte) string {
	const maxQuoted = 32
	if len(b) > maxQuoted {
		return strconv.Quote(string(b[:maxQuoted])) + "..."
	}
	return strconv.Quote(string(b))
}

func hasGzipMagic(b []byte) bool {
	return len(b) >= 3 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 0x08
}

// compressionHint returns the first supported hint of the query parameter,
// the form field and the Content-Encoding header, in that order.
func compressionHint(values ...string) compression {
	for _, v := range values {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "gzip", "gzip-js":
			return compressionGzip
		case "lz64", "lz-string":
			return compressionLZ64
		case "base64", "b64":
			return compressionBase64
		}
	}
	return compressionNone
}

// isFormText reports whether text looks like a urlencoded form and is not
// a JSON object or array.
func isFormText(text []byte) bool {
	trimmed := bytes.TrimLeft(text, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] == '{' || trimmed[0] == '[' {
		return false
	}
	return looksLikeForm(trimmed)
}

// isKnownContentEncoding reports whether a Content-Encoding header is
// empty, identity, or one of the hints of compressionHint.
func isKnownContentEncoding(contentEncoding string) bool {
	switch strings.ToLower(strings.TrimSpace(contentEncoding)) {
	case "", "identity":
		return true
	}
	return compressionHint(contentEncoding) != compressionNone
}

func isFormContentType(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	return err == nil && mediaType == "application/x-www-form-urlencoded"
}

// formFields are the fields whose presence near the start marks a payload
// as a urlencoded form rather than base64 or JSON.
var formFields = []string{"data=", "ver=", "_=", "ip=", "compression="}

// formFieldsAfterAmp holds each of formFields after an '&'.
var formFieldsAfterAmp = func() [][]byte {
	out := make([][]byte, len(formFields))
	for i, f := range formFields {
		out[i] = []byte("&" + f)
	}
	return out
}()

// looksLikeForm reports whether one of formFields starts the payload or
// follows an '&' in its first 128 bytes.
func looksLikeForm(b []byte) bool {
	prefix := b[:min(len(b), 128)]
	for i, field := range formFields {
		if bytes.HasPrefix(prefix, []byte(field)) || bytes.Contains(prefix, formFieldsAfterAmp[i]) {
			return true
		}
	}
	return false
}

// isBase64 reports whether b is non-empty standard base64 text whose length
// is a multiple of 4. With spaces set, a space counts as a '+' that
// urldecoding turned into a space.
func isBase64(b []byte, spaces bool) bool {
	if len(b) == 0 || len(b)%4 != 0 {
		return false
	}
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=':
		case c == ' ' && spaces:
		default:
			return false
		}
	}
	return true
}
