package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/candor-dev/candor/sdk/mux"
	"github.com/candor-dev/candor/sdk/webtelemetry"
)

// Limits of the app's inputs.
const (
	maxNameLen    = 64     // characters in a workspace name
	maxMessageLen = 20000  // characters in a message
	maxBodyBytes  = 128000 // bytes in a request body
)

// models are the model IDs the page offers; the stub replies the same for each.
var models = []string{"anthropic/claude-sonnet-4-5", "openai/gpt-5", "google/gemini-2.5-pro"}

type workspace struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	RuntimeType string    `json:"runtimeType"`
	Messages    []message `json:"messages"`
}

type message struct {
	ID    string `json:"id"`
	Role  string `json:"role"` // user or assistant
	Text  string `json:"text"`
	Model string `json:"model,omitempty"`
}

// stateResponse is the body of GET /api/state, which the page loads first.
type stateResponse struct {
	Workspaces      []workspaceSummary `json:"workspaces"`
	Models          []string           `json:"models"`
	RuntimeTypes    []string           `json:"runtimeTypes"`
	ThinkingLevels  []string           `json:"thinkingLevels"`
	AllowAutomation bool               `json:"allowAutomation"`
}

type workspaceSummary struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	RuntimeType string `json:"runtimeType"`
}

func (a *App) serveState(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	summaries := make([]workspaceSummary, len(a.workspaces))
	for i, ws := range a.workspaces {
		summaries[i] = workspaceSummary{ID: ws.ID, Name: ws.Name, RuntimeType: ws.RuntimeType}
	}
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, stateResponse{
		Workspaces:      summaries,
		Models:          models,
		RuntimeTypes:    mux.RuntimeTypes,
		ThinkingLevels:  mux.ThinkingLevels,
		AllowAutomation: a.cfg.AllowAutomation,
	})
}

func (a *App) serveCreateWorkspace(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name        string `json:"name"`
		RuntimeType string `json:"runtimeType"`
	}
	if !decodeRequest(w, r, &req) {
		return
	}
	name := strings.TrimSpace(req.Name)
	var problem string
	switch {
	case name == "":
		problem = "missing workspace name: type one"
	case utf8.RuneCountInString(name) > maxNameLen:
		problem = fmt.Sprintf("workspace name too long: use at most %d characters", maxNameLen)
	case !slices.Contains(mux.RuntimeTypes, req.RuntimeType):
		problem = fmt.Sprintf("unknown runtime %q: use one of %s", req.RuntimeType, strings.Join(mux.RuntimeTypes, ", "))
	}
	if problem != "" {
		a.telemetry.Capture(mux.ErrorOccurred{ErrorType: "ValidationError", Context: "workspace-creation"})
		writeError(w, http.StatusBadRequest, problem)
		return
	}

	ws := &workspace{ID: uuid.NewString(), Name: name, RuntimeType: req.RuntimeType, Messages: []message{}}
	a.mu.Lock()
	a.workspaces = append(a.workspaces, ws)
	a.mu.Unlock()
	writeJSON(w, http.StatusCreated, ws)
}

func (a *App) serveWorkspace(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	var snapshot *workspace
	if ws := a.findWorkspace(r.PathValue("id")); ws != nil {
		copied := *ws
		copied.Messages = slices.Clone(ws.Messages)
		snapshot = &copied
	}
	a.mu.Unlock()

	if snapshot == nil {
		writeError(w, http.StatusNotFound, "workspace not found")
		return
	}
	writeJSON(w, http.StatusOK, snapshot)
}

// findWorkspace returns the workspace with the ID, or nil. a.mu must be held.
func (a *App) findWorkspace(id string) *workspace {
	for _, ws := range a.workspaces {
		if ws.ID == id {
			return ws
		}
	}
	return nil
}

