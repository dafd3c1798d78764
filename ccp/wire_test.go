package ccp

import (
	"net/http"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/finesse"
	"github.com/finesse-notify/finesse-notify/pubsub"
	"github.com/finesse-notify/finesse-notify/server"
	"github.com/finesse-notify/finesse-notify/server/servertest"
)

const (
	wireDomain = "finesse.example.com"
	wirePubSub = "pubsub." + wireDomain
	wireNode   = "ccp.campaign.updates.Cisco_Default_Task_Campaign"
)

// TestSubscriberSeesTheTaskOnTheWire: an administrator's XMPP client,
// subscribed to ccp.campaign.updates.Cisco_Default_Task_Campaign through
// the real pubsub service, receives the contact's SocialContact as the
// escaped text of a Finesse <notification>: unread, queued, reserved,
// handled, for the contact id the Task API answered, and nothing for
// another campaign's task.
func TestSubscriberSeesTheTaskOnTheWire(t *testing.T) {
	dir := testDirectory(t)
	srv, err := server.New(server.Config{Domain: wireDomain, Accounts: dir, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := pubsub.New(srv, pubsub.Config{JID: wirePubSub, Policy: finesse.NewPolicy(dir), Resolver: finesse.Resolver(dir)})
	if err != nil {
		t.Fatal(err)
	}
	notifier := finesse.NewNotifier(srv, ps, dir, zap.NewNop())
	addr := servertest.ServeTCP(t, srv)

	admin := servertest.Login(t, addr, wireDomain, "admin", testPassword, "ccp-monitor")
	if err := admin.SendPresence(0); err != nil { // events go to available sessions
		t.Fatal(err)
	}
	id := client.NextID()
	reply, err := admin.IQ(id, `<iq xmlns='jabber:client' type='set' id='`+id+`' to='`+wirePubSub+`'>`+
		`<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='`+wireNode+`' jid='`+admin.JID+`'/></pubsub></iq>`)
	if err != nil || reply.SelectAttrValue("type", "") != "result" {
		t.Fatalf("subscribe: %v %s", err, client.Render(reply))
	}

	h := newHarness(t, func(c *ContactsConfig, _ *Config) { c.Publisher = notifier })
	contact := h.submit(fullTask)
	h.do(req{method: http.MethodPost, path: "/ccp/rest/task/feed/100100", body: fullTask}) // Email_Campaign
	h.router.reserve(contact, "154526_37051928_1", "1080", 5001)
	h.router.handle(contact)

	want := []string{"unread", "queued", "reserved", "handled"}
	for i, status := range want {
		msg, err := admin.Await("SocialContact "+status, func(el *etree.Element) bool { return el.Tag == "message" })
		if err != nil {
			t.Fatalf("%s: %v", status, err)
		}
		if from := msg.SelectAttrValue("from", ""); from != wirePubSub {
			t.Fatalf("from %q", from)
		}
		items := msg.FindElement("event/items")
		if items == nil || items.SelectAttrValue("node", "") != wireNode {
			t.Fatalf("not an event of %s: %s", wireNode, client.Render(msg))
		}
		notif := items.FindElement("item/notification")
		if notif == nil || notif.NamespaceURI() != finesse.NotificationNamespace || len(notif.ChildElements()) != 0 {
			t.Fatalf("no text-only <notification>: %s", client.Render(msg))
		}
		// On the wire the document is escaped character data.
		raw := client.Render(notif)
		if !strings.Contains(raw, "&lt;SocialContact&gt;&lt;author&gt;user@email&lt;/author&gt;") {
			t.Fatalf("%d: the SocialContact is not escaped text: %s", i, raw)
		}
		sc := parseSocialContact(t, notif.Text())
		if sc.fields["id"] != contact || sc.fields["status"] != status {
			t.Fatalf("%d: contact %s status %s, want %s %s", i, sc.fields["id"], sc.fields["status"], contact, status)
		}
	}
	// The other campaign's task reached nobody here.
	flushXMPP(t, admin)
	for _, el := range admin.Backlog() {
		if el.Tag == "message" {
			t.Fatalf("unexpected message: %s", client.Render(el))
		}
	}
}

// flushXMPP proves that everything the server sent c before now has
// arrived: it waits for the answer to a ping.
func flushXMPP(t *testing.T, c *client.Client) {
	t.Helper()
	id := client.NextID()
	reply, err := c.IQ(id, `<iq xmlns='jabber:client' type='get' id='`+id+`' to='`+wireDomain+`'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if err != nil || reply.SelectAttrValue("type", "") != "result" {
		t.Fatalf("ping: %v", err)
	}
}
