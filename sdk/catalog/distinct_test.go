package catalog

import "testing"

func TestCheckDistinctID(t *testing.T) {
	tests := []struct {
		id   string
		want Reason
	}{
		{"5b0e1c7e-8a41-4f5e-9d0a-2f7f3c1d9e10", ""},
		{"0190a6e5-7b7c-7a3e-9b1f-3c2d4e5f6a7b", ""},
		{"k3J9xQ2mV7pL0wR5tY8zB1nC", ""},
		{"5B0E1C7E-8A41-4F5E-9D0A-2F7F3C1D9E10", ""},
		// UUIDs of the other versions: a MAC address (1, 6), a hash of a
		// name (3, 5) or anything (8), not random.
		{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", ReasonNotRandomID},
		{"a3bb189e-8bf9-3888-9912-ace4e6543002", ReasonNotRandomID},
		{"74738ff5-5367-5958-9aee-123456789abc", ReasonNotRandomID},
		{"1EC9414C-232A-6B00-B3C8-9E6BDECED846", ReasonNotRandomID},
		{"0190a6e5-7b7c-8a3e-9b1f-312345678901", ReasonNotRandomID},
		{"12345678-1234-0234-8234-123456789012", ReasonNotRandomID},
		{"00000000-0000-4000-8000-000000000000", ReasonNotRandomID},
		{"YWxpY2VAZXhhbXBsZS5jb20", ReasonLooksLikeSecret}, // base64url of alice@example.com
		{"ip:2001:db8::1", ReasonLooksLikeIP},
		{"install-1", ""},
		{"123456", ""},
		{"alice@example.com", ReasonLooksLikeEmail},
		{"https://example.com/u/1", ReasonLooksLikeURL},
		{"/home/alice/x", ReasonLooksLikePath},
		{"192.168.1.10", ReasonLooksLikeIP},
		{"+4915112345678", ReasonInvalidString},
		{"4915112345678", ReasonLooksLikeNumber},
		{"Alice Smith", ReasonInvalidString},
		{"", ReasonInvalidString},
	}
	for _, tt := range tests {
		if got := CheckDistinctID(tt.id); got != tt.want {
			t.Errorf("CheckDistinctID(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}
