package collector

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"net/http"
	"testing"
)

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withStatedSize returns a copy of the gzip stream z whose trailer states
// size as the decompressed length.
func withStatedSize(z []byte, size uint32) []byte {
	out := bytes.Clone(z)
	binary.LittleEndian.PutUint32(out[len(out)-4:], size)
	return out
}

func TestGunzipWhateverTheStatedSize(t *testing.T) {
	payload := bytes.Repeat([]byte(`{"event":"e"},`), 100)
	single := gzipBytes(t, payload)
	tests := []struct {
		name string
		raw  []byte
		want []byte
	}{
		{"stated size right", single, payload},
		{"two members", append(gzipBytes(t, payload[:700]), gzipBytes(t, payload[700:])...), payload},
		{"empty", gzipBytes(t, nil), []byte{}},
	}
	for _, tt := range tests {
		got, err := gunzip(tt.raw, 1<<20, allowAll)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !bytes.Equal(got, tt.want) {
			t.Errorf("%s: got %d bytes, want %d", tt.name, len(got), len(tt.want))
		}
	}
}

func TestGunzipRejectsFalseStatedSize(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 1000)
	z := gzipBytes(t, payload)
	// The trailer's size is part of what gzip verifies, so a false one
	// makes the data invalid, whether it is smaller or larger.
	for _, size := range []uint32{10, 999, 1001, 5000} {
		_, err := gunzip(withStatedSize(z, size), 1<<20, allowAll)
		if err == nil || err.status != http.StatusBadRequest {
			t.Errorf("stated size %d: error %v, want 400", size, err)
		}
	}
}

func TestGunzipBombOverStatedSize(t *testing.T) {
	bomb := gzipBytes(t, make([]byte, 1<<20))
	// A trailer that claims a small size must not let the output past the cap.
	_, err := gunzip(withStatedSize(bomb, 100), 4096, allowAll)
	if err == nil || err.status != http.StatusRequestEntityTooLarge {
		t.Errorf("bomb with stated size 100: error %v, want 413", err)
	}
}

func TestGunzipReservesStatedSize(t *testing.T) {
	payload := bytes.Repeat([]byte("y"), 5000)
	var reserved int64
	reserve := func(n int64) bool { reserved += n; return true }
	if _, err := gunzip(gzipBytes(t, payload), 1<<20, reserve); err != nil {
		t.Fatal(err)
	}
	if reserved != int64(len(payload)) {
		t.Errorf("reserved %d bytes, want the %d of the output", reserved, len(payload))
	}
	denyAll := func(int64) bool { return false }
	if _, err := gunzip(gzipBytes(t, payload), 1<<20, denyAll); err == nil || err.status != http.StatusServiceUnavailable {
		t.Errorf("with no budget: error %v, want 503", err)
	}
}

func TestGunzipIgnoresImpossibleStatedSize(t *testing.T) {
	// 26 bytes of gzip cannot inflate to 1 MiB, so a trailer that claims
	// it must not cost a buffer of that size.
	z := withStatedSize(gzipBytes(t, []byte("{}")), 1<<20)
	var reserved int64
	reserve := func(n int64) bool { reserved += n; return true }
	_, err := gunzip(z, 1<<20, reserve)
	if err == nil || err.status != http.StatusBadRequest {
		t.Errorf("error %v, want 400", err)
	}
	if limit := int64(maxDeflateRatio * len(z)); reserved > limit {
		t.Errorf("reserved %d bytes for %d bytes of gzip, want at most %d", reserved, len(z), limit)
	}
}
