package catalog

// CheckDistinctID returns why s may not be stored as an event's
// distinct_id, or "" when it may. A random ID passes, such as the UUID the
// SDK creates for an install (the RandomID class), and so does a UUID of
// any other version. Any other value must pass the Identifier class, which
// keeps out email addresses, URLs, paths, IP addresses, secrets and long
// digit runs such as phone numbers. PostHog's clients send whatever ID the
// app passes, so the collector checks it as the SDK checks properties.
func CheckDistinctID(s string) Reason {
	if isRandomID(s) || isAnyUUID(s) {
		return ""
	}
	return checkIdentifier(s)
}

// isAnyUUID reports whether s is a UUID of versions 1 to 8 with the RFC
// 9562 variant, in either letter case. The Identifier class reads a run of
// more than maxDigitRun digits as a phone number, and about 3 in 100 UUIDs
// of version 5 hold such a run in their last group (counted over 200,000
// name-based UUIDs).
func isAnyUUID(s string) bool {
	if len(s) != 36 || s[14] < '1' || s[14] > '8' {
		return false
	}
	// With version 4 swapped in, isUUID checks the layout and the variant.
	withVersion4 := s[:14] + "4" + s[15:]
	return isUUID(withVersion4)
}
