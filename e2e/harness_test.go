package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/app"
	"github.com/finesse-notify/finesse-notify/client"
)

const domain = "finesse.example.com"

// startApp runs the server with every listener on a free loopback port.
func startApp(t *testing.T, tweak func(*app.Config)) *app.App {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.Domain = domain
	cfg.NotifyAddr = "127.0.0.1:0"
	cfg.NotifyPlainAddr = "127.0.0.1:0"
	cfg.RESTAddr = "127.0.0.1:0"
	cfg.XMPPAddr = "127.0.0.1:0"
	cfg.XMPPSAddr = "127.0.0.1:0"
	cfg.ShutdownTimeout = 5 * time.Second
	if tweak != nil {
		tweak(&cfg)
	}
	a, err := app.Start(cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return a
}

// tlsConfig trusts the app's certificate, as a tester would after fetching
// /tls/certificate.pem.
func tlsConfig(t *testing.T, a *app.App) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(a.CertificatePEM()) {
		t.Fatal("certificate PEM does not parse")
	}
	return &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
}

// transport is one way for a client to reach the server.
type transport struct {
	name string
	kind string // the client.Wire kind: tcp, websocket, bosh
	dial func(t *testing.T, a *app.App) client.Wire
}

var transports = []transport{
	{"tcp", "tcp", func(t *testing.T, a *app.App) client.Wire {
		w, err := client.DialTCP(a.Addr("xmpp"), nil)
		must(t, err)
		return w
	}},
	{"tcp-direct-tls", "tcp", func(t *testing.T, a *app.App) client.Wire {
		w, err := client.DialTCP(a.Addr("xmpps"), tlsConfig(t, a))
		must(t, err)
		return w
	}},
	{"websocket", "websocket", func(t *testing.T, a *app.App) client.Wire {
		w, err := client.DialWebSocket("ws://"+a.Addr("notify-plain")+"/ws", nil)
		must(t, err)
		return w
	}},
	{"websocket-tls", "websocket", func(t *testing.T, a *app.App) client.Wire {
		w, err := client.DialWebSocket("wss://"+a.Addr("notify")+"/ws/", tlsConfig(t, a))
		must(t, err)
		return w
	}},
	{"bosh", "bosh", func(t *testing.T, a *app.App) client.Wire {
		ht := &http.Transport{}
		t.Cleanup(ht.CloseIdleConnections)
		w, err := client.DialBOSH("http://"+a.Addr("notify-plain")+"/http-bind", &http.Client{Transport: ht}, client.BOSHOptions{})
		must(t, err)
		return w
	}},
	{"bosh-tls", "bosh", func(t *testing.T, a *app.App) client.Wire {
		ht := &http.Transport{TLSClientConfig: tlsConfig(t, a)}
		t.Cleanup(ht.CloseIdleConnections)
		w, err := client.DialBOSH("https://"+a.Addr("notify")+"/http-bind/", &http.Client{Transport: ht}, client.BOSHOptions{})
		must(t, err)
		return w
	}},
}

// forEachTransport runs f once per transport, each with its own app.
func forEachTransport(t *testing.T, tweak func(*app.Config), f func(t *testing.T, tr transport, a *app.App)) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			f(t, tr, startApp(t, tweak))
		})
	}
}

// connect dials tr and returns a client that closes its stream when the
// test ends (before the app shuts down), as a well-behaved client does.
func connect(t *testing.T, tr transport, a *app.App) *client.Client {
	t.Helper()
	c := client.New(tr.dial(t, a), domain)
	t.Cleanup(func() {
		_ = c.Wire.Close()
		c.Wire.Drop()
	})
	return c
}

// login connects, authenticates as user and binds resource.
func login(t *testing.T, tr transport, a *app.App, user, resource string) *client.Client {
	t.Helper()
	c := connect(t, tr, a)
	if err := c.Login(user, "password", resource); err != nil {
		t.Fatalf("login %s over %s: %v", user, tr.name, err)
	}
	return c
}

// online logs in and sends available presence with priority.
func online(t *testing.T, tr transport, a *app.App, user, resource string, priority int) *client.Client {
	t.Helper()
	c := login(t, tr, a, user, resource)
	must(t, c.SendPresence(priority))
	// Like Cisco's desktop, wait for the Finesse service's presence, which
	// follows the initial presence; it also shows the server has handled it.
	_, err := c.Await("presence from finesse@"+domain, presenceFrom("finesse@"+domain+"/finesse", ""))
	must(t, err)
	return c
}

// ping checks that the session is alive and answering.
func ping(t *testing.T, c *client.Client) {
	t.Helper()
	id := client.NextID()
	reply, err := c.IQ(id, `<iq xmlns='jabber:client' type='get' id='`+id+`' to='`+domain+`'><ping xmlns='urn:xmpp:ping'/></iq>`)
	must(t, err)
	if reply.SelectAttrValue("type", "") != "result" {
		t.Fatalf("ping answered %s", client.Render(reply))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
