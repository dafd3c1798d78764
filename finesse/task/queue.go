package task

import (
	"container/heap"
	"time"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
)

// mrdQueue is one media routing domain's routing state: the tasks
// waiting for an agent, in FIFO order, and the eligible agents, by the
// time they became available. A task waits only while no agent is
// eligible, so at rest one of the two is empty.
type mrdQueue struct {
	id      int
	waiting contactList
	ready   agentHeap
}

// slotKey names one agent in one MRD.
type slotKey struct {
	user string // lower-case user id
	mrd  int
}

// slot is one agent in one MRD, as the router sees it.
type slot struct {
	key    slotKey
	userID string // as the directory writes it
	// mediaType is the MRD's enterprise name, the Dialog's mediaType.
	mediaType string
	queue     *mrdQueue
	// index is the slot's place in queue.ready, -1 when not eligible.
	index int
	// since is when the agent became available (eligible, or last
	// offered a task); seq orders equal times by arrival.
	since time.Time
	seq   uint64
	// dialogs are the agent's open dialogs in the MRD, in offer order;
	// at most its maxDialogLimit (10), so scanning them is cheap.
	dialogs []*dialog
}

// load counts the slot's dialogs by state, for the agent registry.
func (s *slot) load() agent.TaskLoad {
	var l agent.TaskLoad
	for _, d := range s.dialogs {
		switch d.state {
		case StateOffered:
			l.Offered++
		case StateAccepted:
			l.Accepted++
		case StateActive:
			l.Active++
		case StatePaused:
			l.Paused++
		case StateWrappingUp:
			l.WrappingUp++
		}
	}
	return l
}

// removeDialog drops d from the slot's open dialogs.
func (s *slot) removeDialog(d *dialog) {
	for i, x := range s.dialogs {
		if x == d {
			copy(s.dialogs[i:], s.dialogs[i+1:])
			s.dialogs[len(s.dialogs)-1] = nil
			s.dialogs = s.dialogs[:len(s.dialogs)-1]
			return
		}
	}
}

// agentHeap is a min-heap of eligible agents by (since, seq): the top is
// the agent available longest.
type agentHeap []*slot

var _ heap.Interface = (*agentHeap)(nil)

func (h agentHeap) Len() int { return len(h) }

func (h agentHeap) Less(i, j int) bool {
	if !h[i].since.Equal(h[j].since) {
		return h[i].since.Before(h[j].since)
	}
	return h[i].seq < h[j].seq
}

func (h agentHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *agentHeap) Push(x any) {
	s := x.(*slot)
	s.index = len(*h)
	*h = append(*h, s)
}

func (h *agentHeap) Pop() any {
	old := *h
	n := len(old)
	s := old[n-1]
	old[n-1] = nil
	s.index = -1
	*h = old[:n-1]
	return s
}

// contactList is an intrusive doubly linked FIFO of waiting contacts, so
// that a cancel removes from the middle in O(1).
type contactList struct {
	head, tail *contact
	n          int
}

func (l *contactList) empty() bool { return l.head == nil }

func (l *contactList) pushBack(c *contact) {
	c.prev, c.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = c
	} else {
		l.head = c
	}
	l.tail = c
	l.n++
}

func (l *contactList) pushFront(c *contact) {
	c.prev, c.next = nil, l.head
	if l.head != nil {
		l.head.prev = c
	} else {
		l.tail = c
	}
	l.head = c
	l.n++
}

func (l *contactList) remove(c *contact) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next = nil, nil
	l.n--
}
