package iproc

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

func lunch(f *fixture) *directory.ReasonCode {
	rc, _ := f.dir.ReasonCode(1)
	return &rc
}

func TestTeamStatusStream(t *testing.T) {
	f := newFixture(t)
	f.agents.set("1001", agent.StateReady, nil)
	f.agents.set("1002", agent.StateNotReady, lunch(f))
	f.agents.set("1003", agent.StateReady, nil)
	c := f.dial(t)
	c.login("1001")

	c.sendRaw(`{"command":"report.teamstatus.begin","data":{"agentId":"1001"}}`)
	if got, want := c.readRaw(), `{"command":"report.teamstatus.begin","result":"success","data":{}}`; got != want {
		t.Errorf("begin\n got %s\nwant %s", got, want)
	}
	want := `{"name":"report.teamstatus.teamadded","data":{"agentId":"1001","team":{"teamId":"1","teamName":"Team A","members":[` +
		`{"memberId":"1001","memberType":"Agent","memberName":"Ann Archer","status":"ready","reason":""},` +
		`{"memberId":"1002","memberType":"Agent","memberName":"Bob Baker","status":"not_ready","reason":"7"},` +
		`{"memberId":"2001","memberType":"Supervisor","memberName":"Sue Boss","status":"not_ready","reason":""}]}}}`
	if got := c.readRaw(); got != want {
		t.Errorf("teamadded\n got %s\nwant %s", got, want)
	}

	// Each change of a member, in order; a change in another team is not
	// sent.
	f.agents.set("1002", agent.StateReady, nil)
	f.agents.set("1003", agent.StateNotReady, nil)
	f.agents.set("1001", agent.StateTalking, nil)
	f.agents.set("1001", agent.StateWork, nil)
	f.agents.set("2001", agent.StateLogout, nil)
	f.agents.set("1002", agent.StateNotReady, lunch(f))
	changes := []string{
		`{"memberId":"1002","memberType":"Agent","memberName":"Bob Baker","status":"ready","reason":""}`,
		`{"memberId":"1001","memberType":"Agent","memberName":"Ann Archer","status":"talking","reason":""}`,
		`{"memberId":"1001","memberType":"Agent","memberName":"Ann Archer","status":"ACW","reason":""}`,
		`{"memberId":"2001","memberType":"Supervisor","memberName":"Sue Boss","status":"not_ready","reason":""}`,
		`{"memberId":"1002","memberType":"Agent","memberName":"Bob Baker","status":"not_ready","reason":"7"}`,
	}
	for _, m := range changes {
		want := `{"name":"report.teamstatus.memberstatuschanged","data":{"agentId":"1001","team":{"teamId":"1","teamName":"Team A","members":[` + m + `]}}}`
		if got := c.readRaw(); got != want {
			t.Errorf("change\n got %s\nwant %s", got, want)
		}
	}
	c.sync()

	// end stops the stream.
	c.sendRaw(`{"command":"report.teamstatus.end","data":{"agentId":"1001"}}`)
	if got, want := c.readRaw(), `{"command":"report.teamstatus.end","result":"success","data":{}}`; got != want {
		t.Errorf("end\n got %s\nwant %s", got, want)
	}
	f.agents.set("1002", agent.StateReady, nil)
	c.sync()
	if got := metricValue(t, f.reg, "finesse_notify_iproc_team_status_streams"); got != 0 {
		t.Errorf("streams = %v after end, want 0", got)
	}
	end := `{"command":"report.teamstatus.end","data":{"agentId":"1001"}}`
	checkFailure(t, c.call(end), cmdTeamStatusEnd, codeNoStream, end)
}

