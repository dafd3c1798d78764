package loadtest

// arrival classifies one received sequence number.
type arrival int

const (
	arrivalInOrder    arrival = iota // new, and above everything seen before
	arrivalOutOfOrder                // new, but a higher one came first
	arrivalDuplicate                 // seen before
)

// maxAhead bounds the sequence numbers a tracker remembers above a gap.
// Past it the gap is written off: its numbers, should they come after
// all, count as duplicates. Only a run that has already lost thousands
// of events gets there.
const maxAhead = 1 << 16

// seqTracker follows one stream of sequence numbers, 1, 2, 3…, as one
// receiver sees it. It costs two words while events come in order; only
// a gap makes it remember the numbers received above the gap. It is not
// safe for concurrent use: each session owns its own.
type seqTracker struct {
	next  uint64              // every number below has been received
	high  uint64              // the highest number received
	ahead map[uint64]struct{} // received numbers above next, when there is a gap
}

func newSeqTracker() seqTracker { return seqTracker{next: 1} }

// add records seq and says how it arrived.
func (t *seqTracker) add(seq uint64) arrival {
	if t.next == 0 {
		t.next = 1
	}
	switch {
	case seq < t.next:
		return arrivalDuplicate
	case seq == t.next:
		t.next++
		for len(t.ahead) > 0 {
			if _, ok := t.ahead[t.next]; !ok {
				break
			}
			delete(t.ahead, t.next)
			t.next++
		}
		if seq < t.high {
			return arrivalOutOfOrder
		}
		t.high = seq
		return arrivalInOrder
	}
	if _, ok := t.ahead[seq]; ok {
		return arrivalDuplicate
	}
	if t.ahead == nil {
		t.ahead = make(map[uint64]struct{})
	}
	t.ahead[seq] = struct{}{}
	if len(t.ahead) > maxAhead {
		t.writeOffGap()
	}
	if seq < t.high {
		return arrivalOutOfOrder
	}
	t.high = seq
	return arrivalInOrder
}

// writeOffGap moves next past the lowest gap.
func (t *seqTracker) writeOffGap() {
	lowest := t.high
	for s := range t.ahead {
		lowest = min(lowest, s)
	}
	t.next = lowest
	for {
		if _, ok := t.ahead[t.next]; !ok {
			return
		}
		delete(t.ahead, t.next)
		t.next++
	}
}

// missing is how many numbers up to high have not been received (a
// written-off gap counts as received).
func (t *seqTracker) missing() uint64 {
	if t.high < t.next {
		return 0
	}
	return t.high - t.next + 1 - uint64(len(t.ahead))
}
