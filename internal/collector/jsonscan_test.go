package collector

import (
	"encoding/json"
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
		got, end, err := parseAny(text, 0)
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
		err := decodeWireEvent(text, &got)
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
		err := decodeWireEvent([]byte(s), &got)
		if (err != nil) != (wantErr != nil) {
			t.Errorf("decodeWireEvent(%q) error %v, json.Unmarshal error %v", s, err, wantErr)
			continue
		}
		if diff := cmp.Diff(want, got); err == nil && diff != "" {
			t.Errorf("decodeWireEvent(%q) differs from json.Unmarshal (-want +got):\n%s", s, diff)
		}
	}
}
