package e2e

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/app"
	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/server"
)

// The pubsub protocol (XEP-0060) as a client sees it on the wire, over
// every transport. The access rules are Finesse's (an agent sees its own
// user nodes; only the administrator publishes, creates and administers).

func TestPubsubDisco(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		agent := online(t, tr, a, "1001", "disco", 0)
		admin := online(t, tr, a, "admin", "disco", 0)
		online(t, tr, a, "1002", "disco", 0)

		reply := sendIQ(t, agent, "get", pubsubJID, `<query xmlns='`+server.NSDiscoInfo+`'/>`)
		wantResult(t, "disco#info of the service", reply)
		q := child(reply, "query", server.NSDiscoInfo)
		if !hasIdentity(q, "pubsub", "service") {
			t.Errorf("service disco#info lacks identity pubsub/service: %s", short(reply))
		}
		features := discoFeatures(q)
		for _, f := range []string{
			nsPubsub, nsPubsub + "#publish", nsPubsub + "#subscribe", nsPubsub + "#create-nodes",
			nsPubsub + "#delete-nodes", nsPubsub + "#purge-nodes", nsPubsub + "#retrieve-items",
			nsPubsub + "#retrieve-subscriptions", nsPubsub + "#retrieve-affiliations",
			nsPubsub + "#item-ids", nsPubsub + "#persistent-items", server.NSDiscoInfo,
		} {
			if !slices.Contains(features, f) {
				t.Errorf("service disco#info lacks feature %s", f)
			}
		}

		own := userNode("1001", "")
		reply = sendIQ(t, agent, "get", pubsubJID, `<query xmlns='`+server.NSDiscoInfo+`'`+attr("node", own)+`/>`)
		wantResult(t, "node disco#info", reply)
		q = child(reply, "query", server.NSDiscoInfo)
		if q.SelectAttrValue("node", "") != own || !hasIdentity(q, "pubsub", "leaf") {
			t.Errorf("node disco#info: %s, want node=%s and identity pubsub/leaf", short(reply), own)
		}
		reply = sendIQ(t, agent, "get", pubsubJID, `<query xmlns='`+server.NSDiscoInfo+`' node='/no/such/node'/>`)
		wantError(t, "disco#info of an unknown node", reply, "item-not-found", "")
		reply = sendIQ(t, agent, "get", pubsubJID, `<query xmlns='`+server.NSDiscoInfo+`'`+attr("node", userNode("1002", "/Dialogs"))+`/>`)
		wantError(t, "disco#info of another agent's node", reply, "forbidden", "")

		// disco#items lists the nodes that exist or have been used, and
		// only those the asker may subscribe to.
		wantResult(t, "create", pubsubIQ(t, admin, "set", `<create node='/e2e/disco'/>`))
		publish(t, admin, own, "", `<x xmlns='urn:e2e'/>`)
		publish(t, admin, userNode("1002", ""), "", `<x xmlns='urn:e2e'/>`)

		agentNodes := discoNodes(t, agent)
		if !slices.Contains(agentNodes, own) {
			t.Errorf("1001's disco#items lacks %s (published to): %v", own, agentNodes)
		}
		for _, n := range agentNodes {
			if strings.Contains(n, "/1002") || n == "/e2e/disco" {
				t.Errorf("1001's disco#items lists %s, which 1001 may not subscribe to", n)
			}
		}
		adminNodes := discoNodes(t, admin)
		for _, n := range []string{"/e2e/disco", own, userNode("1002", "")} {
			if !slices.Contains(adminNodes, n) {
				t.Errorf("admin's disco#items lacks %s: %v", n, adminNodes)
			}
		}
	})
}

func hasIdentity(q *etree.Element, category, typ string) bool {
	for _, id := range children(q, "identity", server.NSDiscoInfo) {
		if id.SelectAttrValue("category", "") == category && id.SelectAttrValue("type", "") == typ {
			return true
		}
	}
	return false
}

func discoFeatures(q *etree.Element) []string {
	var out []string
	for _, f := range children(q, "feature", server.NSDiscoInfo) {
		out = append(out, f.SelectAttrValue("var", ""))
	}
	return out
}

// discoNodes asks the service for disco#items and returns the nodes.
func discoNodes(t *testing.T, c *client.Client) []string {
	t.Helper()
	reply := sendIQ(t, c, "get", pubsubJID, `<query xmlns='`+server.NSDiscoItems+`'/>`)
	wantResult(t, "disco#items of the service", reply)
	var nodes []string
	for _, it := range children(child(reply, "query", server.NSDiscoItems), "item", server.NSDiscoItems) {
		if it.SelectAttrValue("jid", "") != pubsubJID {
			t.Errorf("disco#items entry with jid %q: %s", it.SelectAttrValue("jid", ""), short(it))
		}
		nodes = append(nodes, it.SelectAttrValue("node", ""))
	}
	return nodes
}

