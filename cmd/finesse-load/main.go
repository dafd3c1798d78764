package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/finesse-notify/finesse-notify/loadtest"
)

// Exit codes.
const (
	exitOK     = 0 // every threshold met, nothing lost
	exitFailed = 1 // something lost, a threshold missed, sessions failed
	exitUsage  = 2 // bad flags, or the run could not start
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command: flags, the load run, the JSON line on stdout,
// progress and diagnostics on stderr, and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "finesse-load: %v\n", err)
		return exitUsage
	}
	if limit, err := loadtest.RaiseFileLimit(); err != nil {
		fmt.Fprintf(stderr, "finesse-load: %v\n", err)
	} else if need := uint64(cfg.Sessions() + cfg.Mix[loadtest.TransportBOSH] + 64); limit > 0 && need > limit {
		// A socket per session, a second one per BOSH session.
		fmt.Fprintf(stderr, "finesse-load: warning: the open file limit %d may be too low for %d sessions\n", limit, cfg.Sessions())
	}
	if !opts.quiet {
		cfg.Progress = stderr
	}
	if opts.cpuProfile != "" {
		f, err := os.Create(opts.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "finesse-load: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "finesse-load: %v\n", err)
			return exitUsage
		}
		defer pprof.StopCPUProfile()
	}
	sum, err := loadtest.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "finesse-load: %v\n", err)
		return exitUsage
	}
	line, err := json.Marshal(sum)
	if err != nil {
		fmt.Fprintf(stderr, "finesse-load: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s\n", line)
	if !sum.OK {
		for _, f := range sum.Failures {
			fmt.Fprintf(stderr, "finesse-load: FAILED: %s\n", f)
		}
		return exitFailed
	}
	return exitOK
}

// options are the flags about the tool itself rather than the run.
type options struct {
	quiet      bool   // no progress lines
	cpuProfile string // where to write the tool's CPU profile
}

