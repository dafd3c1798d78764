package client

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/server"
)

// Wire is the client side of one transport.
type Wire interface {
	// Open opens the stream to domain, or restarts it after SASL success
	// (TCP and WebSocket send a new header, BOSH a restart request). The
	// server's stream header is consumed; its <stream:features/> and
	// everything after it come from Next.
	Open(domain string) error
	// Send writes raw XML: one top-level element.
	Send(xml string) error
	// Next returns the next top-level element from the server. Stream
	// errors come as their <stream:error/> element (local name "error",
	// namespace server.NSStream); the end of the stream is io.EOF, or a
	// *Terminated for a BOSH terminate with a condition.
	Next(ctx context.Context) (*etree.Element, error)
	// Close ends the stream cleanly and waits a little for the server's
	// side of the close.
	Close() error
	// Drop cuts the connection without closing the stream.
	Drop()
	// Kind names the transport: "tcp", "websocket" or "bosh".
	Kind() string
}

// Terminated is how a BOSH session ended by the server reports itself.
type Terminated struct{ Condition string }

func (t *Terminated) Error() string { return "bosh session terminated: " + t.Condition }

// Client is a Wire with a backlog, timeouts and the login sequence.
type Client struct {
	Wire    Wire
	Domain  string
	Timeout time.Duration // per wait; default 5 s
	JID     string        // full JID after Bind

	backlog []*etree.Element
}

// New wraps w for domain.
func New(w Wire, domain string) *Client {
	return &Client{Wire: w, Domain: domain, Timeout: 5 * time.Second}
}

var idCounter atomic.Uint64

// NextID returns a fresh stanza id.
func NextID() string { return fmt.Sprintf("c%d", idCounter.Add(1)) }

// Send writes raw XML.
func (c *Client) Send(xml string) error { return c.Wire.Send(xml) }

// Sendf formats and writes raw XML; arguments are escaped with server.EscapeText
// when they are strings.
func (c *Client) Sendf(format string, args ...any) error {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = server.EscapeText(s)
		}
	}
	return c.Wire.Send(fmt.Sprintf(format, args...))
}

