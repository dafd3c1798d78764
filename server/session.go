package server

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"
	"go.uber.org/zap"
)

type streamState int

const (
	stateWaitOpen      streamState = iota // no stream open yet, or a restart is due
	stateNegotiating                      // stream open, not authenticated
	stateAuthenticated                    // authenticated stream open, resource not bound
	stateBound                            // resource bound: stanzas flow
)

// Session is one client's XMPP session, whatever its transport. The
// transport calls StreamOpened, HandleElement, StreamClosed and
// ConnectionLost from one goroutine at a time; Send, Close and the
// accessors are safe from any goroutine.
type Session struct {
	srv *Server
	t   Transport
	id  string

	// Negotiation state, touched only by the goroutine feeding the session.
	state        streamState
	authed       bool
	user         string // authenticated localpart
	authFailures int
	saslWaiting  bool // an empty <auth/> got a challenge; a <response/> is due

	jid       JID // set once at bind, before the session is routable
	streamID  atomic.Pointer[string]
	available atomic.Bool
	priority  atomic.Int32

	mu           sync.Mutex
	routable     bool // in the router; observers were told it is bound
	headerSent   bool
	lastPresence *etree.Element // the last broadcast presence, from stamped
	closed       bool
	endReason    string

	overflowed   atomic.Bool
	lastActivity atomic.Int64 // unix nanoseconds of the last inbound traffic
	queue        sendQueue
	inCount      counter
	outCount     counter
	done         chan struct{}
	finished     chan struct{} // closed by TransportFinished
	finishOnce   sync.Once
	negotiation  *time.Timer
}

// counter is the one method of a Prometheus counter the hot path needs.
type counter interface{ Inc() }

func newSession(srv *Server, t Transport) *Session {
	s := &Session{
		srv:      srv,
		t:        t,
		id:       randomID(6),
		queue:    sendQueue{maxItems: srv.cfg.SendQueueStanzas, maxBytes: srv.cfg.SendQueueBytes},
		done:     make(chan struct{}),
		finished: make(chan struct{}),
	}
	s.inCount = srv.metrics.stanzasIn.WithLabelValues(t.Kind())
	s.outCount = srv.metrics.stanzasOut.WithLabelValues(t.Kind())
	s.Touch()
	s.negotiation = time.AfterFunc(srv.cfg.NegotiationTimeout, func() {
		s.Close(&StreamError{Condition: CondConnectionTimeout, Text: "no resource bound in time"})
	})
	return s
}

// ID is the session's identifier in logs.
func (s *Session) ID() string { return s.id }

// JID is the session's full JID; zero before resource binding.
func (s *Session) JID() JID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jid
}

// Transport is the session's transport.
func (s *Session) Transport() Transport { return s.t }

// StreamID is the id of the current stream ("" before the first open).
func (s *Session) StreamID() string {
	if p := s.streamID.Load(); p != nil {
		return *p
	}
	return ""
}

// Available reports whether the session has sent available presence.
func (s *Session) Available() bool { return s.available.Load() }

// Priority is the priority of the session's last available presence.
func (s *Session) Priority() int { return int(s.priority.Load()) }

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// TransportFinished is called by the transport once it will write nothing
// more: its goodbye is on the wire, or the connection is gone. Server
// shutdown waits for it so that no client misses its close.
func (s *Session) TransportFinished() { s.finishOnce.Do(func() { close(s.finished) }) }

// Closed reports whether the session has ended.
func (s *Session) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Logger is a logger carrying the session's id, transport and (once bound)
// JID. It is made on each call rather than kept: a session logs a few
// lines in its life, and a kept logger (a clone of the encoder and its
// buffer) would cost every idle session about a kilobyte.
func (s *Session) Logger() *zap.Logger {
	fields := make([]zap.Field, 0, 3)
	fields = append(fields, zap.String("session", s.id), zap.String("transport", s.t.Kind()))
	if j := s.JID(); !j.IsZero() {
		fields = append(fields, zap.String("jid", j.String()))
	}
	return s.srv.log.With(fields...)
}

