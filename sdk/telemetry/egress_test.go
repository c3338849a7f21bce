package telemetry

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return conn, err
}

// countingServer is an HTTP server on loopback that acknowledges every
// request as a collector does and counts the connections made to it.
type countingServer struct {
	url      string
	listener *countingListener
	events   atomic.Int64
}

func newCountingServer(t *testing.T) *countingServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &countingServer{url: "http://" + ln.Addr().String(), listener: &countingListener{Listener: ln}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/batch/" {
			if uuids, err := readEvents(r); err == nil {
				s.events.Add(int64(len(uuids)))
			}
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"Ok"}`)
	}), ErrorLog: discardLog}
	go srv.Serve(s.listener)
	t.Cleanup(func() { srv.Close() })
	return s
}

// buildEgressApp builds testdata/egressapp, a real program rather than a
// test binary, which the go test switch would turn off on its own.
func buildEgressApp(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "egressapp")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/egressapp")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build egressapp: %v\n%s", err, out)
	}
	return bin
}

// egressResult is what egressapp prints.
type egressResult struct {
	Enabled   bool   `json:"enabled"`
	Switch    string `json:"switch"`
	InstallID string `json:"install_id"`
	Stats     Stats  `json:"stats"`
	Flush     string `json:"flush"`
	Close     string `json:"close"`
}

// egressRun is one run of egressapp in a fresh home folder.
type egressRun struct {
	result      egressResult
	collector   int64    // connections to the endpoint
	proxy       int64    // connections to the proxy, for any other host
	events      int64    // events the endpoint received
	filesBefore []string // the home folder before the run
	filesAfter  []string
}

// runEgressApp runs the app with a new home folder, where setup may write
// files first, and an environment of only HOME, the proxy variables and
// env. HTTP_PROXY and HTTPS_PROXY point at a second counting listener,
// which counts a connection to any host other than the loopback endpoint.
func runEgressApp(t *testing.T, bin string, setup func(home string), env ...string) egressRun {
	t.Helper()
	home := t.TempDir()
	if setup != nil {
		setup(home)
	}
	collector := newCountingServer(t)
	proxy := newCountingServer(t)
	run := egressRun{filesBefore: listFiles(t, home)}

	cmd := exec.Command(bin, collector.url)
	cmd.Env = append([]string{
		"HOME=" + home,
		"HTTP_PROXY=" + proxy.url, "http_proxy=" + proxy.url,
		"HTTPS_PROXY=" + proxy.url, "https_proxy=" + proxy.url,
		"NO_PROXY=", "no_proxy=",
	}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("egressapp %v: %v\nstderr: %s", env, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &run.result); err != nil {
		t.Fatalf("egressapp %v printed %q: %v\nstderr: %s", env, stdout.String(), err, stderr.String())
	}

	// A connection the app opened is accepted by now, since the app closed
	// the client and exited; the short wait covers the accept loop.
	time.Sleep(50 * time.Millisecond)
	run.collector = collector.listener.accepted.Load()
	run.proxy = proxy.listener.accepted.Load()
	run.events = collector.events.Load()
	run.filesAfter = listFiles(t, home)
	return run
}

// listFiles returns every file and folder under root, relative to it.
func listFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(root, path); rel != "." {
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	slices.Sort(files)
	return files
}

// telemetryFiles are the names the client writes in its home folder.
var telemetryFiles = []string{InstallIDFile, SecretFile, SpoolDir, "telemetry_sent.jsonl", NoticeFile}

// TestDisabledTelemetryMakesNoEgress runs a real app under each switch
// that turns telemetry off. The app must open no connection, to the
// endpoint or through the proxy to any other host, and must leave its
// home folder as it found it: no install ID, secret, spool or sent log.
// A run with no switch is the control: it connects and writes the files.
func TestDisabledTelemetryMakesNoEgress(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a program")
	}
	bin := buildEgressApp(t)

	control := runEgressApp(t, bin, nil)
	if !control.result.Enabled || control.collector == 0 || control.events != control.result.Stats.Sent || control.events < 22 {
		t.Fatalf("control run with no switch: enabled %v, %d connections, %d events received, stats %+v; the measurement cannot see traffic",
			control.result.Enabled, control.collector, control.events, control.result.Stats)
	}
	for _, name := range []string{".mux/" + InstallIDFile, ".mux/" + SecretFile, ".mux/telemetry_sent.jsonl"} {
		if !slices.Contains(control.filesAfter, name) {
			t.Errorf("control run left no %s in the home folder (%v); the file check cannot see writes", name, control.filesAfter)
		}
	}
	if control.proxy != 0 {
		t.Errorf("control run made %d connections through the proxy, want only the endpoint", control.proxy)
	}

	optOut := func(content string) func(home string) {
		return func(home string) {
			if err := os.MkdirAll(filepath.Join(home, ".mux"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(home, ".mux", ConfigFile), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name       string
		setup      func(home string)
		env        []string
		wantSwitch string
	}{
		{"MUX_DISABLE_TELEMETRY=1", nil, []string{"MUX_DISABLE_TELEMETRY=1"}, "MUX_DISABLE_TELEMETRY"},
		{"DO_NOT_TRACK=1", nil, []string{"DO_NOT_TRACK=1"}, DoNotTrackVar},
		{"DO_NOT_TRACK=true", nil, []string{"DO_NOT_TRACK=TRUE"}, DoNotTrackVar},
		{"persisted opt-out", optOut(`{"telemetryEnabled": false}`), nil, ConfigFile},
		{"unreadable config.json", optOut(`{"telemetryEnabled": fal`), nil, ConfigFile},
		{"MUX_E2E=1", nil, []string{"MUX_E2E=1"}, SwitchAutomation},
	}
	// Every CI variable in ciVariables, with a value that marks a CI run.
	for _, v := range ciVariables {
		value := "yes"
		if len(v.values) > 0 {
			value = v.values[0]
		}
		cases = append(cases, struct {
			name       string
			setup      func(home string)
			env        []string
			wantSwitch string
		}{v.name + "=" + value, nil, []string{v.name + "=" + value}, SwitchAutomation})
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run := runEgressApp(t, bin, tc.setup, tc.env...)
			if run.result.Enabled || run.result.Switch != tc.wantSwitch {
				t.Errorf("enabled %v by switch %q, want disabled by %q", run.result.Enabled, run.result.Switch, tc.wantSwitch)
			}
			if run.collector != 0 || run.proxy != 0 {
				t.Errorf("%d connections to the endpoint and %d through the proxy, want none", run.collector, run.proxy)
			}
			if run.result.InstallID != "" {
				t.Errorf("install ID %q while disabled, want none", run.result.InstallID)
			}
			if st := run.result.Stats; st.Captured != 0 || st.Sent != 0 || st.Ignored < 22 {
				t.Errorf("stats %+v, want every event ignored", st)
			}
			if !slices.Equal(run.filesBefore, run.filesAfter) {
				t.Errorf("home folder changed from %v to %v", run.filesBefore, run.filesAfter)
			}
			for _, f := range run.filesAfter {
				for _, name := range telemetryFiles {
					if strings.HasSuffix(f, "/"+name) || f == name {
						t.Errorf("home folder holds %s", f)
					}
				}
			}
		})
	}
}
