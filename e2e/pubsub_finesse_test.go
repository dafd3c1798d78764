package e2e

import (
	"bytes"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/app"
	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/server"
)

// Finesse's model on top of pubsub: automatic subscriptions, the
// 'finesse' service presence, the access rules and the publish endpoint.

// autoNodes are the nodes every user is subscribed to at first login.
func autoNodes(id string) []string {
	return []string{
		userNode(id, ""), userNode(id, "/Dialogs"), userNode(id, "/Dialogs/Media"), userNode(id, "/Media"),
		"/finesse/api/SystemInfo",
	}
}

func TestFinesseAutoSubscriptions(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		hc := restClient(t, a)
		agent := online(t, tr, a, "1001", "desk", 0)
		other := online(t, tr, a, "1002", "desk", 0)
		bare := bareJID(agent.JID)

		subs := subscriptions(t, agent, "")
		var nodes []string
		for _, s := range subs {
			nodes = append(nodes, s.Node)
			if s.JID != bare || s.State != "subscribed" || s.SubID == "" {
				t.Errorf("automatic subscription %+v, want the bare JID %s, subscribed, with a subid", s, bare)
			}
		}
		want := autoNodes("1001")
		slices.Sort(want)
		slices.Sort(nodes)
		if !slices.Equal(nodes, want) {
			t.Errorf("subscriptions at first login: %v, want %v", nodes, want)
		}

		// An Update reaches the agent with no subscribe of its own, and no
		// other agent.
		node := userNode("1001", "")
		upd := update("<user><loginId>1001</loginId><state>NOT_READY</state></user>", "PUT", "", node)
		httpPublish(t, hc, a, node, upd)
		msg := awaitItem(t, agent, node)
		checkEnvelope(t, msg, node, bare)
		if got := notificationText(t, eventItem(t, msg)); got != upd {
			t.Errorf("notification text %q, want %q", got, upd)
		}
		sys := update("<SystemInfo><status>IN_SERVICE</status></SystemInfo>", "PUT", "", "/finesse/api/SystemInfo")
		httpPublish(t, hc, a, "/finesse/api/SystemInfo", sys)
		for _, c := range []*client.Client{agent, other} {
			msg := awaitItem(t, c, "/finesse/api/SystemInfo")
			checkEnvelope(t, msg, "/finesse/api/SystemInfo", bareJID(c.JID))
			if got := notificationText(t, eventItem(t, msg)); got != sys {
				t.Errorf("%s: SystemInfo text %q", c.JID, got)
			}
		}
		expectNoPubsubEvent(t, other, "another agent's user node")

		// The subscriptions are made once: a second login neither
		// duplicates them nor brings back one the user dropped.
		media := userNode("1001", "/Media")
		s, _ := findSubscription(subs, media, bare)
		wantResult(t, "unsubscribe Media", pubsubIQ(t, agent, "set", `<unsubscribe`+attr("node", media)+attr("jid", bare)+attr("subid", s.SubID)+`/>`))
		second := online(t, tr, a, "1001", "second", 0)
		after := subscriptions(t, second, "")
		if _, ok := findSubscription(after, media, bare); ok || len(after) != len(subs)-1 {
			t.Errorf("subscriptions after a second login: %+v", after)
		}
		for _, s := range after {
			if orig, _ := findSubscription(subs, s.Node, s.JID); orig != s {
				t.Errorf("subscription %+v changed at the second login (was %+v)", s, orig)
			}
		}
	})
}

func isFinessePresence(el *etree.Element) bool {
	return el.Tag == "presence" && strings.HasPrefix(el.SelectAttrValue("from", ""), "finesse@"+domain+"/")
}

func TestFinesseServicePresence(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		c := login(t, tr, a, "1003", "desk")
		if receivedSoFar(t, c, isFinessePresence) {
			t.Errorf("finesse presence before the client's initial presence")
		}
		must(t, c.SendPresence(0))
		p, err := c.Await("presence from finesse@"+domain, isFinessePresence)
		must(t, err)
		if p.SelectAttrValue("to", "") != c.JID || p.SelectAttrValue("type", "") != "" {
			t.Errorf("finesse presence: %s, want available presence to %s", short(p), c.JID)
		}
		// Every session gets it, not just the user's first.
		c2 := login(t, tr, a, "1003", "other")
		must(t, c2.SendPresence(1))
		p, err = c2.Await("presence from finesse@"+domain, isFinessePresence)
		must(t, err)
		if p.SelectAttrValue("to", "") != c2.JID {
			t.Errorf("finesse presence to the second session: %s", short(p))
		}
	})
}

