package catalog

import (
	"math"
	"net/netip"
	"strings"
	"time"
)

// checkIdentifier returns the reason s may not be sent as an Identifier, or
// "" when it may.
func checkIdentifier(s string) Reason {
	if s == "" {
		return ReasonInvalidString
	}
	if len(s) > MaxIdentifierLen {
		return ReasonTooLong
	}
	if strings.ContainsRune(s, '@') {
		return ReasonLooksLikeEmail
	}
	if looksLikeURL(s) || looksLikeHostURL(s) {
		return ReasonLooksLikeURL
	}
	if strings.ContainsAny(s, `\~`) || looksLikePath(s) {
		return ReasonLooksLikePath
	}
	for i := 0; i < len(s); i++ {
		if !isIdentifierByte(s[i]) {
			return ReasonInvalidString
		}
	}
	if looksLikeSecret(s) {
		return ReasonLooksLikeSecret
	}
	// Versions 1 and 6 hold a MAC address, 3 and 5 a hash of a name.
	if hasUUIDLayout(s) && !isUUID(s) {
		return ReasonNotRandomID
	}
	if looksLikeIP(s) {
		return ReasonLooksLikeIP
	}
	if looksLikeNumber(s) {
		return ReasonLooksLikeNumber
	}
	return ""
}

// urlSchemes start URLs that carry no "://".
var urlSchemes = []string{"mailto:", "file:", "data:", "javascript:", "tel:"}

// looksLikeURL reports whether s holds a URL, which may carry a host, a
// user name, a password or a query.
func looksLikeURL(s string) bool {
	if strings.Contains(s, "://") {
		return true
	}
	for _, scheme := range urlSchemes {
		if hasPrefixFold(s, scheme) {
			return true
		}
	}
	return false
}

// looksLikeHostURL reports whether s is a URL written without its scheme:
// a host name followed by a path or a port, such as example.com/alice or
// www.example.org:8080.
func looksLikeHostURL(s string) bool {
	end := strings.IndexAny(s, "/:")
	if end <= 0 || !isHostName(s[:end]) {
		return false
	}
	if s[end] == '/' {
		return true
	}

	// A port: digits up to the end or to a path.
	port, _, _ := strings.Cut(s[end+1:], "/")
	if port == "" {
		return false
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}

// isHostName reports whether host is two or more dot-separated labels of
// ASCII letters, digits and '-' whose last label is one of
// topLevelDomains in any letter case. Names with a dot whose last part is
// no such domain pass, such as the model id azure.openai/gpt-4o, the gRPC
// method helloworld.Greeter/SayHello and the source location main.go:12.
func isHostName(host string) bool {
	dot := strings.LastIndexByte(host, '.')
	if dot <= 0 {
		return false
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c|0x20 >= 'a' && c|0x20 <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return topLevelDomains[strings.ToLower(host[dot+1:])]
}

// topLevelDomains are the last labels, in lower case, that make a name
// with a dot a host name. They are the legacy generic top-level domains,
// widely used newer ones, names used on private networks and the country
// codes of countries with many internet users. Country codes that are
// also common file extensions are left out, so that a file name or a
// source location such as install.sh:12 passes. The codes left out are
// in (Makefile.in), pl (Perl), py, rs, sh, md, cc, so and ps.
//
// NOTE: a URL without a scheme under any other domain, such as
// example.in/alice or example.nz/alice, still passes as an identifier.
var topLevelDomains = map[string]bool{
	"com": true, "net": true, "org": true, "edu": true, "gov": true, "mil": true,
	"int": true, "info": true, "biz": true, "name": true, "pro": true,

	"io": true, "dev": true, "app": true, "ai": true, "co": true, "me": true,
	"cloud": true, "tech": true, "xyz": true, "online": true, "site": true, "page": true,

	"local": true, "internal": true, "corp": true, "lan": true, "home": true,
	"intranet": true, "example": true, "test": true,

	"us": true, "uk": true, "de": true, "fr": true, "nl": true, "eu": true,
	"jp": true, "cn": true, "ru": true, "ca": true, "au": true, "br": true,
	"ch": true, "se": true, "it": true, "es": true,
}

// hasPrefixFold reports whether s starts with the lower-case ASCII prefix
// in any letter case. It agrees with strings.HasPrefix(strings.ToLower(s),
// prefix) for the URL schemes: the only other rune ToLower maps to ASCII is
// the Kelvin sign, to 'k', which no scheme holds.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// looksLikeIP reports whether s is, or contains between separators, an IPv4
// or IPv6 address, with or without a port or prefix length, in the
// notations of containsInetAtonIPv4 and containsDashedIPv6 too.
func looksLikeIP(s string) bool {
	if mayParseAsIP(s) {
		if _, err := netip.ParseAddr(s); err == nil {
			return true
		}
		if _, err := netip.ParseAddrPort(s); err == nil {
			return true
		}
		if _, err := netip.ParsePrefix(s); err == nil {
			return true
		}
	}
	// Each run of digits and dots with three dots may be an IPv4 address.
	for start := 0; start < len(s); {
		end := start
		for end < len(s) && (s[end] == '.' || s[end] >= '0' && s[end] <= '9') {
			end++
		}
		if isIPv4Text(s[start:end]) {
			return true
		}
		start = end + 1
	}
	return containsIPv6(s) || containsInetAtonIPv4(s) || containsDashedIPv6(s)
}

// isIPv4Text reports whether s is four dot-separated decimal numbers of at
// most 255, written with up to four digits each. Unlike netip.ParseAddr it
// accepts leading zeros, as in 010.000.000.001 or 0177.0.0.1, which
// inet_aton and many tools read as an address too.
func isIPv4Text(s string) bool {
	parts := 0
	for part := range strings.SplitSeq(s, ".") {
		parts++
		if len(part) == 0 || len(part) > 4 {
			return false
		}
		value := 0
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return false
			}
			value = value*10 + int(part[i]-'0')
		}
		if value > 255 {
			return false
		}
	}
	return parts == 4
}

