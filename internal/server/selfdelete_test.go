package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/store"
	"github.com/candor-dev/candor/sdk/mux"
	"github.com/candor-dev/candor/sdk/telemetry"
)

// newSDKClient returns a real SDK client that sends to srv from its own
// home folder.
func newSDKClient(t *testing.T, srv *Server) *telemetry.Client {
	t.Helper()
	c, err := telemetry.New(telemetry.Config{
		App:             mux.App,
		Catalog:         mux.Catalog(),
		Endpoint:        srv.URL(),
		WriteKey:        srv.Keys().WriteKey,
		Home:            t.TempDir(),
		Version:         "1.2.3",
		AllowAutomation: true,
		Getenv:          func(string) string { return "" },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

func sendEvents(t *testing.T, c *telemetry.Client, n int) {
	t.Helper()
	for range n {
		c.Capture(mux.CommandUsed{Command: "new"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func storedOverview(t *testing.T, srv *Server) store.Overview {
	t.Helper()
	ov, err := srv.Store().Overview(context.Background(), store.Filter{Project: mux.App})
	if err != nil {
		t.Fatal(err)
	}
	return ov
}

func TestForgetDeletesInstallOnServer(t *testing.T) {
	srv := startServer(t, Config{})
	alice := newSDKClient(t, srv)
	bob := newSDKClient(t, srv)
	sendEvents(t, alice, 3)
	sendEvents(t, bob, 2)
	if ov := storedOverview(t, srv); ov.TotalEvents != 5 || ov.Installs != 2 {
		t.Fatalf("stored %d events of %d installs, want 5 of 2", ov.TotalEvents, ov.Installs)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := alice.Forget(ctx, telemetry.ForgetOptions{})
	if err != nil {
		t.Fatalf("Forget: %v", err)
	}
	if !res.RemoteAsked || res.RemoteDeleted != 3 {
		t.Errorf("Forget = %+v, want the collector to delete 3 events", res)
	}
	if ov := storedOverview(t, srv); ov.TotalEvents != 2 || ov.Installs != 1 {
		t.Errorf("after Forget: %d events of %d installs, want bob's 2 of 1", ov.TotalEvents, ov.Installs)
	}

	// Events after Forget go out under a new install ID.
	sendEvents(t, alice, 1)
	if ov := storedOverview(t, srv); ov.Installs != 2 {
		t.Errorf("installs after alice sent again = %d, want 2 (bob and alice's new ID)", ov.Installs)
	}
}

func TestSelfDeleteWrongSecretOnServer(t *testing.T) {
	srv := startServer(t, Config{})
	alice := newSDKClient(t, srv)
	sendEvents(t, alice, 2)

	body := `{"api_key":"` + srv.Keys().WriteKey + `","distinct_id":"` + alice.InstallID() + `","secret":"` + strings.Repeat("0", 64) + `"}`
	resp, err := http.Post(srv.URL()+telemetry.SelfDeletePath, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("deletion with a wrong secret = %d, want 403", resp.StatusCode)
	}
	if ov := storedOverview(t, srv); ov.TotalEvents != 2 {
		t.Errorf("events after a wrong secret = %d, want 2", ov.TotalEvents)
	}

	unknown := `{"api_key":"` + srv.Keys().WriteKey + `","distinct_id":"00000000-0000-4000-8000-000000000001","secret":"x"}`
	resp, err = http.Post(srv.URL()+telemetry.SelfDeletePath, "application/json", strings.NewReader(unknown))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("deletion of an unknown install = %d, want 404", resp.StatusCode)
	}
}
