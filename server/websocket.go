package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"
	"go.uber.org/zap"
)

// WebSocketOptions configure the WebSocket transport (RFC 7395).
type WebSocketOptions struct {
	// PingInterval is how often a WebSocket ping frame is sent (default
	// 30 s; negative disables). The client's pong counts as activity.
	PingInterval time.Duration
	// WriteTimeout bounds each write to the client (default 10 s). It also
	// bounds how long the server waits for the client's close frame once
	// it has sent its own.
	WriteTimeout time.Duration
	// CheckOrigin accepts or refuses a handshake by its Origin header. nil
	// accepts any origin: Finesse gadgets and third-party desktops are
	// served from other origins as a matter of course.
	CheckOrigin func(*http.Request) bool
}

// WebSocket close codes (RFC 6455 §7.4.1) this transport sends.
const (
	wsCloseNormal      = 1000
	wsCloseUnsupported = 1003 // a binary frame: data of a type the endpoint cannot accept
	wsCloseTooBig      = 1009 // a frame over the size limit
)

// wsSubprotocol is the WebSocket subprotocol RFC 7395 registers.
const wsSubprotocol = "xmpp"

// wsConn is what the transport needs of a WebSocket library, so that the
// library can be replaced by rewriting ws_gorilla.go alone. One goroutine
// calls NextFrame (and, through it, the control handler); another calls the
// Write methods; Close may be called from either.
type wsConn interface {
	// NextFrame waits for the next data message and returns whether it is
	// binary and a reader of its payload, valid until the next call. A
	// close frame from the peer is returned as *wsPeerClosed, a message
	// over the read limit as errWSReadLimit; every error is final.
	NextFrame() (binary bool, payload io.Reader, err error)
	// WriteText writes frame as one text frame.
	WriteText(frame []byte, deadline time.Time) error
	// WritePing writes a ping frame.
	WritePing(deadline time.Time) error
	// WriteClose writes a close frame; nothing may be written after it.
	WriteClose(code int, reason string, deadline time.Time) error
	// SetReadLimit makes a message longer than n bytes fail NextFrame with
	// errWSReadLimit; the library then closes the connection with 1009.
	SetReadLimit(n int64)
	// SetControlHandler registers f, called on the reading goroutine for
	// every ping and pong frame received. Pings are still answered.
	SetControlHandler(f func())
	// Close closes the network connection at once.
	Close() error
}

// wsUpgrader completes a WebSocket handshake whose request has already
// been checked for the xmpp subprotocol, echoing it in the response. On
// failure it has written the HTTP error response itself.
type wsUpgrader func(w http.ResponseWriter, r *http.Request) (wsConn, error)

// errWSReadLimit is NextFrame's error for a message over the hard read limit.
var errWSReadLimit = errors.New("websocket: message over the read limit")

// wsPeerClosed is NextFrame's error when the peer sent a close frame.
type wsPeerClosed struct {
	Code int
	Text string
}

func (e *wsPeerClosed) Error() string {
	return fmt.Sprintf("websocket closed by the client (code %d)", e.Code)
}

