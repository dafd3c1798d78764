package server

import "sync"

// sendQueue is a session's bounded outbound queue. A session whose queue
// overflows is a consumer that cannot keep up; it is disconnected rather
// than given a hole in its stream.
type sendQueue struct {
	mu       sync.Mutex
	items    []Packet
	bytes    int
	maxItems int
	maxBytes int
	sealed   bool // the session has ended; only its goodbye may still go in
}

// push appends p. It refuses p when the queue is full or sealed, unless
// force is set (the stream-level goodbye: a stream error and the close).
// first reports that the queue was empty, so the transport must be woken.
func (q *sendQueue) push(p Packet, force bool) (ok, first bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !force && (q.sealed || len(q.items) >= q.maxItems || q.bytes+p.Len() > q.maxBytes) {
		return false, false
	}
	first = len(q.items) == 0
	q.items = append(q.items, p)
	q.bytes += p.Len()
	return true, first
}

// seal refuses every later push that is not forced.
func (q *sendQueue) seal() {
	q.mu.Lock()
	q.sealed = true
	q.mu.Unlock()
}

// drain moves everything queued to dst.
func (q *sendQueue) drain(dst []Packet) []Packet {
	q.mu.Lock()
	defer q.mu.Unlock()
	dst = append(dst, q.items...)
	clear(q.items)
	q.items = q.items[:0]
	q.bytes = 0
	return dst
}

// empty reports whether nothing is queued.
func (q *sendQueue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) == 0
}
