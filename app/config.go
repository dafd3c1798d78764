package app

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/ccp"
	"github.com/finesse-notify/finesse-notify/finesse/task"
	"github.com/finesse-notify/finesse-notify/iproc"
)

// Config is everything the service needs to start. DefaultConfig gives the
// production defaults; an empty address turns its listener off.
type Config struct {
	// Domain is the XMPP domain (user JIDs are <id>@<Domain>).
	Domain string

	// NotifyAddr serves BOSH and WebSocket over HTTPS (Finesse's 7443).
	NotifyAddr string
	// NotifyPlainAddr serves them over plain HTTP (Finesse's 7071), with
	// /tls/certificate.pem and /metrics.
	NotifyPlainAddr string
	// RESTAddr serves HTTPS (Finesse's 8445): BOSH, WebSocket, /metrics and,
	// later, the REST API.
	RESTAddr string
	// XMPPAddr serves XMPP over TCP with STARTTLS offered (5222).
	XMPPAddr string
	// XMPPSAddr serves XMPP over TCP with direct TLS (5223).
	XMPPSAddr string
	// PprofAddr serves Go's profiler over plain HTTP; "" (the default)
	// turns it off. Bind it to loopback: profiles reveal internals.
	PprofAddr string

	// TLSCert and TLSKey are PEM files. Both empty: a self-signed
	// certificate is made at start.
	TLSCert, TLSKey string

	// DirectoryFile is a YAML directory; "" uses the embedded default.
	DirectoryFile string

	// PingInterval is the silence before the server pings a client, and how
	// long each ping waits; PingRetries unanswered pings end the session.
	PingInterval time.Duration
	PingRetries  int
	// WSPingInterval is the WebSocket ping frame interval (negative: none).
	WSPingInterval time.Duration

	// BOSH (XEP-0124): the longest a request is held (below 60 s), the
	// silence that ends a session, the longest pause, requests held at
	// once, and the largest request body (0: the stanza limit + 16 KiB).
	BOSHMaxWait      time.Duration
	BOSHInactivity   time.Duration
	BOSHMaxPause     time.Duration
	BOSHMaxHold      int
	BOSHMaxBodyBytes int

	// CORSOrigin is BOSH's Access-Control-Allow-Origin; unless it is "*",
	// browsers' WebSocket handshakes must come from it (or the same origin).
	CORSOrigin string

	// MaxStanzaBytes bounds each inbound stanza.
	MaxStanzaBytes int
	// SendQueueStanzas and SendQueueBytes bound each session's outbound
	// queue; a client that lets it fill is disconnected.
	SendQueueStanzas int
	SendQueueBytes   int
	// RequireEncryption refuses SASL PLAIN on unencrypted streams (5222
	// before STARTTLS, 7071).
	RequireEncryption bool
	// MaxAuthFailures ends a stream after this many failed logins.
	MaxAuthFailures int
	// MaxResourcesPerUser bounds one account's concurrent sessions.
	MaxResourcesPerUser int
	// NegotiationTimeout bounds the time from connecting to binding.
	NegotiationTimeout time.Duration
	// PubSubMaxItems is how many of its last items each pubsub node keeps.
	PubSubMaxItems int
	// PubSubMaxSubscriptions bounds one user's pubsub subscriptions (the
	// automatic ones included); beyond it a subscribe gets policy-violation.
	PubSubMaxSubscriptions int
	// PubSubMaxPayloadBytes bounds a published item's payload, over XMPP
	// and from the publish endpoint (where escaping makes it larger than
	// the body).
	PubSubMaxPayloadBytes int
	// LogoutGrace is how long after a user's last XMPP resource went
	// unavailable the agent is logged out (reason code 255), unless it
	// comes back first.
	LogoutGrace time.Duration
	// RESTMaxAuthFailures consecutive failed REST logins lock the user id
	// for RESTLockout.
	RESTMaxAuthFailures int
	RESTLockout         time.Duration
	// RESTMaxBodyBytes bounds a REST request body.
	RESTMaxBodyBytes int
	// TaskOfferTimeout is how long an offered task waits for ACCEPT before
	// it is requeued and the agent made NOT_READY in its MRD;
	// TaskMaxQueued bounds the tasks waiting; TaskMaxHistory the finished
	// tasks whose routing history (call journey) is kept.
	TaskOfferTimeout time.Duration
	TaskMaxQueued    int
	TaskMaxHistory   int
	// CCPMaxContacts bounds the Task API's contacts; CCPContactRetention
	// is how long a handled or discarded one is kept; CCPPollExpiry is how
	// long a task's poll URL lives unpolled (CCP's 5 minutes).
	CCPMaxContacts      int
	CCPContactRetention time.Duration
	CCPPollExpiry       time.Duration
	// IPROCMaxFrameBytes bounds a message to the Interaction Processor
	// service; IPROCMaxConnections bounds its open connections.
	IPROCMaxFrameBytes  int
	IPROCMaxConnections int
	// ShutdownTimeout bounds Shutdown.
	ShutdownTimeout time.Duration

	// Logger receives structured logs (nil: none).
	Logger *zap.Logger

	// Setup, when set, runs after the core (server, presence, directory,
	// metrics registry) is built and before any listener opens: the place
	// to add components, observers and REST handlers (App.HandleREST). An
	// error stops Start.
	Setup func(*App) error
}

