package catalog

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

func TestAppendFloatMatchesJSON(t *testing.T) {
	values := []float64{
		0, math.Copysign(0, -1), 1, -1, 0.5, 0.3, 1e-6, 9.99e-7, 1e-7, 1.5e-10, 1e20, 1e21, 1.5e21,
		-1e21, 123456789, MaxExactNumber - 1, MaxExactNumber, MaxExactNumber + 2, -MaxExactNumber,
		1 << 60, math.MaxFloat64, math.SmallestNonzeroFloat64, 1.0 / 8192, 2.5, 1e300, -1e-300,
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 20000 {
		values = append(values,
			math.Float64frombits(rng.Uint64()),
			float64(rng.Int64()>>rng.IntN(64)),
			math.Ldexp(1, rng.IntN(2100)-1075),
			rng.Float64()*math.Pow(10, float64(rng.IntN(50)-25)),
		)
	}
	for _, f := range values {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendFloat(nil, f); string(got) != string(want) {
			t.Fatalf("appendFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

// TestMayParseAsIPKeepsEveryAddress checks that the guard in looksLikeIP
// passes every string that one of the netip parsers accepts.
func TestMayParseAsIPKeepsEveryAddress(t *testing.T) {
	values := []string{
		"192.168.1.23", "10.0.0.7:8080", "fe80::1ff:fe23:4567:890a", "::1", "[::1]:443", "fe80::1%eth0",
		"[fe80::1%eth0]:80", "10.0.0.0/8", "2001:db8::/32", "::ffff:1.2.3.4", "1.2.3.4/32", "0.0.0.0",
		"FE80::ABCD", "[2001:DB8::1]:65535",
	}
	rng := rand.New(rand.NewPCG(11, 12))
	const alphabet = "0123456789abcdefABCDEF.:[]/%xzg-_"
	for range 200000 {
		b := make([]byte, 2+rng.IntN(14))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		values = append(values, string(b))
	}
	accepted := 0
	for _, s := range values {
		_, err1 := netip.ParseAddr(s)
		_, err2 := netip.ParseAddrPort(s)
		_, err3 := netip.ParsePrefix(s)
		if err1 != nil && err2 != nil && err3 != nil {
			continue
		}
		accepted++
		if !mayParseAsIP(s) {
			t.Errorf("mayParseAsIP(%q) = false, but netip accepts it", s)
		}
	}
	if accepted < 100 {
		t.Errorf("only %d strings parsed as addresses; the test checks too little", accepted)
	}
}

// The reference forms of the string checks, written as plainly as the
// rules read. The checks in strings.go avoid their allocations and
// repeated searches and must agree with them.

func referenceLooksLikeIP(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	if _, err := netip.ParseAddrPort(s); err == nil {
		return true
	}
	if _, err := netip.ParsePrefix(s); err == nil {
		return true
	}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r != '.' && (r < '0' || r > '9') }) {
		if referenceIsIPv4Text(part) {
			return true
		}
	}
	for _, span := range hexRunPattern.FindAllStringIndex(s, -1) {
		start, end := span[0], span[1]
		if strings.HasPrefix(s[start:end], ":") && !strings.HasPrefix(s[start:end], "::") {
			start++
		} else if start > 0 && isAlnum(s[start-1]) {
			continue
		}
		if strings.HasSuffix(s[start:end], ":") && !strings.HasSuffix(s[start:end], "::") {
			end--
		} else if end < len(s) && isAlnum(s[end]) {
			continue
		}
		if start > end || strings.Count(s[start:end], ":") < 2 {
			continue
		}
		if addr, err := netip.ParseAddr(s[start:end]); err == nil && addr.Is6() {
			return true
		}
	}
	return referenceContainsInetAtonIPv4(s) || referenceContainsDashedIPv6(s)
}

// Patterns of the reference forms of the notation checks.
var (
	alnumRunPattern    = regexp.MustCompile(`[A-Za-z0-9]+`)
	alnumDotRunPattern = regexp.MustCompile(`[0-9A-Za-z.]+`)
	hexDashRunPattern  = regexp.MustCompile(`[0-9A-Fa-f-]+`)
	hexPattern         = regexp.MustCompile(`^[0-9A-Fa-f]+$`)
	// zonePattern matches an s and the interface name of an IPv6 zone.
	zonePattern = regexp.MustCompile(`^s[A-Za-z]*[0-9]+([^A-Za-z0-9]|$)`)
)

// inetAtonPartPattern matches one part of an IPv4 address that inet_aton
// reads: hex after 0x, or decimal and octal digits.
var inetAtonPartPattern = regexp.MustCompile(`^(0[xX][0-9A-Fa-f]+|[0-9]+)$`)

func referenceContainsInetAtonIPv4(s string) bool {
	for _, span := range alnumDotRunPattern.FindAllStringIndex(s, -1) {
		run := s[span[0]:span[1]]
		whole := span[0] == 0 && span[1] == len(s)
		parts := strings.Split(run, ".")
		if len(parts) > 4 {
			continue
		}
		ok, hexParts := true, 0
		var address uint64
		for i, part := range parts {
			if !inetAtonPartPattern.MatchString(part) {
				ok = false
				break
			}
			if strings.HasPrefix(strings.ToLower(part), "0x") {
				hexParts++
			}
			// Base 0 reads 0x as hex and a leading 0 as octal, as inet_aton does.
			value, err := strconv.ParseUint(part, 0, 32)
			bits := 8
			if i == len(parts)-1 {
				bits = 8 * (5 - len(parts))
			}
			if err != nil || value >= 1<<bits {
				ok = false
				break
			}
			if i < len(parts)-1 {
				address |= value << (8 * (3 - i))
			} else {
				address |= value
			}
		}
		if !ok {
			continue
		}
		if len(parts) == 4 || len(parts) > 1 && hexParts > 0 {
			return true
		}
		if len(parts) > 1 && !whole {
			continue
		}
		addr := netip.AddrFrom4([4]byte{byte(address >> 24), byte(address >> 16), byte(address >> 8), byte(address)})
		if addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() {
			return true
		}
	}
	return false
}

func referenceContainsDashedIPv6(s string) bool {
	for _, span := range hexDashRunPattern.FindAllStringIndex(s, -1) {
		run := s[span[0]:span[1]]
		if span[0] > 0 && isAlnum(s[span[0]-1]) {
			_, after, found := strings.Cut(run, "-")
			if !found {
				continue
			}
			run = after
		}
		end := span[1]
		if end < len(s) && isAlnum(s[end]) && !zonePattern.MatchString(s[end:]) {
			i := strings.LastIndex(run, "-")
			if i < 0 {
				continue
			}
			if strings.HasSuffix(run[:i+1], "--") {
				i++
			}
			run = run[:i]
		}
		addr, err := netip.ParseAddr(strings.ReplaceAll(run, "-", ":"))
		groups := len(strings.FieldsFunc(run, func(r rune) bool { return r == '-' }))
		if err == nil && addr.Is6() && groups >= 2 {
			return true
		}
	}
	return false
}

// hexRunPattern matches the runs of hex digits, colons and dots that may
// hold an IPv6 address.
var hexRunPattern = regexp.MustCompile(`[0-9A-Fa-f:.]+`)

func referenceIsIPv4Text(s string) bool {
	if !regexp.MustCompile(`^[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}$`).MatchString(s) {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if n, err := strconv.Atoi(part); err != nil || n > 255 {
			return false
		}
	}
	return true
}

func referenceHasSecretPrefix(s string) bool {
	for _, p := range secretPrefixes {
		if strings.HasPrefix(s, p) || strings.Contains(s, "/"+p) || strings.Contains(s, ":"+p) {
			return true
		}
	}
	return false
}

func referenceLooksLikeSecret(s string) bool {
	if referenceHasSecretPrefix(s) {
		return true
	}
	for _, run := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune("._:/-", r) }) {
		if isRandomRun(run) {
			return true
		}
	}
	for _, run := range alnumRunPattern.FindAllString(s, -1) {
		decoded, err := base64.RawURLEncoding.DecodeString(run)
		isHexRun := hexPattern.MatchString(run)
		hasBoth := strings.ContainsAny(run, "0123456789") && strings.ContainsFunc(run, unicode.IsLetter)
		if len(run) >= 12 && !isHexRun && hasBoth && err == nil && isPrintableText(decoded) {
			return true
		}
		digits := run
		if len(digits) > 2 && strings.EqualFold(digits[:2], "0x") {
			digits = digits[2:]
		}
		if text, err := hex.DecodeString(digits); err == nil && len(digits) >= 14 && len(digits) < 32 && isWordText(text) {
			return true
		}
	}
	for _, run := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune("._:-", r) }) {
		if strings.Contains(run, "/") && len(run) >= 32 && entropy(run) >= 4 &&
			strings.ContainsAny(run, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
			strings.ContainsAny(run, "abcdefghijklmnopqrstuvwxyz") && strings.ContainsAny(run, "0123456789") {
			return true
		}
	}
	return false
}

