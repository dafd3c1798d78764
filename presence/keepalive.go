package presence

import (
	"strconv"
	"sync"
	"time"

	"github.com/finesse-notify/finesse-notify/server"
)

// watch is the keepalive state of one bound session. Its timer fires at
// most once per interval; check decides, from the session's last inbound
// traffic, whether to wait longer, ping, or end the session.
type watch struct {
	t    *Tracker
	sess *server.Session

	mu            sync.Mutex
	timer         *time.Timer
	stopped       bool
	pings         int       // pings sent with no inbound traffic since the first of them
	lastPing      time.Time // when the latest of those pings was sent
	timeoutReason string    // the end reason our own Close produces, once we have closed
}

// watch starts watching s. t.mu is held.
func (t *Tracker) watch(s *server.Session) *watch {
	w := &watch{t: t, sess: s}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = time.AfterFunc(w.untilIdle(time.Now()), w.check)
	return w
}

// untilIdle is how long until the session has been silent for a full
// interval, never more than one interval (the wall clock may step back).
func (w *watch) untilIdle(now time.Time) time.Duration {
	interval := w.t.cfg.PingInterval
	return min(interval-now.Sub(w.sess.LastActivity()), interval)
}

func (w *watch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}

// endedByTimeout reports whether reason is the one our keepalive Close
// gave the session (rather than another end that won the race).
func (w *watch) endedByTimeout(reason string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.timeoutReason != "" && reason == w.timeoutReason
}

// check runs when the timer fires. It never holds w.mu while talking to
// the session: Close calls back into the tracker's SessionEnded.
func (w *watch) check() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	if w.sess.Closed() {
		// Ending now; SessionEnded will forget the watch.
		w.stopped = true
		w.mu.Unlock()
		return
	}
	now := time.Now()
	if p, ok := w.sess.Transport().(server.Pauser); ok && p.Paused() {
		// The client said it would be away (a BOSH pause): not silence.
		w.pings = 0
		w.timer.Reset(w.t.cfg.PingInterval)
		w.mu.Unlock()
		return
	}
	if w.pings > 0 && w.sess.LastActivity().After(w.lastPing) {
		w.pings = 0 // the client spoke after our ping: alive
	}
	if w.pings == 0 {
		if d := w.untilIdle(now); d > 0 {
			w.timer.Reset(d)
			w.mu.Unlock()
			return
		}
	}
	if w.pings >= w.t.cfg.PingRetries {
		serr := &server.StreamError{
			Condition: server.CondConnectionTimeout,
			Text:      "no traffic after " + strconv.Itoa(w.pings) + " pings at " + w.t.cfg.PingInterval.String() + " intervals",
		}
		w.stopped = true
		w.timeoutReason = serr.Error()
		w.mu.Unlock()
		w.sess.Close(serr)
		return
	}
	w.pings++
	w.lastPing = now
	w.timer.Reset(w.t.cfg.PingInterval)
	w.mu.Unlock()
	// Counted before queueing, so the metric never lags behind the wire.
	w.t.metrics.pingsSent.Inc()
	w.sess.SendBytes(w.t.pingStanza(w.sess))
}

// pingStanza renders an XEP-0199 ping from the domain to the session.
func (t *Tracker) pingStanza(s *server.Session) []byte {
	return []byte(`<iq xmlns='` + server.NSClient + `' type='get' id='ping-` + server.NewID() +
		`' from='` + server.EscapeText(t.srv.Domain()) + `' to='` + server.EscapeText(s.JID().String()) +
		`'><ping xmlns='` + server.NSPing + `'/></iq>`)
}
