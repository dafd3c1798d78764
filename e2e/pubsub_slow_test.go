//go:build unix

package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/app"
	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/server"
)

// TestPubsubSlowConsumer: one subscriber stops reading. The others go on
// receiving every notification, in order; the stuck one's send queue
// overflows and the server closes it with policy-violation, counted in the
// overflow metric.
func TestPubsubSlowConsumer(t *testing.T) {
	const (
		payloadBytes  = 32 << 10
		maxPublishes  = 400 // a bound: with stingyDialer about 20 fill the socket buffers and the queue
		afterOverflow = 3
	)
	tweak := func(c *app.Config) {
		c.SendQueueStanzas = 16
		c.SendQueueBytes = 128 << 10
		c.PingInterval = time.Minute // the stuck client is silent; keepalive is not what is tested
	}
	forEachTransport(t, tweak, func(t *testing.T, tr transport, a *app.App) {
		node := userNode("1001", "/Queues")
		watcher := online(t, tr, a, "1001", "watcher", 0)
		sup := online(t, tr, a, "2001", "good", 0)
		stuck := stallableSession(t, tr, a, "1001", "stuck")
		subscribe(t, watcher, node, bareJID(watcher.JID)) // reaches the watcher and the stuck one
		subscribe(t, sup, node, sup.JID)
		good := []*client.Client{watcher, sup}

		stuck.stall()
		payload := []byte(`<blob xmlns='urn:e2e:slow'>` + strings.Repeat("x", payloadBytes) + `</blob>`)
		// Each round waits for the good subscribers to receive the item,
		// so their own (small) queues never fill: only the stuck one's
		// does. Publishing is in-process, as Finesse's own events are (the
		// XMPP and HTTP publish paths are tested elsewhere).
		round := func(id string) {
			t.Helper()
			if _, err := a.PubSub().Publish(node, id, payload); err != nil {
				t.Fatalf("publish %s: %v", id, err)
			}
			for _, c := range good {
				if got := eventItem(t, awaitItem(t, c, node)).SelectAttrValue("id", ""); got != id {
					t.Fatalf("%s: item %q, want %q: one lost or out of order", c.JID, got, id)
				}
			}
		}
		n := 0
		for ; n < maxPublishes && !hasUnavailablePresence(watcher, stuck.jid); n++ {
			round("i" + strconv.Itoa(n))
		}
		if n == maxPublishes {
			t.Fatalf("after %d publishes of %d bytes the stuck session is still there", n, payloadBytes)
		}
		t.Logf("%s: the stuck session was closed after %d publishes", tr.name, n)

		// The stuck client reads again at once: the server's writer may
		// still be blocked on its socket, within its write timeout, with
		// the stream error queued behind what the client did not read.
		start := time.Now()
		cond, items, err := stuck.resume()
		if err != nil {
			t.Fatalf("the stuck client, reading again for %v: %v", time.Since(start).Round(time.Millisecond), err)
		}
		if cond != server.CondPolicyViolation {
			t.Errorf("the stuck client, reading again, got %d items and the end with %q, want policy-violation", items, cond)
		}
		if items >= n {
			t.Errorf("the stuck client got %d items of %d: nothing was dropped", items, n)
		}

		for i := range afterOverflow {
			round("after-" + strconv.Itoa(i))
		}
		_, metrics, _ := get(t, http.DefaultClient, "http://"+a.Addr(app.ListenerNotifyPlain)+"/metrics")
		if !strings.Contains(metrics, "\nfinesse_notify_send_queue_overflows_total 1\n") {
			t.Errorf("metrics lack finesse_notify_send_queue_overflows_total 1")
		}
	})
}

// hasUnavailablePresence reports whether c has received unavailable
// presence from jid (its own other resource).
func hasUnavailablePresence(c *client.Client, jid string) bool {
	for _, el := range c.Backlog() {
		if presenceFrom(jid, "unavailable")(el) {
			return true
		}
	}
	return false
}

// stalled is a subscriber session that stops reading, then reads again.
type stalled struct {
	jid   string
	stall func()
	// resume reads everything to the end of the stream and returns the
	// stream error's condition and the pubsub items read.
	resume func() (cond string, items int, err error)
}

