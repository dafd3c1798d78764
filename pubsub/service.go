package pubsub

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/server"
)

// XML namespaces of XEP-0060.
const (
	NSPubSub = "http://jabber.org/protocol/pubsub"
	NSEvent  = NSPubSub + "#event"
	NSOwner  = NSPubSub + "#owner"
	NSErrors = NSPubSub + "#errors"
)

// Config configures a Service. Zero fields take the defaults noted.
type Config struct {
	// JID is the service's address, such as pubsub.<domain> (required).
	JID string
	// Name is the service's name in disco (default "Publish-Subscribe").
	Name string
	// Policy decides access (default Open).
	Policy Policy
	// Resolver says which nodes exist without a create (default: none).
	Resolver Resolver
	// MaxItems is how many of its last items each node keeps (default 1).
	MaxItems int
	// MaxSubscriptionsPerUser bounds the subscriptions of one bare JID,
	// its resources' included (default 1000).
	MaxSubscriptionsPerUser int
	// MaxNodes bounds the nodes created with <create/> (default 100000).
	MaxNodes int
	// MaxNodeNameBytes bounds a created node's name (default 1024).
	MaxNodeNameBytes int
	// MaxPayloadBytes bounds a published item's payload (default 256 KiB).
	MaxPayloadBytes int
	// MaxDiscoItems bounds a disco#items answer (default 1000).
	MaxDiscoItems int
	// Logger receives logs (default none); Registerer the metrics.
	Logger     *zap.Logger
	Registerer prometheus.Registerer
}

