package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// SessionCookie is the name of the cookie that contains a dashboard session ID.
const SessionCookie = "candor_session"

// SessionLifetime is how long a session stays valid after login. It does
// not slide with use.
const SessionLifetime = 12 * time.Hour

// maxSessions bounds the memory that sessions use. Logging in beyond it ends
// the session that would expire first.
const maxSessions = 1000

// maxFormBytes bounds the body of the login and logout forms.
const maxFormBytes = 8 << 10

// tokenChecker compares candidates with the admin token in constant time.
// It compares SHA-256 digests of equal length, so the time reveals nothing
// about the token, not even its length.
type tokenChecker struct {
	digest [sha256.Size]byte
}

func newTokenChecker(token string) tokenChecker {
	return tokenChecker{digest: sha256.Sum256([]byte(token))}
}

func (c tokenChecker) matches(candidate string) bool {
	digest := sha256.Sum256([]byte(candidate))
	return subtle.ConstantTimeCompare(digest[:], c.digest[:]) == 1
}

// sessionStore keeps the sessions that logins started. It keys them by the
// SHA-256 of their ID, so neither a memory dump nor the timing of a map
// lookup reveals a usable ID.
type sessionStore struct {
	now func() time.Time

	mu       sync.Mutex
	expiries map[[sha256.Size]byte]time.Time
}

func newSessionStore(now func() time.Time) *sessionStore {
	return &sessionStore{now: now, expiries: make(map[[sha256.Size]byte]time.Time)}
}

// start creates a session and returns its ID.
func (s *sessionStore) start() string {
	id := rand.Text() + rand.Text() // 2 × 128 bits of randomness
	now := s.now()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeExpired(now)
	if len(s.expiries) >= maxSessions {
		s.removeFirstToExpire()
	}
	s.expiries[sha256.Sum256([]byte(id))] = now.Add(SessionLifetime)
	return id
}

func (s *sessionStore) valid(id string) bool {
	key := sha256.Sum256([]byte(id))

	s.mu.Lock()
	defer s.mu.Unlock()
	expiry, ok := s.expiries[key]
	if ok && !s.now().Before(expiry) {
		delete(s.expiries, key)
		return false
	}
	return ok
}

func (s *sessionStore) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.expiries, sha256.Sum256([]byte(id)))
}

func (s *sessionStore) removeExpired(now time.Time) {
	for key, expiry := range s.expiries {
		if !now.Before(expiry) {
			delete(s.expiries, key)
		}
	}
}

func (s *sessionStore) removeFirstToExpire() {
	var first [sha256.Size]byte
	var firstExpiry time.Time
	for key, expiry := range s.expiries {
		if firstExpiry.IsZero() || expiry.Before(firstExpiry) {
			first, firstExpiry = key, expiry
		}
	}
	delete(s.expiries, first)
}

// authenticated reports whether r carries the admin token as a bearer token
// or a valid session cookie. A request with an Authorization header is
// judged by that header alone.
func (h *Handler) authenticated(r *http.Request) bool {
	if header := r.Header.Get("Authorization"); header != "" {
		scheme, token, ok := strings.Cut(header, " ")
		return ok && strings.EqualFold(scheme, "Bearer") && h.token.matches(token)
	}
	cookie, err := r.Cookie(SessionCookie)
	return err == nil && h.sessions.valid(cookie.Value)
}

// requireAuth passes authenticated requests to next and rejects the others
// with 401.
func (h *Handler) requireAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !h.authenticated(r) {
			h.logAuthFailure(r, "missing or invalid token")
			w.Header().Set("WWW-Authenticate", `Bearer realm="candor"`)
			// The 401 of the admin routes of package server, which take
			// no session cookie, starts with the same words.
			writeError(w, http.StatusUnauthorized, "missing or invalid admin token: "+
				`send "Authorization: Bearer ADMIN_TOKEN" or log in at /`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serveLogin checks the token of the login form. A match starts a session
// and redirects to the dashboard, anything else shows the form again.
func (h *Handler) serveLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "invalid login form: "+err.Error(), http.StatusBadRequest)
		return
	}

	returnQuery := r.PostForm.Get("return")
	if !h.token.matches(r.PostForm.Get("token")) {
		h.logAuthFailure(r, "invalid token in login form")
		h.renderLogin(w, http.StatusUnauthorized, invalidTokenMessage(r.PostForm.Get("token")), returnQuery)
		return
	}
	h.startSession(w, r, returnQuery)
}

