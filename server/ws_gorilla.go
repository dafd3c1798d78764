package server

// This file is the only one that knows the WebSocket library in use
// (gorilla/websocket). Replacing the library means rewriting it: a wsConn
// and newWSUpgrader.

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// newWSUpgrader returns the handshake function for the WebSocket handler.
func newWSUpgrader(checkOrigin func(*http.Request) bool, readBufferSize int) wsUpgrader {
	u := &websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// A buffer of its own, rather than net/http's 4 KB one, which the
		// library would otherwise keep for the connection's life.
		ReadBufferSize: readBufferSize,
		// Write buffers come from a pool and are held only while a frame
		// is written: most sessions are idle between notifications.
		WriteBufferPool: &sync.Pool{},
		Subprotocols:    []string{wsSubprotocol},
		CheckOrigin:     checkOrigin,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(status)
			io.WriteString(w, reason.Error()+"\n")
		},
	}
	return func(w http.ResponseWriter, r *http.Request) (wsConn, error) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return nil, err
		}
		g := &gorillaConn{c: c}
		// Answer close frames from the transport's writer, after what it
		// still has to say (the <close/> answering the client's <close/>).
		c.SetCloseHandler(func(int, string) error { return nil })
		return g, nil
	}
}

// gorillaConn adapts a gorilla connection to wsConn.
type gorillaConn struct{ c *websocket.Conn }

func (g *gorillaConn) NextFrame() (bool, io.Reader, error) {
	typ, r, err := g.c.NextReader()
	if err != nil {
		var ce *websocket.CloseError
		switch {
		case errors.As(err, &ce):
			return false, nil, &wsPeerClosed{Code: ce.Code, Text: ce.Text}
		case errors.Is(err, websocket.ErrReadLimit):
			return false, nil, errWSReadLimit
		}
		return false, nil, err
	}
	return typ == websocket.BinaryMessage, r, nil
}

func (g *gorillaConn) WriteText(frame []byte, deadline time.Time) error {
	if err := g.c.SetWriteDeadline(deadline); err != nil {
		return err
	}
	// WriteMessage sends a server's message as one frame, whatever its size.
	return g.c.WriteMessage(websocket.TextMessage, frame)
}

func (g *gorillaConn) WritePing(deadline time.Time) error {
	return g.c.WriteControl(websocket.PingMessage, nil, deadline)
}

func (g *gorillaConn) WriteClose(code int, reason string, deadline time.Time) error {
	return g.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline)
}

func (g *gorillaConn) SetReadLimit(n int64) { g.c.SetReadLimit(n) }

func (g *gorillaConn) SetControlHandler(f func()) {
	answerPing := g.c.PingHandler()
	g.c.SetPingHandler(func(data string) error {
		f()
		return answerPing(data)
	})
	g.c.SetPongHandler(func(string) error {
		f()
		return nil
	})
}

func (g *gorillaConn) Close() error { return g.c.Close() }
