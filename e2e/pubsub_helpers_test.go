package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/app"
	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/server"
	"github.com/gorilla/websocket"
)

// The pubsub service of the test domain, and the XEP-0060 namespaces.
const (
	pubsubJID      = "pubsub." + domain
	nsPubsub       = "http://jabber.org/protocol/pubsub"
	nsPubsubEvent  = nsPubsub + "#event"
	nsPubsubOwner  = nsPubsub + "#owner"
	nsPubsubErrors = nsPubsub + "#errors"
)

// attr renders name='value' with value escaped, for building raw XML.
func attr(name, value string) string {
	return " " + name + "='" + server.EscapeText(value) + "'"
}

// bareJID strips the resource.
func bareJID(jid string) string {
	bare, _, _ := strings.Cut(jid, "/")
	return bare
}

// child returns el's first child named local in namespace ns, or nil.
func child(el *etree.Element, local, ns string) *etree.Element {
	if el == nil {
		return nil
	}
	for _, ch := range el.ChildElements() {
		if ch.Tag == local && ch.NamespaceURI() == ns {
			return ch
		}
	}
	return nil
}

// children returns el's children named local in namespace ns.
func children(el *etree.Element, local, ns string) []*etree.Element {
	var out []*etree.Element
	if el == nil {
		return out
	}
	for _, ch := range el.ChildElements() {
		if ch.Tag == local && ch.NamespaceURI() == ns {
			out = append(out, ch)
		}
	}
	return out
}

// textOf is all the character data directly inside el, unescaped.
func textOf(el *etree.Element) string {
	var b strings.Builder
	for _, tok := range el.Child {
		if cd, ok := tok.(*etree.CharData); ok {
			b.WriteString(cd.Data)
		}
	}
	return b.String()
}

// sendIQ sends an IQ of type typ to `to` carrying inner and returns the reply.
func sendIQ(t *testing.T, c *client.Client, typ, to, inner string) *etree.Element {
	t.Helper()
	id := client.NextID()
	reply, err := c.IQ(id, `<iq xmlns='jabber:client' type='`+typ+`' id='`+id+`' to='`+to+`'>`+inner+`</iq>`)
	must(t, err)
	return reply
}

// pubsubIQ sends <pubsub xmlns='…pubsub'>inner</pubsub> to the service.
func pubsubIQ(t *testing.T, c *client.Client, typ, inner string) *etree.Element {
	t.Helper()
	return sendIQ(t, c, typ, pubsubJID, `<pubsub xmlns='`+nsPubsub+`'>`+inner+`</pubsub>`)
}

// ownerIQ sends <pubsub xmlns='…pubsub#owner'>inner</pubsub> to the service.
func ownerIQ(t *testing.T, c *client.Client, typ, inner string) *etree.Element {
	t.Helper()
	return sendIQ(t, c, typ, pubsubJID, `<pubsub xmlns='`+nsPubsubOwner+`'>`+inner+`</pubsub>`)
}

func isResult(reply *etree.Element) bool { return reply.SelectAttrValue("type", "") == "result" }

// wantResult stops the test unless reply is a result: what follows needs it.
func wantResult(t *testing.T, what string, reply *etree.Element) {
	t.Helper()
	if !isResult(reply) {
		t.Fatalf("%s: want a result, got %s", what, short(reply))
	}
}

// pubsubErrorCondition is the pubsub#errors child of the reply's <error/>
// ("" if none), and its feature attribute (for <unsupported/>).
func pubsubErrorCondition(reply *etree.Element) (cond, feature string) {
	e := reply.SelectElement("error")
	if e == nil {
		return "", ""
	}
	for _, ch := range e.ChildElements() {
		if ch.NamespaceURI() == nsPubsubErrors {
			return ch.Tag, ch.SelectAttrValue("feature", "")
		}
	}
	return "", ""
}

// wantError checks that reply is an IQ error with the stanza condition
// cond and, when pubsubCond is not empty, that pubsub#errors child. A
// forbidden is of type auth and a policy-violation of type wait (XEP-0060).
func wantError(t *testing.T, what string, reply *etree.Element, cond, pubsubCond string) {
	t.Helper()
	if reply.SelectAttrValue("type", "") != "error" {
		t.Errorf("%s: want error %s, got %s", what, cond, short(reply))
		return
	}
	if got := client.StanzaErrorCondition(reply); got != cond {
		t.Errorf("%s: condition %q, want %q: %s", what, got, cond, short(reply))
	}
	if pubsubCond != "" {
		if got, _ := pubsubErrorCondition(reply); got != pubsubCond {
			t.Errorf("%s: pubsub#errors condition %q, want %q: %s", what, got, pubsubCond, short(reply))
		}
	}
	wantType := map[string]string{"forbidden": "auth", "policy-violation": "wait"}[cond]
	if got := reply.SelectElement("error").SelectAttrValue("type", ""); wantType != "" && got != wantType {
		t.Errorf("%s: error type %q, want %q: %s", what, got, wantType, short(reply))
	}
	if reply.SelectAttrValue("from", "") != pubsubJID {
		t.Errorf("%s: error from %q, want %q", what, reply.SelectAttrValue("from", ""), pubsubJID)
	}
}