// containsIPv6 reports whether s holds an IPv6 address between separators,
// as in "ip:2001:db8::1" or "host-fe80::1". A candidate is a run of hex
// digits, colons and dots that no letter or digit touches, so that the
// "d::f" inside "std::fmt" is not one. A single colon at either end of a
// run is taken as a separator.
func containsIPv6(s string) bool {
	for start := 0; start < len(s); {
		end := start
		for end < len(s) && (s[end] == ':' || s[end] == '.' || isHexDigit(s[end])) {
			end++
		}
		if end-start >= 2 {
			run := s[start:end]
			if run[0] == ':' && run[1] != ':' {
				run = run[1:]
			} else if start > 0 && isAlnum(s[start-1]) {
				run = ""
			}
			if len(run) >= 2 && run[len(run)-1] == ':' && run[len(run)-2] != ':' {
				run = run[:len(run)-1]
			} else if end < len(s) && isAlnum(s[end]) {
				run = ""
			}
			if strings.Count(run, ":") >= 2 {
				if addr, err := netip.ParseAddr(run); err == nil && addr.Is6() {
					return true
				}
			}
		}
		start = end + 1
	}
	return false
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f'
}

// mayParseAsIP reports whether netip.ParseAddr, ParseAddrPort or
// ParsePrefix could accept s. Before an IPv6 zone, which starts at '%',
// those accept only hex digits and .:[]/, and an address holds a '.' or a
// ':'. It saves the parsers' error values on strings that are no address.
func mayParseAsIP(s string) bool {
	sep := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			return true
		case c == '.' || c == ':':
			sep = true
		case c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f' || c == '[' || c == ']' || c == '/':
		default:
			return false
		}
	}
	return sep
}

// maxDigitRun is the longest run of digits an identifier may hold. Dates
// such as 20241022 in model ids have 8; phone, card and account numbers
// have more.
const maxDigitRun = 8

// minNumberRun is the shortest run of digits that reads as a number: a
// local phone number such as 5551234 has 7. Account numbers and public
// IPv4 addresses written as one decimal number (1.0.0.0 is 16777216) have
// 8 or more.
const minNumberRun = 7

