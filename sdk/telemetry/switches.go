package telemetry

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Names of the environment switches that do not depend on the app.
const (
	// DoNotTrackVar switches telemetry off for every app that honours it
	// when it is "1" or "true".
	DoNotTrackVar = "DO_NOT_TRACK"
)

// Debug modes of <APP>_TELEMETRY_DEBUG.
const (
	DebugPrint = "print" // write each event's JSON to DebugOutput and send nothing
	DebugTee   = "tee"   // write each event's JSON to DebugOutput and send it too
)

// ciVariables mark an automated run. An empty value list means that any
// non-empty value counts; values are compared ignoring case.
var ciVariables = []struct {
	name   string
	values []string
}{
	{"CI", []string{"true", "1"}},
	{"GITHUB_ACTIONS", []string{"true"}},
	{"GITLAB_CI", []string{"true"}},
	{"JENKINS_URL", nil},
	{"CIRCLECI", []string{"true"}},
	{"TRAVIS", []string{"true"}},
	{"TF_BUILD", []string{"true"}},
	{"BITBUCKET_BUILD_NUMBER", nil},
	{"TEAMCITY_VERSION", nil},
	{"BUILDKITE", []string{"true"}},
	{"CODEBUILD_BUILD_ID", nil},
	{"DRONE", []string{"true"}},
	{"APPVEYOR", []string{"true"}},
	{"VERCEL", []string{"1"}},
	{"NETLIFY", []string{"true"}},
}

// detectGoTest is runningUnderGoTest, replaced by tests of the automation
// switch.
var detectGoTest = runningUnderGoTest

// runningUnderGoTest reports whether the process is a `go test` binary: the
// testing package registered its test.v flag, or the binary's name ends in
// .test (.test.exe on Windows).
func runningUnderGoTest() bool {
	if flag.Lookup("test.v") != nil {
		return true
	}
	name := strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
	return strings.HasSuffix(name, ".test")
}

// Status is the client's state and the reason for it, switch by switch.
type Status struct {
	// Enabled reports whether events are being captured and sent.
	Enabled bool
	// ExplicitlyDisabled reports whether the user switched telemetry off:
	// with <APP>_DISABLE_TELEMETRY=1, DO_NOT_TRACK or the persisted choice.
	// CI, test and end-to-end runs are disabled but not explicitly.
	ExplicitlyDisabled bool
	// Switch names the first switch that turned telemetry off, such as
	// "MUX_DISABLE_TELEMETRY" or "config.json"; "" when enabled.
	Switch string
	// Reasons has one plain sentence per switch, in the order they are
	// checked, ending with the outcome.
	Reasons []string
	// Ignored has one sentence per variable set to a value that has no
	// effect. Those about an opt-out such as MUX_DISABLE_TELEMETRY="true"
	// repeat sentences of Reasons, and a MUX_TELEMETRY_DEBUG value other
	// than print and tee gets one too. A user who set one expects
	// telemetry to be off or printed, so apps show them.
	Ignored []string
	// Debug is the <APP>_TELEMETRY_DEBUG mode, read in any case: "",
	// DebugPrint or DebugTee.
	Debug string

	// persistedOff reports whether config.json sets telemetryEnabled to
	// false, whichever switch turned telemetry off first.
	persistedOff bool
	// optOutToken is the content of OptOutFile, "" when it is missing.
	optOutToken string
}

// String returns the state and the reasons on one line.
func (s Status) String() string {
	state := "enabled"
	if !s.Enabled {
		state = "disabled by " + s.Switch
	}
	return state + ": " + strings.Join(s.Reasons, "; ")
}

// switches evaluates the four switches in order.
type switches struct {
	getenv          func(string) string // Config.Getenv behind safeGetenv
	appGetenv       func(string) string // Config.Getenv as the app set it
	getenvPanicked  atomic.Bool         // set for good by a panic of appGetenv
	disableVar      string              // <APP>_DISABLE_TELEMETRY
	e2eVar          string              // <APP>_E2E
	debugVar        string              // <APP>_TELEMETRY_DEBUG
	allowAutomation bool
	underGoTest     bool
	config          *configWatcher
}

