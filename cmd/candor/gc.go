package main

import (
	"runtime/debug"
)

// serverGCPercent is the GOGC of candor serve when the environment sets
// none. Decoding allocates per request, and with Go's default of 100 the
// runtime took about 15% of the collector's CPU time under load. GOGC=400
// with serverMemoryLimit's limit added about 17% to the durable events per
// second that `candor loadgen` measured in 100-event batches.
const serverGCPercent = 400

// serverMemoryLimit returns the soft memory limit of candor serve for a
// request memory budget of maxBuffered bytes: a quarter of the budget plus
// 48 MiB, 112 MiB with the default budget of 256 MiB. The heap may grow
// past a soft limit, and the collector then runs more often. In loadgen's
// 10x overload phase, DuckDB took about 350 MiB of RSS on its own. Limits
// of 256 and 160 MiB brought the process to 513 to 600 MiB of peak RSS,
// and 112 MiB to 426 and 460 MiB, with the same durable rate.
func serverMemoryLimit(maxBuffered int64) int64 {
	return maxBuffered/4 + 48<<20
}

// tuneGC sets GOGC to serverGCPercent and the soft memory limit to
// serverMemoryLimit(maxBuffered). The limit keeps the larger heap target
// from growing the process under overload. GOGC and GOMEMLIMIT in the
// environment, read through getenv, take precedence, each on its own.
func tuneGC(getenv func(string) string, maxBuffered int64) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" && maxBuffered > 0 {
		debug.SetMemoryLimit(serverMemoryLimit(maxBuffered))
	}
}