// Defaults of DefaultConfig, named for the flag help.
const (
	DefaultDomain              = "localhost"
	DefaultNotifyAddr          = ":7443"
	DefaultNotifyPlainAddr     = ":7071"
	DefaultRESTAddr            = ":8445"
	DefaultXMPPAddr            = ":5222"
	DefaultXMPPSAddr           = ":5223"
	DefaultPingInterval        = 10 * time.Second
	DefaultPingRetries         = 2
	DefaultWSPingInterval      = 30 * time.Second
	DefaultBOSHMaxWait         = 30 * time.Second
	DefaultBOSHInactivity      = 60 * time.Second
	DefaultBOSHMaxPause        = 120 * time.Second
	DefaultBOSHMaxHold         = 2
	DefaultCORSOrigin          = "*"
	DefaultMaxStanzaBytes      = 256 << 10
	DefaultSendQueueStanzas    = 1000
	DefaultSendQueueBytes      = 4 << 20
	DefaultMaxAuthFailures     = 3
	DefaultMaxResourcesPerUser = 16
	DefaultNegotiationTimeout  = 30 * time.Second
	DefaultShutdownTimeout     = 10 * time.Second
	DefaultPubSubMaxItems      = 1
	DefaultPubSubMaxSubs       = 1000
	DefaultPubSubMaxPayload    = 256 << 10
	DefaultLogoutGrace         = 60 * time.Second
	DefaultRESTMaxAuthFailures = 5
	DefaultRESTLockout         = 5 * time.Minute
	DefaultRESTMaxBodyBytes    = 64 << 10
)