// looksLikeNumber reports whether s holds a phone, card or account number:
// a run of more than maxDigitRun digits, a run of minNumberRun or
// maxDigitRun digits that isNumberRun reads as a number, or more than
// maxDigitRun digits in total with nothing but separators between them.
// The digits of a UUID of version 4 or 7 are random, so only the first
// rule applies to it, alone or inside s.
func looksLikeNumber(s string) bool {
	run, total, letters := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] >= '0' && s[i] <= '9' {
			run++
			total++
			if run > maxDigitRun {
				return true
			}
			continue
		}
		if run >= minNumberRun && isNumberRun(s, i-run, i) {
			return true
		}
		run = 0
		if i < len(s) && isLetter(s[i]) {
			letters++
		}
	}
	return letters == 0 && total > maxDigitRun
}

// isNumberRun reports whether the run of 7 or 8 digits s[start:end] reads
// as a number. It does not when it is a date written yyyymmdd, as in the
// model id claude-3-5-sonnet-20241022, or when it is part of a word in
// hex: a word of hex digits with a letter among them, as in the commit
// hash 9fceb02d0a, or one after 0x, as in the Windows error code
// 0x10004003. Nor does the first group of a UUID of version 4 or 7
// (startsUUID), whose digits are random.
//
// NOTE: a number next to the letters a to f, as in cc12345678, passes,
// and so does one that reads as a date, as 1 in about 1,900 of 8 digits
// does. Short commit hashes that are all digits are rejected: 3.7% of
// those of 7 hex digits and 2.3% of those of 8.
func isNumberRun(s string, start, end int) bool {
	if end-start == maxDigitRun && isDate(s[start:end]) {
		return false
	}
	wordStart, wordEnd := start, end
	for wordStart > 0 && isAlnum(s[wordStart-1]) {
		wordStart--
	}
	for wordEnd < len(s) && isAlnum(s[wordEnd]) {
		wordEnd++
	}
	word := s[wordStart:wordEnd]
	if startsUUID(s, wordStart) {
		return false
	}
	if len(word) > 2 && word[0] == '0' && word[1]|0x20 == 'x' {
		return !isHex(word[2:])
	}
	return !isHex(word) || wordEnd-wordStart == end-start
}

// startsUUID reports whether a UUID of version 4 or 7 starts at s[start]
// and no letter or digit follows it, as the UUID in job-<UUID> does. Of
// the groups of a UUID, only the first can be a word of 7 or 8 digits.
func startsUUID(s string, start int) bool {
	end := start + 36
	return end <= len(s) && isUUID(s[start:end]) && (end == len(s) || !isAlnum(s[end]))
}

func isIdentifierByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == ':' || c == '/' || c == '-'
}

// homeMarkers are path segments that put a user name right after them.
var homeMarkers = []string{"home/", "Users/", "users/", "Documents and Settings/"}

// homeMarkersAfterSlash holds each home marker after a /.
var homeMarkersAfterSlash = func() []string {
	out := make([]string, len(homeMarkers))
	for i, m := range homeMarkers {
		out[i] = "/" + m
	}
	return out
}()

func looksLikePath(s string) bool {
	if s[0] == '/' || s[0] == '.' && strings.HasPrefix(s, "./") {
		return true
	}
	// A drive letter: C:, C:/x, C:\x and the drive-relative C:x.
	if len(s) >= 2 && s[1] == ':' && (s[0]|0x20 >= 'a' && s[0]|0x20 <= 'z') {
		return true
	}
	if strings.Contains(s, "..") || strings.Contains(s, "//") && !strings.Contains(s, "://") {
		return true
	}
	for i, m := range homeMarkers {
		if strings.HasPrefix(s, m) || strings.Contains(s, homeMarkersAfterSlash[i]) {
			return true
		}
	}
	if strings.Contains(s, "://") && strings.Count(s, "/") > 3 {
		return true
	}
	return false
}

// secretPrefixes start API keys and tokens of widespread services.
var secretPrefixes = []string{
	"sk-", "sk_", "pk_live", "rk_live", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
	"glpat-", "xoxb-", "xoxp-", "xoxa-", "AKIA", "ASIA", "AIza", "ya29.", "phc_", "phx_", "phs_",
	"hf_", "npm_", "pypi-", "eyJ",
}

