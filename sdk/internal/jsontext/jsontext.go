// Package jsontext writes JSON strings byte for byte as encoding/json
// does, without its cost for the plain ASCII that most values are.
package jsontext

import "encoding/json"

// AppendString appends s as json.Marshal writes a string. Strings of
// printable ASCII without " \ < > & are copied; json.Marshal writes the
// others.
func AppendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonPlain[s[i]] {
			data, _ := json.Marshal(s) // a string always encodes
			return append(b, data...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// jsonPlain marks the bytes json.Marshal copies into a string unchanged:
// printable ASCII other than " \ < > &.
var jsonPlain = func() (plain [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		plain[c] = true
	}
	for _, c := range `"\<>&` {
		plain[c] = false
	}
	return plain
}()
