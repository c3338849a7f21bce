package catalog

import (
	"net/netip"
	"strings"
	"time"
)

// This file holds the checks for personal data in notations that the
// checks in strings.go miss. They find text in short base64, keys split by
// slashes, IPv4 addresses as inet_aton reads them, IPv6 addresses with
// dashes and phone numbers with dots. Each runs on every accepted
// identifier, variant or version value, so none of them allocates.

// minEncodedTextRun is the shortest run of letters and digits that
// hasEncodedTextRun decodes: 12 base64 characters hold 9 bytes.
const minEncodedTextRun = 12

// hasEncodedTextRun reports whether s holds a run of letters and digits
// that is encoded text. Such a run is hex that decodes to words
// (isHexText), or at least minEncodedTextRun letters and digits, with both
// present, that decode from base64 to printable ASCII, such as
// KzE1NTUxMjM0NTY3 for +15551234567. Other runs of hex digits are left
// out, because catalog fingerprints and commit hashes are hex.
//
// Random tokens of 12 to 32 bytes from crypto/rand hold such a run: 31 of
// 2.1 million in base64url (1.5 in 100,000) and none in hex, measured as
// TestNotationChecksOnRandomTokens describes.
func hasEncodedTextRun(s string) bool {
	for start := 0; start < len(s); {
		end := start
		for end < len(s) && isAlnum(s[end]) {
			end++
		}
		run := s[start:end]
		if isHexText(run) {
			return true
		}
		if len(run) >= minEncodedTextRun && !isHex(run) && hasLetterAndDigit(run) && base64EncodesText(run) {
			return true
		}
		start = end + 1
	}
	return false
}

// Lengths of a run of hex digits that isHexText decodes. From 32 digits
// on, isRandomRun rejects every run of hex digits as key material.
const (
	minHexNameRun = 10 // 5 bytes, as in the hex of alice
	minHexTextRun = 14 // 7 bytes
	maxHexTextRun = 31
)

// isHexText reports whether run, with or without a 0x prefix, is
// minHexTextRun to maxHexTextRun hex digits that decode to bytes of
// words: letters, digits, spaces and .,-_@+', such as 6d7920736563726574
// for "my secret". Of a million random runs from crypto/rand it rejected
// 121 of 14 digits, 39 of 16, the length of span IDs and catalog
// fingerprints, 11 of 18 and at most 2 of each length from 20 digits on.
// Go pseudo-versions and short commit hashes hold 12 hex digits or fewer.
//
// A run of minHexNameRun or 12 digits is text only when it decodes to a
// name (isHexName), such as 616c696365 for "alice". Of 10 million random
// runs from crypto/rand, that rule rejected 217 of 10 digits (2.2e-5) and
// 24 of 12 (2.4e-6). Short commit hashes often have 10 digits, and the commit
// hash in a Go pseudo-version and the last group of a UUID have 12. Both
// rates are below those of the longer runs.
//
// NOTE: text of 4 bytes or fewer, such as the hex of "bob", passes, and so
// does other text of 5 or 6 bytes, such as the hex of "a.b@c". The rule
// of 7 bytes and more would reject 399 in a million random runs of 12
// digits and 5,493 of 8.
func isHexText(run string) bool {
	if len(run) > 2 && run[0] == '0' && run[1]|0x20 == 'x' {
		run = run[2:]
	}
	if len(run) < minHexNameRun || len(run) > maxHexTextRun || len(run)%2 != 0 || !isHex(run) {
		return false
	}
	if len(run) < minHexTextRun {
		return isHexName(run)
	}
	for i := 0; i < len(run); i += 2 {
		if !isWordByte(hexValue(run[i])<<4 | hexValue(run[i+1])) {
			return false
		}
	}
	return true
}

