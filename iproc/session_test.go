package iproc

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
)

func TestPrepareSessionConfirmAndOverride(t *testing.T) {
	f := newFixture(t)
	a := f.dial(t)
	firstID := a.login("1001")
	a.begin("1001")

	// Another connection, same agent (another case), no override: confirm,
	// with a prompt and the request; the first session is untouched.
	b := f.dial(t)
	ask := `{"command":"prepareSession","data":{"model":"uccx","override":false,"agent":{"id":"1001","password":"pw1001"}}}`
	r := b.call(ask)
	if r["result"] != resultConfirm || r["command"] != cmdPrepareSession {
		t.Fatalf("second prepareSession: %v, want confirm", r)
	}
	msg, _ := r["message"].(string)
	if !strings.Contains(msg, "1001") || !strings.Contains(msg, "2025-03-04T05:06:07Z") || !strings.Contains(msg, `"override": true`) {
		t.Errorf("confirm message %q: want the agent, when the session was prepared and how to override", msg)
	}
	if !jsonEqual(r["original"], b.parse(ask)) {
		t.Errorf("confirm original = %v, want the request", r["original"])
	}
	if _, has := r["failure"]; has {
		t.Errorf("confirm with a failure: %v", r)
	}
	// Wrong credentials never get as far as the confirm.
	wrong := `{"command":"prepareSession","data":{"override":true,"agent":{"id":"1001","password":"pw1002"}}}`
	checkFailure(t, b.call(wrong), cmdPrepareSession, codeInvalidCredentials, wrong)
	a.sync()
	f.agents.set("1002", agent.StateReady, nil)
	if ev := a.read(); ev["name"] != evMemberStatusChanged {
		t.Fatalf("the first session's stream: %v, want memberstatuschanged", ev)
	}

	// With override the first session is destroyed: its connection gets
	// session.destroyed, then a close frame, and nothing of its stream.
	override := `{"command":"prepareSession","data":{"model":"uccx","override":true,"agent":{"id":"1001","password":"pw1001"}}}`
	r = b.call(override)
	secondID, _ := path(r, "resource.id").(string)
	if r["result"] != resultSuccess || secondID == "" || secondID == firstID {
		t.Fatalf("override: %v, want success with a new resource", r)
	}
	if !jsonEqual(path(r, "resource.data"), path(b.parse(override), "data")) {
		t.Errorf("resource data = %v, want the request's data", path(r, "resource.data"))
	}
	f.agents.set("1002", agent.StateNotReady, nil) // a's stream has ended: not sent
	want := `{"name":"session.destroyed","data":{"id":"` + firstID +
		`","agentId":"1001","reason":"override","message":"another connection prepared a session for agent 1001 with override"}}`
	if got := a.readRaw(); got != want {
		t.Errorf("destroyed session\n got %s\nwant %s", got, want)
	}
	if ce := a.expectClose(); ce.Code != websocket.CloseNormalClosure || ce.Text != "session destroyed" {
		t.Errorf("close %d %q, want 1000 session destroyed", ce.Code, ce.Text)
	}
	if got := metricValue(t, f.reg, "finesse_notify_iproc_sessions_destroyed_total"); got != 1 {
		t.Errorf("sessions destroyed = %v, want 1", got)
	}

	// The new session works, and a third connection now meets it.
	if r := b.call(`{"command":"getCapabilities","data":{}}`); r["result"] != resultSuccess {
		t.Errorf("getCapabilities on the new session: %v", r)
	}
	c := f.dial(t)
	if r := c.call(ask); r["result"] != resultConfirm {
		t.Errorf("third connection: %v, want confirm", r)
	}
	// Another agent is no conflict.
	c.login("1002")
}

func TestSessionEndsWithItsConnection(t *testing.T) {
	f := newFixture(t)
	a := f.dial(t)
	a.login("1001")
	a.begin("1001")
	ac := f.onlyConn(t)
	if err := a.c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")); err != nil {
		t.Fatal(err)
	}
	if ce := a.expectClose(); ce.Code != websocket.CloseNormalClosure {
		t.Errorf("close answered with %d", ce.Code)
	}
	// Once a's connection is gone (its writer ends after the session and
	// streams are forgotten) the agent prepares without a confirm.
	waitFor(t, ac.writerDone)
	b := f.dial(t)
	b.login("1001")
	if got := metricValue(t, f.reg, "finesse_notify_iproc_team_status_streams"); got != 0 {
		t.Errorf("streams = %v after the connection ended, want 0", got)
	}
}
