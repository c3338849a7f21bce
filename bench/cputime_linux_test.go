package bench

import "syscall"

// threadCPUTime returns the calling thread's user and system CPU time in
// nanoseconds. Lock the goroutine to its thread to measure it alone.
func threadCPUTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