// isHexName reports whether the hex digits of run decode to a name: a
// letter in either case, then lower-case letters only. A random byte is a
// lower-case letter with a chance of 26 in 256.
func isHexName(run string) bool {
	for i := 0; i < len(run); i += 2 {
		c := hexValue(run[i])<<4 | hexValue(run[i+1])
		if !(c >= 'a' && c <= 'z' || i == 0 && c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// isWordByte reports whether c is a byte of words, names, email addresses
// and phone numbers: an ASCII letter or digit, a space or one of .,-_@+'.
func isWordByte(c byte) bool {
	return isAlnum(c) || c == ' ' || c == '.' || c == ',' || c == '-' || c == '_' || c == '@' || c == '+' || c == '\''
}

func hasLetterAndDigit(s string) bool {
	var letter, digit bool
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c|0x20 >= 'a' && c|0x20 <= 'z':
			letter = true
		}
	}
	return letter && digit
}

// minSlashedKeyLen is the shortest run, slashes included, that
// isSlashedKey reads as key material. AWS secret access keys have 40
// characters.
const minSlashedKeyLen = 32

// isSlashedKey reports whether run, which holds at least one '/', is base64
// key material that the slashes cut into pieces too short for
// isRandomRun, such as the AWS secret access key
// wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY. It needs upper and lower case
// letters and digits, and an entropy of at least 4 bits per character,
// which the paths of model ids such as openrouter/anthropic/claude stay
// below.
func isSlashedKey(run string) bool {
	if len(run) < minSlashedKeyLen {
		return false
	}
	var upper, lower, digit bool
	for i := 0; i < len(run); i++ {
		switch c := run[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		}
	}
	return upper && lower && digit && entropy(run) >= 4
}

// containsInetAtonIPv4 reports whether s holds, between bytes other than
// letters, digits and dots, an IPv4 address that inet_aton reads and
// netip.ParseAddr does not (isInetAtonIPv4Text), such as 0x7f.0x0.0x0.0x1,
// 0x7f000001, 0177.0.0.1 or 127.1 for 127.0.0.1.
func containsInetAtonIPv4(s string) bool {
	for start := 0; start < len(s); {
		end := start
		for end < len(s) && (isAlnum(s[end]) || s[end] == '.') {
			end++
		}
		if isInetAtonIPv4Text(s[start:end], start == 0 && end == len(s)) {
			return true
		}
		start = end + 1
	}
	return false
}

// isInetAtonIPv4Text reports whether s is an IPv4 address of one to four
// parts as inet_aton reads it. Each part is hex after 0x, octal after a
// leading 0 or decimal, and the last part fills the bytes that the parts
// before it leave.
//
// Four parts, or two or more with one in hex, always count. One part
// counts only in the loopback, private and link-local ranges, as
// 2130706433 and 0xc0a80117 do. Two or three parts in decimal and octal,
// as in 127.1 and 10.0.1, count in those ranges only when they are the
// whole value (whole is true). Windows writes HRESULT and NTSTATUS codes as 0x and 8 hex
// digits, just as an address is written, and names hold versions such as
// gpt-4.1, macos-10.15 or win-10.0.19045. The class exists for such names,
// so they pass: 0x80070005 reads as the public 128.7.0.5, and the versions
// follow a name. A bare 10.15 (10.0.0.15) is rejected.
func isInetAtonIPv4Text(s string, whole bool) bool {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return false
	}
	parts := strings.Count(s, ".") + 1
	if parts > 4 {
		return false
	}
	var address uint64
	hexParts := 0
	index := 0
	for part := range strings.SplitSeq(s, ".") {
		index++
		value, isHexPart, ok := parseInetAtonPart(part)
		if !ok {
			return false
		}
		if isHexPart {
			hexParts++
		}
		// Each part before the last is one byte, and the last part fills
		// the 5-parts bytes that remain.
		if index < parts {
			if value > 255 {
				return false
			}
			address |= value << (8 * (4 - index))
			continue
		}
		if value > 1<<(8*(5-parts))-1 {
			return false
		}
		address |= value
	}
	if parts == 4 || parts > 1 && hexParts > 0 {
		return true
	}
	if parts > 1 && !whole {
		return false
	}
	addr := netip.AddrFrom4([4]byte{byte(address >> 24), byte(address >> 16), byte(address >> 8), byte(address)})
	return addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast()
}

// parseInetAtonPart parses one part of an IPv4 address as inet_aton does:
// hex after 0x, octal after a leading 0, decimal otherwise. Values above
// 32 bits are reported as not ok.
func parseInetAtonPart(part string) (value uint64, isHexPart, ok bool) {
	base := uint64(10)
	digits := part
	switch {
	case len(part) > 2 && part[0] == '0' && part[1]|0x20 == 'x':
		base, digits, isHexPart = 16, part[2:], true
	case len(part) > 1 && part[0] == '0':
		base, digits = 8, part[1:]
	}
	if digits == "" || len(digits) > 11 {
		return 0, false, false
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if !isHexDigit(c) {
			return 0, false, false
		}
		d := uint64(hexValue(c))
		if d >= base {
			return 0, false, false
		}
		value = value*base + d
	}
	return value, isHexPart, value <= 0xffffffff
}

