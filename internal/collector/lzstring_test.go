package collector

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"unicode/utf16"
)

// compressLZBase64 is lz-string's compressToBase64, written for the tests
// only: LZW over UTF-16 code units with the code widths, literal codes and
// bit order that decompressLZBase64 reads.
func compressLZBase64(s string) string {
	return compressLZUnits(utf16.Encode([]rune(s)))
}

func compressLZUnits(units []uint16) string {
	var bits lzBitWriter
	// The dictionary is a trie: single maps a unit to its code, and extend
	// maps (code of w, unit c) to the code of w+c.
	single := map[uint16]int{}
	extend := map[[2]int]int{}
	pendingLiteral := map[int]uint16{} // codes of units not yet sent as a literal
	size, width, enlargeIn := 3, 2, 2

	grow := func() {
		enlargeIn--
		if enlargeIn == 0 {
			enlargeIn, width = 1<<width, width+1
		}
	}
	emit := func(code int) {
		if unit, ok := pendingLiteral[code]; ok {
			if unit < 256 {
				bits.write(0, width)
				bits.write(int(unit), 8)
			} else {
				bits.write(1, width)
				bits.write(int(unit), 16)
			}
			grow()
			delete(pendingLiteral, code)
		} else {
			bits.write(code, width)
		}
		grow()
	}

	w := -1 // code of the current prefix; -1 while it is empty
	for _, c := range units {
		if _, ok := single[c]; !ok {
			single[c] = size
			pendingLiteral[size] = c
			size++
		}
		if w < 0 {
			w = single[c]
			continue
		}
		if code, ok := extend[[2]int{w, int(c)}]; ok {
			w = code
			continue
		}
		emit(w)
		extend[[2]int{w, int(c)}] = size
		size++
		w = single[c]
	}
	if w >= 0 {
		emit(w)
	}
	bits.write(2, width)
	out := bits.flush()
	for len(out)%4 != 0 {
		out += "="
	}
	return out
}

// lzBitWriter packs bits into base64 characters, most significant bit
// first; write sends each value least significant bit first.
type lzBitWriter struct {
	out      strings.Builder
	value    int
	position int
}

const lzAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func (b *lzBitWriter) bit(v int) {
	b.value = b.value<<1 | v
	if b.position == 5 {
		b.out.WriteByte(lzAlphabet[b.value])
		b.value, b.position = 0, 0
		return
	}
	b.position++
}

func (b *lzBitWriter) write(v, n int) {
	for i := 0; i < n; i++ {
		b.bit(v & 1)
		v >>= 1
	}
}

// flush pads the last character with zero bits. Like lz-string, it adds a
// whole zero character when the bits end on a character boundary.
func (b *lzBitWriter) flush() string {
	for {
		b.value <<= 1
		if b.position == 5 {
			b.out.WriteByte(lzAlphabet[b.value])
			return b.out.String()
		}
		b.position++
	}
}

// lzVectors pair text with lz-string's compressToBase64 output.
var lzVectors = []struct{ name, text, compressed string }{
	// "a": code 0 in 2 bits (00), 97 in 8 bits least significant first
	// (10000110), then the width is 3 and the end code 2 is 010. The 13
	// bits 001000 011001 0 pad to "IZA", and padding to 4 characters gives
	// "IZA=".
	{"one letter", "a", "IZA="},
	// "ab": 00 10000110 for 'a'; the width is then 3, so 000 01000110 for
	// 'b' and 010 for the end. The 24 bits are "IYIy"; as they end on a
	// character boundary, the flush adds a zero character "A", and padding
	// gives "IYIyA===".
	{"two letters", "ab", "IYIyA==="},
	// Published outputs of the JavaScript library: the test suite of
	// CyberChef (hello world), of lz-string-csharp (the JSON object) and of
	// LangServe (the Czech sentence, which needs 16-bit literals).
	{"hello world", "hello world", "BYUwNmD2AEDukCcwBMg="},
	{"json object", `{ "key": "value" }`, "N4AgRA1gpgnmBc4BuBDANgVymEBfIA=="},
	{"16-bit literals", "Žluťoučký kůň úpěl ďábelské ódy!", "r6ABsK6KaAD2aLCADWBfgBPQ9oCAlAZAvgDobEARlB4QAEOAjAUxAGd4BL5AZ4BMBPAQiA=="},
}

func TestLZCompressVectors(t *testing.T) {
	for _, v := range lzVectors {
		t.Run(v.name, func(t *testing.T) {
			if got := compressLZBase64(v.text); got != v.compressed {
				t.Errorf("compressLZBase64(%q) = %q, want %q", v.text, got, v.compressed)
			}
		})
	}
}

func TestLZDecompressVectors(t *testing.T) {
	for _, v := range lzVectors {
		t.Run(v.name, func(t *testing.T) {
			got, err := decompressLZBase64([]byte(v.compressed), 1<<20, allowAll)
			if err != nil {
				t.Fatalf("decompressLZBase64(%q): %v", v.compressed, err)
			}
			if string(got) != v.text {
				t.Errorf("decompressLZBase64(%q) = %q, want %q", v.compressed, got, v.text)
			}
		})
	}
}

