package catalog

import (
	"math"
	"strings"
)

// Lengths of a random token: a RandomID value that is not a UUID.
const (
	minHexTokenLen    = 24 // 96 bits
	minBase64TokenLen = 16 // 96 bits, without padding
	maxTokenLen       = 64 // with padding
)

// tokenAlphabet is the encoding of a random token.
type tokenAlphabet uint8

const (
	notToken tokenAlphabet = iota
	hexToken
	base64Token
)

// isRandomID reports whether s is a UUID of version 4 or 7, or a token of
// at least 96 random bits and at most maxTokenLen characters. A token is
// hex of 24 or more digits in either case, or base64url or standard base64
// without '/' of 16 or more characters before the padding, which may be
// left out. It
// rejects a UUID with one digit in more than half of its places, and a
// token that
//   - starts like the API key of a known service (startsLikeKey),
//   - decodes to printable text (encodesText), such as an encoded email
//     address, or is an IBAN,
//   - is base64 with only one of upper-case letters, lower-case letters and
//     digits, as words are, with a phone number's run of digits
//     (hasDigitRun), or that reads as words (readsAsWords),
//   - or has fewer distinct characters, or one character more often, than
//     random data has with a chance of randomSpreadChance (hasRandomSpread).
//
// The rates below come from 33.6 million random tokens from crypto/rand
// per encoding, 1.6 million of each size from 12 to 32 bytes, drawn by
// countRejectedTokens in two runs. It rejected 13 in hex, 39 in upper-case
// hex, 118 in base64url and 122 in padded base64url. Of the 21.5 million
// standard base64 tokens without '/', it rejected 65, and 61 unpadded.
// These are rates of 0.4e-6 to 3.6e-6. Standard base64 tokens with a '/',
// 22% of those of 12 bytes and 49% of those of 32, are always rejected.
// TestRandomIDFalseRejectionRate measures the rates on 1.05 million tokens
// per encoding. Base64 tokens of 12 bytes, the shortest, fare worst. By the
// formulas they decode to text with a chance of 6.8e-6, have one kind of
// character with 3.6e-6 and start like a key with 0.9e-6 in base64url.
// Of 4 million such base64url tokens, 44 read as words (1.1e-5), and 91
// were rejected in all (2.3e-5).
//
// NOTE: words with a number inside or before them, as in
// Alice24-Workspace, or of more than maxWordsNumber digits pass, and so do
// upper-case words shorter than minUpperCaseWord. A digit cannot be
// required, because 6.6% of random base64 tokens of 12 bytes have none.
func isRandomID(s string) bool {
	// Only a string written like a UUID must be one of version 4 or 7: a
	// token of 36 characters is checked as a token.
	if hasUUIDLayout(s) {
		return isUUID(s) && !hasRepeatedHexDigit(s)
	}
	if len(s) > maxTokenLen {
		return false
	}
	alphabet, body := readToken(s)
	switch {
	case alphabet == notToken:
		return false
	case alphabet == hexToken && len(body) < minHexTokenLen:
		return false
	case alphabet == base64Token && (len(body) < minBase64TokenLen || hasOneCharacterKind(body) || hasDigitRun(body) || readsAsWords(body)):
		return false
	}
	if startsLikeKey(s) || encodesText(body) || isIBAN(s) {
		return false
	}
	return hasRandomSpread(alphabet, body)
}

// readToken returns the alphabet of the token s and s without its base64
// padding. A token is hex when it contains only hex digits and no
// padding, and base64 when it contains letters, digits and either -_ or
// + but not both, with padding only where the encoding puts it. A '/'
// makes s no token: a path whose last part is random, as in
// home/alice/x9Kq3ZtPw8Lm, reads as standard base64 otherwise.
func readToken(s string) (tokenAlphabet, string) {
	body := strings.TrimRight(s, "=")
	padding := len(s) - len(body)
	if padding > 0 && (padding > 2 || len(s)%4 != 0) {
		return notToken, ""
	}
	var urlSymbols, standardSymbols, otherLetters bool
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case isHexDigit(c):
		case isAlnum(c):
			otherLetters = true
		case c == '-' || c == '_':
			urlSymbols = true
		case c == '+':
			standardSymbols = true
		default:
			return notToken, ""
		}
	}
	switch {
	case urlSymbols && standardSymbols:
		return notToken, ""
	case !urlSymbols && !standardSymbols && !otherLetters && padding == 0:
		return hexToken, body
	case len(body)%4 == 1:
		// No base64 encoding ends with a group of one character.
		return notToken, ""
	}
	return base64Token, body
}

