package pubsub

import (
	"slices"
	"strings"
	"sync"

	"github.com/finesse-notify/finesse-notify/server"
)

// node is one pubsub node. Its mutex serialises publishes, subscription
// changes and deletion, which is what gives every subscriber the node's
// items in publish order.
type node struct {
	name  string
	owner string // bare JID of the creator; "" for a node that exists implicitly
	// idPrefix is `' id='<name>__`: the bytes between the recipient's `to`
	// and its address again in the message id, the same for every publish.
	idPrefix []byte
	// attr is the name escaped for an attribute value.
	attr string

	mu      sync.Mutex
	deleted bool
	subs    []*subscription // in subscription order
	// byJID indexes subs once there are more than indexAbove of them, so
	// that subscribing thousands to one node is not quadratic; the many
	// nodes with one or two subscribers do without the map.
	byJID map[string]*subscription
	items []item // oldest first, at most Config.MaxItems
}

type item struct {
	id      string
	payload []byte
}

func newNode(name, owner string) *node {
	attr := server.EscapeText(name)
	return &node{
		name:     name,
		owner:    owner,
		attr:     attr,
		idPrefix: []byte(`' id='` + attr + `__`),
	}
}

// storeItem keeps it as the newest item, replacing an item with the same
// id (XEP-0060 §7.1.2: publishing an existing id overwrites it). n.mu is
// held.
func (n *node) storeItem(it item, max int) {
	for i := range n.items {
		if n.items[i].id == it.id {
			n.items = slices.Delete(n.items, i, i+1)
			break
		}
	}
	if len(n.items) >= max {
		// Shift rather than reslice so the array does not creep forward
		// and keep dropped payloads alive.
		drop := len(n.items) - max + 1
		copy(n.items, n.items[drop:])
		clear(n.items[len(n.items)-drop:])
		n.items = n.items[:len(n.items)-drop]
	}
	n.items = append(n.items, it)
}

// indexAbove is the number of subscriptions above which a node indexes
// them by JID.
const indexAbove = 16

// find returns the subscription of jid, or nil. n.mu is held.
func (n *node) find(jid string) *subscription {
	if n.byJID != nil {
		return n.byJID[jid]
	}
	for _, s := range n.subs {
		if s.jid == jid {
			return s
		}
	}
	return nil
}

// add appends sub to the node's list. n.mu is held.
func (n *node) add(sub *subscription) {
	n.subs = append(n.subs, sub)
	switch {
	case n.byJID != nil:
		n.byJID[sub.jid] = sub
	case len(n.subs) > indexAbove:
		n.byJID = make(map[string]*subscription, len(n.subs))
		for _, s := range n.subs {
			n.byJID[s.jid] = s
		}
	}
}

// remove takes sub out of the node's list. n.mu is held.
func (n *node) remove(sub *subscription) {
	if n.byJID != nil {
		delete(n.byJID, sub.jid)
	}
	for i, s := range n.subs {
		if s == sub {
			n.subs = slices.Delete(n.subs, i, i+1)
			return
		}
	}
}

// subscription is one JID's subscription to one node. It is kept small:
// explicit subscriptions outlive their sessions and a load test holds one
// per user per node.
type subscription struct {
	node     *node
	jid      string // as subscribed: bare or full
	bare     string // jid without its resource (shares jid's bytes)
	resource string // "" for a bare-JID subscription (shares jid's bytes)
	attr     []byte // jid escaped for an attribute value
	subid    string
}

func newSubscription(n *node, j server.JID, subid string) *subscription {
	full := j.String()
	bare := full
	if j.Resource != "" {
		bare = full[:len(full)-len(j.Resource)-1]
	}
	return &subscription{
		node:     n,
		jid:      full,
		bare:     bare,
		resource: full[len(bare):][min(1, len(full)-len(bare)):],
		attr:     []byte(server.EscapeText(full)),
		subid:    subid,
	}
}

// bareOf returns the bare part of a JID string.
func bareOf(jid string) string {
	if i := strings.IndexByte(jid, '/'); i >= 0 {
		return jid[:i]
	}
	return jid
}
