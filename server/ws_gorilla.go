package server

// This file is the only one that knows the WebSocket library in use
// (gorilla/websocket). Replacing the library means rewriting it: a wsConn
// and newWSUpgrader.

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// newWSUpgrader returns the handshake function for the WebSocket handler.
// writeTimeout bounds the pongs the connection answers pings with.
func newWSUpgrader(checkOrigin func(*http.Request) bool, readBufferSize int, writeTimeout time.Duration) wsUpgrader {
	u := &websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// A buffer of its own, rather than net/http's 4 KB one, which the
		// library would otherwise keep for the connection's life.
		ReadBufferSize: readBufferSize,
		// The library writes only the close frame of a protocol error
		// (see gorillaConn); what buffer it needs for that comes from a
		// pool, and no session holds one.
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
	// Frames being written, shared by the upgrader's connections: a
	// connection needs one only for the time of a write.
	frames := &sync.Pool{New: func() any { return new([]byte) }}
	return func(w http.ResponseWriter, r *http.Request) (wsConn, error) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return nil, err
		}
		g := &gorillaConn{c: c, nc: c.NetConn(), pongTimeout: writeTimeout, frames: frames}
		// Answer close frames from the transport's writer, after what it
		// still has to say (the <close/> answering the client's <close/>).
		c.SetCloseHandler(func(int, string) error { return nil })
		return g, nil
	}
}

// gorillaConn adapts a gorilla connection to wsConn. The library reads;
// frames are written here, straight to the network connection: a
// fan-out writes one frame to each of thousands of connections, and the
// library's per-message work (its write lock, a pooled buffer, a write
// deadline set on every message) cost as much as the rest of the path.
// Every frame goes out in a single Write, so that the close frame the
// library itself sends on a protocol error never interleaves with one of
// ours (the connection's write lock serialises whole Writes).
type gorillaConn struct {
	c           *websocket.Conn
	nc          net.Conn
	pongTimeout time.Duration
	frames      *sync.Pool // of *[]byte, the upgrader's

	// wmu serialises the writers: the transport's writer, and the reader
	// answering pings.
	wmu       sync.Mutex
	deadline  time.Time // the write deadline last set on nc
	closeSent bool
}

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

// WebSocket opcodes (RFC 6455 §5.2).
const (
	wsOpText  = 0x1
	wsOpClose = 0x8
	wsOpPing  = 0x9
	wsOpPong  = 0xA
)

// appendFrameHeader appends the header of a final, unmasked (server to
// client) frame of n payload bytes (RFC 6455 §5.2).
func appendFrameHeader(b []byte, opcode byte, n int) []byte {
	b = append(b, 0x80|opcode)
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xFFFF:
		return append(b, 126, byte(n>>8), byte(n))
	default:
		return append(b, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// writeFrame writes one frame whose payload is p, with the write deadline
// at most deadline and at least half as far off.
func (g *gorillaConn) writeFrame(opcode byte, p Packet, deadline time.Time) error {
	buf := g.frames.Get().(*[]byte)
	frame := appendFrameHeader((*buf)[:0], opcode, p.Len())
	frame = p.AppendTo(frame)
	err := g.write(frame, opcode, deadline)
	if cap(frame) <= 64<<10 { // do not pool a large buffer
		*buf = frame
		g.frames.Put(buf)
	}
	return err
}

func (g *gorillaConn) write(frame []byte, opcode byte, deadline time.Time) error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if g.closeSent {
		return websocket.ErrCloseSent
	}
	// Setting a deadline costs a timer update: leave the one set while it
	// still gives this write at least half the time asked for.
	now := time.Now()
	if g.deadline.Sub(now) < deadline.Sub(now)/2 || g.deadline.After(deadline) {
		if err := g.nc.SetWriteDeadline(deadline); err != nil {
			return err
		}
		g.deadline = deadline
	}
	if opcode == wsOpClose {
		g.closeSent = true
	}
	_, err := g.nc.Write(frame)
	return err
}

func (g *gorillaConn) WriteText(p Packet, deadline time.Time) error {
	return g.writeFrame(wsOpText, p, deadline)
}

func (g *gorillaConn) WritePing(deadline time.Time) error {
	return g.writeFrame(wsOpPing, Packet{}, deadline)
}

func (g *gorillaConn) WriteClose(code int, reason string, deadline time.Time) error {
	// A close frame's payload: the code, then the reason (RFC 6455 §5.5.1).
	payload := append([]byte{byte(code >> 8), byte(code)}, reason...)
	return g.writeFrame(wsOpClose, NewPacket(payload), deadline)
}

func (g *gorillaConn) SetReadLimit(n int64) { g.c.SetReadLimit(n) }

func (g *gorillaConn) SetControlHandler(f func()) {
	g.c.SetPingHandler(func(data string) error {
		f()
		// Pong with the ping's payload (RFC 6455 §5.5.3). A failed pong is
		// not the reader's to report: the connection's next read or write
		// fails too.
		_ = g.writeFrame(wsOpPong, NewPacket([]byte(data)), time.Now().Add(g.pongTimeout))
		return nil
	})
	g.c.SetPongHandler(func(string) error {
		f()
		return nil
	})
}

func (g *gorillaConn) Close() error { return g.c.Close() }
