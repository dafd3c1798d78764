package client_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/bosh"
	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/server"
	"github.com/finesse-notify/finesse-notify/server/servertest"
)

// boshTestServer serves a real Server through the BOSH handler over TLS.
func boshTestServer(t *testing.T, cfg bosh.Config) (*server.Server, *httptest.Server) {
	t.Helper()
	srv, err := server.New(server.Config{Domain: "example.com", Accounts: servertest.Accounts{"1001": "password", "1002": "password"}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := bosh.New(srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewTLSServer(h)
	t.Cleanup(hs.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	})
	t.Cleanup(h.Close) // first: ends the sessions of dropped clients at once
	return srv, hs
}

func boshTestLogin(t *testing.T, hs *httptest.Server, user, resource string) (*client.Client, *client.BOSH) {
	t.Helper()
	w, err := client.DialBOSH(hs.URL+"/http-bind", hs.Client(), client.BOSHOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Drop)
	c := client.New(w, "example.com")
	if err := c.Login(user, "password", resource); err != nil {
		t.Fatalf("login %s over BOSH: %v", user, err)
	}
	return c, w
}

func TestBOSHWireLoginPingMessageClose(t *testing.T) {
	_, hs := boshTestServer(t, bosh.Config{MaxWait: 5 * time.Second})
	alice, w := boshTestLogin(t, hs, "1001", "desk")
	if alice.JID != "1001@example.com/desk" {
		t.Fatalf("bound %q", alice.JID)
	}
	if w.SID() == "" || w.CreationAttr("hold") != "1" || w.CreationAttr("requests") != "2" {
		t.Fatalf("creation: sid %q hold %q requests %q", w.SID(), w.CreationAttr("hold"), w.CreationAttr("requests"))
	}

	// Several stanzas at once: at most 'requests' go out at a time, and the
	// replies come back in order.
	ids := []string{client.NextID(), client.NextID(), client.NextID()}
	for _, id := range ids {
		if err := alice.Send(`<iq xmlns='jabber:client' type='get' id='` + id + `' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		el, err := alice.Next()
		if err != nil {
			t.Fatal(err)
		}
		if el.SelectAttrValue("id", "") != id || el.SelectAttrValue("type", "") != "result" {
			t.Fatalf("want the result of %s, got %s", id, client.Render(el))
		}
	}

	bob, _ := boshTestLogin(t, hs, "1002", "desk")
	if err := bob.SendPresence(0); err != nil {
		t.Fatal(err)
	}
	// Bob's presence is processed before his next request: a ping round
	// trip orders it before Alice's message.
	if _, err := bob.IQ("bp", `<iq xmlns='jabber:client' type='get' id='bp' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`); err != nil {
		t.Fatal(err)
	}
	if err := alice.Send(`<message xmlns='jabber:client' to='1002@example.com' type='chat'><body>hello</body></message>`); err != nil {
		t.Fatal(err)
	}
	msg, err := bob.Await("message", client.Is("message", server.NSClient))
	if err != nil {
		t.Fatal(err)
	}
	if msg.FindElement("body").Text() != "hello" || msg.SelectAttrValue("from", "") != "1001@example.com/desk" {
		t.Fatalf("bob got %s", client.Render(msg))
	}

	if err := w.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := w.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Fatalf("after close: %v, want EOF", err)
	}
}

func TestBOSHWireStreamErrorThenTerminated(t *testing.T) {
	_, hs := boshTestServer(t, bosh.Config{MaxWait: 5 * time.Second})
	first, _ := boshTestLogin(t, hs, "1001", "desk")
	// The same full JID again replaces the first session with a conflict.
	boshTestLogin(t, hs, "1001", "desk")
	el, err := first.Await("stream error", client.IsStreamError)
	if err != nil {
		t.Fatal(err)
	}
	if got := client.StreamErrorCondition(el); got != "conflict" {
		t.Fatalf("condition %q, want conflict", got)
	}
	_, err = first.Next()
	var term *client.Terminated
	if !errors.As(err, &term) || term.Condition != "remote-stream-error" {
		t.Fatalf("after the stream error: %v, want a remote-stream-error terminate", err)
	}
}

func TestBOSHWireUnknownDomain(t *testing.T) {
	_, hs := boshTestServer(t, bosh.Config{})
	w, err := client.DialBOSH(hs.URL, hs.Client(), client.BOSHOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Drop()
	c := client.New(w, "other.example")
	if err := w.Open("other.example"); err != nil {
		t.Fatal(err)
	}
	cond, err := c.ExpectEnd()
	if err != nil || cond != "host-unknown" {
		t.Fatalf("ExpectEnd: %q, %v", cond, err)
	}
}

func TestBOSHWireDropEndsSessionByInactivity(t *testing.T) {
	srv, hs := boshTestServer(t, bosh.Config{MaxWait: 5 * time.Second, Inactivity: 100 * time.Millisecond})
	_, w := boshTestLogin(t, hs, "1001", "desk")
	if n := srv.SessionCount(); n != 1 {
		t.Fatalf("%d sessions", n)
	}
	w.Drop()
	deadline := time.Now().Add(3 * time.Second) // well below wait + inactivity
	for srv.SessionCount() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the dropped session is still there")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDialBOSHRefusesOtherSchemes(t *testing.T) {
	if _, err := client.DialBOSH("ws://localhost/http-bind", nil, client.BOSHOptions{}); err == nil {
		t.Fatal("ws:// accepted")
	}
}