// Touch records inbound traffic: any byte, frame or request is a sign of life.
func (s *Session) Touch() { s.lastActivity.Store(time.Now().UnixNano()) }

// LastActivity is when the client last sent anything.
func (s *Session) LastActivity() time.Time { return time.Unix(0, s.lastActivity.Load()) }

// Send queues p for the client. It returns false if the session has ended
// or its queue overflowed; an overflow ends the session with a
// policy-violation stream error, a log line and a metric.
func (s *Session) Send(p Packet) bool {
	ok, first := s.queue.push(p, false)
	if !ok {
		if !s.Closed() && s.overflowed.CompareAndSwap(false, true) {
			s.srv.metrics.queueOverflows.Inc()
			s.Logger().Warn("send queue overflow: disconnecting slow consumer",
				zap.Int("max_stanzas", s.queue.maxItems), zap.Int("max_bytes", s.queue.maxBytes))
			// Closing runs observers; do it off the sender's goroutine,
			// which may be a publisher in the middle of a fan-out.
			go s.Close(&StreamError{Condition: CondPolicyViolation, Text: "send queue overflow: the client is not reading fast enough"})
		}
		return false
	}
	s.outCount.Inc()
	if first {
		s.t.Wake()
	}
	return true
}

// SendBytes queues b (not modified afterwards) for the client.
func (s *Session) SendBytes(b []byte) bool { return s.Send(NewPacket(b)) }

// SendElement serialises el and queues it.
func (s *Session) SendElement(el *etree.Element) bool { return s.Send(NewPacket(Serialize(el))) }

// pushControl queues stream-level bytes past the limits.
func (s *Session) pushControl(b []byte) {
	if _, first := s.queue.push(NewPacket(b), true); first {
		s.t.Wake()
	}
}

// Outbound moves every queued packet to dst; transports call it when woken.
func (s *Session) Outbound(dst []Packet) []Packet { return s.queue.drain(dst) }

// HasOutbound reports whether packets are waiting.
func (s *Session) HasOutbound() bool { return !s.queue.empty() }

// Close ends the session from the server's side: the client gets the
// stream error (if any) and the stream close, then the transport ends.
func (s *Session) Close(serr *StreamError) {
	reason := "closed by server"
	if serr != nil {
		reason = serr.Error()
	}
	s.end(serr, reason, true)
}

// StreamClosed is called by the transport when the client closed its stream
// (</stream:stream>, <close/>, a BOSH terminate): the server closes its half.
func (s *Session) StreamClosed() { s.end(nil, "closed by client", true) }

// ConnectionLost is called by the transport when the connection is gone
// without a stream close. Nothing more can be written.
func (s *Session) ConnectionLost(err error) {
	reason := "connection lost"
	if err != nil {
		reason += ": " + err.Error()
	}
	s.end(nil, reason, false)
}

func (s *Session) end(serr *StreamError, reason string, goodbye bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.endReason = reason
	headerSent := s.headerSent
	routable := s.routable
	s.mu.Unlock()
	s.negotiation.Stop()

	cond := ""
	if goodbye {
		if !headerSent {
			// RFC 6120 §4.9.1.2: a stream error goes inside a stream.
			if h := s.t.StreamHeader(NewID(), s.srv.domain); h != nil {
				s.pushControl(h)
			}
		}
		if serr != nil {
			cond = serr.Condition
			s.srv.metrics.streamErrors.WithLabelValues(serr.Condition).Inc()
			s.pushControl(serr.Render())
		}
		if f := s.t.StreamFooter(); f != nil {
			s.pushControl(f)
		}
	}
	s.queue.seal()

	if routable {
		s.srv.router.unbind(s)
		if s.available.Swap(false) {
			s.broadcastToOwnResources(s.unavailablePresence())
		}
		for _, o := range s.srv.observerList() {
			o.SessionEnded(s, reason)
		}
	}
	if serr != nil && serr.Condition != CondSystemShutdown {
		s.Logger().Info("session ended", zap.String("reason", reason))
	} else {
		s.Logger().Debug("session ended", zap.String("reason", reason))
	}
	close(s.done)
	s.srv.forget(s)
	s.t.Shutdown(cond)
}

