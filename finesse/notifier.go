package finesse

import (
	"fmt"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/pubsub"
	"github.com/finesse-notify/finesse-notify/server"
)

// FinesseLocalpart is the Finesse service's own XMPP user. Cisco's desktop
// reports "connected" only once it has presence from this user
// (FINESSE-REFERENCE §1.3).
const FinesseLocalpart = "finesse"

// finesseResource is the resource of the finesse user's presence.
const finesseResource = "finesse"

// Notifier is what Finesse does around sessions and publishing: the
// automatic subscriptions of each user at its first login, the finesse@
// presence each session waits for, and the rendering of Updates into
// notifications. It is a server.Observer.
type Notifier struct {
	srv *server.Server
	ps  *pubsub.Service
	dir *directory.Directory
	log *zap.Logger

	// presenceHead is <presence … to=' up to the session's address.
	presenceHead []byte

	mu sync.Mutex
	// subscribed holds the bare JIDs whose automatic subscriptions have
	// been made since the process started. It is bounded by the
	// directory: only its users can bind.
	subscribed map[string]struct{}

	// serviceDown: an administrator made the Finesse service unavailable;
	// finesse@'s presence is then unavailable (FINESSE-REFERENCE §5.4).
	serviceDown atomic.Bool

	// renderBuffers hold rendered Updates between Render and escaping, so
	// a publish allocates only the payload it hands to pubsub.
	renderBuffers sync.Pool
}

var _ server.Observer = (*Notifier)(nil)

// NewNotifier makes a Notifier and registers it as an observer of srv.
func NewNotifier(srv *server.Server, ps *pubsub.Service, dir *directory.Directory, log *zap.Logger) *Notifier {
	if log == nil {
		log = zap.NewNop()
	}
	from := FinesseLocalpart + "@" + srv.Domain() + "/" + finesseResource
	n := &Notifier{
		srv:          srv,
		ps:           ps,
		dir:          dir,
		log:          log,
		presenceHead: []byte(`<presence xmlns='` + server.NSClient + `' from='` + server.EscapeText(from) + `' to='`),
		subscribed:   make(map[string]struct{}),
	}
	srv.AddObserver(n)
	return n
}

// AutomaticNodes are the nodes a user's bare JID is subscribed to at its
// first login, as Finesse does (FINESSE-REFERENCE §2): User, Dialogs,
// Dialogs/Media, Media and SystemInfo. id is the directory's id.
func AutomaticNodes(id string) []string {
	return []string{UserNode(id), UserDialogsNode(id), UserDialogsMediaNode(id), UserMediaNode(id), SystemInfoNode}
}

// SessionBound makes the user's automatic subscriptions the first time
// the user binds since the process started. Later binds leave them alone,
// so that an explicit unsubscribe holds until a restart, as the
// subscriptions themselves persist. A subscription that fails is logged
// and retried at the next bind.
func (n *Notifier) SessionBound(s *server.Session) {
	bare := s.JID().Bare()
	key := bare.String()
	n.mu.Lock()
	_, done := n.subscribed[key]
	n.mu.Unlock()
	if done {
		return
	}
	u, ok := n.dir.User(bare.Local)
	if !ok {
		return // not a Finesse user: nothing is automatic
	}
	failed := false
	for _, node := range AutomaticNodes(u.ID) {
		if _, err := n.ps.Subscribe(node, bare); err != nil {
			failed = true
			n.log.Error("automatic subscription failed", zap.String("session", s.ID()),
				zap.Stringer("jid", bare), zap.String("node", node), zap.Error(err))
		}
	}
	if failed {
		return
	}
	// Two sessions of one user binding at once may both subscribe; that is
	// harmless, since Subscribe returns an existing subscription.
	n.mu.Lock()
	n.subscribed[key] = struct{}{}
	n.mu.Unlock()
}

// PresenceChanged sends available presence from finesse@<domain>/finesse
// to a session that has just become available, unless the service has
// been made unavailable.
func (n *Notifier) PresenceChanged(s *server.Session, p server.Presence) {
	if !p.Available || !p.Initial || n.serviceDown.Load() {
		return
	}
	n.sendServicePresence(s, true)
}

func (n *Notifier) sendServicePresence(s *server.Session, available bool) {
	to := server.EscapeText(s.JID().String())
	b := make([]byte, 0, len(n.presenceHead)+len(to)+24)
	b = append(b, n.presenceHead...)
	b = append(b, to...)
	if available {
		b = append(b, "'/>"...)
	} else {
		b = append(b, "' type='unavailable'/>"...)
	}
	s.SendBytes(b)
}

// SetServiceAvailable makes finesse@<domain>'s presence available or
// unavailable for every available session: what desktops see when
// Finesse's Tomcat stops and comes back (FINESSE-REFERENCE §5.4).
func (n *Notifier) SetServiceAvailable(available bool) {
	if n.serviceDown.Swap(!available) == !available {
		return // no change
	}
	n.log.Info("finesse service presence changed", zap.Bool("available", available))
	for _, s := range n.srv.Sessions() {
		if s.Available() {
			n.sendServicePresence(s, available)
		}
	}
}

// ServiceAvailable reports whether finesse@<domain> is available.
func (n *Notifier) ServiceAvailable() bool { return !n.serviceDown.Load() }

// EndSessions closes every XMPP session of the user with id, as an
// administrator's action, and returns how many there were. The user's
// presence becomes unavailable as if the desktop had died.
func (n *Notifier) EndSessions(id string) int {
	u, ok := n.dir.User(id)
	if !ok {
		return 0
	}
	sessions := n.srv.Resources(server.JID{Local: u.Localpart(), Domain: n.srv.Domain()})
	for _, s := range sessions {
		s.Close(&server.StreamError{Condition: server.CondPolicyViolation, Text: "session ended by an administrator"})
	}
	if len(sessions) > 0 {
		n.log.Info("sessions ended by an administrator", zap.String("user", u.ID), zap.Int("sessions", len(sessions)))
	}
	return len(sessions)
}

// SessionEnded does nothing: subscriptions outlive sessions.
func (n *Notifier) SessionEnded(*server.Session, string) {}

// maxPooledRender keeps one outsized Update from pinning its buffer.
const maxPooledRender = 64 << 10

// Publish renders u once and publishes it on node as a Finesse
// notification, under an item id the pubsub service makes.
func (n *Notifier) Publish(node string, u Update) (pubsub.Published, error) {
	bp, _ := n.renderBuffers.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 4096)
		bp = &b
	}
	rendered := u.appendTo((*bp)[:0], upperEvent(u.Event))
	payload := NotificationPayload(rendered)
	if cap(rendered) <= maxPooledRender {
		*bp = rendered[:0]
		n.renderBuffers.Put(bp)
	}
	return n.publish(node, payload)
}

// PublishRaw publishes update, an already rendered Update document (any
// XML text), on node as a Finesse notification.
func (n *Notifier) PublishRaw(node string, update []byte) (pubsub.Published, error) {
	return n.publish(node, NotificationPayload(update))
}

func (n *Notifier) publish(node string, payload []byte) (pubsub.Published, error) {
	p, err := n.ps.Publish(node, "", payload)
	if err != nil {
		return pubsub.Published{}, fmt.Errorf("finesse: %w", err)
	}
	return p, nil
}
