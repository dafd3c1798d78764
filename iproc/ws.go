package iproc

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// wsConn is what the service needs of a WebSocket library, so that the
// library is known to ws_gorilla.go alone (and tests can stand in for it).
// One goroutine calls NextFrame (and, through it, the pong handler);
// another calls WriteText and WritePing; WriteClose and Close may be
// called from any goroutine at any time.
type wsConn interface {
	// NextFrame waits for the next data message and returns whether it is
	// binary and a reader of its payload, valid until the next call. A
	// close frame from the peer is returned as *peerClosedError, a message
	// over the read limit as errReadLimit; every error is final.
	NextFrame() (binary bool, payload io.Reader, err error)
	// WriteText writes the concatenation of parts as one text message.
	WriteText(deadline time.Time, parts ...[]byte) error
	// WritePing writes a ping frame.
	WritePing(deadline time.Time) error
	// WriteClose writes a close frame; no data may be written after it.
	WriteClose(code int, reason string, deadline time.Time) error
	// SetReadLimit makes a message longer than n bytes fail with
	// errReadLimit; the library then closes the connection with 1009.
	SetReadLimit(n int64)
	// SetReadDeadline bounds the wait in NextFrame and in reading a
	// payload.
	SetReadDeadline(t time.Time) error
	// SetPongHandler registers f, called on the reading goroutine for every
	// pong received.
	SetPongHandler(f func())
	// Close closes the network connection at once.
	Close() error
}

// upgrader completes a WebSocket handshake. On failure it has written the
// HTTP error response itself.
type upgrader func(w http.ResponseWriter, r *http.Request) (wsConn, error)

// errReadLimit is NextFrame's error for a message over the hard read limit.
var errReadLimit = errors.New("websocket: message over the read limit")

// peerClosedError is NextFrame's error when the peer sent a close frame.
type peerClosedError struct {
	Code int
	Text string
}

func (e *peerClosedError) Error() string {
	return fmt.Sprintf("websocket closed by the client (code %d)", e.Code)
}

// WebSocket close codes (RFC 6455 §7.4.1) the service sends.
const (
	closeNormal    = 1000
	closeGoingAway = 1001
	closePolicy    = 1008 // the send queue overflowed
)
