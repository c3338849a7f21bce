package collector

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// newUUIDv7 returns a random RFC 9562 version 7 UUID whose time field is t,
// for events that arrive without a uuid.
func newUUIDv7(t time.Time) string {
	var b [16]byte
	ms := uint64(max(t.UnixMilli(), 0))
	for i := 0; i < 6; i++ {
		b[i] = byte(ms >> (40 - 8*i))
	}
	rand.Read(b[6:]) // since Go 1.24 it crashes the program rather than return an error
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80

	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}
