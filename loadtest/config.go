package loadtest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Server kinds.
const (
	// ServerFinesse is finesse-notify: sessions wait for finesse@'s
	// presence, as the Finesse desktop does, and the REST and publish
	// endpoint modes are available.
	ServerFinesse = "finesse"
	// ServerGeneric is any XMPP server with XEP-0060 pubsub.
	ServerGeneric = "generic"
)

// Mode is what a run does with its sessions.
type Mode string

// The modes.
const (
	// ModeOwn: each user subscribes to its own node, NodePrefix+localpart;
	// an administrator publishes to the nodes in turn (XEP-0060).
	ModeOwn Mode = "own"
	// ModeShared: every session subscribes to Node; an administrator
	// publishes to it, and every session expects every event.
	ModeShared Mode = "shared"
	// ModeIdle: no events; sessions are held for Hold, answering the
	// server's keepalive pings.
	ModeIdle Mode = "idle"
	// ModeREST (finesse-notify): the default subscriptions; events are
	// agent state changes over the Finesse REST API, whose requestId
	// carries the token into the user's Update.
	ModeREST Mode = "rest"
	// ModeTask (finesse-notify): events are CCP task submissions, offered
	// to whichever agent the router picks.
	ModeTask Mode = "task"
	// ModePublish (finesse-notify): events are Updates posted to the
	// administrator's publish endpoint, on each user's node, or on Node
	// for every session when Node is set.
	ModePublish Mode = "publish"
)

// Transport kinds.
const (
	TransportWS   = "ws"
	TransportBOSH = "bosh"
	TransportTCP  = "tcp"
)

// Config is one load run. DefaultConfig fills what can be defaulted.
type Config struct {
	// Server is ServerFinesse or ServerGeneric.
	Server string
	Mode   Mode
	// Mix is how many sessions go over each transport (TransportWS,
	// TransportBOSH, TransportTCP); sessions are interleaved in proportion.
	Mix map[string]int

	WSURL   string // ws:// or wss://
	BOSHURL string // http:// or https://
	// TCPAddr is host:port (STARTTLS when offered, unless NoStartTLS),
	// tcp://host:port, or tls://host:port for direct TLS.
	TCPAddr    string
	NoStartTLS bool
	// TLS is the client TLS configuration (nil: the system roots).
	TLS *tls.Config

	Domain    string
	PubSubJID string // default pubsub.<Domain>

	// Users are the user ids; session i is Users[i % len(Users)]. The JID
	// localpart is UserPrefix + id, lower-cased.
	Users      []string
	UserPrefix string
	Password   string
	// ResourcePrefix + the session number is each session's resource.
	ResourcePrefix string

	// Ramp is sessions started per second (0: as fast as Concurrency
	// allows); Concurrency bounds sessions logging in at once.
	Ramp        float64
	Concurrency int
	// LoginTimeout bounds one session from dialling to established.
	LoginTimeout time.Duration

	// Node is the shared node (ModeShared; ModePublish to one node).
	Node string
	// NodePrefix + localpart is a user's node in ModeOwn.
	NodePrefix string

	// AdminJID and AdminPassword: the XEP-0060 publisher (ModeOwn,
	// ModeShared), which creates the nodes when they do not exist.
	AdminJID      string
	AdminPassword string
	// AdminTransport is the admin session's transport (default: the
	// first of TCP, WebSocket, BOSH that the run uses).
	AdminTransport string

	// RESTURL is finesse-notify's REST listener (https://host:8445);
	// AdminUser and AdminPassword its administrator (publish endpoint).
	// ModeREST uses each user's own id and Password.
	RESTURL   string
	AdminUser string
	// Extension is what ModeREST signs agents in with; "" means the id.
	Extension string
	// HTTPConcurrency bounds REST and publish requests in flight.
	HTTPConcurrency int
	// TaskFeed is the CCP feed ModeTask submits to; TaskScriptSelector
	// routes the tasks; TaskMRD is the media routing domain agents sign
	// in to.
	TaskFeed           int
	TaskScriptSelector string
	TaskMRD            int
	TaskMaxDialogs     int

	// Rate is events per second; RateSteps, when set, runs one step per
	// rate, stopping at the first step that loses anything or whose p99
	// is over MaxP99.
	Rate      float64
	RateSteps []float64
	// Duration or Events (when > 0) bound each step's publishing.
	Duration time.Duration
	Events   int
	// Drain is how long, after the last publish of a step, the run waits
	// for the deliveries still due.
	Drain time.Duration
	// Hold is how long ModeIdle holds the sessions.
	Hold time.Duration
	// PayloadBytes pads each event to about this size.
	PayloadBytes int

	// ServerPID or MetricsURL: where the server's resident memory is read.
	ServerPID  int
	MetricsURL string

	// MaxP99 (0: none) and MaxLoss: the thresholds of Summary.OK.
	MaxP99  time.Duration
	MaxLoss int

	// Timeout bounds the whole run.
	Timeout time.Duration
	// MaxStanzaBytes bounds one stanza read from the server.
	MaxStanzaBytes int
	// BOSHWait is the 'wait' asked for at BOSH session creation.
	BOSHWait time.Duration

	// Progress receives a line every second (nil: none).
	Progress io.Writer
}

