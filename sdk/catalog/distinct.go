package catalog

// CheckDistinctID returns why s may not be stored as an event's
// distinct_id, or "" when it may. A random ID passes, such as the UUID the
// SDK creates for an install (the RandomID class). Any other value must
// pass the Identifier class, which keeps out email addresses, URLs, paths,
// IP addresses, secrets and long digit runs such as phone numbers.
// PostHog's clients send whatever ID the app passes, so the collector
// checks it as the SDK checks properties.
func CheckDistinctID(s string) Reason {
	if isRandomID(s) {
		return ""
	}
	return checkIdentifier(s)
}
