package loadtest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// session is one client: its login, and then a loop that answers pings
// and records events. Everything but the counters is owned by the
// session's goroutine.
type session struct {
	r      *runner
	idx    int
	kind   string // TransportWS, TransportBOSH, TransportTCP
	user   string // the directory id
	local  string // the JID localpart
	pass   string
	res    string
	admin  bool // the XEP-0060 publisher: no presence, no subscription
	node   int  // the index of the node it expects events from
	stream uint64
	w      wire
	jid    string // the full JID the server bound
	seq    seqTracker
	nextID int

	// onResult receives IQ results and errors after login (the admin's
	// publish and create answers).
	onResult func(id string, ok bool, el []byte)

	// Read by the progress and summary code while the session runs.
	established atomic.Bool
	received    atomic.Uint64 // distinct events
	duplicated  atomic.Uint64
	outOfOrder  atomic.Uint64
	misrouted   atomic.Uint64
	pings       atomic.Uint64
}

// loginError is a session that could not be established.
type loginError struct {
	step string
	err  error
}

func (e *loginError) Error() string { return e.step + ": " + e.err.Error() }
func (e *loginError) Unwrap() error { return e.err }

// dial opens the session's wire.
func (s *session) dial(ctx context.Context) error {
	cfg := &s.r.cfg
	// s.w is set only on success: a nil *tcpWire in the interface would
	// not be a nil wire.
	switch s.kind {
	case TransportTCP:
		w, err := dialTCP(ctx, cfg.TCPAddr, cfg.Domain, cfg.TLS, cfg.MaxStanzaBytes)
		if err != nil {
			return err
		}
		s.w = w
	case TransportWS:
		w, err := dialWS(ctx, s.r.wsDialer, cfg.WSURL, cfg.Domain, cfg.MaxStanzaBytes)
		if err != nil {
			return err
		}
		s.w = w
	case TransportBOSH:
		s.w = newBOSH(s.r.boshClient, cfg.BOSHURL, cfg.Domain, cfg.BOSHWait, cfg.MaxStanzaBytes)
	default:
		return fmt.Errorf("unknown transport %q", s.kind)
	}
	return nil
}

// login negotiates the stream up to an established session: STARTTLS
// when offered over TCP, SASL PLAIN, bind, then (for subscribers)
// presence with priority 0, finesse@'s presence on finesse-notify, and
// the XEP-0060 subscription in own and shared modes.
func (s *session) login(ctx context.Context) error {
	cfg := &s.r.cfg
	if err := s.dial(ctx); err != nil {
		return &loginError{"connect", err}
	}
	deadline, _ := ctx.Deadline()
	s.w.setDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { s.w.close(false) })
	defer stop()

	if err := s.w.open(); err != nil {
		return &loginError{"open stream", err}
	}
	features, err := s.await("stream features", isFeatures)
	if err != nil {
		return &loginError{"open stream", err}
	}
	if ts, ok := s.w.(tlsStarter); ok && ts.canStartTLS() && !cfg.NoStartTLS && contains(features, "<starttls") {
		if err := s.w.send([]byte(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)); err != nil {
			return &loginError{"starttls", err}
		}
		el, err := s.await("starttls answer", func(el []byte) bool { return isTag(el, "proceed") || isTag(el, "failure") })
		if err != nil {
			return &loginError{"starttls", err}
		}
		if !isTag(el, "proceed") {
			return &loginError{"starttls", errors.New("refused")}
		}
		if err := ts.startTLS(); err != nil {
			return &loginError{"starttls", err}
		}
		if err := s.w.open(); err != nil {
			return &loginError{"starttls", err}
		}
		if features, err = s.await("stream features", isFeatures); err != nil {
			return &loginError{"starttls", err}
		}
	}
	if !contains(features, ">PLAIN<") {
		return &loginError{"auth", fmt.Errorf("SASL PLAIN not offered: %s", features)}
	}
	cred := base64.StdEncoding.EncodeToString([]byte("\x00" + s.local + "\x00" + s.pass))
	if err := s.w.send([]byte(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + cred + `</auth>`)); err != nil {
		return &loginError{"auth", err}
	}
	el, err := s.await("SASL outcome", func(el []byte) bool { return isTag(el, "success") || isTag(el, "failure") })
	if err != nil {
		return &loginError{"auth", err}
	}
	if !isTag(el, "success") {
		return &loginError{"auth", fmt.Errorf("refused: %s", saslCondition(el))}
	}
	if err := s.w.open(); err != nil {
		return &loginError{"restart", err}
	}
	if features, err = s.await("stream features", isFeatures); err != nil {
		return &loginError{"restart", err}
	}
	el, err = s.iq(`<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>`+escape(s.res)+`</resource></bind>`, "")
	if err != nil {
		return &loginError{"bind", err}
	}
	s.jid, _ = childText(el, "jid")
	// RFC 3921 sessions: only where the server still requires one.
	if contains(features, "urn:ietf:params:xml:ns:xmpp-session") && !contains(features, "<optional") {
		if _, err := s.iq(`<session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>`, ""); err != nil {
			return &loginError{"session", err}
		}
	}
	if s.admin {
		s.w.setDeadline(time.Time{})
		return nil
	}
	if err := s.w.send([]byte(`<presence xmlns='jabber:client'><priority>0</priority></presence>`)); err != nil {
		return &loginError{"presence", err}
	}
	if cfg.Server == ServerFinesse {
		from := "finesse@" + strings.ToLower(cfg.Domain)
		if _, err := s.await("presence from "+from, func(el []byte) bool {
			f, _ := attr(el, "from")
			return isTag(el, "presence") && (f == from || strings.HasPrefix(f, from+"/"))
		}); err != nil {
			return &loginError{"finesse presence", err}
		}
	}
	if node := s.r.subscribeNode(s); node != "" {
		_, err := s.iq(`<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='`+escape(node)+
			`' jid='`+escape(s.local+"@"+cfg.Domain)+`'/></pubsub>`, cfg.PubSubJID)
		if err != nil {
			return &loginError{"subscribe " + node, err}
		}
	}
	s.w.setDeadline(time.Time{})
	return nil
}