// containsDashedIPv6 reports whether s holds an IPv6 address written as in
// the names of ipv6-literal.net, with - in place of :, such as
// fe80--1-eth0 for fe80::1 or 2001-db8-85a3-0-0-8a2e-370-7334, and with s
// before a zone, as in fe80--1seth0 for fe80::1%eth0. A candidate is a run
// of hex digits and dashes. When the run starts or ends inside a word, the
// part of the word in the run is left out, so that claude-3-5-sonnet
// yields only 3-5.
//
// Random tokens of 12 to 32 bytes from crypto/rand hold such an address:
// 12 of 2.1 million in base64url, whose alphabet has -, and none in hex.
func containsDashedIPv6(s string) bool {
	for start := 0; start < len(s); {
		end := start
		for end < len(s) && (isHexDigit(s[end]) || s[end] == '-') {
			end++
		}
		if end > start && isDashedIPv6(trimDashedRun(s, start, end)) {
			return true
		}
		start = end + 1
	}
	return false
}

// trimDashedRun returns s[start:end] without the part of a word that
// continues before start or after end.
func trimDashedRun(s string, start, end int) string {
	run := s[start:end]
	if start > 0 && isAlnum(s[start-1]) {
		i := strings.IndexByte(run, '-')
		if i < 0 {
			return ""
		}
		run = run[i+1:]
	}
	if end < len(s) && isAlnum(s[end]) && !(s[end] == 's' && isZoneName(s[end+1:])) {
		i := strings.LastIndexByte(run, '-')
		if i < 0 {
			return ""
		}
		// Keep both dashes of a "--" that ends the address.
		if i > 0 && run[i-1] == '-' {
			i++
		}
		run = run[:i]
	}
	return run
}

