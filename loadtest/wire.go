package loadtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wire is the client side of one transport, lean enough for thousands at
// once: no goroutine of its own (TCP, WebSocket) or one per HTTP request
// in flight (BOSH), and elements handed out as slices of a reused buffer.
type wire interface {
	// open opens the stream, or restarts it after STARTTLS or SASL.
	open() error
	// next returns the next top-level element, valid until the next call.
	// The server's end of the stream is errStreamEnd.
	next() ([]byte, error)
	// send writes top-level elements. It is safe to call while another
	// goroutine is in next.
	send(b []byte) error
	// setDeadline bounds next (the zero time: no bound).
	setDeadline(t time.Time)
	// close ends the stream (goodbye: cleanly, within a short bound) and
	// releases the connection. It may be called more than once.
	close(goodbye bool)
}

// tlsStarter is a wire that can negotiate STARTTLS.
type tlsStarter interface {
	// canStartTLS reports whether the stream is plain text.
	canStartTLS() bool
	startTLS() error
}

var errTimeout = errors.New("timed out")

// goodbyeTimeout bounds writing a stream's end at close.
const goodbyeTimeout = 2 * time.Second

// --- TCP ---

type tcpWire struct {
	conn   net.Conn
	raw    net.Conn
	tls    *tls.Config
	domain string
	rd     *streamReader
	secure bool

	wmu    sync.Mutex
	closed bool
}

// dialTCP connects to addr: host:port or tcp://host:port (plain, STARTTLS
// possible) or tls://host:port (TLS from the first byte).
func dialTCP(ctx context.Context, addr, domain string, tlsCfg *tls.Config, maxBytes int) (*tcpWire, error) {
	direct := false
	switch {
	case strings.HasPrefix(addr, "tls://"):
		addr, direct = addr[len("tls://"):], true
	case strings.HasPrefix(addr, "tcp://"):
		addr = addr[len("tcp://"):]
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("tcp address %q: %w", addr, err)
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	w := &tcpWire{conn: raw, raw: raw, tls: tlsCfg, domain: domain}
	w.rd = newStreamReader(w.read, 4096, maxBytes)
	if direct {
		if err := w.handshake(ctx); err != nil {
			raw.Close()
			return nil, err
		}
	}
	return w, nil
}

func (w *tcpWire) read(b []byte) (int, error) { return w.conn.Read(b) }

func (w *tcpWire) handshake(ctx context.Context) error {
	// RFC 6120 §13.7.2.1: the certificate is checked against the XMPP
	// domain, not the host dialled.
	cfg := clientTLS(w.tls, w.domain)
	tc := tls.Client(w.raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("tls handshake: %w", err)
	}
	w.wmu.Lock()
	w.conn, w.secure = tc, true
	w.wmu.Unlock()
	return nil
}

func (w *tcpWire) canStartTLS() bool { return !w.secure }

func (w *tcpWire) startTLS() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.handshake(ctx); err != nil {
		return err
	}
	w.rd.reset(nil)
	return nil
}

func (w *tcpWire) open() error {
	w.rd.reset(nil)
	return w.send([]byte(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='` +
		escape(w.domain) + `' version='1.0' xml:lang='en'>`))
}

func (w *tcpWire) next() ([]byte, error) { return w.rd.next() }

func (w *tcpWire) send(b []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if _, err := w.conn.Write(b); err != nil {
		return fmt.Errorf("tcp write: %w", err)
	}
	return nil
}

func (w *tcpWire) setDeadline(t time.Time) { _ = w.conn.SetReadDeadline(t) }

func (w *tcpWire) close(goodbye bool) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	if goodbye {
		_ = w.conn.SetWriteDeadline(time.Now().Add(goodbyeTimeout))
		_, _ = w.conn.Write([]byte("</stream:stream>"))
	}
	w.conn.Close()
}

// clientTLS is cfg (or the defaults) with the server name to verify.
func clientTLS(cfg *tls.Config, name string) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = name
	}
	return cfg
}

