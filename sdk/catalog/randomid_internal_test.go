package catalog

import (
	cryptorand "crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"math/rand/v2"
	"strings"
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
		"k3J9xQ2mV7pL0w+R5tY8z+B1nC==",
		"k3J9x+Q2mV7pL0wR5t+Y8zB1nC",
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

// tokenEncodings are the ways a random token is written: hex in either
// case, and base64url and standard base64 with and without padding.
var tokenEncodings = []struct {
	name   string
	encode func([]byte) string
}{
	{"hex", hex.EncodeToString},
	{"upper-case hex", func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }},
	{"base64url", base64.RawURLEncoding.EncodeToString},
	{"padded base64url", base64.URLEncoding.EncodeToString},
	{"base64", base64.StdEncoding.EncodeToString},
	{"unpadded base64", base64.RawStdEncoding.EncodeToString},
}

// countRejectedTokens draws perSize random tokens of each size from 12 to
// 32 bytes from crypto/rand, writes them with encode and returns how many
// isRandomID rejects, with up to 5 of them. It leaves out the standard
// base64 tokens that contain a '/', which isRandomID rejects by design.
func countRejectedTokens(perSize int, encode func([]byte) string) (total, rejected int, examples []string) {
	for size := 12; size <= 32; size++ {
		b := make([]byte, size)
		for range perSize {
			cryptorand.Read(b)
			token := encode(b)
			if strings.Contains(token, "/") {
				continue
			}
			total++
			if !isRandomID(token) {
				rejected++
				if len(examples) < 5 {
					examples = append(examples, token)
				}
			}
		}
	}
	return total, rejected, examples
}

// TestRandomIDAcceptsRandomTokens draws 42,000 tokens per encoding. At the
// false-rejection rates measured by TestRandomIDFalseRejectionRate, below
// 1e-5, 3 or more rejections among them come by chance in fewer than 1 run
// in 100.
func TestRandomIDAcceptsRandomTokens(t *testing.T) {
	for _, e := range tokenEncodings {
		total, rejected, examples := countRejectedTokens(2000, e.encode)
		if rejected > 2 {
			t.Errorf("isRandomID rejects %d of %d random %s tokens, want at most 2; such as %q", rejected, total, e.name, examples)
		}
	}
}

// TestRandomIDFalseRejectionRate measures the share of random tokens that
// isRandomID rejects, over 1,050,000 tokens per encoding.
func TestRandomIDFalseRejectionRate(t *testing.T) {
	if testing.Short() {
		t.Skip("draws 6.3 million random tokens")
	}
	for _, e := range tokenEncodings {
		total, rejected, examples := countRejectedTokens(50_000, e.encode)
		rate := float64(rejected) / float64(total)
		t.Logf("%s: %d of %d rejected (%.2g)", e.name, rejected, total, rate)
		if rate >= 1e-5 {
			t.Errorf("isRandomID rejects %d of %d random %s tokens (%.2g), want a rate below 1e-5; such as %q", rejected, total, e.name, rate, examples)
		}
	}
}

func TestRandomIDRejectsStructuredTokens(t *testing.T) {
	for _, s := range []string{
		"WORKSPACE-OF-ALICE-AND-BOB",                       // words in upper case
		"workspace_of_alice_and_bob",                       // words in lower case
		"abcabcabcabcabcabcabcabc",                         // 3 distinct characters
		"abababababababababababab",                         // hex with 2 distinct digits
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1b2c3d4e5", // one character in most places
		"YWxpY2VAZXhhbXBsZS5jb20=",                         // padded base64 of alice@example.com
		"PDw/Pz8+Pj4/Pz8+Pj4/Pz8+",                         // base64 of <<???>>>???>>>???>
		"k3J9xQ2mV7pL0w+R5tY8z_B1nC",                       // mixes both base64 alphabets
		"k3J9xQ2mV7pL0wR5tY8zB1nC=",                        // padding on 24 characters, which need none
		"k3J9xQ2mV7pL0wR5tY8zB1nCx=y",                      // padding inside
		"k3J9xQ2mV7pL0wR=",                                 // 11 bytes, padded to 16 characters
		"+491511234567890",                                 // a phone number
		"/var/folders/xy/alice/T",                          // a path
		"Projects/alice/2024/Notes",                        // a relative path
		"home/alice/x9Kq3ZtPw8Lm",                          // a path with a random file name
		"/Users/bob/Documents/a1B2c3D4e5F6",                // the same, absolute
		"alice+bob/2024/9f8e7d6c5b4a",                      // names and a folder
		"+15551234567abcDEF",                               // a phone number first
		"Kq3ZtPw8Lm15551234567xB",                          // a phone number inside
		"sk_live_4eC39HqLyjWDarjtT1zdp7dc",                 // a Stripe key
		"sk-ant-api03-k3J9xQ2mV7pL0wR5tY8z",                // an Anthropic key
		"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",            // a Hugging Face token
		"Workspace-Of-Alice",                               // words in mixed case
		"WorkspaceOfAlice",                                 // the same, in camel case
		"Alice_Smith_Workspace",                            // words joined by _
		"Bobs-MacBook-Pro",                                 // two upper-case letters in a word
		"Jane+Doe+Laptop+Home",                             // words joined by +
		"Alice-Workspace-24",                               // words and a number
		"AliceWorkspace2024",                               // the same, in camel case
		"WorkspaceOfALICE",                                 // a word in upper case
		"ALICEOnWorkspace",                                 // the same, first
		"QuickBrownFoxJazzy",                               // more than one of j, q, x and z
		"Schmidt-Family-Laptops",                           // one uncommon letter pair, dt
	} {
		if isRandomID(s) {
			t.Errorf("isRandomID(%q) = true, want false", s)
		}
	}
}

func TestRandomIDAcceptsBase64Alphabets(t *testing.T) {
	for _, s := range []string{
		"k3J9xQ2mV7pL0w+R5tY8z+B1nC", // standard base64 without '/'
		"k3J9xQ2mV7pL0w12345678nC",   // 8 digits in a row
		"k3J9xQ2mV7pL0wR5tY8zB1nCxy==",
		"k3J9xQ2mV7pL0wR5tY8zB1nCxyz=",
		"k3J9xQ2mV7pL0wR5tY8zB1nCxy_-",
		"kQmVpLwRtYzBnCxJaSdFgHjK", // no digits
		"sk-k3J9xQ2mV7pL0wR5tY8zB", // random after sk-
		"eyJ9xQ2mV7pL0wR5tY8zB1nC", // random after eyJ
		"Workspace-Of-Alice-",      // no word after the last dash
		"Alice24-Workspaces",       // a number inside the words
		"Workspace-Of-Alice12345",  // a number of more than 4 digits
		"WorkspaceOFAlice",         // a word of 2 upper-case letters
		"Workspace-Of-BOB",         // a word of 3 upper-case letters
		"Kyaqhuvi-Wefoxucia",       // two uncommon letter pairs, aq and qh
	} {
		if !isRandomID(s) {
			t.Errorf("isRandomID(%q) = false, want true", s)
		}
	}
}
