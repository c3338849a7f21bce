package journal

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/candor-dev/candor/internal/store"
)

// A journal file starts with segmentMagic. Each record follows as a
// header of 8 bytes, the payload's length and its CRC-32C, both
// little-endian uint32, and the payload: the events of one Insert call.
//
// A payload holds the number of events as a uvarint, then each event.
// An event is its project, UUID, name and distinct ID as strings (uvarint
// length and bytes), then its timestamp and receive time, each as varint
// seconds and uvarint nanoseconds since the Unix epoch. Its properties
// follow: their number as a uvarint, then each key as a string and each
// value as a tag byte and its data.
const segmentMagic = "CNDRJNL1"

const headerSize = 8

// maxRecordBytes bounds the payload length a reader accepts, so that a
// damaged length field cannot make it allocate gigabytes.
const maxRecordBytes = 1 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// The tags of property values.
const (
	tagNull   = 0
	tagFalse  = 1
	tagTrue   = 2
	tagString = 3
	tagInt    = 4
	tagFloat  = 5
	// tagJSON holds any other value as JSON text, read back with numbers
	// as json.Number so that they keep their exact text.
	tagJSON = 6
)

// appendRecord appends the record of events, header included, to dst.
func appendRecord(dst []byte, events []store.Event) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, headerSize)...)
	dst = binary.AppendUvarint(dst, uint64(len(events)))
	for i := range events {
		var err error
		if dst, err = appendEvent(dst, &events[i]); err != nil {
			return dst[:start], err
		}
	}
	payload := dst[start+headerSize:]
	if len(payload) > maxRecordBytes {
		return dst[:start], fmt.Errorf("journal record of %d events is %d bytes, over the limit of %d: insert fewer events per call", len(events), len(payload), maxRecordBytes)
	}
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, castagnoli))
	return dst, nil
}

func appendEvent(dst []byte, e *store.Event) ([]byte, error) {
	dst = appendString(dst, e.Project)
	dst = appendString(dst, e.UUID)
	dst = appendString(dst, e.Name)
	dst = appendString(dst, e.DistinctID)
	dst = appendTime(dst, e.Timestamp)
	dst = appendTime(dst, e.ReceivedAt)
	dst = binary.AppendUvarint(dst, uint64(len(e.Properties)))
	for key, value := range e.Properties {
		dst = appendString(dst, key)
		var err error
		if dst, err = appendValue(dst, value); err != nil {
			return dst, fmt.Errorf("event %s: property %q: %w", e.UUID, key, err)
		}
	}
	return dst, nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = binary.AppendVarint(dst, t.Unix())
	return binary.AppendUvarint(dst, uint64(t.Nanosecond()))
}

func appendValue(dst []byte, value any) ([]byte, error) {
	switch v := value.(type) {
	case nil:
		return append(dst, tagNull), nil
	case bool:
		if v {
			return append(dst, tagTrue), nil
		}
		return append(dst, tagFalse), nil
	case string:
		return appendString(append(dst, tagString), v), nil
	case int:
		return binary.AppendVarint(append(dst, tagInt), int64(v)), nil
	case int64:
		return binary.AppendVarint(append(dst, tagInt), v), nil
	case float64:
		return binary.LittleEndian.AppendUint64(append(dst, tagFloat), math.Float64bits(v)), nil
	}
	text, err := json.Marshal(value)
	if err != nil {
		return dst, err
	}
	return appendString(append(dst, tagJSON), string(text)), nil
}

// errDamaged reports a record that cannot be read: cut short or changed.
var errDamaged = errors.New("damaged record")

// decodePayload returns the events of one record's payload.
func decodePayload(payload []byte) ([]store.Event, error) {
	d := decoder{b: payload}
	n := d.uvarint()
	if d.err != nil || n > uint64(len(payload)) {
		return nil, errDamaged
	}
	events := make([]store.Event, n)
	for i := range events {
		e := &events[i]
		e.Project = d.string()
		e.UUID = d.string()
		e.Name = d.string()
		e.DistinctID = d.string()
		e.Timestamp = d.time()
		e.ReceivedAt = d.time()
		count := d.uvarint()
		if d.err != nil || count > uint64(len(d.b)) {
			return nil, errDamaged
		}
		if count > 0 {
			e.Properties = make(map[string]any, count)
		}
		for range count {
			key := d.string()
			e.Properties[key] = d.value()
		}
		if d.err != nil {
			return nil, d.err
		}
	}
	if len(d.b) != 0 {
		return nil, errDamaged
	}
	return events, nil
}

// decoder reads the parts of a payload. After the first failure err is
// set and every method returns a zero value.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	d.err, d.b = errDamaged, nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= uint64(time.Second) {
		d.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *decoder) value() any {
	if len(d.b) == 0 {
		d.fail()
		return nil
	}
	tag := d.b[0]
	d.b = d.b[1:]
	switch tag {
	case tagNull:
		return nil
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagString:
		return d.string()
	case tagInt:
		return d.varint()
	case tagFloat:
		if len(d.b) < 8 {
			d.fail()
			return nil
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		return v
	case tagJSON:
		text := d.string()
		dec := json.NewDecoder(bytes.NewReader([]byte(text)))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			d.fail()
			return nil
		}
		return v
	}
	d.fail()
	return nil
}
