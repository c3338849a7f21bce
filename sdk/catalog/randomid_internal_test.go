package catalog

import (
	"encoding/base64"
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// referenceEncodesText is encodesText written with the standard decoders.
func referenceEncodesText(s string) bool {
	var decoded []byte
	var err error
	if isHex(s) && len(s)%2 == 0 {
		decoded, err = hex.DecodeString(s)
	} else {
		decoded, err = base64.RawURLEncoding.DecodeString(s)
	}
	if err != nil || len(decoded) == 0 {
		return false
	}
	for _, c := range decoded {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func TestEncodesTextMatchesDecoders(t *testing.T) {
	cases := []string{
		"",
		"YWxpY2VAZXhhbXBsZS5jb20", // alice@example.com
		base64.RawURLEncoding.EncodeToString([]byte("a user's secret text")),
		hex.EncodeToString([]byte("alice@example.com")),
		"616c696365406578616d706c652e636f6d0", // odd length: read as base64url
		"f3Kq9ZpL2xWm8VbN4tRc7Y",              // random
		"0f8fad5bd9cb469fa16570867728950e",    // random hex
		"YWxpY2VAZXhhbXBsZS5jb20=",            // padding is not base64url
		"YWxpY2VAZXhhbXBsZS5jb2",              // one character in the last group
		"YWxp.Y2VA",                           // a byte outside the alphabet
	}
	for _, s := range cases {
		if got, want := encodesText(s), referenceEncodesText(s); got != want {
			t.Errorf("encodesText(%q) = %t, want %t as the standard decoders give", s, got, want)
		}
	}

	// Printable text makes up few random strings, so half of these are
	// encodings of text.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var s string
		if rng.IntN(2) == 0 {
			text := make([]byte, rng.IntN(48))
			for i := range text {
				text[i] = byte(0x20 + rng.IntN(0x5f))
			}
			if rng.IntN(2) == 0 {
				s = hex.EncodeToString(text)
			} else {
				s = base64.RawURLEncoding.EncodeToString(text)
			}
		} else {
			b := make([]byte, rng.IntN(65))
			for i := range b {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
			s = string(b)
		}
		if got, want := encodesText(s), referenceEncodesText(s); got != want {
			t.Fatalf("encodesText(%q) = %t, want %t as the standard decoders give", s, got, want)
		}
	}
}

// The collector checks every event's distinct_id, and the RandomID class
// checks every value of its properties, so an accepted random ID must cost
// no allocation.
func TestRandomIDCheckAllocatesNothing(t *testing.T) {
	for _, id := range []string{
		"f3Kq9ZpL2xWm8VbN4tRc7Y",
		"0f8fad5bd9cb469fa16570867728950e",
		"0f8fad5b-d9cb-469f-a165-70867728950e",
	} {
		if r := CheckDistinctID(id); r != "" {
			t.Fatalf("CheckDistinctID(%q) = %s, want it accepted", id, r)
		}
		allocs := testing.AllocsPerRun(100, func() { CheckDistinctID(id) })
		if allocs != 0 {
			t.Errorf("CheckDistinctID(%q) allocates %v times, want 0", id, allocs)
		}
	}
}
