package collector

import (
	"encoding/json"
	"net/http"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// jsonSeeds are JSON texts, valid and not, for the scanner's fuzz targets.
var jsonSeeds = []string{
	`{"event":"e","distinct_id":"d","properties":{"a":[1,2.5e3,-0.1,true,false,null,"x\u00e9\n"],"b":{}}}`,
	`{"EVENT":"e","Properties":{"a":1},"properties":{"b":2},"uuid":null}`,
	`{"properties":null,"token":" k ","\u0065vent":"e"}`,
	`{"properties":"text"}`,
	`{"properties":{"n":1e999}}`,
	`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}",
	`{"a":tru}`, `{"a" 1}`, `{,}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a":[}`, `{} x`, ` [ ] `, `"s"`, `nul`,
	"{\"\xff\":\"\xfe\"}",
}

// testNames interns some of the keys and values of jsonSeeds.
var testNames = &internTable{
	keys:   map[string]string{"a": "a", "model": "model"},
	values: map[string]any{"x": "x", "e": "e"},
}

func FuzzScanValue(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		end, err := skipValue(text, 0)
		accepted := err == nil && skipSpace(text, end) == len(text)
		if valid := json.Valid(text); accepted != valid {
			t.Fatalf("skipValue accepted %q: %v (error %v), json.Valid: %v", text, accepted, err, valid)
		}
	})
}

func FuzzParseAny(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		if !utf8.Valid(text) {
			return // callers check the payload's UTF-8 first
		}
		var want any
		wantErr := json.Unmarshal(text, &want)
		got, end, err := parseAny(text, 0, testNames)
		if err == nil && skipSpace(text, end) != len(text) {
			err = finish(text, end)
		}
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("parseAny(%q) error %v, json.Unmarshal error %v", text, err, wantErr)
		}
		if err == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("parseAny(%q) differs from json.Unmarshal (-want +got):\n%s", text, diff)
			}
		}
	})
}

func FuzzDecodeWireEvent(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		var want, got wireEvent
		wantErr := json.Unmarshal(text, &want)
		err := decodeWireEvent(text, &got, testNames)
		if wantErr == nil && len(text) > 0 && text[skipSpace(text, 0)] != '{' {
			return // json.Unmarshal accepts null; decodeEvents passes only objects
		}
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("decodeWireEvent(%q) error %v, json.Unmarshal error %v", text, err, wantErr)
		}
		if err == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("decodeWireEvent(%q) differs from json.Unmarshal (-want +got):\n%s", text, diff)
			}
		}
	})
}

func TestDecodeWireEventMatchesUnmarshal(t *testing.T) {
	for _, s := range jsonSeeds {
		var want, got wireEvent
		wantErr := json.Unmarshal([]byte(s), &want)
		err := decodeWireEvent([]byte(s), &got, testNames)
		if (err != nil) != (wantErr != nil) {
			t.Errorf("decodeWireEvent(%q) error %v, json.Unmarshal error %v", s, err, wantErr)
			continue
		}
		if diff := cmp.Diff(want, got); err == nil && diff != "" {
			t.Errorf("decodeWireEvent(%q) differs from json.Unmarshal (-want +got):\n%s", s, diff)
		}
	}
}

// checkJSONLimitsByBytes is checkJSONLimits as a plain loop over every
// byte, the reference for FuzzCheckJSONLimits.
func checkJSONLimitsByBytes(text []byte, maxDepth, maxMembers int) int {
	type level struct {
		object  bool
		members int
	}
	var stack []level
	inString, escaped := false, false
	for _, b := range text {
		if b == 0 {
			return http.StatusBadRequest
		}
		if inString {
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
			continue
		}
		switch b {
		case '"':
			inString = true
		case '{', '[':
			if len(stack) >= maxDepth {
				return http.StatusRequestEntityTooLarge
			}
			stack = append(stack, level{object: b == '{'})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ':':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].members++
				if stack[n-1].members > maxMembers {
					return http.StatusRequestEntityTooLarge
				}
			}
		}
	}
	return 0
}

func FuzzCheckJSONLimits(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s), uint8(3), uint8(2))
	}
	f.Add([]byte(`{"a\\":{"b\\\"":[[1]]},"c":"\\\\"}`), uint8(2), uint8(1))
	f.Fuzz(func(t *testing.T, text []byte, maxDepth, maxMembers uint8) {
		want := checkJSONLimitsByBytes(text, int(maxDepth), int(maxMembers))
		got := 0
		if _, err := checkJSONLimits(text, int(maxDepth), int(maxMembers)); err != nil {
			got = err.status
		}
		if got != want {
			t.Fatalf("checkJSONLimits(%q, %d, %d) = status %d, want %d", text, maxDepth, maxMembers, got, want)
		}
	})
}

func TestSplitObjectNumbersInBatch(t *testing.T) {
	// A "batch" that is not an array is decoded into Go values, as
	// json.Decoder.Token decodes it, so a number beyond float64 fails the
	// payload even when a later "batch" replaces it. Events keep their raw
	// text, so their numbers fail only the event.
	tests := []struct {
		text    string
		wantErr bool
	}{
		{`{"api_key":"k","batch":1e400,"batch":[{"event":"e"}]}`, true},
		{`{"api_key":"k","batch":{"a":[-1e400]},"batch":[]}`, true},
		{`{"api_key":"k","batch":{"a":[1e300,"1e400"]},"batch":[{"event":"e"}]}`, false},
		{`{"api_key":"k","batch":[{"n":1e400}]}`, false},
		{`{"api_key":"k","sent_at":1e400,"batch":[]}`, false},
	}
	for _, tt := range tests {
		_, err := splitObject([]byte(tt.text))
		if (err != nil) != tt.wantErr {
			t.Errorf("splitObject(%s) error %v, want error: %v", tt.text, err, tt.wantErr)
		}
	}
}
