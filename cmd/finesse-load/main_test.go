package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/app"
	"github.com/finesse-notify/finesse-notify/loadtest"
)

const domain = "load.example.com"

// startServer runs finesse-notify in the test process on loopback ports,
// with agents 3001-3040 and the administrator.
func startServer(t *testing.T) *app.App {
	t.Helper()
	var b strings.Builder
	b.WriteString("teams:\n  - {id: 1, name: Load}\nusers:\n")
	for id := 3001; id <= 3040; id++ {
		fmt.Fprintf(&b, "  - {id: \"%d\", password: password, firstName: Load, lastName: \"%d\", role: Agent, team: 1, extension: \"%d\"}\n", id, id, id)
	}
	b.WriteString("  - {id: admin, password: password, firstName: Load, lastName: Admin, role: Administrator}\n")
	dir := filepath.Join(t.TempDir(), "directory.yaml")
	if err := os.WriteFile(dir, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := app.DefaultConfig()
	cfg.Domain = domain
	cfg.NotifyAddr = "127.0.0.1:0"
	cfg.NotifyPlainAddr = "127.0.0.1:0"
	cfg.RESTAddr = "127.0.0.1:0"
	cfg.XMPPAddr = "127.0.0.1:0"
	cfg.XMPPSAddr = "127.0.0.1:0"
	cfg.DirectoryFile = dir
	cfg.ShutdownTimeout = 5 * time.Second
	a, err := app.Start(cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return a
}

// serverFlags point the tool at a.
func serverFlags(t *testing.T, a *app.App) []string {
	pem := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(pem, a.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{
		"--domain", domain,
		"--ws-url", "ws://" + a.Addr(app.ListenerNotifyPlain) + "/ws",
		"--bosh-url", "https://" + a.Addr(app.ListenerNotify) + "/http-bind",
		"--tcp-addr", a.Addr(app.ListenerXMPP),
		"--rest-url", "https://" + a.Addr(app.ListenerREST),
		"--ca-file", pem,
		"--metrics-url", "http://" + a.Addr(app.ListenerNotifyPlain) + "/metrics",
		"--timeout", "30s",
	}
}

func runTool(t *testing.T, args ...string) (int, loadtest.Summary, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	var sum loadtest.Summary
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if stdout.Len() > 0 {
		if len(lines) != 1 {
			t.Fatalf("stdout has %d lines, want one JSON line: %s", len(lines), stdout.String())
		}
		if err := json.Unmarshal([]byte(lines[0]), &sum); err != nil {
			t.Fatalf("stdout is not the JSON summary: %v: %s", err, stdout.String())
		}
	}
	return code, sum, stderr.String()
}

func TestARunPrintsOneJSONLineAndExitsZero(t *testing.T) {
	a := startServer(t)
	args := append(serverFlags(t, a), "--transport", "mix", "--mix", "ws=10,bosh=10,tcp=10",
		"--users", "3001-3040", "--mode", "own", "--rate", "200", "--events", "40")
	code, sum, stderr := runTool(t, args...)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if sum.Sessions != 30 || sum.Established != 30 || sum.Published != 40 || sum.Expected != 40 ||
		sum.Delivered != 40 || sum.Lost != 0 || !sum.OK || sum.RSSKBPerSession == nil {
		t.Errorf("summary %+v", sum)
	}
	// The JSON carries every field the compare script reads.
	var stdout bytes.Buffer
	run(context.Background(), append(args, "--quiet"), &stdout, &bytes.Buffer{})
	var fields map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &fields); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"server", "mode", "transport", "sessions", "established", "logins_per_sec", "published",
		"expected", "delivered", "delivered_per_sec", "lost", "duplicated", "out_of_order", "p50_ms", "p95_ms", "p99_ms",
		"max_ms", "rss_kb_per_session", "pings_answered", "max_clean_rate", "ok"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("no %q in %s", f, stdout.String())
		}
	}
	if !strings.Contains(stderr, "sessions 30/30") {
		t.Errorf("no progress on stderr: %q", stderr)
	}
}

func TestAFailedRunExitsOne(t *testing.T) {
	a := startServer(t)
	code, sum, stderr := runTool(t, append(serverFlags(t, a), "--quiet", "--transport", "ws", "--users", "3001-3005",
		"--password", "wrong", "--mode", "idle", "--hold", "0s")...)
	if code != exitFailed || sum.OK || sum.FailedLogins != 5 {
		t.Errorf("exit %d ok %v failed %d", code, sum.OK, sum.FailedLogins)
	}
	if !strings.Contains(stderr, "FAILED: 5 sessions failed to log in") {
		t.Errorf("stderr does not say why: %q", stderr)
	}
}

func TestBadFlagsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"--transport", "pigeon"},
		{"--transport", "mix"},
		{"--transport", "mix", "--mix", "ws=2", "--sessions", "3"},
		{"--users", "9-1"},
		{"--mode", "shared"}, // no node
		{"--server", "generic", "--mode", "rest"},
		{"--rate-steps", "1,x"},
		{"--ca-file", "/nonexistent"},
		{"extra"},
	} {
		code, _, stderr := runTool(t, args...)
		if code != exitUsage || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

func TestFlagDefaults(t *testing.T) {
	cfg, opts, err := parseFlags([]string{"--users", "3001-3010", "--transport", "bosh", "--domain", "d"}, &bytes.Buffer{})
	if err != nil || opts.quiet {
		t.Fatal(err)
	}
	if cfg.Sessions() != 10 || cfg.Mix["bosh"] != 10 || cfg.AdminJID != "admin@d" || cfg.Server != "finesse" || cfg.Mode != "idle" {
		t.Errorf("%+v", cfg)
	}
	cfg, _, err = parseFlags([]string{"--users", "1-5", "--sessions", "12", "--rate-steps", "10,20"}, &bytes.Buffer{})
	if err != nil || cfg.Sessions() != 12 || len(cfg.RateSteps) != 2 {
		t.Errorf("%+v %v", cfg, err)
	}
}
