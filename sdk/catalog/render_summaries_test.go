package catalog

import (
	"strings"
	"testing"
)

// TestClassSummariesMatchRules checks the limits that the Markdown page
// states for the string classes against the checks that enforce them.
func TestClassSummariesMatchRules(t *testing.T) {
	summary := map[Class]string{}
	for _, s := range classSummaries {
		summary[s.class] = s.summary
	}

	tests := []struct {
		class    Class
		stated   string // words of the summary that state the rule
		accepted string
		rejected string
	}{
		{RandomID, "at most 64 characters", strings.Repeat("0123456789abcdef", 4), strings.Repeat("0123456789abcdef", 4) + "a"},
		{RandomID, "24 or more digits", "0123456789abcdef01234567", "0123456789abcdef0123456"},
		{RandomID, "fewer distinct characters", "q1w2e3r4t5y6u7i8", "q1q1q1q1q1q1q1q1"},
		{RandomID, "only one of upper-case letters, lower-case letters and digits", "qwertyuiopasdfgH", "qwertyuiopasdfgh"},
		{RandomID, "without '/'", "k3J9x+Q2mV7pL0wR", "k3J9x/Q2mV7pL0wR"},
		{RandomID, "Workspace-Of-Alice", "Workspace-Of-Al1ce", "Workspace-Of-Alice"},
		{RandomID, "WorkspaceOfALICE", "WorkspaceOfAL1CE", "WorkspaceOfALICE"},
		{RandomID, "Alice-Workspace-24", "Alice-Workspace-2x4", "Alice-Workspace-24"},
		{RandomID, "more than 8 digits in a row", "q1w2e3r4t5y6u7i81234567x", "q1w2e3r4t5y6u7i812345678"},
		{RandomID, "API key of a known service", "Q3vX9kL2mN8pR4tW", "ghp_Q3vX9kL2mN8pR4tW"},
		{Identifier, "at most 100 characters", strings.Repeat("ab.", 33) + "a", strings.Repeat("ab.", 33) + "ab"},
		{Identifier, "IP address", "claude-3.5", "10.0.0.1"},
		{Identifier, "URL", "openai/gpt-4o", "https://example.com"},
		{Identifier, "example.com/alice", "azure.openai/gpt-4o", "example.com/alice"},
		{Identifier, "main.go:12", "main.go:12", "www.example.org:8080"},
		{Identifier, "more than 8 digits in a row", "model-20241022", "model-202410221"},
		{Identifier, "runs of 7 or 8 digits unless they are a date", "model-20241022", "model-20241322"},
		{Identifier, "part of a word in hex", "0x10004003", "error-10004003"},
		{Identifier, "encoded in base64 or in hex", "9fceb02d0ae598e9", "6d7920736563726574"},
		{Identifier, "encoded in base64 or in hex", "build-9fceb02d0ae5", "616c696365"},
		{Version, "at most 64 characters", strings.Repeat("1.", 31) + "12", strings.Repeat("1.", 31) + "123"},
		{Version, "at most 8 letters and then a digit", "release2", "versionxy2"},
		{Version, "IP address", "1.2.3", "10.0.0.1"},
		{Version, "5.15.153.1-microsoft-standard-WSL2", "5.15.153.1-microsoft-standard-WSL2", "5.15.153.1-2"},
		{Version, "44.20.7946.0958", "10.0.22631.4602", "44.20.7946.0958"},
		{Version, "61.2.9876.5432", "17.11.35222.181", "61.2.9876.5432"},
		{Version, "private, loopback or link-local", "5.15.153.1-microsoft-standard-WSL2", "192.168.1.23-microsoft-standard-WSL2"},
	}
	for _, tt := range tests {
		if !strings.Contains(summary[tt.class], tt.stated) {
			t.Errorf("summary of %q does not state %q:\n%s", tt.class, tt.stated, summary[tt.class])
		}
		p := &Property{Name: "p", Class: tt.class}
		if _, reason := p.normalize(tt.accepted); reason != "" {
			t.Errorf("%s rejects %q (%s), but its summary's rule %q accepts it", tt.class, tt.accepted, reason, tt.stated)
		}
		if _, reason := p.normalize(tt.rejected); reason == "" {
			t.Errorf("%s accepts %q, but its summary's rule %q rejects it", tt.class, tt.rejected, tt.stated)
		}
	}
}
