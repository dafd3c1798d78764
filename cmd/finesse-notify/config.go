package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	"go.yaml.in/yaml/v3"

	"github.com/finesse-notify/finesse-notify/app"
)

// envPrefix turns a flag name into its environment variable:
// --ping-interval is FINESSE_NOTIFY_PING_INTERVAL.
const envPrefix = "FINESSE_NOTIFY_"

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// errHelp is returned by parseOptions for --help; the help is then printed.
var errHelp = errors.New("help requested")

// options is the whole command-line configuration.
type options struct {
	configFile string
	app        app.Config
	wsPing     time.Duration // 0 turns WebSocket pings off
	logLevel   string
	logFormat  string
}

// setting is one configurable value: a flag, an environment variable and
// a key of the config file, all with the same name.
type setting struct {
	name  string
	kind  string // shown in the help: STRING, DURATION, INT, BOOL, FILE, ADDR
	value flag.Value
	usage string
}

func (o *options) settings() []setting {
	c := &o.app
	return []setting{
		{"config", "FILE", &stringValue{&o.configFile}, "YAML file of settings; its keys are these flag names"},
		{"domain", "STRING", &stringValue{&c.Domain}, "XMPP domain: users are <id>@<domain>"},
		{"notify-addr", "ADDR", &stringValue{&c.NotifyAddr}, "HTTPS listener for BOSH (/http-bind) and WebSocket (/ws), Finesse's 7443; empty: off"},
		{"notify-plain-addr", "ADDR", &stringValue{&c.NotifyPlainAddr}, "plain HTTP listener for BOSH, WebSocket, /tls/certificate.pem and /metrics, Finesse's 7071; empty: off"},
		{"rest-addr", "ADDR", &stringValue{&c.RESTAddr}, "HTTPS listener for BOSH, WebSocket, /metrics and the REST API, Finesse's 8445; empty: off"},
		{"xmpp-addr", "ADDR", &stringValue{&c.XMPPAddr}, "XMPP over TCP with STARTTLS offered; empty: off"},
		{"xmpps-addr", "ADDR", &stringValue{&c.XMPPSAddr}, "XMPP over TCP with direct TLS; empty: off"},
		{"pprof-addr", "ADDR", &stringValue{&c.PprofAddr}, "plain HTTP listener for Go's profiler (/debug/pprof/), e.g. 127.0.0.1:6060; empty (the default): off"},
		{"tls-cert", "FILE", &stringValue{&c.TLSCert}, "PEM certificate (chain) file; without it and --tls-key a self-signed certificate is made at start"},
		{"tls-key", "FILE", &stringValue{&c.TLSKey}, "PEM private key file for --tls-cert"},
		{"directory", "FILE", &stringValue{&c.DirectoryFile}, "YAML directory of users, teams, reason codes and media routing domains; empty: the embedded default"},
		{"ping-interval", "DURATION", &durationValue{p: &c.PingInterval, min: time.Millisecond}, "silence after which the server pings a client (XEP-0199); each ping waits as long"},
		{"ping-retries", "INT", &intValue{p: &c.PingRetries, min: 1}, "unanswered pings after which a silent session is dropped"},
		{"ws-ping-interval", "DURATION", &durationValue{p: &o.wsPing, min: 0}, "interval of WebSocket ping frames; 0: none"},
		{"bosh-max-wait", "DURATION", &durationValue{p: &c.BOSHMaxWait, min: time.Second, max: 59 * time.Second}, "longest a BOSH request is held (clamps the client's wait; below 60s)"},
		{"bosh-inactivity", "DURATION", &durationValue{p: &c.BOSHInactivity, min: time.Second}, "time without a BOSH request after which the session ends"},
		{"bosh-max-pause", "DURATION", &durationValue{p: &c.BOSHMaxPause, min: time.Second}, "longest pause a BOSH client may ask for"},
		{"bosh-max-hold", "INT", &intValue{p: &c.BOSHMaxHold, min: 1}, "most BOSH requests held at once (clamps the client's hold)"},
		{"bosh-max-body-bytes", "INT", &intValue{p: &c.BOSHMaxBodyBytes, min: 0}, "largest BOSH request body; 0: max-stanza-bytes + 16384"},
		{"cors-origin", "STRING", &stringValue{&c.CORSOrigin}, "BOSH Access-Control-Allow-Origin; unless *, also the only foreign origin allowed to open a WebSocket"},
		{"max-stanza-bytes", "INT", &intValue{p: &c.MaxStanzaBytes, min: 1024}, "largest stanza a client may send"},
		{"send-queue-stanzas", "INT", &intValue{p: &c.SendQueueStanzas, min: 1}, "stanzas queued for a client before it is disconnected as too slow"},
		{"send-queue-bytes", "INT", &intValue{p: &c.SendQueueBytes, min: 1024}, "bytes queued for a client before it is disconnected as too slow"},
		{"require-encryption", "BOOL", &boolValue{&c.RequireEncryption}, "refuse SASL PLAIN on unencrypted streams (5222 before STARTTLS, the plain HTTP listener)"},
		{"max-auth-failures", "INT", &intValue{p: &c.MaxAuthFailures, min: 1}, "failed logins after which a stream is closed"},
		{"max-resources-per-user", "INT", &intValue{p: &c.MaxResourcesPerUser, min: 1}, "sessions one user may have at once"},
		{"negotiation-timeout", "DURATION", &durationValue{p: &c.NegotiationTimeout, min: time.Second}, "time from connecting to binding a resource before the connection is closed"},
		{"pubsub-max-items", "INT", &intValue{p: &c.PubSubMaxItems, min: 1}, "last items each pubsub node keeps for items retrieval"},
		{"pubsub-max-subscriptions", "INT", &intValue{p: &c.PubSubMaxSubscriptions, min: 1}, "pubsub subscriptions one user may hold, the automatic ones included"},
		{"pubsub-max-payload-bytes", "INT", &intValue{p: &c.PubSubMaxPayloadBytes, min: 1024}, "largest payload of a published pubsub item, escaping included"},
		{"logout-grace", "DURATION", &durationValue{p: &c.LogoutGrace, min: time.Millisecond}, "time after a user's last XMPP session went unavailable before the agent is logged out (reason code 255); Finesse's is 60s"},
		{"rest-max-auth-failures", "INT", &intValue{p: &c.RESTMaxAuthFailures, min: 1}, "consecutive failed REST logins that lock the user id"},
		{"rest-lockout", "DURATION", &durationValue{p: &c.RESTLockout, min: time.Second}, "how long a user id stays locked after too many failed REST logins"},
		{"rest-max-body-bytes", "INT", &intValue{p: &c.RESTMaxBodyBytes, min: 1024}, "largest REST request body"},
		{"task-offer-timeout", "DURATION", &durationValue{p: &c.TaskOfferTimeout, min: time.Millisecond}, "time an offered task waits for ACCEPT before it is requeued and the agent made NOT_READY in its media routing domain"},
		{"task-max-queued", "INT", &intValue{p: &c.TaskMaxQueued, min: 1}, "tasks waiting for an agent, all queues together; beyond it a task is discarded"},
		{"task-max-history", "INT", &intValue{p: &c.TaskMaxHistory, min: 1}, "finished tasks whose routing history (call journey) is kept"},
		{"ccp-max-contacts", "INT", &intValue{p: &c.CCPMaxContacts, min: 1}, "Task API contacts kept; when full of open ones, submissions answer 503"},
		{"ccp-contact-retention", "DURATION", &durationValue{p: &c.CCPContactRetention, min: time.Second}, "time a handled or discarded contact stays readable"},
		{"ccp-poll-expiry", "DURATION", &durationValue{p: &c.CCPPollExpiry, min: time.Second}, "time a task's poll URL lives without being polled (CCP's is 5m)"},
		{"iproc-max-frame-bytes", "INT", &intValue{p: &c.IPROCMaxFrameBytes, min: 1024}, "largest message to the Interaction Processor service (/interaction-processor)"},
		{"iproc-max-connections", "INT", &intValue{p: &c.IPROCMaxConnections, min: 1}, "open connections the Interaction Processor service accepts"},
		{"shutdown-timeout", "DURATION", &durationValue{p: &c.ShutdownTimeout, min: time.Second}, "longest a clean shutdown may take"},
		{"log-level", "LEVEL", &enumValue{p: &o.logLevel, allowed: []string{"debug", "info", "warn", "error"}}, "log level: debug, info, warn or error"},
		{"log-format", "FORMAT", &enumValue{p: &o.logFormat, allowed: []string{"json", "console"}}, "log format: json or console"},
	}
}

