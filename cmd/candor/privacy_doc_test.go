package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/collector"
	"github.com/candor-dev/candor/sdk/mux"
	"github.com/candor-dev/candor/sdk/telemetry"
)

// privacyDocPath is the privacy page, relative to this package's folder.
const privacyDocPath = "../../docs/privacy.md"

// readPrivacyDoc returns the privacy page with every run of white space
// turned into one space, so that facts match across line breaks.
func readPrivacyDoc(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(privacyDocPath)
	if err != nil {
		t.Fatalf("read the privacy page: %v", err)
	}
	return strings.Join(strings.Fields(string(data)), " ")
}

func assertMentions(t *testing.T, doc string, facts ...string) {
	t.Helper()
	for _, fact := range facts {
		if !strings.Contains(doc, fact) {
			t.Errorf("docs/privacy.md does not state %q", fact)
		}
	}
}

// thousands formats n with commas, as the page writes numbers: 10,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func TestPrivacyDocListsEveryEvent(t *testing.T) {
	doc := readPrivacyDoc(t)
	c := mux.Catalog()
	for _, e := range c.Events {
		assertMentions(t, doc, "| `"+e.Name+"` |")
	}
	assertMentions(t, doc, "these are the "+strconv.Itoa(len(c.Events))+" events")
}

// TestPrivacyDocListsBaseProperties checks every property that the SDK adds
// to an event, read from the request a real client would send.
func TestPrivacyDocListsBaseProperties(t *testing.T) {
	doc := readPrivacyDoc(t)
	client, err := telemetry.New(telemetry.Config{
		App:             mux.App,
		Catalog:         mux.Catalog(),
		Endpoint:        "http://127.0.0.1:9",
		WriteKey:        "phc_doc_test",
		Home:            t.TempDir(),
		Version:         "1.2.3",
		AllowAutomation: true,
		Getenv:          func(string) string { return "" },
		Spool:           telemetry.SpoolConfig{Disabled: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		client.Close(ctx)
	}()
	client.SetFeatureFlagVariant("new-onboarding", "treatment")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := client.NextPayload(ctx, mux.AppStarted{})
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Batch []struct {
			Properties map[string]any `json:"properties"`
		} `json:"batch"`
	}
	if err := json.Unmarshal(p.Body, &body); err != nil || len(body.Batch) != 1 {
		t.Fatalf("decode the sample request %s: %v", p.Body, err)
	}
	def, _ := mux.Catalog().Lookup("app_started")
	own := map[string]bool{}
	for _, prop := range def.Properties {
		own[prop.Name] = true
	}
	for name := range body.Batch[0].Properties {
		if own[name] {
			continue
		}
		if strings.HasPrefix(name, "$feature/") {
			assertMentions(t, doc, "`$feature/<flag>`")
			continue
		}
		assertMentions(t, doc, "`"+name+"`")
	}

	var members map[string]json.RawMessage
	json.Unmarshal(p.Body, &members)
	for name := range members {
		if name != "batch" {
			assertMentions(t, doc, "`"+name+"`")
		}
	}
	assertMentions(t, doc, "(`"+telemetry.LibraryName+"`)")
}

func TestPrivacyDocNamesEverySwitch(t *testing.T) {
	doc := readPrivacyDoc(t)
	disable := telemetry.EnvVar(mux.App, telemetry.DisableVarSuffix)
	debug := telemetry.EnvVar(mux.App, telemetry.DebugVarSuffix)
	assertMentions(t, doc,
		"`"+disable+"=1`",
		"`"+disable+"=true` and any other value are ignored",
		"`"+telemetry.DoNotTrackVar+"=1` or `"+telemetry.DoNotTrackVar+"=true`",
		"`\"telemetryEnabled\": false` in `"+telemetry.ConfigFile+"`",
		"`"+telemetry.EnvVar(mux.App, telemetry.E2EVarSuffix)+"=1`",
		"`"+debug+"="+telemetry.DebugPrint+"`",
		"`"+debug+"="+telemetry.DebugTee+"`",
		"| "+telemetry.SwitchAutomation+" |",
		"| "+telemetry.SwitchNotice+" |",
	)
	for _, name := range telemetry.CIVariables() {
		assertMentions(t, doc, "`"+name+"`")
	}
}

func TestPrivacyDocStatesLimits(t *testing.T) {
	doc := readPrivacyDoc(t)
	assertMentions(t, doc,
		"`"+telemetry.InstallIDFile+"`",
		"`"+telemetry.SecretFile+"`",
		"`"+telemetry.NoticeFile+"`",
		"`"+telemetry.SpoolDir+"/`",
		"In memory the app holds at most "+thousands(telemetry.DefaultQueueSize)+" events",
		"at most "+thousands(telemetry.DefaultSpoolMaxEvents)+" events and "+strconv.Itoa(telemetry.DefaultSpoolMaxBytes>>20)+" MiB",
		"`POST "+collector.SelfDeletePath+"`",
		"`"+collector.DeletionKeyHashField+"`",
	)
}

func TestPrivacyDocStatesRetention(t *testing.T) {
	doc := readPrivacyDoc(t)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f serveFlags
	f.register(fs, "./candor-data")
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if fs.Lookup("retention") == nil {
		t.Fatal("candor serve has no --retention flag, which docs/privacy.md documents")
	}
	if f.retention != 0 {
		t.Fatalf("the default retention is %s; update docs/privacy.md, which says events are kept forever by default", f.retention)
	}
	assertMentions(t, doc, "`candor serve --retention DURATION`", "Without the flag, or with `--retention 0`, the collector keeps events forever.")
}