func TestTeamStatusWhoMayFollow(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxStreams = 2 })
	agentConn := f.dial(t)
	agentConn.login("1001")
	for _, tc := range []struct{ agentID, code string }{
		{"9999", codeUnknownAgent},
		{"1003", codeForbidden}, // another team
		{"admin", codeForbidden},
	} {
		req := `{"command":"report.teamstatus.begin","data":{"agentId":"` + tc.agentID + `"}}`
		checkFailure(t, agentConn.call(req), cmdTeamStatusBegin, tc.code, req)
	}
	// A team mate's id shows the same team; the id matches in any case.
	ev := agentConn.begin("1002")
	if path(ev, "data.agentId") != "1002" || path(ev, "data.team.teamId") != "1" {
		t.Errorf("teamadded for 1002: %v", ev)
	}

	// A supervisor follows the teams it supervises; a connection has at
	// most MaxStreams streams, and a second begin for the same agent
	// restarts its stream instead of adding one.
	sup := f.dial(t)
	sup.login("2001")
	sup.begin("1001")
	ev = sup.begin("1003")
	if path(ev, "data.team.teamName") != "Team B" {
		t.Errorf("supervisor's teamadded for 1003: %v", ev)
	}
	sup.begin("1003")
	req := `{"command":"report.teamstatus.begin","data":{"agentId":"2001"}}`
	checkFailure(t, sup.call(req), cmdTeamStatusBegin, codeTooManyStreams, req)
	if got := metricValue(t, f.reg, "finesse_notify_iproc_team_status_streams"); got != 3 {
		t.Errorf("streams = %v, want 3", got)
	}
	f.agents.set("1003", agent.StateReady, nil)
	if ev := sup.read(); ev["name"] != evMemberStatusChanged || path(ev, "data.agentId") != "1003" {
		t.Errorf("restarted stream: %v", ev)
	}
	sup.sync() // once, not twice

	// An administrator follows any team but has none of its own.
	admin := f.dial(t)
	admin.login("admin")
	admin.begin("1003")
	req = `{"command":"report.teamstatus.begin","data":{"agentId":"admin"}}`
	checkFailure(t, admin.call(req), cmdTeamStatusBegin, codeNotInTeam, req)
}

// An event is rendered once for all the streams that show it.
func TestTeamStatusRenderedOnce(t *testing.T) {
	f := newFixture(t)
	var clients []*client
	for _, id := range []string{"1001", "1002", "2001"} {
		c := f.dial(t)
		c.login(id)
		c.begin(id)
		clients = append(clients, c)
	}
	f.agents.set("1001", agent.StateReady, nil)
	for i, c := range clients {
		got := c.readRaw()
		want := `{"name":"report.teamstatus.memberstatuschanged","data":{"agentId":"` + []string{"1001", "1002", "2001"}[i] +
			`","team":{"teamId":"1","teamName":"Team A","members":[{"memberId":"1001","memberType":"Agent","memberName":"Ann Archer","status":"ready","reason":""}]}}}`
		if got != want {
			t.Errorf("stream %d\n got %s\nwant %s", i, got, want)
		}
	}
	if got := metricValue(t, f.reg, "finesse_notify_iproc_events_rendered_total", "name", evMemberStatusChanged); got != 1 {
		t.Errorf("memberstatuschanged rendered %v times, want once", got)
	}
	if got := metricValue(t, f.reg, "finesse_notify_iproc_events_queued_total", "name", evMemberStatusChanged); got != 3 {
		t.Errorf("memberstatuschanged queued %v times, want 3", got)
	}
}

