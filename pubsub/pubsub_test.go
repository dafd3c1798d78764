package pubsub_test

import (
	"fmt"
	"regexp"
	"slices"
	"sync"
	"testing"

	"github.com/finesse-notify/finesse-notify/pubsub"
	"github.com/finesse-notify/finesse-notify/server/servertest"
)

// implicitUserNodes makes /users/<local> exist without a create.
func implicitUserNodes(node string) bool {
	return regexp.MustCompile(`^/users/u[0-9]+$`).MatchString(node)
}

func TestEventEnvelopeIsRenderedOnceAndAddressedPerSubscriber(t *testing.T) {
	h := newHarness(t, 2, pubsub.Config{Resolver: implicitUserNodes})
	a := h.login(t, "u0", "desk", prio(0))
	b := h.login(t, "u1", "desk", prio(0))
	if _, err := h.ps.Subscribe("/users/u0", bare("u0")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ps.Subscribe("/users/u0", full("u1", "desk")); err != nil {
		t.Fatal(err)
	}
	payload := `<notification xmlns='http://jabber.org/protocol/pubsub'>&lt;Update&gt;&amp;&lt;/Update&gt;</notification>`
	res, err := h.ps.Publish("/users/u0", "", []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	if res.Deliveries != 2 {
		t.Fatalf("deliveries %d, want 2", res.Deliveries)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}[0-9]+$`).MatchString(res.ItemID) {
		t.Fatalf("item id %q is not a UUID followed by digits", res.ItemID)
	}
	for _, c := range []struct {
		p  *servertest.Pipe
		to string
	}{{a, "u0@" + domain}, {b, "u1@" + domain + "/desk"}} {
		_, raw, err := c.p.NextRaw(wait)
		if err != nil {
			t.Fatal(err)
		}
		want := regexp.MustCompile(`^<message xmlns='jabber:client' from='` + regexp.QuoteMeta(service) + `' to='` + regexp.QuoteMeta(c.to) +
			`' id='/users/u0__` + regexp.QuoteMeta(c.to) + `__[0-9A-Za-z]{5}'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='/users/u0'><item id='` +
			regexp.QuoteMeta(res.ItemID) + `'>` + regexp.QuoteMeta(payload) + `</item></items></event></message>$`)
		if !want.MatchString(raw) {
			t.Fatalf("event for %s:\n%s\ndoes not match\n%s", c.to, raw, want)
		}
	}
}

