package e2e

import (
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/app"
	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/server"
)

const (
	testPingInterval = 150 * time.Millisecond
	testPingRetries  = 2
)

func shortKeepalive(c *app.Config) {
	c.PingInterval = testPingInterval
	c.PingRetries = testPingRetries
	// BOSH's own inactivity limit must not be what ends a silent session.
	c.BOSHInactivity = 10 * time.Second
}

func isServerPing(el *etree.Element) bool {
	return el.Tag == "iq" && el.SelectAttrValue("type", "") == "get" && el.SelectElement("ping") != nil &&
		el.SelectElement("ping").NamespaceURI() == server.NSPing
}

// TestSilentClientIsDropped: a client that stops sending anything gets
// pinged, then dropped, and its presence goes unavailable for the others.
func TestSilentClientIsDropped(t *testing.T) {
	forEachTransport(t, shortKeepalive, func(t *testing.T, tr transport, a *app.App) {
		watcher := online(t, tr, a, "1002", "watcher", 0)
		silent := online(t, tr, a, "1002", "silent", 0)
		if tr.kind == "bosh" {
			// A BOSH client that stops answering stops making requests;
			// the BOSH wire's Drop does just that, without a terminate.
			silent.Wire.Drop()
		}
		start := time.Now()
		watchFor := testPingInterval*(testPingRetries+1) + 2*time.Second
		_, err := awaitAnsweringPings(watcher, watchFor, presenceFrom(silent.JID, "unavailable"))
		must(t, err)
		elapsed := time.Since(start)
		if min := testPingInterval * (testPingRetries + 1); elapsed < min-testPingInterval/2 {
			t.Errorf("dropped after %v, before %d unanswered pings (%v)", elapsed, testPingRetries, min)
		}
		if tr.kind != "bosh" {
			cond, err := silent.ExpectEnd()
			must(t, err)
			if cond != server.CondConnectionTimeout {
				t.Errorf("silent client got %q, want connection-timeout", cond)
			}
		}
	})
}

// awaitAnsweringPings waits up to d for an element that match accepts,
// answering the server's pings meanwhile as a live client does.
func awaitAnsweringPings(c *client.Client, d time.Duration, match func(*etree.Element) bool) (*etree.Element, error) {
	defer func(old time.Duration) { c.Timeout = old }(c.Timeout)
	deadline := time.Now().Add(d)
	for {
		c.Timeout = time.Until(deadline)
		el, err := c.Await("the awaited element", func(el *etree.Element) bool { return match(el) || isServerPing(el) })
		if err != nil || match(el) {
			return el, err
		}
		if err := c.Send(`<iq xmlns='jabber:client' type='result' id='` + el.SelectAttrValue("id", "") + `' to='` + domain + `'/>`); err != nil {
			return nil, err
		}
	}
}

// TestAnsweringClientStaysConnected: answering the server's pings — even
// with an error and no `to`, as Strophe.js does — keeps a session alive.
func TestAnsweringClientStaysConnected(t *testing.T) {
	answers := map[string]func(id string) string{
		"result": func(id string) string {
			return `<iq xmlns='jabber:client' type='result' id='` + id + `' to='` + domain + `'/>`
		},
		"error-without-to": func(id string) string {
			return `<iq xmlns='jabber:client' type='error' id='` + id + `'><error type='cancel'><service-unavailable xmlns='` + server.NSStanzaErrors + `'/></error></iq>`
		},
	}
	forEachTransport(t, shortKeepalive, func(t *testing.T, tr transport, a *app.App) {
		for name, answer := range answers {
			c := online(t, tr, a, "1004", "answers-"+name, 0)
			pings := 0
			deadline := time.Now().Add(testPingInterval * (testPingRetries + 3))
			for time.Now().Before(deadline) {
				c.Timeout = time.Until(deadline)
				el, err := c.Await("a server ping", isServerPing)
				if err != nil {
					break
				}
				if el.SelectAttrValue("from", "") != domain || el.SelectAttrValue("to", "") != c.JID || el.SelectAttrValue("id", "") == "" {
					t.Errorf("ping shape: %s", client.Render(el))
				}
				pings++
				must(t, c.Send(answer(el.SelectAttrValue("id", ""))))
			}
			if pings < 2 {
				t.Errorf("%s: got %d pings in %v, want at least 2", name, pings, testPingInterval*(testPingRetries+3))
			}
			c.Timeout = 5 * time.Second
			ping(t, c)
		}
	})
}