// hasOneCharacterKind reports whether s contains only one of upper-case
// letters, lower-case letters and digits, besides symbols.
func hasOneCharacterKind(s string) bool {
	var upper, lower, digit int
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z':
			upper = 1
		case c >= 'a' && c <= 'z':
			lower = 1
		case c >= '0' && c <= '9':
			digit = 1
		}
	}
	return upper+lower+digit < 2
}

// Limits of the words that readsAsWords finds.
const (
	minUpperCaseWord = 4 // minimum letters of a word in upper case, as in ALICE
	maxWordsNumber   = 4 // maximum digits of the number that may end the words
)

// readsAsWords reports whether the base64 token body s reads as words,
// such as Workspace-Of-Alice, WorkspaceOfALICE or Alice-Workspace-24.
// Each word is an optional upper-case letter and one or more lower-case
// letters, or minUpperCaseWord or more upper-case letters, and isWord
// holds for it. One -, _ or + may join two words, and a number of up to
// maxWordsNumber digits may end s. Random letters form such words too, so
// at most one pair of adjacent letters in the words may be a pair that
// English words seldom have (isCommonLetterPair). That one pair allows a
// name such as Schmidt.
//
// A one-off measurement drew 20,000 strings of 2 to 4 words from the word
// list of commonFollowers, 16 to 64 characters long, joined by dashes or
// in camel case. Of those, 96% read as words, 96% with a number of up to
// 2 digits after them and 95% with the last word in upper case. Of 10
// million random base64url tokens of 12 bytes with more than one kind of
// character and no phone number's run of digits, 119 read as words, and
// 12 of as many of 13 bytes.
func readsAsWords(s string) bool {
	uncommonPairs := 0
	for start := 0; start < len(s); {
		if isDigit(s[start]) {
			return start > 0 && isWordsNumber(s[start:])
		}
		end := wordEnd(s, start)
		word := s[start:end]
		if !isWord(word) {
			return false
		}
		for i := 1; i < len(word); i++ {
			if !isCommonLetterPair(word[i-1], word[i]) {
				uncommonPairs++
			}
		}
		if uncommonPairs > 1 {
			return false
		}
		start = end
		if start < len(s) && (s[start] == '-' || s[start] == '_' || s[start] == '+') {
			start++
			if start == len(s) {
				return false
			}
		}
	}
	return true
}

// wordEnd returns the end of the word that starts at s[start]: an
// optional upper-case letter and the lower-case letters after it, or a
// run of upper-case letters. Before a lower-case letter, the last letter
// of such a run starts the next word, as in ALICEWorkspace. It returns
// start when no word starts there.
func wordEnd(s string, start int) int {
	end := start
	for end < len(s) && isUpperLetter(s[end]) {
		end++
	}
	upper := end - start
	if upper > 1 {
		if end < len(s) && s[end] >= 'a' && s[end] <= 'z' {
			upper--
		}
		if upper < minUpperCaseWord {
			return start
		}
		return start + upper
	}
	for end < len(s) && s[end] >= 'a' && s[end] <= 'z' {
		end++
	}
	return end
}

