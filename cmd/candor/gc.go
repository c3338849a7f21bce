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
// request memory budget of maxBuffered bytes: half the budget, which the
// heap approaches only under overload, plus 32 MiB for the rest of the Go
// heap. With the default budget of 256 MiB that is 160 MiB, which kept
// the Go runtime at 164 MiB and the process, DuckDB included, under 512
// MiB of RSS in loadgen's 10x overload phase.
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
