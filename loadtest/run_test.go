package loadtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/app"
)

// Own mode: each session subscribes (XEP-0060) to its user's node and the
// administrator publishes to the nodes in turn, over every transport.
func TestOwnModeOverEveryTransport(t *testing.T) {
	a := startServer(t, nil)
	tlsAddr := a.Addr(app.ListenerNotify)
	cases := []struct {
		name  string
		kind  string
		tweak func(*Config)
	}{
		{"websocket", TransportWS, nil},
		{"websocket-tls", TransportWS, func(c *Config) { c.WSURL = "wss://" + tlsAddr + "/ws" }},
		{"bosh", TransportBOSH, nil},
		{"bosh-tls", TransportBOSH, func(c *Config) { c.BOSHURL = "https://" + tlsAddr + "/http-bind" }},
		{"tcp-starttls", TransportTCP, nil},
		{"tcp-plain", TransportTCP, func(c *Config) { c.NoStartTLS = true }},
		{"tcp-direct-tls", TransportTCP, func(c *Config) { c.TCPAddr = "tls://" + a.Addr(app.ListenerXMPPS) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, a, ModeOwn, map[string]int{tc.kind: 24})
			cfg.AdminTransport = tc.kind
			if tc.tweak != nil {
				tc.tweak(&cfg)
			}
			sum := run(t, cfg)
			// 30 events over 24 nodes: each session expects its node's.
			expectClean(t, sum, 24, 30, 30)
			if sum.Transport != tc.kind || sum.Mode != "own" || sum.Server != "finesse" {
				t.Errorf("summary names %s/%s/%s", sum.Server, sum.Mode, sum.Transport)
			}
			if sum.RSSKBPerSession == nil {
				t.Errorf("no memory per session from the metrics URL: %v", sum.Failures)
			}
		})
	}
}

// Against a generic server the sessions do not wait for finesse@'s
// presence; finesse-notify's user nodes serve as the own nodes, which the
// administrator's create finds already there.
func TestGenericServerOwnMode(t *testing.T) {
	a := startServer(t, nil)
	cfg := loadConfig(t, a, ModeOwn, map[string]int{TransportWS: 10, TransportTCP: 10})
	cfg.Server = ServerGeneric
	sum := run(t, cfg)
	expectClean(t, sum, 20, 30, 30)
	if sum.Server != "generic" {
		t.Errorf("server %q", sum.Server)
	}
}

// With encryption required, SASL PLAIN is offered over TCP only after
// STARTTLS: the tool negotiates it, unless told not to.
func TestStartTLSIsNegotiated(t *testing.T) {
	a := startServer(t, func(c *app.Config) { c.RequireEncryption = true })
	cfg := loadConfig(t, a, ModeIdle, map[string]int{TransportTCP: 10})
	cfg.Hold = 0
	expectClean(t, run(t, cfg), 10, 0, 0)

	cfg.NoStartTLS = true
	sum := run(t, cfg)
	if sum.Established != 0 || sum.FailedLogins != 10 || sum.OK {
		t.Errorf("without STARTTLS: established %d failed %d ok %v, want 0, 10, false", sum.Established, sum.FailedLogins, sum.OK)
	}
}

// Shared mode over a mix of transports: every session expects every
// event of the one node.
func TestSharedModeMix(t *testing.T) {
	a := startServer(t, nil)
	cfg := loadConfig(t, a, ModeShared, map[string]int{TransportWS: 10, TransportBOSH: 10, TransportTCP: 10})
	cfg.Node = "/finesse/api/SystemInfo"
	cfg.Events = 0 // by duration: 100/s for 200 ms is 20 events
	cfg.Rate = 100
	cfg.Duration = 200 * time.Millisecond
	cfg.PayloadBytes = 1500
	sum := run(t, cfg)
	expectClean(t, sum, 30, 20, 30*20)
	if sum.Transport != "mix(bosh+tcp+ws)" {
		t.Errorf("transport %q", sum.Transport)
	}
}

