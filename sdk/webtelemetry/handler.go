package webtelemetry

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/internal/safelog"
	"github.com/candor-dev/candor/sdk/telemetry"
)

// DefaultMaxBodyBytes is the request body limit when Config.MaxBodyBytes is
// 0. One event of the Mux catalog takes less than 1 KiB as JSON.
const DefaultMaxBodyBytes = 16 << 10

// Config configures a Handler. Client is required; the zero value of every
// other field is a documented default.
type Config struct {
	// Client receives the accepted events and holds the switches that
	// status reports and enabled changes.
	Client *telemetry.Client
	// Catalog, if set, must have the fingerprint of the catalog Client was
	// built with, or New panics. The handler checks each event against the
	// client's catalog itself, which nil selects too.
	Catalog *catalog.Catalog
	// AllowToggle serves POST enabled, which persists the user's choice in
	// config.json of the client's home folder. false rejects it with 403.
	AllowToggle bool
	// AllowedOrigins lists the origins, besides the page's own, whose pages
	// may call the handler, such as "http://localhost:5173" for a
	// development server or "https://mux.example.com" for an app served
	// under a host name. Each is a scheme and a host with an optional port;
	// entries that are not are logged and ignored. nil allows only
	// same-origin pages on localhost or an IP address. The handler accepts
	// the CORS preflights of these origins and sets
	// Access-Control-Allow-Origin for them, so their pages may call it
	// directly or through a proxy.
	AllowedOrigins []string
	// MaxBodyBytes bounds a request body in bytes. 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger receives rejected requests (rate-limited, names only, never
	// values), saved choices and failures to save them. nil discards them.
	// A panic in its handler is recovered and counted by
	// Handler.LogFailures, and the record is lost.
	Logger *slog.Logger
}

// Handler serves the endpoints of a web frontend's telemetry. Build it with
// New.
type Handler struct {
	client      *telemetry.Client
	catalog     *catalog.Catalog
	allowToggle bool
	origins     map[string]bool
	maxBody     int64
	log         *slog.Logger // Config.Logger behind safelog
	logFailures atomic.Int64
	limiter     logLimiter
	capture     captureFunc
	catalogTS   asset
}

// New returns a Handler for cfg. It panics when cfg.Client is nil or
// cfg.Catalog is not the client's catalog, which only a programming mistake
// causes.
func New(cfg Config) *Handler {
	if cfg.Client == nil {
		panic("webtelemetry: Config.Client is required")
	}
	own := cfg.Client.Catalog()
	if cfg.Catalog == nil {
		cfg.Catalog = own
	}
	if got, want := cfg.Catalog.Fingerprint(), own.Fingerprint(); got != want {
		panic(fmt.Sprintf("webtelemetry: Config.Catalog has fingerprint %s, but the client's catalog has %s: leave Config.Catalog nil to use the client's", got, want))
	}
	// An equal copy is checked, but the handler uses the client's own
	// catalog, so that a later change to the copy cannot make it accept
	// events the client drops.
	cfg.Catalog = own
	h := &Handler{
		client:      cfg.Client,
		catalog:     cfg.Catalog,
		allowToggle: cfg.AllowToggle,
		maxBody:     cfg.MaxBodyBytes,
	}
	h.log = safelog.New(cfg.Logger, &h.logFailures)
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	h.origins = parseOrigins(cfg.AllowedOrigins, h.log)
	h.capture = newCapture(cfg.Client)
	h.catalogTS = newAsset(cfg.Catalog.TypeScript(), "application/typescript; charset=utf-8")
	return h
}

// LogFailures returns how many calls into Config.Logger's handler
// panicked. The handler recovers those panics and loses the records.
func (h *Handler) LogFailures() int64 { return h.logFailures.Load() }

//go:embed client.js
var clientJS []byte

//go:embed client.d.ts
var clientDTS []byte

var (
	clientJSAsset  = newAsset(clientJS, "text/javascript; charset=utf-8")
	clientDTSAsset = newAsset(clientDTS, "application/typescript; charset=utf-8")
)

