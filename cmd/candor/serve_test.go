package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/candor-dev/candor/internal/server"
)

func TestParseRetention(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"0s", 0},
		{"0d", 0},
		{"400d", 400 * 24 * time.Hour},
		{"1.5d", 36 * time.Hour},
		{"36h", 36 * time.Hour},
		{"1d", 24 * time.Hour},
		{"1440m", 24 * time.Hour},
	}
	for _, tt := range tests {
		got, err := parseRetention(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseRetention(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "-1d", "400", "d", "1y", "1e300d"} {
		if _, err := parseRetention(in); err == nil {
			t.Errorf("parseRetention(%q) succeeded, want an error", in)
		}
	}
}

// TestParseRetentionBelowMinimum checks that periods under which events
// expire on arrival are rejected with the value and the minimum.
func TestParseRetentionBelowMinimum(t *testing.T) {
	for _, in := range []string{"1ns", "0.5s", "90m", "23h59m", "0.5d", "0.99d"} {
		_, err := parseRetention(in)
		if err == nil {
			t.Errorf("parseRetention(%q) succeeded, want an error", in)
			continue
		}
		for _, want := range []string{strconv.Quote(in), "at least 1d"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("parseRetention(%q) error %q does not contain %q", in, err, want)
			}
		}
	}
}