func TestPubsubSubscribe(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		c := online(t, tr, a, "1001", "sub", 0)
		bare := bareJID(c.JID)
		queues := userNode("1001", "/Queues")

		full := subscribe(t, c, queues, c.JID)
		if again := subscribe(t, c, queues, c.JID); again.SubID != full.SubID {
			t.Errorf("repeated subscribe: subid %q, first was %q", again.SubID, full.SubID)
		}
		bareSub := subscribe(t, c, queues, bare)
		if bareSub.SubID == full.SubID {
			t.Errorf("bare and full subscriptions share subid %q", full.SubID)
		}
		if again := subscribe(t, c, queues, bare); again.SubID != bareSub.SubID {
			t.Errorf("repeated bare subscribe: subid %q, first was %q", again.SubID, bareSub.SubID)
		}
		before := subscriptions(t, c, "")
		for _, want := range []subscription{full, bareSub} {
			if got, ok := findSubscription(before, want.Node, want.JID); !ok || got != want {
				t.Errorf("subscriptions retrieval: %+v missing from %+v", want, before)
			}
		}

		// Each refused subscribe gets its XEP-0060 error and changes nothing.
		otherResource := bare + "/elsewhere"
		refused := []struct {
			name, typ, inner, cond, pubsubCond string
		}{
			{"foreign jid", "set", `<subscribe` + attr("node", queues) + ` jid='1002@` + domain + `'/>`, "bad-request", "invalid-jid"},
			{"foreign full jid", "set", `<subscribe` + attr("node", queues) + ` jid='1002@` + domain + `/sub'/>`, "bad-request", "invalid-jid"},
			{"jid of another domain", "set", `<subscribe` + attr("node", queues) + ` jid='1001@elsewhere.example.com'/>`, "bad-request", "invalid-jid"},
			{"no jid", "set", `<subscribe` + attr("node", queues) + `/>`, "bad-request", "invalid-jid"},
			{"no node", "set", `<subscribe` + attr("jid", otherResource) + `/>`, "bad-request", "nodeid-required"},
			{"unknown node", "set", `<subscribe node='/no/such/node'` + attr("jid", otherResource) + `/>`, "item-not-found", ""},
			{"another agent's node", "set", `<subscribe` + attr("node", userNode("1002", "/Dialogs")) + attr("jid", otherResource) + `/>`, "forbidden", ""},
			{"two children", "set", `<subscribe` + attr("node", queues) + attr("jid", otherResource) + `/><subscribe` + attr("node", userNode("1001", "/Media")) + attr("jid", otherResource) + `/>`, "bad-request", ""},
			{"no child", "set", ``, "bad-request", ""},
			{"subscribe in a get", "get", `<subscribe` + attr("node", queues) + attr("jid", otherResource) + `/>`, "bad-request", ""},
		}
		for _, r := range refused {
			reply := pubsubIQ(t, c, r.typ, r.inner)
			wantError(t, r.name, reply, r.cond, r.pubsubCond)
			if after := subscriptions(t, c, ""); !slices.Equal(after, before) {
				t.Errorf("%s changed the subscriptions:\nbefore %+v\nafter  %+v", r.name, before, after)
			}
		}

		// A subscription for a resource not (yet) connected is allowed:
		// it is the same account.
		subscribe(t, c, queues, otherResource)
	})
}

func TestPubsubUnsupportedAndMismatched(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		c := online(t, tr, a, "1001", "odd", 0)
		queues := userNode("1001", "/Queues")
		before := subscriptions(t, c, "")

		reply := pubsubIQ(t, c, "set", `<retract`+attr("node", queues)+`><item id='x'/></retract>`)
		wantError(t, "retract", reply, "feature-not-implemented", "unsupported")
		if _, f := pubsubErrorCondition(reply); f != "retract-items" {
			t.Errorf("retract: unsupported feature %q, want retract-items", f)
		}
		reply = pubsubIQ(t, c, "get", `<options`+attr("node", queues)+attr("jid", c.JID)+`/>`)
		wantError(t, "options", reply, "feature-not-implemented", "unsupported")
		if _, f := pubsubErrorCondition(reply); f != "subscription-options" {
			t.Errorf("options: unsupported feature %q, want subscription-options", f)
		}
		for _, m := range []struct{ name, typ, inner string }{
			{"publish in a get", "get", `<publish` + attr("node", queues) + `><item><x xmlns='urn:e2e'/></item></publish>`},
			{"subscriptions in a set", "set", `<subscriptions/>`},
			{"items in a set", "set", `<items` + attr("node", queues) + `/>`},
			{"unsubscribe in a get", "get", `<unsubscribe` + attr("node", queues) + attr("jid", c.JID) + `/>`},
		} {
			wantError(t, m.name, pubsubIQ(t, c, m.typ, m.inner), "bad-request", "")
		}
		if after := subscriptions(t, c, ""); !slices.Equal(after, before) {
			t.Errorf("refused requests changed the subscriptions:\nbefore %+v\nafter  %+v", before, after)
		}
	})
}

