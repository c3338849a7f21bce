package bench

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// nullCollectorEnv makes the test binary serve as the null collector of
// BenchmarkBackground instead of running tests.
const nullCollectorEnv = "CANDOR_BENCH_NULL_COLLECTOR"

// TestMain runs the null collector when the benchmark started this binary
// for it, and the tests and benchmarks otherwise.
func TestMain(m *testing.M) {
	if os.Getenv(nullCollectorEnv) == "1" {
		serveNullCollector()
		return
	}
	os.Exit(m.Run())
}

// serveNullCollector serves nullHandler on a loopback port, writes the URL
// to stdout and exits when stdin closes.
func serveNullCollector() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Stderr.WriteString("null collector: " + err.Error() + "\n")
		os.Exit(1)
	}
	go http.Serve(ln, nullHandler())
	os.Stdout.WriteString("http://" + ln.Addr().String() + "\n")
	io.Copy(io.Discard, os.Stdin)
}

// nullHandler reads and discards each body and acknowledges it as the
// collector does.
func nullHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"Ok"}`))
	})
}

// nullCollectorProcess starts the null collector in a child process, so
// that its CPU time is not counted as the SDK's, and returns its URL.
func nullCollectorProcess(b *testing.B) string {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), nullCollectorEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("null collector process: %v", err)
	}
	return strings.TrimSpace(line)
}