// short renders el for a failure message, cut to a readable length.
func short(el *etree.Element) string {
	const max = 600
	s := client.Render(el)
	if len(s) > max {
		return s[:max] + fmt.Sprintf("…(%d bytes)", len(s))
	}
	return s
}

// subscription is one <subscription/> as a client sees it.
type subscription struct{ Node, JID, SubID, State string }

// parseSubscription reads a <subscription/> element.
func parseSubscription(el *etree.Element) subscription {
	return subscription{
		Node:  el.SelectAttrValue("node", ""),
		JID:   el.SelectAttrValue("jid", ""),
		SubID: el.SelectAttrValue("subid", ""),
		State: el.SelectAttrValue("subscription", ""),
	}
}

// subscribe subscribes jid to node and returns the subscription the
// result carries, after checking its shape.
func subscribe(t *testing.T, c *client.Client, node, jid string) subscription {
	t.Helper()
	reply := pubsubIQ(t, c, "set", `<subscribe`+attr("node", node)+attr("jid", jid)+`/>`)
	wantResult(t, "subscribe "+jid+" to "+node, reply)
	el := child(child(reply, "pubsub", nsPubsub), "subscription", nsPubsub)
	if el == nil {
		t.Fatalf("subscribe %s to %s: result without <pubsub><subscription/>: %s", jid, node, short(reply))
	}
	s := parseSubscription(el)
	if s.Node != node || s.JID != jid || s.SubID == "" || s.State != "subscribed" {
		t.Errorf("subscribe %s to %s: subscription %+v", jid, node, s)
	}
	return s
}

// subscriptions retrieves the sender's subscriptions (node "" for all),
// sorted, failing the test on an error.
func subscriptions(t *testing.T, c *client.Client, node string) []subscription {
	t.Helper()
	inner := `<subscriptions/>`
	if node != "" {
		inner = `<subscriptions` + attr("node", node) + `/>`
	}
	reply := pubsubIQ(t, c, "get", inner)
	wantResult(t, "subscriptions retrieval", reply)
	list := child(child(reply, "pubsub", nsPubsub), "subscriptions", nsPubsub)
	if list == nil {
		t.Fatalf("subscriptions retrieval without <subscriptions/>: %s", short(reply))
	}
	if got := list.SelectAttrValue("node", ""); got != node {
		t.Errorf("subscriptions retrieval for node %q answered for node %q", node, got)
	}
	out := []subscription{}
	for _, el := range children(list, "subscription", nsPubsub) {
		out = append(out, parseSubscription(el))
	}
	slices.SortFunc(out, func(a, b subscription) int {
		return strings.Compare(a.Node+"\x00"+a.JID, b.Node+"\x00"+b.JID)
	})
	return out
}

// findSubscription returns the subscription of jid to node in list.
func findSubscription(list []subscription, node, jid string) (subscription, bool) {
	for _, s := range list {
		if s.Node == node && s.JID == jid {
			return s, true
		}
	}
	return subscription{}, false
}

// publishReply publishes payload as one item (itemID "" for none) and
// returns the reply.
func publishReply(t *testing.T, c *client.Client, node, itemID, payload string) *etree.Element {
	t.Helper()
	item := `<item>`
	if itemID != "" {
		item = `<item` + attr("id", itemID) + `>`
	}
	return pubsubIQ(t, c, "set", `<publish`+attr("node", node)+`>`+item+payload+`</item></publish>`)
}

// publish publishes over XMPP and returns the item id of the result.
func publish(t *testing.T, c *client.Client, node, itemID, payload string) string {
	t.Helper()
	reply := publishReply(t, c, node, itemID, payload)
	wantResult(t, "publish to "+node, reply)
	p := child(child(reply, "pubsub", nsPubsub), "publish", nsPubsub)
	item := child(p, "item", nsPubsub)
	if p == nil || item == nil || p.SelectAttrValue("node", "") != node || item.SelectAttrValue("id", "") == "" {
		t.Fatalf("publish to %s: result %s, want <pubsub><publish node><item id/></publish></pubsub>", node, short(reply))
	}
	id := item.SelectAttrValue("id", "")
	if itemID != "" && id != itemID {
		t.Errorf("publish with item id %q: result carries %q", itemID, id)
	}
	return id
}

