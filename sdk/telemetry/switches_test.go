package telemetry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/candor-dev/candor/sdk/mux"
)

func TestSwitches(t *testing.T) {
	tests := []struct {
		name       string
		env        env
		config     string // config.json content, "" for none
		automation bool   // Config.AllowAutomation
		goTest     bool
		enabled    bool
		explicit   bool
		decided    string
	}{
		{name: "nothing set", enabled: true},
		{name: "disable 1", env: env{"MUX_DISABLE_TELEMETRY": "1"}, decided: "MUX_DISABLE_TELEMETRY", explicit: true},
		{name: "disable true ignored", env: env{"MUX_DISABLE_TELEMETRY": "true"}, enabled: true},
		{name: "disable yes ignored", env: env{"MUX_DISABLE_TELEMETRY": "yes"}, enabled: true},
		{name: "disable 0 ignored", env: env{"MUX_DISABLE_TELEMETRY": "0"}, enabled: true},
		{name: "do not track 1", env: env{"DO_NOT_TRACK": "1"}, decided: "DO_NOT_TRACK", explicit: true},
		{name: "do not track true", env: env{"DO_NOT_TRACK": "TRUE"}, decided: "DO_NOT_TRACK", explicit: true},
		{name: "do not track 0", env: env{"DO_NOT_TRACK": "0"}, enabled: true},
		{name: "config false", config: `{"telemetryEnabled": false, "theme": "dark"}`, decided: ConfigFile, explicit: true},
		{name: "config true", config: `{"telemetryEnabled": true}`, enabled: true},
		{name: "config without key", config: `{"theme": "dark"}`, enabled: true},
		{name: "config corrupt", config: `{"telemetryEnabled": tru`, decided: ConfigFile, explicit: true},
		{name: "config array", config: `[]`, decided: ConfigFile, explicit: true},
		{name: "config null", config: `null`, decided: ConfigFile, explicit: true},
		{name: "config string false", config: `{"telemetryEnabled": "false"}`, decided: ConfigFile, explicit: true},
		{name: "e2e", env: env{"MUX_E2E": "1"}, decided: "automation"},
		{name: "e2e allowed", env: env{"MUX_E2E": "1"}, automation: true, enabled: true},
		{name: "ci true", env: env{"CI": "true"}, decided: "automation"},
		{name: "ci 1", env: env{"CI": "1"}, decided: "automation"},
		{name: "ci false", env: env{"CI": "false"}, enabled: true},
		{name: "github actions", env: env{"GITHUB_ACTIONS": "true"}, decided: "automation"},
		{name: "gitlab", env: env{"GITLAB_CI": "true"}, decided: "automation"},
		{name: "jenkins", env: env{"JENKINS_URL": "http://ci.internal/"}, decided: "automation"},
		{name: "circleci", env: env{"CIRCLECI": "true"}, decided: "automation"},
		{name: "travis", env: env{"TRAVIS": "true"}, decided: "automation"},
		{name: "azure", env: env{"TF_BUILD": "True"}, decided: "automation"},
		{name: "bitbucket", env: env{"BITBUCKET_BUILD_NUMBER": "7"}, decided: "automation"},
		{name: "teamcity", env: env{"TEAMCITY_VERSION": "2024.1"}, decided: "automation"},
		{name: "buildkite", env: env{"BUILDKITE": "true"}, decided: "automation"},
		{name: "codebuild", env: env{"CODEBUILD_BUILD_ID": "x:1"}, decided: "automation"},
		{name: "drone", env: env{"DRONE": "true"}, decided: "automation"},
		{name: "appveyor", env: env{"APPVEYOR": "True"}, decided: "automation"},
		{name: "vercel", env: env{"VERCEL": "1"}, decided: "automation"},
		{name: "netlify", env: env{"NETLIFY": "true"}, decided: "automation"},
		{name: "go test", goTest: true, decided: "automation"},
		{name: "go test allowed", goTest: true, automation: true, enabled: true},
		{name: "opt-out beats allowed automation", env: env{"CI": "true", "DO_NOT_TRACK": "1"}, automation: true, decided: "DO_NOT_TRACK", explicit: true},
		{name: "env beats config", env: env{"MUX_DISABLE_TELEMETRY": "1"}, config: `{"telemetryEnabled": false}`, decided: "MUX_DISABLE_TELEMETRY", explicit: true},
		{name: "config beats ci", env: env{"CI": "true"}, config: `{"telemetryEnabled": false}`, decided: ConfigFile, explicit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			restore := detectGoTest
			detectGoTest = func() bool { return tt.goTest }
			defer func() { detectGoTest = restore }()

			col := newCollector(t)
			cfg := testConfig(t, col.srv.URL)
			cfg.Getenv = tt.env.get
			cfg.AllowAutomation = tt.automation
			if tt.config != "" {
				writeFile(t, filepath.Join(cfg.Home, ConfigFile), tt.config)
			}
			c := newClient(t, cfg)
			st := c.Status()
			if st.Enabled != tt.enabled || c.IsEnabled() != tt.enabled {
				t.Errorf("enabled = %v, want %v (%s)", st.Enabled, tt.enabled, st)
			}
			if st.ExplicitlyDisabled != tt.explicit || c.IsExplicitlyDisabled() != tt.explicit {
				t.Errorf("explicitly disabled = %v, want %v (%s)", st.ExplicitlyDisabled, tt.explicit, st)
			}
			if st.Switch != tt.decided {
				t.Errorf("switch = %q, want %q (%s)", st.Switch, tt.decided, st)
			}
			if len(st.Reasons) != 4 {
				t.Errorf("got %d reasons, want one per switch: %q", len(st.Reasons), st.Reasons)
			}

			c.Capture(mux.CommandUsed{Command: "new"})
			stats := closeClient(t, c)
			if tt.enabled {
				if stats.Sent != 1 {
					t.Errorf("sent %d events while enabled, want 1", stats.Sent)
				}
				return
			}
			if c.InstallID() != "" {
				t.Errorf("InstallID = %q while disabled, want empty", c.InstallID())
			}
			if _, err := os.Stat(filepath.Join(cfg.Home, InstallIDFile)); !os.IsNotExist(err) {
				t.Errorf("install ID file exists while disabled (stat error %v)", err)
			}
			if _, err := os.Stat(filepath.Join(cfg.Home, SpoolDir)); !os.IsNotExist(err) {
				t.Errorf("spool exists while disabled (stat error %v)", err)
			}
			if n := col.requestCount(); n != 0 {
				t.Errorf("collector got %d requests while disabled, want 0", n)
			}
			if stats.Ignored != 1 || stats.Captured != 0 {
				t.Errorf("ignored %d captured %d, want 1 and 0", stats.Ignored, stats.Captured)
			}
		})
	}
}