// isWordsNumber reports whether s, the end of a token body after its
// words, is a number of 1 to maxWordsNumber digits.
func isWordsNumber(s string) bool {
	if len(s) > maxWordsNumber {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isWord reports whether w has 2 or more letters, a vowel and no run of
// more than 4 letters that are not vowels.
func isWord(w string) bool {
	if len(w) < 2 {
		return false
	}
	vowels, run := 0, 0
	for i := 0; i < len(w); i++ {
		switch w[i] | 0x20 {
		case 'a', 'e', 'i', 'o', 'u':
			vowels++
			run = 0
		default:
			run++
			if run > 4 {
				return false
			}
		}
	}
	return vowels > 0
}

// commonFollowers lists, for each letter from a to z, the letters that
// follow it in at least 100 of the 73,445 distinct words, folded to lower
// case, of the word list /usr/share/dict/words of Debian's wamerican
// package, version 2020.12.07-2. They are 354 of the 676 pairs.
var commonFollowers = [26]string{
	"bcdefghiklmnprstuvwxyz",    // a
	"abeilorsuy",                // b
	"acehiklorstuy",             // c
	"abdegilmnorsuwy",           // d
	"abcdefghiklmnopqrstuvwxyz", // e
	"aefilorstuy",               // f
	"aeghilmnorsuy",             // g
	"aeilmnorstuy",              // h
	"abcdefgklmnopqrstuvxz",     // i
	"aeiou",                     // j
	"aeilnosy",                  // k
	"abcdefgiklmnopstuvy",       // l
	"abeimnopsuy",               // m
	"abcdefghiklmnoprstuvy",     // n
	"abcdefghiklmnoprstuvwxyz",  // o
	"aehiloprstuy",              // p
	"u",                         // q
	"abcdefghiklmnoprstuvwy",    // r
	"abcefhiklmnopqstuwy",       // s
	"abcefhilmnorstuwyz",        // t
	"abcdefgilmnoprst",          // u
	"aeio",                      // v
	"aehilnors",                 // w
	"aceipt",                    // x
	"aceilmnoprst",              // y
	"aeioz",                     // z
}

// commonLetterPairs holds commonFollowers as one bit per pair: bit j of
// entry i is set when the letter 'a'+j is a common follower of 'a'+i.
var commonLetterPairs = func() (pairs [26]uint32) {
	for first, followers := range commonFollowers {
		for i := 0; i < len(followers); i++ {
			pairs[first] |= 1 << (followers[i] - 'a')
		}
	}
	return pairs
}()

// isCommonLetterPair reports whether the letter b, in either case, often
// follows the letter a in English words, by commonFollowers.
func isCommonLetterPair(a, b byte) bool {
	return commonLetterPairs[(a|0x20)-'a']&(1<<((b|0x20)-'a')) != 0
}

// hasDigitRun reports whether s has more than maxDigitRun digits in a row,
// as a phone number has. Random base64 has 9 digits in a row at one place
// with a chance of (10/64)^9, 5.5e-8, so about 2e-6 for the longest token.
func hasDigitRun(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			run = 0
			continue
		}
		run++
		if run > maxDigitRun {
			return true
		}
	}
	return false
}

// startsLikeKey reports whether s starts like the API key of a known
// service, by secretPrefixes. A token contains no '/' (readToken), so only
// its start can. Random base64url starts with one of the 3-character
// prefixes with a chance of 1.5e-5, so these are read more narrowly than
// hasSecretPrefix reads them for identifiers. eyJ, JSON in base64, is left
// to encodesText, and sk-, sk_ and hf_ count only when the rest of the
// key's format follows (keyFollowsShortPrefix).
func startsLikeKey(s string) bool {
	if s == "" {
		return false
	}
	for _, prefix := range secretPrefixesByFirstByte[s[0]] {
		if !strings.HasPrefix(s, prefix) {
			continue
		}
		switch prefix {
		case "eyJ":
			continue
		case "sk-", "sk_", "hf_":
			if keyFollowsShortPrefix(prefix, s[len(prefix):]) {
				return true
			}
			continue
		}
		return true
	}
	return false
}

