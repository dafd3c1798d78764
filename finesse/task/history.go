package task

import (
	"slices"
	"time"
)

// Journey is the routing history of a task: each queue it waited in and
// each agent it was offered to, in order.
type Journey struct {
	// TaskID is the task's latest id (its sequence number grows with each
	// new routing); ContactID is the CCP contact's.
	TaskID, ContactID string
	Hops              []Hop
}

// Hop is one stage of a journey.
type Hop struct {
	Kind string // HopQueue or HopAgent
	ID   string // the queue number, or the agent's id
	Name string // the queue name, or the agent's "First Last"
	// End is zero while the hop goes on.
	Start, End time.Time
}

// The kinds of Hop.
const (
	HopQueue = "queue"
	HopAgent = "agent"
)

// addHop starts a hop of c's journey. A journey keeps its last maxHops
// hops: a task bounced between agents for hours must not grow without
// bound.
func (r *Router) addHop(c *contact, h Hop) {
	if len(c.hops) >= r.maxHops {
		copy(c.hops, c.hops[1:])
		c.hops = c.hops[:len(c.hops)-1]
	}
	c.hops = append(c.hops, h)
}

// endHop ends the hop going on, if any.
func endHop(c *contact, now time.Time) {
	if n := len(c.hops); n > 0 && c.hops[n-1].End.IsZero() {
		c.hops[n-1].End = now
	}
}

// Journey returns the routing history of a task, by any of its task ids
// ("day_callid_seq") or by its contact id. A finished task is kept until
// MaxHistory later tasks have finished.
func (r *Router) Journey(id string) (Journey, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.contacts[id]
	if !ok {
		key, seq, valid := parseTaskID(id)
		if !valid {
			return Journey{}, false
		}
		if c, ok = r.byCallKey[key]; !ok || seq > c.seq {
			return Journey{}, false
		}
	}
	return Journey{TaskID: taskID(c.key, c.seq), ContactID: c.id, Hops: slices.Clone(c.hops)}, true
}

// retire puts a finished contact in the history, and forgets the oldest
// finished contact beyond MaxHistory.
func (r *Router) retire(c *contact) {
	c.finished = true
	r.history = append(r.history, c)
	if len(r.history)-r.historyHead <= r.maxHistory {
		return
	}
	old := r.history[r.historyHead]
	r.history[r.historyHead] = nil
	r.historyHead++
	delete(r.contacts, old.id)
	delete(r.byCallKey, old.key)
	// Compact once half the slice is dead, so that it stays within twice
	// the bound.
	if r.historyHead > len(r.history)/2 {
		n := copy(r.history, r.history[r.historyHead:])
		clear(r.history[n:])
		r.history = r.history[:n]
		r.historyHead = 0
	}
}