// looksLikeSecret reports whether s starts like a known token format, has
// a long run that reads like random key material, or holds text or a key
// in base64 (hasEncodedTextRun, hasSlashedKey).
func looksLikeSecret(s string) bool {
	if hasSecretPrefix(s) || hasEncodedTextRun(s) || hasSlashedKey(s) {
		return true
	}
	// Each run between the separators ._:/- is checked on its own.
	for start := 0; start < len(s); {
		end := start
		for end < len(s) && !isSecretSeparator(s[end]) {
			end++
		}
		if end > start && isRandomRun(s[start:end]) {
			return true
		}
		start = end + 1
	}
	return false
}

func isSecretSeparator(c byte) bool {
	return c == '.' || c == '_' || c == ':' || c == '/' || c == '-'
}

// hasSecretPrefix reports whether s, or a part of it after a / or :,
// starts like the token of a known service.
func hasSecretPrefix(s string) bool {
	if startsLikeSecret(s) {
		return true
	}
	for i := 0; i < len(s); i++ {
		if (s[i] == '/' || s[i] == ':') && startsLikeSecret(s[i+1:]) {
			return true
		}
	}
	return false
}

func startsLikeSecret(s string) bool {
	if s == "" {
		return false
	}
	for _, p := range secretPrefixesByFirstByte[s[0]] {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// secretPrefixesByFirstByte groups secretPrefixes by their first byte.
var secretPrefixesByFirstByte = func() (table [256][]string) {
	for _, p := range secretPrefixes {
		table[p[0]] = append(table[p[0]], p)
	}
	return table
}()

// isRandomRun reports whether a run of letters and digits is long and mixed
// enough to be key material rather than a word or a date: at least 20
// characters with letters and digits both present and a Shannon entropy of
// at least 3.5 bits per character, or 32 or more hex digits.
func isRandomRun(run string) bool {
	if len(run) >= 32 && isHex(run) {
		return true
	}
	if len(run) < 20 {
		return false
	}
	var letters, digits int
	for i := 0; i < len(run); i++ {
		switch c := run[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters++
		}
	}
	return letters > 0 && digits > 0 && entropy(run) >= 3.5
}

// entropy returns the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	var h float64
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// hasRepeatedHexDigit reports whether one hex digit makes up more than
// half of the 32 of the UUID s, as in 00000000-0000-4000-8000-000000000000.
// A version 4 UUID has 122 random bits, and the chance that one of its
// digits fills more than half is below 1e-10.
func hasRepeatedHexDigit(s string) bool {
	var counts [16]uint8
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			continue
		}
		digit := hexValue(s[i])
		counts[digit]++
		if counts[digit] > 16 {
			return true
		}
	}
	return false
}

// encodesText reports whether s, read as hex or as unpadded base64,
// decodes to printable ASCII text, such as "YWxpY2VAZXhhbXBsZS5jb20" for
// alice@example.com. Random bytes are all printable with a chance of
// (95/256)^12, below 1e-5, for the 12 bytes of the shortest token.
//
// It runs for every random ID that passes, distinct_id included, so it
// decodes in place instead of allocating the decoded bytes. It reads
// base64 as encoding/base64's RawURLEncoding and RawStdEncoding do: the
// unused bits of the last character are ignored, and a last group of one
// character is invalid. Unlike those it does not skip line breaks, which
// no random ID contains.
func encodesText(s string) bool {
	if len(s) == 0 {
		return false
	}
	if isHex(s) && len(s)%2 == 0 {
		for i := 0; i < len(s); i += 2 {
			if !isPrintable(hexValue(s[i])<<4 | hexValue(s[i+1])) {
				return false
			}
		}
		return true
	}
	return base64EncodesText(s)
}

