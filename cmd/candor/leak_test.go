package main

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// mainEnv makes the test binary run main instead of the tests, so that a
// test can start candor as a process of its own and send it signals.
const mainEnv = "CANDOR_TEST_RUN_MAIN"

// TestMain fails the package's run when a goroutine outlives its tests.
func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Args = append([]string{"candor"}, os.Args[1:]...)
		main()
		return
	}
	goleak.VerifyTestMain(m)
}
