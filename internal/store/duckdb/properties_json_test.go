package duckdb

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// checkSameAsMarshal fails the test unless appendPropertiesJSON encodes
// properties exactly as json.Marshal does, or both fail.
func checkSameAsMarshal(t *testing.T, properties map[string]any) {
	t.Helper()
	want, wantErr := json.Marshal(properties)
	if len(properties) == 0 {
		want, wantErr = []byte("{}"), nil
	}
	got, err := appendPropertiesJSON([]byte("prefix"), properties)

	if (err != nil) != (wantErr != nil) {
		t.Fatalf("appendPropertiesJSON(%#v) error = %v, json.Marshal error = %v", properties, err, wantErr)
	}
	if err != nil {
		return
	}
	if string(got) != "prefix"+string(want) {
		t.Fatalf("appendPropertiesJSON(%#v)\n got %s\nwant prefix%s", properties, got, want)
	}
}

func TestAppendPropertiesJSONCases(t *testing.T) {
	cases := map[string]map[string]any{
		"nil map":   nil,
		"empty map": {},
		"types": {
			"s": "text", "t": true, "f": false, "n": nil, "float": 1.5, "zero": 0.0,
			"negative zero": math.Copysign(0, -1), "int": -7, "int8": int8(-8), "int16": int16(16),
			"int32": int32(-32), "int64": int64(math.MinInt64), "uint": uint(7), "uint8": uint8(255),
			"uint16": uint16(65535), "uint32": uint32(math.MaxUint32), "uint64": uint64(math.MaxUint64),
			"float32": float32(0.1), "number": json.Number("12.50"), "bytes": []byte("raw"),
			"list": []any{"a", 1.0, nil},
		},
		"floats": {
			"a": 1e21, "b": 1e20, "c": 1e-6, "d": 1e-7, "e": 123456789e-15, "f": -2.5e-10,
			"g": math.MaxFloat64, "h": math.SmallestNonzeroFloat64, "i": 1 << 53, "j": 0.1 + 0.2,
			"k": float32(1e21), "l": float32(1e-7), "m": float32(math.MaxFloat32), "n": 1e100,
		},
		"escapes": {
			"quote\"backslash\\": "tab\tnewline\nreturn\rbackspace\bformfeed\f",
			"control":            "\x00\x01\x1f\x7f",
			"html":               "<script>&</script>",
			"separators":         "a\u2028b\u2029c",
			"invalid utf-8":      "\xff\xfe ok \xc3",
			"unicode":            "héllo 世界 🎉",
			"":                   "",
		},
		"nested": {
			"frontendPlatform": map[string]any{"platform": "macOS", "userAgent": "Electron 37 (macOS)"},
			"empty":            map[string]any{},
			"nil":              map[string]any(nil),
			"deep":             map[string]any{"a": map[string]any{"b": map[string]any{"c": 1.0}}},
		},
		"key order": {"b": 1.0, "a": 2.0, "B": 3.0, "_": 4.0, "$lib": "x", "ä": 5.0, "aa": 6.0},
	}
	for name, properties := range cases {
		t.Run(name, func(t *testing.T) {
			checkSameAsMarshal(t, properties)
		})
	}
}

func TestAppendPropertiesJSONErrors(t *testing.T) {
	cases := map[string]map[string]any{
		"NaN":            {"x": math.NaN()},
		"infinity":       {"x": math.Inf(1)},
		"float32 -Inf":   {"x": float32(math.Inf(-1))},
		"nested NaN":     {"o": map[string]any{"x": math.NaN()}},
		"channel":        {"x": make(chan int)},
		"invalid number": {"x": json.Number("1x")},
	}
	for name, properties := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := appendPropertiesJSON(nil, properties); err == nil {
				t.Errorf("appendPropertiesJSON(%v) returned no error", properties)
			}
			checkSameAsMarshal(t, properties)
		})
	}
}

func TestAppendPropertiesJSONDeepNesting(t *testing.T) {
	properties := map[string]any{"leaf": "x"}
	for range maxPropertyDepth + 5 {
		properties = map[string]any{"o": properties}
	}
	checkSameAsMarshal(t, properties)
}

func TestAppendPropertiesJSONCycle(t *testing.T) {
	cycle := map[string]any{}
	cycle["self"] = cycle
	if _, err := appendPropertiesJSON(nil, cycle); err == nil {
		t.Error("appendPropertiesJSON of a map that contains itself returned no error")
	}
}

// TestAppendPropertiesJSONRandom compares random property maps of the
// types the collector stores, with random strings and numbers, against
// json.Marshal.
func TestAppendPropertiesJSONRandom(t *testing.T) {
	random := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		checkSameAsMarshal(t, randomProperties(random, 0))
	}
}

func randomProperties(random *rand.Rand, depth int) map[string]any {
	properties := map[string]any{}
	for range random.IntN(8) {
		properties[randomString(random)] = randomValue(random, depth)
	}
	return properties
}

func randomValue(random *rand.Rand, depth int) any {
	switch random.IntN(8) {
	case 0:
		return nil
	case 1:
		return random.IntN(2) == 0
	case 2:
		return math.Float64frombits(random.Uint64())
	case 3:
		return float64(random.IntN(1<<20)) * math.Pow(10, float64(random.IntN(50)-25))
	case 4:
		return random.Int64() >> random.IntN(64)
	case 5:
		if depth < 3 {
			return randomProperties(random, depth+1)
		}
	}
	return randomString(random)
}

// randomString returns a short string of ASCII, multi-byte runes,
// separators and invalid UTF-8 bytes.
func randomString(random *rand.Rand) string {
	pieces := []string{"a", "Z", "0", " ", "\"", "\\", "<", ">", "&", "\n", "\x00", "\x1f", "\x7f",
		"é", "世", "🎉", "\u2028", "\u2029", "\xff", "\xc3", "\xe4\xb8", "model", "$lib"}
	var b strings.Builder
	for range random.IntN(6) {
		b.WriteString(pieces[random.IntN(len(pieces))])
	}
	return b.String()
}

func FuzzAppendPropertiesJSON(f *testing.F) {
	f.Add("model", "anthropic/claude-sonnet-4-5", 512.0, int64(7), true)
	f.Add("<key>", "\xff\u2028\x00\"", 1e-7, int64(-1), false)
	f.Add("", "", math.Inf(1), int64(0), false)
	f.Fuzz(func(t *testing.T, key, text string, number float64, integer int64, flag bool) {
		checkSameAsMarshal(t, map[string]any{
			key:     text,
			"n":     number,
			"i":     integer,
			"b":     flag,
			text:    map[string]any{key: number, "f32": float32(number)},
			"empty": nil,
		})
	})
}

func BenchmarkAppendPropertiesJSON(b *testing.B) {
	properties := muxBenchEvents(0, 1)[0].Properties
	b.Run("append", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = appendPropertiesJSON(buf[:0], properties); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(properties); err != nil {
				b.Fatal(err)
			}
		}
	})
}
