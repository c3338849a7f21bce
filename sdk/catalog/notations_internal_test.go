package catalog

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// tokensPerSize is how many random tokens of each size and encoding
// TestNotationChecksOnRandomTokens draws. The rates stated at the checks
// were measured with 100,000.
const tokensPerSize = 2000

// notationChecks are the checks of notations.go and iban.go, each of which
// must pass nearly every random token.
var notationChecks = []struct {
	name  string
	check func(string) bool
	// maxRate is the highest share of base64url tokens the check may
	// reject. It is far enough above the rate measured at the check that
	// 42,000 tokens exceed it by chance in fewer than 1 run in 100,000.
	// Hex tokens must all pass.
	maxRate float64
}{
	{"hasEncodedTextRun", hasEncodedTextRun, 15e-5},
	{"hasSlashedKey", hasSlashedKey, 0},
	{"containsInetAtonIPv4", containsInetAtonIPv4, 0},
	{"containsDashedIPv6", containsDashedIPv6, 15e-5},
	{"isDottedPhoneNumber", isDottedPhoneNumber, 0},
	{"isIBAN", isIBAN, 0},
}

func TestNotationChecksOnRandomTokens(t *testing.T) {
	var hexTokens, upperHexTokens, base64Tokens []string
	for size := 12; size <= 32; size++ {
		for range tokensPerSize {
			b := make([]byte, size)
			rand.Read(b)
			hexTokens = append(hexTokens, hex.EncodeToString(b))
			upperHexTokens = append(upperHexTokens, strings.ToUpper(hex.EncodeToString(b)))
			base64Tokens = append(base64Tokens, base64.RawURLEncoding.EncodeToString(b))
		}
	}
	for _, c := range notationChecks {
		for _, token := range hexTokens {
			if c.check(token) {
				t.Errorf("%s(%q) = true for a random hex token", c.name, token)
			}
		}
		hits := 0
		for _, token := range base64Tokens {
			if c.check(token) {
				hits++
			}
		}
		if rate := float64(hits) / float64(len(base64Tokens)); rate > c.maxRate {
			t.Errorf("%s rejects %d of %d random base64url tokens (%.2g), want at most %.2g", c.name, hits, len(base64Tokens), rate, c.maxRate)
		}
		t.Logf("%s: %d of %d random base64url tokens", c.name, hits, len(base64Tokens))
	}
	// About 1 in 2 million upper-case hex tokens is an IBAN.
	ibans := 0
	for _, token := range upperHexTokens {
		if isIBAN(token) {
			ibans++
		}
	}
	if ibans > 2 {
		t.Errorf("isIBAN accepts %d of %d random upper-case hex tokens, want at most 2", ibans, len(upperHexTokens))
	}
}

// TestHexNamesOnRandomRuns draws 200,000 random runs of 10 and of 12 hex
// digits. At the rates measured at isHexText, 2.2e-5 and 2.4e-6, more
// than 20 and 6 rejections come by chance in fewer than 1 run in 100,000.
func TestHexNamesOnRandomRuns(t *testing.T) {
	for _, c := range []struct{ digits, maxRejected int }{{10, 20}, {12, 6}} {
		b := make([]byte, c.digits/2)
		rejected := 0
		for range 200_000 {
			rand.Read(b)
			if isHexText(hex.EncodeToString(b)) {
				rejected++
			}
		}
		if rejected > c.maxRejected {
			t.Errorf("isHexText rejects %d of 200000 random runs of %d hex digits, want at most %d", rejected, c.digits, c.maxRejected)
		}
	}
}

func TestIBAN(t *testing.T) {
	for _, s := range []string{"GB82WEST12345698765432", "NL91ABNA0417164300", "CH9300762011623852957", "NO9386011117947"} {
		if !isIBAN(s) {
			t.Errorf("isIBAN(%q) = false, want true", s)
		}
	}
	for _, s := range []string{
		"GB83WEST12345698765432",  // wrong check digits
		"GB82WEST1234569876543",   // one character short for GB
		"gb82west12345698765432",  // lower case
		"XX82WEST12345698765432",  // no such country
		"GB82WEST12345698765432X", // too long
		"GB8", "",
	} {
		if isIBAN(s) {
			t.Errorf("isIBAN(%q) = true, want false", s)
		}
	}
}

// The collector checks every identifier, variant and version it receives,
// so an accepted value must cost no allocation.
func TestStringClassChecksAllocateNothing(t *testing.T) {
	identifiers := []string{
		"anthropic/claude-sonnet-4-5", "openai/gpt-4.1-mini", "meta-llama/Llama-3.1-8B-Instruct",
		"openrouter/anthropic/claude-3.7-sonnet", "0x80070005", "e2e--fast", "05d0acf6ab21a34b",
		"claude-3-5-sonnet-20241022", "RateLimitError", "0x10004003", "build-9fceb02d0a",
		"12345678-9a4d-4c1e-8b2a-5d6e7f809a1b",
	}
	for _, s := range identifiers {
		if r := checkIdentifier(s); r != "" {
			t.Fatalf("checkIdentifier(%q) = %s, want it accepted", s, r)
		}
		if allocs := testing.AllocsPerRun(100, func() { checkIdentifier(s) }); allocs != 0 {
			t.Errorf("checkIdentifier(%q) allocates %v times, want 0", s, allocs)
		}
	}
	for _, s := range []string{"1.4.2", "2024.10.1", "10.0.19045.3803", "v0.9.0-rc.1+build.7", "131.0.6778.85", "5.15.153.1-microsoft-standard-WSL2"} {
		if !isVersion(s) {
			t.Fatalf("isVersion(%q) = false, want true", s)
		}
		if allocs := testing.AllocsPerRun(100, func() { isVersion(s) }); allocs != 0 {
			t.Errorf("isVersion(%q) allocates %v times, want 0", s, allocs)
		}
	}
	for _, s := range []string{"6c7245916845ddeb", "unknown"} {
		if !isFingerprint(s) {
			t.Fatalf("isFingerprint(%q) = false, want true", s)
		}
		if allocs := testing.AllocsPerRun(100, func() { isFingerprint(s) }); allocs != 0 {
			t.Errorf("isFingerprint(%q) allocates %v times, want 0", s, allocs)
		}
	}
	for _, s := range []string{"Chrome 131 (macOS)", "Firefox 133 (Linux)", "Other (Other)"} {
		if allocs := testing.AllocsPerRun(100, func() { ReduceUserAgent(s) }); allocs != 0 {
			t.Errorf("ReduceUserAgent(%q) allocates %v times, want 0", s, allocs)
		}
	}
}