// isWordText reports whether b holds only ASCII letters, digits, spaces
// and .,-_@+'.
func isWordText(b []byte) bool {
	for _, c := range b {
		if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-_@+'", rune(c)) {
			return false
		}
	}
	return true
}

func isPrintableText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return len(b) > 0
}

func referenceLooksLikeURL(s string) bool {
	if strings.Contains(s, "://") {
		return true
	}
	lower := strings.ToLower(s)
	for _, scheme := range urlSchemes {
		if strings.HasPrefix(lower, scheme) {
			return true
		}
	}
	return false
}

func referenceLooksLikePath(s string) bool {
	if s[0] == '/' || s[0] == '.' && strings.HasPrefix(s, "./") {
		return true
	}
	if len(s) >= 2 && s[1] == ':' && (s[0]|0x20 >= 'a' && s[0]|0x20 <= 'z') {
		return true
	}
	if strings.Contains(s, "..") || strings.Contains(s, "//") && !strings.Contains(s, "://") {
		return true
	}
	for _, m := range homeMarkers {
		if strings.HasPrefix(s, m) || strings.Contains(s, "/"+m) {
			return true
		}
	}
	return strings.Contains(s, "://") && strings.Count(s, "/") > 3
}

func referenceReduceUserAgent(ua string) string {
	if reduced, ok := parseReducedUserAgent(ua); ok {
		return reduced
	}
	browser, major := "Other", ""
	for _, b := range browserTokens {
		if i := strings.Index(ua, b.token); i >= 0 {
			browser, major = b.family, leadingDigits(ua[i+len(b.token):])
			if len(major) > 3 {
				major = ""
			}
			break
		}
	}
	out := browser
	if major != "" {
		out += " " + major
	}
	return out + " (" + osFamily(ua) + ")"
}

