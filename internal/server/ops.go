package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/internal/fsutil"
	"github.com/candor-dev/candor/internal/store"
)

// pingTimeout bounds the store ping of one /readyz request.
const pingTimeout = 2 * time.Second

// /readyz reports "commits failing" once at least minFailedCommits commits
// have failed over at least failingCommitsSpan with no successful commit in
// between. One failed commit, or a few within a second, is often transient,
// such as one Insert that timed out or a ClickHouse restart, and the
// clients retry those events. Failures that span 5 s, the default
// Retry-After of a failed capture request, mean that the store keeps
// rejecting writes while it still responds to pings, as ClickHouse does
// for a read-only user.
const (
	minFailedCommits   = 2
	failingCommitsSpan = 5 * time.Second
)

// failedCommitsExpiry is how long after the last failed commit /readyz
// keeps reporting "commits failing". A load balancer sends a server that is
// not ready no traffic, so no commit could ever succeed and end the 503.
// Past this time /readyz reports ready again, the load balancer sends
// traffic, and the next failed commit makes /readyz report 503 at once,
// because the failures since the last successful commit still count.
const failedCommitsExpiry = 30 * time.Second

func serveHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// serveReadyz reports whether the server should get traffic: 503 while
// Serve's start-up work runs, once Shutdown has started, while the data
// folder is low on disk space, while the store fails a ping, or while
// commits keep failing (commitsFailing).
func (s *Server) serveReadyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case s.draining.Load():
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	case !s.ready.Load():
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	if s.checksDiskSpace() {
		if err := s.checkDiskSpace(); err != nil && !errors.Is(err, fsutil.ErrFreeBytesUnsupported) {
			s.outage.begin(time.Now(), "disk space check failed")
			s.diskLog.Warn(s.logger, "data folder low on disk space; /readyz reports 503", "err", err)
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), pingTimeout)
	defer cancel()
	if err := store.Ping(ctx, s.store); err != nil {
		s.outage.begin(time.Now(), "store ping failed")
		s.readyLog.Warn(s.logger, "store ping failed; /readyz reports 503", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	now := time.Now()
	if failures, ok := s.commitsFailing(now); ok {
		s.outage.begin(now, "commits failing")
		s.readyLog.Warn(s.logger, "commits keep failing; /readyz reports 503",
			"failed_commits", failures.Count, "failing_for", now.Sub(failures.First).Round(time.Millisecond))
		http.Error(w, "commits failing", http.StatusServiceUnavailable)
		return
	}
	if since, reason, ok := s.outage.end(); ok {
		s.logger.Info("/readyz reports ready again", "reason", reason,
			"unavailable_for", time.Since(since).Round(time.Millisecond))
	}
	w.Write([]byte("ready\n"))
}

// commitsFailing returns the failed commits since the last successful one,
// and ok true when they make the server unready at now: at least
// minFailedCommits of them, spanning at least failingCommitsSpan, and the
// last one less than failedCommitsExpiry ago.
func (s *Server) commitsFailing(now time.Time) (failures collector.CommitFailures, ok bool) {
	failures = s.collector.CommitFailures()
	ok = failures.Count >= minFailedCommits &&
		failures.Last.Sub(failures.First) >= s.failingCommitsSpan &&
		now.Sub(failures.Last) < s.failedCommitsExpiry
	return failures, ok
}

// outage records when /readyz began to report 503 for a failed check, so
// that the first ready response after it logs how long it lasted. The
// start-up and draining 503s are no outage. The zero value has none.
type outage struct {
	mu     sync.Mutex
	since  time.Time // zero while /readyz reports ready
	reason string    // the check that failed first
}

// begin starts an outage at now, unless one is going on.
func (o *outage) begin(now time.Time, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		o.since, o.reason = now, reason
	}
}

// end ends the outage and returns its start and reason, or ok false when
// none was going on. Of concurrent calls, only one gets ok true.
func (o *outage) end() (since time.Time, reason string, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		return time.Time{}, "", false
	}
	since, reason = o.since, o.reason
	o.since, o.reason = time.Time{}, ""
	return since, reason, true
}