// WebSocketHandler serves XMPP over WebSocket (RFC 7395). It is mounted at
// /ws and /ws/.
func (srv *Server) WebSocketHandler(opts WebSocketOptions) http.Handler {
	if opts.PingInterval == 0 {
		opts.PingInterval = 30 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	checkOrigin := opts.CheckOrigin
	if checkOrigin == nil {
		checkOrigin = func(*http.Request) bool { return true }
	}
	return &wsHandler{srv: srv, opts: opts, upgrade: newWSUpgrader(checkOrigin)}
}

type wsHandler struct {
	srv     *Server
	opts    WebSocketOptions
	upgrade wsUpgrader
}

func (h *wsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Refuse what is not an XMPP WebSocket handshake before upgrading, with
	// a status and a reason a person reading a browser console understands.
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			h.refuse(w, r, http.StatusMethodNotAllowed, "XMPP over WebSocket (RFC 7395) is served here: use a WebSocket GET")
			return
		}
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		h.refuse(w, r, http.StatusUpgradeRequired, "XMPP over WebSocket (RFC 7395) is served here: upgrade to WebSocket with subprotocol xmpp")
		return
	}
	if !offersSubprotocol(r.Header, wsSubprotocol) {
		h.refuse(w, r, http.StatusBadRequest, "the xmpp WebSocket subprotocol (RFC 7395) is required: send Sec-WebSocket-Protocol: xmpp")
		return
	}
	conn, err := h.upgrade(w, r)
	if err != nil {
		h.srv.log.Debug("websocket handshake failed", zap.String("remote", r.RemoteAddr), zap.Error(err))
		return
	}
	limits := h.srv.Limits()
	conn.SetReadLimit(wsHardReadLimit(limits.MaxBytes))
	t := &wsTransport{
		srv:      h.srv,
		opts:     h.opts,
		conn:     conn,
		remote:   r.RemoteAddr,
		secure:   r.TLS != nil,
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		readDone: make(chan struct{}),
	}
	// The handler runs on the reading goroutine, after sess is set.
	conn.SetControlHandler(func() { t.sess.Touch() })
	t.sess = h.srv.NewSession(t)
	go t.writeLoop()
	t.readLoop()
}

func (h *wsHandler) refuse(w http.ResponseWriter, r *http.Request, status int, reason string) {
	h.srv.log.Debug("websocket handshake refused", zap.String("remote", r.RemoteAddr), zap.Int("status", status), zap.String("reason", reason))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, reason+"\n")
}

// headerHasToken reports whether a comma-separated header (any of its
// lines) lists token, ignoring case as HTTP does for Upgrade.
func headerHasToken(h http.Header, name, token string) bool {
	return headerHas(h, name, func(v string) bool { return strings.EqualFold(v, token) })
}

// offersSubprotocol reports whether the handshake offers subprotocol p.
// Subprotocol names compare exactly, as browsers compare the answer.
func offersSubprotocol(h http.Header, p string) bool {
	return headerHas(h, "Sec-WebSocket-Protocol", func(v string) bool { return v == p })
}

func headerHas(h http.Header, name string, match func(string) bool) bool {
	for _, line := range h.Values(name) {
		for _, v := range strings.Split(line, ",") {
			if match(strings.TrimSpace(v)) {
				return true
			}
		}
	}
	return false
}

// wsHardReadLimit is the library's own message limit: a backstop above the
// stanza limit, so that a frame just over the stanza limit still gets a
// policy-violation stream error from the transport, while one far over it
// is refused by the library (close code 1009) from its header alone.
func wsHardReadLimit(maxBytes int) int64 {
	slack := maxBytes / 4
	if slack < 4096 {
		slack = 4096
	}
	return int64(maxBytes) + int64(slack)
}

// wsTransport is the WebSocket transport: the handler's goroutine reads
// frames and feeds the session, another goroutine drains the session's
// queue into frames and sends the pings.
type wsTransport struct {
	srv    *Server
	opts   WebSocketOptions
	conn   wsConn
	sess   *Session
	remote string
	secure bool

	wake     chan struct{}
	stop     chan struct{}
	stopOnce sync.Once

	// closeCode is the close frame's code when it is not 1000; set by the
	// reader before it ends the session, read by the writer after stop.
	closeCode atomic.Int32
	// readEnd says why the reader stopped (wsReading while it runs); it
	// is set before the reader tells the session. readDone is closed when
	// the reader has returned.
	readEnd  atomic.Int32
	readDone chan struct{}
}

// Why the reader stopped.
const (
	wsReading    = iota
	wsPeerClose  // the client sent a close frame
	wsReadFailed // the connection failed, or the library closed it
)

func (t *wsTransport) Kind() string       { return "websocket" }
func (t *wsTransport) Secure() bool       { return t.secure }
func (t *wsTransport) RemoteAddr() string { return t.remote }

// StreamHeader is RFC 7395's <open/>, the server's half of the stream open.
func (t *wsTransport) StreamHeader(id, domain string) []byte {
	return []byte(`<open xmlns='` + NSFraming + `' id='` + escapeText(id) + `' from='` + escapeText(domain) +
		`' version='1.0' xml:lang='en'/>`)
}

