package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/app"
)

func envFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaults(t *testing.T) {
	o, err := parseOptions(nil, envFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := app.DefaultConfig()
	c := o.app
	if c.Domain != "localhost" || c.NotifyAddr != ":7443" || c.NotifyPlainAddr != ":7071" || c.RESTAddr != ":8445" ||
		c.XMPPAddr != ":5222" || c.XMPPSAddr != ":5223" {
		t.Errorf("addresses: %+v", c)
	}
	if c.PingInterval != 10*time.Second || c.PingRetries != 2 || c.WSPingInterval != 30*time.Second ||
		c.BOSHMaxWait != 30*time.Second || c.BOSHInactivity != 60*time.Second || c.MaxStanzaBytes != 262144 ||
		c.CORSOrigin != "*" || c.RequireEncryption || c.BOSHMaxHold != want.BOSHMaxHold || c.ShutdownTimeout != want.ShutdownTimeout {
		t.Errorf("defaults: %+v", c)
	}
	if o.logLevel != "info" || o.logFormat != "json" {
		t.Errorf("log: %s %s", o.logLevel, o.logFormat)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, `
domain: from-file
ping-interval: 3s
ping-retries: 4
max-stanza-bytes: 65536
require-encryption: yes
xmpp-addr:
cors-origin: https://file.example
`)
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, o *options)
	}{
		{
			name: "file over default",
			args: []string{"--config", file},
			check: func(t *testing.T, o *options) {
				c := o.app
				if c.Domain != "from-file" || c.PingInterval != 3*time.Second || c.PingRetries != 4 ||
					c.MaxStanzaBytes != 65536 || !c.RequireEncryption || c.XMPPAddr != "" || c.CORSOrigin != "https://file.example" {
					t.Errorf("%+v", c)
				}
				if c.XMPPSAddr != ":5223" {
					t.Errorf("a key not in the file changed: xmpps-addr %q", c.XMPPSAddr)
				}
			},
		},
		{
			name: "env over file",
			args: []string{"--config", file},
			env:  map[string]string{"FINESSE_NOTIFY_DOMAIN": "from-env", "FINESSE_NOTIFY_PING_RETRIES": "5", "FINESSE_NOTIFY_XMPP_ADDR": ":15222"},
			check: func(t *testing.T, o *options) {
				if o.app.Domain != "from-env" || o.app.PingRetries != 5 || o.app.XMPPAddr != ":15222" || o.app.PingInterval != 3*time.Second {
					t.Errorf("%+v", o.app)
				}
			},
		},
		{
			name: "flag over env and file",
			args: []string{"--config", file, "--domain", "from-flag", "--ping-retries=6", "--require-encryption=false"},
			env:  map[string]string{"FINESSE_NOTIFY_DOMAIN": "from-env", "FINESSE_NOTIFY_PING_RETRIES": "5"},
			check: func(t *testing.T, o *options) {
				if o.app.Domain != "from-flag" || o.app.PingRetries != 6 || o.app.RequireEncryption {
					t.Errorf("%+v", o.app)
				}
			},
		},
		{
			name: "config file named by the environment",
			env:  map[string]string{"FINESSE_NOTIFY_CONFIG": file},
			check: func(t *testing.T, o *options) {
				if o.app.Domain != "from-file" {
					t.Errorf("domain %q", o.app.Domain)
				}
			},
		},
		{
			name: "empty env turns a listener off",
			env:  map[string]string{"FINESSE_NOTIFY_REST_ADDR": ""},
			check: func(t *testing.T, o *options) {
				if o.app.RESTAddr != "" {
					t.Errorf("rest-addr %q", o.app.RESTAddr)
				}
			},
		},
		{
			name: "bool flag without a value",
			args: []string{"--require-encryption"},
			check: func(t *testing.T, o *options) {
				if !o.app.RequireEncryption {
					t.Error("require-encryption not set")
				}
			},
		},
		{
			name: "zero ws ping interval turns pings off",
			args: []string{"--ws-ping-interval", "0"},
			check: func(t *testing.T, o *options) {
				if o.app.WSPingInterval >= 0 {
					t.Errorf("ws ping interval %s, want negative (off)", o.app.WSPingInterval)
				}
			},
		},
		{
			name: "every flag reaches the app config",
			args: []string{"--notify-addr=a:1", "--notify-plain-addr=b:2", "--rest-addr=c:3", "--xmpp-addr=d:4", "--xmpps-addr=e:5",
				"--tls-cert=c.pem", "--tls-key=k.pem", "--directory=d.yaml", "--ws-ping-interval=7s",
				"--bosh-max-wait=20s", "--bosh-inactivity=40s", "--bosh-max-pause=50s", "--bosh-max-hold=3", "--bosh-max-body-bytes=99999",
				"--send-queue-stanzas=10", "--send-queue-bytes=20000", "--max-auth-failures=4", "--max-resources-per-user=5",
				"--negotiation-timeout=6s", "--shutdown-timeout=8s", "--log-level=DEBUG", "--log-format=console",
				"--pubsub-max-items=3", "--pubsub-max-subscriptions=7", "--pubsub-max-payload-bytes=5000",
				"--logout-grace=9s", "--rest-max-auth-failures=6", "--rest-lockout=2m", "--rest-max-body-bytes=4096",
				"--pprof-addr=f:6", "--iproc-max-frame-bytes=2048", "--iproc-max-connections=11",
				"--task-offer-timeout=12s", "--task-max-queued=13", "--task-max-history=14",
				"--ccp-max-contacts=15", "--ccp-contact-retention=16s", "--ccp-poll-expiry=17s"},
			check: func(t *testing.T, o *options) {
				c := o.app
				want := app.Config{
					Domain: "localhost", NotifyAddr: "a:1", NotifyPlainAddr: "b:2", RESTAddr: "c:3", XMPPAddr: "d:4", XMPPSAddr: "e:5",
					TLSCert: "c.pem", TLSKey: "k.pem", DirectoryFile: "d.yaml", PingInterval: 10 * time.Second, PingRetries: 2,
					WSPingInterval: 7 * time.Second, BOSHMaxWait: 20 * time.Second, BOSHInactivity: 40 * time.Second,
					BOSHMaxPause: 50 * time.Second, BOSHMaxHold: 3, BOSHMaxBodyBytes: 99999, CORSOrigin: "*",
					MaxStanzaBytes: 262144, SendQueueStanzas: 10, SendQueueBytes: 20000, MaxAuthFailures: 4,
					MaxResourcesPerUser: 5, NegotiationTimeout: 6 * time.Second, ShutdownTimeout: 8 * time.Second,
					PubSubMaxItems: 3, PubSubMaxSubscriptions: 7, PubSubMaxPayloadBytes: 5000,
					LogoutGrace: 9 * time.Second, RESTMaxAuthFailures: 6, RESTLockout: 2 * time.Minute, RESTMaxBodyBytes: 4096,
					PprofAddr: "f:6", IPROCMaxFrameBytes: 2048, IPROCMaxConnections: 11,
					TaskOfferTimeout: 12 * time.Second, TaskMaxQueued: 13, TaskMaxHistory: 14,
					CCPMaxContacts: 15, CCPContactRetention: 16 * time.Second, CCPPollExpiry: 17 * time.Second,
				}
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got  %+v\nwant %+v", c, want)
				}
				if o.logLevel != "debug" || o.logFormat != "console" {
					t.Errorf("log %s %s", o.logLevel, o.logFormat)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := parseOptions(c.args, envFrom(c.env))
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, o)
		})
	}
}

