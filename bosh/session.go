package bosh

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/finesse-notify/finesse-notify/server"
	"go.uber.org/zap"
)

// call is one HTTP request waiting for its answer.
type call struct {
	body  *requestBody // nil for a refused request
	fatal string       // a binding error condition: end the session with it
	reply chan []byte  // buffered; written at most once
}

func newCall(body *requestBody, fatal string) *call {
	return &call{body: body, fatal: fatal, reply: make(chan []byte, 1)}
}

func (c *call) answer(body []byte) {
	select {
	case c.reply <- body:
	default: // already answered
	}
}

// exchange is one rid: the request and everyone waiting for its response
// (a client may resend a rid while the first copy is still held).
type exchange struct {
	rid   int64
	body  *requestBody
	calls []*call
	// deadline: when a held request is answered empty (wait), or when an
	// early request stops waiting for the rids before it.
	deadline time.Time
}

// session is one BOSH session: a server.Transport whose state is owned by
// the goroutine in run. Other goroutines reach it only through channels.
type session struct {
	h      *Handler
	sid    string
	sess   *server.Session
	secure bool
	remote string

	// Negotiated at creation.
	wait     time.Duration
	hold     int
	requests int
	acks     bool   // the client asked for acknowledgements
	xmppVer  string // the creation request's xmpp:version, reused on restarts
	params   creationParams

	in     chan *call    // requests, from handlers
	gone   chan *call    // requests whose HTTP connection closed
	wake   chan struct{} // the server queued output
	exited chan struct{} // closed when run returns

	endCh   chan struct{} // closed by Shutdown
	endOnce sync.Once
	endCond string // the stream error condition; written before endCh closes

	// Owned by run.
	lastRid     int64               // every rid up to this one has been processed
	held        []*exchange         // processed, awaiting output, in rid order
	early       map[int64]*exchange // arrived before a lower rid
	cache       map[int64][]byte    // responses, for repeated rids
	idleSince   time.Time           // when the last request stopped being held
	pausedFor   time.Duration       // the inactivity limit during a pause
	paused      atomic.Bool         // pausedFor > 0, for other goroutines (Paused)
	bindingCond string              // a binding error this side ended the session with
	expired     bool                // ended for inactivity: nobody to tell
	quitting    bool                // the handler is closing
	endSignal   <-chan struct{}     // endCh until the end is handled
	ended       bool                // the end is handled; finalCond is set
	finalCond   string              // the terminate condition
	final       []server.Packet     // the last payloads, for the next request
	endedAt     time.Time           // when the end was handled
	finalWait   time.Duration       // how long the terminate waits for a request
	done        bool                // run returns
	timer       *time.Timer
	batch       []server.Packet
}

func newSession(h *Handler, body *requestBody, r *http.Request) *session {
	cfg := h.cfg
	wait := cfg.MaxWait
	if body.wait >= 0 && time.Duration(body.wait)*time.Second < wait {
		wait = time.Duration(body.wait) * time.Second
	}
	hold := 1
	if body.hold >= 0 {
		hold = int(min(body.hold, int64(cfg.MaxHold)))
	}
	ver := serverVersion
	if body.hasVer && body.ver.less(ver) {
		ver = body.ver
	}
	s := &session{
		h:        h,
		secure:   r.TLS != nil,
		remote:   r.RemoteAddr,
		wait:     wait,
		hold:     hold,
		requests: hold + 1,
		acks:     body.wantsAck,
		xmppVer:  body.xmppVer,
		in:       make(chan *call),
		gone:     make(chan *call),
		wake:     make(chan struct{}, 1),
		exited:   make(chan struct{}),
		endCh:    make(chan struct{}),
		early:    make(map[int64]*exchange),
		cache:    make(map[int64][]byte),
	}
	s.endSignal = s.endCh
	s.params = creationParams{
		wait:       ceilSeconds(wait),
		inactivity: max(1, int64(cfg.Inactivity/time.Second)),
		polling:    ceilSeconds(cfg.Polling),
		requests:   s.requests,
		hold:       hold,
		maxpause:   max(1, int64(cfg.MaxPause/time.Second)),
		ver:        ver,
		from:       h.srv.Domain(),
	}
	if s.acks {
		s.params.ack = body.rid
	}
	return s
}

func ceilSeconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

// server.Transport. These run on any goroutine and never block.

func (s *session) Kind() string                    { return "bosh" }
func (s *session) Secure() bool                    { return s.secure }
func (s *session) RemoteAddr() string              { return s.remote }
func (s *session) StreamHeader(_, _ string) []byte { return nil }
func (s *session) StreamFooter() []byte            { return nil }

// Paused reports whether the client has paused the session (XEP-0124
// §10): it sends no requests until it comes back, and is not silent for
// the keepalive meanwhile; the pause's own inactivity limit bounds it.
func (s *session) Paused() bool { return s.paused.Load() }

func (s *session) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *session) Shutdown(cond string) {
	s.endOnce.Do(func() {
		s.endCond = cond
		close(s.endCh)
	})
}

// run is the session's goroutine; first is the session creation request.
func (s *session) run(first *call) {
	s.timer = time.NewTimer(time.Hour)
	defer s.cleanup()
	s.accept(first)
	for !s.done {
		s.armTimer(time.Now())
		select {
		case c := <-s.in:
			s.accept(c)
		case c := <-s.gone:
			s.abandon(c)
		case <-s.wake:
			// A stream error is queued (and woken for) before Shutdown
			// is called; it must go out as a terminate, not as a payload.
			if !s.checkEnded() {
				s.flush()
			}
		case <-s.endSignal:
			s.onEnded(nil)
		case now := <-s.timer.C:
			s.onTimer(now)
		case <-s.h.quit:
			s.onQuit()
		}
	}
}

func (s *session) cleanup() {
	s.sess.TransportFinished() // whether or not the goodbye found a request
	s.timer.Stop()
	s.h.forget(s.sid, s.finalCond)
	s.h.metrics.held.Sub(float64(len(s.held)))
	s.h.metrics.deferred.Sub(float64(len(s.early)))
	close(s.exited)
	s.h.running.Done()
}

func (s *session) logger() *zap.Logger { return s.sess.Logger() }

// accept takes one request.
func (s *session) accept(c *call) {
	s.idleSince = time.Time{} // the inactivity clock restarts with every request
	if s.checkEnded() {
		s.deliverFinal([]*call{c})
		return
	}
	if c.fatal != "" {
		s.fail(c.fatal, c)
		return
	}
	b := c.body
	if b.sid == "" {
		s.create(c)
		return
	}
	if b.pause > 0 && time.Duration(b.pause)*time.Second > s.h.cfg.MaxPause {
		s.logger().Info("bosh pause longer than maxpause", zap.Int64("pause", b.pause))
		s.fail(CondPolicyViolation, c)
		return
	}
	rid := b.rid
	switch {
	case rid <= s.lastRid:
		// A repeated request: the network lost our response, or the
		// client gave up waiting (XEP-0124 §14.3).
		if resp, ok := s.cache[rid]; ok {
			s.h.metrics.replays.Inc()
			c.answer(resp)
			return
		}
		if i := slices.IndexFunc(s.held, func(ex *exchange) bool { return ex.rid == rid }); i >= 0 {
			s.join(s.held[i], c)
			return
		}
		s.logger().Info("bosh rid repeated but its response is gone", zap.Int64("rid", rid))
		s.fail(CondItemNotFound, c)
		return
	case rid > s.lastRid+int64(s.requests):
		s.logger().Info("bosh rid beyond the window", zap.Int64("rid", rid), zap.Int64("expected", s.lastRid+1))
		s.fail(CondItemNotFound, c)
		return
	case rid > s.lastRid+1:
		// Early: a lower rid is still on its way. Process in order.
		if ex := s.early[rid]; ex != nil {
			s.join(ex, c)
			return
		}
		s.early[rid] = &exchange{rid: rid, body: b, calls: []*call{c},
			deadline: time.Now().Add(s.wait + s.h.cfg.Inactivity)}
		s.h.metrics.deferred.Inc()
		return
	}
	s.process(&exchange{rid: rid, body: b, calls: []*call{c}})
	for !s.sess.Closed() {
		ex := s.early[s.lastRid+1]
		if ex == nil {
			break
		}
		delete(s.early, ex.rid)
		s.h.metrics.deferred.Dec()
		s.process(ex)
	}
	s.settle()
}