// StreamOpened is called by the transport when the client opens (or, after
// authentication or TLS, reopens) its stream.
func (s *Session) StreamOpened(h StreamHeader) {
	if s.Closed() {
		return
	}
	s.Touch()
	if s.state != stateWaitOpen {
		s.Close(&StreamError{Condition: CondPolicyViolation, Text: "the stream is already open"})
		return
	}
	id := NewID()
	s.streamID.Store(&id)
	if header := s.t.StreamHeader(id, s.srv.domain); header != nil {
		s.pushControl(header)
	}
	s.mu.Lock()
	s.headerSent = true
	s.mu.Unlock()
	if h.To != "" && !strings.EqualFold(strings.TrimSuffix(h.To, "."), s.srv.domain) {
		s.Close(&StreamError{Condition: CondHostUnknown, Text: "this server serves " + s.srv.domain})
		return
	}
	if !versionAtLeastOne(h.Version) {
		s.Close(&StreamError{Condition: CondUnsupportedVersion, Text: "XMPP 1.0 is required"})
		return
	}
	if s.authed {
		s.state = stateAuthenticated
	} else {
		s.state = stateNegotiating
	}
	s.pushControl(s.features())
}

func versionAtLeastOne(v string) bool {
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	return err == nil && n >= 1
}

func (s *Session) plainAllowed() bool { return s.t.Secure() || !s.srv.cfg.RequireEncryption }

func (s *Session) canStartTLS() bool {
	_, ok := s.t.(TLSUpgrader)
	return ok && !s.t.Secure() && !s.authed
}

// features renders <stream:features/> for the current stream. XEP-0198 is
// never offered: Strophe 5 would use it and Finesse does not support it.
func (s *Session) features() []byte {
	var b bytes.Buffer
	b.WriteString(`<stream:features xmlns:stream='` + NSStream + `'>`)
	if !s.authed {
		if s.canStartTLS() {
			if s.plainAllowed() {
				b.WriteString(`<starttls xmlns='` + NSTLS + `'/>`)
			} else {
				b.WriteString(`<starttls xmlns='` + NSTLS + `'><required/></starttls>`)
			}
		}
		if s.plainAllowed() {
			b.WriteString(`<mechanisms xmlns='` + NSSASL + `'><mechanism>PLAIN</mechanism></mechanisms>`)
		}
	} else {
		b.WriteString(`<bind xmlns='` + NSBind + `'/>`)
		b.WriteString(`<session xmlns='` + NSSession + `'><optional/></session>`)
	}
	b.WriteString(`</stream:features>`)
	return b.Bytes()
}

// HandleElement is called by the transport for each top-level element.
func (s *Session) HandleElement(el *etree.Element) {
	if s.Closed() {
		return
	}
	s.Touch()
	s.inCount.Inc()
	ns := el.NamespaceURI()
	if ns == NSStreamMgmt3 || ns == NSStreamMgmt2 {
		// Never offered; answer rather than leave a client waiting.
		s.pushControl([]byte(`<failed xmlns='` + ns + `'><feature-not-implemented xmlns='` + NSStanzaErrors + `'/></failed>`))
		return
	}
	switch s.state {
	case stateWaitOpen:
		s.Close(&StreamError{Condition: CondPolicyViolation, Text: "a stream restart was expected"})
	case stateNegotiating:
		s.negotiate(el, ns)
	case stateAuthenticated, stateBound:
		if ns != NSClient {
			s.Close(&StreamError{Condition: CondUnsupportedStanza, Text: "unexpected <" + el.Tag + "/> in " + ns})
			return
		}
		switch el.Tag {
		case "iq":
			s.handleIQ(el)
		case "message":
			if s.requireBound() {
				s.handleMessage(el)
			}
		case "presence":
			if s.requireBound() {
				s.handlePresence(el)
			}
		default:
			s.Close(&StreamError{Condition: CondUnsupportedStanza, Text: "unknown stanza <" + el.Tag + "/>"})
		}
	}
}

