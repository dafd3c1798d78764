package pubsub_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/finesse-notify/finesse-notify/pubsub"
	"github.com/finesse-notify/finesse-notify/server"
	"github.com/finesse-notify/finesse-notify/server/servertest"
)

const (
	domain   = "example.test"
	service  = "pubsub.example.test"
	password = "pw"
	wait     = 5 * time.Second
)

// harness is a server with a pubsub service on in-memory sessions.
type harness struct {
	srv *server.Server
	ps  *pubsub.Service
}

func newHarness(tb testing.TB, users int, cfg pubsub.Config) *harness {
	tb.Helper()
	accounts := servertest.Accounts{}
	for i := range users {
		accounts[fmt.Sprintf("u%d", i)] = password
	}
	srv, err := server.New(server.Config{Domain: domain, Accounts: accounts, SendQueueStanzas: 100000, SendQueueBytes: 1 << 30})
	if err != nil {
		tb.Fatal(err)
	}
	cfg.JID = service
	ps, err := pubsub.New(srv, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return &harness{srv: srv, ps: ps}
}

// login binds user/resource and, when priority is not nil, sends
// available presence with it.
func (h *harness) login(tb testing.TB, user, resource string, priority *int) *servertest.Pipe {
	tb.Helper()
	p := servertest.NewPipe(h.srv)
	if err := p.Login(user, password, resource); err != nil {
		tb.Fatal(err)
	}
	if priority != nil {
		if err := p.Send(fmt.Sprintf(`<presence xmlns='jabber:client'><priority>%d</priority></presence>`, *priority)); err != nil {
			tb.Fatal(err)
		}
	}
	return p
}

func prio(n int) *int { return &n }

func bare(user string) server.JID { return server.JID{Local: user, Domain: domain} }

func full(user, res string) server.JID { return server.JID{Local: user, Domain: domain, Resource: res} }

// iq sends an IQ to the service and returns the reply, skipping events.
func iq(tb testing.TB, p *servertest.Pipe, typ, body string) *etree.Element {
	tb.Helper()
	if err := p.Send(`<iq xmlns='jabber:client' type='` + typ + `' id='q1' to='` + service + `'>` + body + `</iq>`); err != nil {
		tb.Fatal(err)
	}
	for {
		el, err := p.Next(wait)
		if err != nil {
			tb.Fatal(err)
		}
		if el.Tag == "iq" && el.SelectAttrValue("id", "") == "q1" {
			return el
		}
	}
}

// stanzaError returns the defined condition and the pubsub#errors
// condition of an IQ error, or "", "".
func stanzaError(el *etree.Element) (cond, pubsubCond string) {
	e := el.SelectElement("error")
	if el.SelectAttrValue("type", "") != "error" || e == nil {
		return "", ""
	}
	for _, c := range e.ChildElements() {
		switch c.NamespaceURI() {
		case server.NSStanzaErrors:
			if c.Tag != "text" {
				cond = c.Tag
			}
		case pubsub.NSErrors:
			pubsubCond = c.Tag
		}
	}
	return cond, pubsubCond
}

// event reads the next message, which must be a pubsub event.
func event(tb testing.TB, p *servertest.Pipe) *etree.Element {
	tb.Helper()
	el, err := p.Next(wait)
	if err != nil {
		tb.Fatal(err)
	}
	if el.Tag != "message" || el.SelectElement("event") == nil {
		tb.Fatalf("want an event message, got %s", render(el))
	}
	return el
}

// itemPayload returns the id and the serialised payload of an item event.
func itemPayload(tb testing.TB, msg *etree.Element) (string, string) {
	tb.Helper()
	it := msg.FindElement("event/items/item")
	if it == nil || len(it.ChildElements()) != 1 {
		tb.Fatalf("no item with one payload in %s", render(msg))
	}
	return it.SelectAttrValue("id", ""), render(it.ChildElements()[0])
}

func render(el *etree.Element) string { return string(server.Serialize(el)) }

// noMore fails if anything arrived on p.
func noMore(tb testing.TB, p *servertest.Pipe) {
	tb.Helper()
	if got := p.Pending(); len(got) > 0 {
		var b strings.Builder
		for _, el := range got {
			b.WriteString(render(el))
		}
		tb.Fatalf("unexpected: %s", b.String())
	}
}
