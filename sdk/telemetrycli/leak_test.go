package telemetrycli

import (
	"testing"

	"github.com/candor-dev/candor/sdk/internal/leakcheck"
)

// TestMain fails the package's run when a goroutine outlives its tests,
// such as a client's sender that Close did not stop.
func TestMain(m *testing.M) {
	leakcheck.Main(m)
}