func (s *Session) requireBound() bool {
	if s.state == stateBound {
		return true
	}
	s.Close(&StreamError{Condition: CondNotAuthorized, Text: "bind a resource first"})
	return false
}

// negotiate handles what may come before authentication.
func (s *Session) negotiate(el *etree.Element, ns string) {
	switch {
	case ns == NSSASL && el.Tag == "auth" && !s.saslWaiting:
		s.handleAuth(el)
	case ns == NSSASL && el.Tag == "response" && s.saslWaiting:
		s.saslWaiting = false
		s.checkPlain(el.Text())
	case ns == NSSASL && el.Tag == "abort":
		s.saslWaiting = false
		s.saslFailure("aborted", "")
	case ns == NSTLS && el.Tag == "starttls" && s.canStartTLS():
		s.pushControl([]byte(`<proceed xmlns='` + NSTLS + `'/>`))
		s.state = stateWaitOpen
		s.t.(TLSUpgrader).StartTLS()
	default:
		s.Close(&StreamError{Condition: CondNotAuthorized, Text: "authenticate first"})
	}
}

func (s *Session) handleAuth(el *etree.Element) {
	if mech := el.SelectAttrValue("mechanism", ""); mech != "PLAIN" {
		s.saslFailure("invalid-mechanism", "only PLAIN is offered")
		return
	}
	if !s.plainAllowed() {
		s.saslFailure("encryption-required", "start TLS before PLAIN")
		return
	}
	data := strings.TrimSpace(el.Text())
	if data == "" {
		// PLAIN without an initial response: ask for it (RFC 6120 §6.4.2).
		s.saslWaiting = true
		s.pushControl([]byte(`<challenge xmlns='` + NSSASL + `'/>`))
		return
	}
	s.checkPlain(data)
}

// checkPlain verifies a PLAIN message (RFC 4616): authzid NUL authcid NUL passwd.
func (s *Session) checkPlain(data string) {
	data = strings.TrimSpace(data)
	if data == "=" {
		data = ""
	}
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		s.saslFailure("incorrect-encoding", "")
		return
	}
	parts := bytes.Split(raw, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		s.saslFailure("malformed-request", "")
		return
	}
	authzid, authcid, password := string(parts[0]), string(parts[1]), string(parts[2])
	local, ok := s.srv.cfg.Accounts.Authenticate(authcid, password)
	if !ok {
		s.authFailures++
		s.srv.metrics.authFailures.Inc()
		s.Logger().Info("authentication failed", zap.String("user", authcid), zap.String("remote", s.t.RemoteAddr()))
		s.saslFailure("not-authorized", "")
		if s.authFailures >= s.srv.cfg.MaxAuthFailures {
			s.Close(&StreamError{Condition: CondPolicyViolation, Text: "too many failed authentication attempts"})
		}
		return
	}
	if authzid != "" {
		want := JID{Local: local, Domain: s.srv.domain}
		z, err := ParseJID(authzid)
		if err != nil || (z != want && !strings.EqualFold(authzid, local)) {
			s.saslFailure("invalid-authzid", "")
			return
		}
	}
	s.authed = true
	s.user = local
	s.state = stateWaitOpen
	s.pushControl([]byte(`<success xmlns='` + NSSASL + `'/>`))
	if r, ok := s.t.(StreamResetter); ok {
		r.ResetStream()
	}
}

func (s *Session) saslFailure(cond, text string) {
	var b strings.Builder
	b.WriteString(`<failure xmlns='` + NSSASL + `'><` + cond + `/>`)
	if text != "" {
		b.WriteString(`<text xml:lang='en'>` + escapeText(text) + `</text>`)
	}
	b.WriteString(`</failure>`)
	s.pushControl([]byte(b.String()))
}

