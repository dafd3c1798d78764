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
	// ReadBufferSize is the size of the buffer frames are read through
	// (default 1 KB): every session holds one for its whole life, and
	// what clients send is small; a larger frame takes more reads.
	ReadBufferSize int
}

// defaultWSReadBufferSize is WebSocketOptions.ReadBufferSize's default.
const defaultWSReadBufferSize = 1024

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
	// WriteText writes p as one text frame.
	WriteText(p Packet, deadline time.Time) error
	// WritePing writes a ping frame.
	WritePing(deadline time.Time) error
	// WriteClose writes a close frame; nothing may be written after it.
	WriteClose(code int, reason string, deadline time.Time) error
	// SetReadLimit makes a message longer than n bytes fail NextFrame with
	// errWSReadLimit; the library then closes the connection with 1009.
	SetReadLimit(n int64)
	// SetControlHandler registers f, called on the reading goroutine for
	// every ping and pong frame received. Pings are still answered (from
	// the reading goroutine: the Write methods are safe together).
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
	if opts.ReadBufferSize <= 0 {
		opts.ReadBufferSize = defaultWSReadBufferSize
	}
	return &wsHandler{
		srv:         srv,
		opts:        opts,
		upgrade:     newWSUpgrader(checkOrigin, opts.ReadBufferSize, opts.WriteTimeout),
		readBuffers: &sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
}

type wsHandler struct {
	srv     *Server
	opts    WebSocketOptions
	upgrade wsUpgrader
	// readBuffers hold a frame while it is parsed, shared by the handler's
	// connections: the parsed stanza keeps none of its bytes, and an idle
	// session then holds no buffer of the size of the largest frame it
	// ever sent.
	readBuffers *sync.Pool
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
		srv:         h.srv,
		opts:        h.opts,
		conn:        conn,
		remote:      r.RemoteAddr,
		secure:      r.TLS != nil,
		readDone:    make(chan struct{}),
		readBuffers: h.readBuffers,
	}
	// The handler holds the writer's role until the transport is set up:
	// the session can be woken (by a server shutdown) from the moment it
	// exists.
	t.writing.Store(true)
	// The handler runs on the reading goroutine, after sess is set.
	conn.SetControlHandler(func() { t.sess.Touch() })
	t.sess = h.srv.NewSession(t)
	if h.opts.PingInterval > 0 {
		t.pingTimer = time.AfterFunc(h.opts.PingInterval, func() {
			t.pingDue.Store(true)
			t.kick()
		})
	}
	if t.releaseWriter() {
		go t.writeRun()
	}
	// Read on a goroutine of our own and return: net/http's connection
	// state (its buffers, its request, this goroutine's deep stack) is
	// then let go for the life of the WebSocket.
	go t.readLoop()
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

// wsTransport is the WebSocket transport: one goroutine reads frames and
// feeds the session; a writer goroutine, started when there is something
// to write, drains the session's queue into frames and sends the pings.
type wsTransport struct {
	srv    *Server
	opts   WebSocketOptions
	conn   wsConn
	sess   *Session
	remote string
	secure bool

	readBuffers *sync.Pool // of *bytes.Buffer, the handler's

	// The writer (see kick): writing is set while a writer goroutine
	// runs, pending when it has something to look at; stopping, pingDue
	// and the queue say what.
	writing   atomic.Bool
	pending   atomic.Bool
	stopping  atomic.Bool
	stopOnce  sync.Once
	pingDue   atomic.Bool
	pingTimer *time.Timer // nil without pings

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

func (t *wsTransport) Wake() { t.kick() }

func (t *wsTransport) Shutdown(string) {
	t.stopOnce.Do(func() {
		t.stopping.Store(true)
		t.kick()
	})
}

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
		if !t.readFrame(payload, limits) {
			return
		}
	}
}

