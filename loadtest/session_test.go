package loadtest

import (
	"testing"
	"time"
)

// The receive path, fed stanzas directly.
func TestOnMessageCounts(t *testing.T) {
	start := time.Now().UnixNano()
	r := &runner{cfg: Config{Mode: ModeOwn}, startNanos: start}
	r.hist.Store(new(Histogram))
	s := &session{r: r, stream: 3, seq: newSeqTracker()}
	msg := func(stream, seq uint64, ts int64) []byte {
		return []byte("<message from='pubsub.d' to='u@d/r'><event><items><item><load>" +
			formatToken(stream, seq, ts) + "</load></item></items></event></message>")
	}
	s.onMessage(msg(3, 1, start+1))
	s.onMessage(msg(3, 3, start+2))
	s.onMessage(msg(3, 2, start+3))                           // late
	s.onMessage(msg(3, 2, start+4))                           // again
	s.onMessage(msg(4, 4, start+5))                           // another session's event
	s.onMessage(msg(3, 9, start-1))                           // from before the run
	s.onMessage([]byte("<message><body>hi</body></message>")) // no token
	if got := s.received.Load(); got != 3 {
		t.Errorf("received %d, want 3", got)
	}
	if s.outOfOrder.Load() != 1 || s.duplicated.Load() != 1 || s.misrouted.Load() != 1 {
		t.Errorf("out of order %d duplicated %d misrouted %d, want 1 each",
			s.outOfOrder.Load(), s.duplicated.Load(), s.misrouted.Load())
	}
	if r.histogram().Count() != 3 {
		t.Errorf("%d latencies recorded, want 3", r.histogram().Count())
	}
}
