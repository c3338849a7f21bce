package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"sync"
	"time"

	"github.com/candor-dev/candor/sdk/catalog"
)

// Suffixes of the app's own environment switches. The full name starts
// with the prefix that Config.App gives, such as MUX_; EnvVar builds it.
const (
	DisableVarSuffix = "DISABLE_TELEMETRY" // "1" switches telemetry off
	E2EVarSuffix     = "E2E"               // "1" marks an end-to-end test run
	DebugVarSuffix   = "TELEMETRY_DEBUG"   // DebugPrint or DebugTee
)

// Names of the switches in SwitchState and Status.Switch that are not a
// variable or a file.
const (
	SwitchAutomation = "automation" // a CI, go test or <APP>_E2E=1 run
	SwitchNotice     = "notice"     // Config.RequireNotice and the notice was not shown
	// SwitchGetenv keeps telemetry off once Config.Getenv has panicked,
	// because the user's opt-out variables can no longer be read.
	SwitchGetenv = "Config.Getenv"
)

// EnvVar returns the name of one of the app's environment switches:
// EnvVar("mux", DisableVarSuffix) is "MUX_DISABLE_TELEMETRY".
func EnvVar(app, suffix string) string {
	return envPrefix(app) + suffix
}

// CIVariables returns the names of the environment variables that mark a
// CI run, in the order they are checked.
func CIVariables() []string {
	names := make([]string, len(ciVariables))
	for i, v := range ciVariables {
		names[i] = v.name
	}
	return names
}

// privacyState is the client's state for the transparency and deletion
// features. The sender's batches in memory are read only on the sender
// goroutine, through inspect.
type privacyState struct {
	// inspect carries functions for the sender goroutine to run between
	// two of its own steps.
	inspect chan func(*sender)
	// afterClose serializes those functions once the sender has stopped.
	afterClose sync.Mutex
	// forgetMu serializes Forget calls.
	forgetMu sync.Mutex

	mu         sync.Mutex // guards the fields below
	secret     string     // the deletion secret, "" until first needed
	secretHash string
	notice     noticeCache
}

// initPrivacy prepares the privacy state of a client that build is
// assembling, before the first refresh.
func (c *Client) initPrivacy() {
	c.privacy.inspect = make(chan func(*sender))
	c.privacy.notice.version = c.cfg.Catalog.Fingerprint()
	c.uploader.extra = c.requestFields
}

