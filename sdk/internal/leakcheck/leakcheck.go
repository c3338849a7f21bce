// Package leakcheck finds goroutines that a test started and left running.
// It is a small stand-in for go.uber.org/goleak, which the SDK module may
// not depend on.
package leakcheck

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"
)

// settleTime is how long Check waits for goroutines to finish after the
// test, since closed connections and timers end asynchronously.
const settleTime = 5 * time.Second

// Check records the goroutines running now and, when the test ends, fails
// it if goroutines started since then are still running after settleTime.
// Call it first in a test, before t.Parallel; do not use it in parallel
// tests, whose goroutines it cannot tell apart.
func Check(t testing.TB) {
	t.Helper()
	before := ids(stacks())
	t.Cleanup(func() {
		deadline := time.Now().Add(settleTime)
		for {
			leaked := leakedSince(before)
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d goroutines leaked:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func leakedSince(before map[string]bool) []string {
	var leaked []string
	for _, g := range stacks() {
		id := goroutineID(g)
		if before[id] || ignored(g) {
			continue
		}
		leaked = append(leaked, g)
	}
	return leaked
}

// ignored reports goroutines owned by the runtime or the testing package.
func ignored(stack string) bool {
	for _, s := range []string{
		"testing.(*T).Run",
		"testing.tRunner.func1",
		"testing.runTests",
		"testing.(*M).",
		"runtime.goexit0",
		"os/signal.signal_recv",
		"runtime.ensureSigM",
		"leakcheck.Check.func1",
		"leakcheck.stacks",
	} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}

func stacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if s := strings.TrimSpace(string(g)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func ids(stacks []string) map[string]bool {
	m := make(map[string]bool, len(stacks))
	for _, s := range stacks {
		m[goroutineID(s)] = true
	}
	return m
}

// goroutineID returns the number in a stack's header, "goroutine 12 [running]:".
func goroutineID(stack string) string {
	header, _, _ := strings.Cut(stack, "\n")
	fields := strings.Fields(header)
	if len(fields) < 2 {
		return header
	}
	return fields[1]
}
