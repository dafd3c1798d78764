package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/finesse-notify/finesse-notify/app"
)

// ipConn is a client of the Interaction Processor service.
type ipConn struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialIP(t *testing.T, a *app.App) *ipConn {
	t.Helper()
	d := websocket.Dialer{TLSClientConfig: tlsConfig(t, a), HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial("wss://"+a.Addr(app.ListenerREST)+app.InteractionProcessorPath, nil)
	if err != nil {
		t.Fatalf("dial the Interaction Processor: %v", err)
	}
	resp.Body.Close()
	t.Cleanup(func() { ws.Close() })
	c := &ipConn{t: t, ws: ws}
	if ev := c.next(); ev["name"] != "service.descriptor" {
		t.Fatalf("first message %v, want the service.descriptor event", ev)
	}
	return c
}

func (c *ipConn) send(command string, data map[string]any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(map[string]any{"command": command, "data": data}); err != nil {
		c.t.Fatal(err)
	}
}

// next reads one message, waiting at most 5 s.
func (c *ipConn) next() map[string]any {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m map[string]any
	if err := c.ws.ReadJSON(&m); err != nil {
		c.t.Fatalf("reading from the Interaction Processor: %v", err)
	}
	return m
}

// call sends a request and returns its response, which must come next.
func (c *ipConn) call(command string, data map[string]any) map[string]any {
	c.t.Helper()
	c.send(command, data)
	m := c.next()
	if m["command"] != command {
		c.t.Fatalf("%s answered %v", command, m)
	}
	return m
}

// event reads the next message and checks it is the named event; it
// returns the event's team.
func (c *ipConn) event(name string) map[string]any {
	c.t.Helper()
	m := c.next()
	if m["name"] != name {
		c.t.Fatalf("got %v, want the %s event", m, name)
	}
	data, _ := m["data"].(map[string]any)
	team, _ := data["team"].(map[string]any)
	return team
}

// members lists a team's members as id → status.
func members(team map[string]any) map[string]string {
	out := map[string]string{}
	list, _ := team["members"].([]any)
	for _, m := range list {
		mm, _ := m.(map[string]any)
		id, _ := mm["memberId"].(string)
		status, _ := mm["status"].(string)
		out[id] = status
	}
	return out
}

func prepare(agentID string, override bool) map[string]any {
	return map[string]any{"model": "uccx", "override": override, "agent": map[string]any{"id": agentID, "password": "password"}}
}

// TestInteractionProcessorFollowsTheTeam: a team status stream on the real
// server sees REST state changes as memberstatuschanged, in order, and a
// directory reload as memberremoved and memberadded.
func TestInteractionProcessorFollowsTheTeam(t *testing.T) {
	dirFile := filepath.Join(t.TempDir(), "directory.yaml")
	write := func(users string) {
		t.Helper()
		src := "teams: [{id: 1, name: Team A}]\n" +
			"reasonCodes: [{id: 3, category: NOT_READY, code: 12, label: Lunch, forAll: true}]\nusers:\n" + users +
			"  - {id: admin, password: password, role: Administrator}\n"
		must(t, os.WriteFile(dirFile, []byte(src), 0o600))
	}
	write("  - {id: '1001', password: password, firstName: Alice, lastName: Adams, role: Agent, team: 1, extension: '3001'}\n" +
		"  - {id: '1002', password: password, firstName: Bob, lastName: Brown, role: Agent, team: 1, extension: '3002'}\n")
	a := startApp(t, func(c *app.Config) { c.DirectoryFile = dirFile })
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig(t, a)}}

	ip := dialIP(t, a)
	if r := ip.call("prepareSession", prepare("1001", false)); r["result"] != "success" {
		t.Fatalf("prepareSession: %v", r)
	}
	if r := ip.call("report.teamstatus.begin", map[string]any{"agentId": "1001"}); r["result"] != "success" {
		t.Fatalf("report.teamstatus.begin: %v", r)
	}
	team := ip.event("report.teamstatus.teamadded")
	if got := members(team); len(got) != 2 || got["1001"] != "not_ready" || got["1002"] != "not_ready" {
		t.Errorf("teamadded members %v, want 1001 and 1002 not_ready", got)
	}

	putUserState(t, hc, a, "1002", "1002", "<state>LOGIN</state><extension>3002</extension>", "ip-login")
	putUserState(t, hc, a, "1002", "1002", "<state>READY</state>", "ip-ready")
	putUserState(t, hc, a, "1002", "1002", "<state>NOT_READY</state><reasonCodeId>3</reasonCodeId>", "ip-lunch")
	for i, want := range []string{"not_ready", "ready", "not_ready"} {
		got := members(ip.event("report.teamstatus.memberstatuschanged"))
		if len(got) != 1 || got["1002"] != want {
			t.Errorf("change %d: members %v, want 1002 %s", i+1, got, want)
		}
	}

	write("  - {id: '1001', password: password, firstName: Alice, lastName: Adams, role: Agent, team: 1, extension: '3001'}\n" +
		"  - {id: '1003', password: password, firstName: Carol, lastName: Chen, role: Agent, team: 1, extension: '3003'}\n")
	// The administrator's reload call, as SIGHUP would.
	ans := restCall(t, hc, a, http.MethodPost, "admin", "password", "/finesse-notify/control/directory/reload", "", "")
	if want := "<directoryReloaded users='3' teams='1' added='1' removed='1'/>"; ans.status != http.StatusOK || ans.body != want {
		t.Fatalf("reload: %d %s, want 200 %s", ans.status, ans.body, want)
	}
	if got := members(ip.event("report.teamstatus.memberremoved")); len(got) != 1 || got["1002"] != "" {
		t.Errorf("memberremoved members %v, want 1002", got)
	}
	if got := members(ip.event("report.teamstatus.memberadded")); len(got) != 1 || got["1003"] != "not_ready" {
		t.Errorf("memberadded members %v, want 1003 not_ready", got)
	}

	// The added user has an agent state: its REST change reaches the stream.
	putUserState(t, hc, a, "1003", "1003", "<state>LOGIN</state><extension>3003</extension>", "ip-added")
	if got := members(ip.event("report.teamstatus.memberstatuschanged")); len(got) != 1 || got["1003"] != "not_ready" {
		t.Errorf("after the added user's LOGIN: members %v, want 1003 not_ready", got)
	}
	// A removed user is gone from the REST API too.
	if ans := restCall(t, hc, a, http.MethodGet, "admin", "password", "/finesse/api/User/1002", "", ""); ans.status != http.StatusNotFound {
		t.Errorf("GET the removed user: %d, want 404", ans.status)
	}

	if r := ip.call("report.teamstatus.end", map[string]any{"agentId": "1001"}); r["result"] != "success" {
		t.Errorf("report.teamstatus.end: %v", r)
	}
}

