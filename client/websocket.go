package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/server"
	"github.com/gorilla/websocket"
)

// WebSocket is the client side of XMPP over WebSocket (RFC 7395): one
// element per text frame, <open/> and <close/> in the framing namespace.
type WebSocket struct {
	mu     sync.Mutex // serialises writes
	conn   *websocket.Conn
	events chan event
	closed chan struct{} // closed by Drop: the reader stops delivering
	once   sync.Once

	// Set by the reader before it closes done.
	done      chan struct{}
	final     error // what Next returns once the events are used up
	closeCode int   // the server's close frame code, 0 if none came

	hmu    sync.Mutex
	header *etree.Element // the server's last <open/>
}

// wsClientLimits bound what the client accepts: generous, it is a test tool.
var wsClientLimits = server.Limits{MaxBytes: 64 << 20, MaxDepth: 1000}

// DialWebSocket connects to url (ws:// or wss://) with the xmpp subprotocol.
// tlsConfig is used for wss:// (nil: the system defaults).
func DialWebSocket(url string, tlsConfig *tls.Config) (*WebSocket, error) {
	d := websocket.Dialer{
		Subprotocols:     []string{"xmpp"},
		TLSClientConfig:  tlsConfig,
		HandshakeTimeout: 5 * time.Second,
	}
	conn, resp, err := d.Dial(url, nil)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			return nil, fmt.Errorf("dial %s: %w: HTTP %d: %s", url, err, resp.StatusCode, body)
		}
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	resp.Body.Close()
	if p := conn.Subprotocol(); p != "xmpp" {
		conn.Close()
		return nil, fmt.Errorf("dial %s: server chose subprotocol %q, want xmpp", url, p)
	}
	w := &WebSocket{
		conn:   conn,
		events: make(chan event, 256),
		closed: make(chan struct{}),
		done:   make(chan struct{}),
	}
	go w.readLoop()
	return w, nil
}

func (w *WebSocket) Kind() string { return "websocket" }

// Header is the server's last <open/>, or nil.
func (w *WebSocket) Header() *etree.Element {
	w.hmu.Lock()
	defer w.hmu.Unlock()
	return w.header
}

// CloseCode is the code of the server's close frame, once the connection
// has ended (0 if none came).
func (w *WebSocket) CloseCode() int {
	select {
	case <-w.done:
		return w.closeCode
	default:
		return 0
	}
}

// readLoop delivers each frame's element. The server's <open/> is kept as
// the header; its <close/> is delivered as io.EOF. The connection is read
// to its end so that pings are answered and the close frame is seen.
func (w *WebSocket) readLoop() {
	defer close(w.done)
	streamClosed := false
	for {
		typ, data, err := w.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			isClose := errors.As(err, &ce)
			if isClose {
				w.closeCode = ce.Code
			}
			switch {
			case streamClosed:
				w.final = io.EOF
			case isClose:
				w.final = fmt.Errorf("websocket closed without <close/>: code %d %s", ce.Code, ce.Text)
			default:
				w.final = fmt.Errorf("websocket read: %w", err)
			}
			return
		}
		if typ != websocket.TextMessage {
			w.final = fmt.Errorf("websocket: server sent a frame of type %d", typ)
			w.conn.Close()
			return
		}
		if streamClosed {
			continue // nothing is due after <close/> but the close frame
		}
		el, err := server.ParseDocument(data, wsClientLimits)
		if err != nil {
			w.deliver(event{err: fmt.Errorf("websocket frame %q: %w", data, err)})
			continue
		}
		if el.NamespaceURI() == server.NSFraming {
			switch el.Tag {
			case "open":
				w.hmu.Lock()
				w.header = el
				w.hmu.Unlock()
				continue
			case "close":
				streamClosed = true
				w.deliver(event{err: io.EOF})
				continue
			}
		}
		w.deliver(event{el: el})
	}
}

func (w *WebSocket) deliver(e event) {
	select {
	case w.events <- e:
	case <-w.closed:
	}
}

// Open sends <open/> for domain: the stream's first frame, and the
// restart after SASL success. The server's <open/> is kept as Header.
func (w *WebSocket) Open(domain string) error {
	return w.Send(`<open xmlns='` + server.NSFraming + `' to='` + server.EscapeText(domain) + `' version='1.0' xml:lang='en'/>`)
}

// Send writes xml as one text frame.
func (w *WebSocket) Send(xml string) error {
	return w.write(websocket.TextMessage, []byte(xml))
}

// SendBinary writes a binary frame, which the server must refuse.
func (w *WebSocket) SendBinary(data []byte) error {
	return w.write(websocket.BinaryMessage, data)
}

func (w *WebSocket) write(typ int, data []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := w.conn.WriteMessage(typ, data); err != nil {
		return fmt.Errorf("websocket write: %w", err)
	}
	return nil
}

// Next returns the next element; the server's <close/> is io.EOF, and so
// is every call after it.
func (w *WebSocket) Next(ctx context.Context) (*etree.Element, error) {
	select {
	case e := <-w.events:
		return e.el, e.err
	default:
	}
	select {
	case e := <-w.events:
		return e.el, e.err
	case <-w.done:
		// The reader has ended: what it delivered comes first.
		select {
		case e := <-w.events:
			return e.el, e.err
		default:
			return nil, w.final
		}
	case <-ctx.Done():
		return nil, fmt.Errorf("websocket: %w", ctx.Err())
	}
}

// Close sends <close/> and waits up to two seconds for the server's
// <close/> and close frame; then it closes the connection.
func (w *WebSocket) Close() error {
	defer w.Drop()
	select {
	case <-w.done:
		return nil // the server has already ended the connection
	default:
	}
	if err := w.Send(`<close xmlns='` + server.NSFraming + `'/>`); err != nil {
		return err
	}
	deadline := time.NewTimer(2 * time.Second)
	defer deadline.Stop()
	sawClose := false
	for {
		select {
		case e := <-w.events:
			if errors.Is(e.err, io.EOF) {
				sawClose = true
			}
		case <-w.done:
			for len(w.events) > 0 {
				if e := <-w.events; errors.Is(e.err, io.EOF) {
					sawClose = true
				}
			}
			switch {
			case !sawClose:
				return fmt.Errorf("websocket: the server did not answer <close/>: %w", w.final)
			case w.closeCode != websocket.CloseNormalClosure:
				return fmt.Errorf("websocket: close frame code %d after <close/>, want 1000", w.closeCode)
			}
			return nil
		case <-deadline.C:
			return errors.New("websocket: the server did not close the stream in time")
		}
	}
}

// Drop closes the TCP connection without <close/> or a close frame.
func (w *WebSocket) Drop() {
	w.once.Do(func() { close(w.closed) })
	w.conn.Close()
}