// Next returns the next element, from the backlog first.
func (c *Client) Next() (*etree.Element, error) {
	if len(c.backlog) > 0 {
		el := c.backlog[0]
		c.backlog = c.backlog[1:]
		return el, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	return c.Wire.Next(ctx)
}

// Await returns the first element that match accepts. Others are kept, in
// order, for later Next and Await calls. A stream error or the end of the
// stream ends the wait with an error that says so.
func (c *Client) Await(what string, match func(*etree.Element) bool) (*etree.Element, error) {
	for i, el := range c.backlog {
		if match(el) {
			c.backlog = append(c.backlog[:i:i], c.backlog[i+1:]...)
			return el, nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	for {
		el, err := c.Wire.Next(ctx)
		if err != nil {
			return nil, fmt.Errorf("waiting for %s: %w", what, err)
		}
		if match(el) {
			return el, nil
		}
		if IsStreamError(el) {
			return nil, fmt.Errorf("waiting for %s: got %s", what, Render(el))
		}
		c.backlog = append(c.backlog, el)
	}
}

// Backlog returns the elements received but not yet consumed.
func (c *Client) Backlog() []*etree.Element { return c.backlog }

// IsStreamError reports whether el is a <stream:error/>.
func IsStreamError(el *etree.Element) bool {
	return el.Tag == "error" && el.NamespaceURI() == server.NSStream
}

// StreamErrorCondition returns the condition of a <stream:error/>, or "".
func StreamErrorCondition(el *etree.Element) string {
	if !IsStreamError(el) {
		return ""
	}
	for _, ch := range el.ChildElements() {
		if ch.NamespaceURI() == server.NSStreamErrors && ch.Tag != "text" {
			return ch.Tag
		}
	}
	return ""
}

// StanzaErrorCondition returns the defined condition of a stanza's
// <error/> child, or "".
func StanzaErrorCondition(el *etree.Element) string {
	e := el.SelectElement("error")
	if e == nil {
		return ""
	}
	for _, ch := range e.ChildElements() {
		if ch.NamespaceURI() == server.NSStanzaErrors && ch.Tag != "text" {
			return ch.Tag
		}
	}
	return ""
}

// Render serialises el for messages.
func Render(el *etree.Element) string { return string(server.Serialize(el)) }

// Is returns a matcher for elements named local in namespace ns.
func Is(local, ns string) func(*etree.Element) bool {
	return func(el *etree.Element) bool { return el.Tag == local && el.NamespaceURI() == ns }
}

// IQReply returns a matcher for the result or error of the IQ id.
func IQReply(id string) func(*etree.Element) bool {
	return func(el *etree.Element) bool {
		t := el.SelectAttrValue("type", "")
		return el.Tag == "iq" && el.SelectAttrValue("id", "") == id && (t == "result" || t == "error")
	}
}

// IQ sends an IQ (whose id attribute must be set to id) and waits for its reply.
func (c *Client) IQ(id, xml string) (*etree.Element, error) {
	if err := c.Send(xml); err != nil {
		return nil, err
	}
	return c.Await("reply to iq "+id, IQReply(id))
}

// OpenStream opens (or restarts) the stream and returns the features.
func (c *Client) OpenStream() (*etree.Element, error) {
	if err := c.Wire.Open(c.Domain); err != nil {
		return nil, fmt.Errorf("open stream: %w", err)
	}
	return c.Await("stream features", Is("features", server.NSStream))
}

// PlainAuth sends SASL PLAIN and returns the server's <success/> or <failure/>.
func (c *Client) PlainAuth(user, password string) (*etree.Element, error) {
	msg := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	if err := c.Send(`<auth xmlns='` + server.NSSASL + `' mechanism='PLAIN'>` + msg + `</auth>`); err != nil {
		return nil, err
	}
	return c.Await("SASL outcome", func(el *etree.Element) bool {
		return el.NamespaceURI() == server.NSSASL && (el.Tag == "success" || el.Tag == "failure")
	})
}

// Bind binds resource ("" lets the server choose) and records the JID.
func (c *Client) Bind(resource string) error {
	id := NextID()
	res := ""
	if resource != "" {
		res = "<resource>" + server.EscapeText(resource) + "</resource>"
	}
	reply, err := c.IQ(id, `<iq xmlns='jabber:client' type='set' id='`+id+`'><bind xmlns='`+server.NSBind+`'>`+res+`</bind></iq>`)
	if err != nil {
		return err
	}
	if reply.SelectAttrValue("type", "") != "result" {
		return fmt.Errorf("bind refused: %s", Render(reply))
	}
	jid := reply.FindElement("bind/jid")
	if jid == nil {
		return fmt.Errorf("bind result without jid: %s", Render(reply))
	}
	c.JID = jid.Text()
	return nil
}

// Login opens the stream, authenticates with PLAIN, restarts and binds.
func (c *Client) Login(user, password, resource string) error {
	features, err := c.OpenStream()
	if err != nil {
		return err
	}
	if !strings.Contains(Render(features), "<mechanism>PLAIN</mechanism>") {
		return fmt.Errorf("PLAIN not offered: %s", Render(features))
	}
	outcome, err := c.PlainAuth(user, password)
	if err != nil {
		return err
	}
	if outcome.Tag != "success" {
		return fmt.Errorf("authentication failed: %s", Render(outcome))
	}
	if _, err := c.OpenStream(); err != nil {
		return err
	}
	return c.Bind(resource)
}

// SendPresence sends initial presence with priority.
func (c *Client) SendPresence(priority int) error {
	return c.Send(fmt.Sprintf(`<presence xmlns='jabber:client'><priority>%d</priority></presence>`, priority))
}

// ExpectEnd waits for the end of the stream, skipping anything but a
// stream error, and returns the stream error's condition ("" if none).
func (c *Client) ExpectEnd() (string, error) {
	cond := ""
	for {
		el, err := c.Next()
		var term *Terminated
		switch {
		case errors.Is(err, io.EOF):
			return cond, nil
		case errors.As(err, &term):
			if cond == "" && term.Condition != "remote-stream-error" {
				cond = term.Condition
			}
			return cond, nil
		case err != nil:
			return cond, err
		}
		if c := StreamErrorCondition(el); c != "" {
			cond = c
		}
	}
}