// REST mode: agents sign in, then change state READY / NOT_READY; the
// requestId of each change comes back in the Update on the user's node.
func TestRESTMode(t *testing.T) {
	a := startServer(t, nil)
	for _, kind := range []string{TransportTCP, TransportBOSH} {
		t.Run(kind, func(t *testing.T) {
			cfg := loadConfig(t, a, ModeREST, map[string]int{kind: 20})
			cfg.Events = 40 // two changes per agent
			expectClean(t, run(t, cfg), 20, 40, 40)
		})
	}
}

// Publish mode: Updates posted to the administrator's endpoint, on each
// user's node, or on one node every session receives.
func TestPublishEndpointMode(t *testing.T) {
	a := startServer(t, nil)
	t.Run("own", func(t *testing.T) {
		cfg := loadConfig(t, a, ModePublish, map[string]int{TransportWS: 20})
		expectClean(t, run(t, cfg), 20, 30, 30)
	})
	t.Run("one-node", func(t *testing.T) {
		cfg := loadConfig(t, a, ModePublish, map[string]int{TransportBOSH: 10, TransportWS: 10})
		cfg.Node = "/finesse/api/SystemInfo"
		cfg.Events = 10
		expectClean(t, run(t, cfg), 20, 10, 20*10)
	})
}

// Task mode: tasks submitted to the CCP Task API are offered to the agents
// (each signed in to the task domain with room for two), who accept and
// close them to make room: forty tasks through ten agents.
func TestTaskMode(t *testing.T) {
	a := startServer(t, nil)
	cfg := loadConfig(t, a, ModeTask, map[string]int{TransportWS: 5, TransportBOSH: 5})
	cfg.TaskMaxDialogs = 2
	cfg.Events = 40
	cfg.Rate = 100
	sum := run(t, cfg)
	expectClean(t, sum, 10, 40, 40)
	if len(sum.Errors) > 0 {
		t.Errorf("errors: %v", sum.Errors)
	}
}

// Idle mode holds the sessions and answers the server's keepalive pings.
func TestIdleAnswersKeepalives(t *testing.T) {
	a := startServer(t, func(c *app.Config) {
		c.PingInterval = 200 * time.Millisecond
		c.PingRetries = 2
	})
	cfg := loadConfig(t, a, ModeIdle, map[string]int{TransportWS: 10, TransportBOSH: 10, TransportTCP: 10})
	cfg.Hold = 1200 * time.Millisecond
	sum := run(t, cfg)
	expectClean(t, sum, 30, 0, 0)
	// A silent session is pinged after 200 ms of silence, and again 200 ms
	// after it answers: over the hold, several times each. Pings left
	// unanswered would have dropped it.
	if sum.PingsAnswered < 2*30 {
		t.Errorf("pings answered %d, want at least %d", sum.PingsAnswered, 2*30)
	}
}

// Rate steps go up while each step is clean and report the highest.
func TestRateSteps(t *testing.T) {
	a := startServer(t, nil)
	cfg := loadConfig(t, a, ModeShared, map[string]int{TransportWS: 20})
	cfg.Node = "/finesse/api/SystemInfo"
	cfg.RateSteps = []float64{50, 100}
	cfg.Events = 10
	cfg.MaxP99 = 10 * time.Second
	sum := run(t, cfg)
	if len(sum.Steps) != 2 || !sum.Steps[0].Clean || !sum.Steps[1].Clean {
		t.Fatalf("steps %+v, want two clean steps", sum.Steps)
	}
	for _, st := range sum.Steps {
		if st.Published != 10 || st.Expected != 200 || st.Delivered != 200 || st.Lost != 0 {
			t.Errorf("step %+v: want 10 published, 200 expected and delivered", st)
		}
	}
	if sum.MaxCleanRate == nil || *sum.MaxCleanRate != 100 || !sum.OK {
		t.Errorf("max clean rate %v ok %v, want 100 true", sum.MaxCleanRate, sum.OK)
	}

	// A p99 bound no delivery can meet: the first step is not clean and
	// the stepping stops there.
	cfg.MaxP99 = time.Nanosecond
	sum = run(t, cfg)
	if len(sum.Steps) != 1 || sum.Steps[0].Clean || sum.MaxCleanRate == nil || *sum.MaxCleanRate != 0 || sum.OK {
		t.Errorf("steps %+v max clean %v ok %v: want one unclean step, 0, not OK", sum.Steps, sum.MaxCleanRate, sum.OK)
	}
}

