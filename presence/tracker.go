package presence

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/finesse-notify/finesse-notify/server"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Config configures a Tracker. Zero fields take the defaults noted.
type Config struct {
	// PingInterval is the silence before a ping, and how long each ping
	// waits for traffic (default 10 s).
	PingInterval time.Duration
	// PingRetries is how many unanswered pings make a session dead
	// (default 2).
	PingRetries int
	// Logger receives structured logs (default: none).
	Logger *zap.Logger
	// Registerer receives the metrics (default: none registered).
	Registerer prometheus.Registerer
}

const (
	defaultPingInterval = 10 * time.Second
	defaultPingRetries  = 2
)

func (c *Config) setDefaults() {
	if c.PingInterval <= 0 {
		c.PingInterval = defaultPingInterval
	}
	if c.PingRetries <= 0 {
		c.PingRetries = defaultPingRetries
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
}

// EventKind says whether a resource became available or unavailable.
type EventKind int

const (
	// Available: the resource sent available presence for the first time,
	// or changed its priority.
	Available EventKind = iota + 1
	// Unavailable: an available resource sent unavailable presence or its
	// session ended.
	Unavailable
)

func (k EventKind) String() string {
	switch k {
	case Available:
		return "available"
	case Unavailable:
		return "unavailable"
	}
	return "unknown"
}

// Reasons carried by Unavailable events. A session that ended for another
// cause has ReasonSessionEnded followed by the server's reason.
const (
	ReasonPresenceUnavailable = "presence unavailable"
	ReasonKeepaliveTimeout    = "keepalive timeout"
	ReasonSessionEnded        = "session ended: "
)

// Event tells a listener that a resource's availability changed.
type Event struct {
	Kind EventKind
	// JID is the resource's full JID.
	JID server.JID
	// Priority is the resource's priority: the new one for Available, the
	// last one it had for Unavailable.
	Priority int
	// Reason says why an Unavailable happened: ReasonPresenceUnavailable,
	// ReasonKeepaliveTimeout, or ReasonSessionEnded + the server's reason.
	Reason string
	// UserAvailable is whether the user (bare JID) still has at least one
	// available resource after this event.
	UserAvailable bool
}

// Listener learns of presence events. PresenceEvent is called without any
// lock held and must not block; see the package documentation for the
// delivery order.
type Listener interface {
	PresenceEvent(Event)
}

// Resource is one available resource of a user.
type Resource struct {
	JID      server.JID
	Priority int
	// Since is when the resource became available (a priority change
	// does not move it).
	Since time.Time
}

// Tracker records who is available and watches every bound session's
// liveness. It implements server.Observer.
type Tracker struct {
	srv     *server.Server
	cfg     Config
	log     *zap.Logger
	metrics *metrics

	mu        sync.Mutex
	listeners []Listener
	sessions  map[*server.Session]*tracked // bound sessions that have not ended
	users     map[string]*user             // bare JID → available resources and undelivered events
	closed    bool                         // Close was called: no more keepalive timers
}

// tracked is what the tracker knows of one bound session.
type tracked struct {
	bare  string
	watch *watch    // nil if bound after Tracker.Close
	res   *Resource // non-nil while the session is available
}

// user is one bare JID's state. It exists while the user has an available
// resource or events still to deliver.
type user struct {
	bare       string
	resources  []*server.Session // available sessions, in the order they became available
	pending    []Event           // applied, not yet delivered
	delivering bool              // a goroutine is delivering pending
}

var _ server.Observer = (*Tracker)(nil)

// New makes a tracker and registers it as an observer of srv.
func New(srv *server.Server, cfg Config) *Tracker {
	cfg.setDefaults()
	t := &Tracker{
		srv:      srv,
		cfg:      cfg,
		log:      cfg.Logger,
		metrics:  newMetrics(cfg.Registerer),
		sessions: make(map[*server.Session]*tracked),
		users:    make(map[string]*user),
	}
	srv.AddObserver(t)
	return t
}

// AddListener registers l for every event from now on.
func (t *Tracker) AddListener(l Listener) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.listeners = append(t.listeners, l)
}

// Resources returns the available resources of the user bare (any
// resource part is ignored): highest priority first, then the longest
// available.
func (t *Tracker) Resources(bare server.JID) []Resource {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.users[bare.Bare().String()]
	if u == nil {
		return nil
	}
	out := make([]Resource, 0, len(u.resources))
	for _, s := range u.resources {
		out = append(out, *t.sessions[s].res)
	}
	slices.SortStableFunc(out, func(a, b Resource) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		return a.Since.Compare(b.Since)
	})
	return out
}

// IsAvailable reports whether the user bare has an available resource.
func (t *Tracker) IsAvailable(bare server.JID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.users[bare.Bare().String()]
	return u != nil && len(u.resources) > 0
}

