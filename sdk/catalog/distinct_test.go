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
		// UUIDs of the other versions, with a run of more than 8 digits
		// in the last group, which the Identifier class reads as a phone
		// number.
		{"6ba7b810-9dad-11d1-80b4-004512345678", ""},
		{"a3bb189e-8bf9-3888-9912-ace4e6543002", ""},
		{"74738ff5-5367-5958-9aee-123456789abc", ""},
		{"1EC9414C-232A-6B00-B3C8-9E6BDECED846", ""},
		{"1ec9414c-232a-6b00-b3c8-209876543210", ""},
		{"0190a6e5-7b7c-8a3e-9b1f-312345678901", ""},
		{"12345678-1234-0234-8234-123456789012", ReasonLooksLikeNumber},
		{"12345678-1234-5234-c234-123456789012", ReasonLooksLikeNumber},
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
