package e2e

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/app"
	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/server"
)

func hasChild(el *etree.Element, local, ns string) bool {
	for _, ch := range el.ChildElements() {
		if ch.Tag == local && ch.NamespaceURI() == ns {
			return true
		}
	}
	return false
}

func TestFeaturesBeforeAndAfterAuthentication(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		c := connect(t, tr, a)
		f, err := c.OpenStream()
		must(t, err)
		mechs := f.SelectElement("mechanisms")
		if mechs == nil || mechs.NamespaceURI() != server.NSSASL {
			t.Fatalf("no SASL mechanisms: %s", client.Render(f))
		}
		var names []string
		for _, m := range mechs.SelectElements("mechanism") {
			names = append(names, m.Text())
		}
		if strings.Join(names, ",") != "PLAIN" {
			t.Errorf("mechanisms = %v, want only PLAIN", names)
		}
		wantTLS := tr.name == "tcp" // only the plain TCP port offers STARTTLS
		if got := hasChild(f, "starttls", server.NSTLS); got != wantTLS {
			t.Errorf("starttls offered = %v, want %v: %s", got, wantTLS, client.Render(f))
		}
		outcome, err := c.PlainAuth("1001", "password")
		must(t, err)
		if outcome.Tag != "success" {
			t.Fatalf("auth: %s", client.Render(outcome))
		}
		f, err = c.OpenStream()
		must(t, err)
		if !hasChild(f, "bind", server.NSBind) {
			t.Errorf("no bind feature: %s", client.Render(f))
		}
		sess := f.SelectElement("session")
		if sess == nil || sess.NamespaceURI() != server.NSSession || sess.SelectElement("optional") == nil {
			t.Errorf("session feature missing or not optional: %s", client.Render(f))
		}
		for _, feat := range f.ChildElements() {
			if ns := feat.NamespaceURI(); strings.HasPrefix(ns, "urn:xmpp:sm:") {
				t.Errorf("stream management offered: %s", client.Render(f))
			}
		}
		if hasChild(f, "mechanisms", server.NSSASL) {
			t.Errorf("mechanisms offered again after authentication: %s", client.Render(f))
		}
	})
}

func TestLoginBindAndLegacySession(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		// The id is matched case-insensitively, the JID is lower case.
		c := login(t, tr, a, "ADMIN", "desk")
		if c.JID != "admin@"+domain+"/desk" {
			t.Errorf("jid = %q", c.JID)
		}
		id := client.NextID()
		reply, err := c.IQ(id, `<iq xmlns='jabber:client' type='set' id='`+id+`'><session xmlns='`+server.NSSession+`'/></iq>`)
		must(t, err)
		if reply.SelectAttrValue("type", "") != "result" {
			t.Errorf("session IQ answered %s", client.Render(reply))
		}
		ping(t, c)

		// Without a resource the server makes one up.
		c2 := connect(t, tr, a)
		must(t, c2.Login("1002", "password", ""))
		if !strings.HasPrefix(c2.JID, "1002@"+domain+"/") || len(c2.JID) <= len("1002@"+domain+"/") {
			t.Errorf("generated jid = %q", c2.JID)
		}
	})
}

func TestAuthenticationFailures(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		c := connect(t, tr, a)
		_, err := c.OpenStream()
		must(t, err)
		must(t, c.Send(`<auth xmlns='`+server.NSSASL+`' mechanism='DIGEST-MD5'/>`))
		f, err := c.Await("failure", client.Is("failure", server.NSSASL))
		must(t, err)
		if !hasChild(f, "invalid-mechanism", server.NSSASL) {
			t.Errorf("unknown mechanism answered %s", client.Render(f))
		}
		for i := range 3 {
			f, err := c.PlainAuth("1001", "wrong")
			must(t, err)
			if f.Tag != "failure" || !hasChild(f, "not-authorized", server.NSSASL) {
				t.Fatalf("attempt %d answered %s", i+1, client.Render(f))
			}
		}
		cond, err := c.ExpectEnd()
		must(t, err)
		if cond != server.CondPolicyViolation {
			t.Errorf("after three failures the stream ended with %q, want policy-violation", cond)
		}
	})
}

func TestStanzaBeforeAuthentication(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		c := connect(t, tr, a)
		_, err := c.OpenStream()
		must(t, err)
		must(t, c.Send(`<iq xmlns='jabber:client' type='get' id='x'><ping xmlns='urn:xmpp:ping'/></iq>`))
		cond, err := c.ExpectEnd()
		must(t, err)
		if cond != server.CondNotAuthorized {
			t.Errorf("stream ended with %q, want not-authorized", cond)
		}
	})
}

func TestWrongDomainIsHostUnknown(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		c := client.New(tr.dial(t, a), "other.example.org")
		t.Cleanup(c.Wire.Drop)
		_ = c.Wire.Open("other.example.org")
		cond, err := c.ExpectEnd()
		must(t, err)
		if cond != server.CondHostUnknown {
			t.Errorf("stream ended with %q, want host-unknown", cond)
		}
	})
}

func TestResourceConflictReplacesOldSession(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		old := login(t, tr, a, "1003", "desktop")
		fresh := login(t, tr, a, "1003", "desktop")
		cond, err := old.ExpectEnd()
		must(t, err)
		if cond != server.CondConflict {
			t.Errorf("old session ended with %q, want conflict", cond)
		}
		ping(t, fresh)
	})
}

