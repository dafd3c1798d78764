package e2e

import (
	"net/http"
	"testing"

	"github.com/finesse-notify/finesse-notify/app"
	"github.com/finesse-notify/finesse-notify/client"
)

// A desktop's REST calls and the notifications they cause, as the agent's
// and the supervisor's XMPP sessions see them.

// restLoginReady logs agent 1001 in with extension 3001 over REST (it
// lands in NOT_READY) and, when ready, makes it READY; then it drains
// the notifications that caused from the sessions given.
func restLogin(t *testing.T, hc *http.Client, a *app.App, ready bool, sessions ...*client.Client) {
	t.Helper()
	putUserState(t, hc, a, "1001", "1001", "<state>LOGIN</state><extension>3001</extension>", "setup-login")
	if ready {
		putUserState(t, hc, a, "1001", "1001", "<state>READY</state>", "setup-ready")
	}
	for _, c := range sessions {
		updatesSoFar(t, c, "")
	}
}

// TestRESTStateChangeNotifies: a PUT READY with a requestId answers 202
// with the requestId echoed, and yields exactly one Update carrying it on
// the agent's node and one summary on its team's node.
func TestRESTStateChangeNotifies(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		hc := restClient(t, a)
		agent := online(t, tr, a, "1001", "desk", 0)
		sup := online(t, tr, a, "2001", "desk", 0)
		subscribe(t, sup, teamUsersNode, bareJID(sup.JID))

		// LOGIN lands in NOT_READY, and says so to both.
		login := "login-" + tr.name
		putUserState(t, hc, a, "1001", "1001", "<state>LOGIN</state><extension>3001</extension>", login)
		u := awaitUpdate(t, agent, userNode("1001", ""), login)
		if got, _ := xmlPath(u.data, "extension"); got != "3001" {
			t.Errorf("LOGIN Update: extension %q, want 3001", got)
		}
		awaitUpdate(t, sup, teamUsersNode, login)
		updatesSoFar(t, agent, "")
		updatesSoFar(t, sup, "")
		if state, _ := userState(parseXML(t, "GET User", getUser(t, hc, a, "1001"))); state != "NOT_READY" {
			t.Fatalf("after LOGIN the agent is %s, want NOT_READY", state)
		}

		ready := "ready-" + tr.name
		putUserState(t, hc, a, "1001", "1001", "<state>READY</state>", ready)
		checkUserUpdate(t, "agent's READY Update", awaitUpdate(t, agent, userNode("1001", ""), ready), "1001", "READY", ready)
		checkUserUpdate(t, "team's READY Update", awaitUpdate(t, sup, teamUsersNode, ready), "1001", "READY", ready)
		for _, c := range []*client.Client{agent, sup} {
			if more := updatesSoFar(t, c, ""); len(more) != 0 {
				t.Errorf("%s got %d more Updates after the READY one (first: %s %s)", c.JID, len(more), more[0].source, more[0].requestID)
			}
		}
		if state, _ := userState(parseXML(t, "GET User", getUser(t, hc, a, "1001"))); state != "READY" {
			t.Errorf("after PUT READY the agent is %s", state)
		}
	})
}

// TestRESTRefusedChangesChangeNothing: each documented refusal gets its
// ApiErrors answer, and neither the state changes nor anything is
// published to the agent's or the supervisor's sessions.
func TestRESTRefusedChangesChangeNothing(t *testing.T) {
	cases := []struct {
		name, caller, password, body string
		status                       int
		errType                      string
	}{
		{"malformed XML", "1001", "password", "<User><state>NOT_READY</state>", http.StatusBadRequest, "Invalid Input"},
		{"unknown state", "1001", "password", "<User><state>DANCING</state></User>", http.StatusBadRequest, "Invalid Input"},
		// 11 is a LOGOUT reason code.
		{"reason code of the wrong category", "1001", "password",
			"<User><state>NOT_READY</state><reasonCodeId>11</reasonCodeId></User>", http.StatusBadRequest, "Invalid Input"},
		{"another user's URI", "1002", "password", "<User><state>NOT_READY</state></User>",
			http.StatusUnauthorized, "Invalid Authorization User Specified"},
		{"wrong password", "1001", "not-the-password", "<User><state>NOT_READY</state></User>",
			http.StatusUnauthorized, "Authorization Failure"},
	}
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		hc := restClient(t, a)
		agent := online(t, tr, a, "1001", "desk", 0)
		sup := online(t, tr, a, "2001", "desk", 0)
		subscribe(t, sup, teamUsersNode, bareJID(sup.JID))
		// From READY, NOT_READY would be a legal change if accepted.
		restLogin(t, hc, a, true, agent, sup)
		before := getUser(t, hc, a, "1001")

		for _, tc := range cases {
			rid := "refused-" + tr.name
			ans := restCall(t, hc, a, http.MethodPut, tc.caller, tc.password, userNode("1001", ""), tc.body, rid)
			if ans.status != tc.status {
				t.Errorf("%s: status %d, want %d: %s", tc.name, ans.status, tc.status, ans.body)
			}
			if got := apiErrorType(t, tc.name, ans); got != tc.errType {
				t.Errorf("%s: ErrorType %q, want %q", tc.name, got, tc.errType)
			}
			if got := echoedRequestID(ans); got != rid {
				t.Errorf("%s: requestId header %q, want %q", tc.name, got, rid)
			}
			if after := getUser(t, hc, a, "1001"); after != before {
				t.Errorf("%s changed the user:\n%s\nto\n%s", tc.name, before, after)
			}
			expectNoPubsubEvent(t, agent, tc.name)
			expectNoPubsubEvent(t, sup, tc.name)
		}
	})
}