func TestTeamStatusDirectoryChanges(t *testing.T) {
	f := newFixture(t)
	f.agents.set("1004", agent.StateReady, nil)
	a := f.dial(t) // follows team 1
	a.login("1001")
	a.begin("1001")
	b := f.dial(t) // follows team 2
	b.login("1003")
	b.begin("1003")

	// Team 1 renamed, 1002 leaves the directory, 1004 joins team 1, and
	// 2001's name changes.
	d2 := parseDirectory(t, `
teams: [{id: 1, name: Team Alpha}, {id: 2, name: Team B}]
users:
  - {id: "1001", password: pw1001, firstName: Ann, lastName: Archer, role: Agent, team: 1}
  - {id: "2001", password: pw2001, firstName: Susan, lastName: Boss, role: Supervisor, team: 1, supervises: [1, 2]}
  - {id: "1003", password: pw1003, firstName: Cat, lastName: Cole, role: Agent, team: 2}
  - {id: "1004", password: pw1004, firstName: Dan, lastName: Drake, role: Agent, team: 1}
`)
	f.svc.DirectoryChanged(f.dir, d2)
	for _, want := range []string{
		`{"name":"report.teamstatus.teamchanged","data":{"agentId":"1001","team":{"teamId":"1","teamName":"Team Alpha"}}}`,
		`{"name":"report.teamstatus.memberremoved","data":{"agentId":"1001","team":{"teamId":"1","teamName":"Team Alpha","members":[{"memberId":"1002"},{"memberId":"2001"}]}}}`,
		`{"name":"report.teamstatus.memberadded","data":{"agentId":"1001","team":{"teamId":"1","teamName":"Team Alpha","members":[` +
			`{"memberId":"2001","memberType":"Supervisor","memberName":"Susan Boss","status":"not_ready","reason":""},` +
			`{"memberId":"1004","memberType":"Agent","memberName":"Dan Drake","status":"ready","reason":""}]}}}`,
	} {
		if got := a.readRaw(); got != want {
			t.Errorf("reload 1\n got %s\nwant %s", got, want)
		}
	}
	a.sync()
	b.sync() // team 2 did not change

	// Later changes follow the new directory: 1004 is a member, 1002 not.
	f.agents.set("1002", agent.StateReady, nil)
	f.agents.set("1004", agent.StateNotReady, nil)
	if ev := a.read(); path(ev, "data.team.members") == nil || fmt.Sprint(path(ev, "data.team.teamName")) != "Team Alpha" ||
		!strings.Contains(fmt.Sprint(path(ev, "data.team.members")), "1004") {
		t.Errorf("change after reload: %v, want 1004's in Team Alpha", ev)
	}
	a.sync()

	// 1003 moves to team 1: its stream leaves team 2 and joins team 1,
	// whose other stream sees a member added.
	d3 := parseDirectory(t, strings.Replace(`
teams: [{id: 1, name: Team Alpha}, {id: 2, name: Team B}]
users:
  - {id: "1001", password: pw1001, firstName: Ann, lastName: Archer, role: Agent, team: 1}
  - {id: "2001", password: pw2001, firstName: Susan, lastName: Boss, role: Supervisor, team: 1, supervises: [1, 2]}
  - {id: "1003", password: pw1003, firstName: Cat, lastName: Cole, role: Agent, team: 2}
  - {id: "1004", password: pw1004, firstName: Dan, lastName: Drake, role: Agent, team: 1}
`, `role: Agent, team: 2}`, `role: Agent, team: 1}`, 1))
	f.svc.DirectoryChanged(d2, d3)
	for _, want := range []string{
		`{"name":"report.teamstatus.teamremoved","data":{"agentId":"1003","team":{"teamId":"2","teamName":"Team B"}}}`,
		`{"name":"report.teamstatus.teamadded","data":{"agentId":"1003","team":{"teamId":"1","teamName":"Team Alpha","members":[` +
			`{"memberId":"1001","memberType":"Agent","memberName":"Ann Archer","status":"not_ready","reason":""},` +
			`{"memberId":"2001","memberType":"Supervisor","memberName":"Susan Boss","status":"not_ready","reason":""},` +
			`{"memberId":"1003","memberType":"Agent","memberName":"Cat Cole","status":"not_ready","reason":""},` +
			`{"memberId":"1004","memberType":"Agent","memberName":"Dan Drake","status":"not_ready","reason":""}]}}}`,
	} {
		if got := b.readRaw(); got != want {
			t.Errorf("reload 2, moved stream\n got %s\nwant %s", got, want)
		}
	}
	if ev := a.read(); ev["name"] != evMemberAdded || !jsonEqual(path(ev, "data.team.members"), []any{map[string]any{
		"memberId": "1003", "memberType": "Agent", "memberName": "Cat Cole", "status": "not_ready", "reason": ""}}) {
		t.Errorf("reload 2, team 1: %v, want memberadded 1003", ev)
	}
	a.sync()
	b.sync()

	// 1003 leaves the directory: teamremoved for its stream, which stays
	// (and hears nothing), memberremoved for team 1's.
	d4 := parseDirectory(t, `
teams: [{id: 1, name: Team Alpha}]
users:
  - {id: "1001", password: pw1001, firstName: Ann, lastName: Archer, role: Agent, team: 1}
  - {id: "2001", password: pw2001, firstName: Susan, lastName: Boss, role: Supervisor, team: 1, supervises: [1]}
  - {id: "1004", password: pw1004, firstName: Dan, lastName: Drake, role: Agent, team: 1}
`)
	f.svc.DirectoryChanged(d3, d4)
	if got, want := b.readRaw(), `{"name":"report.teamstatus.teamremoved","data":{"agentId":"1003","team":{"teamId":"1","teamName":"Team Alpha"}}}`; got != want {
		t.Errorf("reload 3, removed agent\n got %s\nwant %s", got, want)
	}
	if got, want := a.readRaw(), `{"name":"report.teamstatus.memberremoved","data":{"agentId":"1001","team":{"teamId":"1","teamName":"Team Alpha","members":[{"memberId":"1003"}]}}}`; got != want {
		t.Errorf("reload 3, team 1\n got %s\nwant %s", got, want)
	}
	f.agents.set("1001", agent.StateReady, nil)
	if ev := a.read(); ev["name"] != evMemberStatusChanged {
		t.Errorf("after reload 3: %v", ev)
	}
	a.sync()
	b.sync()

	// The same directory again changes nothing.
	f.svc.DirectoryChanged(d4, d4)
	a.sync()
	// New sessions authenticate against the newest directory.
	c := f.dial(t)
	req := `{"command":"prepareSession","data":{"agent":{"id":"1002","password":"pw1002"}}}`
	checkFailure(t, c.call(req), cmdPrepareSession, codeInvalidCredentials, req)
}