// finesseEscape escapes an Update the way Finesse puts it in <notification>.
func finesseEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;").Replace(s)
}

// notificationPayload is the item payload Finesse publishes: the Update,
// escaped, as the text of <notification/>.
func notificationPayload(update string) string {
	return `<notification xmlns='` + nsPubsub + `'>` + finesseEscape(update) + `</notification>`
}

// update builds an <Update/> document with Finesse's children in order.
func update(data, event, requestID, source string) string {
	return `<Update><data>` + data + `</data><event>` + event + `</event><requestId>` + requestID +
		`</requestId><source>` + source + `</source></Update>`
}

// isItemsEvent matches a pubsub notification of items on node.
func isItemsEvent(node string) func(*etree.Element) bool {
	return func(el *etree.Element) bool {
		items := child(child(el, "event", nsPubsubEvent), "items", nsPubsubEvent)
		return el.Tag == "message" && el.SelectAttrValue("from", "") == pubsubJID &&
			items != nil && items.SelectAttrValue("node", "") == node
	}
}

// isNodeEvent matches a <delete/> or <purge/> notification for node.
func isNodeEvent(kind, node string) func(*etree.Element) bool {
	return func(el *etree.Element) bool {
		ev := child(child(el, "event", nsPubsubEvent), kind, nsPubsubEvent)
		return el.Tag == "message" && el.SelectAttrValue("from", "") == pubsubJID &&
			ev != nil && ev.SelectAttrValue("node", "") == node
	}
}

// eventItem is the single <item/> of an items notification; the test
// fails unless there is exactly one.
func eventItem(t *testing.T, msg *etree.Element) *etree.Element {
	t.Helper()
	items := child(child(msg, "event", nsPubsubEvent), "items", nsPubsubEvent)
	list := children(items, "item", nsPubsubEvent)
	if len(list) != 1 {
		t.Fatalf("notification with %d items: %s", len(list), short(msg))
	}
	return list[0]
}

// notificationText is the unescaped text of the item's <notification/>.
func notificationText(t *testing.T, item *etree.Element) string {
	t.Helper()
	n := child(item, "notification", nsPubsub)
	if n == nil {
		t.Fatalf("item without <notification xmlns='%s'>: %s", nsPubsub, short(item))
	}
	if len(n.ChildElements()) != 0 {
		t.Errorf("the Update is carried as elements, not as escaped text: %s", short(n))
	}
	return textOf(n)
}

// awaitItem waits for the next notification of items on node and returns it.
func awaitItem(t *testing.T, c *client.Client, node string) *etree.Element {
	t.Helper()
	msg, err := c.Await("a notification on "+node, isItemsEvent(node))
	must(t, err)
	return msg
}

var messageIDTail = regexp.MustCompile(`^[0-9A-Za-z]{5}$`)

// checkEnvelope checks a notification's addressing as Finesse sends it:
// from the service, to the subscription's JID, id NODE__JID__xxxxx, no type.
func checkEnvelope(t *testing.T, msg *etree.Element, node, subJID string) {
	t.Helper()
	if got := msg.SelectAttrValue("from", ""); got != pubsubJID {
		t.Errorf("notification from %q, want %q", got, pubsubJID)
	}
	if got := msg.SelectAttrValue("to", ""); got != subJID {
		t.Errorf("notification to %q, want the subscription's JID %q", got, subJID)
	}
	if typ := msg.SelectAttr("type"); typ != nil {
		t.Errorf("notification has type %q; Finesse sends none", typ.Value)
	}
	id := msg.SelectAttrValue("id", "")
	prefix := node + "__" + subJID + "__"
	if !strings.HasPrefix(id, prefix) || !messageIDTail.MatchString(strings.TrimPrefix(id, prefix)) {
		t.Errorf("notification id %q, want %q followed by 5 characters [0-9A-Za-z]", id, prefix)
	}
}

// pubsubEventsSoFar returns, after a ping round trip as the barrier, the
// pubsub notifications c has received and not consumed.
func pubsubEventsSoFar(t *testing.T, c *client.Client) []*etree.Element {
	t.Helper()
	ping(t, c)
	var out []*etree.Element
	for _, el := range c.Backlog() {
		if el.Tag == "message" && el.SelectAttrValue("from", "") == pubsubJID {
			out = append(out, el)
		}
	}
	return out
}