// isZoneName reports whether the word that starts s names a network
// interface as IPv6 zones do: letters, then one or more digits, as in eth0,
// en0 or 4.
func isZoneName(s string) bool {
	i := 0
	for i < len(s) && s[i]|0x20 >= 'a' && s[i]|0x20 <= 'z' {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	return digits > 0 && (i == len(s) || !isAlnum(s[i]))
}

// isDashedIPv6 reports whether s is an IPv6 address with - in place of :
// and at least two groups: eight groups of one to four hex digits, or
// fewer with one "--" standing for the groups of zeros.
func isDashedIPv6(s string) bool {
	double := strings.Index(s, "--")
	if double >= 0 && strings.Contains(s[double+2:], "--") {
		return false
	}
	groups := 0
	for i := 0; i < len(s); {
		if s[i] == '-' {
			if i == double {
				i += 2
				continue
			}
			// A single dash must sit between two groups.
			if i == 0 || i == len(s)-1 || !isHexDigit(s[i-1]) || !isHexDigit(s[i+1]) {
				return false
			}
			i++
			continue
		}
		end := i
		for end < len(s) && isHexDigit(s[end]) {
			end++
		}
		if end-i > 4 {
			return false
		}
		groups++
		i = end
	}
	if double < 0 {
		return groups == 8
	}
	return groups >= 2 && groups <= 7
}

// isDottedPhoneNumber reports whether s, digits joined by dots, reads as
// a phone number rather than a version. It needs more than maxDigitRun
// and at most maxPhoneDigits digits, as phone numbers with an area code
// have and as the builds of Windows (10.0.22631.4602) and Chrome
// (120.0.6099.291) have too. Beside
// a North American number (isNorthAmericanNumber), s is a phone number
// when it has
//   - more than 4 parts, as in 33.1.42.68.53.00,
//   - a part with a leading zero, as in 44.20.7946.0958 and
//     020.7946.0958, where a version has 0 alone,
//   - a part of 6 to 8 digits that is no yyyymmdd date, as in
//     49.30.1234567, where a build number has 5 digits or fewer,
//   - or the 4 parts of an international number
//     (isInternationalNumber), as in 61.2.9876.5432.
//
// A calendar version, whose first part is a year from 1970 to 2099,
// may have months and days with leading zeros and times of 6 digits,
// as in 2024.01.15.1 and 2024.03.10.232019, so of these rules only the
// first applies to it.
//
// NOTE: a phone number of 3 parts without those marks, such as
// 91.98765.43210, reads as a build and passes.
func isDottedPhoneNumber(s string) bool {
	digits := len(s) - strings.Count(s, ".")
	if digits <= maxDigitRun || digits > maxPhoneDigits || !isDigitsAndDots(s) {
		return false
	}
	if isNorthAmericanNumber(s) || strings.Count(s, ".") >= 4 {
		return true
	}
	first, _, _ := strings.Cut(s, ".")
	if len(first) == 4 && first >= "1970" && first <= "2099" {
		return false
	}
	for part := range strings.SplitSeq(s, ".") {
		if len(part) > 1 && part[0] == '0' {
			return true
		}
		if len(part) >= 6 && !(len(part) == 8 && isDate(part)) {
			return true
		}
	}
	return isInternationalNumber(s)
}

// isInternationalNumber reports whether s, 4 parts of digits joined by
// dots without leading zeros, reads as a phone number with its country
// code, as 61.2.9876.5432, 7.495.123.4567 and 34.912.345.678 do. Such a
// number has a country code of 1 to 3 digits, an area code other than 0
// and two groups of 3 or 4 digits. The builds of Chrome, Edge and Windows 10 and
// later, such as 131.0.6778.85 and 10.0.19045.3803, have 0 in the place
// of the area code. The other 4-part versions that the tests list have a
// last or third part of 1, 2 or 5 digits, as in 5.15.153.1,
// 17.11.35222.181 and 6.3.9600.20719.
//
// NOTE: versions of that form are rejected too, such as Windows XP's
// 5.1.2600.5512 and driver versions such as 27.20.100.9316.
func isInternationalNumber(s string) bool {
	var lengths [4]int
	part := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '.' {
			lengths[part]++
			continue
		}
		part++
		if part == len(lengths) {
			return false
		}
	}
	if part != 3 || lengths[0] > 3 || lengths[1] == 1 && s[lengths[0]+1] == '0' {
		return false
	}
	return lengths[2] >= 3 && lengths[2] <= 4 && lengths[3] >= 3 && lengths[3] <= 4
}

// maxPhoneDigits is the most digits an international phone number has,
// by ITU-T E.164.
const maxPhoneDigits = 15

func isDigitsAndDots(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '.' && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

// isDate reports whether the 8 digits of s are a date written yyyymmdd in
// the years 1970 to 2099. Unlike time.Parse it allocates nothing when s is
// no date.
func isDate(s string) bool {
	year := parseDigits(s[:4])
	month := parseDigits(s[4:6])
	day := parseDigits(s[6:8])
	if year < 1970 || year > 2099 || month < 1 || month > 12 || day < 1 {
		return false
	}
	// time.Date moves a day past the end of the month into the next one.
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC).Day() == day
}

// parseDigits returns the value of s, which the caller has checked holds
// only decimal digits.
func parseDigits(s string) int {
	value := 0
	for i := 0; i < len(s); i++ {
		value = value*10 + int(s[i]-'0')
	}
	return value
}

// isNorthAmericanNumber reports whether s is a North American phone number
// written with dots, 555.123.4567 or 1.555.123.4567: parts of 3, 3 and 4
// digits, after a 1 for the country code or not. A version of that form
// is rejected with them, but none of the real versions that the tests
// list has it.
func isNorthAmericanNumber(s string) bool {
	if strings.HasPrefix(s, "1.") {
		s = s[2:]
	}
	if len(s) != 12 || s[3] != '.' || s[7] != '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i != 3 && i != 7 && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

// hasSlashedKey reports whether a run of s between the separators ._:-,
// slashes included, is key material by isSlashedKey.
func hasSlashedKey(s string) bool {
	for start := 0; start < len(s); {
		end := start
		for end < len(s) && (s[end] == '/' || !isSecretSeparator(s[end])) {
			end++
		}
		run := s[start:end]
		if strings.IndexByte(run, '/') >= 0 && isSlashedKey(run) {
			return true
		}
		start = end + 1
	}
	return false
}
