package jsontext

import (
	"encoding/json"
	"testing"
)

var stringCases = []string{
	"", "plain", `quote " and backslash \`, "<a href='x'>&</a>",
	"\b\f\n\r\t\x00\x1f\x7f", "naïve ☃ 😀", "line\u2028para\u2029",
	"bad \xff utf-8 \xe2\x82", "\xed\xa0\x80 surrogate",
}

func TestAppendStringMatchesMarshal(t *testing.T) {
	for _, s := range stringCases {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range stringCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("AppendString(%q) = %s, want x%s", s, got, want)
		}
	})
}