func TestBadConfiguration(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want []string // substrings of the error
	}{
		{"bad duration flag", []string{"--ping-interval", "10"}, nil, "", []string{"ping-interval", `"10"`}},
		{"bad duration env", nil, map[string]string{"FINESSE_NOTIFY_BOSH_INACTIVITY": "soon"}, "", []string{"FINESSE_NOTIFY_BOSH_INACTIVITY", `"soon"`}},
		{"bad duration file", nil, nil, "domain: x\nping-interval: ten\n", []string{"line 2", "ping-interval", `"ten"`}},
		{"duration too long", []string{"--bosh-max-wait=60s"}, nil, "", []string{"bosh-max-wait", "59s"}},
		{"unknown key", nil, nil, "domain: x\npingInterval: 10s\n", []string{"line 2", `unknown key "pingInterval"`}},
		{"unknown flag", []string{"--ping-intervall=1s"}, nil, "", []string{"ping-intervall"}},
		{"bad int", []string{"--ping-retries=two"}, nil, "", []string{"ping-retries", `"two"`}},
		{"int too small", nil, map[string]string{"FINESSE_NOTIFY_PING_RETRIES": "0"}, "", []string{"FINESSE_NOTIFY_PING_RETRIES", "least"}},
		{"bad bool", nil, nil, "require-encryption: maybe\n", []string{"require-encryption", `"maybe"`}},
		{"bad level", []string{"--log-level=loud"}, nil, "", []string{"log-level", "debug, info, warn, error"}},
		{"list value", nil, nil, "domain: [a, b]\n", []string{"line 1", "domain", "single value"}},
		{"not a mapping", nil, nil, "- domain\n", []string{"mapping"}},
		{"nested config", nil, nil, "config: other.yaml\n", []string{"cannot name another"}},
		{"bad yaml", nil, nil, "domain: [\n", []string{"config file"}},
		{"stray argument", []string{"serve"}, nil, "", []string{`"serve"`}},
		{"missing file", []string{"--config=/nonexistent/finesse.yaml"}, nil, "", []string{"/nonexistent/finesse.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.file != "" {
				args = append([]string{"--config", writeFile(t, c.file)}, args...)
			}
			_, err := parseOptions(args, envFrom(c.env))
			if err == nil {
				t.Fatalf("parsed, want an error mentioning %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestEmptyConfigFile(t *testing.T) {
	o, err := parseOptions([]string{"--config", writeFile(t, "# nothing set\n")}, envFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	if o.app.Domain != "localhost" {
		t.Errorf("domain %q", o.app.Domain)
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	if _, err := parseOptions([]string{"--help"}, envFrom(nil)); err != errHelp {
		t.Fatalf("--help: %v", err)
	}
	var b bytes.Buffer
	printHelp(&b)
	help := b.String()
	for _, s := range defaultOptions().settings() {
		for _, want := range []string{"--" + s.name + " ", envName(s.name)} {
			if !strings.Contains(help, want) {
				t.Errorf("help lacks %q", want)
			}
		}
	}
	for _, want := range []string{
		"(default 10s; env FINESSE_NOTIFY_PING_INTERVAL)",
		"(default 2; env FINESSE_NOTIFY_PING_RETRIES)",
		"(default :7443; env FINESSE_NOTIFY_NOTIFY_ADDR)",
		"(default 262144; env FINESSE_NOTIFY_MAX_STANZA_BYTES)",
		"(default 60s; env FINESSE_NOTIFY_BOSH_INACTIVITY)",
		"(default false; env FINESSE_NOTIFY_REQUIRE_ENCRYPTION)",
		"(default info; env FINESSE_NOTIFY_LOG_LEVEL)",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	for _, want := range []string{"--domain", "--notify-plain-addr", "--xmpps-addr", "--tls-cert", "--tls-key", "--directory",
		"--ws-ping-interval", "--bosh-max-wait", "--bosh-max-hold", "--bosh-max-pause", "--bosh-max-body-bytes", "--cors-origin",
		"--send-queue-stanzas", "--send-queue-bytes", "--max-auth-failures", "--max-resources-per-user",
		"--negotiation-timeout", "--shutdown-timeout", "--log-format", "--config",
		"--pubsub-max-items", "--pubsub-max-subscriptions", "--pubsub-max-payload-bytes",
		"--logout-grace", "--rest-max-auth-failures", "--rest-lockout", "--rest-max-body-bytes",
		"--pprof-addr", "--iproc-max-frame-bytes", "--iproc-max-connections", "--task-offer-timeout",
		"--task-max-queued", "--task-max-history", "--ccp-max-contacts", "--ccp-contact-retention", "--ccp-poll-expiry"} {
		if !strings.Contains(help, want+" ") {
			t.Errorf("help lacks the required flag %s", want)
		}
	}
}
