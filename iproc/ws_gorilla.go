package iproc

// This file is the only one that knows the WebSocket library in use
// (gorilla/websocket): replacing the library means rewriting it alone.

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// newGorillaUpgrader returns the handshake function of the endpoint.
func newGorillaUpgrader(checkOrigin func(*http.Request) bool) upgrader {
	u := &websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// Write buffers come from a pool and are held only while a message
		// is written: most connections are idle between events.
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     checkOrigin,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			writePlain(w, status, reason.Error())
		},
	}
	return func(w http.ResponseWriter, r *http.Request) (wsConn, error) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return nil, err
		}
		return &gorillaConn{c: c}, nil
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
			return false, nil, &peerClosedError{Code: ce.Code, Text: ce.Text}
		case errors.Is(err, websocket.ErrReadLimit):
			return false, nil, errReadLimit
		}
		return false, nil, err
	}
	return typ == websocket.BinaryMessage, limitErrors{r}, nil
}

// limitErrors turns the library's read-limit error met while reading a
// payload into errReadLimit.
type limitErrors struct{ r io.Reader }

func (l limitErrors) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if errors.Is(err, websocket.ErrReadLimit) {
		err = errReadLimit
	}
	return n, err
}

func (g *gorillaConn) WriteText(deadline time.Time, parts ...[]byte) error {
	if err := g.c.SetWriteDeadline(deadline); err != nil {
		return err
	}
	w, err := g.c.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}

func (g *gorillaConn) WritePing(deadline time.Time) error {
	return g.c.WriteControl(websocket.PingMessage, nil, deadline)
}

func (g *gorillaConn) WriteClose(code int, reason string, deadline time.Time) error {
	return g.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline)
}

func (g *gorillaConn) SetReadLimit(n int64) { g.c.SetReadLimit(n) }

func (g *gorillaConn) SetReadDeadline(t time.Time) error { return g.c.SetReadDeadline(t) }

func (g *gorillaConn) SetPongHandler(f func()) {
	g.c.SetPongHandler(func(string) error {
		f()
		return nil
	})
}

func (g *gorillaConn) Close() error { return g.c.Close() }
