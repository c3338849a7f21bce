package telemetry

import (
	"encoding/json"
	"errors"
	"reflect"

	"github.com/candor-dev/candor/sdk/catalog"
)

// spooledEvent is one spool line decoded for a new check against the
// catalog. The fields are in the order the encoder writes them.
type spooledEvent struct {
	UUID       json.RawMessage `json:"uuid"`
	Event      string          `json:"event"`
	DistinctID json.RawMessage `json:"distinct_id"`
	Timestamp  json.RawMessage `json:"timestamp"`
	Properties map[string]any  `json:"properties"`
}

// recheckResult is the outcome of checking one spooled event again.
type recheckResult struct {
	// json is the event to send: the spool line itself when the check
	// changed nothing, nil when the event is dropped.
	json       []byte
	changed    bool
	dropReason string
	violations []catalog.Violation
}

// recheckSpooled checks a spooled event against cat, the catalog of the
// running client, which may be newer than the one that encoded the event.
// It applies catalog.Normalize, as the capture path does for events that
// Catalog.AppendProperties declines. An unknown event, or a required
// property that is missing or breaks its class, drops the event as
// DropSpoolCatalogRejected. An optional, unknown or base property that
// breaks its class is removed, and a value that the class normalizes
// differently now, such as under new bucket edges, is replaced. A line that
// is valid JSON but not an event object is dropped as DropSpoolCorrupt.
//
// The base properties keep the values of the run that captured the event,
// such as version and catalogFingerprint, where they still pass.
func recheckSpooled(cat *catalog.Catalog, line []byte) recheckResult {
	var ev spooledEvent
	if err := json.Unmarshal(line, &ev); err != nil {
		return recheckResult{changed: true, dropReason: DropSpoolCorrupt}
	}
	normalized, violations, err := cat.Normalize(ev.Event, ev.Properties)
	if err != nil {
		res := recheckResult{changed: true, dropReason: DropSpoolCatalogRejected}
		var v *catalog.Violation
		if errors.As(err, &v) {
			res.violations = []catalog.Violation{*v}
		}
		return res
	}
	res := recheckResult{violations: violations}
	if len(violations) == 0 && sameJSON(normalized, ev.Properties) {
		res.json = line
		return res
	}

	ev.Properties = normalized
	data, err := json.Marshal(ev)
	if err != nil {
		return recheckResult{changed: true, dropReason: DropEncodeFailed, violations: violations}
	}
	res.json, res.changed = data, true
	return res
}

// sameJSON reports whether normalized, the output of catalog.Normalize,
// encodes to the same JSON values as decoded, which was decoded from JSON.
// Normalize may return another Go type for an equal value, such as an
// int64 for a float64.
func sameJSON(normalized, decoded map[string]any) bool {
	data, err := json.Marshal(normalized)
	if err != nil {
		return false
	}
	var again map[string]any
	if json.Unmarshal(data, &again) != nil {
		return false
	}
	return reflect.DeepEqual(again, decoded)
}

// recheckOutcome is the outcome of checking a spooled batch again.
type recheckOutcome struct {
	events     [][]byte // the events to send, in the spool's order
	changed    bool     // events differs from the batch's lines
	dropped    map[string]int64
	violations []catalog.Violation
}

// recheckBatch checks each event of a spooled batch with recheckSpooled.
func recheckBatch(cat *catalog.Catalog, lines [][]byte) recheckOutcome {
	var out recheckOutcome
	out.events = make([][]byte, 0, len(lines))
	for _, line := range lines {
		res := recheckSpooled(cat, line)
		out.violations = append(out.violations, res.violations...)
		if res.changed {
			out.changed = true
		}
		if res.dropReason != "" {
			if out.dropped == nil {
				out.dropped = map[string]int64{}
			}
			out.dropped[res.dropReason]++
			continue
		}
		out.events = append(out.events, res.json)
	}
	return out
}

// recheck applies recheckBatch to b, a batch the sender claimed from the
// spool, and counts what it dropped and removed. A batch that changed, or
// whose file is spoolStale, is written back to its claimed file, so that a
// later claim of the file, after a failed upload, finds nothing to drop or
// count again. When that write fails, the file is deleted and the batch is
// kept in memory. recheck returns false when no event of b is left to
// send, and deletes the file.
func (s *sender) recheck(b *batch) bool {
	out := recheckBatch(s.cfg.Catalog, b.events)
	s.recordViolations(out.violations)
	for reason, n := range out.dropped {
		s.c.stats.drop(reason, n)
	}
	if !out.changed && !b.spoolStale {
		return true
	}
	if len(out.events) == 0 {
		s.spool.remove(b)
		return false
	}

	b.events, b.bytes = out.events, 0
	for _, ev := range b.events {
		b.bytes += len(ev)
	}
	if err := s.spool.rewrite(b); err != nil {
		s.c.log.Warn("telemetry: checked spool batch kept in memory", "error", errorText(err))
		s.spool.remove(b)
		b.spoolPath = ""
		s.c.stats.queued.Add(int64(len(b.events)))
	}
	return true
}
