package server

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// TCPOptions configure a TCP listener (RFC 6120 client-to-server).
type TCPOptions struct {
	// TLS is the server's TLS configuration: offered through STARTTLS on a
	// plain listener, required from the first byte when DirectTLS is set.
	TLS *tls.Config
	// DirectTLS makes the listener speak TLS at once (port 5223).
	DirectTLS bool
	// WriteTimeout bounds each write to the client (default 10 s).
	WriteTimeout time.Duration
	// HandshakeTimeout bounds a TLS handshake (default 10 s).
	HandshakeTimeout time.Duration
}

// ServeTCP accepts XMPP client connections on ln until ln is closed.
func (srv *Server) ServeTCP(ln net.Listener, opts TCPOptions) error {
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	if opts.DirectTLS && opts.TLS == nil {
		return errors.New("serve tcp: direct TLS without a TLS configuration")
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("serve tcp: %w", err)
		}
		go srv.serveTCPConn(conn, opts)
	}
}

// tcpConn is the TCP transport: one goroutine reads and feeds the session,
// another drains the session's queue into the socket.
type tcpConn struct {
	srv  *Server
	opts TCPOptions
	sess *Session

	conn   net.Conn // replaced by the reader during STARTTLS while the writer is paused
	remote string
	br     *bufio.Reader
	secure atomic.Bool

	wake     chan struct{}
	barrier  chan tlsBarrier
	stop     chan struct{}
	stopOnce sync.Once

	// Set by the session on the reader goroutine, acted on by the reader.
	tlsWanted   bool
	resetWanted bool
}

// tlsBarrier pauses the writer for STARTTLS: it closes flushed once
// <proceed/> is on the wire and waits for resume.
type tlsBarrier struct {
	flushed chan struct{}
	resume  chan struct{}
}

func (srv *Server) serveTCPConn(conn net.Conn, opts TCPOptions) {
	c := &tcpConn{
		srv:     srv,
		opts:    opts,
		conn:    conn,
		remote:  conn.RemoteAddr().String(),
		wake:    make(chan struct{}, 1),
		barrier: make(chan tlsBarrier),
		stop:    make(chan struct{}),
	}
	if opts.DirectTLS {
		tc := tls.Server(conn, opts.TLS)
		_ = conn.SetDeadline(time.Now().Add(opts.HandshakeTimeout))
		if err := tc.Handshake(); err != nil {
			srv.log.Debug("tls handshake failed", zap.String("remote", conn.RemoteAddr().String()), zap.Error(err))
			conn.Close()
			return
		}
		_ = conn.SetDeadline(time.Time{})
		c.conn = tc
		c.secure.Store(true)
	}
	c.br = bufio.NewReaderSize(activityReader{c}, 4096)
	c.sess = srv.NewSession(c)
	go c.writeLoop()
	c.readLoop()
}

// activityReader reads the current connection and counts every read as life.
type activityReader struct{ c *tcpConn }

func (a activityReader) Read(p []byte) (int, error) {
	n, err := a.c.conn.Read(p)
	if n > 0 && a.c.sess != nil {
		a.c.sess.Touch()
	}
	return n, err
}

func (c *tcpConn) Kind() string       { return "tcp" }
func (c *tcpConn) Secure() bool       { return c.secure.Load() }
func (c *tcpConn) RemoteAddr() string { return c.remote }
func (c *tcpConn) StartTLS()          { c.tlsWanted = true }
func (c *tcpConn) ResetStream()       { c.resetWanted = true }

func (c *tcpConn) StreamHeader(id, domain string) []byte {
	return []byte(`<?xml version='1.0'?><stream:stream xmlns='` + NSClient + `' xmlns:stream='` + NSStream +
		`' id='` + id + `' from='` + escapeText(domain) + `' version='1.0' xml:lang='en'>`)
}

func (c *tcpConn) StreamFooter() []byte { return []byte(`</stream:stream>`) }

