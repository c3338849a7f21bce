package catalog_test

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/candor-dev/candor/sdk/catalog"
	"github.com/candor-dev/candor/sdk/mux"
)

func TestFingerprintPropertyClass(t *testing.T) {
	for _, p := range catalog.BaseProperties() {
		if p.Name == "catalogFingerprint" && p.Class != catalog.Fingerprint {
			t.Errorf("base property catalogFingerprint has class %s, want %s", p.Class, catalog.Fingerprint)
		}
	}
}

// Catalog.Fingerprint writes 8 bytes of a SHA-256 in hex, so every 8-byte
// value must pass, including those with a run of 9 or more decimal digits
// that the identifier class reads as a phone or card number.
func TestFingerprintClassAcceptsEveryFingerprint(t *testing.T) {
	c := mux.Catalog()
	values := []string{c.Fingerprint(), catalog.New("empty").Fingerprint(), "0123456789012345", "ffffffffffffffff", "unknown"}
	b := make([]byte, 8)
	for range 100_000 {
		rand.Read(b)
		values = append(values, hex.EncodeToString(b))
	}
	rejected := 0
	for _, v := range values {
		if _, r := c.NormalizeBase("catalogFingerprint", v); r != "" {
			rejected++
			if rejected <= 5 {
				t.Errorf("catalogFingerprint %q rejected: %s", v, r)
			}
		}
	}
	if rejected > 0 {
		t.Errorf("%d of %d fingerprints rejected, want 0", rejected, len(values))
	}
}

func TestFingerprintClassRejectsOtherValues(t *testing.T) {
	c := mux.Catalog()
	for _, v := range []string{
		"", "05D0ACF6AB21A34B", "05d0acf6ab21a34", "05d0acf6ab21a34b0", "05d0acf6ab21a34g",
		" 05d0acf6ab21a34b", "05d0acf6-ab21a34b", "0x05d0acf6ab21a3", "Unknown",
		"alice@example.com", "192.168.1.23", "anthropic/claude", "4111-1111-1111-1111",
	} {
		if _, r := c.NormalizeBase("catalogFingerprint", v); r != catalog.ReasonNotFingerprint {
			t.Errorf("catalogFingerprint %q: reason %q, want %q", v, r, catalog.ReasonNotFingerprint)
		}
	}
}

// The fingerprint class must not change the identifier class, which still
// reads a run of 9 or more digits as a number.
func TestIdentifierStillRejectsDigitRunInHex(t *testing.T) {
	c := mux.Catalog()
	if _, r := c.NormalizeBase("$lib", "0123456789abcdef"); r != catalog.ReasonLooksLikeNumber {
		t.Errorf("identifier 0123456789abcdef: reason %q, want %q", r, catalog.ReasonLooksLikeNumber)
	}
}

type fingerprintField struct {
	Built string `json:"built" candor:"fingerprint"`
}

func (fingerprintField) EventName() string { return "fingerprint_field" }

func TestFingerprintClassOnStructField(t *testing.T) {
	c := catalog.New("test")
	if err := c.Register(fingerprintField{}, ""); err != nil {
		t.Fatalf("register a fingerprint field: %v", err)
	}
	if _, _, err := c.Normalize("fingerprint_field", map[string]any{"built": "0123456789012345"}); err != nil {
		t.Errorf("fingerprint field 0123456789012345: %v", err)
	}
	if _, _, err := c.Normalize("fingerprint_field", map[string]any{"built": "alice"}); err == nil {
		t.Error("fingerprint field alice accepted, want it rejected")
	}
}
