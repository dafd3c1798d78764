package iproc

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

// Service is the Interaction Processor service: its WebSocket endpoint,
// the sessions prepared on its connections and their team status streams.
type Service struct {
	cfg     Config
	log     *zap.Logger
	metrics *metrics
	upgrade upgrader

	// Rendered once: the descriptor event sent at connection start, the
	// descriptor and capabilities answers' data.
	descriptorEvent []byte
	capabilities    capabilities

	// eventHeads are the team status events' opening bytes, up to the
	// agentId value, by event name; eventCounters their metrics.
	eventHeads    map[string][]byte
	eventRendered map[string]prometheus.Counter
	eventQueued   map[string]prometheus.Counter

	open     atomic.Int64  // connections counted against MaxConnections
	nextConn atomic.Uint64 // connection ids, for the logs

	// snapshotMu serialises what reads agent states to build a team's
	// member list (a stream's begin, a directory change), so that their
	// holds never overlap. State changes never take it.
	snapshotMu sync.Mutex

	// mu guards everything below, the connections' sessions and streams.
	// It is never held while calling Agents: the agent registry calls
	// onStateChange with its own locks held.
	mu       sync.Mutex
	dir      *directory.Directory
	closed   bool
	conns    map[*conn]struct{}
	sessions map[string]*session          // by lower-case agent id
	teams    map[int]map[*stream]struct{} // streams by the team they show
	handlers sync.WaitGroup               // ServeHTTP calls with a connection
}

// session is a prepared session: an agent's, on one connection.
type session struct {
	id      string // the resource id
	agentID string // as the directory spells it
	key     string // lower-case agent id
	conn    *conn
	created time.Time
}

// capabilities are getCapabilities' key/value pairs.
type capabilities struct {
	ResourceTypes   []string `json:"resource-types"`
	Reports         []string `json:"reports"`
	SessionOverride bool     `json:"session-override"`
	CallControl     bool     `json:"call-control"`
	Multimedia      bool     `json:"multimedia"`
	MaxFrameBytes   int      `json:"max-frame-bytes"`
	MaxTeamStreams  int      `json:"max-team-status-streams"`
}

// New returns a service. cfg.Directory is required.
func New(cfg Config) *Service {
	if cfg.Directory == nil {
		panic("iproc: Config.Directory is required")
	}
	cfg.setDefaults()
	s := &Service{
		cfg:           cfg,
		log:           cfg.Logger.Named("iproc"),
		metrics:       newMetrics(cfg.Registerer),
		upgrade:       newGorillaUpgrader(cfg.CheckOrigin),
		eventHeads:    make(map[string][]byte),
		eventRendered: make(map[string]prometheus.Counter),
		eventQueued:   make(map[string]prometheus.Counter),
		dir:           cfg.Directory,
		conns:         make(map[*conn]struct{}),
		sessions:      make(map[string]*session),
		teams:         make(map[int]map[*stream]struct{}),
	}
	s.descriptorEvent = encode(event{Name: evServiceDescriptor, Data: cfg.Descriptor})
	s.capabilities = capabilities{
		ResourceTypes:   []string{uccxReportingResource},
		Reports:         []string{cmdCallJourney, "report.teamstatus"},
		SessionOverride: true,
		MaxFrameBytes:   cfg.MaxFrameBytes,
		MaxTeamStreams:  cfg.MaxStreams,
	}
	for _, name := range []string{evTeamAdded, evTeamChanged, evTeamRemoved, evMemberAdded, evMemberRemoved, evMemberStatusChanged} {
		// The name is a constant of plain ASCII: no escaping needed.
		s.eventHeads[name] = []byte(`{"name":"` + name + `","data":{"agentId":`)
		s.eventRendered[name] = s.metrics.eventsRendered.WithLabelValues(name)
		s.eventQueued[name] = s.metrics.eventsQueued.WithLabelValues(name)
	}
	if cfg.Agents != nil {
		cfg.Agents.Subscribe(s.onStateChange)
	}
	return s
}

// directory returns the newest directory.
func (s *Service) directory() *directory.Directory {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dir
}

// ServeHTTP is the WebSocket endpoint: it completes the handshake and
// serves the connection until it ends.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writePlain(w, http.StatusMethodNotAllowed, "the Interaction Processor service speaks JSON over WebSocket: use a WebSocket GET")
			return
		}
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		writePlain(w, http.StatusUpgradeRequired, "the Interaction Processor service speaks JSON over WebSocket: upgrade to WebSocket")
		return
	}
	if n := s.open.Add(1); n > int64(s.cfg.MaxConnections) {
		s.open.Add(-1)
		s.metrics.refused.Inc()
		s.log.Warn("connection refused: limit reached", zap.String("remote", r.RemoteAddr), zap.Int("max_connections", s.cfg.MaxConnections))
		w.Header().Set("Retry-After", "5")
		writePlain(w, http.StatusServiceUnavailable, fmt.Sprintf("the Interaction Processor service has reached its limit of %d connections", s.cfg.MaxConnections))
		return
	}
	defer s.open.Add(-1)
	if s.isClosed() {
		writePlain(w, http.StatusServiceUnavailable, "the Interaction Processor service is shutting down")
		return
	}
	ws, err := s.upgrade(w, r)
	if err != nil {
		s.log.Debug("handshake failed", zap.String("remote", r.RemoteAddr), zap.Error(err))
		return
	}
	c := newConn(s, ws, r.RemoteAddr)
	if !s.register(c) {
		_ = ws.WriteClose(closeGoingAway, "service shutting down", time.Now().Add(s.cfg.WriteTimeout))
		ws.Close()
		return
	}
	defer s.handlers.Done()
	c.serve()
}

func (s *Service) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// register adds a new connection, unless the service is closed.
func (s *Service) register(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.handlers.Add(1)
	s.metrics.connections.Inc()
	return true
}

// unregister forgets a connection that has ended: its session and its
// streams.
func (s *Service) unregister(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.session != nil {
		if s.sessions[c.session.key] == c.session {
			delete(s.sessions, c.session.key)
		}
		c.session = nil
	}
	for _, st := range c.streams {
		s.removeStreamLocked(st)
	}
	delete(s.conns, c)
	s.metrics.connections.Dec()
}

// Close ends every connection with a close frame (1001, going away) after
// what is queued for it, and refuses new ones. It returns when every
// connection has ended: at most about twice WriteTimeout.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeAfterQueue(closeGoingAway, "service shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.handlers.Wait()
		close(done)
	}()
	timer := time.NewTimer(2 * s.cfg.WriteTimeout)
	defer timer.Stop()
	select {
	case <-done:
		return
	case <-timer.C:
	}
	for _, c := range conns {
		c.ws.Close()
	}
	<-done
}

// newResourceID returns a session resource id.
func newResourceID() string { return "session-" + strings.ToLower(rand.Text()) }

// writePlain writes a plain-text HTTP error a person reading a browser
// console understands.
func writePlain(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, text+"\n")
}

// headerHasToken reports whether a comma-separated header (any of its
// lines) lists token, ignoring case as HTTP does for Upgrade.
func headerHasToken(h http.Header, name, token string) bool {
	for _, line := range h.Values(name) {
		for _, v := range strings.Split(line, ",") {
			if strings.EqualFold(strings.TrimSpace(v), token) {
				return true
			}
		}
	}
	return false
}