// expectNoPubsubEvent checks that c has received no pubsub notification.
// Publishing fans out before the publisher gets its result, so a ping
// after that result is a barrier.
func expectNoPubsubEvent(t *testing.T, c *client.Client, what string) {
	t.Helper()
	if evs := pubsubEventsSoFar(t, c); len(evs) != 0 {
		t.Errorf("%s: %s received %s", what, c.JID, short(evs[0]))
	}
}

// restClient is an HTTPS client that trusts the app's certificate.
func restClient(t *testing.T, a *app.App) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig(t, a)}}
}

// publishURL is the administrator's HTTP publish endpoint for node.
func publishURL(a *app.App, node string) string {
	return "https://" + a.Addr(app.ListenerREST) + "/finesse-notify/publish?node=" + url.QueryEscape(node)
}

// httpPublishAs POSTs body to the publish endpoint with Basic credentials
// (user "" for none) and returns the status, body and headers.
func httpPublishAs(t *testing.T, hc *http.Client, a *app.App, method, user, password, node, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, publishURL(a, node), strings.NewReader(body))
	must(t, err)
	req.Header.Set("Content-Type", "application/xml")
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := hc.Do(req)
	must(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	must(t, err)
	return resp.StatusCode, string(data), resp.Header
}

// published is the endpoint's answer.
type published struct {
	Node, ItemID string
	Deliveries   int
}

// httpPublish publishes body to node as the administrator over HTTP.
func httpPublish(t *testing.T, hc *http.Client, a *app.App, node, body string) published {
	t.Helper()
	status, resp, _ := httpPublishAs(t, hc, a, http.MethodPost, "admin", "password", node, body)
	if status != http.StatusOK {
		t.Fatalf("HTTP publish to %s: %d %s", node, status, resp)
	}
	el, err := server.ParseDocument([]byte(resp), server.Limits{})
	if err != nil || el.Tag != "published" {
		t.Fatalf("HTTP publish to %s answered %q, want <published node itemId deliveries/>", node, resp)
	}
	n, err := strconv.Atoi(el.SelectAttrValue("deliveries", ""))
	if err != nil {
		t.Errorf("HTTP publish: deliveries %q is not a number", el.SelectAttrValue("deliveries", ""))
	}
	p := published{Node: el.SelectAttrValue("node", ""), ItemID: el.SelectAttrValue("itemId", ""), Deliveries: n}
	if p.Node != node || p.ItemID == "" {
		t.Errorf("HTTP publish to %s answered %q", node, resp)
	}
	return p
}

// userNode is a Finesse user node: /finesse/api/User/<id><suffix>.
func userNode(id, suffix string) string { return "/finesse/api/User/" + id + suffix }

// rawSession is a logged-in session (with initial presence) on a raw TCP
// or WebSocket connection. Nothing reads the connection unless next is
// called, and what was read can be kept byte for byte.
type rawSession struct {
	jid string
	// next returns the next element; the end of the stream is io.EOF.
	next            func() (*etree.Element, error)
	setReadDeadline func(time.Time) error
	// transcript holds every byte (TCP) or frame (WebSocket) read, when
	// asked for.
	transcript *bytes.Buffer
}