// join adds a repeated request to the exchange it repeats: both get the
// same response. Copies beyond the number of simultaneous requests allowed
// break the session rules (XEP-0124 §11).
func (s *session) join(ex *exchange, c *call) {
	if len(ex.calls) >= s.requests {
		s.logger().Info("bosh rid repeated too many times at once", zap.Int64("rid", ex.rid))
		s.fail(CondPolicyViolation, c)
		return
	}
	ex.calls = append(ex.calls, c)
}

// create answers the session creation request.
func (s *session) create(c *call) {
	b := c.body
	s.lastRid = b.rid
	s.sess.StreamOpened(server.StreamHeader{To: b.to, Version: b.xmppVer, Lang: b.lang})
	for _, el := range b.children {
		if s.sess.Closed() {
			break
		}
		s.sess.HandleElement(el)
	}
	if s.checkEnded() { // e.g. unsupported-version
		s.deliverFinal([]*call{c})
		return
	}
	// StreamOpened queued the features synchronously: they go inline.
	p := s.params
	p.sid = s.sid
	p.authid = s.sess.StreamID()
	body := creationBody(p, s.sess.Outbound(nil))
	s.remember(b.rid, body)
	c.answer(body)
	s.logger().Debug("bosh session created", zap.Duration("wait", s.wait), zap.Int("hold", s.hold),
		zap.Bool("secure", s.secure), zap.String("remote", s.remote))
}

// process feeds one in-order request to the XMPP session and holds it.
func (s *session) process(ex *exchange) {
	s.lastRid = ex.rid
	s.pausedFor = 0 // any request ends a pause
	s.paused.Store(false)
	b := ex.body
	if b.hasAck {
		s.forgetAcknowledged(b.ack)
	}
	if !s.sess.Closed() {
		if b.restart {
			v := b.xmppVer
			if v == "" {
				v = s.xmppVer
			}
			s.sess.StreamOpened(server.StreamHeader{To: b.to, Version: v, Lang: b.lang})
		}
		for _, el := range b.children {
			if s.sess.Closed() {
				break
			}
			s.sess.HandleElement(el)
		}
		if b.terminate {
			s.sess.StreamClosed()
		}
	}
	if b.pause > 0 && !b.terminate && !s.sess.Closed() {
		// XEP-0124 §10: answer everything at once; the pause response
		// carries no payload and is not cached.
		s.pausedFor = time.Duration(b.pause) * time.Second
		s.paused.Store(true)
		s.flush()
		for len(s.held) > 0 {
			s.answer(s.held[0], emptyBody(s.ackFor(s.held[0])))
		}
		for _, c := range ex.calls {
			c.answer(emptyBody(0))
		}
		return
	}
	ex.deadline = time.Now().Add(s.wait)
	s.held = append(s.held, ex)
	s.h.metrics.held.Inc()
}

// settle answers what can be answered after a change.
func (s *session) settle() {
	if s.checkEnded() {
		return
	}
	s.flush()
	for len(s.held) > s.hold {
		// Holding more than 'hold': the oldest goes back at once, so
		// that the client can send again.
		s.answer(s.held[0], emptyBody(s.ackFor(s.held[0])))
	}
}

