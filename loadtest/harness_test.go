package loadtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/app"
)

const testDomain = "load.example.com"

// testDirectory writes a directory of agents first..last (password
// "password", extension = id), the administrator "admin", and the task
// routing of the CCP defaults.
func testDirectory(t *testing.T, first, last int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("teams:\n  - {id: 1, name: Load}\nusers:\n")
	for id := first; id <= last; id++ {
		fmt.Fprintf(&b, "  - {id: \"%d\", password: password, firstName: Load, lastName: \"%d\", role: Agent, team: 1, extension: \"%d\"}\n", id, id, id)
	}
	b.WriteString("  - {id: admin, password: password, firstName: Load, lastName: Admin, role: Administrator}\n")
	// What task mode needs: the task media routing domain and a script
	// selector that routes to it, from the feed.
	b.WriteString(`mediaRoutingDomains:
  - {id: 1, name: Cisco_Voice, description: Voice, voice: true, interruptible: false, maxDialogLimit: 1}
  - {id: 5001, name: Cisco_Task_MRD, description: Task MRD, interruptible: false, maxDialogLimit: 5}
campaigns:
  - {publicId: Cisco_Default_Task_Campaign}
feeds:
  - {id: 100000, name: Cisco_Default_Task_Feed, campaign: Cisco_Default_Task_Campaign}
scriptSelectors:
  - {name: CumulusTask, skillGroupId: 5199, queueNumber: "12282837", queueName: CumulusTask, mrd: 5001}
`)
	path := filepath.Join(t.TempDir(), "directory.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startServer runs finesse-notify in the test process with every
// listener on a free loopback port and agents 3001-3060.
func startServer(t *testing.T, tweak func(*app.Config)) *app.App {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.Domain = testDomain
	cfg.NotifyAddr = "127.0.0.1:0"
	cfg.NotifyPlainAddr = "127.0.0.1:0"
	cfg.RESTAddr = "127.0.0.1:0"
	cfg.XMPPAddr = "127.0.0.1:0"
	cfg.XMPPSAddr = "127.0.0.1:0"
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.DirectoryFile = testDirectory(t, 3001, 3060)
	if tweak != nil {
		tweak(&cfg)
	}
	a, err := app.Start(cfg)
	if err != nil {
		t.Fatalf("start finesse-notify: %v", err)
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

// loadConfig is a short run against a: n sessions of agents from 3001,
// over the transport given as in a Mix, publishing 30 events at 300/s.
func loadConfig(t *testing.T, a *app.App, mode Mode, mix map[string]int) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Mode = mode
	cfg.Mix = mix
	cfg.Domain = testDomain
	cfg.WSURL = "ws://" + a.Addr(app.ListenerNotifyPlain) + "/ws"
	cfg.BOSHURL = "http://" + a.Addr(app.ListenerNotifyPlain) + "/http-bind"
	cfg.TCPAddr = a.Addr(app.ListenerXMPP)
	cfg.RESTURL = "https://" + a.Addr(app.ListenerREST)
	cfg.TLS = a.ClientTLSConfig()
	cfg.AdminJID = "admin@" + testDomain
	var err error
	if cfg.Users, err = ParseUsers("3001-3060"); err != nil {
		t.Fatal(err)
	}
	cfg.Rate = 300
	cfg.Events = 30
	cfg.Drain = 5 * time.Second
	cfg.Hold = time.Second
	cfg.Timeout = 30 * time.Second
	cfg.LoginTimeout = 10 * time.Second
	cfg.HTTPConcurrency = 8
	cfg.MetricsURL = "http://" + a.Addr(app.ListenerNotifyPlain) + "/metrics"
	return cfg
}

// run runs cfg and fails the test on a setup error.
func run(t *testing.T, cfg Config) Summary {
	t.Helper()
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return sum
}

// expectClean checks that every session logged in, and that every event
// published reached every session that expected it, once and in order.
func expectClean(t *testing.T, sum Summary, sessions int, published, expected uint64) {
	t.Helper()
	if sum.Sessions != sessions || sum.Established != sessions || sum.FailedLogins != 0 || sum.Dropped != 0 {
		t.Errorf("sessions %d established %d failed %d dropped %d, want %d of %d, none failed or dropped (errors %v)",
			sum.Sessions, sum.Established, sum.FailedLogins, sum.Dropped, sessions, sessions, sum.Errors)
	}
	if sum.Published != published || sum.PublishErrors != 0 {
		t.Errorf("published %d (errors %d), want %d without errors (%v)", sum.Published, sum.PublishErrors, published, sum.Errors)
	}
	if sum.Expected != expected || sum.Delivered != expected {
		t.Errorf("expected %d delivered %d, want %d both", sum.Expected, sum.Delivered, expected)
	}
	if sum.Lost != 0 || sum.Duplicated != 0 || sum.OutOfOrder != 0 || sum.Misrouted != 0 {
		t.Errorf("lost %d duplicated %d out of order %d misrouted %d, want none", sum.Lost, sum.Duplicated, sum.OutOfOrder, sum.Misrouted)
	}
	if expected > 0 && (sum.P50ms <= 0 || sum.P99ms < sum.P50ms || sum.MaxMs < sum.P99ms) {
		t.Errorf("latency p50 %.3f p99 %.3f max %.3f ms: want 0 < p50 <= p99 <= max", sum.P50ms, sum.P99ms, sum.MaxMs)
	}
	if sum.LoginsPerSec <= 0 {
		t.Errorf("logins per second %.1f, want > 0", sum.LoginsPerSec)
	}
	if !sum.OK || len(sum.Failures) > 0 {
		t.Errorf("not OK: %v", sum.Failures)
	}
}