func TestProjectFlag(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "shop:catalog.json")
	if err := os.WriteFile(file, []byte(`{"app":"shop","events":[{"name":"order_placed","properties":[]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}

	var f serveFlags
	if err := f.addProject("shop=" + file + ":phc_shop"); err != nil {
		t.Fatalf("addProject: %v", err)
	}
	if len(f.projects) != 1 {
		t.Fatalf("projects = %d, want 1", len(f.projects))
	}
	p := f.projects[0]
	if p.Name != "shop" || p.WriteKey != "phc_shop" || p.Catalog.App != "shop" {
		t.Errorf("project = %q key %q catalog %q, want shop, phc_shop, shop", p.Name, p.WriteKey, p.Catalog.App)
	}
	if _, ok := p.Catalog.Lookup("order_placed"); !ok {
		t.Error("the catalog lacks order_placed")
	}

	for _, bad := range []string{"shop", "shop=" + file, "=" + file + ":k", "shop=" + file + ":", "a b=" + file + ":k",
		"shop=" + filepath.Join(dir, "missing.json") + ":k"} {
		if err := f.addProject(bad); err == nil {
			t.Errorf("addProject(%q) succeeded, want an error", bad)
		}
	}
}

func TestProjectFlagRejectsNames(t *testing.T) {
	file := filepath.Join(t.TempDir(), "shop.json")
	if err := os.WriteFile(file, []byte(`{"app":"shop","events":[{"name":"order_placed","properties":[]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, want string
	}{
		{"a?b", `invalid project name "a?b" in --project: use letters, digits, - or _`},
		{"shop.app", `invalid project name "shop.app"`},
		{"caf\u00e9", `invalid project name "caf`},
		{"a%2F", `invalid project name "a%2F"`},
		{"mux", `project name "mux" in --project is the built-in Mux project, which takes --write-key: choose another name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f serveFlags
			err := f.addProject(tt.name + "=" + file + ":phc_shop")
			if err == nil {
				t.Fatalf("addProject accepted the project name %q", tt.name)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
	var f serveFlags
	if err := f.addProject("my-shop_2=" + file + ":phc_shop"); err != nil {
		t.Errorf("addProject rejected the project name my-shop_2: %v", err)
	}
}

func TestProjectFlagNamesCatalogFix(t *testing.T) {
	file := filepath.Join(t.TempDir(), "shop.json")
	if err := os.WriteFile(file, []byte(`{"app":"shop","events":[{"name":"order_placed","properties":[{"name":"n","class":"count"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var f serveFlags
	err := f.addProject("shop=" + file + ":phc_shop")
	if err == nil {
		t.Fatal("addProject accepted a count without max")
	}
	for _, want := range []string{file, `"shop"`, "count needs a positive maximum", "Catalog.MarshalIndent"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestProjectFlagMissingCatalogNamesFix(t *testing.T) {
	file := filepath.Join(t.TempDir(), "missing.json")
	var f serveFlags
	err := f.addProject("shop=" + file + ":phc_shop")
	if err == nil {
		t.Fatal("addProject accepted a catalog file that does not exist")
	}
	for _, want := range []string{file, `"shop"`, "candor catalog --format json", "Catalog.MarshalIndent"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestServeRejectsSmallDuckDBMemory(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--duckdb-memory-mib", "16"}, &stdout, &stderr)
	if code == 0 {
		t.Fatal("serve accepted --duckdb-memory-mib 16")
	}
	if want := "invalid --duckdb-memory-mib 16: use 32 or more"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr = %q, want it to contain %q", stderr.String(), want)
	}
}

func TestServeRejectsUnknownPropertiesType(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--duckdb-properties", "parquet"}, &stdout, &stderr)
	if code == 0 {
		t.Fatal("serve accepted --duckdb-properties parquet")
	}
	if want := `invalid --duckdb-properties "parquet": use variant or json`; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr = %q, want it to contain %q", stderr.String(), want)
	}
}

func TestServeRejectsListenWithoutPort(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve", "--data", t.TempDir(), "--listen", "8787"}, &stdout, &stderr)
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if want := `invalid --listen "8787": use HOST:PORT with a port from 0 to 65535, such as 127.0.0.1:8787`; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr = %q, want it to contain %q", stderr.String(), want)
	}
}

// An invalid --clickhouse-url or --clickhouse-database is a usage error
// found before any connection, and its message names the flag to change.
func TestServeRejectsInvalidClickHouseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"native scheme", []string{"--clickhouse-url", "tcp://127.0.0.1:9000"},
			`invalid --clickhouse-url "tcp://127.0.0.1:9000": use the server's HTTP interface, such as http://127.0.0.1:8123`},
		{"query string", []string{"--clickhouse-url", "http://u:secret@127.0.0.1:8123/?database=x"},
			`invalid --clickhouse-url "http://u:xxxxx@127.0.0.1:8123/?database=x": remove the query string and the fragment, ` +
				`because --clickhouse-database picks the database`},
		{"fragment", []string{"--clickhouse-url", "http://127.0.0.1:8123/#x"}, "remove the query string and the fragment"},
		{"database", []string{"--clickhouse-database", "1bad"}, `invalid clickhouse database "1bad"`},
		{"reserved database", []string{"--clickhouse-database", "system"}, `invalid clickhouse database "system"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--store", "clickhouse"}, tt.args...)
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), args, &stdout, &stderr); code != exitUsage {
				t.Errorf("exit code = %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.want)
			}
			if strings.Contains(stderr.String(), "secret") {
				t.Errorf("stderr = %q, shows the password", stderr.String())
			}
		})
	}
}

func TestMinFreeFlag(t *testing.T) {
	tests := []struct {
		mib  int64
		want int64
	}{
		{0, -1},
		{1, 1 << 20},
		{64, 64 << 20},
	}
	for _, tt := range tests {
		f := serveFlags{minFreeMiB: tt.mib}
		got, err := f.minFreeBytes()
		if err != nil || got != tt.want {
			t.Errorf("--min-free-mib %d: MinFreeBytes %d, error %v, want %d", tt.mib, got, err, tt.want)
		}
	}
}

func TestMinFreeFlagTooLarge(t *testing.T) {
	f := serveFlags{minFreeMiB: math.MaxInt64 >> 19}
	_, err := f.minFreeBytes()
	if err == nil {
		t.Fatalf("--min-free-mib %d accepted, want an error", f.minFreeMiB)
	}
	if want := fmt.Sprintf("at most %d", int64(math.MaxInt64>>20)); !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to name the maximum: %q", err, want)
	}
}

func TestServeRejectsNegativeMinFree(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--min-free-mib", "-1"}, &stdout, &stderr)
	if code == 0 {
		t.Fatal("serve accepted --min-free-mib -1")
	}
	if want := "invalid --min-free-mib -1: use 0 (no check) or a positive number of MiB"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr = %q, want it to contain %q", stderr.String(), want)
	}
}

// closedLoopbackURL returns the URL of a loopback port where no server
// listens, so that a store that tries to connect fails at once.
func closedLoopbackURL(t *testing.T) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	address := listener.Addr().String()
	listener.Close()
	return "http://" + address
}

func TestServeRejectsDuckDBFlagsForOtherStores(t *testing.T) {
	flags := [][]string{
		{"--journal=false"},
		{"--journal=true"},
		{"--duckdb-properties", "json"},
		{"--duckdb-memory-mib", "64"},
		{"--min-free-mib", "10"},
	}
	// A canceled context makes a serve that starts stop at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, storeName := range []string{"clickhouse", "null"} {
		for _, setFlag := range flags {
			args := []string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--store", storeName}
			if storeName == "clickhouse" {
				args = append(args, "--clickhouse-url", closedLoopbackURL(t))
			}
			args = append(args, setFlag...)
			var stdout, stderr bytes.Buffer
			if code := run(ctx, args, &stdout, &stderr); code == 0 {
				t.Errorf("serve --store %s accepted %s", storeName, strings.Join(setFlag, " "))
				continue
			}
			name, _, _ := strings.Cut(setFlag[0], "=")
			if want := name + " applies to the DuckDB store only"; !strings.Contains(stderr.String(), want) {
				t.Errorf("serve --store %s %s: stderr = %q, want it to contain %q", storeName, strings.Join(setFlag, " "), stderr.String(), want)
			}
		}
	}
}

func TestServeRejectsClickHouseFlagsForOtherStores(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, storeName := range []string{"duckdb", "null"} {
		for _, setFlag := range [][]string{{"--clickhouse-url", "http://127.0.0.1:8123/"}, {"--clickhouse-database=events"}} {
			args := append([]string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--store", storeName}, setFlag...)
			var stdout, stderr bytes.Buffer
			if code := run(ctx, args, &stdout, &stderr); code == 0 {
				t.Errorf("serve --store %s accepted %s", storeName, strings.Join(setFlag, " "))
				continue
			}
			name, _, _ := strings.Cut(setFlag[0], "=")
			want := name + " applies to the ClickHouse store only, not to --store " + storeName + ": remove " + name + ", or use --store clickhouse"
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("serve --store %s %s: stderr = %q, want it to contain %q", storeName, strings.Join(setFlag, " "), stderr.String(), want)
			}
		}
	}
}

// The DuckDB flags keep their defaults with another store, and the store
// starts. The server is created but not served, so that Shutdown does not
// race the start of Serve.
func TestServeNullStoreWithDefaults(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f serveFlags
	f.register(fs, t.TempDir())
	if err := fs.Parse([]string{"--listen", "127.0.0.1:0", "--store", "null"}); err != nil {
		t.Fatal(err)
	}
	srv, err := f.start(context.Background(), io.Discard)
	if err != nil {
		t.Fatalf("serve --store null with default flags: %v", err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestServeRejectsShortAdminToken(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	args := []string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--admin-token", "x"}
	if code := run(ctx, args, &stdout, &stderr); code == 0 {
		t.Fatal("serve accepted a one-character --admin-token")
	}
	want := "invalid --admin-token: shorter than 16 characters: use a long random token, or leave the flag out"
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr = %q, want it to contain %q", stderr.String(), want)
	}
}

// The serve help states that a flag whose usage names one store is rejected
// with the others, so each store-specific flag must name its store, and
// no other flag may.
func TestServeFlagUsageNamesItsStore(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var f serveFlags
	f.register(fs, t.TempDir())
	fs.VisitAll(func(fl *flag.Flag) {
		owner, storeSpecific := storeFlags[fl.Name]
		for _, storeName := range []string{server.StoreDuckDB, server.StoreClickHouse} {
			names := strings.Contains(fl.Usage, "with --store "+storeName)
			if want := storeSpecific && owner == storeName; names != want {
				t.Errorf("--%s: usage names \"with --store %s\": %v, want %v", fl.Name, storeName, names, want)
			}
		}
	})
}

// A data folder that still contains a DuckDB database, whose events and
// journal the ClickHouse store never reads, gets a warning that names
// candor migrate, unless migrate recorded a completed run there.
func TestServeClickHouseWarnsOfUnmigratedDuckDB(t *testing.T) {
	for _, migrated := range []bool{false, true} {
		data := t.TempDir()
		if err := os.WriteFile(filepath.Join(data, server.DatabaseFile), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if migrated {
			if err := os.WriteFile(filepath.Join(data, migratedFile), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		args := []string{"serve", "--data", data, "--listen", "127.0.0.1:0", "--store", "clickhouse", "--clickhouse-url", closedLoopbackURL(t)}
		var stdout, stderr bytes.Buffer
		run(context.Background(), args, &stdout, &stderr)

		const warning = "run candor migrate"
		warned := strings.Contains(stderr.String(), warning)
		if !migrated && !warned {
			t.Errorf("without %s: stderr = %q, want it to contain %q", migratedFile, stderr.String(), warning)
		}
		if migrated && warned {
			t.Errorf("with %s: stderr = %q, want no %q", migratedFile, stderr.String(), warning)
		}
	}
}

// A signal while serve waits for a ClickHouse server that accepts
// connections and never responds, as a stopped (SIGSTOP) server does, ends
// the start at once rather than after the 30 s that the open may take.
func TestServeInterruptedWhileOpeningClickHouse(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer listener.Close()
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	args := []string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--store", "clickhouse",
		"--clickhouse-url", "http://" + listener.Addr().String()}
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(ctx, args, &stdout, &stderr)

	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("serve returned %v after start, want within 5s of the signal at 300ms", elapsed)
	}
	if code != exitFailure {
		t.Errorf("exit code = %d, want %d", code, exitFailure)
	}
	if want := "interrupted before the collector started"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr = %q, want it to contain %q", stderr.String(), want)
	}
}
