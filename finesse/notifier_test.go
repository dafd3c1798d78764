package finesse

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/pubsub"
	"github.com/finesse-notify/finesse-notify/server"
)

// subscriptionsOf lists user's subscriptions as node → subid, checking
// that each is for the bare JID.
func subscriptionsOf(t *testing.T, h *harness, bare string) map[string]string {
	t.Helper()
	jid := mustJID(t, bare)
	out := make(map[string]string)
	for _, s := range h.ps.Subscriptions(jid) {
		if s.JID != jid {
			t.Errorf("subscription of %s to %s is for %s, want the bare JID", bare, s.Node, s.JID)
		}
		if _, dup := out[s.Node]; dup {
			t.Errorf("%s is subscribed twice to %s", bare, s.Node)
		}
		out[s.Node] = s.SubID
	}
	return out
}

func nodesOf(subs map[string]string) []string {
	var out []string
	for n := range subs {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func TestAutomaticSubscriptions(t *testing.T) {
	h := newHarness(t, pubsub.Config{})
	const bare = "1001@" + testDomain
	if got := subscriptionsOf(t, h, bare); len(got) != 0 {
		t.Fatalf("subscribed before any login: %v", got)
	}
	c := h.login(t, "1001", "desk")
	flush(t, c) // the bind's observers have run once the ping is answered
	want := AutomaticNodes("1001")
	slices.Sort(want)
	first := subscriptionsOf(t, h, bare)
	if got := nodesOf(first); !slices.Equal(got, want) {
		t.Fatalf("after the first bind: %v, want %v", got, want)
	}
	for _, n := range nodesOf(first) {
		if strings.HasSuffix(n, "/Queues") {
			t.Errorf("Queues is explicit in Finesse, but %s is subscribed automatically", n)
		}
	}

	// A second session of the same user: nothing is added or replaced.
	c2 := h.login(t, "1001", "other")
	flush(t, c2)
	if again := subscriptionsOf(t, h, bare); !maps(again, first) {
		t.Errorf("after a second bind: %v, want the same %v", again, first)
	}

	// An explicit unsubscribe holds across later logins: the automatic
	// subscriptions are made once per process, as they persist.
	media := UserMediaNode("1001")
	id := client.NextID()
	reply, err := c.IQ(id, `<iq xmlns='jabber:client' type='set' id='`+id+`' to='`+testPubSub+`'><pubsub xmlns='`+pubsub.NSPubSub+
		`'><unsubscribe node='`+media+`' jid='`+bare+`'/></pubsub></iq>`)
	if err != nil || reply.SelectAttrValue("type", "") != "result" {
		t.Fatalf("unsubscribe: %v %s", err, render(reply))
	}
	c.Wire.Close()
	c2.Wire.Close()
	c3 := h.login(t, "1001", "desk")
	flush(t, c3)
	after := subscriptionsOf(t, h, bare)
	if _, ok := after[media]; ok || len(after) != len(first)-1 {
		t.Errorf("after unsubscribe and a new login: %v; want %s to stay unsubscribed", nodesOf(after), media)
	}

	// A mixed-case id: the JID is lower case, the nodes use the directory's spelling.
	cj := h.login(t, "JSMITH", "desk")
	flush(t, cj)
	wantJ := AutomaticNodes("JSmith")
	slices.Sort(wantJ)
	if got := nodesOf(subscriptionsOf(t, h, "jsmith@"+testDomain)); !slices.Equal(got, wantJ) {
		t.Errorf("jsmith: %v, want %v", got, wantJ)
	}
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func render(el *etree.Element) string {
	if el == nil {
		return "<nil>"
	}
	return client.Render(el)
}

func TestAutomaticSubscriptionFailureIsLoggedAndRetried(t *testing.T) {
	h := newHarness(t, pubsub.Config{MaxSubscriptionsPerUser: 3})
	const bare = "1001@" + testDomain
	c := h.login(t, "1001", "desk")
	flush(t, c)
	if got := len(subscriptionsOf(t, h, bare)); got != 3 {
		t.Errorf("%d subscriptions made, want 3 (the cap)", got)
	}
	failures := h.logs.FilterMessage("automatic subscription failed")
	if failures.Len() != 2 {
		t.Fatalf("%d failures logged, want 2", failures.Len())
	}
	e := failures.All()[0]
	if e.ContextMap()["jid"] != bare || !strings.Contains(e.ContextMap()["error"].(string), "too many subscriptions") {
		t.Errorf("log entry %v", e.ContextMap())
	}
	// The session goes on: it can still do things.
	if err := c.SendPresence(0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Await("finesse presence", isFinessePresence); err != nil {
		t.Fatal(err)
	}
	// The next bind tries again.
	c2 := h.login(t, "1001", "again")
	flush(t, c2)
	if got := h.logs.FilterMessage("automatic subscription failed").Len(); got != 4 {
		t.Errorf("%d failures logged after the second bind, want 4", got)
	}
}

func TestFinessePresence(t *testing.T) {
	h := newHarness(t, pubsub.Config{})
	// A resource that needs escaping in an attribute.
	c := h.login(t, "1001", `desk'&<"x>`)
	flush(t, c)
	for _, el := range c.Backlog() {
		if el.Tag == "presence" {
			t.Fatalf("presence before the client's own: %s", render(el))
		}
	}
	if err := c.SendPresence(0); err != nil {
		t.Fatal(err)
	}
	p, err := c.Await("finesse presence", isFinessePresence)
	if err != nil {
		t.Fatal(err)
	}
	if p.NamespaceURI() != server.NSClient || p.SelectAttrValue("to", "") != c.JID || p.SelectAttr("type") != nil || len(p.ChildElements()) != 0 {
		t.Errorf("finesse presence %s; want available presence to %s", render(p), c.JID)
	}
	// A presence update is not initial: no second one.
	if err := c.Send(`<presence xmlns='jabber:client'><priority>5</priority><show>away</show></presence>`); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	for _, el := range c.Backlog() {
		if isFinessePresence(el) {
			t.Fatalf("finesse presence again after a presence update: %s", render(el))
		}
	}
	// Unavailable, then available again: initial once more.
	if err := c.Send(`<presence xmlns='jabber:client' type='unavailable'/>`); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	for _, el := range c.Backlog() {
		if isFinessePresence(el) {
			t.Fatalf("finesse presence after unavailable: %s", render(el))
		}
	}
	if err := c.SendPresence(-1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Await("finesse presence after coming back", isFinessePresence); err != nil {
		t.Fatal(err)
	}

	// Each session gets its own, addressed to it alone.
	c2 := h.login(t, "1001", "second")
	if err := c2.SendPresence(0); err != nil {
		t.Fatal(err)
	}
	p2, err := c2.Await("finesse presence", isFinessePresence)
	if err != nil {
		t.Fatal(err)
	}
	if p2.SelectAttrValue("to", "") != c2.JID {
		t.Errorf("second session's finesse presence is to %q", p2.SelectAttrValue("to", ""))
	}
	flush(t, c)
	for _, el := range c.Backlog() {
		if isFinessePresence(el) {
			t.Errorf("the first session got the second's finesse presence: %s", render(el))
		}
	}
}

func TestNotifierPublish(t *testing.T) {
	h := newHarness(t, pubsub.Config{})
	desk := h.online(t, "1001", "desk")
	other := h.online(t, "1001", "other")
	teammate := h.online(t, "1002", "desk")

	node := UserDialogsNode("1001")
	u := Update{
		Data:      []byte(`<dialogs><Dialog><fromAddress>3001</fromAddress><id>1</id></Dialog></dialogs>`),
		Event:     "post",
		RequestID: `req&"1"`,
		Source:    node,
	}
	pub, err := h.n.Publish(node, u)
	if err != nil {
		t.Fatal(err)
	}
	if pub.Node != node || pub.ItemID == "" || pub.Deliveries != 2 {
		t.Errorf("Published = %+v; want 2 deliveries with an item id", pub)
	}
	want := string(u.Render())
	for _, c := range []*client.Client{desk, other} {
		msg, err := c.Await("notification", isEventFor(node))
		if err != nil {
			t.Fatalf("%s: %v", c.JID, err)
		}
		if to := msg.SelectAttrValue("to", ""); to != "1001@"+testDomain {
			t.Errorf("to = %q, want the bare JID of the automatic subscription", to)
		}
		text, itemID := notificationText(t, msg, node)
		if text != want {
			t.Errorf("%s: notification text\n%s\nwant\n%s", c.JID, text, want)
		}
		if itemID != pub.ItemID {
			t.Errorf("item id %q, Publish said %q", itemID, pub.ItemID)
		}
	}

	// SystemInfo reaches every user; PublishRaw carries the bytes as given.
	raw := []byte("<Update><data><SystemInfo><status>IN_SERVICE</status></SystemInfo></data><event>PUT</event><requestId></requestId><source>/finesse/api/SystemInfo</source></Update>\r\n")
	pub, err = h.n.PublishRaw(SystemInfoNode, raw)
	if err != nil || pub.Deliveries != 3 {
		t.Fatalf("PublishRaw = %+v, %v; want 3 deliveries", pub, err)
	}
	for _, c := range []*client.Client{desk, other, teammate} {
		msg, err := c.Await("SystemInfo", isEventFor(SystemInfoNode))
		if err != nil {
			t.Fatalf("%s: %v", c.JID, err)
		}
		if text, _ := notificationText(t, msg, SystemInfoNode); text != string(raw) {
			t.Errorf("%s: text %q, want %q", c.JID, text, raw)
		}
	}
	// 1001's dialogs never reached 1002.
	flush(t, teammate)
	for _, el := range teammate.Backlog() {
		if isEventFor(node)(el) {
			t.Errorf("1002 got 1001's dialogs: %s", render(el))
		}
	}

	if _, err := h.n.Publish("/finesse/api/User/9999/Dialogs", u); !errors.Is(err, pubsub.ErrNodeNotFound) {
		t.Errorf("publish to an unknown user's node: %v, want ErrNodeNotFound", err)
	}
	if _, err := h.n.PublishRaw("nonsense", raw); !errors.Is(err, pubsub.ErrNodeNotFound) {
		t.Errorf("publish to a non-node: %v, want ErrNodeNotFound", err)
	}
}

func TestNotifierPublishTooBig(t *testing.T) {
	h := newHarness(t, pubsub.Config{MaxPayloadBytes: 200})
	u := Update{Data: []byte("<x>" + strings.Repeat("&amp;", 20) + "</x>"), Event: "PUT", Source: SystemInfoNode}
	// Escaping grows the payload: the limit is on what is published.
	if n := len(NotificationPayload(u.Render())); n <= 200 {
		t.Fatalf("test payload is only %d bytes", n)
	}
	if _, err := h.n.Publish(SystemInfoNode, u); !errors.Is(err, pubsub.ErrPayloadTooBig) {
		t.Errorf("Publish: %v, want ErrPayloadTooBig", err)
	}
}

func TestServicePresenceToggle(t *testing.T) {
	h := newHarness(t, pubsub.Config{})
	agent := h.online(t, "1001", "desk")
	bound := h.login(t, "1002", "desk") // bound, no presence: not told

	h.n.SetServiceAvailable(false)
	if h.n.ServiceAvailable() {
		t.Fatal("ServiceAvailable after SetServiceAvailable(false)")
	}
	p, err := agent.Await("finesse unavailable", isFinessePresence)
	if err != nil {
		t.Fatal(err)
	}
	if p.SelectAttrValue("type", "") != "unavailable" || p.SelectAttrValue("to", "") != agent.JID {
		t.Fatalf("got %s, want unavailable presence to %s", render(p), agent.JID)
	}
	// Again: no change, nothing sent.
	h.n.SetServiceAvailable(false)
	// A session that comes online meanwhile hears nothing from finesse@.
	late := h.login(t, "2002", "desk")
	if err := late.SendPresence(0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{agent, bound, late} {
		flush(t, c)
		for _, el := range c.Backlog() {
			if isFinessePresence(el) {
				t.Fatalf("%s: unexpected %s while the service is down", c.JID, render(el))
			}
		}
	}

	h.n.SetServiceAvailable(true)
	for _, c := range []*client.Client{agent, late} {
		p, err := c.Await("finesse available again", isFinessePresence)
		if err != nil {
			t.Fatal(err)
		}
		if p.SelectAttr("type") != nil {
			t.Fatalf("%s: got %s, want available presence", c.JID, render(p))
		}
	}
	flush(t, bound)
	for _, el := range bound.Backlog() {
		if isFinessePresence(el) {
			t.Fatalf("a session without presence got %s", render(el))
		}
	}
}

func TestEndSessions(t *testing.T) {
	h := newHarness(t, pubsub.Config{})
	a := h.online(t, "1001", "a")
	b := h.login(t, "1001", "b")
	other := h.online(t, "1002", "desk")
	if n := h.n.EndSessions("1001"); n != 2 {
		t.Fatalf("EndSessions ended %d sessions, want 2", n)
	}
	for _, c := range []*client.Client{a, b} {
		cond, err := c.ExpectEnd()
		if err != nil {
			t.Fatal(err)
		}
		if cond != server.CondPolicyViolation {
			t.Fatalf("%s ended with %q, want policy-violation", c.JID, cond)
		}
	}
	flush(t, other) // untouched
	if n := h.n.EndSessions("nobody"); n != 0 {
		t.Fatalf("EndSessions of an unknown user: %d", n)
	}
}