// keyFollowsShortPrefix reports whether rest, the part of a token after
// the prefix sk-, sk_ or hf_, has the format of the key that the prefix
// starts: a word of 3 to 10 letters and the prefix's separator, as in
// sk-proj-, sk-ant- and sk_live_, or 48 letters and digits after sk-, or
// only letters after hf_.
func keyFollowsShortPrefix(prefix, rest string) bool {
	if prefix == "hf_" {
		return isLetters(rest)
	}
	word := 0
	for word < len(rest) && isLetter(rest[word]) {
		word++
	}
	if word >= 3 && word <= 10 && word < len(rest) && rest[word] == prefix[2] {
		return true
	}
	return prefix == "sk-" && len(rest) == 48 && isAlnumString(rest)
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) {
			return false
		}
	}
	return s != ""
}

func isAlnumString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) {
			return false
		}
	}
	return true
}

// randomSpreadChance is the chance with which hasRandomSpread may reject
// a token of random characters by each of its two rules.
const randomSpreadChance = 1e-9

// spreadLimit bounds how random characters spread over an alphabet.
type spreadLimit struct {
	minDistinct uint8 // minimum number of distinct characters
	maxRepeats  uint8 // maximum number of occurrences of one character
}

// spreadLimits holds the limits of hasRandomSpread for each alphabet and
// token length.
var spreadLimits = [...][maxTokenLen + 1]spreadLimit{
	hexToken:    computeSpreadLimits(16),
	base64Token: computeSpreadLimits(64),
}

// hasRandomSpread reports whether the characters of the token body spread
// over its alphabet as random ones do: with at least as many distinct
// characters and no character more often than spreadLimits allows. Hex
// digits are counted in either case.
func hasRandomSpread(alphabet tokenAlphabet, body string) bool {
	var counts [256]uint8
	distinct, repeats := 0, uint8(0)
	for i := 0; i < len(body); i++ {
		c := body[i]
		if alphabet == hexToken {
			c |= 0x20
		}
		counts[c]++
		if counts[c] == 1 {
			distinct++
		}
		repeats = max(repeats, counts[c])
	}
	limit := spreadLimits[alphabet][len(body)]
	return distinct >= int(limit.minDistinct) && repeats <= limit.maxRepeats
}

// computeSpreadLimits returns, for each token length n, the limits that n
// characters drawn uniformly from an alphabet of size characters break
// with a chance of at most randomSpreadChance for each limit.
func computeSpreadLimits(size int) (limits [maxTokenLen + 1]spreadLimit) {
	for n := 1; n <= maxTokenLen; n++ {
		limits[n] = spreadLimit{
			minDistinct: uint8(minDistinctCharacters(size, n)),
			maxRepeats:  uint8(maxRepeatsOfOne(size, n)),
		}
	}
	return limits
}

// minDistinctCharacters returns the largest d such that n random
// characters of an alphabet of size contain fewer than d distinct ones with
// a chance of at most randomSpreadChance.
func minDistinctCharacters(size, n int) int {
	// chance[d] is the chance that the characters drawn so far contain d
	// distinct ones: the next one is new with chance (size-d)/size.
	chance := make([]float64, n+1)
	chance[0] = 1
	for drawn := 0; drawn < n; drawn++ {
		for d := drawn + 1; d >= 1; d-- {
			chance[d] = chance[d]*float64(d)/float64(size) + chance[d-1]*float64(size-d+1)/float64(size)
		}
		chance[0] = 0
	}
	below := 0.0
	for d := 0; d <= n; d++ {
		below += chance[d]
		if below > randomSpreadChance {
			return d
		}
	}
	return n
}

// maxRepeatsOfOne returns the smallest k such that one of the size
// characters of an alphabet occurs more than k times among n random
// characters with a chance of at most randomSpreadChance, by the union
// bound over the characters.
func maxRepeatsOfOne(size, n int) int {
	p := 1 / float64(size)
	// tail is the chance that one given character occurs more than k
	// times: the binomial distribution's upper tail.
	for k := 0; k < n; k++ {
		tail := 0.0
		for j := k + 1; j <= n; j++ {
			tail += math.Exp(logBinomial(n, j) + float64(j)*math.Log(p) + float64(n-j)*math.Log1p(-p))
		}
		if float64(size)*tail <= randomSpreadChance {
			return k
		}
	}
	return n
}

// logBinomial returns the natural logarithm of n choose k.
func logBinomial(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}
