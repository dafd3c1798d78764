package e2e

import (
	"testing"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/app"
	"github.com/finesse-notify/finesse-notify/client"
)

func presenceFrom(from, typ string) func(*etree.Element) bool {
	return func(el *etree.Element) bool {
		return el.Tag == "presence" && el.SelectAttrValue("from", "") == from && el.SelectAttrValue("type", "") == typ
	}
}

func messageWithBody(body string) func(*etree.Element) bool {
	return func(el *etree.Element) bool {
		b := el.SelectElement("body")
		return el.Tag == "message" && b != nil && b.Text() == body
	}
}

// expectNothing checks, with a ping round trip as the barrier, that c got
// nothing before its ping reply.
func expectNothing(t *testing.T, c *client.Client, what string) {
	t.Helper()
	ping(t, c)
	if n := len(c.Backlog()); n != 0 {
		t.Errorf("%s: unexpected %s", what, client.Render(c.Backlog()[0]))
	}
}

// receivedSoFar reports, after a ping round trip as the barrier, whether c
// has received an element that match accepts.
func receivedSoFar(t *testing.T, c *client.Client, match func(*etree.Element) bool) bool {
	t.Helper()
	ping(t, c)
	for _, el := range c.Backlog() {
		if match(el) {
			return true
		}
	}
	return false
}

func TestPresenceBetweenOwnResources(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		first := online(t, tr, a, "1005", "first", 0)
		expectNothing(t, first, "no echo of its own initial presence")

		second := login(t, tr, a, "1005", "second")
		must(t, second.Send(`<presence xmlns='jabber:client'><priority>5</priority><status>ready</status></presence>`))
		// The first resource hears of the second, with its priority...
		p, err := first.Await("second's presence", presenceFrom(second.JID, ""))
		must(t, err)
		if p.SelectAttrValue("to", "") != first.JID || p.FindElement("priority").Text() != "5" {
			t.Errorf("broadcast presence: %s", client.Render(p))
		}
		// ...and the second, being new, hears of the first.
		p, err = second.Await("first's presence", presenceFrom(first.JID, ""))
		must(t, err)
		if p.FindElement("priority").Text() != "0" {
			t.Errorf("initial presence of the other resource: %s", client.Render(p))
		}

		must(t, second.Send(`<presence xmlns='jabber:client' type='unavailable'/>`))
		_, err = first.Await("second's unavailable", presenceFrom(second.JID, "unavailable"))
		must(t, err)
		must(t, second.SendPresence(1))
		_, err = first.Await("second back", presenceFrom(second.JID, ""))
		must(t, err)

		// A session that ends is unavailable to the others at once: a
		// dropped connection, or for BOSH (which has none to drop) a
		// terminate.
		if tr.kind == "bosh" {
			must(t, second.Wire.Close())
		} else {
			second.Wire.Drop()
		}
		_, err = first.Await("second gone", presenceFrom(second.JID, "unavailable"))
		must(t, err)
	})
}

func TestPresencePriorityValidation(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		c := login(t, tr, a, "1006", "p")
		must(t, c.Send(`<presence xmlns='jabber:client' id='bad'><priority>900</priority></presence>`))
		r, err := c.Await("presence error", func(el *etree.Element) bool { return el.Tag == "presence" && el.SelectAttrValue("type", "") == "error" })
		must(t, err)
		if client.StanzaErrorCondition(r) != "bad-request" {
			t.Errorf("bad priority answered %s", client.Render(r))
		}
	})
}

func TestMessageRouting(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		hiA := online(t, tr, a, "1007", "hiA", 3)
		hiB := online(t, tr, a, "1007", "hiB", 3)
		low := online(t, tr, a, "1007", "low", 1)
		neg := online(t, tr, a, "1007", "neg", -1)
		sender := online(t, tr, a, "1008", "s", 0)
		for _, c := range []*client.Client{hiA, hiB, low} {
			// Drain the presence the resources exchanged.
			for len(c.Backlog()) > 0 {
				_, _ = c.Next()
			}
		}
		_ = neg.Backlog()

		// A bare JID reaches the highest-priority resources, all of them;
		// `from` is the sender's full JID whatever the sender wrote.
		must(t, sender.Send(`<message xmlns='jabber:client' to='1007@`+domain+`' from='spoof@`+domain+`/x' type='chat'><body>to-bare</body></message>`))
		for _, c := range []*client.Client{hiA, hiB} {
			m, err := c.Await("bare message", messageWithBody("to-bare"))
			must(t, err)
			if m.SelectAttrValue("from", "") != sender.JID {
				t.Errorf("from = %q, want %q", m.SelectAttrValue("from", ""), sender.JID)
			}
		}
		// A full JID reaches that resource, even with a negative priority.
		must(t, sender.Send(`<message xmlns='jabber:client' to='1007@`+domain+`/neg'><body>to-full</body></message>`))
		_, err := neg.Await("full message", messageWithBody("to-full"))
		must(t, err)
		// Headlines to the bare JID reach every non-negative resource.
		must(t, sender.Send(`<message xmlns='jabber:client' to='1007@`+domain+`' type='headline'><body>news</body></message>`))
		for _, c := range []*client.Client{hiA, hiB, low} {
			_, err := c.Await("headline", messageWithBody("news"))
			must(t, err)
		}
		for _, c := range []*client.Client{low, neg} {
			if receivedSoFar(t, c, messageWithBody("to-bare")) {
				t.Errorf("%s got the bare-JID chat message", c.JID)
			}
		}

		// Nobody online, or no such user: the sender gets service-unavailable.
		for _, to := range []string{"1009@" + domain, "nobody@" + domain} {
			id := client.NextID()
			must(t, sender.Send(`<message xmlns='jabber:client' id='`+id+`' to='`+to+`'><body>lost</body></message>`))
			e, err := sender.Await("message error", func(el *etree.Element) bool {
				return el.Tag == "message" && el.SelectAttrValue("id", "") == id
			})
			must(t, err)
			if e.SelectAttrValue("type", "") != "error" || client.StanzaErrorCondition(e) != "service-unavailable" {
				t.Errorf("message to %s answered %s", to, client.Render(e))
			}
		}
	})
}

// TestRoutingAcrossTransports sends a message around a ring of clients, one
// per transport, so every transport delivers what every other one sent.
func TestRoutingAcrossTransports(t *testing.T) {
	a := startApp(t, nil)
	var ring []*client.Client
	for i, tr := range transports {
		user := []string{"1001", "1002", "1003", "1004", "1005", "1006"}[i]
		ring = append(ring, online(t, tr, a, user, tr.name, 0))
	}
	for i, from := range ring {
		to := ring[(i+1)%len(ring)]
		must(t, from.Send(`<message xmlns='jabber:client' to='`+to.JID+`'><body>hop `+from.JID+`</body></message>`))
		m, err := to.Await("hop", messageWithBody("hop "+from.JID))
		must(t, err)
		if m.SelectAttrValue("from", "") != from.JID || m.SelectAttrValue("to", "") != to.JID {
			t.Errorf("%s → %s: %s", transports[i].name, transports[(i+1)%len(ring)].name, client.Render(m))
		}
	}
}
