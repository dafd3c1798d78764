package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Accounts is the directory as the XMPP core sees it.
type Accounts interface {
	// Authenticate checks a SASL PLAIN authentication identity and password.
	// The identity is matched case-insensitively; the canonical localpart
	// (lower case) is returned when they match.
	Authenticate(username, password string) (localpart string, ok bool)
	// Exists reports whether localpart is a user of this domain.
	Exists(localpart string) bool
}

// Presence is a session's broadcast presence.
type Presence struct {
	Available bool
	Priority  int
	// Initial: this is the session's first available presence since it
	// bound (or since it last went unavailable).
	Initial bool
}

// Observer learns what happens to sessions. Calls are made synchronously on
// the goroutine that caused them and must not block.
type Observer interface {
	// SessionBound: the session has bound its resource and is routable.
	SessionBound(s *Session)
	// PresenceChanged: the session sent broadcast presence.
	PresenceChanged(s *Session, p Presence)
	// SessionEnded: a bound session has left the router. reason says why.
	SessionEnded(s *Session, reason string)
}

// Component serves a domain other than the server's own, such as
// pubsub.<domain>. HandleStanza gets every stanza addressed to it, with the
// sender's full JID already stamped in `from`.
type Component interface {
	HandleStanza(from *Session, stanza *etree.Element)
}

// Config is the core's configuration. Zero fields take the defaults noted.
type Config struct {
	// Domain is the XMPP domain served (required).
	Domain string
	// Limits bound each inbound element (default 256 KiB, depth 64).
	Limits Limits
	// SendQueueStanzas and SendQueueBytes bound each session's outbound
	// queue (defaults 1000 stanzas, 4 MiB).
	SendQueueStanzas int
	SendQueueBytes   int
	// RequireEncryption refuses SASL PLAIN on unencrypted streams. By
	// default PLAIN is allowed there, as on Finesse's insecure port.
	RequireEncryption bool
	// MaxAuthFailures ends a stream after this many failed SASL attempts
	// (default 3).
	MaxAuthFailures int
	// MaxResourcesPerUser bounds the sessions one account may bind at once
	// (default 16); beyond it bind gets resource-constraint.
	MaxResourcesPerUser int
	// NegotiationTimeout is how long a connection may take from opening
	// to binding a resource (default 30 s).
	NegotiationTimeout time.Duration
	// Accounts checks passwords (required).
	Accounts Accounts
	// Logger receives structured logs (default: none).
	Logger *zap.Logger
	// Registerer receives the metrics (default: none registered).
	Registerer prometheus.Registerer
}

func (c *Config) setDefaults() error {
	if c.Domain == "" {
		return errors.New("server: no domain configured")
	}
	if c.Accounts == nil {
		return errors.New("server: no accounts configured")
	}
	if c.Limits.MaxBytes <= 0 {
		c.Limits.MaxBytes = 256 << 10
	}
	if c.Limits.MaxDepth <= 0 {
		c.Limits.MaxDepth = 64
	}
	if c.SendQueueStanzas <= 0 {
		c.SendQueueStanzas = 1000
	}
	if c.SendQueueBytes <= 0 {
		c.SendQueueBytes = 4 << 20
	}
	if c.MaxAuthFailures <= 0 {
		c.MaxAuthFailures = 3
	}
	if c.MaxResourcesPerUser <= 0 {
		c.MaxResourcesPerUser = 16
	}
	if c.NegotiationTimeout <= 0 {
		c.NegotiationTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}

// Server is the XMPP core: it creates sessions for transports, routes
// stanzas between them and answers what is addressed to the domain.
type Server struct {
	cfg     Config
	domain  string
	log     *zap.Logger
	metrics *Metrics
	router  *router

	mu         sync.Mutex
	observers  []Observer
	components map[string]componentEntry
	iqHandlers map[string]IQHandler
	sessions   map[*Session]struct{}
	closing    bool
	drained    chan struct{} // closed when closing and no session is left
}

type componentEntry struct {
	c    Component
	name string
}

// New makes a server from cfg.
func New(cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	domain, err := ParseJID(cfg.Domain)
	if err != nil || domain.Local != "" || domain.Resource != "" {
		return nil, fmt.Errorf("server: bad domain %q", cfg.Domain)
	}
	srv := &Server{
		cfg:        cfg,
		domain:     domain.Domain,
		log:        cfg.Logger,
		metrics:    newMetrics(cfg.Registerer),
		router:     newRouter(),
		components: make(map[string]componentEntry),
		iqHandlers: make(map[string]IQHandler),
		sessions:   make(map[*Session]struct{}),
	}
	srv.registerBuiltinIQs()
	return srv, nil
}

// Domain is the XMPP domain served, in lower case.
func (srv *Server) Domain() string { return srv.domain }

// Limits are the bounds on inbound elements, for transports.
func (srv *Server) Limits() Limits { return srv.cfg.Limits }

// Logger is the server's logger, for transports.
func (srv *Server) Logger() *zap.Logger { return srv.log }

// AddObserver registers o. Call it before serving.
func (srv *Server) AddObserver(o Observer) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.observers = append(srv.observers, o)
}