func TestFinesseAccessRules(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		hc := restClient(t, a)
		agent := online(t, tr, a, "1001", "desk", 0)
		sup := online(t, tr, a, "2001", "desk", 0)
		admin := online(t, tr, a, "admin", "desk", 0)
		team := "/finesse/api/Team/1/Users"
		campaign := "ccp.campaign.updates.Cisco_Default_Task_Campaign"

		allowed := []struct {
			who  *client.Client
			node string
		}{
			{agent, userNode("1001", "/Queues")},
			{agent, userNode("1001", "/Dialogs/Media")},
			{agent, "/finesse/api/SystemInfo"},
			{sup, team},
			{sup, userNode("1001", "")},
			{sup, userNode("1002", "/Dialogs")},
			{admin, team},
			{admin, userNode("1080", "/Media")},
			{admin, campaign},
		}
		for _, x := range allowed {
			subscribe(t, x.who, x.node, x.who.JID)
		}
		agentBefore, supBefore := subscriptions(t, agent, ""), subscriptions(t, sup, "")
		forbidden := []struct {
			who  *client.Client
			node string
		}{
			{agent, userNode("1002", "/Dialogs")},
			{agent, userNode("1002", "")},
			{agent, team},
			{agent, campaign},
			{sup, campaign},
		}
		for _, x := range forbidden {
			reply := pubsubIQ(t, x.who, "set", `<subscribe`+attr("node", x.node)+attr("jid", x.who.JID)+`/>`)
			wantError(t, bareJID(x.who.JID)+" subscribes to "+x.node, reply, "forbidden", "")
			reply = pubsubIQ(t, x.who, "get", `<items`+attr("node", x.node)+`/>`)
			wantError(t, bareJID(x.who.JID)+" retrieves the items of "+x.node, reply, "forbidden", "")
		}
		if !slices.Equal(subscriptions(t, agent, ""), agentBefore) || !slices.Equal(subscriptions(t, sup, ""), supBefore) {
			t.Errorf("refused subscribes changed the subscriptions")
		}

		// What is published on the team node reaches the supervisor's
		// full-JID subscription; the agent, never subscribed, gets nothing.
		upd := update("<user><loginId>1002</loginId><state>READY</state></user>", "PUT", "", "/finesse/api/User/1002")
		httpPublish(t, hc, a, team, upd)
		msg := awaitItem(t, sup, team)
		checkEnvelope(t, msg, team, sup.JID)
		if got := notificationText(t, eventItem(t, msg)); got != upd {
			t.Errorf("team notification text %q, want %q", got, upd)
		}
		expectNoPubsubEvent(t, agent, "team node")

		// Only administrators publish and create.
		for _, c := range []*client.Client{agent, sup} {
			wantError(t, bareJID(c.JID)+" publishes", publishReply(t, c, userNode("1001", ""), "", notificationPayload(upd)), "forbidden", "")
			wantError(t, bareJID(c.JID)+" creates", pubsubIQ(t, c, "set", `<create node='/e2e/mine'/>`), "forbidden", "")
		}
	})
}