func TestStreamManagementIsRefused(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		c := login(t, tr, a, "1001", "sm")
		must(t, c.Send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`))
		f, err := c.Await("failed", client.Is("failed", "urn:xmpp:sm:3"))
		must(t, err)
		if !hasChild(f, "feature-not-implemented", server.NSStanzaErrors) {
			t.Errorf("enable answered %s", client.Render(f))
		}
		ping(t, c) // the stream goes on
	})
}

func TestDomainIQs(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		c := login(t, tr, a, "1001", "iq")
		ask := func(to, payload string) *etree.Element {
			t.Helper()
			id := client.NextID()
			toAttr := ""
			if to != "" {
				toAttr = ` to='` + to + `'`
			}
			reply, err := c.IQ(id, `<iq xmlns='jabber:client' type='get' id='`+id+`'`+toAttr+`>`+payload+`</iq>`)
			must(t, err)
			return reply
		}
		info := ask(domain, `<query xmlns='`+server.NSDiscoInfo+`'/>`)
		if info.SelectAttrValue("type", "") != "result" || info.SelectAttrValue("from", "") != domain {
			t.Fatalf("disco#info: %s", client.Render(info))
		}
		q := info.SelectElement("query")
		id := q.SelectElement("identity")
		if id == nil || id.SelectAttrValue("category", "") != "server" || id.SelectAttrValue("type", "") != "im" {
			t.Errorf("identity: %s", client.Render(info))
		}
		features := map[string]bool{}
		for _, f := range q.SelectElements("feature") {
			features[f.SelectAttrValue("var", "")] = true
		}
		for _, want := range []string{server.NSPing, server.NSDiscoInfo, server.NSDiscoItems} {
			if !features[want] {
				t.Errorf("disco#info lacks feature %s", want)
			}
		}
		if items := ask(domain, `<query xmlns='`+server.NSDiscoItems+`'/>`); items.SelectAttrValue("type", "") != "result" ||
			items.SelectElement("query") == nil || items.SelectElement("query").NamespaceURI() != server.NSDiscoItems {
			t.Errorf("disco#items: %s", client.Render(items))
		}
		roster := ask("", `<query xmlns='jabber:iq:roster'/>`)
		if roster.SelectAttrValue("type", "") != "result" || roster.SelectElement("query") == nil ||
			len(roster.SelectElement("query").ChildElements()) != 0 {
			t.Errorf("roster: %s", client.Render(roster))
		}
		if r := ask("", `<vCard xmlns='vcard-temp'/>`); client.StanzaErrorCondition(r) != "service-unavailable" {
			t.Errorf("unknown namespace: %s", client.Render(r))
		}
		if r := ask(domain, `<query xmlns='urn:example:unknown'/>`); client.StanzaErrorCondition(r) != "service-unavailable" ||
			r.SelectAttrValue("from", "") != domain {
			t.Errorf("unknown namespace to the domain: %s", client.Render(r))
		}
		if r := ask("elsewhere.example.net", `<ping xmlns='urn:xmpp:ping'/>`); client.StanzaErrorCondition(r) != "remote-server-not-found" {
			t.Errorf("remote domain: %s", client.Render(r))
		}
		if r := ask("1002@"+domain+"/nowhere", `<ping xmlns='urn:xmpp:ping'/>`); client.StanzaErrorCondition(r) != "service-unavailable" {
			t.Errorf("offline full JID: %s", client.Render(r))
		}
		two := client.NextID()
		r, err := c.IQ(two, `<iq xmlns='jabber:client' type='get' id='`+two+`'><ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/></iq>`)
		must(t, err)
		if client.StanzaErrorCondition(r) != "bad-request" {
			t.Errorf("two payloads: %s", client.Render(r))
		}
	})
}

func TestCleanCloseEndsSession(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		c := login(t, tr, a, "1001", "bye")
		if n := a.Server().SessionCount(); n != 1 {
			t.Fatalf("sessions = %d, want 1", n)
		}
		must(t, c.Wire.Close())
		waitFor(t, "the session to end", func() bool { return a.Server().SessionCount() == 0 })
	})
}

func TestShutdownSendsSystemShutdown(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		c := login(t, tr, a, "1001", "shutdown")
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done <- a.Shutdown(ctx)
		}()
		cond, err := c.ExpectEnd()
		must(t, err)
		if cond != server.CondSystemShutdown {
			t.Errorf("stream ended with %q, want system-shutdown", cond)
		}
		must(t, <-done)
	})
}

func TestPlainWithoutInitialResponse(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		c := connect(t, tr, a)
		_, err := c.OpenStream()
		must(t, err)
		must(t, c.Send(`<auth xmlns='`+server.NSSASL+`' mechanism='PLAIN'/>`))
		_, err = c.Await("challenge", client.Is("challenge", server.NSSASL))
		must(t, err)
		must(t, c.Send(`<response xmlns='`+server.NSSASL+`'>`+base64.StdEncoding.EncodeToString([]byte("\x001004\x00password"))+`</response>`))
		_, err = c.Await("success", client.Is("success", server.NSSASL))
		must(t, err)
	})
}

// waitFor polls cond until it holds; the server's state changes on other
// goroutines after the client has seen the wire traffic.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
