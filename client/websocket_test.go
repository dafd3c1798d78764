package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/server"
	"github.com/finesse-notify/finesse-notify/server/servertest"
)

// wsTestServer serves a real Server over WebSocket, over TLS when tls is set.
func wsTestServer(t *testing.T, tls bool) (*server.Server, *httptest.Server) {
	t.Helper()
	srv, err := server.New(server.Config{Domain: "example.com", Accounts: servertest.Accounts{"1001": "password"}})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.WebSocketHandler(server.WebSocketOptions{})
	var hs *httptest.Server
	if tls {
		hs = httptest.NewTLSServer(h)
	} else {
		hs = httptest.NewServer(h)
	}
	t.Cleanup(hs.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv, hs
}

func wsTestDial(t *testing.T, hs *httptest.Server) *client.WebSocket {
	t.Helper()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
	var w *client.WebSocket
	var err error
	if hs.TLS != nil {
		w, err = client.DialWebSocket(url, hs.Client().Transport.(*http.Transport).TLSClientConfig)
	} else {
		w, err = client.DialWebSocket(url, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Drop)
	return w
}

func TestWebSocketWireLoginPingClose(t *testing.T) {
	for _, tls := range []bool{false, true} {
		srv, hs := wsTestServer(t, tls)
		w := wsTestDial(t, hs)
		c := client.New(w, "example.com")
		if err := c.Login("1001", "password", "desk"); err != nil {
			t.Fatalf("tls %v: login: %v", tls, err)
		}
		if c.JID != "1001@example.com/desk" {
			t.Errorf("tls %v: JID %q", tls, c.JID)
		}
		if h := w.Header(); h == nil || h.SelectAttrValue("from", "") != "example.com" {
			t.Errorf("tls %v: server <open/> not recorded", tls)
		}
		reply, err := c.IQ("p1", `<iq xmlns='jabber:client' type='get' id='p1' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`)
		if err != nil || reply.SelectAttrValue("type", "") != "result" {
			t.Fatalf("tls %v: ping: %v", tls, err)
		}
		s := srv.SessionFor(server.JID{Local: "1001", Domain: "example.com", Resource: "desk"})
		if s == nil || s.Transport().Secure() != tls {
			t.Fatalf("tls %v: session %v", tls, s)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("tls %v: close: %v", tls, err)
		}
		if code := w.CloseCode(); code != 1000 {
			t.Errorf("tls %v: close code %d", tls, code)
		}
		select {
		case <-s.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("tls %v: session did not end", tls)
		}
	}
}

func TestWebSocketWireStreamErrorThenEOF(t *testing.T) {
	_, hs := wsTestServer(t, false)
	w := wsTestDial(t, hs)
	c := client.New(w, "example.com")
	if _, err := c.OpenStream(); err != nil {
		t.Fatal(err)
	}
	if err := w.SendBinary([]byte("<presence/>")); err != nil {
		t.Fatal(err)
	}
	cond, err := c.ExpectEnd()
	if err != nil || cond != "bad-format" {
		t.Fatalf("ExpectEnd: %q, %v; want bad-format", cond, err)
	}
	// Every later Next is the end of the stream too.
	if _, err := c.Next(); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("Next after the end: %v", err)
	}
	if code := w.CloseCode(); code != 1003 {
		t.Errorf("close code %d, want 1003", code)
	}
}

func TestWebSocketWireDrop(t *testing.T) {
	srv, hs := wsTestServer(t, false)
	w := wsTestDial(t, hs)
	c := client.New(w, "example.com")
	if err := c.Login("1001", "password", "drop"); err != nil {
		t.Fatal(err)
	}
	s := srv.SessionFor(server.JID{Local: "1001", Domain: "example.com", Resource: "drop"})
	w.Drop()
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("session did not end after Drop")
	}
}

func TestDialWebSocketRefusedHandshake(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no websockets here", http.StatusNotFound)
	}))
	defer hs.Close()
	_, err := client.DialWebSocket("ws"+strings.TrimPrefix(hs.URL, "http")+"/ws", nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("err = %v, want a handshake error naming HTTP 404", err)
	}
}
