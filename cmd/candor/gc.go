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
// request memory budget of maxBuffered bytes: half the budget plus 32 MiB,
// 160 MiB with the default budget of 256 MiB. The heap may grow past a
// soft limit, and the garbage collector then runs more often. In loadgen's
// 10x overload phase with JSON text properties, a limit of 112 MiB made it
// run so often that the acknowledged rate fell from 63,609 to 7,219
// events/s. With 160 MiB and DuckDB's own memory limit, the peak RSS was
// 467 to 488 MiB.
func serverMemoryLimit(maxBuffered int64) int64 {
	return maxBuffered/2 + 32<<20
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