func TestPubsubUnsubscribe(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		c := online(t, tr, a, "1001", "unsub", 0)
		admin := online(t, transports[0], a, "admin", "pub", 0)
		queues := userNode("1001", "/Queues")
		sub := subscribe(t, c, queues, c.JID)
		before := subscriptions(t, c, "")

		refused := []struct {
			name, inner, cond, pubsubCond string
		}{
			{"no node", `<unsubscribe` + attr("jid", c.JID) + `/>`, "bad-request", "nodeid-required"},
			{"unknown node", `<unsubscribe node='/no/such/node'` + attr("jid", c.JID) + `/>`, "item-not-found", ""},
			{"foreign jid", `<unsubscribe` + attr("node", queues) + ` jid='1002@` + domain + `'/>`, "forbidden", ""},
			{"not subscribed", `<unsubscribe` + attr("node", queues) + attr("jid", bareJID(c.JID)+"/nosuch") + `/>`, "unexpected-request", "not-subscribed"},
			{"wrong subid", `<unsubscribe` + attr("node", queues) + attr("jid", c.JID) + ` subid='not-the-subid'/>`, "not-acceptable", "invalid-subid"},
		}
		for _, r := range refused {
			wantError(t, r.name, pubsubIQ(t, c, "set", r.inner), r.cond, r.pubsubCond)
			if after := subscriptions(t, c, ""); !slices.Equal(after, before) {
				t.Errorf("unsubscribe with %s changed the subscriptions:\nbefore %+v\nafter  %+v", r.name, before, after)
			}
		}

		reply := pubsubIQ(t, c, "set", `<unsubscribe`+attr("node", queues)+attr("jid", c.JID)+attr("subid", sub.SubID)+`/>`)
		wantResult(t, "unsubscribe with the subid", reply)
		if _, ok := findSubscription(subscriptions(t, c, ""), queues, c.JID); ok {
			t.Errorf("still subscribed after unsubscribe")
		}
		publish(t, admin, queues, "", `<x xmlns='urn:e2e'/>`)
		expectNoPubsubEvent(t, c, "after unsubscribe")

		// Without a subid, when there is just the one subscription.
		subscribe(t, c, queues, bareJID(c.JID))
		reply = pubsubIQ(t, c, "set", `<unsubscribe`+attr("node", queues)+attr("jid", bareJID(c.JID))+`/>`)
		wantResult(t, "unsubscribe without subid", reply)
		if _, ok := findSubscription(subscriptions(t, c, ""), queues, bareJID(c.JID)); ok {
			t.Errorf("still subscribed after unsubscribe without subid")
		}
		wantError(t, "unsubscribe twice", pubsubIQ(t, c, "set", `<unsubscribe`+attr("node", queues)+attr("jid", bareJID(c.JID))+`/>`),
			"unexpected-request", "not-subscribed")
	})
}

func TestPubsubSubscriptionsAndAffiliations(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		c := online(t, tr, a, "1001", "one", 0)
		other := login(t, tr, a, "1001", "two")
		admin := online(t, tr, a, "admin", "aff", 0)
		queues, media := userNode("1001", "/Queues"), userNode("1001", "/Media")

		full := subscribe(t, c, queues, c.JID)
		fromOther := subscribe(t, other, queues, other.JID) // the same account, another resource
		bare := subscribe(t, c, queues, bareJID(c.JID))

		// Every resource of the account sees all of the account's subscriptions.
		all := subscriptions(t, c, "")
		if !slices.Equal(all, subscriptions(t, other, "")) {
			t.Errorf("two resources of one account see different subscriptions")
		}
		for _, want := range []subscription{full, fromOther, bare} {
			if got, ok := findSubscription(all, want.Node, want.JID); !ok || got != want {
				t.Errorf("subscriptions retrieval lacks %+v: %+v", want, all)
			}
		}
		for _, s := range all {
			if bareJID(s.JID) != bareJID(c.JID) || s.State != "subscribed" || s.SubID == "" {
				t.Errorf("subscriptions retrieval lists %+v", s)
			}
		}
		perNode := subscriptions(t, c, queues)
		if len(perNode) != 3 {
			t.Errorf("subscriptions of %s: %+v, want the 3 made", queues, perNode)
		}
		for _, s := range perNode {
			if s.Node != queues {
				t.Errorf("subscriptions retrieval for %s lists %+v", queues, s)
			}
		}
		for _, s := range subscriptions(t, c, media) {
			if s.Node != media {
				t.Errorf("subscriptions retrieval for %s lists %+v", media, s)
			}
		}
		wantError(t, "subscriptions of an unknown node", pubsubIQ(t, c, "get", `<subscriptions node='/no/such/node'/>`), "item-not-found", "")
		// Another account's subscriptions are not listed.
		for _, s := range subscriptions(t, admin, queues) {
			t.Errorf("admin's subscriptions list 1001's %+v", s)
		}

		// Affiliations: the creator owns what it created.
		wantResult(t, "create", pubsubIQ(t, admin, "set", `<create node='/e2e/aff-1'/>`))
		wantResult(t, "create", pubsubIQ(t, admin, "set", `<create node='/e2e/aff-2'/>`))
		affs := affiliations(t, admin, "")
		for _, n := range []string{"/e2e/aff-1", "/e2e/aff-2"} {
			if affs[n] != "owner" {
				t.Errorf("admin's affiliations: %v, want %s owner", affs, n)
			}
		}
		if one := affiliations(t, admin, "/e2e/aff-1"); len(one) != 1 || one["/e2e/aff-1"] != "owner" {
			t.Errorf("admin's affiliations for /e2e/aff-1: %v", one)
		}
		if mine := affiliations(t, c, ""); len(mine) != 0 {
			t.Errorf("1001's affiliations: %v, want none", mine)
		}
		wantError(t, "affiliations of an unknown node", pubsubIQ(t, admin, "get", `<affiliations node='/no/such/node'/>`), "item-not-found", "")
	})
}