// metricsHandler serves the registry in the Prometheus text format, behind
// the admin token unless Config.MetricsPublic is set.
func (s *Server) metricsHandler(registry *prometheus.Registry) http.Handler {
	h := promhttp.HandlerFor(registry, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(s.logger.Handler(), slog.LevelError),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
	if s.cfg.MetricsPublic {
		return h
	}
	return s.requireAdmin(h)
}

// serveDeleteInstall deletes every event of one install in one project and
// the install's deletion key hash. The project parameter is required, so
// that a request never deletes in more projects than it names. A repeated
// project or an unknown parameter gets 400, so that a request never
// deletes less than it names either.
func (s *Server) serveDeleteInstall(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	for name := range query {
		if name != "project" {
			writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("unknown parameter %q: remove it, because project is the only parameter", name))
			return
		}
	}
	project := query.Get("project")
	distinctID := r.PathValue("distinct_id")
	switch {
	case len(query["project"]) > 1:
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf(
			"invalid project %q: given %d times, but a request deletes in one project: pass it once, and send one request per project", query["project"], len(query["project"])))
		return
	case project == "":
		writeJSONError(w, http.StatusBadRequest, "missing project parameter: add ?project=NAME, such as ?project=mux")
		return
	case distinctID == "":
		writeJSONError(w, http.StatusBadRequest, "missing distinct_id in the path: DELETE /api/v1/installs/{distinct_id}")
		return
	}

	// A project removed from the configuration may still have events
	// stored, and they must stay deletable. Such a project is known before
	// the deletion runs, so that a retry running at the same time finds it
	// known too, even once the first request deleted its last events.
	configured := slices.Contains(s.projects, project)
	if !configured {
		if err := s.learnRemovedProject(r.Context(), project); err != nil {
			s.logger.Error("count the events of an unconfigured project failed", "project", project, "err", err)
			writeJSONError(w, http.StatusServiceUnavailable, "checking whether events of the project are stored failed; retry later")
			return
		}
	}
	deleted, err := s.collector.DeleteInstall(r.Context(), project, distinctID)
	if err != nil {
		s.logger.Error("delete install failed", "project", project, "deleted", deleted, "err", err)
		writeJSONError(w, http.StatusServiceUnavailable, "deleting the install's events or its deletion key failed; retry later")
		return
	}
	if !configured && deleted == 0 && !s.removedProjects.contains(project) {
		s.writeUnknownProject(w, project)
		return
	}
	// The install ID is not logged: the log outlives the deletion.
	s.logger.Info("install deleted", "project", project, "deleted", deleted)
	writeJSON(w, http.StatusOK, map[string]int64{"deleted": deleted})
}

// learnRemovedProject remembers project, which is not configured, as one
// that a deletion may name when it has events stored. The server then
// responds with 200 to the deletions in it, and to their retries after
// its last events are gone. A misspelled name has no events, so it gets 404.
func (s *Server) learnRemovedProject(ctx context.Context, project string) error {
	if s.removedProjects.contains(project) {
		return nil
	}
	overview, err := s.store.Overview(ctx, store.Filter{Project: project})
	if err != nil {
		return err
	}
	if overview.TotalEvents > 0 {
		s.removedProjects.add(project)
	}
	return nil
}

// removedProjects is a set of project names that is safe for concurrent
// use. It only grows, by names of projects that had events stored.
type removedProjects struct {
	mu    sync.Mutex
	names map[string]bool
}

func (p *removedProjects) add(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.names == nil {
		p.names = make(map[string]bool)
	}
	p.names[name] = true
}

func (p *removedProjects) contains(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.names[name]
}

// writeUnknownProject responds with 404 to a project parameter that names
// no configured project and no stored one. It lists the configured
// projects as the query API does.
func (s *Server) writeUnknownProject(w http.ResponseWriter, project string) {
	quoted := make([]string, len(s.projects))
	for i, name := range s.projects {
		quoted[i] = strconv.Quote(name)
	}
	writeJSON(w, http.StatusNotFound, map[string]any{
		"error": "unknown project " + strconv.Quote(project) + ": use one of the configured projects " + strings.Join(quoted, ", ") +
			" (no events of " + strconv.Quote(project) + " are stored either, so there is nothing to delete)",
		"projects": s.projects,
	})
}

// requireAdmin lets a request through only with the admin token as a Bearer
// token. Cookies are not accepted, so a page of another site cannot make a
// browser send an authenticated request.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !s.admin.matches(strings.TrimSpace(token)) {
			s.authLog.Warn(s.logger, "admin request rejected: missing or invalid admin token", "path", loggedPath(r))
			w.Header().Set("WWW-Authenticate", `Bearer realm="candor"`)
			// The dashboard's 401 starts with the same words.
			writeJSONError(w, http.StatusUnauthorized, `missing or invalid admin token: send "Authorization: Bearer ADMIN_TOKEN"`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tokenChecker compares candidates with a secret in constant time, through
// SHA-256 digests of equal length.
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// methodNotAllowed responds with 405 and an Allow header naming the one
// method that the path accepts.
func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeJSONError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed on "+strconv.Quote(r.URL.Path)+": use "+allow)
	})
}

func writeJSONError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"error": message})
}
