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
