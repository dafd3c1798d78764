package iproc

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

// Agents is the agent state the service reads and follows.
type Agents interface {
	// State returns a user's voice state and its reason code (nil when
	// none).
	State(userID string) (state agent.State, reason *directory.ReasonCode, ok bool)
	// Subscribe registers f for every voice state change of every user, in
	// order per user. f must not block and must not call back into Agents.
	Subscribe(f func(StateChange))
}

// StateChange is one voice state change of a user.
type StateChange struct {
	UserID string
	// TeamID is the user's team as the agent registry sees it. The service
	// takes team membership from the newest directory it was given
	// instead, so that a stream and its events always agree.
	TeamID int
	State  agent.State
	Reason *directory.ReasonCode
	At     time.Time
}

// CallJourneys is the routing history of tasks (the task router keeps it).
type CallJourneys interface {
	CallJourney(callID string) ([]JourneyStep, bool)
}

// JourneyStep is one device a call or task touched, and for how long.
type JourneyStep struct {
	CallID, Device, DeviceType, Description string
	Duration                                time.Duration
}

// Descriptor is the service descriptor every Interaction Processor gives:
// who made it and the CTI behind it.
type Descriptor struct {
	Vendor         string `json:"vendor"`
	Version        string `json:"version"`
	CTIVendor      string `json:"cti-vendor"`
	CTIVersion     string `json:"cti-version"`
	InstanceDomain string `json:"instance-domain"`
}

// Config configures a Service. Zero fields take the defaults noted.
type Config struct {
	// Directory authenticates agents and names teams and members
	// (required). DirectoryChanged replaces it.
	Directory *directory.Directory
	// Agents is the agents' voice state. nil: every member is not_ready
	// and no status changes are reported.
	Agents Agents
	// Journeys is the routing history. nil: every call id is unknown.
	Journeys   CallJourneys
	Descriptor Descriptor

	// MaxFrameBytes bounds an incoming message (default 64 KiB). A larger
	// one is read and dropped, and answered with frame_too_large; one over
	// four times the bound closes the connection (code 1009) unread.
	MaxFrameBytes int
	// SendQueue bounds the messages queued for one connection (default
	// 256). A connection that lets it overflow is closed (code 1008),
	// logged and counted.
	SendQueue int
	// MaxConnections bounds the open connections (default 10,000); the
	// handshake of one more is refused with 503.
	MaxConnections int
	// MaxStreams bounds the team status streams of one connection
	// (default 16).
	MaxStreams int
	// WriteTimeout bounds each write to a client (default 10 s), and the
	// wait for the client's close frame once the service sent its own.
	WriteTimeout time.Duration
	// PingInterval is how often a ping is sent (default 30 s; negative
	// disables). A connection silent for two intervals (no message, no
	// pong) is closed.
	PingInterval time.Duration

	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default: none).
	Logger *zap.Logger
	// Registerer receives the service's metrics (nil: not registered).
	Registerer prometheus.Registerer
	// CheckOrigin accepts or refuses a handshake by its Origin header. nil
	// accepts any origin: integrations run from pages of other origins.
	CheckOrigin func(*http.Request) bool
}

// Defaults.
const (
	DefaultMaxFrameBytes  = 64 << 10
	DefaultSendQueue      = 256
	DefaultMaxConnections = 10000
	DefaultMaxStreams     = 16
	DefaultWriteTimeout   = 10 * time.Second
	DefaultPingInterval   = 30 * time.Second
)

func (c *Config) setDefaults() {
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if c.SendQueue <= 0 {
		c.SendQueue = DefaultSendQueue
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = DefaultMaxStreams
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.CheckOrigin == nil {
		c.CheckOrigin = func(*http.Request) bool { return true }
	}
}