// flush gives everything queued to the lowest-rid held request.
func (s *session) flush() {
	if len(s.held) == 0 || !s.sess.HasOutbound() {
		return
	}
	s.batch = s.sess.Outbound(s.batch[:0])
	ex := s.held[0]
	s.answer(ex, payloadBody(s.batch, s.ackFor(ex)))
	clear(s.batch)
}

// answer responds to a held request and caches the response.
func (s *session) answer(ex *exchange, body []byte) {
	if i := slices.Index(s.held, ex); i >= 0 {
		s.held = slices.Delete(s.held, i, i+1)
		s.h.metrics.held.Dec()
	}
	s.remember(ex.rid, body)
	for _, c := range ex.calls {
		c.answer(body)
	}
}

// remember caches a response for a repeated rid. The cache keeps as many
// responses as the client may have requests outstanding.
func (s *session) remember(rid int64, body []byte) {
	s.cache[rid] = body
	for r := range s.cache {
		if r <= rid-int64(s.requests) {
			delete(s.cache, r)
		}
	}
}

// forgetAcknowledged drops cached responses the client says it received.
func (s *session) forgetAcknowledged(ack int64) {
	for r := range s.cache {
		if r <= ack {
			delete(s.cache, r)
		}
	}
}

// ackFor is the 'ack' attribute for the response to ex (XEP-0124 §9.1):
// the highest rid received in order, when acknowledgements are on and it
// is not the rid being answered.
func (s *session) ackFor(ex *exchange) int64 {
	if !s.acks || s.lastRid == ex.rid {
		return 0
	}
	return s.lastRid
}

// abandon handles a request whose HTTP connection closed before its answer.
func (s *session) abandon(c *call) {
	drop := func(ex *exchange) bool {
		i := slices.Index(ex.calls, c)
		if i < 0 {
			return false
		}
		ex.calls = slices.Delete(ex.calls, i, i+1)
		return true
	}
	for _, ex := range s.held {
		if drop(ex) {
			if len(ex.calls) == 0 {
				// Answered (for the cache, should the client resend it)
				// so that it stops counting as held: the inactivity
				// clock starts.
				s.answer(ex, emptyBody(s.ackFor(ex)))
			}
			return
		}
	}
	for rid, ex := range s.early {
		if drop(ex) {
			if len(ex.calls) == 0 {
				delete(s.early, rid)
				s.h.metrics.deferred.Dec()
			}
			return
		}
	}
}

// outstanding is the number of requests the client is waiting on.
func (s *session) outstanding() int { return len(s.held) + len(s.early) }

func (s *session) idleLimit() time.Duration {
	if s.pausedFor > 0 {
		return s.pausedFor
	}
	return s.h.cfg.Inactivity
}

// armTimer sets the timer for the next deadline. The inactivity clock runs
// only while no request is held.
func (s *session) armTimer(now time.Time) {
	var next time.Time
	consider := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if len(s.held) > 0 {
		consider(s.held[0].deadline) // deadlines grow with rid
	}
	for _, ex := range s.early {
		consider(ex.deadline)
	}
	switch {
	case s.outstanding() > 0:
		s.idleSince = time.Time{}
	case s.ended:
		consider(s.endedAt.Add(s.finalWait))
	default:
		if s.idleSince.IsZero() {
			s.idleSince = now
		}
		consider(s.idleSince.Add(s.idleLimit()))
	}
	if next.IsZero() {
		s.timer.Stop()
		return
	}
	s.timer.Reset(next.Sub(now))
}