func (srv *Server) observerList() []Observer {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.observers
}

// AddComponent makes c serve domain (listed in the server's disco#items
// under name). Call it before serving.
func (srv *Server) AddComponent(domain, name string, c Component) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.components[strings.ToLower(domain)] = componentEntry{c: c, name: name}
}

func (srv *Server) component(domain string) (Component, bool) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	e, ok := srv.components[domain]
	return e.c, ok
}

// NewSession starts a session on transport t. The transport then feeds it.
func (srv *Server) NewSession(t Transport) *Session {
	s := newSession(srv, t)
	srv.mu.Lock()
	if srv.closing {
		srv.mu.Unlock()
		s.Close(&StreamError{Condition: CondSystemShutdown})
		return s
	}
	srv.sessions[s] = struct{}{}
	srv.mu.Unlock()
	srv.metrics.sessions.WithLabelValues(t.Kind()).Inc()
	return s
}

func (srv *Server) forget(s *Session) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if _, ok := srv.sessions[s]; !ok {
		return
	}
	delete(srv.sessions, s)
	srv.metrics.sessions.WithLabelValues(s.t.Kind()).Dec()
	if srv.closing && len(srv.sessions) == 0 && srv.drained != nil {
		close(srv.drained)
		srv.drained = nil
	}
}

// Shutdown ends every session with a system-shutdown stream error and
// waits until all have ended or ctx is done. New sessions are refused.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.closing = true
	all := make([]*Session, 0, len(srv.sessions))
	for s := range srv.sessions {
		all = append(all, s)
	}
	var drained chan struct{}
	if len(srv.sessions) > 0 {
		drained = make(chan struct{})
		srv.drained = drained
	}
	srv.mu.Unlock()
	for _, s := range all {
		s.Close(&StreamError{Condition: CondSystemShutdown, Text: "the server is shutting down"})
	}
	if drained != nil {
		select {
		case <-drained:
		case <-ctx.Done():
			return fmt.Errorf("server shutdown: %w", ctx.Err())
		}
	}
	// The sessions have ended; wait until their transports have written
	// the goodbye, since the process may exit as soon as this returns.
	for _, s := range all {
		select {
		case <-s.finished:
		case <-ctx.Done():
			return fmt.Errorf("server shutdown: waiting for transports to flush: %w", ctx.Err())
		}
	}
	return nil
}

// Sessions returns a snapshot of the live sessions, bound or not, for
// rare operations over all of them (an administrator's broadcast); the
// delivery path never uses it.
func (srv *Server) Sessions() []*Session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	out := make([]*Session, 0, len(srv.sessions))
	for s := range srv.sessions {
		out = append(out, s)
	}
	return out
}

// SessionCount is the number of live sessions, bound or not.
func (srv *Server) SessionCount() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.sessions)
}

// Resources returns the bound sessions of the bare JID's user.
func (srv *Server) Resources(bare JID) []*Session { return srv.router.resources(bare.Bare()) }

// SessionFor returns the session bound to the full JID, or nil.
func (srv *Server) SessionFor(full JID) *Session { return srv.router.lookup(full) }

// ResourcesOf is Resources keyed by the bare JID's string form, for
// delivery paths that keep addresses as strings and must not allocate.
// The slice is shared and must not be modified.
func (srv *Server) ResourcesOf(bare string) []*Session { return srv.router.resourcesOf(bare) }

// SessionOf returns the session bound to bare/resource, or nil, without
// allocating.
func (srv *Server) SessionOf(bare, resource string) *Session {
	for _, s := range srv.router.resourcesOf(bare) {
		if s.jid.Resource == resource {
			return s
		}
	}
	return nil
}

func (srv *Server) isLocalUser(j JID) bool {
	return j.Domain == srv.domain && j.Local != "" && srv.cfg.Accounts.Exists(j.Local)
}

// randomID returns n random bytes in hex.
func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// NewID returns a random identifier for stanzas and streams.
func NewID() string { return randomID(8) }

// discoItems lists the components for the domain's disco#items.
func (srv *Server) discoItems() []componentEntryWithDomain {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	out := make([]componentEntryWithDomain, 0, len(srv.components))
	for d, e := range srv.components {
		out = append(out, componentEntryWithDomain{domain: d, name: e.name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].domain < out[j].domain })
	return out
}

type componentEntryWithDomain struct{ domain, name string }
