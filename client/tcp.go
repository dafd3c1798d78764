package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/server"
)

// TCP is the client side of RFC 6120 over TCP, with STARTTLS.
type TCP struct {
	mu      sync.Mutex // serialises writes
	conn    net.Conn
	events  chan event
	upgrade chan *bufio.Reader
	header  atomicHeader
	closed  chan struct{}
	once    sync.Once
	readEnd chan struct{} // closed when the reader has stopped: the stream is over
}

type event struct {
	el  *etree.Element
	err error
}

type atomicHeader struct {
	mu sync.Mutex
	h  server.StartInfo
}

// DialTCP connects to addr; with tlsConfig set it speaks TLS at once (5223).
func DialTCP(addr string, tlsConfig *tls.Config) (*TCP, error) {
	var conn net.Conn
	var err error
	d := &net.Dialer{Timeout: 5 * time.Second}
	if tlsConfig != nil {
		conn, err = tls.DialWithDialer(d, "tcp", addr, tlsConfig)
	} else {
		conn, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	t := &TCP{conn: conn, events: make(chan event, 256), upgrade: make(chan *bufio.Reader), closed: make(chan struct{}), readEnd: make(chan struct{})}
	go t.readLoop(bufio.NewReader(conn))
	return t, nil
}

func (t *TCP) Kind() string { return "tcp" }

// Header is the server's last stream header.
func (t *TCP) Header() server.StartInfo {
	t.header.mu.Lock()
	defer t.header.mu.Unlock()
	return t.header.h
}

func (t *TCP) readLoop(br *bufio.Reader) {
	defer close(t.readEnd)
	limits := server.Limits{MaxBytes: 64 << 20, MaxDepth: 1000}
	for {
		dec := server.NewStreamDecoder(br, limits)
		restart := false
		for !restart {
			ev, err := dec.Next()
			if err != nil {
				t.deliver(event{err: err})
				return
			}
			switch ev.Kind {
			case server.EventStreamStart:
				t.header.mu.Lock()
				t.header.h = ev.Start
				t.header.mu.Unlock()
			case server.EventStreamEnd:
				t.deliver(event{err: io.EOF})
				return
			case server.EventElement:
				el := ev.Element
				if !t.deliver(event{el: el}) {
					return
				}
				switch {
				case el.Tag == "success" && el.NamespaceURI() == server.NSSASL:
					restart = true
				case el.Tag == "proceed" && el.NamespaceURI() == server.NSTLS:
					select {
					case br = <-t.upgrade:
					case <-t.closed:
						return
					}
					if br == nil {
						return
					}
					restart = true
				}
			}
		}
	}
}

func (t *TCP) deliver(e event) bool {
	select {
	case t.events <- e:
		return true
	case <-t.closed:
		return false
	}
}

// Open writes a stream header.
func (t *TCP) Open(domain string) error {
	return t.Send(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='` + server.NSStream +
		`' to='` + server.EscapeText(domain) + `' version='1.0' xml:lang='en'>`)
}

// Send writes raw bytes.
func (t *TCP) Send(xml string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = t.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := io.WriteString(t.conn, xml)
	return err
}

// Next returns the next element.
func (t *TCP) Next(ctx context.Context) (*etree.Element, error) {
	select {
	case e := <-t.events:
		return e.el, e.err
	case <-ctx.Done():
		return nil, fmt.Errorf("tcp: %w", ctx.Err())
	}
}

// StartTLS completes STARTTLS after the caller has received <proceed/>.
func (t *TCP) StartTLS(cfg *tls.Config) error {
	t.mu.Lock()
	tc := tls.Client(t.conn, cfg)
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	err := tc.Handshake()
	_ = tc.SetDeadline(time.Time{})
	if err == nil {
		t.conn = tc
	}
	t.mu.Unlock()
	if err != nil {
		t.upgrade <- nil
		return fmt.Errorf("starttls handshake: %w", err)
	}
	t.upgrade <- bufio.NewReader(tc)
	return nil
}

// ConnectionState reports the TLS state, if the connection is TLS.
func (t *TCP) ConnectionState() (tls.ConnectionState, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tc, ok := t.conn.(*tls.Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// Close sends </stream:stream> and waits for the server's close. A stream
// the server has already ended is just dropped.
func (t *TCP) Close() error {
	select {
	case <-t.readEnd:
		t.Drop()
		return nil
	default:
	}
	err := t.Send(`</stream:stream>`)
	deadline := time.After(2 * time.Second)
	for err == nil {
		select {
		case e := <-t.events:
			if e.err != nil {
				t.Drop()
				return nil
			}
		case <-t.readEnd:
			t.Drop()
			return nil
		case <-deadline:
			err = fmt.Errorf("tcp: server did not close the stream")
		}
	}
	t.Drop()
	return err
}

// Drop closes the socket.
func (t *TCP) Drop() {
	t.once.Do(func() { close(t.closed) })
	t.mu.Lock()
	defer t.mu.Unlock()
	t.conn.Close()
}

// Raw is the current connection, for tests that write bytes by hand.
func (t *TCP) Raw() net.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conn
}
