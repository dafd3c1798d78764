package servertest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/beevik/etree"

	"github.com/finesse-notify/finesse-notify/server"
)

// Pipe is an in-memory transport for tests and benchmarks of what sits on
// the core (pubsub, Finesse): the test feeds its session XML and reads each
// packet the server queued, parsed. Streams have no header or footer, as on
// BOSH, so every packet is one element.
type Pipe struct {
	Session *server.Session

	discard bool
	mu      sync.Mutex
	ready   chan struct{} // signalled when packets arrive or the pipe ends
	got     []received
	bytes   int64
	packets int64
	ended   bool
	cond    string
	scratch []server.Packet
}

// NewPipe opens a session of srv on a new pipe.
func NewPipe(srv *server.Server) *Pipe {
	p := &Pipe{ready: make(chan struct{}, 1)}
	p.Session = srv.NewSession(p)
	return p
}

// Discard makes the pipe count and drop what the server sends from now
// on, for benchmarks: nothing is parsed or kept.
func (p *Pipe) Discard() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.discard = true
	p.got = nil
}

// Kind is "pipe".
func (p *Pipe) Kind() string { return "pipe" }

// Secure reports true: nothing leaves the process.
func (p *Pipe) Secure() bool { return true }

// RemoteAddr is "pipe".
func (p *Pipe) RemoteAddr() string { return "pipe" }

// StreamHeader is nil: a pipe's stream has no header.
func (p *Pipe) StreamHeader(string, string) []byte { return nil }

// StreamFooter is nil.
func (p *Pipe) StreamFooter() []byte { return nil }

// Wake drains the session's queue at once.
func (p *Pipe) Wake() {
	p.mu.Lock()
	p.scratch = p.Session.Outbound(p.scratch[:0])
	for _, pk := range p.scratch {
		p.packets++
		p.bytes += int64(pk.Len())
		if p.discard {
			continue
		}
		el, err := server.ParseDocument(pk.Bytes(), server.Limits{MaxBytes: 16 << 20, MaxDepth: 256})
		if err != nil {
			el = etree.NewElement("unparsable")
			el.SetText(fmt.Sprintf("%v: %s", err, pk.Bytes()))
		}
		p.got = append(p.got, received{el: el, raw: string(pk.Bytes())})
	}
	clear(p.scratch)
	p.mu.Unlock()
	p.signal()
}

// Shutdown records the end and finishes the transport.
func (p *Pipe) Shutdown(cond string) {
	p.Wake()
	p.mu.Lock()
	p.ended, p.cond = true, cond
	p.mu.Unlock()
	p.Session.TransportFinished()
	p.signal()
}

func (p *Pipe) signal() {
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

// Counts returns how many packets and bytes the server has written.
func (p *Pipe) Counts() (packets, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.packets, p.bytes
}

// Ended reports whether the session ended, and its stream error condition.
func (p *Pipe) Ended() (bool, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ended, p.cond
}

// Send parses xml as one element and hands it to the session. Calls must
// not overlap: a transport feeds its session from one goroutine at a time.
func (p *Pipe) Send(xml string) error {
	el, err := server.ParseDocument([]byte(xml), server.Limits{MaxBytes: 1 << 20, MaxDepth: 64})
	if err != nil {
		return fmt.Errorf("pipe send: %w", err)
	}
	p.Session.HandleElement(el)
	return nil
}

type received struct {
	el  *etree.Element
	raw string
}

// ErrTimeout is returned by Next when nothing arrives in time.
var ErrTimeout = errors.New("servertest: timed out waiting for the server")

// Next returns the next element the server sent, waiting up to timeout.
func (p *Pipe) Next(timeout time.Duration) (*etree.Element, error) {
	el, _, err := p.NextRaw(timeout)
	return el, err
}

// NextRaw is Next that also returns the bytes as the server wrote them.
func (p *Pipe) NextRaw(timeout time.Duration) (*etree.Element, string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		if len(p.got) > 0 {
			r := p.got[0]
			p.got[0] = received{}
			p.got = p.got[1:]
			p.mu.Unlock()
			return r.el, r.raw, nil
		}
		ended := p.ended
		p.mu.Unlock()
		if ended {
			return nil, "", fmt.Errorf("servertest: session ended (%s)", p.cond)
		}
		select {
		case <-p.ready:
		case <-deadline.C:
			return nil, "", ErrTimeout
		}
	}
}

// Pending returns and forgets what has arrived and was not read.
func (p *Pipe) Pending() []*etree.Element {
	p.mu.Lock()
	defer p.mu.Unlock()
	got := make([]*etree.Element, len(p.got))
	for i, r := range p.got {
		got[i] = r.el
	}
	p.got = nil
	return got
}

// Login opens the stream, authenticates with SASL PLAIN and binds
// resource, reading the server's answers; the session is then bound but
// has sent no presence.
func (p *Pipe) Login(user, password, resource string) error {
	const wait = 5 * time.Second
	p.Session.StreamOpened(server.StreamHeader{Version: "1.0"})
	if _, err := p.Next(wait); err != nil { // features
		return fmt.Errorf("login %s: features: %w", user, err)
	}
	creds := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	if err := p.Send(`<auth xmlns='` + server.NSSASL + `' mechanism='PLAIN'>` + creds + `</auth>`); err != nil {
		return err
	}
	if el, err := p.Next(wait); err != nil || el.Tag != "success" {
		return fmt.Errorf("login %s: authentication failed: %v %v", user, err, el)
	}
	p.Session.StreamOpened(server.StreamHeader{Version: "1.0"})
	if _, err := p.Next(wait); err != nil {
		return fmt.Errorf("login %s: features after auth: %w", user, err)
	}
	if err := p.Send(`<iq xmlns='jabber:client' type='set' id='bind'><bind xmlns='` + server.NSBind + `'><resource>` +
		server.EscapeText(resource) + `</resource></bind></iq>`); err != nil {
		return err
	}
	if el, err := p.Next(wait); err != nil || el.SelectAttrValue("type", "") != "result" {
		return fmt.Errorf("login %s: bind failed: %v %v", user, err, el)
	}
	return nil
}
