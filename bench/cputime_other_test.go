//go:build !linux

package bench

// threadCPUTime returns -1: only Linux reports a thread's CPU time through
// getrusage, so the benchmarks leave out the caller-cpu-ns/op metric.
func threadCPUTime() int64 { return -1 }