// DefaultConfig is a finesse-notify run on its plain listeners.
func DefaultConfig() Config {
	return Config{
		Server:             ServerFinesse,
		Mode:               ModeIdle,
		WSURL:              "ws://localhost:7071/ws",
		BOSHURL:            "http://localhost:7071/http-bind",
		TCPAddr:            "localhost:5222",
		Domain:             "localhost",
		Password:           "password",
		ResourcePrefix:     "load",
		Concurrency:        200,
		LoginTimeout:       30 * time.Second,
		NodePrefix:         "/finesse/api/User/",
		Node:               "",
		AdminPassword:      "password",
		RESTURL:            "https://localhost:8445",
		AdminUser:          "admin",
		HTTPConcurrency:    32,
		TaskFeed:           100000,
		TaskScriptSelector: "CumulusTask",
		TaskMRD:            5001,
		TaskMaxDialogs:     5,
		Rate:               100,
		Duration:           10 * time.Second,
		Drain:              5 * time.Second,
		Hold:               60 * time.Second,
		Timeout:            10 * time.Minute,
		MaxStanzaBytes:     1 << 20,
		BOSHWait:           60 * time.Second,
	}
}

// ParseUsers reads "FROM-TO" (numeric ids, inclusive) or a comma list of
// ids and ranges.
func ParseUsers(s string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		from, to, isRange := strings.Cut(part, "-")
		if !isRange {
			out = append(out, part)
			continue
		}
		a, err1 := strconv.Atoi(from)
		b, err2 := strconv.Atoi(to)
		if err1 != nil || err2 != nil || a < 0 || b < a {
			return nil, fmt.Errorf("users %q: want FROM-TO with FROM <= TO", part)
		}
		if b-a >= 1_000_000 {
			return nil, fmt.Errorf("users %q: more than a million", part)
		}
		for i := a; i <= b; i++ {
			out = append(out, strconv.Itoa(i))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no users")
	}
	return out, nil
}

// ParseMix reads "ws=10000,bosh=2000".
func ParseMix(s string) (map[string]int, error) {
	mix := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("mix %q: want transport=count", part)
		}
		if !validTransport(k) {
			return nil, fmt.Errorf("mix %q: unknown transport %q (ws, bosh, tcp)", part, k)
		}
		mix[k] += n
	}
	return mix, nil
}

// ParseRates reads "100,200,400".
func ParseRates(s string) ([]float64, error) {
	var out []float64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		r, err := strconv.ParseFloat(part, 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("rate %q: want a positive number", part)
		}
		out = append(out, r)
	}
	return out, nil
}

func validTransport(t string) bool {
	return t == TransportWS || t == TransportBOSH || t == TransportTCP
}

// Sessions is the total number of sessions of the mix.
func (c *Config) Sessions() int {
	n := 0
	for _, v := range c.Mix {
		n += v
	}
	return n
}

