package jsontext

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

func TestAppendStringMatchesMarshal(t *testing.T) {
	values := []string{
		"", "plain", `quote"`, `back\slash`, "<b>&amp;</b>", "tab\t", "nul\x00", "del\x7f",
		"é", "emoji 🔥", "\u2028\u2029", "invalid \xff\xfe", "\xed\xa0\x80", "Chrome 131 (macOS)",
	}
	for c := range 256 {
		values = append(values, string(rune(c)), string([]byte{byte(c)}))
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for range 5000 {
		b := make([]byte, rng.IntN(20))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		values = append(values, string(b))
	}
	for _, s := range values {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}