// bind binds the session's resource (RFC 6120 §7).
func (s *Session) bind(iq, bindEl *etree.Element) {
	if s.state == stateBound {
		s.replyError(iq, &StanzaError{Type: ErrTypeCancel, Condition: "not-allowed", Text: "a resource is already bound"})
		return
	}
	res := ""
	if r := bindEl.SelectElement("resource"); r != nil {
		res = strings.TrimSpace(r.Text())
	}
	if res == "" {
		res = "fn-" + randomID(6)
	}
	full, err := ParseJID(s.user + "@" + s.srv.domain + "/" + res)
	if err != nil || full.Resource != res {
		s.replyError(iq, &StanzaError{Type: ErrTypeModify, Condition: "bad-request", Text: "invalid resource"})
		return
	}
	// jid is written once, here, before the router can hand s to others.
	s.mu.Lock()
	s.jid = full
	s.mu.Unlock()
	replaced, serr := s.srv.router.bind(s, full, s.srv.cfg.MaxResourcesPerUser)
	if serr != nil {
		s.replyError(iq, serr)
		return
	}
	s.mu.Lock()
	if s.closed {
		// Ended (timeout, shutdown) while binding: take it out again.
		s.mu.Unlock()
		s.srv.router.unbind(s)
		return
	}
	s.routable = true
	s.mu.Unlock()
	if replaced != nil {
		replaced.Close(&StreamError{Condition: CondConflict, Text: "replaced by a new session for the same resource"})
	}
	s.state = stateBound
	s.negotiation.Stop()
	s.Logger().Info("session bound", zap.String("remote", s.t.RemoteAddr()))
	s.SendBytes([]byte(`<iq xmlns='` + NSClient + `' type='result' id='` + escapeText(iq.SelectAttrValue("id", "")) +
		`'><bind xmlns='` + NSBind + `'><jid>` + escapeText(full.String()) + `</jid></bind></iq>`))
	for _, o := range s.srv.observerList() {
		o.SessionBound(s)
	}
}

// replyError answers stanza with e, from the address it was sent to.
func (s *Session) replyError(stanza *etree.Element, e *StanzaError) {
	if stanza.SelectAttrValue("type", "") == "error" {
		return // never answer an error with an error (RFC 6120 §8.3.1)
	}
	from := stanza.SelectAttrValue("to", "")
	to := ""
	if !s.jid.IsZero() {
		to = s.jid.String()
	}
	s.SendElement(ErrorReply(stanza, e, from, to))
}

// ReplyError answers a stanza this session sent with a stanza error from
// the address it was sent to. Components use it.
func (s *Session) ReplyError(stanza *etree.Element, e *StanzaError) { s.replyError(stanza, e) }

// handlePresence implements the parts of RFC 6121 presence this server
// needs: broadcast presence with priority to the user's own resources,
// directed presence between local users. There are no rosters, so
// subscription requests and probes are dropped.
func (s *Session) handlePresence(el *etree.Element) {
	typ := el.SelectAttrValue("type", "")
	el.CreateAttr("from", s.jid.String())
	if to := el.SelectAttrValue("to", ""); to != "" {
		s.directedPresence(el, to, typ)
		return
	}
	switch typ {
	case "":
		prio := 0
		if p := el.SelectElement("priority"); p != nil {
			n, err := strconv.Atoi(strings.TrimSpace(p.Text()))
			if err != nil || n < -128 || n > 127 {
				s.replyError(el, &StanzaError{Type: ErrTypeModify, Condition: "bad-request", Text: "priority must be an integer from -128 to 127"})
				return
			}
			prio = n
		}
		stored := el.Copy()
		s.mu.Lock()
		s.lastPresence = stored
		s.mu.Unlock()
		s.priority.Store(int32(prio))
		initial := !s.available.Swap(true)
		s.broadcastToOwnResources(stored)
		if initial {
			s.receiveOwnResourcesPresence()
		}
		for _, o := range s.srv.observerList() {
			o.PresenceChanged(s, Presence{Available: true, Priority: prio, Initial: initial})
		}
	case "unavailable":
		if s.available.Swap(false) {
			s.broadcastToOwnResources(el)
			for _, o := range s.srv.observerList() {
				o.PresenceChanged(s, Presence{Available: false})
			}
		}
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "error":
		// No rosters: nothing to do.
	default:
		s.replyError(el, &StanzaError{Type: ErrTypeModify, Condition: "bad-request", Text: "unknown presence type"})
	}
}