// TransportName names the mix: "ws", or "mix" for several.
func (c *Config) TransportName() string {
	var used []string
	for k, v := range c.Mix {
		if v > 0 {
			used = append(used, k)
		}
	}
	sort.Strings(used)
	if len(used) == 1 {
		return used[0]
	}
	return "mix(" + strings.Join(used, "+") + ")"
}

func (c *Config) validate() error {
	var errs []error
	if c.Server != ServerFinesse && c.Server != ServerGeneric {
		errs = append(errs, fmt.Errorf("server %q: want finesse or generic", c.Server))
	}
	switch c.Mode {
	case ModeOwn, ModeShared, ModeIdle:
	case ModeREST, ModeTask, ModePublish:
		if c.Server != ServerFinesse {
			errs = append(errs, fmt.Errorf("mode %s needs --server finesse", c.Mode))
		}
		if _, err := url.Parse(c.RESTURL); err != nil || c.RESTURL == "" {
			errs = append(errs, fmt.Errorf("mode %s needs a REST URL", c.Mode))
		}
	default:
		errs = append(errs, fmt.Errorf("mode %q: want own, shared, idle, rest, task or publish", c.Mode))
	}
	if c.Mode == ModeShared && c.Node == "" {
		errs = append(errs, errors.New("shared mode needs a node"))
	}
	if (c.Mode == ModeOwn || c.Mode == ModeShared) && c.AdminJID == "" {
		errs = append(errs, errors.New("own and shared modes need an admin JID to publish"))
	}
	if c.Sessions() <= 0 {
		errs = append(errs, errors.New("no sessions"))
	}
	for k, v := range c.Mix {
		if !validTransport(k) {
			errs = append(errs, fmt.Errorf("unknown transport %q", k))
		}
		if v > 0 {
			switch k {
			case TransportWS:
				if !strings.HasPrefix(c.WSURL, "ws://") && !strings.HasPrefix(c.WSURL, "wss://") {
					errs = append(errs, fmt.Errorf("websocket URL %q: want ws:// or wss://", c.WSURL))
				}
			case TransportBOSH:
				if !strings.HasPrefix(c.BOSHURL, "http://") && !strings.HasPrefix(c.BOSHURL, "https://") {
					errs = append(errs, fmt.Errorf("BOSH URL %q: want http:// or https://", c.BOSHURL))
				}
			case TransportTCP:
				if c.TCPAddr == "" {
					errs = append(errs, errors.New("no TCP address"))
				}
			}
		}
	}
	if len(c.Users) == 0 {
		errs = append(errs, errors.New("no users"))
	}
	if c.Domain == "" {
		errs = append(errs, errors.New("no domain"))
	}
	if c.Rate <= 0 && len(c.RateSteps) == 0 && c.Mode != ModeIdle {
		errs = append(errs, errors.New("a rate above 0 is needed"))
	}
	if c.Duration <= 0 && c.Events <= 0 && c.Mode != ModeIdle {
		errs = append(errs, errors.New("a duration or an event count is needed"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("a timeout is needed"))
	}
	if c.Concurrency <= 0 {
		errs = append(errs, errors.New("concurrency must be positive"))
	}
	if c.LoginTimeout <= 0 {
		errs = append(errs, errors.New("login timeout must be positive"))
	}
	if c.HTTPConcurrency <= 0 {
		c.HTTPConcurrency = 1
	}
	if c.MaxStanzaBytes <= 0 {
		c.MaxStanzaBytes = 1 << 20
	}
	if c.BOSHWait <= 0 {
		c.BOSHWait = 60 * time.Second
	}
	if c.PubSubJID == "" {
		c.PubSubJID = "pubsub." + c.Domain
	}
	if c.ResourcePrefix == "" {
		c.ResourcePrefix = "load"
	}
	return errors.Join(errs...)
}

// localpart is the JID localpart of user id.
func (c *Config) localpart(id string) string { return strings.ToLower(c.UserPrefix + id) }
