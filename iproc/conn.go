package iproc

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
)

// outMsg is one queued message: the concatenation of its parts. A team
// status event is three parts (its head, the stream's agent id, its
// tail) so that the head and tail, rendered once, are shared by every
// stream that gets it.
type outMsg struct {
	parts [3][]byte
	n     int
}

func single(b []byte) outMsg { return outMsg{parts: [3][]byte{b}, n: 1} }

// conn is one WebSocket connection. The handler's goroutine reads and
// handles requests; a writer goroutine drains the queue into messages and
// sends the pings.
type conn struct {
	svc    *Service
	ws     wsConn
	id     uint64
	remote string
	log    *zap.Logger

	mu          sync.Mutex
	queue       []outMsg
	spare       []outMsg // the writer's batch, swapped with queue
	writing     int      // messages of the writer's batch not yet written
	closing     bool     // nothing more is queued
	closeCode   int      // the close frame to write once the queue is sent (0: none yet)
	closeReason string

	wake       chan struct{} // the queue or closeCode changed
	readDone   chan struct{} // closed when the reader has returned
	writerDone chan struct{}

	// Guarded by svc.mu.
	session *session
	streams map[string]*stream // by lower-case agent id
}

func newConn(s *Service, ws wsConn, remote string) *conn {
	id := s.nextConn.Add(1)
	return &conn{
		svc:        s,
		ws:         ws,
		id:         id,
		remote:     remote,
		log:        s.log.With(zap.Uint64("conn", id), zap.String("remote", remote)),
		wake:       make(chan struct{}, 1),
		readDone:   make(chan struct{}),
		writerDone: make(chan struct{}),
		streams:    make(map[string]*stream),
	}
}

// serve runs the connection until it ends.
func (c *conn) serve() {
	c.log.Debug("connection opened")
	c.ws.SetReadLimit(hardReadLimit(c.svc.cfg.MaxFrameBytes))
	c.ws.SetPongHandler(c.extendReadDeadline)
	c.enqueue(single(c.svc.descriptorEvent))
	go c.writeLoop()
	err := c.readLoop()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		// Best effort: the client may be gone for good.
		_ = c.ws.WriteClose(closeGoingAway, "idle: no message or pong for two ping intervals", time.Now().Add(c.svc.cfg.WriteTimeout))
	}
	c.svc.unregister(c)
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	close(c.readDone)
	<-c.writerDone
	var pc *peerClosedError
	switch {
	case errors.As(err, &pc):
		c.log.Debug("connection closed by the client", zap.Int("code", pc.Code), zap.String("text", pc.Text))
	case errors.Is(err, errReadLimit):
		c.log.Info("connection closed: message far over the frame limit", zap.Int("max_frame_bytes", c.svc.cfg.MaxFrameBytes))
	case ne != nil && ne.Timeout():
		c.log.Info("connection closed: idle for two ping intervals", zap.Duration("ping_interval", c.svc.cfg.PingInterval))
	default:
		c.log.Debug("connection ended", zap.Error(err))
	}
}

// hardReadLimit is the library's own message limit. A message between
// the frame limit and this one is read, dropped and answered with
// frame_too_large; one over it closes the connection (1009) unread.
func hardReadLimit(maxFrame int) int64 { return 4 * int64(maxFrame) }

// extendReadDeadline gives a connection two ping intervals to show life.
func (c *conn) extendReadDeadline() {
	if p := c.svc.cfg.PingInterval; p > 0 {
		_ = c.ws.SetReadDeadline(time.Now().Add(2 * p))
	}
}

// readLoop reads and handles requests until the connection fails or the
// client's close frame arrives.
func (c *conn) readLoop() error {
	limit := c.svc.cfg.MaxFrameBytes
	var frame bytes.Buffer
	for {
		c.extendReadDeadline()
		binary, payload, err := c.ws.NextFrame()
		if err != nil {
			return err
		}
		if c.isClosing() {
			continue // a close is on its way: drop what comes until the client's close frame
		}
		if binary {
			if _, err := io.Copy(io.Discard, payload); err != nil {
				return err
			}
			c.respond(failureResponse("", nil, failf(codeBinaryFrame, "", "requests are JSON in text frames, not binary frames")))
			continue
		}
		frame.Reset()
		// Read one byte past the limit, and no more, to tell an oversize
		// message without buffering it.
		if _, err := frame.ReadFrom(io.LimitReader(payload, int64(limit)+1)); err != nil {
			return err
		}
		if frame.Len() > limit {
			if _, err := io.Copy(io.Discard, payload); err != nil {
				return err
			}
			c.respond(failureResponse("", nil, failf(codeFrameTooLarge, strconv.Itoa(limit),
				"the message is larger than %d bytes", limit)))
			continue
		}
		c.handle(frame.Bytes())
		if frame.Cap() > 64<<10 {
			frame = bytes.Buffer{} // do not keep a large buffer for an idle connection
		}
	}
}