func TestBareSubscriptionReachesAvailableResourcesWithNonNegativePriority(t *testing.T) {
	h := newHarness(t, 2, pubsub.Config{Resolver: implicitUserNodes})
	zero := h.login(t, "u0", "zero", prio(0))
	high := h.login(t, "u0", "high", prio(5))
	negative := h.login(t, "u0", "negative", prio(-1))
	silent := h.login(t, "u0", "silent", nil) // bound, no presence yet
	other := h.login(t, "u1", "desk", prio(0))
	// Presence between u0's own resources is not what this test is about.
	for _, p := range []*servertest.Pipe{zero, high, negative, silent} {
		p.Pending()
	}
	if _, err := h.ps.Subscribe("/users/u0", bare("u0")); err != nil {
		t.Fatal(err)
	}
	res, err := h.ps.Publish("/users/u0", "i1", []byte(`<x xmlns='urn:test'/>`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Deliveries != 2 {
		t.Fatalf("deliveries %d, want 2 (zero and high)", res.Deliveries)
	}
	for _, p := range []*servertest.Pipe{zero, high} {
		if to := event(t, p).SelectAttrValue("to", ""); to != "u0@"+domain {
			t.Fatalf("to=%q, want the bare JID the subscription names", to)
		}
	}
	for _, p := range []*servertest.Pipe{negative, silent, other} {
		noMore(t, p)
	}

	// A full-JID subscription reaches its resource whatever its priority,
	// and only it.
	if _, err := h.ps.Subscribe("/users/u1", full("u0", "negative")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ps.Publish("/users/u1", "i2", []byte(`<x xmlns='urn:test'/>`)); err != nil {
		t.Fatal(err)
	}
	if to := event(t, negative).SelectAttrValue("to", ""); to != "u0@"+domain+"/negative" {
		t.Fatalf("to=%q", to)
	}
	for _, p := range []*servertest.Pipe{zero, high, silent, other} {
		noMore(t, p)
	}
}

func TestNothingIsStoredForOfflineSubscribers(t *testing.T) {
	h := newHarness(t, 1, pubsub.Config{Resolver: implicitUserNodes})
	if _, err := h.ps.Subscribe("/users/u0", bare("u0")); err != nil {
		t.Fatal(err)
	}
	res, err := h.ps.Publish("/users/u0", "", []byte(`<x xmlns='urn:test'/>`))
	if err != nil || res.Deliveries != 0 {
		t.Fatalf("publish with the subscriber offline: %+v %v", res, err)
	}
	p := h.login(t, "u0", "desk", prio(0))
	noMore(t, p)
	if got := h.ps.Subscriptions(bare("u0")); len(got) != 1 || got[0].Node != "/users/u0" {
		t.Fatalf("the subscription did not outlive the absence: %+v", got)
	}
}

func TestConcurrentPublishersReachEverySubscriberInOneOrder(t *testing.T) {
	const publishers, each = 4, 150
	h := newHarness(t, 3, pubsub.Config{Resolver: implicitUserNodes})
	var pipes []*servertest.Pipe
	for i := range 3 {
		user := fmt.Sprintf("u%d", i)
		pipes = append(pipes, h.login(t, user, "desk", prio(0)))
		if _, err := h.ps.Subscribe("/users/u0", bare(user)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := range publishers {
		wg.Go(func() {
			for i := range each {
				if _, err := h.ps.Publish("/users/u0", "", []byte(fmt.Sprintf(`<n xmlns='urn:test' g='%d' i='%d'/>`, g, i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var first []string
	for k, p := range pipes {
		var seen []string
		next := make([]int, publishers)
		for range publishers * each {
			it := event(t, p).FindElement("event/items/item/n")
			var g, i int
			fmt.Sscan(it.SelectAttrValue("g", ""), &g)
			fmt.Sscan(it.SelectAttrValue("i", ""), &i)
			if i != next[g] {
				t.Fatalf("subscriber %d: publisher %d's item %d came when %d was due", k, g, i, next[g])
			}
			next[g]++
			seen = append(seen, fmt.Sprint(g, ":", i))
		}
		noMore(t, p)
		if first == nil {
			first = seen
		} else if !slices.Equal(first, seen) {
			t.Fatalf("subscriber %d saw another interleaving than subscriber 0", k)
		}
	}
}

func TestItemsKeepTheLastPublished(t *testing.T) {
	h := newHarness(t, 1, pubsub.Config{Resolver: implicitUserNodes, MaxItems: 2})
	p := h.login(t, "u0", "desk", prio(0))
	for i, id := range []string{"a", "b", "c", "b"} {
		if _, err := h.ps.Publish("/users/u0", id, []byte(fmt.Sprintf(`<x xmlns='urn:test' n='%d'/>`, i))); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(body string) []string {
		reply := iq(t, p, "get", `<pubsub xmlns='http://jabber.org/protocol/pubsub'>`+body+`</pubsub>`)
		var out []string
		for _, it := range reply.FindElements("pubsub/items/item") {
			out = append(out, it.SelectAttrValue("id", "")+"="+it.SelectElement("x").SelectAttrValue("n", ""))
		}
		return out
	}
	// "b" was published again last: it replaced its older self.
	if got := ids(`<items node='/users/u0'/>`); !slices.Equal(got, []string{"c=2", "b=3"}) {
		t.Fatalf("items %v", got)
	}
	if got := ids(`<items node='/users/u0' max_items='1'/>`); !slices.Equal(got, []string{"b=3"}) {
		t.Fatalf("max_items=1: %v", got)
	}
	if got := ids(`<items node='/users/u0'><item id='c'/><item id='a'/></items>`); !slices.Equal(got, []string{"c=2"}) {
		t.Fatalf("by id: %v", got)
	}
}

func TestSubscriptionsPerUserAreCapped(t *testing.T) {
	h := newHarness(t, 4, pubsub.Config{Resolver: implicitUserNodes, MaxSubscriptionsPerUser: 2})
	p := h.login(t, "u0", "desk", prio(0))
	sub := func(node, jid string) (string, string) {
		return stanzaError(iq(t, p, "set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='`+node+`' jid='`+jid+`'/></pubsub>`))
	}
	for _, node := range []string{"/users/u1", "/users/u2"} {
		if c, _ := sub(node, "u0@"+domain); c != "" {
			t.Fatalf("subscribe %s: %s", node, c)
		}
	}
	// Again: the existing subscription, which does not count twice.
	if c, _ := sub("/users/u1", "u0@"+domain); c != "" {
		t.Fatalf("repeat subscribe: %s", c)
	}
	if c, pc := sub("/users/u3", "u0@"+domain+"/desk"); c != "policy-violation" || pc != "too-many-subscriptions" {
		t.Fatalf("third subscription: %q %q", c, pc)
	}
	reply := iq(t, p, "set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><unsubscribe node='/users/u1' jid='u0@`+domain+`'/></pubsub>`)
	if c, _ := stanzaError(reply); c != "" {
		t.Fatalf("unsubscribe: %s", c)
	}
	if c, _ := sub("/users/u3", "u0@"+domain+"/desk"); c != "" {
		t.Fatalf("subscribe after unsubscribe: %s", c)
	}
}

func TestDeleteAndPurgeNotifySubscribers(t *testing.T) {
	h := newHarness(t, 2, pubsub.Config{})
	owner := h.login(t, "u0", "desk", prio(0))
	sub := h.login(t, "u1", "desk", prio(0))
	if r := iq(t, owner, "set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='news'/><configure/></pubsub>`); r.SelectAttrValue("type", "") != "result" {
		t.Fatalf("create: %s", render(r))
	}
	if c, _ := stanzaError(iq(t, owner, "set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='news'/></pubsub>`)); c != "conflict" {
		t.Fatalf("second create: %q", c)
	}
	if r := iq(t, sub, "set", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='news' jid='u1@`+domain+`'/></pubsub>`); r.SelectAttrValue("type", "") != "result" {
		t.Fatalf("subscribe: %s", render(r))
	}
	if _, err := h.ps.Publish("news", "n1", []byte(`<x xmlns='urn:test'/>`)); err != nil {
		t.Fatal(err)
	}
	event(t, sub)
	// Only the owner (or whom the policy names) may purge and delete.
	if c, _ := stanzaError(iq(t, sub, "set", `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><purge node='news'/></pubsub>`)); c != "forbidden" {
		t.Fatalf("purge by a subscriber: %q", c)
	}
	if r := iq(t, owner, "set", `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><purge node='news'/></pubsub>`); r.SelectAttrValue("type", "") != "result" {
		t.Fatalf("purge: %s", render(r))
	}
	if ev := event(t, sub).FindElement("event/purge"); ev == nil || ev.SelectAttrValue("node", "") != "news" {
		t.Fatal("no purge event")
	}
	if items := iq(t, sub, "get", `<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='news'/></pubsub>`).FindElements("pubsub/items/item"); len(items) != 0 {
		t.Fatalf("%d items after purge", len(items))
	}
	if r := iq(t, owner, "set", `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='news'/></pubsub>`); r.SelectAttrValue("type", "") != "result" {
		t.Fatalf("delete: %s", render(r))
	}
	if ev := event(t, sub).FindElement("event/delete"); ev == nil || ev.SelectAttrValue("node", "") != "news" {
		t.Fatal("no delete event")
	}
	if got := h.ps.Subscriptions(bare("u1")); len(got) != 0 {
		t.Fatalf("subscriptions outlived their node: %+v", got)
	}
	if _, err := h.ps.Publish("news", "", []byte(`<x xmlns='urn:test'/>`)); err == nil {
		t.Fatal("publish to a deleted node succeeded")
	}
}

// Allocations of a publish must not grow with its subscribers: the event
// is rendered once and each recipient's message is cut from shared buffers.
func TestPublishAllocationsDoNotGrowWithSubscribers(t *testing.T) {
	allocs := func(subscribers int) float64 {
		h := newHarness(t, subscribers, pubsub.Config{Resolver: func(string) bool { return true }})
		for i := range subscribers {
			user := fmt.Sprintf("u%d", i)
			p := h.login(t, user, "desk", prio(0))
			p.Discard()
			if _, err := h.ps.Subscribe("shared", bare(user)); err != nil {
				t.Fatal(err)
			}
		}
		payload := []byte(`<x xmlns='urn:test'/>`)
		return testing.AllocsPerRun(50, func() {
			if _, err := h.ps.Publish("shared", "", payload); err != nil {
				t.Fatal(err)
			}
		})
	}
	few, many := allocs(10), allocs(1000)
	t.Logf("allocations per publish: %.1f with 10 subscribers, %.1f with 1000", few, many)
	if many > few+2 {
		t.Fatalf("a publish to 1000 subscribers allocates %.1f times, to 10 %.1f: allocations grow with subscribers", many, few)
	}
}

// Past a few subscribers a node indexes them by JID; repeat subscribes,
// unsubscribes and deliveries must behave the same on either side of it.
func TestManySubscribersToOneNode(t *testing.T) {
	const users = 40
	h := newHarness(t, users, pubsub.Config{Resolver: implicitUserNodes})
	var pipes []*servertest.Pipe
	subids := map[string]string{}
	for i := range users {
		user := fmt.Sprintf("u%d", i)
		pipes = append(pipes, h.login(t, user, "desk", prio(0)))
		sub, err := h.ps.Subscribe("/users/u0", bare(user))
		if err != nil {
			t.Fatal(err)
		}
		subids[user] = sub.SubID
	}
	for i := range users {
		user := fmt.Sprintf("u%d", i)
		again, err := h.ps.Subscribe("/users/u0", bare(user))
		if err != nil || again.SubID != subids[user] {
			t.Fatalf("repeat subscribe of %s: %+v %v, want subid %s", user, again, err, subids[user])
		}
	}
	for _, i := range []int{3, 20, 39} {
		reply := iq(t, pipes[i], "set", fmt.Sprintf(`<pubsub xmlns='http://jabber.org/protocol/pubsub'><unsubscribe node='/users/u0' jid='u%d@%s' subid='%s'/></pubsub>`, i, domain, subids[fmt.Sprintf("u%d", i)]))
		if c, _ := stanzaError(reply); c != "" {
			t.Fatalf("unsubscribe u%d: %s", i, c)
		}
		if c, pc := stanzaError(iq(t, pipes[i], "set", fmt.Sprintf(`<pubsub xmlns='http://jabber.org/protocol/pubsub'><unsubscribe node='/users/u0' jid='u%d@%s'/></pubsub>`, i, domain))); c != "unexpected-request" || pc != "not-subscribed" {
			t.Fatalf("second unsubscribe of u%d: %q %q", i, c, pc)
		}
	}
	res, err := h.ps.Publish("/users/u0", "", []byte(`<x xmlns='urn:test'/>`))
	if err != nil || res.Deliveries != users-3 {
		t.Fatalf("publish: %+v %v, want %d deliveries", res, err, users-3)
	}
	if _, err := h.ps.Subscribe("/users/u0", bare("u20")); err != nil {
		t.Fatal(err)
	}
	if res, _ := h.ps.Publish("/users/u0", "", []byte(`<x xmlns='urn:test'/>`)); res.Deliveries != users-2 {
		t.Fatalf("after resubscribing: %d deliveries, want %d", res.Deliveries, users-2)
	}
}