func (s *Session) unavailablePresence() *etree.Element {
	p := etree.NewElement("presence")
	p.CreateAttr("xmlns", NSClient)
	p.CreateAttr("from", s.jid.String())
	p.CreateAttr("type", "unavailable")
	return p
}

// broadcastToOwnResources sends presence to the user's other available
// resources. The sender gets no echo, as in the Openfire Finesse runs.
func (s *Session) broadcastToOwnResources(presence *etree.Element) {
	for _, o := range s.srv.router.resources(s.jid.Bare()) {
		if o == s || !o.Available() {
			continue
		}
		p := presence.Copy()
		p.CreateAttr("to", o.jid.String())
		o.SendElement(p)
	}
}

func (s *Session) receiveOwnResourcesPresence() {
	for _, o := range s.srv.router.resources(s.jid.Bare()) {
		if o == s || !o.Available() {
			continue
		}
		o.mu.Lock()
		last := o.lastPresence
		o.mu.Unlock()
		if last == nil {
			continue
		}
		p := last.Copy()
		p.CreateAttr("to", s.jid.String())
		s.SendElement(p)
	}
}

func (s *Session) directedPresence(el *etree.Element, to, typ string) {
	if typ != "" && typ != "unavailable" {
		return // subscriptions, probes and errors: no rosters here
	}
	j, err := ParseJID(to)
	if err != nil {
		return
	}
	if j.Domain != s.srv.domain {
		if c, ok := s.srv.component(j.Domain); ok {
			c.HandleStanza(s, el)
		}
		return
	}
	if j.Local == "" {
		return
	}
	data := NewPacket(Serialize(el))
	for _, o := range s.srv.router.resources(j.Bare()) {
		if j.Resource == "" || o.jid.Resource == j.Resource {
			o.Send(data)
		}
	}
}

// handleMessage routes a message (RFC 6121 §8.5). Nothing is stored for
// offline users.
func (s *Session) handleMessage(el *etree.Element) {
	typ := el.SelectAttrValue("type", "normal")
	toAttr := el.SelectAttrValue("to", "")
	var to JID
	if toAttr == "" {
		to = s.jid.Bare()
	} else {
		var err error
		if to, err = ParseJID(toAttr); err != nil {
			s.replyError(el, ErrJIDMalformed)
			return
		}
	}
	el.CreateAttr("from", s.jid.String())
	if to.Domain != s.srv.domain {
		if c, ok := s.srv.component(to.Domain); ok {
			c.HandleStanza(s, el)
			return
		}
		s.replyError(el, ErrRemoteServerNotFound)
		return
	}
	if to.Local == "" || !s.srv.isLocalUser(to) {
		if typ != "error" && typ != "headline" {
			s.replyError(el, ErrServiceUnavailable)
		}
		return
	}
	resources := s.srv.router.resources(to.Bare())
	if to.Resource != "" {
		for _, o := range resources {
			if o.jid.Resource == to.Resource {
				o.SendElement(el)
				return
			}
		}
		// The full JID is offline: normal and chat fall back to the bare
		// JID; the rest is an error or dropped.
		switch typ {
		case "normal", "chat":
		case "groupchat":
			s.replyError(el, ErrServiceUnavailable)
			return
		default:
			return
		}
	}
	if typ == "groupchat" {
		s.replyError(el, ErrServiceUnavailable)
		return
	}
	best := -1
	for _, o := range resources {
		if o.Available() && o.Priority() > best {
			best = o.Priority()
		}
	}
	var targets []*Session
	for _, o := range resources {
		if !o.Available() || o.Priority() < 0 {
			continue
		}
		if typ == "headline" || o.Priority() == best {
			targets = append(targets, o)
		}
	}
	if len(targets) == 0 {
		if typ == "normal" || typ == "chat" {
			s.replyError(el, ErrServiceUnavailable)
		}
		return
	}
	data := NewPacket(Serialize(el))
	for _, o := range targets {
		o.Send(data)
	}
}