// iq sends an IQ set and awaits its answer; an error answer is an error.
func (s *session) iq(payload, to string) ([]byte, error) {
	s.nextID++
	id := "l" + strconv.Itoa(s.nextID)
	head := `<iq xmlns='jabber:client' type='set' id='` + id + `'`
	if to != "" {
		head += ` to='` + escape(to) + `'`
	}
	if err := s.w.send([]byte(head + `>` + payload + `</iq>`)); err != nil {
		return nil, err
	}
	el, err := s.await("answer to "+id, func(el []byte) bool {
		v, _ := attr(el, "id")
		return isTag(el, "iq") && v == id
	})
	if err != nil {
		return nil, err
	}
	if t, _ := attr(el, "type"); t != "result" {
		return nil, fmt.Errorf("error answer: %s", stanzaErrorCondition(el))
	}
	return el, nil
}

func isFeatures(el []byte) bool {
	name := tagName(el)
	return string(name) == "stream:features" || strings.HasSuffix(string(name), ":features") || string(name) == "features"
}

// await reads until match accepts an element, handling the others as
// the receive loop would. The element returned is valid until the next
// read.
func (s *session) await(what string, match func([]byte) bool) ([]byte, error) {
	for {
		el, err := s.w.next()
		if err != nil {
			return nil, fmt.Errorf("waiting for %s: %w", what, err)
		}
		if match(el) {
			return el, nil
		}
		if err := s.handle(el); err != nil {
			return nil, fmt.Errorf("waiting for %s: %w", what, err)
		}
	}
}

// receive is the loop of an established session. It returns when the
// stream ends.
func (s *session) receive() error {
	for {
		el, err := s.w.next()
		if err != nil {
			return err
		}
		if err := s.handle(el); err != nil {
			return err
		}
	}
}

// handle is the receiving path: it must stay cheap.
func (s *session) handle(el []byte) error {
	switch string(tagName(el)) {
	case "message":
		s.onMessage(el)
	case "iq":
		return s.onIQ(el)
	case "stream:error":
		return fmt.Errorf("stream error: %s", streamErrorCondition(el))
	}
	return nil
}

// saslCondition names the condition of a SASL <failure/>.
func saslCondition(el []byte) string {
	n, _, err := startTagEnd(el)
	if err != nil {
		return "malformed failure"
	}
	if name := tagName(trimSpace(el[n:])); len(name) > 0 {
		return string(name)
	}
	return "no condition"
}

// streamErrorCondition names the condition of a <stream:error/>.
func streamErrorCondition(el []byte) string { return saslCondition(el) }

func (s *session) onMessage(el []byte) {
	stream, seq, ts, ok := findToken(el)
	if !ok || s.admin {
		return
	}
	if ts < s.r.startNanos {
		// Published before this run: a server that sends a node's last
		// item on subscription or presence (ejabberd's default).
		return
	}
	now := time.Now().UnixNano()
	if s.r.cfg.Mode == ModeTask {
		s.r.onTask(s, el, seq, ts, now)
		return
	}
	if stream != s.stream {
		s.misrouted.Add(1)
		return
	}
	switch s.seq.add(seq) {
	case arrivalDuplicate:
		s.duplicated.Add(1)
		return
	case arrivalOutOfOrder:
		s.outOfOrder.Add(1)
	}
	s.received.Add(1)
	s.r.histogram().Record(time.Duration(now - ts))
}

// onIQ answers the server's requests: a ping with a result, anything else
// with service-unavailable, as RFC 6120 §8.2.3 wants every get and set
// answered.
func (s *session) onIQ(el []byte) error {
	typ, _ := attr(el, "type")
	id, _ := attr(el, "id")
	switch typ {
	case "get", "set":
		from, hasFrom := attr(el, "from")
		to := ""
		if hasFrom {
			to = ` to='` + escape(from) + `'`
		}
		if typ == "get" && contains(el, "urn:xmpp:ping") {
			s.pings.Add(1)
			return s.w.send([]byte(`<iq xmlns='jabber:client' type='result' id='` + escape(id) + `'` + to + `/>`))
		}
		return s.w.send([]byte(`<iq xmlns='jabber:client' type='error' id='` + escape(id) + `'` + to +
			`><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`))
	case "result", "error":
		if s.onResult != nil {
			s.onResult(id, typ == "result", el)
		}
	}
	return nil
}

// stanzaErrorCondition names the condition of an error answer.
func stanzaErrorCondition(el []byte) string {
	i := strings.Index(string(el), "<error")
	if i < 0 {
		return "no error element"
	}
	rest := el[i:]
	n, _, err := startTagEnd(rest)
	if err != nil {
		return "malformed error"
	}
	rest = trimSpace(rest[n:])
	if name := tagName(rest); len(name) > 0 {
		return string(name)
	}
	return "unknown condition"
}
