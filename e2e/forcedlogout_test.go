package e2e

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/app"
	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/server"
)

// Forced logout (FINESSE-REFERENCE §5.1): when the agent's last XMPP
// resource goes away, the agent is logged out with reason code 255 after
// the logout grace, unless it comes back first.

const (
	logoutPingInterval = 200 * time.Millisecond
	logoutPingRetries  = 1
	logoutGrace        = 600 * time.Millisecond
)

func shortLogout(c *app.Config) {
	c.PingInterval = logoutPingInterval
	c.PingRetries = logoutPingRetries
	c.LogoutGrace = logoutGrace
	c.BOSHInactivity = 10 * time.Second
}

// rawTransports are those a rawSession speaks: a silent client there is
// one that stops reading and answering.
func rawTransports() []transport {
	var out []transport
	for _, tr := range transports {
		if tr.kind == "tcp" || tr.kind == "websocket" {
			out = append(out, tr)
		}
	}
	return out
}

// isUserUpdate matches a notification on node whose Update carries user
// id's <user> in state.
func isUserUpdate(node, id, state string) func(*etree.Element) bool {
	return func(el *etree.Element) bool {
		if !isItemsEvent(node)(el) {
			return false
		}
		items := child(child(el, "event", nsPubsubEvent), "items", nsPubsubEvent)
		for _, item := range children(items, "item", nsPubsubEvent) {
			n := child(item, "notification", nsPubsub)
			if n == nil {
				continue
			}
			upd, err := server.ParseDocument([]byte(textOf(n)), server.Limits{MaxBytes: 1 << 20, MaxDepth: 100})
			if err != nil {
				continue
			}
			user := upd.FindElement("data/user")
			if user == nil {
				continue
			}
			gotID, _ := xmlPath(user, "loginId")
			gotState, _ := userState(user)
			if gotID == id && gotState == state {
				return true
			}
		}
		return false
	}
}

// answerPingsUntilCleanup answers c's server pings from a goroutine until
// the test ends, so that c stays connected while the test waits on other
// things. Nothing else may read c meanwhile.
func answerPingsUntilCleanup(t *testing.T, c *client.Client) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		c.Timeout = 50 * time.Millisecond
		for {
			select {
			case <-stop:
				return
			default:
			}
			el, err := c.Await("a server ping", isServerPing)
			if err != nil {
				if strings.Contains(err.Error(), "deadline exceeded") {
					continue
				}
				return // the stream ended: the test's assertions will say so
			}
			if c.Send(`<iq xmlns='jabber:client' type='result' id='`+el.SelectAttrValue("id", "")+`' to='`+domain+`'/>`) != nil {
				return
			}
		}
	}()
	// Registered after connect's cleanup, so it runs before the wire closes.
	t.Cleanup(func() { close(stop); <-done })
}

// awaitRawEnd reads rs, answering nothing, until the server ends it.
func awaitRawEnd(t *testing.T, rs *rawSession) {
	t.Helper()
	must(t, rs.setReadDeadline(time.Now().Add(10*time.Second)))
	for {
		if _, err := rs.next(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the silent session of %s was not dropped: %v", rs.jid, err)
			}
			return
		}
	}
}

// TestForcedLogoutSilentClient: an agent whose only session stops
// answering pings is logged out with the system reason code 255 once the
// keepalive has dropped it and the grace has passed; a supervisor watching
// the team sees it.
func TestForcedLogoutSilentClient(t *testing.T) {
	for _, tr := range rawTransports() {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			a := startApp(t, shortLogout)
			hc := restClient(t, a)
			sup := online(t, transports[0], a, "2001", "watch", 0)
			subscribe(t, sup, teamUsersNode, bareJID(sup.JID))
			dialRawSession(t, tr, a, "1001", "desk", net.Dial, false)
			silentFrom := time.Now() // the raw session's last words were its login
			putUserState(t, hc, a, "1001", "1001", "<state>LOGIN</state><extension>3001</extension>", "login")
			awaitUpdate(t, sup, teamUsersNode, "login")

			wait := logoutPingInterval*(logoutPingRetries+1) + logoutGrace + 5*time.Second
			msg, err := awaitAnsweringPings(sup, wait, isUserUpdate(teamUsersNode, "1001", "LOGOUT"))
			must(t, err)
			elapsed := time.Since(silentFrom)
			if min := logoutPingInterval*(logoutPingRetries+1) + logoutGrace; elapsed < min-logoutPingInterval/2 {
				t.Errorf("logged out %v after going silent, before the keepalive and the grace (%v)", elapsed, min)
			}
			u := parseUpdate(t, msg)
			checkUserUpdate(t, "team's forced LOGOUT Update", u, "1001", "LOGOUT", "")
			if _, code := userState(u.data); code != "255" {
				t.Errorf("forced LOGOUT summary: reason code %q, want 255", code)
			}
			state, code := userState(parseXML(t, "GET User", getUser(t, hc, a, "1001")))
			if state != "LOGOUT" || code != "255" {
				t.Errorf("after the forced logout GET says %s with reason code %q, want LOGOUT 255", state, code)
			}
		})
	}
}

// TestForcedLogoutCancelledByReconnect: an agent whose session is dropped
// but who reconnects within the grace stays logged in. The barrier is a
// second agent dropped later in the same way: once it is logged out, the
// first one's grace has passed too.
func TestForcedLogoutCancelledByReconnect(t *testing.T) {
	for _, tr := range rawTransports() {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			a := startApp(t, shortLogout)
			hc := restClient(t, a)
			first := dialRawSession(t, tr, a, "1001", "desk", net.Dial, false)
			putUserState(t, hc, a, "1001", "1001", "<state>LOGIN</state><extension>3001</extension>", "login")
			awaitRawEnd(t, first)
			dropped := time.Now()
			again := online(t, transports[0], a, "1001", "again", 0)
			answerPingsUntilCleanup(t, again)
			if since := time.Since(dropped); since >= logoutGrace {
				t.Fatalf("reconnecting took %v, longer than the grace %v: the test cannot tell", since, logoutGrace)
			}

			dialRawSession(t, tr, a, "1002", "desk", net.Dial, false)
			putUserState(t, hc, a, "1002", "1002", "<state>LOGIN</state><extension>3002</extension>", "login")
			awaitState(t, hc, a, "1002", "LOGOUT", 10*time.Second)
			if since := time.Since(dropped); since < logoutGrace {
				t.Fatalf("the barrier came %v after the first drop, within the grace %v", since, logoutGrace)
			}
			if state, _ := userState(parseXML(t, "GET User", getUser(t, hc, a, "1001"))); state != "NOT_READY" {
				t.Errorf("the agent that reconnected within the grace is %s, want NOT_READY", state)
			}
		})
	}
}

// awaitState polls GET /finesse/api/User/<id> until it shows state,
// for at most d.
func awaitState(t *testing.T, hc *http.Client, a *app.App, id, state string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		got, _ := userState(parseXML(t, "GET User", getUser(t, hc, a, id)))
		if got == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("user %s is still %s after %v, want %s", id, got, d, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
