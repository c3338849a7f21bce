package leakcheck

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// Main runs the package's tests and exits. When they passed but
// goroutines they started are still running settleTime later, it prints
// their stacks and exits with status 1. Call it from TestMain, as
// go.uber.org/goleak's VerifyTestMain is called.
func Main(m *testing.M) {
	before := ids(stacks())
	code := m.Run()
	if code == 0 {
		if leaked := waitForExit(before); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "leakcheck: %d goroutines leaked after the tests:\n\n%s\n", len(leaked), strings.Join(leaked, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// waitForExit returns the goroutines started since before that are still
// running after settleTime.
func waitForExit(before map[string]bool) []string {
	deadline := time.Now().Add(settleTime)
	for {
		leaked := leakedSince(before)
		if len(leaked) == 0 || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(20 * time.Millisecond)
	}
}