// TestInteractionProcessorSessionOverride: a second connection preparing a
// session for the same agent is asked to confirm, and with override the
// first connection's session is destroyed.
func TestInteractionProcessorSessionOverride(t *testing.T) {
	a := startApp(t, nil)
	first, second := dialIP(t, a), dialIP(t, a)
	if r := first.call("prepareSession", prepare("1001", false)); r["result"] != "success" {
		t.Fatalf("first prepareSession: %v", r)
	}
	r := second.call("prepareSession", prepare("1001", false))
	if r["result"] != "confirm" || r["message"] == "" || r["original"] == nil {
		t.Fatalf("second prepareSession without override: %v, want confirm with a message and the original", r)
	}
	original, _ := json.Marshal(r["original"])
	if want, _ := json.Marshal(map[string]any{"command": "prepareSession", "data": prepare("1001", false)}); string(original) != string(want) {
		t.Errorf("original %s, want %s", original, want)
	}
	if r := second.call("prepareSession", prepare("1001", true)); r["result"] != "success" {
		t.Fatalf("second prepareSession with override: %v", r)
	}
	if ev := first.next(); ev["name"] != "session.destroyed" {
		t.Errorf("the first connection got %v, want session.destroyed", ev)
	}
	if r := second.call("prepareSession", map[string]any{"model": "uccx", "override": false,
		"agent": map[string]any{"id": "1002", "password": "wrong"}}); r["result"] != "failure" {
		t.Errorf("prepareSession with a wrong password: %v", r)
	}
}

// TestDirectoryReloadRefusals: the reload call is for administrators, and
// without a --directory file there is nothing to reload.
func TestDirectoryReloadRefusals(t *testing.T) {
	a := startApp(t, nil)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig(t, a)}}
	if ans := restCall(t, hc, a, http.MethodPost, "1001", "password", "/finesse-notify/control/directory/reload", "", ""); ans.status != http.StatusForbidden {
		t.Errorf("an agent's reload: %d %s, want 403", ans.status, ans.body)
	}
	if ans := restCall(t, hc, a, http.MethodPost, "admin", "password", "/finesse-notify/control/directory/reload", "", ""); ans.status != http.StatusConflict {
		t.Errorf("reload without a directory file: %d %s, want 409", ans.status, ans.body)
	}
}