func TestLZEmptyString(t *testing.T) {
	// The empty string is the end code 2 in 2 bits (01), padded: "Q===".
	if got := compressLZBase64(""); got != "Q===" {
		t.Errorf("compressLZBase64(\"\") = %q, want \"Q===\"", got)
	}
	if _, err := decompressLZBase64([]byte("Q==="), 1<<20, allowAll); !errors.Is(err, errLZEmpty) {
		t.Errorf("decompressLZBase64(\"Q===\") error = %v, want errLZEmpty", err)
	}
}

func TestLZRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	texts := []string{
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"abababababababababababababab",
		"emoji 🎉 and 日本語 and ascii",
		strings.Repeat(`{"event":"message_sent","properties":{"model":"gpt-4","token":"phc_x"}},`, 200),
	}
	for i := 0; i < 200; i++ {
		texts = append(texts, randomText(rng, rng.IntN(400)+1))
	}
	for _, text := range texts {
		compressed := compressLZBase64(text)
		got, err := decompressLZBase64([]byte(compressed), 1<<22, allowAll)
		if err != nil {
			t.Fatalf("round trip of %q: %v", truncate(text), err)
		}
		if string(got) != text {
			t.Fatalf("round trip of %q gave %q", truncate(text), truncate(string(got)))
		}
	}
}

// randomText draws from a small alphabet, so that the dictionary gets long
// entries, mixed with characters that need 16-bit literals and surrogate
// pairs.
func randomText(rng *rand.Rand, n int) string {
	alphabet := []rune("ab{}\":, éŽ中😀")
	runes := make([]rune, n)
	for i := range runes {
		runes[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(runes)
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func TestLZOutputLimit(t *testing.T) {
	compressed := compressLZBase64(strings.Repeat("A", 1<<20))
	if len(compressed) > 16<<10 {
		t.Fatalf("1 MiB of one letter compressed to %d bytes, want a small input", len(compressed))
	}
	if _, err := decompressLZBase64([]byte(compressed), 1024, allowAll); !errors.Is(err, errLZTooLarge) {
		t.Errorf("error = %v, want errLZTooLarge", err)
	}
	got, err := decompressLZBase64([]byte(compressed), 1<<20, allowAll)
	if err != nil || len(got) != 1<<20 {
		t.Errorf("at exactly the limit: %d bytes, error %v; want 1 MiB and no error", len(got), err)
	}
}

func TestLZInvalidInput(t *testing.T) {
	tests := []struct{ name, input string }{
		{"empty input", ""},
		{"character outside alphabet", "IZ*="},
		{"truncated", "IZ"},
		{"code past dictionary", "A///"},
		{"lone surrogate", compressLZUnits([]uint16{'x', 0xD800, 'y'})},
		{"unpaired high surrogate at end", compressLZUnits([]uint16{'x', 0xD83D})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decompressLZBase64([]byte(tt.input), 1<<20, allowAll)
			if err == nil {
				t.Errorf("decompressLZBase64(%q) = %q, want an error", tt.input, got)
			}
		})
	}
}

func TestLZReservesBeforeAllocating(t *testing.T) {
	input := []byte(compressLZBase64(strings.Repeat("a", 8<<20)))

	var granted int64
	allocated := allocatedBytes(func() {
		granted = 0
		out, err := decompressLZBase64(input, 16<<20, func(n int64) bool {
			granted += n
			return true
		})
		if err != nil || len(out) != 8<<20 {
			t.Fatalf("decompressed %d bytes, error %v; want 8 MiB", len(out), err)
		}
	})
	// Each growth of the dictionary reserves only the capacity it adds,
	// so the arrays it replaces, about 50 KiB here, are not reserved.
	t.Logf("allocated %d bytes, reserved %d", allocated, granted)
	if allocated > uint64(granted)+128<<10 {
		t.Errorf("allocated %d bytes, want at most the %d reserved plus 128 KiB", allocated, granted)
	}
	if granted < 8<<20 {
		t.Errorf("reserved %d bytes, want at least the 8 MiB output", granted)
	}

	allocated = allocatedBytes(func() {
		_, err := decompressLZBase64(input, 16<<20, func(int64) bool { return false })
		if !errors.Is(err, errLZBudget) {
			t.Errorf("error = %v with every reservation declined, want errLZBudget", err)
		}
	})
	if allocated > 16<<10 {
		t.Errorf("allocated %d bytes with every reservation declined, want at most 16 KiB", allocated)
	}
}

// allocatedBytes returns the bytes that f allocates on the heap: the
// fewest of three runs, because the count covers the whole process and
// another goroutine may allocate during one run.
func allocatedBytes(f func()) uint64 {
	fewest := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		fewest = min(fewest, after.TotalAlloc-before.TotalAlloc)
	}
	return fewest
}
