package collector

import (
	"bytes"
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/candor-dev/candor/sdk/catalog"
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
// byte, the reference for FuzzCheckJSONLimits. It returns the status of a
// rejection, or 0, and the offsets of every breach of maxDepth and
// maxMembers before it, including those inside a value that is already
// too deep.
func checkJSONLimitsByBytes(text []byte, maxDepth, maxMembers int) (status int, breaches []int) {
	type level struct {
		object  bool
		members int
	}
	var stack []level
	inString, escaped := false, false
	for i, b := range text {
		if b == 0 {
			return http.StatusBadRequest, breaches
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
			if len(stack) >= maxJSONNesting {
				return http.StatusRequestEntityTooLarge, breaches
			}
			if len(stack) >= maxDepth {
				breaches = append(breaches, i)
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
					breaches = append(breaches, i)
				}
			}
		}
	}
	return 0, breaches
}

func FuzzCheckJSONLimits(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s), uint8(3), uint8(2))
	}
	f.Add([]byte(`{"a\\":{"b\\\"":[[1]]},"c":"\\\\"}`), uint8(2), uint8(1))
	f.Add([]byte(`[{"a":[[[1]]],"b":2,"c":3},[[[]],[[]]],{"d":{"e":1,"f":2}}]`), uint8(2), uint8(1))
	f.Fuzz(func(t *testing.T, text []byte, maxDepth, maxMembers uint8) {
		wantStatus, wantBreaches := checkJSONLimitsByBytes(text, int(maxDepth), int(maxMembers))
		shape, err := checkJSONLimits(text, int(maxDepth), int(maxMembers))
		status := 0
		if err != nil {
			status = err.status
		}
		if status != wantStatus {
			t.Fatalf("checkJSONLimits(%q, %d, %d) = status %d, want %d", text, maxDepth, maxMembers, status, wantStatus)
		}
		if status != 0 {
			return
		}
		// checkJSONLimits records the first breach and then at most one
		// per value at depth 3 or less, in order.
		if (len(shape.breaches) > 0) != (len(wantBreaches) > 0) {
			t.Fatalf("checkJSONLimits(%q, %d, %d) breaches %v, want %v", text, maxDepth, maxMembers, shape.breaches, wantBreaches)
		}
		k := 0
		for _, b := range shape.breaches {
			for k < len(wantBreaches) && wantBreaches[k] < b.offset {
				k++
			}
			if k == len(wantBreaches) || wantBreaches[k] != b.offset {
				t.Fatalf("checkJSONLimits(%q, %d, %d) breaches %v, want a subset of %v in order", text, maxDepth, maxMembers, shape.breaches, wantBreaches)
			}
			k++
		}
		if len(shape.breaches) > 0 && shape.breaches[0].offset != wantBreaches[0] {
			t.Fatalf("checkJSONLimits(%q, %d, %d) first breach at %d, want %d", text, maxDepth, maxMembers, shape.breaches[0].offset, wantBreaches[0])
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
		_, err := splitObject([]byte(tt.text), nil)
		if (err != nil) != tt.wantErr {
			t.Errorf("splitObject(%s) error %v, want error: %v", tt.text, err, tt.wantErr)
		}
	}
}

// skipValue fails nesting deeper than encoding/json accepts.
func TestSkipValueNestingLimit(t *testing.T) {
	for _, levels := range []int{maxJSONNesting, maxJSONNesting + 1} {
		text := []byte(strings.Repeat("[", levels) + strings.Repeat("]", levels))
		end, err := skipValue(text, 0)
		accepted := err == nil && end == len(text)
		if valid := json.Valid(text); accepted != valid {
			t.Errorf("%d levels: skipValue accepted %v (error %v), json.Valid %v", levels, accepted, err, valid)
		}
	}
}

// A payload of nothing but openings, at the size of the largest body,
// gets 413 and costs memory for neither its depth nor its length.
func TestOpenBracketsStayCheap(t *testing.T) {
	for _, opening := range []string{"[", `{"a":`} {
		text := bytes.Repeat([]byte(opening), (20<<20)/len(opening))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := parseRequest(text, route{path: "/batch", batch: true}, DefaultMaxDepth, DefaultMaxProperties, allowAll)
		runtime.ReadMemStats(&after)

		if err == nil || err.status != http.StatusRequestEntityTooLarge {
			t.Errorf("%q: error %v, want status 413", opening, err)
		}
		if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 64<<10 {
			t.Errorf("%q: allocated %d bytes, want at most 64 KiB", opening, allocated)
		}
	}
}

// An event nested as deep as encoding/json allows is skipped with a stack
// of a byte per level and dropped, and the event before it is kept.
func TestDeepEventSkipped(t *testing.T) {
	deep := strings.Repeat(`{"a":`, maxJSONNesting-2) + "1" + strings.Repeat("}", maxJSONNesting-2)
	text := []byte(`[{"event":"e"},` + deep + `]`)
	req, err := parseRequest(text, route{path: "/batch", batch: true}, DefaultMaxDepth, DefaultMaxProperties, allowAll)
	if err != nil {
		t.Fatalf("parseRequest: %v", err)
	}
	if diff := cmp.Diff([]catalog.Reason{"", ReasonEventTooDeep}, req.overLimit); diff != "" {
		t.Errorf("overLimit mismatch (-want +got):\n%s", diff)
	}
}