// route is one endpoint: the methods it accepts and its handler.
type route struct {
	methods []string
	serve   func(h *Handler, w http.ResponseWriter, r *http.Request)
	// asset marks the client's files. They contain nothing private, so a
	// page of this server loads them under any host name, and only its
	// calls to the other endpoints fail when the host is not trusted.
	asset bool
	// private marks the endpoints that read the app's state: the install
	// ID, or the telemetry variables of its environment. They also reject
	// requests without browser headers whose Host is a name other than
	// localhost or the host of an origin in AllowedOrigins. Chromium sends
	// no Sec-Fetch-Site from a plain-HTTP page under such a name, such as
	// a DNS rebinding page.
	private bool
}

var routes = map[string]route{
	"track":        {methods: []string{http.MethodPost}, serve: (*Handler).serveTrack},
	"status":       {methods: []string{http.MethodGet, http.MethodHead}, serve: (*Handler).serveStatus, private: true},
	"enabled":      {methods: []string{http.MethodPost}, serve: (*Handler).serveEnabled},
	"sent":         {methods: []string{http.MethodGet, http.MethodHead}, serve: (*Handler).serveSent, private: true},
	"pending":      {methods: []string{http.MethodGet, http.MethodHead}, serve: (*Handler).servePending, private: true},
	"client.js":    {methods: []string{http.MethodGet, http.MethodHead}, serve: func(_ *Handler, w http.ResponseWriter, r *http.Request) { clientJSAsset.serve(w, r) }, asset: true},
	"client.d.ts":  {methods: []string{http.MethodGet, http.MethodHead}, serve: func(_ *Handler, w http.ResponseWriter, r *http.Request) { clientDTSAsset.serve(w, r) }, asset: true},
	"catalog.d.ts": {methods: []string{http.MethodGet, http.MethodHead}, serve: func(h *Handler, w http.ResponseWriter, r *http.Request) { h.catalogTS.serve(w, r) }, asset: true},
}

// notFoundMessage returns the error of a request for path, which matches
// no endpoint. A path that ends in an endpoint after a prefix, such as
// api/telemetry/status, comes from a mount without http.StripPrefix.
func notFoundMessage(path string) string {
	if i := strings.LastIndex(path, "/"); i >= 0 {
		if _, ok := routes[path[i+1:]]; ok {
			return fmt.Sprintf("not found: %q ends in the endpoint %s: mount the handler with http.StripPrefix(%q, handler)",
				path, path[i+1:], "/"+path[:i+1])
		}
	}
	return "not found: the telemetry endpoints are track, status, enabled, sent, pending, client.js, client.d.ts and catalog.d.ts"
}

// ServeHTTP routes a request by its path relative to the mount point, with
// or without a leading slash, so http.StripPrefix may remove the prefix
// with or without its trailing slash.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	path := strings.TrimPrefix(r.URL.Path, "/")
	rt, ok := routes[path]
	if !ok {
		writeError(w, http.StatusNotFound, errorBody{Error: notFoundMessage(path)})
		return
	}
	if h.listsOrigins() {
		w.Header().Add("Vary", "Origin")
	}
	if r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != "" {
		h.servePreflight(w, r, rt)
		return
	}
	if !allowsMethod(rt.methods, r.Method) {
		w.Header().Set("Allow", strings.Join(rt.methods, ", "))
		writeError(w, http.StatusMethodNotAllowed, errorBody{Error: "method " + r.Method + " not allowed: use " + strings.Join(rt.methods, " or ")})
		return
	}
	if msg := h.checkOrigin(r, rt); msg != "" {
		h.logRejected(r, http.StatusForbidden, msg)
		writeError(w, http.StatusForbidden, errorBody{Error: msg})
		return
	}
	if h.isListedOrigin(r) {
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
	}
	rt.serve(h, w, r)
}

func allowsMethod(methods []string, method string) bool {
	for _, m := range methods {
		if m == method {
			return true
		}
	}
	return false
}

// errorBody is the JSON body of every error response. Event and Property
// are set for rejected events; Reason is the catalog's reason.
type errorBody struct {
	Error    string `json:"error"`
	Event    string `json:"event,omitempty"`
	Property string `json:"property,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func writeError(w http.ResponseWriter, status int, body errorBody) {
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}

// asset is a file served from memory with a strong ETag, so browsers
// revalidate it cheaply.
type asset struct {
	data        []byte
	contentType string
	etag        string
}

func newAsset(data []byte, contentType string) asset {
	sum := sha256.Sum256(data)
	return asset{data: data, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

func (a asset) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", a.etag)
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(a.data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(a.data)
	}
}