// onSender runs fn on the sender goroutine and waits for it. Once the
// sender has stopped, fn runs on the caller's goroutine with a nil sender.
// When ctx ends first, onSender returns its error and fn may still run:
// the caller must then ignore what fn writes.
func (c *Client) onSender(ctx context.Context, fn func(s *sender)) error {
	done := make(chan struct{})
	task := func(s *sender) {
		defer close(done)
		fn(s)
	}
	select {
	case c.privacy.inspect <- task:
	case <-c.done:
		c.privacy.afterClose.Lock()
		defer c.privacy.afterClose.Unlock()
		fn(nil)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Locations of a PendingEvent.
const (
	PendingMemory = "memory" // in the client's queue or retry buffer
	PendingSpool  = "spool"  // in <Home>/spool, written by this or an earlier run
)

// PendingEvent is one event waiting to be sent.
type PendingEvent struct {
	// Location is PendingMemory or PendingSpool.
	Location string `json:"location"`
	// Name, UUID, DistinctID and Timestamp are copied from JSON.
	Name       string `json:"event"`
	UUID       string `json:"uuid"`
	DistinctID string `json:"distinct_id"`
	Timestamp  string `json:"timestamp"`
	// JSON is the event exactly as the batch request will carry it.
	JSON json.RawMessage `json:"wire"`
}

// Pending returns the events waiting to be sent, in the order the sender
// sends them: the spool first, oldest batch first, then the batches in
// memory. Events still in the capture queue are encoded first, as the
// sender would encode them, so they are listed too. Spooled events are
// listed as checking them against the current catalog leaves them, which
// the sender does before it sends them.
//
// The list is a snapshot. The sender, or another process of the app, may
// send spooled events right after. Spool files that a process is sending
// at that moment are not listed.
func (c *Client) Pending(ctx context.Context) ([]PendingEvent, error) {
	var out []PendingEvent
	var spoolErr error
	err := c.onSender(ctx, func(s *sender) {
		if s != nil {
			s.applySwitches()
			s.drainQueueHeld()
		}
		batches, err := c.peekSpool()
		spoolErr = err
		for _, b := range batches {
			out = appendPending(out, PendingSpool, b.events)
		}
		if s == nil {
			return
		}
		for _, b := range s.pending {
			out = appendPending(out, PendingMemory, b.events)
		}
		out = appendPending(out, PendingMemory, s.current.events)
	})
	if err != nil {
		return nil, fmt.Errorf("list pending telemetry: %w", err)
	}
	if spoolErr != nil {
		return out, fmt.Errorf("list pending telemetry: read spool: %s", errorText(spoolErr))
	}
	return out, nil
}

func appendPending(out []PendingEvent, location string, events [][]byte) []PendingEvent {
	for _, raw := range events {
		var ev PendingEvent
		json.Unmarshal(raw, &ev) // encoded events and spool lines are valid JSON
		ev.Location = location
		ev.JSON = bytes.Clone(raw)
		out = append(out, ev)
	}
	return out
}

// peekSpool reads the unclaimed spool batches, oldest first, without
// claiming them. Each batch holds its events as the sender will send them
// after checking them against the catalog again (recheckBatch): without
// the events that check drops, and without the properties it removes.
// The events are counted when the sender claims the file, so nothing is
// counted or written here, except the files that listBounded drops to keep
// the spool within its bounds.
func (c *Client) peekSpool() ([]*batch, error) {
	if c.spool == nil {
		return nil, nil
	}
	files, err := c.spool.listBounded()
	if err != nil {
		return nil, err
	}
	var out []*batch
	for _, f := range files {
		if f.claimed {
			continue
		}
		b, err := readSpoolFile(filepath.Join(c.spool.dir, f.name), f.events, c.spool.maxBytes)
		if err != nil || len(b.events) == 0 {
			continue // claimed since the listing, or dropped when claimed
		}
		b.events = recheckBatch(c.cfg.Catalog, b.events).events
		if len(b.events) == 0 {
			continue
		}
		out = append(out, b)
	}
	return out, nil
}

// Sources of a Payload.
const (
	PayloadSpool  = PendingSpool  // the oldest spooled batch
	PayloadMemory = PendingMemory // the oldest batch in memory
	PayloadSample = "sample"      // the sample event, because nothing is pending
)

// Preview placeholders, used where a disabled client has no install ID or
// deletion secret yet. Both have the form of the real value.
const (
	PreviewInstallID       = "00000000-0000-4000-8000-000000000000"
	PreviewDeletionKeyHash = "0000000000000000000000000000000000000000000000000000000000000000"
)

// Payload is one batch request as the sender would post it.
type Payload struct {
	// URL is the request's address: Endpoint + "/batch/".
	URL string
	// Body is the request body before gzip compression, byte for byte as
	// the sender writes it, except sent_at: the sender stamps the time of
	// the upload, and Body holds the time of the NextPayload call.
	Body []byte
	// Events counts the events in Body, 0 when nothing is pending and no
	// sample was given.
	Events int
	// Source is PayloadSpool, PayloadMemory or PayloadSample.
	Source string
	// Preview reports that telemetry is disabled, so this request would not
	// be sent now. Body then holds the sample event. Where the install ID or
	// the deletion secret does not exist yet, because a disabled client
	// creates neither, distinct_id and deletion_key_hash hold
	// PreviewInstallID and PreviewDeletionKeyHash.
	Preview bool
}

// NextPayload returns the next batch request the sender would post. That
// is the oldest spooled batch, or else the oldest batch in memory. When
// nothing is waiting and sample is not nil, it is a request that holds
// only sample, encoded and checked against the catalog as Capture would.
// Nothing is sent or removed.
//
// While telemetry is disabled it returns a preview built from sample. It
// fails when sample breaks the catalog.
func (c *Client) NextPayload(ctx context.Context, sample catalog.Event) (Payload, error) {
	st := c.refresh()
	p := Payload{URL: c.cfg.Endpoint + "/batch/", Preview: !st.Enabled}
	var encodeErr error
	err := c.onSender(ctx, func(s *sender) {
		var events [][]byte
		if st.Enabled {
			p.Source, events = c.nextBatch(s)
		}
		if events == nil && sample != nil {
			p.Source = PayloadSample
			events, encodeErr = c.encodeSample(sample, p.Preview)
		}
		if encodeErr != nil || events == nil {
			return
		}
		p.Events = len(events)
		p.Body = c.payloadBody(events, p.Preview)
	})
	if err != nil {
		return Payload{}, fmt.Errorf("build next telemetry payload: %w", err)
	}
	if encodeErr != nil {
		return Payload{}, encodeErr
	}
	if p.Events == 0 {
		p.Source = ""
	}
	return p, nil
}

// nextBatch returns the events of the batch the sender would upload next,
// as sender.next does, without claiming or removing it.
func (c *Client) nextBatch(s *sender) (source string, events [][]byte) {
	if s != nil {
		s.drainQueueHeld()
	}
	if batches, _ := c.peekSpool(); len(batches) > 0 {
		return PayloadSpool, batches[0].events
	}
	if s == nil {
		return "", nil
	}
	if len(s.pending) > 0 {
		return PayloadMemory, s.pending[0].events
	}
	if len(s.current.events) > 0 {
		return PayloadMemory, s.current.events
	}
	return "", nil
}

// encodeSample encodes sample as the sender encodes a captured event that
// Catalog.AppendProperties declines: through Properties, the base
// properties and feature flags, Normalize and encoding/json, which write
// the same JSON. TestNextPayloadSampleMatchesCapture checks that the two
// stay equal.
func (c *Client) encodeSample(sample catalog.Event, preview bool) ([][]byte, error) {
	id := c.InstallID()
	if preview {
		id = c.storedInstallID()
	}
	name, props, err := c.cfg.Catalog.Properties(sample)
	if err != nil {
		return nil, fmt.Errorf("encode sample event %q: %w: pass an event of the catalog", name, err)
	}
	e := c.encoder
	for k, v := range e.base {
		if _, taken := props[k]; !taken {
			props[k] = v
		}
	}
	e.mu.Lock()
	maps.Copy(props, e.flags)
	e.mu.Unlock()

	normalized, _, err := c.cfg.Catalog.Normalize(name, props)
	if err != nil {
		return nil, fmt.Errorf("encode sample event %q: %w: pass an event that passes the catalog", name, err)
	}
	data, err := json.Marshal(wireEvent{
		UUID:       newUUID(),
		Event:      name,
		DistinctID: id,
		Timestamp:  c.cfg.Clock().UTC().Format(time.RFC3339Nano),
		Properties: normalized,
	})
	if err != nil {
		return nil, fmt.Errorf("encode sample event %q: %w", name, err)
	}
	return [][]byte{data}, nil
}

// payloadBody builds the request body for events with the uploader. A
// preview carries the stored deletion key hash, or the placeholder.
func (c *Client) payloadBody(events [][]byte, preview bool) []byte {
	if !preview {
		return bytes.Clone(c.uploader.payload(events))
	}
	saved := c.uploader.extra
	c.uploader.extra = func() string { return deletionKeyMember(c.storedDeletionKeyHash()) }
	defer func() { c.uploader.extra = saved }()
	return bytes.Clone(c.uploader.payload(events))
}

// storedInstallID returns the install ID in Home without creating one, or
// PreviewInstallID when there is none.
func (c *Client) storedInstallID() string {
	if c.cfg.Home != "" {
		if id, err := readID(filepath.Join(c.cfg.Home, InstallIDFile)); err == nil {
			return id
		}
	}
	return PreviewInstallID
}

// storedDeletionKeyHash returns the hash of the secret in Home without
// creating one, or PreviewDeletionKeyHash when there is none.
func (c *Client) storedDeletionKeyHash() string {
	if c.cfg.Home != "" {
		if secret, err := readSecret(filepath.Join(c.cfg.Home, SecretFile)); err == nil {
			return HashDeletionSecret(secret)
		}
	}
	return PreviewDeletionKeyHash
}

// SwitchState is one switch of the decision whether telemetry is on.
type SwitchState struct {
	// Name is the variable, file or condition: such as
	// "MUX_DISABLE_TELEMETRY", DoNotTrackVar, ConfigFile, SwitchAutomation
	// or SwitchNotice.
	Name string
	// Applies reports whether the switch turns telemetry off now.
	Applies bool
	// Decides reports whether this is the first switch that applies, the
	// one Status.Switch names.
	Decides bool
	// Reason is one plain sentence on the switch's state.
	Reason string
}

// Switches returns every switch in the order they are checked, with
// whether each one applies now: the four of Status, SwitchGetenv only once
// Config.Getenv has panicked, and then the notice (see
// Config.RequireNotice). It reads the switches again, as Status does.
func (c *Client) Switches() []SwitchState {
	st := c.refresh()
	sw := c.switches
	automation := sw.automation()
	states := []SwitchState{
		{Name: sw.disableVar, Applies: sw.getenv(sw.disableVar) == "1"},
		{Name: DoNotTrackVar, Applies: isDoNotTrack(sw.getenv(DoNotTrackVar))},
		{Name: ConfigFile, Applies: sw.config.read().off},
		{Name: SwitchAutomation, Applies: automation != "" && !sw.allowAutomation},
	}
	if sw.getenvPanicked.Load() {
		states = append(states, SwitchState{Name: SwitchGetenv, Applies: true})
	}
	for i := range states {
		if i < len(st.Reasons) {
			states[i].Reason = st.Reasons[i]
		}
	}
	applies, reason := c.noticeGate()
	states = append(states, SwitchState{Name: SwitchNotice, Applies: applies, Reason: reason})

	for i := range states {
		if states[i].Applies {
			states[i].Decides = true
			break
		}
	}
	return states
}
