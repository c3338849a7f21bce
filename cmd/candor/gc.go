package main

import (
	"runtime/debug"
)

// serverGCPercent is the GOGC of candor serve when the environment sets
// none. Decoding allocates per request, and with Go's default of 100 the
// runtime took about 15% of the collector's CPU time under load. With 400
// and tuneGC's memory limit, `candor loadgen` measured 17% more durable
// events per second in 100-event batches, and a lower peak RSS under 10x
// overload: 444 MiB against 474.
const serverGCPercent = 400

// tuneGC sets GOGC to serverGCPercent and a soft memory limit of
// maxBuffered bytes, the memory budget for request bodies being decoded.
// The limit keeps the larger heap target from growing the process under
// overload. GOGC and GOMEMLIMIT in the environment, read through getenv,
// take precedence, each on its own.
func tuneGC(getenv func(string) string, maxBuffered int64) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" && maxBuffered > 0 {
		debug.SetMemoryLimit(maxBuffered)
	}
}
