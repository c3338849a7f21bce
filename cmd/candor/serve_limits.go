package main

import (
	"flag"
	"fmt"
	"math"
)

// checkLimits rejects negative or overflowing values of the collector's
// limit flags. The collector would reject most of them too, but its errors
// name Config fields and values converted to bytes or nanoseconds.
func (f *serveFlags) checkLimits() error {
	if f.rateLimit < 0 || math.IsNaN(f.rateLimit) || math.IsInf(f.rateLimit, 0) {
		return fmt.Errorf("invalid --rate-limit %v: use 0 (no limit) or a positive number of events per second", f.rateLimit)
	}
	if f.rateBurst < 0 {
		return fmt.Errorf("invalid --rate-burst %d: use 0 (10 seconds of --rate-limit) or a positive number of events", f.rateBurst)
	}
	// The burst is the size of the token bucket, and --rate-limit 0 leaves
	// every write key without one.
	if f.rateLimit == 0 && f.isSet("rate-burst") {
		return fmt.Errorf("invalid --rate-burst %d with --rate-limit 0, which turns the rate limit and its burst off: "+
			"remove --rate-burst, or set --rate-limit to a positive number of events per second", f.rateBurst)
	}
	counts := []struct {
		flag, unit string
		value      int
	}{
		{"max-pending-events", "events", f.maxPendingEvents},
		{"max-decoding", "requests", f.maxDecoding},
		{"max-connections", "connections", f.maxConnections},
	}
	for _, count := range counts {
		if count.value < 0 {
			return fmt.Errorf("invalid --%s %d: use 0 for the default or a positive number of %s", count.flag, count.value, count.unit)
		}
	}
	// The collector takes bytes, so the MiB value must not overflow when
	// shifted by 20 bits.
	if maxMiB := int64(math.MaxInt64 >> 20); f.maxBufferedMiB < 0 || f.maxBufferedMiB > maxMiB {
		return fmt.Errorf("invalid --max-buffered-mib %d: use 0 for the default or a positive number of MiB up to %d", f.maxBufferedMiB, maxMiB)
	}
	if f.requestTimeout < 0 {
		return fmt.Errorf("invalid --request-timeout %v: use 0 for the default or a positive duration such as 30s", f.requestTimeout)
	}
	return nil
}

// isSet reports whether the command line set the flag name.
func (f *serveFlags) isSet(name string) bool {
	set := false
	if f.flags != nil {
		f.flags.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	}
	return set
}
