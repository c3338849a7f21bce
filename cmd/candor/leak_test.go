package main

import (
	"os"
	"os/exec"
	"testing"

	"go.uber.org/goleak"
)

// mainEnv makes the test binary run main instead of the tests, so that a
// test can start candor as a process of its own and send it signals.
const mainEnv = "CANDOR_TEST_RUN_MAIN"

// candorCommand returns a command that runs this test binary as candor
// with args, through mainEnv.
func candorCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	return cmd
}

// TestMain fails the package's run when a goroutine outlives its tests.
func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Args = append([]string{"candor"}, os.Args[1:]...)
		main()
		return
	}
	goleak.VerifyTestMain(m)
}