func newSwitches(cfg *Config) *switches {
	prefix := envPrefix(cfg.App)
	s := &switches{
		appGetenv:       cfg.Getenv,
		disableVar:      prefix + DisableVarSuffix,
		e2eVar:          prefix + E2EVarSuffix,
		debugVar:        prefix + DebugVarSuffix,
		allowAutomation: cfg.AllowAutomation,
		underGoTest:     detectGoTest(),
		config:          &configWatcher{},
	}
	s.getenv = s.safeGetenv
	if cfg.Home != "" {
		s.config.path = filepath.Join(cfg.Home, ConfigFile)
		s.config.optOutPath = filepath.Join(cfg.Home, OptOutFile)
	}
	return s
}

// safeGetenv returns Config.Getenv's value of name, or "" when it panics.
// A panic would otherwise end the app from the sender goroutine. It also
// keeps telemetry off for the rest of the run, because the user's
// opt-out variables can no longer be read.
func (s *switches) safeGetenv(name string) (value string) {
	defer func() {
		if recover() != nil {
			s.getenvPanicked.Store(true)
			value = ""
		}
	}()
	return s.appGetenv(name)
}

// optedOut is the check Capture runs on every call: the user's two
// environment opt-outs, two lookups and no allocation.
func (s *switches) optedOut() bool {
	off := s.getenv(s.disableVar) == "1" || isDoNotTrack(s.getenv(DoNotTrackVar))
	return off || s.getenvPanicked.Load()
}

func isDoNotTrack(v string) bool {
	return v == "1" || strings.EqualFold(v, "true")
}

// evaluate checks every switch in order. It stats config.json and parses it
// again only when its size or modification time changed.
func (s *switches) evaluate() Status {
	var st Status
	decide := func(name string, explicit bool) {
		if st.Switch == "" {
			st.Switch, st.ExplicitlyDisabled = name, explicit
		}
	}

	switch v := s.getenv(s.disableVar); {
	case v == "1":
		st.Reasons = append(st.Reasons, s.disableVar+"=1 turns telemetry off")
		decide(s.disableVar, true)
	case v != "":
		ignored := fmt.Sprintf("%s=%q is ignored: only \"1\" turns telemetry off", s.disableVar, v)
		st.Reasons = append(st.Reasons, ignored)
		st.Ignored = append(st.Ignored, ignored)
	default:
		st.Reasons = append(st.Reasons, s.disableVar+" is not set")
	}

	switch v := s.getenv(DoNotTrackVar); {
	case isDoNotTrack(v):
		st.Reasons = append(st.Reasons, fmt.Sprintf("%s=%s turns telemetry off", DoNotTrackVar, v))
		decide(DoNotTrackVar, true)
	case v != "":
		ignored := fmt.Sprintf("%s=%q is ignored: only \"1\" or \"true\" turns telemetry off", DoNotTrackVar, v)
		st.Reasons = append(st.Reasons, ignored)
		st.Ignored = append(st.Ignored, ignored)
	default:
		st.Reasons = append(st.Reasons, DoNotTrackVar+" is not set")
	}

	choice := s.config.read()
	st.Reasons = append(st.Reasons, choice.reason)
	st.persistedOff = choice.off
	st.optOutToken = s.config.readOptOutToken()
	if choice.off {
		decide(ConfigFile, true)
	}

	automation := s.automation()
	switch {
	case automation == "":
		st.Reasons = append(st.Reasons, "not an automated run")
	case s.allowAutomation:
		st.Reasons = append(st.Reasons, automation+", allowed by Config.AllowAutomation")
	default:
		st.Reasons = append(st.Reasons, automation+", so telemetry is off (set Config.AllowAutomation to send anyway)")
		decide(SwitchAutomation, false)
	}

	switch v := s.getenv(s.debugVar); {
	case strings.EqualFold(v, DebugPrint):
		st.Debug = DebugPrint
	case strings.EqualFold(v, DebugTee):
		st.Debug = DebugTee
	case v != "":
		// A developer who set the variable expects events to be printed,
		// and print mode sends nothing, so the value is reported.
		st.Ignored = append(st.Ignored, fmt.Sprintf("%s=%q is ignored: only %q or %q writes events to the debug output",
			s.debugVar, v, DebugPrint, DebugTee))
	}
	if s.getenvPanicked.Load() {
		st.Reasons = append(st.Reasons, "Config.Getenv panicked, so the opt-out variables cannot be read and telemetry is off for this run: fix Config.Getenv")
		decide(SwitchGetenv, false)
	}
	st.Enabled = st.Switch == ""
	return st
}