// affiliations retrieves the sender's affiliations: node → affiliation.
func affiliations(t *testing.T, c *client.Client, node string) map[string]string {
	t.Helper()
	inner := `<affiliations/>`
	if node != "" {
		inner = `<affiliations` + attr("node", node) + `/>`
	}
	reply := pubsubIQ(t, c, "get", inner)
	wantResult(t, "affiliations retrieval", reply)
	list := child(child(reply, "pubsub", nsPubsub), "affiliations", nsPubsub)
	if list == nil {
		t.Fatalf("affiliations retrieval without <affiliations/>: %s", short(reply))
	}
	out := map[string]string{}
	for _, el := range children(list, "affiliation", nsPubsub) {
		out[el.SelectAttrValue("node", "")] = el.SelectAttrValue("affiliation", "")
	}
	return out
}

func TestPubsubItemsRetrieval(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		c := online(t, tr, a, "1001", "items", 0)
		admin := online(t, tr, a, "admin", "items", 0)
		queues := userNode("1001", "/Queues")

		empty := retrieveItems(t, c, queues, "")
		if len(empty) != 0 {
			t.Errorf("items of a node never published to: %d", len(empty))
		}
		publish(t, admin, queues, "first", `<entry xmlns='urn:e2e' n='1'/>`)
		publish(t, admin, queues, "second", `<entry xmlns='urn:e2e' n='2'>two &amp; &lt;2&gt;</entry>`)

		// One item is kept per node by default: the last.
		for _, q := range []string{"", ` max_items='1'`, ` max_items='5'`} {
			items := retrieveItems(t, c, queues, q)
			if len(items) != 1 || items[0].SelectAttrValue("id", "") != "second" {
				t.Errorf("items%s: %d items, want only the last", q, len(items))
				continue
			}
			entry := child(items[0], "entry", "urn:e2e")
			if entry == nil || entry.SelectAttrValue("n", "") != "2" || textOf(entry) != "two & <2>" {
				t.Errorf("items%s: payload %s", q, short(items[0]))
			}
		}
		byID := retrieveItemsRaw(t, c, `<items`+attr("node", queues)+`><item id='second'/></items>`)
		if len(byID) != 1 || byID[0].SelectAttrValue("id", "") != "second" {
			t.Errorf("items by id: %d items", len(byID))
		}

		wantError(t, "items of another agent's node", pubsubIQ(t, c, "get", `<items`+attr("node", userNode("1002", "/Queues"))+`/>`), "forbidden", "")
		wantError(t, "items of an unknown node", pubsubIQ(t, c, "get", `<items node='/no/such/node'/>`), "item-not-found", "")
		wantError(t, "items without node", pubsubIQ(t, c, "get", `<items/>`), "bad-request", "nodeid-required")
	})
}

// retrieveItems asks for node's items with extra attributes.
func retrieveItems(t *testing.T, c *client.Client, node, extra string) []*etree.Element {
	t.Helper()
	return retrieveItemsRaw(t, c, `<items`+attr("node", node)+extra+`/>`)
}

func retrieveItemsRaw(t *testing.T, c *client.Client, inner string) []*etree.Element {
	t.Helper()
	reply := pubsubIQ(t, c, "get", inner)
	wantResult(t, "items retrieval "+inner, reply)
	items := child(child(reply, "pubsub", nsPubsub), "items", nsPubsub)
	if items == nil {
		t.Fatalf("items retrieval without <items/>: %s", short(reply))
	}
	return children(items, "item", nsPubsub)
}

