package catalog

// CheckDistinctID returns why s may not be stored as an event's
// distinct_id, or "" when it may. It accepts a random ID (the RandomID
// class: a UUID of version 4 or 7, or a random token) and any value that
// passes the Identifier class, which rejects email addresses, URLs, paths,
// IP addresses, secrets and phone numbers. It rejects UUIDs of the other
// versions, because versions 1 and 6 contain the MAC address of the machine
// that made them, versions 3 and 5 a hash of a name, and version 8 any
// data.
func CheckDistinctID(s string) Reason {
	if isRandomID(s) {
		return ""
	}
	if hasUUIDLayout(s) {
		return ReasonNotRandomID
	}
	return checkIdentifier(s)
}

// hasUUIDLayout reports whether s is written like a UUID: 32 hex digits in
// groups of 8, 4, 4, 4 and 12, separated by dashes, whatever its version
// and variant.
func hasUUIDLayout(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return true
}