// DefaultConfig is the configuration of a plain `finesse-notify` start.
func DefaultConfig() Config {
	return Config{
		Domain:                 DefaultDomain,
		NotifyAddr:             DefaultNotifyAddr,
		NotifyPlainAddr:        DefaultNotifyPlainAddr,
		RESTAddr:               DefaultRESTAddr,
		XMPPAddr:               DefaultXMPPAddr,
		XMPPSAddr:              DefaultXMPPSAddr,
		PingInterval:           DefaultPingInterval,
		PingRetries:            DefaultPingRetries,
		WSPingInterval:         DefaultWSPingInterval,
		BOSHMaxWait:            DefaultBOSHMaxWait,
		BOSHInactivity:         DefaultBOSHInactivity,
		BOSHMaxPause:           DefaultBOSHMaxPause,
		BOSHMaxHold:            DefaultBOSHMaxHold,
		CORSOrigin:             DefaultCORSOrigin,
		MaxStanzaBytes:         DefaultMaxStanzaBytes,
		SendQueueStanzas:       DefaultSendQueueStanzas,
		SendQueueBytes:         DefaultSendQueueBytes,
		MaxAuthFailures:        DefaultMaxAuthFailures,
		MaxResourcesPerUser:    DefaultMaxResourcesPerUser,
		NegotiationTimeout:     DefaultNegotiationTimeout,
		ShutdownTimeout:        DefaultShutdownTimeout,
		PubSubMaxItems:         DefaultPubSubMaxItems,
		PubSubMaxSubscriptions: DefaultPubSubMaxSubs,
		PubSubMaxPayloadBytes:  DefaultPubSubMaxPayload,
		LogoutGrace:            DefaultLogoutGrace,
		RESTMaxAuthFailures:    DefaultRESTMaxAuthFailures,
		RESTLockout:            DefaultRESTLockout,
		RESTMaxBodyBytes:       DefaultRESTMaxBodyBytes,
		TaskOfferTimeout:       task.DefaultOfferTimeout,
		TaskMaxQueued:          task.DefaultMaxQueued,
		TaskMaxHistory:         task.DefaultMaxHistory,
		CCPMaxContacts:         ccp.DefaultMaxContacts,
		CCPContactRetention:    ccp.DefaultRetention,
		CCPPollExpiry:          ccp.DefaultPollExpiry,
		IPROCMaxFrameBytes:     iproc.DefaultMaxFrameBytes,
		IPROCMaxConnections:    iproc.DefaultMaxConnections,
	}
}

// validate refuses what cannot work. Zero numbers mean "the package
// default" where the packages have one, so only negatives and the limits
// the protocols impose are refused here.
func (c *Config) validate() error {
	var errs []error
	if c.Domain == "" {
		errs = append(errs, errors.New("no domain"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("a TLS certificate and key go together: give both or neither"))
	}
	if c.BOSHMaxWait >= 60*time.Second {
		errs = append(errs, fmt.Errorf("BOSH max wait %s must be below 60s", c.BOSHMaxWait))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ping interval", c.PingInterval},
		{"BOSH max wait", c.BOSHMaxWait},
		{"BOSH inactivity", c.BOSHInactivity},
		{"BOSH max pause", c.BOSHMaxPause},
		{"negotiation timeout", c.NegotiationTimeout},
		{"shutdown timeout", c.ShutdownTimeout},
		{"logout grace", c.LogoutGrace},
		{"REST lockout", c.RESTLockout},
		{"task offer timeout", c.TaskOfferTimeout},
		{"CCP contact retention", c.CCPContactRetention},
		{"CCP poll expiry", c.CCPPollExpiry},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %s is negative", d.name, d.v))
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"ping retries", c.PingRetries},
		{"BOSH max hold", c.BOSHMaxHold},
		{"BOSH max body bytes", c.BOSHMaxBodyBytes},
		{"max stanza bytes", c.MaxStanzaBytes},
		{"send queue stanzas", c.SendQueueStanzas},
		{"send queue bytes", c.SendQueueBytes},
		{"max auth failures", c.MaxAuthFailures},
		{"max resources per user", c.MaxResourcesPerUser},
		{"pubsub max items", c.PubSubMaxItems},
		{"pubsub max subscriptions", c.PubSubMaxSubscriptions},
		{"pubsub max payload bytes", c.PubSubMaxPayloadBytes},
		{"REST max auth failures", c.RESTMaxAuthFailures},
		{"REST max body bytes", c.RESTMaxBodyBytes},
		{"task max queued", c.TaskMaxQueued},
		{"task max history", c.TaskMaxHistory},
		{"CCP max contacts", c.CCPMaxContacts},
		{"interaction processor max frame bytes", c.IPROCMaxFrameBytes},
		{"interaction processor max connections", c.IPROCMaxConnections},
	} {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("%s %d is negative", n.name, n.v))
		}
	}
	if c.MaxStanzaBytes > 0 && c.BOSHMaxBodyBytes > 0 && c.BOSHMaxBodyBytes < c.MaxStanzaBytes {
		errs = append(errs, fmt.Errorf("BOSH max body bytes %d is below max stanza bytes %d: a full-size stanza could not arrive over BOSH", c.BOSHMaxBodyBytes, c.MaxStanzaBytes))
	}
	return errors.Join(errs...)
}