var openfireItemID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}[0-9]+$`)

func TestPubsubPublish(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		sub := online(t, tr, a, "1001", "sub", 0)
		admin := online(t, tr, a, "admin", "pub", 0)
		agent := online(t, tr, a, "1002", "pub", 0)
		queues := userNode("1001", "/Queues")
		subscribe(t, sub, queues, sub.JID)

		id := publish(t, admin, queues, "", `<entry xmlns='urn:e2e'/>`)
		if !openfireItemID.MatchString(id) {
			t.Errorf("item id made by the server %q, want a UUID followed by digits", id)
		}
		if id2 := publish(t, admin, queues, "", `<entry xmlns='urn:e2e'/>`); id2 == id {
			t.Errorf("two items got the same id %q", id)
		}
		for _, want := range []string{id, ""} {
			got := eventItem(t, awaitItem(t, sub, queues)).SelectAttrValue("id", "")
			if want != "" && got != want {
				t.Errorf("notification item id %q, the result said %q", got, want)
			}
		}
		publish(t, admin, queues, "chosen-id", `<entry xmlns='urn:e2e'/>`)
		if got := eventItem(t, awaitItem(t, sub, queues)).SelectAttrValue("id", ""); got != "chosen-id" {
			t.Errorf("notification item id %q, want chosen-id", got)
		}

		refused := []struct {
			name, inner, cond, pubsubCond string
			by                            *client.Client
		}{
			{"by an agent, to its own node", `<publish` + attr("node", userNode("1002", "")) + `><item><entry xmlns='urn:e2e'/></item></publish>`, "forbidden", "", agent},
			{"by an agent, to another's", `<publish` + attr("node", queues) + `><item><entry xmlns='urn:e2e'/></item></publish>`, "forbidden", "", agent},
			{"to an unknown node", `<publish node='/no/such/node'><item><entry xmlns='urn:e2e'/></item></publish>`, "item-not-found", "", admin},
			{"without item", `<publish` + attr("node", queues) + `/>`, "bad-request", "item-required", admin},
			{"without payload", `<publish` + attr("node", queues) + `><item id='p'/></publish>`, "bad-request", "payload-required", admin},
			{"two items", `<publish` + attr("node", queues) + `><item><a xmlns='urn:e2e'/></item><item><b xmlns='urn:e2e'/></item></publish>`, "bad-request", "invalid-payload", admin},
			{"two payload elements", `<publish` + attr("node", queues) + `><item><a xmlns='urn:e2e'/><b xmlns='urn:e2e'/></item></publish>`, "bad-request", "invalid-payload", admin},
		}
		for _, r := range refused {
			wantError(t, "publish "+r.name, pubsubIQ(t, r.by, "set", r.inner), r.cond, r.pubsubCond)
		}
		expectNoPubsubEvent(t, sub, "refused publishes")
		if items := retrieveItems(t, sub, queues, ""); len(items) != 1 || items[0].SelectAttrValue("id", "") != "chosen-id" {
			t.Errorf("refused publishes changed the node's items")
		}
	})
}

func TestPubsubCreateDeletePurge(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		admin := online(t, tr, a, "admin", "op", 0)
		watch := online(t, tr, a, "admin", "watch", 0)
		agent := online(t, tr, a, "1001", "agent", 0)
		const node = "/e2e/created"

		wantResult(t, "create", pubsubIQ(t, admin, "set", `<create`+attr("node", node)+`/>`))
		wantError(t, "create an existing node", pubsubIQ(t, admin, "set", `<create`+attr("node", node)+`/>`), "conflict", "")
		wantError(t, "create an implicit node", pubsubIQ(t, admin, "set", `<create`+attr("node", userNode("1001", ""))+`/>`), "conflict", "")
		wantError(t, "create without node", pubsubIQ(t, admin, "set", `<create/>`), "not-acceptable", "nodeid-required")
		wantError(t, "create by an agent", pubsubIQ(t, agent, "set", `<create node='/e2e/by-agent'/>`), "forbidden", "")
		wantResult(t, "create with an empty configure", pubsubIQ(t, admin, "set", `<create node='/e2e/configured'/><configure/>`))
		wantError(t, "agent subscribes to a created node", pubsubIQ(t, agent, "set", `<subscribe`+attr("node", node)+attr("jid", agent.JID)+`/>`), "forbidden", "")

		// Purge: the items go and the subscribers hear of it.
		sub := subscribe(t, watch, node, watch.JID)
		publish(t, admin, node, "kept", `<entry xmlns='urn:e2e'/>`)
		awaitItem(t, watch, node)
		wantError(t, "purge by an agent", ownerIQ(t, agent, "set", `<purge`+attr("node", node)+`/>`), "forbidden", "")
		wantError(t, "delete by an agent", ownerIQ(t, agent, "set", `<delete`+attr("node", node)+`/>`), "forbidden", "")
		wantError(t, "purge of an unknown node", ownerIQ(t, admin, "set", `<purge node='/no/such/node'/>`), "item-not-found", "")
		wantError(t, "delete of an unknown node", ownerIQ(t, admin, "set", `<delete node='/no/such/node'/>`), "item-not-found", "")
		if items := retrieveItems(t, admin, node, ""); len(items) != 1 {
			t.Errorf("refused purge and delete: %d items left, want 1", len(items))
		}
		wantResult(t, "purge", ownerIQ(t, admin, "set", `<purge`+attr("node", node)+`/>`))
		msg, err := watch.Await("the purge notification", isNodeEvent("purge", node))
		must(t, err)
		checkNodeEventEnvelope(t, msg, watch.JID)
		if items := retrieveItems(t, admin, node, ""); len(items) != 0 {
			t.Errorf("%d items after purge", len(items))
		}

		// An agent's own node, purged by the administrator.
		queues := userNode("1001", "/Queues")
		subscribe(t, agent, queues, agent.JID)
		wantResult(t, "purge of an implicit node", ownerIQ(t, admin, "set", `<purge`+attr("node", queues)+`/>`))
		_, err = agent.Await("the purge notification", isNodeEvent("purge", queues))
		must(t, err)

		// Delete: the subscribers hear of it and the node is gone.
		wantResult(t, "delete", ownerIQ(t, admin, "set", `<delete`+attr("node", node)+`/>`))
		msg, err = watch.Await("the delete notification", isNodeEvent("delete", node))
		must(t, err)
		checkNodeEventEnvelope(t, msg, watch.JID)
		if _, ok := findSubscription(subscriptions(t, watch, ""), node, watch.JID); ok {
			t.Errorf("subscription %s survives the node's deletion", sub.SubID)
		}
		wantError(t, "subscribe to a deleted node", pubsubIQ(t, watch, "set", `<subscribe`+attr("node", node)+attr("jid", watch.JID)+`/>`), "item-not-found", "")
		wantError(t, "publish to a deleted node", publishReply(t, admin, node, "", `<entry xmlns='urn:e2e'/>`), "item-not-found", "")
		wantError(t, "delete twice", ownerIQ(t, admin, "set", `<delete`+attr("node", node)+`/>`), "item-not-found", "")
		if affs := affiliations(t, admin, ""); affs[node] != "" {
			t.Errorf("affiliation with a deleted node: %v", affs)
		}
		wantResult(t, "create again after delete", pubsubIQ(t, admin, "set", `<create`+attr("node", node)+`/>`))
	})
}

// checkNodeEventEnvelope checks the addressing of a delete or purge notification.
func checkNodeEventEnvelope(t *testing.T, msg *etree.Element, to string) {
	t.Helper()
	if msg.SelectAttrValue("from", "") != pubsubJID || msg.SelectAttrValue("to", "") != to || msg.SelectAttrValue("id", "") == "" {
		t.Errorf("node notification envelope: %s, want from %s to %s with an id", short(msg), pubsubJID, to)
	}
}

// TestPubsubPublishPayloadTooBig: the contract's payload limit (256 KiB by
// default) is below what a stanza may carry when the stanza limit is
// raised; a publish over it is refused with payload-too-big and changes
// nothing.
func TestPubsubPublishPayloadTooBig(t *testing.T) {
	const stanzaLimit = 512 << 10
	forEachTransport(t, func(c *app.Config) { c.MaxStanzaBytes = stanzaLimit }, func(t *testing.T, tr transport, a *app.App) {
		sub := online(t, tr, a, "1001", "sub", 0)
		admin := online(t, tr, a, "admin", "pub", 0)
		queues := userNode("1001", "/Queues")
		subscribe(t, sub, queues, sub.JID)
		big := `<entry xmlns='urn:e2e'>` + strings.Repeat("x", 300<<10) + `</entry>`
		wantError(t, "publish of 300 KiB", publishReply(t, admin, queues, "big", big), "not-acceptable", "payload-too-big")
		expectNoPubsubEvent(t, sub, "a refused publish")
		if items := retrieveItems(t, sub, queues, ""); len(items) != 0 {
			t.Errorf("a refused publish left %d items", len(items))
		}
	})
}

// TestPubsubItemsKept: with more items kept per node, retrieval gives the
// newest, newest last, and max_items the newest that many.
func TestPubsubItemsKept(t *testing.T) {
	forEachTransport(t, func(c *app.Config) { c.PubSubMaxItems = 3 }, func(t *testing.T, tr transport, a *app.App) {
		c := online(t, tr, a, "1001", "items", 0)
		admin := online(t, tr, a, "admin", "items", 0)
		queues := userNode("1001", "/Queues")
		for i := 1; i <= 4; i++ {
			publish(t, admin, queues, "i"+strconv.Itoa(i), `<entry xmlns='urn:e2e'/>`)
		}
		ids := func(items []*etree.Element) []string {
			var out []string
			for _, it := range items {
				out = append(out, it.SelectAttrValue("id", ""))
			}
			return out
		}
		if got := ids(retrieveItems(t, c, queues, "")); !slices.Equal(got, []string{"i2", "i3", "i4"}) {
			t.Errorf("items kept: %v, want [i2 i3 i4]", got)
		}
		if got := ids(retrieveItems(t, c, queues, ` max_items='2'`)); !slices.Equal(got, []string{"i3", "i4"}) {
			t.Errorf("max_items 2: %v, want [i3 i4]", got)
		}
		if got := ids(retrieveItemsRaw(t, c, `<items`+attr("node", queues)+`><item id='i2'/><item id='i4'/></items>`)); !slices.Equal(got, []string{"i2", "i4"}) {
			t.Errorf("items by id: %v, want [i2 i4]", got)
		}
		// Republishing an id replaces that item and makes it the newest.
		publish(t, admin, queues, "i3", `<entry xmlns='urn:e2e' again='yes'/>`)
		items := retrieveItems(t, c, queues, "")
		if got := ids(items); !slices.Equal(got, []string{"i2", "i4", "i3"}) {
			t.Errorf("after republishing i3: %v, want [i2 i4 i3]", got)
		} else if child(items[2], "entry", "urn:e2e").SelectAttrValue("again", "") != "yes" {
			t.Errorf("republished i3 kept its old payload: %s", short(items[2]))
		}
	})
}

// TestPubsubSubscriptionCap: beyond the per-user cap (the automatic
// subscriptions count) a subscribe gets policy-violation with
// too-many-subscriptions, and nothing changes.
func TestPubsubSubscriptionCap(t *testing.T) {
	forEachTransport(t, func(c *app.Config) { c.PubSubMaxSubscriptions = 7 }, func(t *testing.T, tr transport, a *app.App) {
		c := online(t, tr, a, "1001", "cap", 0)
		queues := userNode("1001", "/Queues")
		if n := len(subscriptions(t, c, "")); n != 5 {
			t.Fatalf("%d subscriptions at login, want the 5 automatic ones", n)
		}
		subscribe(t, c, queues, bareJID(c.JID))
		full := subscribe(t, c, queues, c.JID)
		before := subscriptions(t, c, "")
		reply := pubsubIQ(t, c, "set", `<subscribe`+attr("node", queues)+attr("jid", bareJID(c.JID)+"/another")+`/>`)
		wantError(t, "subscribe beyond the cap", reply, "policy-violation", "too-many-subscriptions")
		if after := subscriptions(t, c, ""); !slices.Equal(after, before) {
			t.Errorf("a subscribe beyond the cap changed the subscriptions:\nbefore %+v\nafter  %+v", before, after)
		}
		// A repeat is not a new subscription.
		if again := subscribe(t, c, queues, c.JID); again.SubID != full.SubID {
			t.Errorf("repeat subscribe at the cap: subid %q, want %q", again.SubID, full.SubID)
		}
		wantResult(t, "unsubscribe", pubsubIQ(t, c, "set", `<unsubscribe`+attr("node", queues)+attr("jid", c.JID)+`/>`))
		subscribe(t, c, queues, bareJID(c.JID)+"/another")
	})
}

// TestPubsubDelivery: a bare-JID subscription reaches every available
// resource of priority 0 or more; a full-JID one that resource only, at
// any priority; nothing goes to a session without presence. The envelope
// and the notification text are what Finesse sends, whether the Update
// was published over XMPP or over HTTP.
func TestPubsubDelivery(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		zero := online(t, tr, a, "1001", "zero", 0)
		five := online(t, tr, a, "1001", "five", 5)
		neg := online(t, tr, a, "1001", "neg", -1)
		silent := login(t, tr, a, "1001", "silent") // bound, no presence
		admin := online(t, tr, a, "admin", "pub", 0)
		hc := restClient(t, a)
		node := userNode("1001", "/Queues")
		bare := bareJID(zero.JID)

		// XMPP publish to a bare subscription. Quotes, CR LF, entities,
		// non-ASCII and a CDATA section must come back exactly.
		bareSub := subscribe(t, zero, node, bare)
		upd := update("<user><firstName>Al'\"ce &amp; Bob</firstName><note>a\r\nb\tc > d é ✓</note><x><![CDATA[<raw & stuff>]]></x></user>",
			"PUT", "req-1", node)
		itemID := publish(t, admin, node, "", notificationPayload(upd))
		for _, c := range []*client.Client{zero, five} {
			msg := awaitItem(t, c, node)
			checkEnvelope(t, msg, node, bare)
			item := eventItem(t, msg)
			if got := item.SelectAttrValue("id", ""); got != itemID {
				t.Errorf("%s: item id %q, the publish result said %q", c.JID, got, itemID)
			}
			if got := notificationText(t, item); got != upd {
				t.Errorf("%s: notification text\n%q\nwant\n%q", c.JID, got, upd)
			}
		}
		for _, c := range []*client.Client{neg, silent} {
			expectNoPubsubEvent(t, c, "bare subscription")
		}

		// HTTP publish: the body is escaped byte for byte; a leading XML
		// declaration is dropped.
		body := update("<user>\r\n  <state attr=\"v\" other='w'>READY</state>\r\n  <t>&lt;&amp;&gt; ]]&gt; &#233;</t>\n</user>", "PUT", "", node)
		p := httpPublish(t, hc, a, node, `<?xml version="1.0" encoding="UTF-8"?>`+body)
		if p.Deliveries != 2 {
			t.Errorf("HTTP publish: deliveries %d, want 2 (the bare subscription's two available resources)", p.Deliveries)
		}
		for _, c := range []*client.Client{zero, five} {
			msg := awaitItem(t, c, node)
			checkEnvelope(t, msg, node, bare)
			item := eventItem(t, msg)
			if got := item.SelectAttrValue("id", ""); got != p.ItemID || !openfireItemID.MatchString(got) {
				t.Errorf("%s: item id %q, the endpoint said %q", c.JID, got, p.ItemID)
			}
			if got := notificationText(t, item); got != body {
				t.Errorf("%s: notification text\n%q\nwant\n%q", c.JID, got, body)
			}
		}
		for _, c := range []*client.Client{neg, silent} {
			expectNoPubsubEvent(t, c, "bare subscription, HTTP publish")
		}

		// Full-JID subscriptions: that resource only, at any priority, and
		// only when it is available.
		wantResult(t, "unsubscribe bare", pubsubIQ(t, zero, "set", `<unsubscribe`+attr("node", node)+attr("jid", bare)+attr("subid", bareSub.SubID)+`/>`))
		for _, c := range []*client.Client{five, neg, silent} {
			subscribe(t, zero, node, c.JID) // any resource of the account may subscribe another
		}
		upd = update("<user><n>full</n></user>", "PUT", "", node)
		itemID = publish(t, admin, node, "", notificationPayload(upd))
		for _, c := range []*client.Client{five, neg} {
			msg := awaitItem(t, c, node)
			checkEnvelope(t, msg, node, c.JID)
			if item := eventItem(t, msg); item.SelectAttrValue("id", "") != itemID || notificationText(t, item) != upd {
				t.Errorf("%s: full-JID notification %s", c.JID, short(msg))
			}
		}
		for _, c := range []*client.Client{zero, silent} {
			expectNoPubsubEvent(t, c, "full subscriptions of other resources")
		}
		if p := httpPublish(t, hc, a, node, update("", "PUT", "", node)); p.Deliveries != 2 {
			t.Errorf("HTTP publish to two full subscriptions: deliveries %d, want 2", p.Deliveries)
		}
		for _, c := range []*client.Client{five, neg} {
			awaitItem(t, c, node)
		}

		// Presence makes the silent resource a recipient; going
		// unavailable stops it again.
		must(t, silent.SendPresence(0))
		ping(t, silent)
		publish(t, admin, node, "after-presence", `<entry xmlns='urn:e2e'/>`)
		if item := eventItem(t, awaitItem(t, silent, node)); item.SelectAttrValue("id", "") != "after-presence" {
			t.Errorf("silent after presence: %s", short(item))
		}
		must(t, five.Send(`<presence xmlns='jabber:client' type='unavailable'/>`))
		ping(t, five)
		publish(t, admin, node, "after-unavailable", `<entry xmlns='urn:e2e'/>`)
		for _, id := range []string{"after-presence", "after-unavailable"} {
			if got := eventItem(t, awaitItem(t, neg, node)).SelectAttrValue("id", ""); got != id {
				t.Errorf("neg: item %q, want %q", got, id)
			}
		}
		if got := eventItem(t, awaitItem(t, five, node)).SelectAttrValue("id", ""); got != "after-presence" {
			t.Errorf("five: item %q, want after-presence", got)
		}
		expectNoPubsubEvent(t, five, "a full subscription of an unavailable resource")
	})
}

// TestPubsubOrdering: several administrators publish to one node at once;
// every subscriber gets each publisher's items in that publisher's order,
// none lost and none twice.
func TestPubsubOrdering(t *testing.T) {
	const perPublisher = 15
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		node := userNode("1001", "/Queues")
		bareSide := online(t, tr, a, "1001", "bare", 0)
		fullSide := online(t, tr, a, "2001", "full", 0)
		subscribe(t, bareSide, node, bareJID(bareSide.JID))
		subscribe(t, fullSide, node, fullSide.JID) // a supervisor of 1001's team

		xmppPublishers := []*client.Client{
			online(t, tr, a, "admin", "p1", 0),
			online(t, tr, a, "admin", "p2", 0),
		}
		hc := restClient(t, a)
		var wg sync.WaitGroup
		errs := make(chan error, 3*perPublisher)
		for i, c := range xmppPublishers {
			name := "x" + strconv.Itoa(i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range perPublisher {
					id := client.NextID()
					payload := notificationPayload(fmt.Sprintf("<seq p='%s' n='%d'/>", name, n))
					reply, err := c.IQ(id, `<iq xmlns='jabber:client' type='set' id='`+id+`' to='`+pubsubJID+`'><pubsub xmlns='`+nsPubsub+`'><publish`+attr("node", node)+`><item>`+payload+`</item></publish></pubsub></iq>`)
					if err == nil && !isResult(reply) {
						err = fmt.Errorf("publish %s/%d: %s", name, n, short(reply))
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perPublisher {
				req, err := http.NewRequest(http.MethodPost, publishURL(a, node), strings.NewReader(fmt.Sprintf("<seq p='h' n='%d'/>", n)))
				if err != nil {
					errs <- err
					return
				}
				req.SetBasicAuth("admin", "password")
				resp, err := hc.Do(req)
				if err != nil {
					errs <- fmt.Errorf("HTTP publish h/%d: %w", n, err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("HTTP publish h/%d: %d %s", n, resp.StatusCode, body)
					return
				}
			}
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}

		for _, c := range []*client.Client{bareSide, fullSide} {
			next := map[string]int{}
			for range 3 * perPublisher {
				doc, err := server.ParseDocument([]byte(notificationText(t, eventItem(t, awaitItem(t, c, node)))), server.Limits{})
				must(t, err)
				p, n := doc.SelectAttrValue("p", ""), doc.SelectAttrValue("n", "")
				if n != strconv.Itoa(next[p]) {
					t.Errorf("%s: from publisher %s got item %s, want %d", c.JID, p, n, next[p])
				}
				next[p]++
			}
			if extra := pubsubEventsSoFar(t, c); len(extra) != 0 {
				t.Errorf("%s: %d notifications beyond those published", c.JID, len(extra))
			}
		}
	})
}

// TestPubsubSubscriptionsPersist: explicit subscriptions outlive the
// session that made them; nothing is stored for a subscriber offline.
func TestPubsubSubscriptionsPersist(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		admin := online(t, transports[0], a, "admin", "pub", 0)
		queues, team := userNode("1001", "/Queues"), "/finesse/api/Team/1/Users"

		agent := online(t, tr, a, "1001", "desk", 0)
		sup := online(t, tr, a, "2001", "desk", 0)
		bareSub := subscribe(t, agent, queues, bareJID(agent.JID))
		fullSub := subscribe(t, sup, team, sup.JID)
		must(t, agent.Wire.Close())
		must(t, sup.Wire.Close())

		publish(t, admin, queues, "while-away", `<entry xmlns='urn:e2e'/>`)
		publish(t, admin, team, "while-away", `<entry xmlns='urn:e2e'/>`)

		agent = online(t, tr, a, "1001", "desk", 0)
		sup = online(t, tr, a, "2001", "desk", 0)
		if got, ok := findSubscription(subscriptions(t, agent, ""), queues, bareSub.JID); !ok || got != bareSub {
			t.Errorf("after reconnecting, 1001's bare subscription: %+v, %v; want %+v", got, ok, bareSub)
		}
		if got, ok := findSubscription(subscriptions(t, sup, ""), team, fullSub.JID); !ok || got != fullSub {
			t.Errorf("after reconnecting, 2001's full subscription: %+v, %v; want %+v", got, ok, fullSub)
		}
		publish(t, admin, queues, "back", `<entry xmlns='urn:e2e'/>`)
		publish(t, admin, team, "back", `<entry xmlns='urn:e2e'/>`)
		for _, x := range []struct {
			c          *client.Client
			node, subj string
		}{{agent, queues, bareSub.JID}, {sup, team, fullSub.JID}} {
			msg := awaitItem(t, x.c, x.node)
			checkEnvelope(t, msg, x.node, x.subj)
			if id := eventItem(t, msg).SelectAttrValue("id", ""); id != "back" {
				t.Errorf("%s: first notification after reconnecting is item %q, want back (nothing is stored offline)", x.c.JID, id)
			}
		}
	})
}