// readFrame reads one text frame and handles it. It returns false when the
// connection failed.
func (t *wsTransport) readFrame(payload io.Reader, limits Limits) bool {
	frame := t.readBuffers.Get().(*bytes.Buffer)
	defer func() {
		if frame.Cap() <= 64<<10 { // do not pool a large buffer
			frame.Reset()
			t.readBuffers.Put(frame)
		}
	}()
	// Read one byte past the limit, and no more, to tell an oversize
	// frame without buffering it.
	if _, err := frame.ReadFrom(io.LimitReader(payload, int64(limits.MaxBytes)+1)); err != nil {
		t.readFailed(err)
		return false
	}
	if frame.Len() > limits.MaxBytes {
		t.endWith(&StreamError{Condition: CondPolicyViolation, Text: fmt.Sprintf("frame larger than %d bytes", limits.MaxBytes)}, wsCloseTooBig)
		return true
	}
	t.handleFrame(frame.Bytes(), limits)
	return true
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

// kick makes sure a writer runs and will look at the transport's state:
// it starts one unless one is running, which then sees pending.
//
// The writer is a goroutine that exists only while there is something to
// write (packets, a ping, the goodbye): an idle session, which is most
// sessions of a contact center's desktops, then costs one goroutine (its
// reader) instead of two, and a fan-out starts each recipient's writer
// directly instead of waking one parked in a select.
func (t *wsTransport) kick() {
	t.pending.Store(true)
	if t.writing.CompareAndSwap(false, true) {
		go t.writeRun()
	}
}

// writeRun is the writer: it does what is pending until nothing is, then
// ends. Once the transport has finished for good writing stays true, so
// that no writer starts again.
func (t *wsTransport) writeRun() {
	for {
		for t.pending.Swap(false) {
			if !t.writeDue() {
				return
			}
		}
		if !t.releaseWriter() {
			return
		}
	}
}

// releaseWriter gives up the writer's role. It returns true when it has
// taken the role back because a kick came in between, which found a writer
// running and started none: the caller must then write.
func (t *wsTransport) releaseWriter() bool {
	t.writing.Store(false)
	return t.pending.Load() && t.writing.CompareAndSwap(false, true)
}

// writeDue writes what is due: a ping, the queued packets (one per text
// frame), and at shutdown the close frame, after which it waits a bounded
// time for the client's close frame and closes the connection. It returns
// false once the transport has finished.
func (t *wsTransport) writeDue() bool {
	stopping := t.stopping.Load()
	// Once the reader has stopped the session is ending (stop is due if
	// it has not come): write no more data.
	switch t.readEnd.Load() {
	case wsReadFailed:
		if stopping {
			t.finish() // the connection is unusable
			return false
		}
		return true
	case wsPeerClose:
		if stopping {
			// Answer the client's close frame, and nothing else (RFC 6455
			// §5.5.1).
			_ = t.conn.WriteClose(wsCloseNormal, "", time.Now().Add(t.opts.WriteTimeout))
			t.finish()
			return false
		}
		return true
	}
	if t.pingDue.Swap(false) {
		if err := t.conn.WritePing(time.Now().Add(t.opts.WriteTimeout)); err != nil {
			t.sess.ConnectionLost(fmt.Errorf("websocket ping: %w", err))
			t.finish()
			return false
		}
		t.pingTimer.Reset(t.opts.PingInterval)
	}
	if err := t.writeQueued(); err != nil {
		t.sess.ConnectionLost(fmt.Errorf("websocket write: %w", err))
		t.finish()
		return false
	}
	if stopping {
		t.closeHandshake()
		t.finish()
		return false
	}
	return true
}

// writeQueued writes every queued packet, one per text frame.
func (t *wsTransport) writeQueued() error {
	var backing [16]Packet
	for {
		batch := t.sess.Outbound(backing[:0])
		if len(batch) == 0 {
			return nil
		}
		for i, p := range batch {
			batch[i] = Packet{} // let the packet's bytes go once written
			if err := t.conn.WriteText(p, time.Now().Add(t.opts.WriteTimeout)); err != nil {
				return err
			}
		}
	}
}

// finish closes the connection and tells the session the transport is
// done.
func (t *wsTransport) finish() {
	if t.pingTimer != nil {
		t.pingTimer.Stop()
	}
	t.conn.Close()
	t.sess.TransportFinished()
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
