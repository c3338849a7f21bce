package webtelemetry

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/candor-dev/candor/sdk/telemetry"
)

// Bounds of the limit query parameter of GET sent and GET pending:
// DefaultSentLimit events are returned without it, and MaxSentLimit is the
// largest value accepted.
const (
	DefaultSentLimit = 100
	MaxSentLimit     = 10000
)

// Sent is the body of GET sent.
type Sent struct {
	// Logged reports whether the app keeps a log of sent events
	// (telemetry.Config.SentLog). Events is empty when it does not.
	Logged bool `json:"logged"`
	// Events holds the most recent sent events, oldest first, each as the
	// sent log recorded it: the event's JSON as the collector received it.
	// It is empty, never null, when there are none.
	Events []json.RawMessage `json:"events"`
	// Note, when Logged is false, names the setting that turns the log on.
	Note string `json:"note,omitempty"`
}

// Pending is the body of GET pending.
type Pending struct {
	// Events holds the first events waiting to be sent, up to the limit,
	// in the order they will be sent, as telemetry.Client.Pending lists
	// them. It is empty, never null, when none wait.
	Events []telemetry.PendingEvent `json:"events"`
	// Total is the number of all waiting events.
	Total int `json:"total"`
}

// serveSent returns the most recent entries of the client's sent log. The
// limit query parameter, 1 to MaxSentLimit, bounds their number.
func (h *Handler) serveSent(w http.ResponseWriter, r *http.Request) {
	limit, ok := h.readLimit(w, r)
	if !ok {
		return
	}

	events, err := h.client.Sent(limit)
	if errors.Is(err, telemetry.ErrNoSentLog) {
		writeJSON(w, http.StatusOK, Sent{Events: []json.RawMessage{}, Note: err.Error()})
		return
	}
	if err != nil {
		h.log.Error("webtelemetry: read sent log failed", "error", err)
		writeError(w, http.StatusInternalServerError, errorBody{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, Sent{Logged: true, Events: events})
}

// readLimit returns the request's limit query parameter, or
// DefaultSentLimit without one. It responds 400 and returns false when the
// value is not a number from 1 to MaxSentLimit.
func (h *Handler) readLimit(w http.ResponseWriter, r *http.Request) (int, bool) {
	raw := r.URL.Query().Get("limit")
	if raw == "" {
		return DefaultSentLimit, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > MaxSentLimit {
		h.reject(w, r, http.StatusBadRequest, errorBody{Error: "invalid limit " + strconv.Quote(raw) + ": use a number from 1 to " + strconv.Itoa(MaxSentLimit)})
		return 0, false
	}
	return n, true
}

// servePending returns the first events waiting to be sent, up to the
// limit query parameter, and their total. A spool that could not be read
// is logged, and the events found are returned.
func (h *Handler) servePending(w http.ResponseWriter, r *http.Request) {
	limit, ok := h.readLimit(w, r)
	if !ok {
		return
	}
	events, err := h.client.Pending(r.Context())
	if err != nil {
		h.log.Error("webtelemetry: list pending events failed", "error", err, "listed", len(events))
		if events == nil {
			writeError(w, http.StatusInternalServerError, errorBody{Error: err.Error()})
			return
		}
	}
	if events == nil {
		events = []telemetry.PendingEvent{}
	}
	writeJSON(w, http.StatusOK, Pending{Events: events[:min(limit, len(events))], Total: len(events)})
}