func defaultOptions() *options {
	return &options{
		app:       app.DefaultConfig(),
		wsPing:    app.DefaultWSPingInterval,
		logLevel:  "info",
		logFormat: "json",
	}
}

// parseOptions reads the configuration. Precedence, highest first: the
// command line, the environment, the config file, the defaults.
func parseOptions(args []string, lookupEnv func(string) (string, bool)) (*options, error) {
	o := defaultOptions()
	settings := o.settings()
	fs := flag.NewFlagSet("finesse-notify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for _, s := range settings {
		fs.Var(s.value, s.name, s.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: every setting is a --flag", fs.Arg(0))
	}
	onCommandLine := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })

	fromEnv := make(map[string]string)
	for _, s := range settings {
		if v, ok := lookupEnv(envName(s.name)); ok && !onCommandLine[s.name] {
			fromEnv[s.name] = v
		}
	}
	if v, ok := fromEnv["config"]; ok {
		o.configFile = v
	}
	if o.configFile != "" {
		values, err := readConfigFile(o.configFile)
		if err != nil {
			return nil, err
		}
		byName := make(map[string]setting, len(settings))
		for _, s := range settings {
			byName[s.name] = s
		}
		for _, kv := range values {
			s, known := byName[kv.key]
			switch {
			case !known:
				return nil, fmt.Errorf("config file %s: line %d: unknown key %q (the keys are the flag names; see --help)", o.configFile, kv.line, kv.key)
			case kv.key == "config":
				return nil, fmt.Errorf("config file %s: line %d: a config file cannot name another", o.configFile, kv.line)
			}
			if onCommandLine[kv.key] {
				continue
			}
			if _, ok := fromEnv[kv.key]; ok {
				continue
			}
			if err := s.value.Set(kv.value); err != nil {
				return nil, fmt.Errorf("config file %s: line %d: %s: %w", o.configFile, kv.line, kv.key, err)
			}
		}
	}
	for _, s := range settings {
		v, ok := fromEnv[s.name]
		if !ok || s.name == "config" {
			continue
		}
		if err := s.value.Set(v); err != nil {
			return nil, fmt.Errorf("environment %s: %w", envName(s.name), err)
		}
	}
	if o.wsPing == 0 {
		o.app.WSPingInterval = -1 // the transport's "none"
	} else {
		o.app.WSPingInterval = o.wsPing
	}
	return o, nil
}