// base64EncodesText reports whether s, read as unpadded base64url or
// standard base64, decodes to printable ASCII text. The two alphabets
// differ only in their last two characters, - and _ or + and /, so
// base64Value reads both. The caller rejects a string that mixes them.
func base64EncodesText(s string) bool {
	if len(s) == 0 || len(s)%4 == 1 {
		return false
	}
	for i := 0; i < len(s); i += 4 {
		group := s[i:min(i+4, len(s))]
		var bits uint32
		for j := 0; j < 4; j++ {
			var value byte
			if j < len(group) {
				var ok bool
				if value, ok = base64Value(group[j]); !ok {
					return false
				}
			}
			bits = bits<<6 | uint32(value)
		}
		// A group of n characters decodes to n-1 bytes: 4 characters give 3.
		for k := 0; k < len(group)-1; k++ {
			if !isPrintable(byte(bits >> (16 - 8*k))) {
				return false
			}
		}
	}
	return true
}

func isPrintable(c byte) bool { return c >= 0x20 && c <= 0x7e }

// hexValue returns the value of the hex digit c, which the caller has
// checked.
func hexValue(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return (c | 0x20) - 'a' + 10
}

// base64Value returns the value of c in the base64url or the standard
// base64 alphabet of RFC 4648, and false for any other byte.
func base64Value(c byte) (byte, bool) {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A', true
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26, true
	case c >= '0' && c <= '9':
		return c - '0' + 52, true
	case c == '-' || c == '+':
		return 62, true
	case c == '_' || c == '/':
		return 63, true
	}
	return 0, false
}

// isUUID reports whether s is a UUID of version 4 or 7 with the RFC 9562
// variant, in either letter case.
func isUUID(s string) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		if !isHex(s[i : i+1]) {
			return false
		}
	}
	if s[14] != '4' && s[14] != '7' {
		return false
	}
	switch s[19] | 0x20 {
	case '8', '9', 'a', 'b':
		return true
	}
	return false
}

// IsUUID reports whether s is a UUID of version 4 or 7.
func IsUUID(s string) bool { return isUUID(s) }

// maxVersionPrefix is the longest run of letters a version may start
// with, as in "go1.26.8" or "release2".
const maxVersionPrefix = 8

// isVersion accepts "unknown" and strings of letters, digits and .+_- of at
// most MaxVersionLen characters that start with up to maxVersionPrefix
// letters followed by a digit. A run of digits may have at most
// maxDigitRun digits, so a phone or card number is not a version, unless
// it is the 14-digit UTC time of a Go pseudo-version. An IPv4 address,
// digits in dash-separated groups such as a card number, a phone number
// written with dots, and anything that looks like a secret are rejected
// too.
func isVersion(s string) bool {
	if s == "unknown" {
		return true
	}
	if s == "" || len(s) > MaxVersionLen {
		return false
	}
	prefix := 0
	for prefix < len(s) && (s[prefix]|0x20 >= 'a' && s[prefix]|0x20 <= 'z') {
		prefix++
	}
	if prefix > maxVersionPrefix || prefix == len(s) || s[prefix] < '0' || s[prefix] > '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '+' && c != '_' && c != '-' {
			return false
		}
	}
	if strings.Contains(s, "..") {
		return false
	}
	if !versionDigitRunsOK(s) {
		return false
	}
	// A card or phone number written in groups. Digits joined by dots
	// alone are also how Windows builds are written, such as
	// 10.0.19045.3803, so there only a number that passes the card
	// numbers' Luhn check or reads as a phone number is rejected.
	if prefix == 0 && isDigitGroups(s) && (strings.ContainsAny(s, "-_") || isCardNumber(s)) {
		return false
	}
	if hasUUIDLayout(s) {
		return false
	}
	core := s
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		core = s[:i]
	}
	if isDottedPhoneNumber(core[prefix:]) {
		return false
	}
	if isIPv4Text(core) && !isFourPartRelease(s, core) {
		return false
	}
	return !looksLikeSecret(s)
}