// automation describes why the run looks automated, or returns "".
func (s *switches) automation() string {
	if s.getenv(s.e2eVar) == "1" {
		return s.e2eVar + "=1 marks an end-to-end test run"
	}
	for _, v := range ciVariables {
		value := s.getenv(v.name)
		if value == "" {
			continue
		}
		if v.values == nil {
			return v.name + " is set, which marks a CI run"
		}
		for _, want := range v.values {
			if strings.EqualFold(value, want) {
				return fmt.Sprintf("%s=%s marks a CI run", v.name, value)
			}
		}
	}
	if s.underGoTest {
		return "the process is a go test binary"
	}
	return ""
}

// configPollInterval is how often the sender evaluates the switches, which
// picks up a change another process made to config.json.
const configPollInterval = time.Second

// choice is the user's persisted choice as last read from config.json.
type choice struct {
	off    bool
	reason string
}

// configWatcher reads the persisted choice from config.json again whenever
// the file's modification time or size changes.
type configWatcher struct {
	path       string
	optOutPath string

	mu        sync.Mutex
	stamp     fileStamp
	haveStamp bool
	last      choice

	optOutStamp fileStamp
	optOutToken string
}

type fileStamp struct {
	exists  bool
	modTime time.Time
	size    int64
}

func (w *configWatcher) read() choice {
	if w.path == "" {
		return choice{reason: "no home folder, so no persisted choice"}
	}
	w.mu.Lock()
	defer w.mu.Unlock()

	stamp, err := statFile(w.path)
	if err != nil {
		w.haveStamp = false
		w.last = choice{off: true, reason: ConfigFile + " cannot be read, so telemetry stays off: " + errorText(err)}
		return w.last
	}
	if w.haveStamp && stamp == w.stamp {
		return w.last
	}
	w.stamp, w.haveStamp = stamp, true
	w.last = parseChoice(w.path, stamp.exists)
	return w.last
}

// readOptOutToken returns the content of OptOutFile, read again only when
// its modification time or size changed. A file that cannot be read
// returns the last token.
func (w *configWatcher) readOptOutToken() string {
	if w.optOutPath == "" {
		return ""
	}
	w.mu.Lock()
	defer w.mu.Unlock()

	stamp, err := statFile(w.optOutPath)
	if err != nil || stamp == w.optOutStamp {
		return w.optOutToken
	}
	data, err := os.ReadFile(w.optOutPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return w.optOutToken
	}
	w.optOutStamp, w.optOutToken = stamp, strings.TrimSpace(string(data))
	return w.optOutToken
}

// invalidate makes the next read check the file again.
func (w *configWatcher) invalidate() {
	w.mu.Lock()
	w.haveStamp = false
	w.optOutStamp = fileStamp{}
	w.mu.Unlock()
}

func statFile(path string) (fileStamp, error) {
	info, err := os.Stat(path)
	// ENOTDIR: a parent is a file, so config.json cannot exist either.
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{exists: true, modTime: info.ModTime(), size: info.Size()}, nil
}

// parseChoice reads telemetryEnabled from config.json. Only a readable JSON
// object without the key, or with the key set to true, leaves telemetry on.
func parseChoice(path string, exists bool) choice {
	if !exists {
		return choice{reason: ConfigFile + " does not exist, so there is no persisted choice"}
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return choice{reason: ConfigFile + " does not exist, so there is no persisted choice"}
	}
	if err != nil {
		return choice{off: true, reason: ConfigFile + " cannot be read, so telemetry stays off: " + errorText(err)}
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil || keys == nil {
		return choice{off: true, reason: ConfigFile + " is not a JSON object, so telemetry stays off until it is fixed"}
	}
	raw, ok := keys["telemetryEnabled"]
	if !ok {
		return choice{reason: ConfigFile + " has no telemetryEnabled key"}
	}
	switch strings.TrimSpace(string(raw)) {
	case "true":
		return choice{reason: ConfigFile + " has telemetryEnabled: true"}
	case "false":
		return choice{off: true, reason: ConfigFile + " has telemetryEnabled: false"}
	}
	return choice{off: true, reason: ConfigFile + " has a telemetryEnabled that is not true or false, so telemetry stays off"}
}

// errorText returns the error's text without the paths it names, which may
// hold the user's name.
func errorText(err error) string {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return pathErr.Op + ": " + pathErr.Err.Error()
	}
	var linkErr *os.LinkError // from os.Rename, which names both paths
	if errors.As(err, &linkErr) {
		return linkErr.Op + ": " + linkErr.Err.Error()
	}
	return err.Error()
}