type configValue struct {
	key, value string
	line       int
}

// readConfigFile reads a flat YAML mapping of flag names to scalar values.
func readConfigFile(path string) ([]configValue, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file sets nothing
		}
		return nil, fmt.Errorf("config file %s: %s", path, strings.ReplaceAll(err.Error(), "\n  ", " "))
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config file %s: line %d: want a mapping of flag names to values", path, m.Line)
	}
	out := make([]configValue, 0, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if v.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("config file %s: line %d: %s: want a single value", path, v.Line, k.Value)
		}
		value := v.Value
		if v.Tag == "!!null" {
			value = "" // `tls-cert:` with nothing after it
		}
		out = append(out, configValue{key: k.Value, value: value, line: k.Line})
	}
	return out, nil
}

// printHelp lists every setting with its default and environment variable.
func printHelp(w io.Writer) {
	o := defaultOptions()
	fmt.Fprintf(w, `Usage: finesse-notify [flags]

finesse-notify stands in for the Cisco Finesse Notification Service: an XMPP
server for Finesse desktops and gadgets over BOSH, WebSocket and TCP.

Every setting is a flag, an environment variable, and a key of the YAML file
named by --config. Precedence: flag, then environment, then file, then the
default. Durations are written like 10s, 1m30s; an empty address turns that
listener off.

`)
	for _, s := range o.settings() {
		def := s.value.String()
		switch {
		case s.kind == "BOOL":
		case def == "":
			def = `""`
		}
		fmt.Fprintf(w, "  --%s %s\n", s.name, s.kind)
		fmt.Fprintf(w, "        %s\n", s.usage)
		fmt.Fprintf(w, "        (default %s; env %s)\n", def, envName(s.name))
	}
}

// The flag.Value types, with the bounds each setting needs, so that every
// source (flag, environment, file) gets the same checks and messages.

type stringValue struct{ p *string }

func (v *stringValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}
func (v *stringValue) Set(s string) error { *v.p = s; return nil }

type boolValue struct{ p *bool }

func (v *boolValue) String() string {
	if v.p == nil {
		return "false"
	}
	return strconv.FormatBool(*v.p)
}
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	// YAML 1.1 and docker-compose files often say yes/no or on/off.
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "on":
		s = "true"
	case "no", "off":
		s = "false"
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("invalid value %q: want true or false", s)
	}
	*v.p = b
	return nil
}

type intValue struct {
	p   *int
	min int
}

func (v *intValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("invalid value %q: want a whole number", s)
	}
	if n < v.min {
		return fmt.Errorf("invalid value %d: the least allowed is %d", n, v.min)
	}
	*v.p = n
	return nil
}

type durationValue struct {
	p        *time.Duration
	min, max time.Duration // max 0: none
}

func (v *durationValue) String() string {
	if v.p == nil {
		return "0s"
	}
	return formatDuration(*v.p)
}
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("invalid duration %q: write it like 10s or 1m30s", s)
	}
	if d < v.min {
		return fmt.Errorf("invalid duration %s: the least allowed is %s", s, formatDuration(v.min))
	}
	if v.max > 0 && d > v.max {
		return fmt.Errorf("invalid duration %s: the most allowed is %s", s, formatDuration(v.max))
	}
	*v.p = d
	return nil
}

// formatDuration writes whole seconds as "60s" rather than "1m0s".
func formatDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

type enumValue struct {
	p       *string
	allowed []string
}

func (v *enumValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}
func (v *enumValue) Set(s string) error {
	for _, a := range v.allowed {
		if strings.EqualFold(s, a) {
			*v.p = a
			return nil
		}
	}
	return fmt.Errorf("invalid value %q: want one of %s", s, strings.Join(v.allowed, ", "))
}

// zapLevel is the parsed --log-level.
func (o *options) zapLevel() zapcore.Level {
	l, err := zapcore.ParseLevel(o.logLevel)
	if err != nil {
		return zapcore.InfoLevel
	}
	return l
}