// isFourPartRelease reports whether s, whose core before the first - or +
// reads as an IPv4 address, is a WSL 2 kernel release such as
// 5.15.153.1-microsoft-standard-WSL2: four numbers without leading zeros,
// then -microsoft-standard. As an address, the four numbers must not be
// private, loopback, link-local or unspecified.
//
// Among the real versions that the tests list, only WSL 2 kernels have
// four parts that read as an IPv4 address. Windows builds such as
// 10.0.19045.3803 and Chrome versions such as 131.0.6778.85 have a part
// above 255, and the versions of macOS, Electron, Node.js, Bun, Go and
// other Linux kernels have three parts or fewer. So any other suffix, as
// in 8.8.8.8-foo, is rejected at no cost to them. A four-part version
// with a pre-release, such as 1.2.3.4-beta, is rejected with it.
func isFourPartRelease(s, core string) bool {
	if !strings.HasPrefix(s[len(core):], "-microsoft-standard") {
		return false
	}
	var octets [4]byte
	i := 0
	for part := range strings.SplitSeq(core, ".") {
		if len(part) > 3 || len(part) > 1 && part[0] == '0' {
			return false
		}
		value := 0
		for j := 0; j < len(part); j++ {
			value = value*10 + int(part[j]-'0')
		}
		octets[i] = byte(value)
		i++
	}
	addr := netip.AddrFrom4(octets)
	return !addr.IsPrivate() && !addr.IsLoopback() && !addr.IsLinkLocalUnicast() && !addr.IsUnspecified()
}

// pseudoVersionTimeLen is the length of the yyyymmddhhmmss time in a Go
// pseudo-version such as v0.0.0-20241022153045-abcdef123456.
const pseudoVersionTimeLen = 14

// versionDigitRunsOK reports whether every run of digits in s has at most
// maxDigitRun digits or is a valid pseudo-version time.
func versionDigitRunsOK(s string) bool {
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		end := i
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		if end-i > maxDigitRun && !isPseudoVersionTime(s[i:end]) {
			return false
		}
		i = end
	}
	return true
}

// isDigitGroups reports whether s has no letters and more than
// maxDigitRun digits, such as 4111-1111-1111-1111.
func isDigitGroups(s string) bool {
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c|0x20 >= 'a' && c|0x20 <= 'z':
			return false
		}
	}
	return digits > maxDigitRun
}

// isCardNumber reports whether the digits of s, ignoring every other
// byte, number 13 to 19 and pass the Luhn check of payment card numbers.
func isCardNumber(s string) bool {
	// Luhn doubles every second digit from the right.
	count, sum := 0, 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] < '0' || s[i] > '9' {
			continue
		}
		d := int(s[i] - '0')
		if count%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		count++
	}
	return count >= 13 && count <= 19 && sum%10 == 0
}