// StreamFooter is RFC 7395's <close/>.
func (t *wsTransport) StreamFooter() []byte { return []byte(`<close xmlns='` + NSFraming + `'/>`) }

func (t *wsTransport) Wake() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *wsTransport) Shutdown(string) { t.stopOnce.Do(func() { close(t.stop) }) }

// endWith ends the session with serr, closing the WebSocket with code
// afterwards.
func (t *wsTransport) endWith(serr *StreamError, code int32) {
	if !t.sess.Closed() {
		t.closeCode.CompareAndSwap(0, code)
	}
	t.sess.Close(serr)
}

// readLoop reads frames until the connection ends. Once the session has
// ended it goes on reading, and dropping, frames until the client's close
// frame, so that the close handshake completes and the client's last
// frames do not turn the server's close into a TCP reset.
func (t *wsTransport) readLoop() {
	defer close(t.readDone)
	limits := t.srv.Limits()
	var frame bytes.Buffer
	for {
		binary, payload, err := t.conn.NextFrame()
		if err != nil {
			t.readFailed(err)
			return
		}
		t.sess.Touch()
		if t.sess.Closed() {
			continue // NextFrame discards what is left unread
		}
		if binary {
			// RFC 7395: XMPP frames are text. This is not a stanza of
			// an unknown kind (unsupported-stanza-type) but data in a
			// format the stream does not carry at all: bad-format.
			t.endWith(&StreamError{Condition: CondBadFormat, Text: "binary frames are not allowed: XMPP over WebSocket is text (RFC 7395)"}, wsCloseUnsupported)
			continue
		}
		frame.Reset()
		// Read one byte past the limit, and no more, to tell an oversize
		// frame without buffering it.
		_, err = frame.ReadFrom(io.LimitReader(payload, int64(limits.MaxBytes)+1))
		if err != nil {
			t.readFailed(err)
			return
		}
		if frame.Len() > limits.MaxBytes {
			t.endWith(&StreamError{Condition: CondPolicyViolation, Text: fmt.Sprintf("frame larger than %d bytes", limits.MaxBytes)}, wsCloseTooBig)
			continue
		}
		t.handleFrame(frame.Bytes(), limits)
		if frame.Cap() > 64<<10 {
			frame = bytes.Buffer{} // do not keep a large buffer for an idle session
		}
	}
}

// readFailed handles NextFrame's final error.
func (t *wsTransport) readFailed(err error) {
	var pc *wsPeerClosed
	if errors.As(err, &pc) {
		t.readEnd.Store(wsPeerClose)
	} else {
		t.readEnd.Store(wsReadFailed)
	}
	switch {
	case pc != nil:
		if !t.sess.Closed() {
			t.sess.ConnectionLost(fmt.Errorf("client closed the websocket without <close/>: code %d", pc.Code))
		}
	case errors.Is(err, errWSReadLimit):
		// The library has already sent its close frame (1009); the stream
		// error is recorded but cannot be written any more.
		t.sess.Close(&StreamError{Condition: CondPolicyViolation, Text: fmt.Sprintf("frame far larger than %d bytes", t.srv.Limits().MaxBytes)})
	default:
		t.sess.ConnectionLost(fmt.Errorf("websocket read: %w", err))
	}
}