// dialRawSession connects over tr (a tcp or websocket transport) with
// dial and logs user in.
func dialRawSession(t *testing.T, tr transport, a *app.App, user, resource string,
	dial func(network, addr string) (net.Conn, error), record bool) *rawSession {
	t.Helper()
	rs := &rawSession{jid: user + "@" + domain + "/" + resource}
	if record {
		rs.transcript = &bytes.Buffer{}
	}
	var send func(string) error
	var restart func() error
	switch tr.kind {
	case "tcp":
		send, restart = rs.openTCP(t, tr, a, dial)
	case "websocket":
		send, restart = rs.openWebSocket(t, tr, a, dial)
	default:
		t.Fatalf("no raw session over %s", tr.kind)
	}
	must(t, rs.setReadDeadline(time.Now().Add(10*time.Second)))
	isTag := func(tag string) func(*etree.Element) bool {
		return func(el *etree.Element) bool { return el.Tag == tag }
	}
	steps := []struct {
		send []string // nil: a stream (re)start
		done func(*etree.Element) bool
	}{
		{nil, isTag("features")},
		{[]string{`<auth xmlns='` + server.NSSASL + `' mechanism='PLAIN'>` +
			base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00password")) + `</auth>`}, isTag("success")},
		{nil, isTag("features")},
		{[]string{`<iq xmlns='jabber:client' type='set' id='bind'><bind xmlns='` + server.NSBind + `'><resource>` +
			server.EscapeText(resource) + `</resource></bind></iq>`}, client.IQReply("bind")},
		{[]string{`<presence xmlns='jabber:client'><priority>0</priority></presence>`,
			`<iq xmlns='jabber:client' type='get' id='ping'` + attr("to", domain) + `><ping xmlns='` + server.NSPing + `'/></iq>`}, client.IQReply("ping")},
	}
	for _, step := range steps {
		if step.send == nil {
			must(t, restart())
		}
		for _, x := range step.send {
			must(t, send(x))
		}
		for {
			el, err := rs.next()
			if err != nil {
				t.Fatalf("raw %s login of %s: %v", tr.name, user, err)
			}
			if step.done(el) {
				if el.Tag == "failure" || el.SelectAttrValue("type", "") == "error" {
					t.Fatalf("raw %s login of %s: %s", tr.name, user, short(el))
				}
				break
			}
		}
	}
	must(t, rs.setReadDeadline(time.Time{}))
	return rs
}

// openTCP connects to the xmpp (or, for tcp-direct-tls, xmpps) listener.
func (rs *rawSession) openTCP(t *testing.T, tr transport, a *app.App, dial func(network, addr string) (net.Conn, error)) (send func(string) error, restart func() error) {
	addr, cfg := a.Addr(app.ListenerXMPP), (*tls.Config)(nil)
	if tr.name == "tcp-direct-tls" {
		addr, cfg = a.Addr(app.ListenerXMPPS), tlsConfig(t, a)
	}
	conn, err := dial("tcp", addr)
	must(t, err)
	if cfg != nil {
		tc := tls.Client(conn, cfg)
		must(t, tc.Handshake())
		conn = tc
	}
	t.Cleanup(func() { conn.Close() })
	var in io.Reader = conn
	if rs.transcript != nil {
		in = io.TeeReader(conn, rs.transcript)
	}
	br := bufio.NewReader(in)
	var dec *server.Decoder
	rs.setReadDeadline = conn.SetReadDeadline
	rs.next = func() (*etree.Element, error) {
		for {
			ev, err := dec.Next()
			if err != nil {
				return nil, err
			}
			switch ev.Kind {
			case server.EventElement:
				return ev.Element, nil
			case server.EventStreamEnd:
				return nil, io.EOF
			}
		}
	}
	send = func(x string) error {
		_, err := io.WriteString(conn, x)
		return err
	}
	restart = func() error {
		dec = server.NewStreamDecoder(br, server.Limits{MaxBytes: 1 << 20, MaxDepth: 100})
		return send(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='` + server.NSStream +
			`'` + attr("to", domain) + ` version='1.0'>`)
	}
	return send, restart
}

// openWebSocket connects to /ws on the notify-plain (or, for
// websocket-tls, notify) listener.
func (rs *rawSession) openWebSocket(t *testing.T, tr transport, a *app.App, dial func(network, addr string) (net.Conn, error)) (send func(string) error, restart func() error) {
	url, cfg := "ws://"+a.Addr(app.ListenerNotifyPlain)+"/ws", (*tls.Config)(nil)
	if tr.name == "websocket-tls" {
		url, cfg = "wss://"+a.Addr(app.ListenerNotify)+"/ws", tlsConfig(t, a)
	}
	d := websocket.Dialer{Subprotocols: []string{"xmpp"}, TLSClientConfig: cfg, HandshakeTimeout: 5 * time.Second, NetDial: dial}
	conn, resp, err := d.Dial(url, nil)
	must(t, err)
	resp.Body.Close()
	t.Cleanup(func() { conn.Close() })
	rs.setReadDeadline = conn.SetReadDeadline
	closed := false // the server's <close/> has come
	rs.next = func() (*etree.Element, error) {
		for {
			_, data, err := conn.ReadMessage()
			var ce *websocket.CloseError
			switch {
			case errors.As(err, &ce) && closed:
				return nil, io.EOF
			case err != nil:
				return nil, fmt.Errorf("websocket read (<close/> seen: %v): %w", closed, err)
			}
			if rs.transcript != nil {
				rs.transcript.Write(data)
			}
			el, err := server.ParseDocument(data, server.Limits{MaxBytes: 1 << 20, MaxDepth: 100})
			if err != nil {
				return nil, err
			}
			if el.NamespaceURI() == server.NSFraming {
				closed = closed || el.Tag == "close"
				continue // <open/> and <close/> frame the stream
			}
			return el, nil
		}
	}
	send = func(x string) error { return conn.WriteMessage(websocket.TextMessage, []byte(x)) }
	restart = func() error {
		return send(`<open xmlns='` + server.NSFraming + `'` + attr("to", domain) + ` version='1.0'/>`)
	}
	return send, restart
}