// State changes racing stream begins and reloads: every stream sees its
// member list first and then the changes in order, so that the last
// status it has for each member is the member's final state. The fake
// registry calls back with its lock held, as the real one does: a lock
// order mistake deadlocks here.
func TestTeamStatusConcurrentChanges(t *testing.T) {
	// The client reads only at the end: the queue holds everything.
	f := newFixture(t, func(c *Config) { c.SendQueue = 5000 })
	d2 := parseDirectory(t, strings.Replace(testDirectory, "Team A", "Team A2", 1))
	c := f.dial(t)
	c.login("2001")

	states := []agent.State{agent.StateReady, agent.StateNotReady, agent.StateTalking, agent.StateWork}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, id := range []string{"1001", "1002"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				f.agents.set(id, states[i%len(states)], nil)
				if i == 400 {
					return
				}
			}
		}()
	}
	for i := range 10 {
		c.sendRaw(`{"command":"report.teamstatus.begin","data":{"agentId":"1001"}}`)
		if i%2 == 0 {
			f.svc.DirectoryChanged(f.dir, d2)
		} else {
			f.svc.DirectoryChanged(d2, f.dir)
		}
	}
	wg.Wait()
	close(stop)
	f.agents.set("1001", agent.StateReady, nil)
	f.agents.set("1002", agent.StateWorkReady, nil)
	c.sendRaw(`{"command":"getServiceDescriptor"}`)

	last := map[string]string{}
	begins, listed := 0, false
	for {
		m := c.read()
		if m["command"] == cmdGetServiceDescriptor {
			break
		}
		if m["command"] == cmdTeamStatusBegin {
			begins++
			if m["result"] != resultSuccess {
				t.Fatalf("begin: %v", m)
			}
			listed = false // a restarted stream: its list comes next
			continue
		}
		switch m["name"] {
		case evTeamAdded:
			listed = true
			last = map[string]string{}
		case evMemberStatusChanged:
			if !listed {
				t.Fatalf("memberstatuschanged before teamadded: %v", m)
			}
		}
		members, _ := path(m, "data.team.members").([]any)
		for _, x := range members {
			mm := x.(map[string]any)
			if s, ok := mm["status"].(string); ok {
				last[mm["memberId"].(string)] = s
			}
		}
	}
	if begins != 10 {
		t.Errorf("%d begin answers, want 10", begins)
	}
	if last["1001"] != "ready" || last["1002"] != "ACW" {
		t.Errorf("final statuses %v, want 1001 ready and 1002 ACW", last)
	}
}