// --- WebSocket (RFC 7395) ---

const nsFraming = "urn:ietf:params:xml:ns:xmpp-framing"

type wsWire struct {
	conn     *websocket.Conn
	domain   string
	buf      []byte
	maxBytes int

	wmu    sync.Mutex
	closed bool
}

// newWSDialer makes the dialer every WebSocket session shares. Write
// buffers come from a pool, so an idle session holds none.
func newWSDialer(tlsCfg *tls.Config, timeout time.Duration) *websocket.Dialer {
	return &websocket.Dialer{
		Subprotocols:     []string{"xmpp"},
		TLSClientConfig:  tlsCfg,
		HandshakeTimeout: timeout,
		ReadBufferSize:   2048,
		WriteBufferSize:  2048,
		WriteBufferPool:  &sync.Pool{},
	}
}

func dialWS(ctx context.Context, d *websocket.Dialer, url, domain string, maxBytes int) (*wsWire, error) {
	conn, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("websocket %s: %w (HTTP %d)", url, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("websocket %s: %w", url, err)
	}
	if conn.Subprotocol() != "xmpp" {
		conn.Close()
		return nil, fmt.Errorf("websocket %s: the server chose subprotocol %q, not xmpp", url, conn.Subprotocol())
	}
	conn.SetReadLimit(int64(maxBytes))
	return &wsWire{conn: conn, domain: domain, buf: make([]byte, 2048), maxBytes: maxBytes}, nil
}

func (w *wsWire) open() error {
	return w.send([]byte(`<open xmlns='` + nsFraming + `' to='` + escape(w.domain) + `' version='1.0' xml:lang='en'/>`))
}

func (w *wsWire) next() ([]byte, error) {
	for {
		typ, r, err := w.conn.NextReader()
		if err != nil {
			return nil, fmt.Errorf("websocket read: %w", err)
		}
		n := 0
		for {
			if n == len(w.buf) {
				if len(w.buf) >= w.maxBytes {
					return nil, fmt.Errorf("a websocket message over %d bytes", w.maxBytes)
				}
				grown := make([]byte, min(2*len(w.buf), w.maxBytes))
				copy(grown, w.buf[:n])
				w.buf = grown
			}
			m, err := r.Read(w.buf[n:])
			n += m
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("websocket read: %w", err)
			}
		}
		if typ != websocket.TextMessage {
			return nil, fmt.Errorf("websocket: a frame of type %d", typ)
		}
		el := trimSpace(w.buf[:n])
		switch string(tagName(el)) {
		case "open":
			continue // the server's side of the stream header
		case "close":
			return nil, errStreamEnd
		}
		if len(el) == 0 {
			continue // a whitespace keepalive
		}
		return el, nil
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func (w *wsWire) send(b []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if err := w.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("websocket write: %w", err)
	}
	return nil
}

func (w *wsWire) setDeadline(t time.Time) { _ = w.conn.SetReadDeadline(t) }

func (w *wsWire) close(goodbye bool) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	if goodbye {
		deadline := time.Now().Add(goodbyeTimeout)
		_ = w.conn.SetWriteDeadline(deadline)
		if w.conn.WriteMessage(websocket.TextMessage, []byte(`<close xmlns='`+nsFraming+`'/>`)) == nil {
			_ = w.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), deadline)
		}
	}
	w.conn.Close()
}

// --- shared HTTP client for BOSH ---

// newBOSHClient makes the HTTP client every BOSH session shares: each
// session keeps up to two requests in flight, each on its own connection.
func newBOSHClient(tlsCfg *tls.Config, sessions int, wait time.Duration) *http.Client {
	return &http.Client{
		Timeout: wait + 30*time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			TLSClientConfig:     tlsCfg,
			MaxIdleConns:        2*sessions + 16,
			MaxIdleConnsPerHost: 2*sessions + 16,
			IdleConnTimeout:     2 * time.Minute,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
			TLSHandshakeTimeout: 30 * time.Second,
			DialContext:         (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		},
	}
}