func TestStatusStringNamesIgnoredValue(t *testing.T) {
	col := newCollector(t)
	cfg := testConfig(t, col.srv.URL)
	cfg.Getenv = env{"MUX_DISABLE_TELEMETRY": "true"}.get
	c := newClient(t, cfg)
	s := c.Status().String()
	if !strings.HasPrefix(s, "enabled: ") || !strings.Contains(s, `MUX_DISABLE_TELEMETRY="true" is ignored`) {
		t.Errorf("Status = %q, want it to say the value true is ignored", s)
	}
}

func TestStatusAutomationReasons(t *testing.T) {
	tests := []struct {
		env  env
		want string
	}{
		{env{"CI": "true"}, "CI=true marks a CI run, so telemetry is off (set Config.AllowAutomation to send anyway)"},
		{env{"JENKINS_URL": "http://ci"}, "JENKINS_URL is set, which marks a CI run, so telemetry is off (set Config.AllowAutomation to send anyway)"},
		{env{"MUX_E2E": "1"}, "MUX_E2E=1 marks an end-to-end test run, so telemetry is off (set Config.AllowAutomation to send anyway)"},
		{env{}, "the process is a go test binary, so telemetry is off (set Config.AllowAutomation to send anyway)"},
	}
	for _, test := range tests {
		cfg := testConfig(t, "http://127.0.0.1:1")
		cfg.AllowAutomation = false
		cfg.Getenv = test.env.get
		c := newClient(t, cfg)
		st := c.Status()
		if got := st.Reasons[len(st.Reasons)-1]; got != test.want {
			t.Errorf("automation reason with %v = %q, want %q", test.env, got, test.want)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
