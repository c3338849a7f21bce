package collector

import (
	"slices"
	"strings"
)

// route is one capture path and how its payloads are read.
type route struct {
	path   string
	batch  bool // /batch: the larger body cap applies
	legacy bool // a payload still in base64 after decompression is decoded once more
	engage bool // an object without "event" is an $identify event
}

// routeList holds the capture paths of PostHog's v0 protocol. Each is also
// served with a trailing slash.
var routeList = []route{
	{path: "/batch", batch: true},
	{path: "/i/v0/e"},
	{path: "/e", legacy: true},
	{path: "/capture", legacy: true},
	{path: "/track", legacy: true},
	{path: "/engage", legacy: true, engage: true},
}

// Routes returns the paths the collector serves, each without and with a
// trailing slash, for mounting on an http.ServeMux. A ServeMux redirects a
// path such as "//batch/" with 307 before any handler runs, and posthog-go
// sends that path when its endpoint ends in a slash. To serve such paths
// without the redirect, a server calls Handles before its mux.
func (c *Collector) Routes() []string {
	paths := make([]string, 0, 2*len(routeList))
	for _, r := range routeList {
		paths = append(paths, r.path, r.path+"/")
	}
	return paths
}

// Handles reports whether ServeHTTP serves path: a capture path, with or
// without a trailing slash, after runs of slashes are collapsed to one.
func (c *Collector) Handles(path string) bool {
	_, ok := matchRoute(path)
	return ok
}

// otherPostHogSegments are the first path segments of PostHog endpoints
// that clients such as posthog-js call beside capture: feature flags
// (/decide, /flags) and session recordings (/s). The collector serves none
// of them.
var otherPostHogSegments = []string{"decide", "flags", "s"}

// OwnsPath reports whether path belongs to the collector: a path that
// Handles reports, any other path under the first segment of a capture
// path, such as /batch/x or /i/v0/x, or a path of otherPostHogSegments.
// ServeHTTP responds to the paths that Handles does not report with a
// JSON 404 that lists the capture paths, so a server can route OwnsPath
// to the collector to give PostHog clients that JSON error.
func (c *Collector) OwnsPath(path string) bool {
	if c.Handles(path) {
		return true
	}
	first, _, _ := strings.Cut(strings.TrimLeft(path, "/"), "/")
	if slices.Contains(otherPostHogSegments, first) {
		return true
	}
	for _, r := range routeList {
		routeFirst, _, _ := strings.Cut(strings.TrimPrefix(r.path, "/"), "/")
		if first == routeFirst {
			return true
		}
	}
	return false
}

// capturePathList returns the capture paths, each with a trailing slash,
// as a list for a message: "/batch/, /i/v0/e/, … or /engage/".
func capturePathList() string {
	paths := make([]string, len(routeList))
	for i, r := range routeList {
		paths[i] = r.path + "/"
	}
	last := len(paths) - 1
	return strings.Join(paths[:last], ", ") + " or " + paths[last]
}

func matchRoute(path string) (route, bool) {
	path = collapseSlashes(path)
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	for _, r := range routeList {
		if r.path == path {
			return r, true
		}
	}
	return route{}, false
}

func collapseSlashes(path string) string {
	if !strings.Contains(path, "//") {
		return path
	}
	var b strings.Builder
	b.Grow(len(path))
	for i := 0; i < len(path); i++ {
		if path[i] == '/' && i > 0 && path[i-1] == '/' {
			continue
		}
		b.WriteByte(path[i])
	}
	return b.String()
}
