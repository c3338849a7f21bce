package main

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A second interrupt stops candor serve at once, while the first one waits
// for a client that stalls in its body, which takes half of the 10 s
// shutdown time.
func TestServeSecondInterruptStops(t *testing.T) {
	if testing.Short() {
		t.Skip("starts candor serve as a process")
	}
	cmd := candorCommand("serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	addr := ""
	scanner := bufio.NewScanner(stdout)
	for addr == "" && scanner.Scan() {
		if rest, ok := strings.CutPrefix(scanner.Text(), "Collector:"); ok {
			url, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
			addr = strings.TrimPrefix(url, "http://")
		}
	}
	if addr == "" {
		t.Fatal("candor serve printed no Collector line")
	}
	go func() {
		for scanner.Scan() {
		}
	}()

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /batch/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	time.Sleep(200 * time.Millisecond)

	cmd.Process.Signal(syscall.SIGINT)
	// The listener closes once the shutdown has begun, and with it the
	// first signal's handling.
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		probe, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		probe.Close()
	}
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(2 * time.Second):
		t.Fatal("candor serve still runs 2s after a second interrupt")
	}
}