// TestFinessePublishEndpoint: the administrator's HTTP publish endpoint
// and every way it refuses a request.
func TestFinessePublishEndpoint(t *testing.T) {
	a := startApp(t, nil)
	hc := restClient(t, a)
	agent := online(t, transports[0], a, "1001", "desk", 0)
	node := userNode("1001", "")
	valid := update("<user/>", "PUT", "", node)

	p := httpPublish(t, hc, a, node, valid)
	if p.Deliveries != 1 || !openfireItemID.MatchString(p.ItemID) {
		t.Errorf("publish to one available subscriber: %+v", p)
	}
	if id := eventItem(t, awaitItem(t, agent, node)).SelectAttrValue("id", ""); id != p.ItemID {
		t.Errorf("notification item %q, endpoint said %q", id, p.ItemID)
	}

	cases := []struct {
		name, method, user, password, node, body string
		status                                   int
	}{
		{"no credentials", http.MethodPost, "", "", node, valid, http.StatusUnauthorized},
		{"wrong password", http.MethodPost, "admin", "wrong", node, valid, http.StatusUnauthorized},
		{"unknown user", http.MethodPost, "nobody", "password", node, valid, http.StatusUnauthorized},
		{"an agent", http.MethodPost, "1001", "password", node, valid, http.StatusForbidden},
		{"a supervisor", http.MethodPost, "2001", "password", node, valid, http.StatusForbidden},
		{"unknown node", http.MethodPost, "admin", "password", "/no/such/node", valid, http.StatusNotFound},
		{"not well-formed", http.MethodPost, "admin", "password", node, "<Update><data></Update>", http.StatusBadRequest},
		{"two documents", http.MethodPost, "admin", "password", node, "<Update/><Update/>", http.StatusBadRequest},
		{"empty body", http.MethodPost, "admin", "password", node, "", http.StatusBadRequest},
		{"too big", http.MethodPost, "admin", "password", node, update(strings.Repeat("x", 300<<10), "PUT", "", node), http.StatusRequestEntityTooLarge},
		// 160 KB of body that escapes to 400 KB of notification text.
		{"too big once escaped", http.MethodPost, "admin", "password", node, update(strings.Repeat("<a/>", 40000), "PUT", "", node), http.StatusRequestEntityTooLarge},
		{"GET", http.MethodGet, "admin", "password", node, "", http.StatusMethodNotAllowed},
		{"PUT", http.MethodPut, "admin", "password", node, valid, http.StatusMethodNotAllowed},
	}
	for _, tc := range cases {
		status, body, hdr := httpPublishAs(t, hc, a, tc.method, tc.user, tc.password, tc.node, tc.body)
		if status != tc.status {
			t.Errorf("%s: HTTP %d %q, want %d", tc.name, status, body, tc.status)
		}
		if status == http.StatusUnauthorized && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: WWW-Authenticate %q, want Basic", tc.name, hdr.Get("WWW-Authenticate"))
		}
		if tc.status == http.StatusNotFound && !strings.Contains(body, "<ApiErrors>") {
			t.Errorf("%s: body %q, want an ApiErrors document", tc.name, body)
		}
	}
	expectNoPubsubEvent(t, agent, "refused HTTP publishes")

	// The endpoint is on the REST listener only.
	resp, err := http.Post("http://"+a.Addr(app.ListenerNotifyPlain)+"/finesse-notify/publish?node="+node, "application/xml", strings.NewReader(valid))
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("publish endpoint on the plain notification listener: HTTP %d, want 404", resp.StatusCode)
	}
}

// TestFinesseNotificationBytes: on the wire, the notification's text is the
// Update escaped as Finesse escapes it (&, <, > and CR; quotes literal), so
// that clients that only undo &lt; and &gt; (Cisco's Python sample) read
// the document that was published. Published over HTTP and over XMPP
// (where the administrator's stanza escapes quotes, which the server must
// not keep), read raw from each transport.
func TestFinesseNotificationBytes(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		node := userNode("1001", "")
		admin := online(t, transports[0], a, "admin", "pub", 0)
		hc := restClient(t, a)
		upd := update("<user><n a=\"1\" b='2'>it's \"x\" &amp; y &gt; z</n>\r\n</user>", "PUT", "", node)
		want := []byte(">" + finesseEscape(upd) + "</notification>")

		var await func() []byte // the raw bytes up to the next notification on node
		switch tr.kind {
		case "tcp", "websocket":
			rs := dialRawSession(t, tr, a, "1001", "raw", (&net.Dialer{Timeout: 5 * time.Second}).Dial, true)
			await = func() []byte {
				rs.transcript.Reset()
				must(t, rs.setReadDeadline(time.Now().Add(10*time.Second)))
				for {
					el, err := rs.next()
					must(t, err)
					if isItemsEvent(node)(el) {
						return rs.transcript.Bytes()
					}
				}
			}
		case "bosh":
			b := newRawBOSH(t, tr, a, "1001", "raw")
			await = func() []byte { return b.await(isItemsEvent(node)) }
		}

		httpPublish(t, hc, a, node, upd)
		if got := await(); !bytes.Contains(got, want) {
			t.Errorf("HTTP publish: the wire lacks %q:\n%q", want, got)
		}
		// The administrator escapes everything it may; the text is the same.
		quoted := strings.NewReplacer("'", "&apos;", `"`, "&quot;").Replace(finesseEscape(upd))
		publish(t, admin, node, "", `<notification xmlns='`+nsPubsub+`'>`+quoted+`</notification>`)
		if got := await(); !bytes.Contains(got, want) {
			t.Errorf("XMPP publish: the wire lacks %q:\n%q", want, got)
		}
	})
}

// rawBOSH is a BOSH session driven by hand, one request at a time, so that
// each response body can be read as the server wrote it.
type rawBOSH struct {
	t   *testing.T
	hc  *http.Client
	url string
	sid string
	rid int64
}

const nsHTTPBind = "http://jabber.org/protocol/httpbind"