func TestStringChecksMatchReference(t *testing.T) {
	values := []string{
		"anthropic/claude-sonnet-4-5", "gpt-4.1", "claude-3.5-sonnet", "exec", "1.2.3", "10.0.0.7:8080",
		"host:sk-abc", "a/ghp_x", "MAILTO:x", "JavaScript:alert", "file:x", "\u212aey", "tel:123",
		"home/x", "x/Users/y", "Documents and Settings/x", "http://a/b/c/d", "a//b", "a..b", "./x", "C:x",
		"aB3dE5fG7hJ9kL1mN3pQ", "0123456789abcdef0123456789abcdef", "v1.2.3-rc.1+build.5",
		"version 192.168.1.1 here", "1.2.3.4.5", "ip-10.1.2.3-x", "fe80::1", "_sk-x", "eyJ", "ab:AKIA",
		"KzE1NTUxMjM0NTY3", "model-KzE1NTUxMjM0NTY3", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"openrouter/anthropic/claude", "0x7f.0x0.0x0.0x1", "0x7f.1", "0x100.1", "0x7f.0x1000000", "08.0x1",
		"0x7f.0xffffff", "0x7f000001", "127.1", "127.0.1", "10.1.2", "0177.1", "0300.0250.0.1", "2130706433",
		"0x80070005", "0xC0000005", "0x0a000001", "4.1", "3.1", "fe80--1-eth0", "fe80--1seth0", "fe80--1sx", "e2e--fast",
		"a---b", "1-2-3-4-5-6-7-8", "1--2-3-4-5-6-7-8", "host-fe80--1", "claude-3-5-sonnet", "cafe--",
		"Chrome/99999.0", "Chrome 1000 (macOS)", "Chrome 999 (macOS)",
		"6d7920736563726574", "0x6d7920736563726574", "6d79207365637265", "6d792073656372", "6d7920736563", "6D7920736563726574",
		"user-626f6240782e696f", "6d79207365637265746d79207365637265", "6d7920736563726574a",
	}
	rng := rand.New(rand.NewPCG(13, 14))
	const alphabet = "aAkKsSpPhHgGxXeEyYjJzZwW019.:/_-@ ~\\%[]\u212a\xff"
	for range 100000 {
		n := 1 + rng.IntN(24)
		var b strings.Builder
		for range n {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		values = append(values, b.String())
	}
	// Longer strings of hex digits, dashes, slashes and dots reach the
	// checks for dashed IPv6 addresses and keys split by slashes.
	const keyAlphabet = "AaBbCcDdEeFfQqZz0123456789/-.xXsS"
	for range 50000 {
		n := 1 + rng.IntN(48)
		var b strings.Builder
		for range n {
			b.WriteByte(keyAlphabet[rng.IntN(len(keyAlphabet))])
		}
		values = append(values, b.String())
	}
	for _, p := range secretPrefixes {
		values = append(values, p+"rest", "x/"+p+"rest", "x:"+p, "X"+p)
	}
	for _, s := range values {
		if got, want := looksLikeIP(s), referenceLooksLikeIP(s); got != want {
			t.Errorf("looksLikeIP(%q) = %v, reference %v", s, got, want)
		}
		if got, want := hasSecretPrefix(s), referenceHasSecretPrefix(s); got != want {
			t.Errorf("hasSecretPrefix(%q) = %v, reference %v", s, got, want)
		}
		if got, want := looksLikeSecret(s), referenceLooksLikeSecret(s); got != want {
			t.Errorf("looksLikeSecret(%q) = %v, reference %v", s, got, want)
		}
		if got, want := looksLikeURL(s), referenceLooksLikeURL(s); got != want {
			t.Errorf("looksLikeURL(%q) = %v, reference %v", s, got, want)
		}
		if got, want := looksLikePath(s), referenceLooksLikePath(s); got != want {
			t.Errorf("looksLikePath(%q) = %v, reference %v", s, got, want)
		}
		if got, want := ReduceUserAgent(s), referenceReduceUserAgent(s); got != want {
			t.Errorf("ReduceUserAgent(%q) = %q, reference %q", s, got, want)
		}
	}
}
