package servertest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/server"
)

// ServeTCP serves srv's XMPP over TCP on a loopback port for the test and
// returns the address. When the test ends the listener closes and srv shuts
// down; a failed shutdown or serve fails the test.
func ServeTCP(tb testing.TB, srv *server.Server) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTCP(ln, server.TCPOptions{}) }()
	tb.Cleanup(func() {
		ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != nil {
			tb.Errorf("ServeTCP: %v", err)
		}
	})
	return ln.Addr().String()
}

// Login dials addr over plain TCP, logs user in and binds resource,
// without sending presence. The connection is dropped when the test ends.
func Login(tb testing.TB, addr, domain, user, password, resource string) *client.Client {
	tb.Helper()
	w, err := client.DialTCP(addr, nil)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	tb.Cleanup(w.Drop)
	c := client.New(w, domain)
	if err := c.Login(user, password, resource); err != nil {
		tb.Fatalf("login %s/%s: %v", user, resource, err)
	}
	return c
}