// A wrong password fails every login, and the run.
func TestFailedLoginsFailTheRun(t *testing.T) {
	a := startServer(t, nil)
	cfg := loadConfig(t, a, ModeIdle, map[string]int{TransportWS: 5})
	cfg.Password = "wrong"
	sum := run(t, cfg)
	if sum.Established != 0 || sum.FailedLogins != 5 || sum.OK {
		t.Errorf("established %d failed %d ok %v, want 0 5 false", sum.Established, sum.FailedLogins, sum.OK)
	}
	found := false
	for kind := range sum.Errors {
		found = found || strings.Contains(kind, "not-authorized")
	}
	if !found {
		t.Errorf("errors %v do not name not-authorized", sum.Errors)
	}
}

// A server that drops slow sessions loses their events: the run says so.
// A BOSH client has no request held while a response travels back, so a
// burst queues up at the server, which cuts off any session three
// stanzas behind.
func TestLossIsReported(t *testing.T) {
	a := startServer(t, func(c *app.Config) { c.SendQueueStanzas = 2 })
	cfg := loadConfig(t, a, ModePublish, map[string]int{TransportBOSH: 10})
	cfg.Node = "/finesse/api/SystemInfo"
	cfg.Events = 300
	cfg.Rate = 1e6 // all at once
	cfg.Drain = time.Second
	sum := run(t, cfg)
	if sum.OK || sum.Lost == 0 || sum.Dropped == 0 || sum.Expected != 10*300 {
		t.Errorf("expected %d lost %d dropped %d ok %v: want 3000 expected, events lost, sessions dropped, not OK (%v)",
			sum.Expected, sum.Lost, sum.Dropped, sum.OK, sum.Errors)
	}
}

// A server that is not there fails every login, over every transport,
// and the administrator's, which stops the run before it starts.
func TestUnreachableServer(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Mix = map[string]int{TransportWS: 2, TransportBOSH: 2, TransportTCP: 2}
	cfg.Users = []string{"3001"}
	cfg.WSURL = "ws://127.0.0.1:1/ws"
	cfg.BOSHURL = "http://127.0.0.1:1/http-bind"
	cfg.TCPAddr = "127.0.0.1:1"
	cfg.Timeout = 20 * time.Second
	sum := run(t, cfg)
	if sum.Established != 0 || sum.FailedLogins != 6 || sum.OK {
		t.Errorf("established %d failed %d ok %v, want 0 6 false", sum.Established, sum.FailedLogins, sum.OK)
	}
	cfg.Mode = ModeOwn
	cfg.AdminJID = "admin@localhost"
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "administrator") {
		t.Errorf("own mode without a server: %v", err)
	}
}

// The timeout bounds the whole run.
func TestTimeoutBoundsTheRun(t *testing.T) {
	a := startServer(t, nil)
	cfg := loadConfig(t, a, ModeIdle, map[string]int{TransportWS: 5})
	cfg.Hold = time.Minute
	cfg.Timeout = 500 * time.Millisecond
	begin := time.Now()
	sum := run(t, cfg)
	if !sum.TimedOut || sum.OK {
		t.Errorf("timed out %v ok %v, want true false", sum.TimedOut, sum.OK)
	}
	if d := time.Since(begin); d > 20*time.Second {
		t.Errorf("the run took %s", d)
	}
}

// A configuration that cannot work is refused before anything starts.
func TestRunRefusesBadConfiguration(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Mode = ModeShared
	cfg.Mix = map[string]int{TransportWS: 1}
	cfg.Users = []string{"1"}
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "node") {
		t.Errorf("shared mode without a node: %v", err)
	}
	cfg = DefaultConfig()
	cfg.Server = ServerGeneric
	cfg.Mode = ModeREST
	cfg.Mix = map[string]int{TransportWS: 1}
	cfg.Users = []string{"1"}
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "finesse") {
		t.Errorf("rest mode on a generic server: %v", err)
	}
}
