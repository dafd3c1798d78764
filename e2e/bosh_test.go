package e2e

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/server"
)

// postBody sends a raw BOSH body and returns the response's <body/>.
func postBody(t *testing.T, url, body string) *etree.Element {
	t.Helper()
	resp, err := http.Post(url, "text/xml; charset=utf-8", strings.NewReader(body))
	must(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	must(t, err)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, data)
	}
	el, err := server.ParseDocument(data, server.Limits{})
	must(t, err)
	return el
}

// TestWrongBOSHSidOrRidEndsOnlyThatSession: an unknown sid and a rid
// outside the window get their XEP-0124 terminate conditions, and
// sessions on every transport go on.
func TestWrongBOSHSidOrRidEndsOnlyThatSession(t *testing.T) {
	a := startApp(t, nil)
	var bystanders []*client.Client
	for i, tr := range transports {
		bystanders = append(bystanders, online(t, tr, a, "100"+strconv.Itoa(i+1), "bystander", 0))
	}
	url := "http://" + a.Addr("notify-plain") + "/http-bind"
	const httpbind = `xmlns='http://jabber.org/protocol/httpbind'`

	unknown := postBody(t, url, `<body `+httpbind+` sid='no-such-session' rid='42'/>`)
	if unknown.SelectAttrValue("type", "") != "terminate" || unknown.SelectAttrValue("condition", "") != "item-not-found" {
		t.Errorf("unknown sid: %s", client.Render(unknown))
	}

	created := postBody(t, url, `<body `+httpbind+` xmlns:xmpp='urn:xmpp:xbosh' rid='1000' to='`+domain+`' wait='10' hold='1' ver='1.6' xmpp:version='1.0'/>`)
	sid := created.SelectAttrValue("sid", "")
	if sid == "" || created.SelectAttrValue("requests", "") != "2" {
		t.Fatalf("session creation: %s", client.Render(created))
	}
	beyond := postBody(t, url, `<body `+httpbind+` sid='`+sid+`' rid='1005'/>`)
	if beyond.SelectAttrValue("type", "") != "terminate" || beyond.SelectAttrValue("condition", "") != "item-not-found" {
		t.Errorf("rid beyond the window: %s", client.Render(beyond))
	}
	// The session is gone: its next in-window request learns it too.
	after := postBody(t, url, `<body `+httpbind+` sid='`+sid+`' rid='1001'/>`)
	if after.SelectAttrValue("type", "") != "terminate" {
		t.Errorf("request after the session ended: %s", client.Render(after))
	}
	for _, c := range bystanders {
		ping(t, c)
	}
}

// TestBOSHPauseOutlivesKeepalive: a BOSH client that pauses its session
// (XEP-0124 §10) sends nothing for longer than the keepalive allows, and
// is not dropped for it; without the pause it would be (TestSilentClientIsDropped).
func TestBOSHPauseOutlivesKeepalive(t *testing.T) {
	a := startApp(t, shortKeepalive)
	watcher := online(t, transports[0], a, "1003", "watcher", 0)
	c := online(t, transports[4], a, "1003", "pauser", 0)
	_, err := watcher.Await("the pauser's presence", presenceFrom(c.JID, ""))
	must(t, err)

	w := c.Wire.(*client.BOSH)
	must(t, w.Pause(2*time.Second))
	silence := testPingInterval * (testPingRetries + 3) // well past the keepalive's limit
	if el, err := awaitAnsweringPings(watcher, silence, presenceFrom(c.JID, "unavailable")); err == nil {
		t.Fatalf("paused session dropped: %s", client.Render(el))
	}
	w.Resume()
	ping(t, c)
}