// respond queues a response.
func (c *conn) respond(r *response) {
	result := r.Result
	if r.Failure != nil {
		result = r.Failure.Code
	}
	c.svc.metrics.requests.WithLabelValues(requestLabel(r.Command), result).Inc()
	c.enqueue(single(encode(r)))
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// enqueue queues m. It never blocks: a full queue closes the connection.
// It reports whether m was queued.
func (c *conn) enqueue(m outMsg) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	if len(c.queue)+c.writing >= c.svc.cfg.SendQueue {
		c.closing = true
		c.mu.Unlock()
		c.overflowed()
		return false
	}
	c.queue = append(c.queue, m)
	c.mu.Unlock()
	c.signal()
	return true
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// overflow closes the connection for a queue that overflowed outside
// enqueue (a stream's events kept on hold).
func (c *conn) overflow() {
	c.mu.Lock()
	already := c.closing
	c.closing = true
	c.mu.Unlock()
	if !already {
		c.overflowed()
	}
}

// overflowed disconnects a client that does not read what it is sent.
func (c *conn) overflowed() {
	c.svc.metrics.queueOverflows.Inc()
	c.log.Warn("connection closed: send queue overflow (the client does not read fast enough)",
		zap.Int("send_queue", c.svc.cfg.SendQueue))
	go c.abort(closePolicy, "send queue overflow")
}

// abort closes the connection without sending what is queued: a close
// frame (waiting at most WriteTimeout for a message being written), then
// the network connection. The reader and writer then fail and end.
func (c *conn) abort(code int, reason string) {
	_ = c.ws.WriteClose(code, reason, time.Now().Add(c.svc.cfg.WriteTimeout))
	c.ws.Close()
}

// closeAfterQueue makes the writer send what is queued, then a close frame
// with code and reason.
func (c *conn) closeAfterQueue(code int, reason string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.closeCode = code
	c.closeReason = reason
	c.mu.Unlock()
	c.signal()
}

// writeLoop writes what is queued and the pings. It ends after a close
// frame, on a write error, or when the reader has returned, and closes
// the network connection.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	defer c.ws.Close()
	var ping <-chan time.Time
	if c.svc.cfg.PingInterval > 0 {
		ticker := time.NewTicker(c.svc.cfg.PingInterval)
		defer ticker.Stop()
		ping = ticker.C
	}
	timeout := c.svc.cfg.WriteTimeout
	for {
		select {
		case <-c.wake:
		case <-c.readDone:
			return
		case <-ping:
			if err := c.ws.WritePing(time.Now().Add(timeout)); err != nil {
				c.log.Debug("ping failed", zap.Error(err))
				return
			}
			continue
		}
		c.mu.Lock()
		batch := c.queue
		c.queue = c.spare[:0]
		c.writing = len(batch)
		code, reason := c.closeCode, c.closeReason
		c.mu.Unlock()
		for _, m := range batch {
			if err := c.ws.WriteText(time.Now().Add(timeout), m.parts[:m.n]...); err != nil {
				c.log.Debug("write failed", zap.Error(err))
				return
			}
			c.mu.Lock()
			c.writing--
			c.mu.Unlock()
		}
		clear(batch)
		c.mu.Lock()
		c.spare = batch[:0]
		c.mu.Unlock()
		if code != 0 {
			c.closeHandshake(code, reason)
			return
		}
	}
}

// closeHandshake sends the close frame and waits, at most WriteTimeout,
// for the client's answer (RFC 6455 §7.1.1: the server closes TCP once
// both close frames have crossed).
func (c *conn) closeHandshake(code int, reason string) {
	c.log.Debug("closing the connection", zap.Int("code", code), zap.String("reason", reason))
	timeout := c.svc.cfg.WriteTimeout
	if err := c.ws.WriteClose(code, reason, time.Now().Add(timeout)); err != nil {
		return
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-c.readDone:
	case <-timer.C:
	}
}
