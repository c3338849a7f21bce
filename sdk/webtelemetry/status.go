package webtelemetry

import (
	"net/http"
	"strings"

	"github.com/candor-dev/candor/sdk/telemetry"
)

// Status is the body of GET status and of a successful POST enabled.
type Status struct {
	// Enabled reports whether events are sent now. A settings toggle shows
	// this value, so it never reads off while events are sent. In debug
	// print mode it is true, although nothing is sent, and Reason states it.
	Enabled bool `json:"enabled"`
	// Explicit reports whether the user switched telemetry off, with the
	// persisted choice or an environment variable such as
	// MUX_DISABLE_TELEMETRY=1, as opposed to a CI or test run. Apps hide
	// features that use the vendor's services, such as sharing, when it is
	// true.
	Explicit bool `json:"explicit"`
	// Locked reports whether a switch other than the persisted choice keeps
	// telemetry off, such as MUX_DISABLE_TELEMETRY=1 or DO_NOT_TRACK, so
	// the toggle cannot turn it on. POST enabled still saves an opt-out.
	Locked bool `json:"locked"`
	// Reason is one sentence on what decides the state, such as
	// "MUX_DISABLE_TELEMETRY=1 turns telemetry off".
	Reason string `json:"reason"`
	// Notes has one sentence per telemetry variable set to a value that
	// has no effect, such as `MUX_DISABLE_TELEMETRY="true" is ignored:
	// only "1" turns telemetry off` or a MUX_TELEMETRY_DEBUG value other
	// than print and tee, and is empty, never null, otherwise. A settings
	// page shows them, because the user who set such a variable expects
	// telemetry to be off or printed.
	Notes []string `json:"notes"`
}

// StatusOf converts the client's status to the status endpoint's form.
func StatusOf(st telemetry.Status) Status {
	notes := append([]string{}, st.Ignored...)
	if st.Enabled {
		return Status{Enabled: true, Reason: enabledReason(st.Debug), Notes: notes}
	}
	return Status{
		Explicit: st.ExplicitlyDisabled,
		Locked:   st.Switch != telemetry.ConfigFile,
		Reason:   switchReason(st),
		Notes:    notes,
	}
}

// enabledReason returns the reason of an enabled status. Print mode sends
// nothing although no switch is off, so the reason states it.
func enabledReason(debug string) string {
	switch debug {
	case telemetry.DebugPrint:
		return "the app's TELEMETRY_DEBUG variable is print, so each event goes to the debug output and nothing is sent"
	case telemetry.DebugTee:
		return "no switch turns telemetry off, and the app's TELEMETRY_DEBUG variable is tee, so each event also goes to the debug output"
	}
	return "no switch turns telemetry off"
}

// automationReason is the index of the automation switch's sentence in
// telemetry.Status.Reasons.
const automationReason = 3

// switchReason returns the sentence of Status.Reasons written by the switch
// that turned telemetry off.
func switchReason(st telemetry.Status) string {
	for _, r := range st.Reasons {
		if strings.HasPrefix(r, st.Switch) {
			return r
		}
	}
	// The automation sentence starts with the variable it found, such as
	// CI=true, and is the fourth of Reasons, as in Client.Switches.
	if st.Switch == telemetry.SwitchAutomation && len(st.Reasons) > automationReason {
		return st.Reasons[automationReason]
	}
	return "telemetry is off (switch: " + st.Switch + ")"
}

func (h *Handler) serveStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, StatusOf(h.client.Status()))
}

// enabledRequest is the body of POST enabled. Enabled is a pointer so a
// missing field is an error, not false.
type enabledRequest struct {
	Enabled *bool `json:"enabled"`
}

// serveEnabled persists the user's choice and returns the new status. It is
// forbidden unless Config.AllowToggle is set, and turning telemetry on is
// forbidden while another switch locks the state.
func (h *Handler) serveEnabled(w http.ResponseWriter, r *http.Request) {
	if !h.allowToggle {
		h.reject(w, r, http.StatusForbidden, errorBody{Error: "changing the telemetry choice is not allowed here: the app did not set AllowToggle"})
		return
	}
	var req enabledRequest
	if status, body := h.decodeJSON(w, r, &req); status != 0 {
		h.reject(w, r, status, body)
		return
	}
	if req.Enabled == nil {
		h.reject(w, r, http.StatusBadRequest, errorBody{Error: `missing "enabled": send {"enabled": true} or {"enabled": false}`})
		return
	}
	// Saving an opt-out is allowed while locked, so that telemetry stays
	// off after the locking switch, such as DO_NOT_TRACK, is gone.
	if st := StatusOf(h.client.Status()); st.Locked && *req.Enabled {
		h.reject(w, r, http.StatusForbidden, errorBody{Error: "telemetry is locked: " + st.Reason})
		return
	}

	if err := h.client.SetEnabled(*req.Enabled); err != nil {
		h.log.Error("webtelemetry: save telemetry choice failed", "enabled", *req.Enabled, "error", err)
		writeError(w, http.StatusInternalServerError, errorBody{Error: err.Error()})
		return
	}
	st := StatusOf(h.client.Status())
	h.log.Info("webtelemetry: telemetry choice saved", "enabled", *req.Enabled, "now_enabled", st.Enabled)
	writeJSON(w, http.StatusOK, st)
}