// handleFrame turns one text frame into a stream event.
func (t *wsTransport) handleFrame(data []byte, limits Limits) {
	if len(bytes.TrimSpace(data)) == 0 {
		// A frame of whitespace is taken as a keepalive, as whitespace
		// between stanzas is on TCP. It has been counted as life.
		return
	}
	el, err := ParseDocument(data, limits)
	if err != nil {
		var se *StreamError
		if !errors.As(err, &se) {
			se = &StreamError{Condition: CondNotWellFormed, Text: err.Error()}
		}
		t.endWith(se, wsCloseNormal)
		return
	}
	switch ns := el.NamespaceURI(); {
	case ns == NSFraming && el.Tag == "open":
		t.sess.StreamOpened(StreamHeader{
			To:      el.SelectAttrValue("to", ""),
			From:    el.SelectAttrValue("from", ""),
			Version: el.SelectAttrValue("version", ""),
			Lang:    el.SelectAttrValue("xml:lang", ""),
		})
	case ns == NSFraming && el.Tag == "close":
		t.sess.StreamClosed()
	case ns == NSFraming:
		t.endWith(&StreamError{Condition: CondInvalidNamespace, Text: "only <open/> and <close/> are in " + NSFraming + "; stanzas are in " + NSClient}, wsCloseNormal)
	case ns == "":
		// Each frame is a document of its own, with no stream element to
		// inherit a default namespace from: a bare stanza is jabber:client.
		setDefaultNamespace(el, NSClient)
		t.sess.HandleElement(el)
	default:
		t.sess.HandleElement(el)
	}
}

// setDefaultNamespace declares ns as el's default namespace, which its
// unqualified descendants then inherit.
func setDefaultNamespace(el *etree.Element, ns string) { el.CreateAttr("xmlns", ns) }

// writeLoop writes what the session queues, one packet per text frame, and
// the pings; at shutdown it writes what is left, the close frame, waits a
// bounded time for the client's close frame and closes the connection.
func (t *wsTransport) writeLoop() {
	defer t.sess.TransportFinished()
	defer t.conn.Close()
	var ping <-chan time.Time
	if t.opts.PingInterval > 0 {
		ticker := time.NewTicker(t.opts.PingInterval)
		defer ticker.Stop()
		ping = ticker.C
	}
	var (
		batch   []Packet
		scratch []byte // joins a multi-segment packet into one frame
	)
	for {
		stopping := false
		select {
		case <-t.wake:
		case <-t.stop:
			stopping = true
		case <-ping:
			if err := t.conn.WritePing(time.Now().Add(t.opts.WriteTimeout)); err != nil {
				t.sess.ConnectionLost(fmt.Errorf("websocket ping: %w", err))
				return
			}
			continue
		}
		// Once the reader has stopped the session is ending (stop is
		// due if it has not come): write no more data.
		switch t.readEnd.Load() {
		case wsReadFailed:
			if stopping {
				return // the connection is unusable
			}
			continue
		case wsPeerClose:
			if stopping {
				// Answer the client's close frame, and nothing else
				// (RFC 6455 §5.5.1).
				_ = t.conn.WriteClose(wsCloseNormal, "", time.Now().Add(t.opts.WriteTimeout))
				return
			}
			continue
		}
		batch = t.sess.Outbound(batch[:0])
		for _, p := range batch {
			frame := p.head
			if len(p.rest) > 0 {
				scratch = p.AppendTo(scratch[:0])
				frame = scratch
			}
			if err := t.conn.WriteText(frame, time.Now().Add(t.opts.WriteTimeout)); err != nil {
				t.sess.ConnectionLost(fmt.Errorf("websocket write: %w", err))
				return
			}
		}
		clear(batch)
		if cap(scratch) > 64<<10 {
			scratch = nil // do not keep a large buffer for an idle session
		}
		if stopping {
			t.closeHandshake()
			return
		}
	}
}

// closeHandshake sends the close frame and waits, at most WriteTimeout,
// for the client's (RFC 6455 §7.1.1: the server closes TCP first, once
// both close frames have crossed).
func (t *wsTransport) closeHandshake() {
	code := int(t.closeCode.Load())
	if code == 0 {
		code = wsCloseNormal
	}
	reason := ""
	switch code {
	case wsCloseUnsupported:
		reason = "binary frames are not supported"
	case wsCloseTooBig:
		reason = "frame too large"
	}
	if err := t.conn.WriteClose(code, reason, time.Now().Add(t.opts.WriteTimeout)); err != nil {
		return
	}
	// Our goodbye is on the wire: a server shutdown need not wait for the
	// client's answering close frame.
	t.sess.TransportFinished()
	timer := time.NewTimer(t.opts.WriteTimeout)
	defer timer.Stop()
	select {
	case <-t.readDone:
	case <-timer.C:
	}
}