func (c *tcpConn) Wake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *tcpConn) Shutdown(string) { c.stopOnce.Do(func() { close(c.stop) }) }

func (c *tcpConn) readLoop() {
	limits := c.srv.cfg.Limits
	dec := NewStreamDecoder(c.br, limits)
	for {
		ev, err := dec.Next()
		if err != nil {
			var se *StreamError
			if errors.As(err, &se) {
				c.sess.Close(se)
			} else {
				c.sess.ConnectionLost(err)
			}
			return
		}
		switch ev.Kind {
		case EventStreamStart:
			if ev.Start.Name.Space != NSStream || ev.Start.Name.Local != "stream" {
				c.sess.Close(&StreamError{Condition: CondInvalidNamespace, Text: "expected <stream:stream> in " + NSStream})
				return
			}
			if ev.Start.DefaultNS != NSClient {
				c.sess.Close(&StreamError{Condition: CondInvalidNamespace, Text: "the default namespace must be " + NSClient})
				return
			}
			c.sess.StreamOpened(StreamHeader{
				To:      ev.Start.AttrValue("to"),
				From:    ev.Start.AttrValue("from"),
				Version: ev.Start.AttrValue("version"),
				Lang:    ev.Start.LangAttr(),
			})
		case EventElement:
			c.sess.HandleElement(ev.Element)
		case EventStreamEnd:
			c.sess.StreamClosed()
			return
		}
		if c.sess.Closed() {
			return
		}
		switch {
		case c.tlsWanted:
			c.tlsWanted = false
			if err := c.upgradeTLS(); err != nil {
				c.sess.ConnectionLost(fmt.Errorf("starttls: %w", err))
				return
			}
			dec = NewStreamDecoder(c.br, limits)
		case c.resetWanted:
			c.resetWanted = false
			dec = NewStreamDecoder(c.br, limits)
		}
	}
}

// upgradeTLS runs on the reader goroutine: it waits until the writer has
// sent <proceed/>, swaps the connection for a TLS one and lets the writer go on.
func (c *tcpConn) upgradeTLS() error {
	if c.br.Buffered() > 0 {
		return errors.New("client sent data before the TLS handshake")
	}
	b := tlsBarrier{flushed: make(chan struct{}), resume: make(chan struct{})}
	defer close(b.resume)
	select {
	case c.barrier <- b:
	case <-c.stop:
		return errors.New("session ended")
	}
	select {
	case <-b.flushed:
	case <-c.stop:
		return errors.New("session ended")
	}
	tc := tls.Server(c.conn, c.opts.TLS)
	_ = c.conn.SetDeadline(time.Now().Add(c.opts.HandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		return err
	}
	_ = c.conn.SetDeadline(time.Time{})
	c.conn = tc
	c.secure.Store(true)
	return nil
}

func (c *tcpConn) writeLoop() {
	defer c.sess.TransportFinished()
	defer c.conn.Close()
	bw := bufio.NewWriterSize(writerTo{c}, 8192)
	var batch []Packet
	for {
		stopping := false
		var pause *tlsBarrier
		select {
		case <-c.wake:
		case b := <-c.barrier:
			pause = &b
		case <-c.stop:
			stopping = true
		}
		batch = c.sess.Outbound(batch[:0])
		if err := c.write(bw, batch); err != nil {
			c.sess.ConnectionLost(fmt.Errorf("write: %w", err))
			return
		}
		clear(batch)
		if pause != nil {
			close(pause.flushed)
			<-pause.resume
			bw.Reset(writerTo{c})
		}
		if stopping {
			return
		}
	}
}

func (c *tcpConn) write(bw *bufio.Writer, batch []Packet) error {
	if len(batch) == 0 {
		return nil
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	for _, p := range batch {
		if _, err := p.WriteTo(bw); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// writerTo writes to whichever connection is current.
type writerTo struct{ c *tcpConn }

func (w writerTo) Write(p []byte) (int, error) { return w.c.conn.Write(p) }

var _ io.Writer = writerTo{}