// serveSendMessage stores the user's message, waits for the stub model's
// reply and captures stream_completed. When the page goes away first, the
// reply is dropped and the stream counts as interrupted.
func (a *App) serveSendMessage(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Text  string `json:"text"`
		Model string `json:"model"`
	}
	if !decodeRequest(w, r, &req) {
		return
	}
	text := strings.TrimSpace(req.Text)
	if text == "" || utf8.RuneCountInString(text) > maxMessageLen || !slices.Contains(models, req.Model) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid message: send 1 to %d characters and a model from %s", maxMessageLen, strings.Join(models, ", ")))
		return
	}
	id := r.PathValue("id")
	user := message{ID: uuid.NewString(), Role: "user", Text: text}
	if !a.appendMessage(id, user) {
		writeError(w, http.StatusNotFound, "workspace not found")
		return
	}

	start := time.Now()
	reply, interrupted := a.stubReply(r, text)
	reply.Model = req.Model
	a.telemetry.Capture(mux.StreamCompleted{
		Model:          req.Model,
		WasInterrupted: interrupted,
		DurationSecs:   time.Since(start).Seconds(),
		OutputTokens:   int64(math.Ceil(float64(len(reply.Text)) / 4)),
	})
	if interrupted {
		return
	}
	a.appendMessage(id, reply)
	writeJSON(w, http.StatusOK, map[string]message{"user": user, "reply": reply})
}

// stubReply waits for the reply delay and returns a canned reply, or
// reports that the request was cancelled first.
func (a *App) stubReply(r *http.Request, text string) (message, bool) {
	timer := time.NewTimer(a.cfg.ReplyDelay)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-r.Context().Done():
		return message{}, true
	}
	canned := fmt.Sprintf("This is a stub model, so every reply is canned. Your message had %d characters. "+
		"Usage telemetry records only that length, rounded up to a power of two, never the text.",
		utf8.RuneCountInString(text))
	return message{ID: uuid.NewString(), Role: "assistant", Text: canned}, false
}

func (a *App) appendMessage(workspaceID string, m message) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	ws := a.findWorkspace(workspaceID)
	if ws == nil {
		return false
	}
	ws.Messages = append(ws.Messages, m)
	return true
}

// serveShare makes a link to one message. Sharing stands for a feature
// that uses the vendor's services, so it is rejected when the user opted
// out of telemetry.
func (a *App) serveShare(w http.ResponseWriter, r *http.Request) {
	var req struct {
		MessageID string `json:"messageId"`
	}
	if !decodeRequest(w, r, &req) {
		return
	}
	if st := webtelemetry.StatusOf(a.telemetry.Status()); st.Explicit {
		writeError(w, http.StatusForbidden, shareOffMessage(st))
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ws := range a.workspaces {
		for _, m := range ws.Messages {
			if m.ID == req.MessageID {
				token := uuid.NewString()
				a.shared[token] = m.Text
				writeJSON(w, http.StatusCreated, map[string]string{"url": "/shared/" + token})
				return
			}
		}
	}
	writeError(w, http.StatusNotFound, "message not found")
}

// shareOffMessage returns why sharing is off and how to turn it back on.
func shareOffMessage(st webtelemetry.Status) string {
	if st.Locked {
		return "sharing is off because " + st.Reason + ": unset it and restart Mux to share"
	}
	return "sharing is off because you turned usage telemetry off: turn it on in Settings to share"
}

func (a *App) serveShared(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	text, ok := a.shared[r.PathValue("token")]
	a.mu.Unlock()
	if !ok {
		http.Error(w, "shared message not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, text)
}

// decodeRequest reads a JSON request body into v. When it cannot, it
// writes the error response and returns false. Requiring JSON keeps other sites' forms out: a
// cross-origin JSON request needs a CORS preflight, which the app never
// grants.
func decodeRequest(w http.ResponseWriter, r *http.Request, v any) bool {
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send the body as application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large: the limit is %d bytes", maxBodyBytes))
			return false
		}
		writeError(w, http.StatusBadRequest, "invalid JSON body")
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