func (s *session) onTimer(now time.Time) {
	if s.ended {
		if s.outstanding() == 0 && !now.Before(s.endedAt.Add(s.finalWait)) {
			s.done = true // nobody came for the terminate
		}
		return
	}
	if s.checkEnded() {
		return
	}
	s.flush()
	for len(s.held) > 0 && !s.held[0].deadline.After(now) {
		s.answer(s.held[0], emptyBody(s.ackFor(s.held[0]))) // wait expired
	}
	for _, ex := range s.early {
		if !ex.deadline.After(now) {
			s.logger().Info("bosh rid never arrived", zap.Int64("missing", s.lastRid+1), zap.Int64("waiting", ex.rid))
			s.fail(CondItemNotFound, nil)
			return
		}
	}
	if s.outstanding() == 0 && !s.idleSince.IsZero() && !now.Before(s.idleSince.Add(s.idleLimit())) {
		s.expired = true
		s.sess.ConnectionLost(fmt.Errorf("bosh: no request for %s", s.idleLimit()))
		s.checkEnded()
	}
}

func (s *session) onQuit() {
	s.quitting = true
	if !s.ended {
		if !s.sess.Closed() {
			s.sess.Close(&server.StreamError{Condition: server.CondSystemShutdown, Text: "the server is shutting down"})
		}
		<-s.endCh
		s.onEnded(nil)
	}
	s.done = true
}

// fail ends the session with a terminal binding error; c (if any) is the
// request that caused it.
func (s *session) fail(cond string, c *call) {
	s.bindingCond = cond
	s.sess.ConnectionLost(errors.New("bosh binding error: " + cond))
	<-s.endCh // closed by now, or about to be by a concurrent close
	s.onEnded(c)
}

// checkEnded handles the end of the XMPP session if it has ended, and
// reports whether it has.
func (s *session) checkEnded() bool {
	if s.ended {
		return true
	}
	if s.sess.Closed() {
		<-s.endCh // Shutdown comes last in ending a session
	} else {
		select {
		case <-s.endCh:
		default:
			return false
		}
	}
	s.onEnded(nil)
	return true
}

// onEnded runs once when the XMPP session has ended: every outstanding
// request gets the terminate body, the lowest-rid one with the last
// payloads. With none outstanding, the next request gets it, unless the
// client is presumed gone.
func (s *session) onEnded(extra *call) {
	if s.ended {
		if extra != nil {
			s.deliverFinal([]*call{extra})
		}
		return
	}
	s.ended = true
	s.endSignal = nil
	s.endedAt = time.Now()
	s.finalWait = s.idleLimit() // a paused client comes back later
	s.final = s.sess.Outbound(nil)
	switch {
	case s.bindingCond != "":
		s.finalCond = s.bindingCond
	case s.endCond != "":
		s.finalCond = CondRemoteStreamError
	}
	var calls []*call
	for _, ex := range s.held {
		calls = append(calls, ex.calls...)
	}
	s.h.metrics.held.Sub(float64(len(s.held)))
	s.held = nil
	rids := make([]int64, 0, len(s.early))
	for rid := range s.early {
		rids = append(rids, rid)
	}
	slices.Sort(rids)
	for _, rid := range rids {
		calls = append(calls, s.early[rid].calls...)
	}
	s.h.metrics.deferred.Sub(float64(len(s.early)))
	clear(s.early)
	if extra != nil {
		calls = append(calls, extra)
	}
	if len(calls) > 0 {
		s.deliverFinal(calls)
		return
	}
	if s.expired || s.quitting {
		s.done = true
		return
	}
	// The terminate waits for the client's next request; a server
	// shutdown need not wait that long for a client that may be gone.
	time.AfterFunc(min(s.h.cfg.TerminateGrace, s.finalWait), s.sess.TransportFinished)
}

// deliverFinal answers calls with the terminate body and ends the session
// goroutine: afterwards the sid is unknown.
func (s *session) deliverFinal(calls []*call) {
	if len(calls) == 0 {
		return
	}
	s.h.metrics.terminated(s.finalCond)
	calls[0].answer(terminateBody(s.finalCond, s.final))
	if len(calls) > 1 {
		rest := terminateBody(s.finalCond, nil)
		for _, c := range calls[1:] {
			c.answer(rest)
		}
	}
	s.final = nil
	s.done = true
	s.sess.TransportFinished()
}