// newRawBOSH creates a session and logs user in with initial presence.
func newRawBOSH(t *testing.T, tr transport, a *app.App, user, resource string) *rawBOSH {
	t.Helper()
	ht := &http.Transport{}
	b := &rawBOSH{t: t, hc: &http.Client{Transport: ht, Timeout: 10 * time.Second}, url: "http://" + a.Addr(app.ListenerNotifyPlain) + "/http-bind", rid: 4000}
	if tr.name == "bosh-tls" {
		ht.TLSClientConfig = tlsConfig(t, a)
		b.url = "https://" + a.Addr(app.ListenerNotify) + "/http-bind/"
	}
	t.Cleanup(func() {
		if b.sid != "" { // end the session as a client does; the answer is a terminate
			resp, err := b.hc.Post(b.url, "text/xml; charset=utf-8", strings.NewReader(`<body xmlns='`+nsHTTPBind+`'`+
				attr("sid", b.sid)+` rid='`+strconv.FormatInt(b.rid, 10)+`' type='terminate'/>`))
			if err == nil {
				resp.Body.Close()
			}
		}
		ht.CloseIdleConnections()
	})
	_, root := b.request(`<body xmlns='` + nsHTTPBind + `' xmlns:xmpp='urn:xmpp:xbosh' rid='` + strconv.FormatInt(b.rid, 10) +
		`'` + attr("to", domain) + ` ver='1.6' wait='2' hold='1' xmpp:version='1.0'/>`)
	b.rid++
	b.sid = root.SelectAttrValue("sid", "")
	if b.sid == "" {
		t.Fatalf("raw BOSH: no sid in %s", short(root))
	}
	pending := root.ChildElements()
	isTag := func(tag string) func(*etree.Element) bool {
		return func(el *etree.Element) bool { return el.Tag == tag }
	}
	seen := func(match func(*etree.Element) bool) bool {
		for _, el := range pending {
			if match(el) {
				return true
			}
		}
		return false
	}
	if !seen(isTag("features")) {
		b.await(isTag("features"))
	}
	b.send(`<auth xmlns='`+server.NSSASL+`' mechanism='PLAIN'>`+base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00password"))+`</auth>`, "", isTag("success"))
	b.send("", ` xmlns:xmpp='urn:xmpp:xbosh' xmpp:restart='true'`+attr("to", domain), isTag("features"))
	b.send(`<iq xmlns='jabber:client' type='set' id='bind'><bind xmlns='`+server.NSBind+`'><resource>`+server.EscapeText(resource)+`</resource></bind></iq>`, "", client.IQReply("bind"))
	b.send(`<presence xmlns='jabber:client'><priority>0</priority></presence><iq xmlns='jabber:client' type='get' id='ping'`+attr("to", domain)+`><ping xmlns='`+server.NSPing+`'/></iq>`, "", client.IQReply("ping"))
	return b
}

// request POSTs one body and returns the response as sent and parsed.
func (b *rawBOSH) request(body string) ([]byte, *etree.Element) {
	b.t.Helper()
	resp, err := b.hc.Post(b.url, "text/xml; charset=utf-8", strings.NewReader(body))
	must(b.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	must(b.t, err)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("raw BOSH: HTTP %d %s", resp.StatusCode, raw)
	}
	root, err := server.ParseDocument(raw, server.Limits{MaxBytes: 1 << 20, MaxDepth: 100})
	must(b.t, err)
	if root.SelectAttrValue("type", "") == "terminate" {
		b.t.Fatalf("raw BOSH: session terminated: %s", short(root))
	}
	return raw, root
}

// send sends payload (with extra body attributes) and polls until an
// element that match accepts has come.
func (b *rawBOSH) send(payload, extra string, match func(*etree.Element) bool) {
	b.t.Helper()
	_, root := b.request(`<body xmlns='` + nsHTTPBind + `'` + attr("sid", b.sid) + ` rid='` + strconv.FormatInt(b.rid, 10) + `'` + extra + `>` + payload + `</body>`)
	b.rid++
	for _, el := range root.ChildElements() {
		if match(el) {
			return
		}
	}
	b.await(match)
}

// await polls (each poll held at most 2 s, ten at most) until a response
// carries an element that match accepts, and returns that response's body.
func (b *rawBOSH) await(match func(*etree.Element) bool) []byte {
	b.t.Helper()
	for range 10 {
		raw, root := b.request(`<body xmlns='` + nsHTTPBind + `'` + attr("sid", b.sid) + ` rid='` + strconv.FormatInt(b.rid, 10) + `'/>`)
		b.rid++
		for _, el := range root.ChildElements() {
			if match(el) {
				return raw
			}
		}
	}
	b.t.Fatalf("raw BOSH: nothing awaited came in ten polls")
	return nil
}
