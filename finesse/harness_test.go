package finesse

import (
	"testing"

	"github.com/beevik/etree"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/pubsub"
	"github.com/finesse-notify/finesse-notify/server"
	"github.com/finesse-notify/finesse-notify/server/servertest"
)

const (
	testDomain   = "finesse.example.com"
	testPubSub   = "pubsub." + testDomain
	testPassword = "password"
)

// testDirectoryYAML has two teams, agents in each, a user id in mixed
// case, a supervisor per team, an administrator and two campaigns.
const testDirectoryYAML = `
teams: [{id: 1, name: Team A}, {id: 2, name: Team B}]
users:
  - {id: "1001", password: password, role: Agent, team: 1}
  - {id: "1002", password: password, role: Agent, team: 1}
  - {id: JSmith, password: password, role: Agent, team: 1}
  - {id: "2002", password: password, role: Agent, team: 2}
  - {id: "2001", password: password, role: Supervisor, team: 1, supervises: [1]}
  - {id: "3001", password: password, role: Supervisor, team: 2}
  - {id: admin,  password: password, role: Administrator}
campaigns:
  - {publicId: Care}
  - {publicId: Cisco_Default_Task_Campaign}
`

func testDirectory(t *testing.T) *directory.Directory {
	t.Helper()
	d, err := directory.Parse([]byte(testDirectoryYAML))
	if err != nil {
		t.Fatalf("test directory: %v", err)
	}
	return d
}

// harness is a real XMPP server on loopback TCP with the pubsub service
// configured as Finesse configures it, and a Notifier.
type harness struct {
	srv  *server.Server
	ps   *pubsub.Service
	n    *Notifier
	dir  *directory.Directory
	addr string
	logs *observer.ObservedLogs
}

func newHarness(t *testing.T, cfg pubsub.Config) *harness {
	t.Helper()
	dir := testDirectory(t)
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	srv, err := server.New(server.Config{Domain: testDomain, Accounts: dir, Logger: log})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	cfg.JID = testPubSub
	cfg.Policy = NewPolicy(dir)
	cfg.Resolver = Resolver(dir)
	cfg.Logger = log
	ps, err := pubsub.New(srv, cfg)
	if err != nil {
		t.Fatalf("pubsub.New: %v", err)
	}
	n := NewNotifier(srv, ps, dir, log)
	addr := servertest.ServeTCP(t, srv)
	return &harness{srv: srv, ps: ps, n: n, dir: dir, addr: addr, logs: logs}
}

// login connects user and binds resource, without presence.
func (h *harness) login(t *testing.T, user, resource string) *client.Client {
	t.Helper()
	return servertest.Login(t, h.addr, testDomain, user, testPassword, resource)
}

// online logs in and sends initial presence, then takes the finesse@
// presence that answers it.
func (h *harness) online(t *testing.T, user, resource string) *client.Client {
	t.Helper()
	c := h.login(t, user, resource)
	if err := c.SendPresence(0); err != nil {
		t.Fatalf("presence: %v", err)
	}
	if _, err := c.Await("finesse presence", isFinessePresence); err != nil {
		t.Fatalf("%s: %v", c.JID, err)
	}
	return c
}

func isFinessePresence(el *etree.Element) bool {
	return el.Tag == "presence" && el.SelectAttrValue("from", "") == "finesse@"+testDomain+"/finesse"
}

// flush proves that everything the server sent c before now has arrived:
// it waits for the answer to a ping.
func flush(t *testing.T, c *client.Client) {
	t.Helper()
	id := client.NextID()
	reply, err := c.IQ(id, `<iq xmlns='jabber:client' type='get' id='`+id+`' to='`+testDomain+`'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	if reply.SelectAttrValue("type", "") != "result" {
		t.Fatalf("ping: %s", client.Render(reply))
	}
}

// notificationText returns the text of the <notification> in a pubsub
// event message for node, and the item id.
func notificationText(t *testing.T, msg *etree.Element, node string) (text, itemID string) {
	t.Helper()
	event := msg.SelectElement("event")
	if event == nil || event.NamespaceURI() != pubsub.NSEvent {
		t.Fatalf("not a pubsub event: %s", client.Render(msg))
	}
	items := event.SelectElement("items")
	if items == nil || items.SelectAttrValue("node", "") != node {
		t.Fatalf("event not for node %s: %s", node, client.Render(msg))
	}
	item := items.SelectElement("item")
	if item == nil {
		t.Fatalf("no item: %s", client.Render(msg))
	}
	notif := item.SelectElement("notification")
	if notif == nil || notif.NamespaceURI() != NotificationNamespace || len(notif.ChildElements()) != 0 {
		t.Fatalf("item does not hold a text-only <notification xmlns='%s'>: %s", NotificationNamespace, client.Render(msg))
	}
	return notif.Text(), item.SelectAttrValue("id", "")
}

// isEventFor matches a pubsub event message for node.
func isEventFor(node string) func(*etree.Element) bool {
	return func(el *etree.Element) bool {
		if el.Tag != "message" || el.SelectAttrValue("from", "") != testPubSub {
			return false
		}
		items := el.FindElement("event/items")
		return items != nil && items.SelectAttrValue("node", "") == node
	}
}

func mustJID(t *testing.T, s string) server.JID {
	t.Helper()
	j, err := server.ParseJID(s)
	if err != nil {
		t.Fatalf("jid %q: %v", s, err)
	}
	return j
}
