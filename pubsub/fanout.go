package pubsub

import (
	"math/rand/v2"

	"github.com/finesse-notify/finesse-notify/server"
)

// renderItemEvent renders what follows the message id of an item event:
// the same bytes for every recipient of one publish.
func renderItemEvent(nodeAttr, itemID string, payload []byte) []byte {
	const (
		open  = `'><event xmlns='` + NSEvent + `'><items node='`
		mid   = `'><item id='`
		close = `</item></items></event></message>`
	)
	id := server.EscapeText(itemID)
	b := make([]byte, 0, len(open)+len(nodeAttr)+len(mid)+len(id)+2+len(payload)+len(close))
	b = append(b, open...)
	b = append(b, nodeAttr...)
	b = append(b, mid...)
	b = append(b, id...)
	b = append(b, `'>`...)
	b = append(b, payload...)
	return append(b, close...)
}

// renderNodeEvent renders the tail of a delete or purge event.
func renderNodeEvent(what, nodeAttr string) []byte {
	return []byte(`'><event xmlns='` + NSEvent + `'><` + what + ` node='` + nodeAttr + `'/></event></message>`)
}

// idChars are the characters of the random end of a message id, as in
// Openfire's ids (`<node>__<jid>__k15Q3`).
const idChars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// idSuffixLen is len("__") + 5 random characters.
const idSuffixLen = 7

// segmentsPerMessage: head, to, id prefix, to again, id suffix, body.
const segmentsPerMessage = 6

// fanOut queues one event for every session n's subscriptions reach and
// returns how many it was queued for. n.mu is held, so events of one node
// are queued in publish order. body is everything after the message id.
//
// Nothing here allocates per recipient: each message is a server.Packet
// of segments, all but the id suffix shared, and the segment lists and
// suffixes of the whole publish are cut from two buffers made once.
func (s *Service) fanOut(n *node, body []byte) int {
	if len(n.subs) == 0 {
		return 0
	}
	var (
		segs       [][]byte
		suffixes   []byte
		deliveries int
	)
	for _, sub := range n.subs {
		var one *server.Session
		var all []*server.Session
		if sub.resource != "" {
			// A full-JID subscription reaches that resource while it is
			// available, whatever its priority.
			if one = s.srv.SessionOf(sub.bare, sub.resource); one == nil || !one.Available() {
				continue
			}
		} else {
			// A bare-JID subscription reaches every available resource
			// with a non-negative priority (RFC 6121 §8.5.2.1.1).
			all = s.srv.ResourcesOf(sub.bare)
			if !anyReachable(all) {
				continue
			}
		}
		if segs == nil {
			segs = make([][]byte, 0, segmentsPerMessage*len(n.subs))
			suffixes = make([]byte, 0, idSuffixLen*len(n.subs))
		}
		start := len(suffixes)
		suffixes = append(suffixes, '_', '_')
		r := rand.Uint64()
		for range idSuffixLen - 2 {
			suffixes = append(suffixes, idChars[r%uint64(len(idChars))])
			r /= uint64(len(idChars))
		}
		first := len(segs)
		segs = append(segs, s.msgHead, sub.attr, n.idPrefix, sub.attr, suffixes[start:len(suffixes):len(suffixes)], body)
		p := server.NewPacketSegments(segs[first:len(segs):len(segs)]...)
		if one != nil {
			if one.Send(p) {
				deliveries++
			}
			continue
		}
		for _, rs := range all {
			if rs.Available() && rs.Priority() >= 0 && rs.Send(p) {
				deliveries++
			}
		}
	}
	return deliveries
}

func anyReachable(list []*server.Session) bool {
	for _, rs := range list {
		if rs.Available() && rs.Priority() >= 0 {
			return true
		}
	}
	return false
}