// Close stops every keepalive timer. Sessions bound afterwards are not
// watched; presence is still tracked.
func (t *Tracker) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for _, tr := range t.sessions {
		if tr.watch != nil {
			tr.watch.stop() // kept: SessionEnded still asks it whether it closed the session
		}
	}
}

// SessionBound starts watching s.
func (t *Tracker) SessionBound(s *server.Session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// The session may have ended between binding and this call, in which
	// case SessionEnded has come and gone: do not start what nothing would
	// stop. If it has not ended yet, its SessionEnded comes after this.
	if s.Closed() {
		return
	}
	if _, ok := t.sessions[s]; ok {
		return
	}
	tr := &tracked{bare: s.JID().Bare().String()}
	if !t.closed {
		tr.watch = t.watch(s)
	}
	t.sessions[s] = tr
}

// PresenceChanged records available presence (with its priority) or
// unavailable presence.
func (t *Tracker) PresenceChanged(s *server.Session, p server.Presence) {
	t.mu.Lock()
	tr, ok := t.sessions[s]
	if !ok {
		// Ended already (its SessionEnded raced ahead) or never bound.
		t.mu.Unlock()
		return
	}
	var u *user
	if p.Available {
		u = t.setAvailable(s, tr, p.Priority)
	} else {
		u = t.setUnavailable(s, tr, ReasonPresenceUnavailable)
	}
	t.mu.Unlock()
	t.deliver(u)
}

// SessionEnded stops watching s and makes its resource unavailable.
func (t *Tracker) SessionEnded(s *server.Session, reason string) {
	t.mu.Lock()
	tr, ok := t.sessions[s]
	if !ok {
		t.mu.Unlock()
		return
	}
	delete(t.sessions, s)
	timedOut := false
	if tr.watch != nil {
		timedOut = tr.watch.endedByTimeout(reason)
		tr.watch.stop()
	}
	if timedOut {
		reason = ReasonKeepaliveTimeout
	} else {
		reason = ReasonSessionEnded + reason
	}
	u := t.setUnavailable(s, tr, reason)
	t.mu.Unlock()
	if timedOut {
		t.metrics.timedOut.Inc()
		// The session's logger already carries its jid.
		s.Logger().Info("keepalive timeout: session closed",
			zap.Duration("silent_for", time.Since(s.LastActivity())))
	}
	t.deliver(u)
}

// setAvailable applies available presence and queues its event. It
// returns the user whose events are to be delivered, or nil. t.mu is held.
func (t *Tracker) setAvailable(s *server.Session, tr *tracked, priority int) *user {
	u := t.users[tr.bare]
	if tr.res != nil {
		if tr.res.Priority == priority {
			return nil
		}
		tr.res.Priority = priority
	} else {
		tr.res = &Resource{JID: s.JID(), Priority: priority, Since: time.Now()}
		if u == nil {
			u = &user{bare: tr.bare}
			t.users[tr.bare] = u
		}
		u.resources = append(u.resources, s)
		t.metrics.available.Inc()
	}
	u.pending = append(u.pending, Event{Kind: Available, JID: tr.res.JID, Priority: priority, UserAvailable: true})
	return u
}

// setUnavailable makes the session's resource unavailable, if it was, and
// queues the event. It returns the user whose events are to be delivered,
// or nil. t.mu is held.
func (t *Tracker) setUnavailable(s *server.Session, tr *tracked, reason string) *user {
	if tr.res == nil {
		return nil
	}
	res := tr.res
	tr.res = nil
	u := t.users[tr.bare]
	if i := slices.Index(u.resources, s); i >= 0 {
		u.resources = slices.Delete(u.resources, i, i+1)
	}
	t.metrics.available.Dec()
	u.pending = append(u.pending, Event{
		Kind:          Unavailable,
		JID:           res.JID,
		Priority:      res.Priority,
		Reason:        reason,
		UserAvailable: len(u.resources) > 0,
	})
	return u
}

// deliver hands u's pending events to the listeners unless another
// goroutine is already doing so, in which case that one will deliver them
// after the event in hand. Either way each user's events go out one at a
// time in the order they were applied.
func (t *Tracker) deliver(u *user) {
	if u == nil {
		return
	}
	t.mu.Lock()
	if u.delivering {
		t.mu.Unlock()
		return
	}
	u.delivering = true
	for len(u.pending) > 0 {
		ev := u.pending[0]
		u.pending[0] = Event{}
		u.pending = u.pending[1:]
		listeners := t.listeners
		t.mu.Unlock()
		for _, l := range listeners {
			l.PresenceEvent(ev)
		}
		t.mu.Lock()
	}
	u.delivering = false
	u.pending = nil
	if len(u.resources) == 0 {
		// Nothing left to remember. A user that came back meanwhile has
		// this same entry, with resources, so it is kept.
		if t.users[u.bare] == u {
			delete(t.users, u.bare)
		}
	}
	t.mu.Unlock()
}
