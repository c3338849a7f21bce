package webtelemetry

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// parseOrigins returns the allowed origins in the form normalizeOrigin
// gives, logging and skipping invalid entries.
func parseOrigins(list []string, log *slog.Logger) map[string]bool {
	origins := make(map[string]bool, len(list))
	for _, o := range list {
		normalized, ok := normalizeOrigin(o)
		if !ok {
			log.Warn("webtelemetry: allowed origin ignored: use a scheme and a host, such as http://localhost:5173", "origin", o)
			continue
		}
		origins[normalized] = true
	}
	return origins
}

// normalizeOrigin returns an http or https origin as
// "scheme://host[:port]" in lower case without a default port. ok is false
// for anything else, including the "null" origin of sandboxed frames and
// file pages.
func normalizeOrigin(s string) (origin string, ok bool) {
	u, err := url.Parse(strings.TrimSuffix(strings.TrimSpace(s), "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", false
	}
	return u.Scheme + "://" + normalizeHost(u.Scheme, u.Host), true
}

// normalizeHost lower-cases a host[:port] and drops the scheme's default
// port.
func normalizeHost(scheme, host string) string {
	host = strings.ToLower(host)
	switch scheme {
	case "http":
		return strings.TrimSuffix(host, ":80")
	case "https":
		return strings.TrimSuffix(host, ":443")
	}
	return host
}

// checkOrigin returns why a request for rt must be rejected as coming from
// another origin, or "" when it may be served. Requests from a page of
// this server's origin also need a trusted Host: localhost, an IP address
// or the host of a listed origin. The client's files (rt.asset) do not,
// and rt.private endpoints need one even without browser headers.
func (h *Handler) checkOrigin(r *http.Request, rt route) string {
	site := r.Header.Get("Sec-Fetch-Site")
	if raw := r.Header.Get("Origin"); raw != "" {
		origin, ok := normalizeOrigin(raw)
		if ok && h.origins[origin] {
			return ""
		}
		sameSite := site == "" || site == "same-origin"
		if ok && sameSite && sameHost(origin, r.Host) && (rt.asset || trustedHost(r.Host)) {
			return ""
		}
		return fmt.Sprintf("origin %s not allowed: only pages of this server's origin on localhost or an IP address, or of an origin in AllowedOrigins, may call it", quoteShort(raw))
	}

	// Browsers send no Origin with a same-origin GET, so the Host header
	// names the page's origin. A request without Sec-Fetch-Site too may
	// come from a program, or from a plain-HTTP page under a host name other
	// than localhost, such as a DNS rebinding page, because Chromium sends
	// neither header there.
	hostTrusted := rt.asset || trustedHost(r.Host) || h.isListedHost(r.Host)
	switch site {
	case "", "none":
		// "none": the user opened the URL, such as client.js, in the
		// address bar.
		if site == "none" && r.Method != http.MethodGet && r.Method != http.MethodHead {
			break
		}
		if rt.private && !hostTrusted {
			return fmt.Sprintf("host %s not trusted: list this server's origin in AllowedOrigins", quoteShort(r.Host))
		}
		return ""
	case "same-origin":
		if hostTrusted {
			return ""
		}
		return fmt.Sprintf("host %s not trusted: list this server's origin in AllowedOrigins", quoteShort(r.Host))
	}
	return fmt.Sprintf("request from another site rejected (Sec-Fetch-Site: %s)", quoteShort(site))
}

// listsOrigins reports whether Config.AllowedOrigins has a valid entry.
func (h *Handler) listsOrigins() bool { return len(h.origins) > 0 }

// isListedOrigin reports whether the request's Origin header names one of
// Config.AllowedOrigins.
func (h *Handler) isListedOrigin(r *http.Request) bool {
	origin, ok := normalizeOrigin(r.Header.Get("Origin"))
	return ok && h.origins[origin]
}

// isListedHost reports whether a Host header names the host of one of
// Config.AllowedOrigins, under either scheme, because a proxy that
// terminates TLS forwards https requests as http. A DNS rebinding page
// sends its own host name, which is not listed.
func (h *Handler) isListedHost(hostport string) bool {
	return h.origins["https://"+normalizeHost("https", hostport)] || h.origins["http://"+normalizeHost("http", hostport)]
}

// servePreflight responds to the CORS preflight that a browser sends before a
// page of a listed origin posts JSON to rt. Another origin gets 403 without
// CORS headers, so the browser does not send the request.
func (h *Handler) servePreflight(w http.ResponseWriter, r *http.Request, rt route) {
	if !h.isListedOrigin(r) {
		msg := fmt.Sprintf("CORS preflight from origin %s rejected: list the origin in AllowedOrigins", quoteShort(r.Header.Get("Origin")))
		h.logRejected(r, http.StatusForbidden, msg)
		writeError(w, http.StatusForbidden, errorBody{Error: msg})
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
	w.Header().Set("Access-Control-Allow-Methods", strings.Join(rt.methods, ", "))
	w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
	w.Header().Set("Access-Control-Max-Age", strconv.Itoa(preflightMaxAge))
	w.WriteHeader(http.StatusNoContent)
}

// preflightMaxAge is how many seconds a browser may cache the response to a
// preflight.
const preflightMaxAge = 600

// sameHost reports whether origin names the host the request was sent to.
func sameHost(origin, requestHost string) bool {
	scheme, host, _ := strings.Cut(origin, "://")
	return host == normalizeHost(scheme, requestHost)
}

// trustedHost reports whether a Host header names an IP address or
// localhost. A DNS rebinding attack reaches a server on this machine under
// the attacker's own host name, so a same-origin request under any other
// name cannot be trusted.
func trustedHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// quoteShort quotes a header value for an error message, cut to 100 bytes.
func quoteShort(s string) string {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// logInterval is the shortest time between two log lines about rejected
// requests; the lines in between are counted and the count is logged with
// the next line.
const logInterval = 10 * time.Second

// logLimiter rate-limits log lines about rejected requests, which a broken
// or hostile page can cause at any rate.
type logLimiter struct {
	mu         sync.Mutex
	next       time.Time
	suppressed int
}

// allow reports whether a line may be logged now and how many lines were
// suppressed since the last one.
func (l *logLimiter) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	l.next = now.Add(logInterval)
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}

func (h *Handler) logRejected(r *http.Request, status int, msg string) {
	ok, suppressed := h.limiter.allow(time.Now())
	if !ok {
		return
	}
	h.log.Warn("webtelemetry: request rejected", "status", status, "method", r.Method, "path", r.URL.Path,
		"error", msg, "suppressed", suppressed)
}