// serveTokenLink handles GET /?token=TOKEN, the link that lets a terminal
// hand a logged-in session to a browser.
func (h *Handler) serveTokenLink(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	if !h.token.matches(query.Get("token")) {
		h.logAuthFailure(r, "invalid token in link")
		message := invalidTokenMessage(query.Get("token"))
		query.Del("token")
		h.renderLogin(w, http.StatusUnauthorized, message, query.Encode())
		return
	}
	query.Del("token")
	h.startSession(w, r, query.Encode())
}

// writeKeyPrefix is the prefix of the write keys that candor serve
// generates and of PostHog's project API keys. A user may paste one into
// the login form in place of the admin token.
const writeKeyPrefix = "phc_"

// invalidTokenMessage returns the login page's error for a token that is
// not the admin token. It never contains the token.
func invalidTokenMessage(token string) string {
	const hint = "enter the admin token of this collector: the --admin-token of candor serve, or admin_token in keys.json in its data folder"
	// NOTE: a write key given with --write-key that lacks the prefix gets
	// the general message.
	if strings.HasPrefix(token, writeKeyPrefix) {
		return "invalid token: a write key only sends events, so " + hint
	}
	return "invalid token: " + hint
}

func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, returnQuery string) {
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    h.sessions.start(),
		Path:     "/",
		MaxAge:   int(SessionLifetime / time.Second),
		HttpOnly: true,
		Secure:   cameOverHTTPS(r),
		SameSite: http.SameSiteStrictMode,
	})
	h.logger.Info("dashboard login", "remote_addr", r.RemoteAddr)
	http.Redirect(w, r, dashboardURL(returnQuery), http.StatusSeeOther)
}

// serveLogout ends the session of the request's cookie, clears the cookie
// and redirects to the login form.
func (h *Handler) serveLogout(w http.ResponseWriter, r *http.Request) {
	if cookie, err := r.Cookie(SessionCookie); err == nil {
		h.sessions.end(cookie.Value)
	}
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   cameOverHTTPS(r),
		SameSite: http.SameSiteStrictMode,
	})
	h.logger.Info("dashboard logout", "remote_addr", r.RemoteAddr)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// cameOverHTTPS reports whether the browser sent r over HTTPS: r came
// over TLS, or a proxy that terminates TLS put https in the first entry
// of X-Forwarded-Proto or Forwarded (proto=https, RFC 7239).
//
// Any client can send these headers, and candor cannot tell whether a
// proxy set them. Trusting them is safe because the result only decides
// whether the session cookie of this response, the requester's own, gets
// the Secure attribute, and no header removes it from a request that came
// over TLS. A forged "https" over plain HTTP only makes the cookie
// stricter: browsers reject a Secure cookie that an http:// page other
// than localhost sets, so the forger's own login fails.
func cameOverHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ","); strings.EqualFold(strings.TrimSpace(proto), "https") {
		return true
	}
	first, _, _ := strings.Cut(r.Header.Get("Forwarded"), ",")
	for pair := range strings.SplitSeq(first, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(pair), "=")
		if strings.EqualFold(name, "proto") {
			return strings.EqualFold(strings.Trim(value, `"`), "https")
		}
	}
	return false
}

// dashboardURL returns the dashboard path with the page parameters of a raw
// query. The path is always "/", so a forged return value cannot redirect
// to another site, and parameters other than the page's are dropped.
func dashboardURL(rawQuery string) string {
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "/"
	}
	for name := range query {
		if !slices.Contains(pageParameters, name) {
			query.Del(name)
		}
	}
	if len(query) == 0 {
		return "/"
	}
	return "/?" + query.Encode()
}

func (h *Handler) logAuthFailure(r *http.Request, reason string) {
	h.authLog.Warn(h.logger, "authentication failed", "reason", reason, "path", r.URL.Path,
		"remote_addr", r.RemoteAddr)
}