func (c *Config) setDefaults() error {
	if c.JID == "" {
		return errors.New("pubsub: no service JID configured")
	}
	if c.Name == "" {
		c.Name = "Publish-Subscribe"
	}
	if c.Policy == nil {
		c.Policy = Open{}
	}
	if c.Resolver == nil {
		c.Resolver = func(string) bool { return false }
	}
	if c.MaxItems <= 0 {
		c.MaxItems = 1
	}
	if c.MaxSubscriptionsPerUser <= 0 {
		c.MaxSubscriptionsPerUser = 1000
	}
	if c.MaxNodes <= 0 {
		c.MaxNodes = 100000
	}
	if c.MaxNodeNameBytes <= 0 {
		c.MaxNodeNameBytes = 1024
	}
	if c.MaxPayloadBytes <= 0 {
		c.MaxPayloadBytes = 256 << 10
	}
	if c.MaxDiscoItems <= 0 {
		c.MaxDiscoItems = 1000
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}

// Service is a XEP-0060 pubsub service. It is a server.Component.
type Service struct {
	srv     *server.Server
	cfg     Config
	log     *zap.Logger
	metrics *metrics
	// msgHead opens every event message, up to the recipient's address.
	msgHead []byte
	itemSeq atomic.Uint64

	// mu guards the node table. It is never held while a node's mutex is
	// taken: lock order is node.mu, then subsMu.
	mu      sync.RWMutex
	nodes   map[string]*node   // created nodes and implicit ones in use
	owned   map[string][]*node // bare JID → nodes it created
	created int

	// subsMu guards the per-user index of subscriptions.
	subsMu sync.Mutex
	byUser map[string][]*subscription // bare JID → its subscriptions
}

var _ server.Component = (*Service)(nil)

// Published tells what a publish did.
type Published struct {
	Node   string
	ItemID string
	// Deliveries is the number of sessions the event was queued for.
	Deliveries int
}

// Subscription is one subscription as the API reports it.
type Subscription struct {
	Node  string
	JID   server.JID
	SubID string
}

// New makes a service and registers it as srv's component for cfg.JID.
func New(srv *server.Server, cfg Config) (*Service, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Service{
		srv:     srv,
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: newMetrics(cfg.Registerer),
		msgHead: []byte(`<message xmlns='` + server.NSClient + `' from='` + server.EscapeText(cfg.JID) + `' to='`),
		nodes:   make(map[string]*node),
		owned:   make(map[string][]*node),
		byUser:  make(map[string][]*subscription),
	}
	srv.AddComponent(cfg.JID, cfg.Name, s)
	return s, nil
}

// JID is the service's address.
func (s *Service) JID() string { return s.cfg.JID }

// lookup returns the node called name. An implicit node is brought into
// the table when materialize is set; otherwise nil means "not in use",
// which for an implicit node is not "does not exist" (see exists).
func (s *Service) lookup(name string, materialize bool) *node {
	s.mu.RLock()
	n := s.nodes[name]
	s.mu.RUnlock()
	if n != nil || !materialize || name == "" || !s.cfg.Resolver(name) {
		return n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n = s.nodes[name]; n == nil {
		n = newNode(name, "")
		s.nodes[name] = n
		s.metrics.nodes.Inc()
	}
	return n
}

// exists reports whether node name exists, created or implicitly.
func (s *Service) exists(name string) bool {
	return name != "" && (s.lookup(name, false) != nil || s.cfg.Resolver(name))
}

// locked returns the live node called name with its mutex held, bringing
// an implicit node into the table. It retries once when it meets a node
// deleted under it (an implicit node then comes back empty).
func (s *Service) locked(name string) *node {
	for range 2 {
		n := s.lookup(name, true)
		if n == nil {
			return nil
		}
		n.mu.Lock()
		if !n.deleted {
			return n
		}
		n.mu.Unlock()
	}
	return nil
}

// Publish publishes payload, one well-formed XML element that is never
// modified afterwards, as an item of node; itemID "" makes an id. The
// policy is not consulted: this is for trusted callers.
func (s *Service) Publish(nodeName, itemID string, payload []byte) (Published, error) {
	if len(payload) > s.cfg.MaxPayloadBytes {
		return Published{}, fmt.Errorf("publish to %s: %d bytes: %w", nodeName, len(payload), ErrPayloadTooBig)
	}
	if itemID == "" {
		itemID = s.newItemID()
	}
	n := s.locked(nodeName)
	if n == nil {
		return Published{}, fmt.Errorf("publish to %s: %w", nodeName, ErrNodeNotFound)
	}
	body := renderItemEvent(n.attr, itemID, payload)
	n.storeItem(item{id: itemID, payload: payload}, s.cfg.MaxItems)
	d := s.fanOut(n, body)
	n.mu.Unlock()
	s.metrics.publishes.Inc()
	s.metrics.deliveries.Add(float64(d))
	return Published{Node: nodeName, ItemID: itemID, Deliveries: d}, nil
}

// Subscribe subscribes jid (bare or full) to node without consulting the
// policy. An existing subscription is returned, not duplicated.
func (s *Service) Subscribe(nodeName string, jid server.JID) (Subscription, error) {
	sub, err := s.subscribe(nodeName, jid)
	if err != nil {
		return Subscription{}, err
	}
	return Subscription{Node: nodeName, JID: jid, SubID: sub.subid}, nil
}

func (s *Service) subscribe(nodeName string, jid server.JID) (*subscription, error) {
	n := s.locked(nodeName)
	if n == nil {
		return nil, fmt.Errorf("subscribe %s to %s: %w", jid, nodeName, ErrNodeNotFound)
	}
	defer n.mu.Unlock()
	key := jid.String()
	if sub := n.find(key); sub != nil {
		return sub, nil
	}
	bare := bareOf(key)
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	if len(s.byUser[bare]) >= s.cfg.MaxSubscriptionsPerUser {
		return nil, fmt.Errorf("subscribe %s to %s: %d held: %w", jid, nodeName, len(s.byUser[bare]), ErrTooManySubscriptions)
	}
	sub := newSubscription(n, jid, newSubID())
	n.add(sub)
	s.byUser[sub.bare] = append(s.byUser[sub.bare], sub)
	s.metrics.subscriptions.Inc()
	return sub, nil
}

// Subscriptions lists every subscription of user's bare JID, its
// resources' included, in the order they were made.
func (s *Service) Subscriptions(user server.JID) []Subscription {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	list := s.byUser[user.Bare().String()]
	out := make([]Subscription, 0, len(list))
	for _, sub := range list {
		j, _ := server.ParseJID(sub.jid) // it was parsed before it was stored
		out = append(out, Subscription{Node: sub.node.name, JID: j, SubID: sub.subid})
	}
	return out
}

// unindex removes subs from the per-user index. A node's mutex is held.
func (s *Service) unindex(subs ...*subscription) {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	for _, sub := range subs {
		removeFromIndex(s.byUser, sub.bare, sub)
	}
	s.metrics.subscriptions.Sub(float64(len(subs)))
}

// removeFromIndex takes v out of index[key], dropping the key when its
// list empties. The list is copied, not edited in place, so a slice handed
// out earlier is never changed under its reader.
func removeFromIndex[T comparable](index map[string][]T, key string, v T) {
	list := index[key]
	i := slices.Index(list, v)
	if i < 0 {
		return
	}
	if len(list) == 1 {
		delete(index, key)
		return
	}
	index[key] = slices.Concat(list[:i], list[i+1:])
}

// create makes node name owned by owner.
func (s *Service) create(name, owner string) *server.StanzaError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nodes[name] != nil || s.cfg.Resolver(name) {
		return errNodeExists
	}
	if s.created >= s.cfg.MaxNodes {
		return errTooManyNodes
	}
	n := newNode(name, owner)
	s.nodes[name] = n
	s.owned[owner] = append(s.owned[owner], n)
	s.created++
	s.metrics.nodes.Inc()
	return nil
}

// deleteNode removes node name, telling its subscribers. An implicit node
// comes back, empty, the next time it is used.
func (s *Service) deleteNode(name string) {
	s.mu.Lock()
	n := s.nodes[name]
	if n == nil {
		s.mu.Unlock()
		return // an implicit node never used: nothing to remove
	}
	delete(s.nodes, name)
	s.metrics.nodes.Dec()
	if n.owner != "" {
		s.created--
		removeFromIndex(s.owned, n.owner, n)
	}
	s.mu.Unlock()

	n.mu.Lock()
	defer n.mu.Unlock()
	n.deleted = true
	s.fanOut(n, renderNodeEvent("delete", n.attr))
	subs := n.subs
	n.subs, n.items, n.byJID = nil, nil, nil
	s.unindex(subs...)
}

// purge drops node name's items, telling its subscribers.
func (s *Service) purge(name string) {
	n := s.locked(name)
	if n == nil {
		return
	}
	defer n.mu.Unlock()
	clear(n.items)
	n.items = n.items[:0]
	s.fanOut(n, renderNodeEvent("purge", n.attr))
}

// newItemID makes an item id in Openfire's shape: a random UUID followed
// by digits (here a sequence number, which keeps ids unique).
func (s *Service) newItemID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32] +
		strconv.FormatUint(s.itemSeq.Add(1), 10)
}

// newSubID makes a subscription id.
func newSubID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