// parseFlags turns the command line into a configuration.
func parseFlags(args []string, stderr io.Writer) (loadtest.Config, options, error) {
	var opts options
	cfg := loadtest.DefaultConfig()
	fs := flag.NewFlagSet("finesse-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: finesse-load [flags]\n\n"+
			"Opens many XMPP sessions, drives events through the server, and prints one JSON summary line.\n"+
			"Exit status: 0 all good, 1 something lost or a threshold missed, 2 bad flags or setup.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	mode := fs.String("mode", string(cfg.Mode), "own, shared, idle, rest, task or publish")
	transport := fs.String("transport", "ws", "ws, bosh, tcp, or mix (with --mix)")
	mix := fs.String("mix", "", "sessions per transport for --transport mix, e.g. ws=10000,bosh=2000")
	users := fs.String("users", "3001-13000", "user ids: FROM-TO, or a comma list of ids and ranges")
	sessions := fs.Int("sessions", 0, "number of sessions (default: the number of --users)")
	rateSteps := fs.String("rate-steps", "", "publish rates to step through, e.g. 100,200,400 (stops at the first unclean step)")
	insecure := fs.Bool("insecure", false, "do not verify the server's TLS certificate")
	caFile := fs.String("ca-file", "", "PEM file of certificates to trust (e.g. finesse-notify's /tls/certificate.pem)")
	fs.BoolVar(&opts.quiet, "quiet", false, "no progress lines on stderr")
	fs.StringVar(&opts.cpuProfile, "cpu-profile", "", "write the tool's own CPU profile to this file (to tell its cost from the server's)")

	fs.StringVar(&cfg.Server, "server", cfg.Server, "finesse (finesse-notify) or generic (any XMPP server with XEP-0060)")
	fs.StringVar(&cfg.WSURL, "ws-url", cfg.WSURL, "WebSocket URL (ws:// or wss://)")
	fs.StringVar(&cfg.BOSHURL, "bosh-url", cfg.BOSHURL, "BOSH URL (http:// or https://)")
	fs.StringVar(&cfg.TCPAddr, "tcp-addr", cfg.TCPAddr, "XMPP over TCP: host:port (STARTTLS if offered) or tls://host:port (direct TLS)")
	fs.BoolVar(&cfg.NoStartTLS, "no-starttls", false, "do not use STARTTLS over TCP even when offered")
	fs.StringVar(&cfg.Domain, "domain", cfg.Domain, "XMPP domain")
	fs.StringVar(&cfg.PubSubJID, "pubsub", "", "pubsub service JID (default pubsub.<domain>)")
	fs.StringVar(&cfg.UserPrefix, "user-prefix", "", "JID localpart prefix: user id N logs in as <prefix>N")
	fs.StringVar(&cfg.Password, "password", cfg.Password, "every user's password")
	fs.StringVar(&cfg.ResourcePrefix, "resource-prefix", cfg.ResourcePrefix, "resource of session i: <prefix>i")
	fs.Float64Var(&cfg.Ramp, "ramp", 0, "sessions started per second (0: as fast as --concurrency allows)")
	fs.IntVar(&cfg.Concurrency, "concurrency", cfg.Concurrency, "sessions logging in at once, at most")
	fs.DurationVar(&cfg.LoginTimeout, "login-timeout", cfg.LoginTimeout, "bound on one session's login")
	fs.StringVar(&cfg.Node, "node", "", "shared mode: the node everyone subscribes to; publish mode: one node for every session")
	fs.StringVar(&cfg.NodePrefix, "node-prefix", cfg.NodePrefix, "own mode: user N's node is <prefix><localpart>")
	fs.StringVar(&cfg.AdminJID, "admin-jid", "", "own and shared modes: the publisher's JID (default admin@<domain>)")
	fs.StringVar(&cfg.AdminPassword, "admin-password", cfg.AdminPassword, "the administrator's password (XMPP and REST)")
	fs.StringVar(&cfg.AdminTransport, "admin-transport", "", "the publisher's transport (default: tcp, ws or bosh, the first in use)")
	fs.StringVar(&cfg.RESTURL, "rest-url", cfg.RESTURL, "finesse-notify's REST base URL (rest, task and publish modes)")
	fs.StringVar(&cfg.AdminUser, "admin-user", cfg.AdminUser, "the REST administrator (publish mode)")
	fs.StringVar(&cfg.Extension, "extension", "", "rest mode: the extension agents sign in with (default: the user id)")
	fs.IntVar(&cfg.HTTPConcurrency, "http-concurrency", cfg.HTTPConcurrency, "REST and publish requests in flight, at most")
	fs.IntVar(&cfg.TaskFeed, "task-feed", cfg.TaskFeed, "task mode: the CCP feed id")
	fs.StringVar(&cfg.TaskScriptSelector, "task-script-selector", cfg.TaskScriptSelector, "task mode: the tasks' script selector")
	fs.IntVar(&cfg.TaskMRD, "task-mrd", cfg.TaskMRD, "task mode: the media routing domain agents sign in to")
	fs.IntVar(&cfg.TaskMaxDialogs, "task-max-dialogs", cfg.TaskMaxDialogs, "task mode: each agent's maxDialogLimit")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "events per second")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long each step publishes")
	fs.IntVar(&cfg.Events, "events", 0, "how many events each step publishes (instead of --duration)")
	fs.DurationVar(&cfg.Drain, "drain", cfg.Drain, "how long to wait after the last publish for what is still due")
	fs.DurationVar(&cfg.Hold, "hold", cfg.Hold, "idle mode: how long the sessions are held")
	fs.IntVar(&cfg.PayloadBytes, "payload-bytes", 0, "pad each event to about this many bytes")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "the server's process id, for its resident memory")
	fs.StringVar(&cfg.MetricsURL, "metrics-url", "", "the server's Prometheus metrics, for its resident memory")
	fs.DurationVar(&cfg.MaxP99, "max-p99", 0, "fail when p99 latency is above this (rate steps: stop there)")
	fs.IntVar(&cfg.MaxLoss, "max-loss", 0, "fail when more events than this are lost")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "hard bound on the whole run")
	fs.IntVar(&cfg.MaxStanzaBytes, "max-stanza-bytes", cfg.MaxStanzaBytes, "largest stanza accepted from the server")
	fs.DurationVar(&cfg.BOSHWait, "bosh-wait", cfg.BOSHWait, "BOSH 'wait' asked for")

	if err := fs.Parse(args); err != nil {
		return cfg, opts, err
	}
	if fs.NArg() > 0 {
		return cfg, opts, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	cfg.Mode = loadtest.Mode(*mode)
	var err error
	if cfg.Users, err = loadtest.ParseUsers(*users); err != nil {
		return cfg, opts, err
	}
	n := *sessions
	if n <= 0 {
		n = len(cfg.Users)
	}
	switch *transport {
	case "mix":
		if *mix == "" {
			return cfg, opts, errors.New("--transport mix needs --mix, e.g. ws=10000,bosh=2000")
		}
		if cfg.Mix, err = loadtest.ParseMix(*mix); err != nil {
			return cfg, opts, err
		}
		if *sessions > 0 && *sessions != cfg.Sessions() {
			return cfg, opts, fmt.Errorf("--sessions %d does not match --mix %s (%d)", *sessions, *mix, cfg.Sessions())
		}
	case loadtest.TransportWS, loadtest.TransportBOSH, loadtest.TransportTCP:
		if *mix != "" {
			return cfg, opts, errors.New("--mix goes with --transport mix")
		}
		cfg.Mix = map[string]int{*transport: n}
	default:
		return cfg, opts, fmt.Errorf("--transport %q: want ws, bosh, tcp or mix", *transport)
	}
	if *rateSteps != "" {
		if cfg.RateSteps, err = loadtest.ParseRates(*rateSteps); err != nil {
			return cfg, opts, err
		}
	}
	if cfg.AdminJID == "" {
		cfg.AdminJID = "admin@" + cfg.Domain
	}
	if cfg.TLS, err = tlsConfig(*insecure, *caFile); err != nil {
		return cfg, opts, err
	}
	return cfg, opts, nil
}

// tlsConfig is the client TLS configuration of the flags.
func tlsConfig(insecure bool, caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