func isPseudoVersionTime(digits string) bool {
	if len(digits) != pseudoVersionTimeLen {
		return false
	}
	t, err := time.Parse("20060102150405", digits)
	return err == nil && t.Year() >= 1970 && t.Year() < 2100
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// ReduceUserAgent reduces a browser user agent to its browser family, major
// version and OS family, such as "Firefox 133 (Linux)". A string already in
// that form is returned unchanged; anything unrecognised becomes
// "Other (Other)".
func ReduceUserAgent(ua string) string {
	if reduced, ok := parseReducedUserAgent(ua); ok {
		return reduced
	}
	browser := "Other"
	major := ""
	for _, b := range browserTokens {
		if i := strings.Index(ua, b.token); i >= 0 {
			browser = b.family
			major = majorVersion(ua[i+len(b.token):])
			break
		}
	}
	if major == "" {
		return browser + " (" + osFamily(ua) + ")"
	}
	return browser + " " + major + " (" + osFamily(ua) + ")"
}

// browserTokens are checked in order: Edge and Opera user agents also
// contain "Chrome/", and Chrome user agents also contain "Safari/".
var browserTokens = []struct{ token, family string }{
	{"Electron/", "Electron"},
	{"Edg/", "Edge"},
	{"EdgA/", "Edge"},
	{"OPR/", "Opera"},
	{"Firefox/", "Firefox"},
	{"FxiOS/", "Firefox"},
	{"CriOS/", "Chrome"},
	{"Chrome/", "Chrome"},
	{"Chromium/", "Chromium"},
	{"Version/", "Safari"},
}

var browserFamilies = []string{"Electron", "Edge", "Opera", "Firefox", "Chrome", "Chromium", "Safari", "Other"}

var osFamilies = []string{"Windows", "macOS", "iOS", "Android", "ChromeOS", "Linux", "Other"}

func osFamily(s string) string {
	switch {
	case strings.Contains(s, "Windows") || strings.HasPrefix(s, "Win"):
		return "Windows"
	case strings.Contains(s, "iPhone") || strings.Contains(s, "iPad") || strings.Contains(s, "iPod"):
		return "iOS"
	case strings.Contains(s, "Mac"):
		return "macOS"
	case strings.Contains(s, "Android"):
		return "Android"
	case strings.Contains(s, "CrOS"):
		return "ChromeOS"
	case strings.Contains(s, "Linux") || strings.Contains(s, "X11"):
		return "Linux"
	}
	return "Other"
}

// parseReducedUserAgent accepts "Family (OS)" and "Family N (OS)".
func parseReducedUserAgent(s string) (string, bool) {
	open := strings.IndexByte(s, '(')
	if open < 2 || !strings.HasSuffix(s, ")") || s[open-1] != ' ' {
		return "", false
	}
	os := s[open+1 : len(s)-1]
	head := s[:open-1]
	family, major, _ := strings.Cut(head, " ")
	if !contains(osFamilies, os) || !contains(browserFamilies, family) {
		return "", false
	}
	if major != "" && leadingDigits(major) != major {
		return "", false
	}
	if len(major) > maxMajorVersionDigits {
		return family + " (" + os + ")", true
	}
	return s, true
}

// ReducePlatform reduces a navigator.platform string such as "MacIntel" or
// "Linux x86_64", or an OS name such as posthog-js's "Mac OS X" or Go's
// "darwin", to an OS family: Windows, macOS, iOS, Android, ChromeOS, Linux
// or Other.
func ReducePlatform(p string) string {
	if contains(osFamilies, p) {
		return p
	}
	for _, known := range osNames {
		if equalFoldASCII(p, known.name) {
			return known.family
		}
	}
	return osFamily(p)
}

// osNames maps whole OS names, in lower case, to their OS family. It lists
// the $os values that have a family: runtime.GOOS as posthog-go 1.23 sends
// it, the names posthog-js 1.418 and posthog-python 7.42 send, and the
// sys.platform that posthog-python sends for a system it does not name.
// ReducePlatform matches them whole and in any ASCII letter case, so that
// navigator.platform values such as "Linux x86_64" keep the family
// osFamily gives them.
//
// Every other name reduces to Other, because no family fits it and
// counting it as Linux or macOS would misreport it. Such names are the
// BSDs, Solaris, illumos, AIX, Plan 9, js and wasip1 from GOOS, and
// watchOS, Xbox, PlayStation, Nintendo and BlackBerry from posthog-js.
var osNames = []struct{ name, family string }{
	{"linux", "Linux"},
	{"darwin", "macOS"},
	{"mac os x", "macOS"},
	{"windows", "Windows"},
	// Node.js names Windows win32, as backend_platform does.
	{"win32", "Windows"},
	// posthog-python sends sys.platform, which is "cygwin" for Python
	// under Cygwin on Windows.
	{"cygwin", "Windows"},
	{"ios", "iOS"},
	{"ipados", "iOS"},
	{"android", "Android"},
	{"chrome os", "ChromeOS"},
	{"chromeos", "ChromeOS"},
	{"macos", "macOS"},
}

// equalFoldASCII reports whether s equals the lower-case ASCII string
// lower when only the ASCII letters A to Z are folded. Unlike
// strings.EqualFold it does not fold "ſ" to "s" or the Kelvin sign to "k",
// so it agrees with the browser client's check.
func equalFoldASCII(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// maxMajorVersionDigits is the most digits a browser's major version may
// have. Chrome and Firefox passed 130 in 2024 and add about 13 versions a
// year, so by that estimate 3 digits last until about 2090. A longer one
// is no real version, and its rare value could single out a user.
const maxMajorVersionDigits = 3

// majorVersion returns the digits that start s, or "" when there are more
// than maxMajorVersionDigits of them.
func majorVersion(s string) string {
	digits := leadingDigits(s)
	if len(digits) > maxMajorVersionDigits {
		return ""
	}
	return digits
}

func leadingDigits(s string) string {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return s[:n]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