// stallableSession logs user in over tr with initial presence. Over TCP
// and WebSocket it is a raw connection, read only until login is done:
// after that nothing reads the socket until resume (the client package's
// wires read ahead into a buffer of their own, which would take hundreds
// more notifications to fill). Over BOSH it is the BOSH client, which
// stops polling (a pause) until resume.
func stallableSession(t *testing.T, tr transport, a *app.App, user, resource string) *stalled {
	t.Helper()
	switch tr.kind {
	case "bosh":
		c, w := stallableBOSH(t, tr, a, user, resource)
		return &stalled{
			jid:   c.JID,
			stall: func() { must(t, w.Pause(30*time.Second)) },
			resume: func() (string, int, error) {
				w.Resume()
				items := 0
				for {
					el, err := c.Next()
					var term *client.Terminated
					switch {
					case errors.Is(err, io.EOF):
						return "", items, nil
					case errors.As(err, &term):
						return term.Condition, items, nil
					case err != nil:
						return "", items, err
					}
					if el.Tag == "message" && el.SelectAttrValue("from", "") == pubsubJID {
						items++
					}
					if cond := client.StreamErrorCondition(el); cond != "" {
						// The terminate that follows says remote-stream-error.
						_, err := c.ExpectEnd()
						return cond, items, err
					}
				}
			},
		}
	case "tcp", "websocket":
		rs := dialRawSession(t, tr, a, user, resource, stingyDialer().Dial, false)
		return &stalled{
			jid:   rs.jid,
			stall: func() {}, // nothing reads the socket until resume
			resume: func() (string, int, error) {
				must(t, rs.setReadDeadline(time.Now().Add(10*time.Second)))
				cond, items := "", 0
				for {
					el, err := rs.next()
					if errors.Is(err, io.EOF) {
						return cond, items, nil
					}
					if err != nil {
						return cond, items, fmt.Errorf("reading after %d items: %w", items, err)
					}
					if c := client.StreamErrorCondition(el); c != "" {
						cond = c
					}
					if el.Tag == "message" && el.SelectAttrValue("from", "") == pubsubJID {
						items++
					}
				}
			},
		}
	}
	t.Fatalf("no stallable session for %s", tr.kind)
	return nil
}

// stallableBOSH logs in over BOSH with an HTTP client of its own, whose
// idle connections are closed when the test ends: a connection the HTTP
// client opened but never used would hold up the app's shutdown (see
// the report on http.Server.Shutdown and connections in StateNew).
func stallableBOSH(t *testing.T, tr transport, a *app.App, user, resource string) (*client.Client, *client.BOSH) {
	t.Helper()
	ht := &http.Transport{}
	url := "http://" + a.Addr(app.ListenerNotifyPlain) + "/http-bind"
	if tr.name == "bosh-tls" {
		ht.TLSClientConfig = tlsConfig(t, a)
		url = "https://" + a.Addr(app.ListenerNotify) + "/http-bind/"
	}
	w, err := client.DialBOSH(url, &http.Client{Transport: ht}, client.BOSHOptions{})
	must(t, err)
	c := client.New(w, domain)
	t.Cleanup(func() {
		_ = w.Close()
		ht.CloseIdleConnections()
	})
	if err := c.Login(user, "password", resource); err != nil {
		t.Fatalf("login %s over %s: %v", user, tr.name, err)
	}
	must(t, c.SendPresence(0))
	_, err = c.Await("presence from finesse@"+domain, isFinessePresence)
	must(t, err)
	return c, w
}

// stingyDialer dials with a small MSS and a small receive buffer, set
// before the SYN. The server's socket sizes its send buffer from the MSS it
// is offered (on loopback it would be 64 KiB, and the buffer megabytes), so
// a client that stops reading fills the server's queue after a few hundred
// kilobytes rather than megabytes.
func stingyDialer() *net.Dialer {
	return &net.Dialer{
		Timeout: 5 * time.Second,
		Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = errors.Join(
					syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 1400),
					syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 32<<10),
				)
			})
			return errors.Join(err, serr)
		},
	}
}
