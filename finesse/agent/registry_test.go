package agent

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/finesse-notify/finesse-notify/finesse"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/pubsub"
)

// The byte-exact tests build the expected Updates from these parts of
// agent 1001 of the default directory.
const (
	user1001Head = `<dialogs>/finesse/api/User/1001/Dialogs</dialogs><extension>3001</extension>` +
		`<firstName>Alice</firstName><lastName>Adams</lastName><loginId>1001</loginId><loginName>1001</loginName>`
	user1001Tail = `<teamId>1</teamId><teamName>Team A</teamName><uri>/finesse/api/User/1001</uri>`
	agentRoles   = `<roles><role>Agent</role></roles><settings><wrapUpOnIncoming>OPTIONAL</wrapUpOnIncoming></settings>`
	team1001Head = `<uri>/finesse/api/User/1001</uri><loginId>1001</loginId><firstName>Alice</firstName>` +
		`<lastName>Adams</lastName><dialogs>/finesse/api/User/1001/Dialogs</dialogs><extension>3001</extension>`
	lunch = `<ReasonCode><category>NOT_READY</category><code>12</code><forAll>true</forAll><id>3</id>` +
		`<label>Lunch</label><uri>/finesse/api/ReasonCode/3</uri></ReasonCode>`
)

func TestSetStateReadyPublishesUserAndTeam(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.login(t, "1001")
	f.clock.Set(fixedTime.Add(1234 * time.Millisecond))
	n := f.pub.len()
	f.must(t, "1001", StateRequest{State: StateReady, RequestID: "r-1"})

	got := f.pub.since(n)
	if len(got) != 2 {
		t.Fatalf("published %d notifications, want 2 (user, team): %v", len(got), got)
	}
	wantUser := `<Update><data><user>` + user1001Head + `<pendingState></pendingState>` + agentRoles +
		`<state>READY</state><stateChangeTime>2024-05-01T10:00:01.234Z</stateChangeTime>` + user1001Tail +
		`</user></data><event>PUT</event><requestId>r-1</requestId><source>/finesse/api/User/1001</source></Update>`
	if got[0].node != "/finesse/api/User/1001" || string(got[0].update.Render()) != wantUser {
		t.Errorf("user notification on %s:\n%s\nwant on /finesse/api/User/1001:\n%s", got[0].node, got[0].update.Render(), wantUser)
	}
	wantTeam := `<Update><data><user>` + team1001Head + `<pendingState></pendingState><state>READY</state>` +
		`<stateChangeTime>2024-05-01T10:00:01.234Z</stateChangeTime></user></data><event>PUT</event>` +
		`<requestId>r-1</requestId><source>/finesse/api/User/1001</source></Update>`
	if got[1].node != "/finesse/api/Team/1/Users" || string(got[1].update.Render()) != wantTeam {
		t.Errorf("team notification on %s:\n%s\nwant on /finesse/api/Team/1/Users:\n%s", got[1].node, got[1].update.Render(), wantTeam)
	}
}

func TestSetStateNotReadyWithReasonCode(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.login(t, "1001")
	f.must(t, "1001", StateRequest{State: StateReady})
	f.clock.Set(fixedTime.Add(2500 * time.Millisecond))
	n := f.pub.len()
	f.must(t, "1001", StateRequest{State: StateNotReady, ReasonCodeID: 3, HasReasonCode: true, RequestID: "r-2"})

	got := f.pub.since(n)
	if len(got) != 2 {
		t.Fatalf("published %d notifications, want 2: %v", len(got), got)
	}
	wantUser := `<Update><data><user>` + user1001Head + `<pendingState></pendingState>` + lunch +
		`<reasonCodeId>3</reasonCodeId>` + agentRoles +
		`<state>NOT_READY</state><stateChangeTime>2024-05-01T10:00:02.500Z</stateChangeTime>` + user1001Tail +
		`</user></data><event>PUT</event><requestId>r-2</requestId><source>/finesse/api/User/1001</source></Update>`
	if string(got[0].update.Render()) != wantUser {
		t.Errorf("user notification:\n%s\nwant:\n%s", got[0].update.Render(), wantUser)
	}
	wantTeam := `<Update><data><user>` + team1001Head + `<pendingState></pendingState><state>NOT_READY</state>` +
		`<stateChangeTime>2024-05-01T10:00:02.500Z</stateChangeTime>` + lunch + `</user></data><event>PUT</event>` +
		`<requestId>r-2</requestId><source>/finesse/api/User/1001</source></Update>`
	if got[1].node != "/finesse/api/Team/1/Users" || string(got[1].update.Render()) != wantTeam {
		t.Errorf("team notification:\n%s\nwant:\n%s", got[1].update.Render(), wantTeam)
	}
	if s, rc := f.state(t, "1001"); s != StateNotReady || rc != 3 {
		t.Errorf("state %s reason %d, want NOT_READY 3", s, rc)
	}
}

func TestLoginLandsInNotReadyAndReloginKeepsState(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.must(t, "1001", StateRequest{State: StateLogin, Extension: "+4930", RequestID: "l-1"})
	got := f.pub.all()
	if len(got) != 2 || field(got[0].update.Data, "state") != "NOT_READY" ||
		field(got[0].update.Data, "extension") != "+4930" || got[0].update.RequestID != "l-1" ||
		got[1].update.RequestID != "l-1" {
		t.Fatalf("LOGIN published %v", got)
	}
	f.must(t, "1001", StateRequest{State: StateReady})
	f.clock.Set(fixedTime.Add(time.Hour))
	n := f.pub.len()
	f.must(t, "1001", StateRequest{State: StateLogin, Extension: "3001", RequestID: "l-2"})
	again := f.pub.since(n)
	if len(again) != 2 {
		t.Fatalf("second LOGIN published %d notifications, want 2", len(again))
	}
	if s := field(again[0].update.Data, "state"); s != "READY" {
		t.Errorf("second LOGIN: state %s, want READY kept", s)
	}
	if ts := field(again[0].update.Data, "stateChangeTime"); ts != "2024-05-01T10:00:00.000Z" {
		t.Errorf("second LOGIN moved stateChangeTime to %s", ts)
	}
	if ext := field(again[0].update.Data, "extension"); ext != "+4930" {
		t.Errorf("second LOGIN changed the extension to %s", ext)
	}
}

// teamDirectory has two teams, a reason code offered to team 1 only, and
// no system codes, for the cases the default directory cannot show.
const teamDirectory = `
teams: [{id: 1, name: Team A}, {id: 2, name: Team B}]
users:
  - {id: "1001", password: p, role: Agent, team: 1, extension: "3001"}
  - {id: "2002", password: p, role: Agent, team: 2, extension: "4002"}
  - {id: "2001", password: p, role: Supervisor, team: 1, supervises: [1]}
  - {id: admin,  password: p, role: Administrator}
reasonCodes:
  - {id: 1, category: NOT_READY, code: 10, label: Meeting,  forAll: true}
  - {id: 5, category: NOT_READY, code: 14, label: Coaching, forAll: false, teams: [1]}
  - {id: 11, category: LOGOUT,   code: 20, label: End of Shift, forAll: true}
mediaRoutingDomains:
  - {id: 5000, name: Cisco_Chat_MRD, description: Chat MRD, interruptible: true, maxDialogLimit: 10}
`

func TestSetStateRefusals(t *testing.T) {
	cases := []struct {
		name    string
		dir     string // "" for the default directory
		id      string
		setup   []StateRequest // applied to id first, as the system would
		req     StateRequest
		status  int
		errType string
		data    string
	}{
		{name: "unknown user", id: "9999", req: StateRequest{State: StateReady}, status: 404, errType: ErrorTypeNotFound, data: "9999"},
		{name: "administrator", id: "admin", req: StateRequest{State: StateLogin, Extension: "3001"}, status: 400, errType: ErrorTypeInvalidInput, data: "state"},
		{name: "no state", id: "1001", req: StateRequest{}, status: 400, errType: ErrorTypeParameterMissing, data: "state"},
		{name: "unknown state", id: "1001", req: StateRequest{State: "BUSY"}, status: 400, errType: ErrorTypeInvalidInput, data: "state"},
		{name: "lower-case state", id: "1001", req: StateRequest{State: "ready"}, status: 400, errType: ErrorTypeInvalidInput, data: "state"},
		{name: "system state", id: "1001", req: StateRequest{State: StateTalking}, status: 400, errType: ErrorTypeInvalidInput, data: "state"},
		{name: "WORK is the system's", id: "1001", req: StateRequest{State: StateWork}, status: 400, errType: ErrorTypeInvalidInput, data: "state"},
		{name: "supervisor LOGIN", id: "1001", req: StateRequest{State: StateLogin, Extension: "3001", Actor: ActorSupervisor}, status: 400, errType: ErrorTypeInvalidInput, data: "state"},
		{name: "LOGIN without extension", id: "1001", req: StateRequest{State: StateLogin}, status: 400, errType: ErrorTypeParameterMissing, data: "extension"},
		{name: "LOGIN with a bad extension", id: "1001", req: StateRequest{State: StateLogin, Extension: "30a1"}, status: 400, errType: ErrorTypeInvalidInput, data: "extension"},
		{name: "LOGIN with markup", id: "1001", req: StateRequest{State: StateLogin, Extension: "<x/>"}, status: 400, errType: ErrorTypeInvalidInput, data: "extension"},
		{name: "READY from LOGOUT", id: "1001", req: StateRequest{State: StateReady}, status: 400, errType: ErrorTypeInvalidState, data: "state"},
		{name: "LOGOUT from LOGOUT", id: "1001", req: StateRequest{State: StateLogout}, status: 400, errType: ErrorTypeInvalidState, data: "state"},
		{name: "LOGOUT from READY", id: "1001", setup: []StateRequest{{State: StateLogin, Extension: "3001"}, {State: StateReady}},
			req: StateRequest{State: StateLogout}, status: 400, errType: ErrorTypeInvalidState, data: "state"},
		{name: "READY from READY", id: "1001", setup: []StateRequest{{State: StateLogin, Extension: "3001"}, {State: StateReady}},
			req: StateRequest{State: StateReady}, status: 400, errType: ErrorTypeInvalidState, data: "state"},
		{name: "reason code with READY", id: "1001", setup: []StateRequest{{State: StateLogin, Extension: "3001"}},
			req: StateRequest{State: StateReady, ReasonCodeID: 1, HasReasonCode: true}, status: 400, errType: ErrorTypeInvalidInput, data: "reasonCodeId"},
		{name: "reason code with LOGIN", id: "1001",
			req: StateRequest{State: StateLogin, Extension: "3001", ReasonCodeID: 1}, status: 400, errType: ErrorTypeInvalidInput, data: "reasonCodeId"},
		{name: "LOGOUT code for NOT_READY", id: "1001", setup: []StateRequest{{State: StateLogin, Extension: "3001"}},
			req: StateRequest{State: StateNotReady, ReasonCodeID: 11, HasReasonCode: true}, status: 400, errType: ErrorTypeInvalidInput, data: "reasonCodeId"},
		{name: "NOT_READY code for LOGOUT", id: "1001", setup: []StateRequest{{State: StateLogin, Extension: "3001"}},
			req: StateRequest{State: StateLogout, ReasonCodeID: 1, HasReasonCode: true}, status: 400, errType: ErrorTypeInvalidInput, data: "reasonCodeId"},
		{name: "unknown reason code", id: "1001", setup: []StateRequest{{State: StateLogin, Extension: "3001"}},
			req: StateRequest{State: StateNotReady, ReasonCodeID: 77, HasReasonCode: true}, status: 400, errType: ErrorTypeInvalidInput, data: "reasonCodeId"},
		{name: "reason code 0 given", id: "1001", setup: []StateRequest{{State: StateLogin, Extension: "3001"}},
			req: StateRequest{State: StateNotReady, HasReasonCode: true}, status: 400, errType: ErrorTypeInvalidInput, data: "reasonCodeId"},
		{name: "system code 255 chosen by the agent", id: "1001", setup: []StateRequest{{State: StateLogin, Extension: "3001"}},
			req: StateRequest{State: StateLogout, ReasonCodeID: 101, HasReasonCode: true}, status: 400, errType: ErrorTypeInvalidInput, data: "reasonCodeId"},
		{name: "code of another team", dir: teamDirectory, id: "2002", setup: []StateRequest{{State: StateLogin, Extension: "4002"}},
			req: StateRequest{State: StateNotReady, ReasonCodeID: 5, HasReasonCode: true}, status: 400, errType: ErrorTypeInvalidInput, data: "reasonCodeId"},
		{name: "supervisor with a reason code", id: "1001", setup: []StateRequest{{State: StateLogin, Extension: "3001"}, {State: StateReady}},
			req: StateRequest{State: StateNotReady, ReasonCodeID: 1, HasReasonCode: true, Actor: ActorSupervisor}, status: 400, errType: ErrorTypeInvalidInput, data: "reasonCodeId"},
		{name: "supervisor NOT_READY from NOT_READY", id: "1001", setup: []StateRequest{{State: StateLogin, Extension: "3001"}},
			req: StateRequest{State: StateNotReady, Actor: ActorSupervisor}, status: 400, errType: ErrorTypeInvalidState, data: "state"},
		{name: "agent LOGOUT during a call", id: "1001",
			setup: []StateRequest{{State: StateLogin, Extension: "3001"}, {State: StateTalking, Actor: ActorSystem}},
			req:   StateRequest{State: StateLogout}, status: 400, errType: ErrorTypeInvalidState, data: "state"},
		{name: "WORK left by LOGOUT", id: "1001",
			setup: []StateRequest{{State: StateLogin, Extension: "3001"}, {State: StateTalking, Actor: ActorSystem}, {State: StateWork, Actor: ActorSystem}},
			req:   StateRequest{State: StateLogout}, status: 400, errType: ErrorTypeInvalidState, data: "state"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var dir *directory.Directory
			if c.dir != "" {
				dir = parseDir(t, c.dir)
			}
			f := newFixture(t, dir, nil)
			for _, s := range c.setup {
				f.must(t, c.id, s)
			}
			var before []byte
			if f.r.user(c.id) != nil {
				before, _ = f.r.UserXML(c.id)
			}
			n := f.pub.len()
			err := f.r.SetState(c.id, c.req)
			if err == nil {
				t.Fatalf("SetState(%s, %+v) accepted", c.id, c.req)
			}
			if err.Status != c.status || err.Type != c.errType || err.Data != c.data || err.Message == "" {
				t.Fatalf("got %+v, want status %d type %q data %q and a message", err, c.status, c.errType, c.data)
			}
			if !strings.HasPrefix(err.Error(), "agent: ") {
				t.Errorf("Error() = %q", err.Error())
			}
			if got := f.pub.since(n); len(got) != 0 {
				t.Errorf("a refused request published %v", got)
			}
			if before != nil {
				after, _ := f.r.UserXML(c.id)
				if string(after) != string(before) {
					t.Errorf("a refused request changed the user:\n%s\nto\n%s", before, after)
				}
			}
		})
	}
}

func TestSupervisorChangesCarryCode999(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.login(t, "1001")
	f.must(t, "1001", StateRequest{State: StateReady, Actor: ActorSupervisor, RequestID: "s-1"})
	if s, rc := f.state(t, "1001"); s != StateReady || rc != 0 {
		t.Fatalf("supervisor READY: %s %d", s, rc)
	}
	f.must(t, "1001", StateRequest{State: StateNotReady, Actor: ActorSupervisor, RequestID: "s-2"})
	if s, rc := f.state(t, "1001"); s != StateNotReady || rc != 103 {
		t.Fatalf("supervisor NOT_READY: %s %d, want NOT_READY with code id 103 (code 999)", s, rc)
	}
	last := f.pub.all()
	if d := last[len(last)-2].update; field(d.Data, "code") != "999" || d.RequestID != "s-2" {
		t.Errorf("supervisor NOT_READY notification: %s", d.Render())
	}
	f.must(t, "1001", StateRequest{State: StateLogout, Actor: ActorAdministrator})
	if s, rc := f.state(t, "1001"); s != StateLogout || rc != 102 {
		t.Fatalf("administrator LOGOUT: %s %d, want LOGOUT with code id 102 (code 999)", s, rc)
	}

	// Without 999 codes in the directory the change carries no code.
	g := newFixture(t, parseDir(t, teamDirectory), nil)
	g.login(t, "1001")
	g.must(t, "1001", StateRequest{State: StateReady})
	g.must(t, "1001", StateRequest{State: StateNotReady, Actor: ActorSupervisor})
	if s, rc := g.state(t, "1001"); s != StateNotReady || rc != 0 {
		t.Fatalf("supervisor NOT_READY without a 999 code: %s %d", s, rc)
	}
}

func TestPendingStateDuringACall(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.login(t, "1001")
	f.must(t, "1001", StateRequest{State: StateReady})
	f.must(t, "1001", StateRequest{State: StateReserved, Actor: ActorSystem})
	f.must(t, "1001", StateRequest{State: StateTalking, Actor: ActorSystem})

	n := f.pub.len()
	f.must(t, "1001", StateRequest{State: StateNotReady, ReasonCodeID: 2, HasReasonCode: true, RequestID: "p-1"})
	got := f.pub.since(n)
	if len(got) != 2 || field(got[0].update.Data, "state") != "TALKING" ||
		field(got[0].update.Data, "pendingState") != "NOT_READY" || field(got[1].update.Data, "pendingState") != "NOT_READY" {
		t.Fatalf("pending NOT_READY published %v", got)
	}
	if field(got[0].update.Data, "reasonCodeId") != "" {
		t.Errorf("the pending reason shows before it applies: %s", got[0].update.Data)
	}
	// Hold and retrieve keep the pending state; the call's end applies it.
	f.must(t, "1001", StateRequest{State: StateHold, Actor: ActorSystem})
	if d := f.pub.all(); field(d[len(d)-2].update.Data, "pendingState") != "NOT_READY" {
		t.Fatalf("HOLD lost the pending state")
	}
	f.must(t, "1001", StateRequest{State: StateReady, Actor: ActorSystem})
	if s, rc := f.state(t, "1001"); s != StateNotReady || rc != 2 {
		t.Fatalf("after the call: %s %d, want NOT_READY with the pending reason 2", s, rc)
	}
	if d := f.pub.all(); field(d[len(d)-2].update.Data, "pendingState") != "" {
		t.Errorf("pending state left after it applied")
	}

	// A supervisor's LOGOUT during a call waits for its end too.
	f.must(t, "1001", StateRequest{State: StateReady})
	f.must(t, "1001", StateRequest{State: StateReserved, Actor: ActorSystem})
	f.must(t, "1001", StateRequest{State: StateTalking, Actor: ActorSystem})
	f.must(t, "1001", StateRequest{State: StateLogout, Actor: ActorSupervisor})
	if s, _ := f.state(t, "1001"); s != StateTalking {
		t.Fatalf("supervisor LOGOUT during a call: %s", s)
	}
	f.must(t, "1001", StateRequest{State: StateWorkReady, Actor: ActorSystem})
	if s, rc := f.state(t, "1001"); s != StateLogout || rc != 102 {
		t.Fatalf("after the call: %s %d, want LOGOUT with code id 102", s, rc)
	}
}

func TestSystemReasonCodes(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.login(t, "1001")
	f.must(t, "1001", StateRequest{State: StateReady})
	// RONA: the system may use a system code the agent cannot choose.
	f.must(t, "1001", StateRequest{State: StateNotReady, ReasonCodeID: 104, Actor: ActorSystem})
	if s, rc := f.state(t, "1001"); s != StateNotReady || rc != 104 {
		t.Fatalf("RONA: %s %d", s, rc)
	}
	if err := f.r.SetState("1001", StateRequest{State: StateLogout, ReasonCodeID: 104, Actor: ActorSystem}); err == nil || err.Data != "reasonCodeId" {
		t.Fatalf("system LOGOUT with a NOT_READY code: %v", err)
	}
}

// TestNotificationOrderUnderConcurrency has goroutines toggle one agent
// between READY and NOT_READY. The clock ticks once per call, and it is
// read while the change is applied, so the published stateChangeTimes
// must rise in publication order, on the user node and on the team node
// alike, and the published states must form a legal sequence.
func TestNotificationOrderUnderConcurrency(t *testing.T) {
	var tick atomic.Int64
	f := newFixture(t, nil, func(c *Config) {
		c.Now = func() time.Time { return fixedTime.Add(time.Duration(tick.Add(1)) * time.Millisecond) }
	})
	f.login(t, "1001")
	start := f.pub.len()

	const goroutines, rounds = 4, 50
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				req := StateRequest{State: StateReady, RequestID: "g"}
				if (g+i)%2 == 1 {
					req = StateRequest{State: StateNotReady, ReasonCodeID: 1 + i%4, HasReasonCode: true, RequestID: "g"}
				}
				if err := f.r.SetState("1001", req); err == nil {
					accepted.Add(1)
				} else if err.Type != ErrorTypeInvalidState {
					t.Errorf("unexpected refusal %v", err)
				}
			}
		}()
	}
	wg.Wait()

	var userSeq, teamSeq []string
	for _, rec := range f.pub.since(start) {
		entry := field(rec.update.Data, "state") + "@" + field(rec.update.Data, "stateChangeTime")
		switch rec.node {
		case "/finesse/api/User/1001":
			userSeq = append(userSeq, entry)
		case "/finesse/api/Team/1/Users":
			teamSeq = append(teamSeq, entry)
		default:
			t.Fatalf("published on %s", rec.node)
		}
	}
	if int64(len(userSeq)) != accepted.Load() || len(teamSeq) != len(userSeq) {
		t.Fatalf("%d accepted changes, %d user and %d team notifications", accepted.Load(), len(userSeq), len(teamSeq))
	}
	if accepted.Load() < 2 {
		t.Fatalf("only %d changes accepted: the test shows nothing", accepted.Load())
	}
	prevState, prevTime := "NOT_READY", ""
	for i, e := range userSeq {
		state, ts, _ := strings.Cut(e, "@")
		if ts <= prevTime {
			t.Fatalf("notification %d at %s after one at %s: out of order", i, ts, prevTime)
		}
		if state == "READY" && prevState == "READY" {
			t.Fatalf("notification %d: READY after READY", i)
		}
		if teamSeq[i] != e {
			t.Fatalf("team notification %d is %s, user notification %s", i, teamSeq[i], e)
		}
		prevState, prevTime = state, ts
	}
}

func TestUnknownUserAndCaseInsensitiveLookup(t *testing.T) {
	f := newFixture(t, parseDir(t, `
teams: [{id: 1, name: Team A}]
users:
  - {id: JSmith, password: p, role: Agent, team: 1, extension: "3001"}
`), nil)
	f.must(t, "jsmith", StateRequest{State: StateLogin, Extension: "3001"})
	got := f.pub.all()
	if len(got) != 2 || got[0].node != "/finesse/api/User/JSmith" || got[0].update.Source != "/finesse/api/User/JSmith" {
		t.Fatalf("notifications use the directory's spelling of the id: %v", got)
	}
	if _, _, ok := f.r.State("nobody"); ok {
		t.Error("State of an unknown user")
	}
}

// counterValue reads a counter without the testutil package (whose
// dependencies are not in go.mod).
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatalf("reading a counter: %v", err)
	}
	return m.GetCounter().GetValue()
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFixture(t, nil, func(c *Config) { c.Registerer = reg })
	f.login(t, "1001")
	f.must(t, "1001", StateRequest{State: StateReady})
	f.must(t, "1001", StateRequest{State: StateNotReady})
	f.must(t, "1001", StateRequest{State: StateNotReady, ReasonCodeID: 1})
	_ = f.r.SetState("1001", StateRequest{State: StateTalking}) // refused: not counted
	f.mustMedia(t, "1001", 5000, MediaRequest{State: StateLogin})

	if got := counterValue(t, f.r.metrics.stateChanges.WithLabelValues("NOT_READY")); got != 3 {
		t.Errorf("NOT_READY changes = %v, want 3 (login, two requests)", got)
	}
	if got := counterValue(t, f.r.metrics.stateChanges.WithLabelValues("READY")); got != 1 {
		t.Errorf("READY changes = %v, want 1", got)
	}
	if got := counterValue(t, f.r.metrics.mediaStateChanges.WithLabelValues("NOT_READY")); got != 1 {
		t.Errorf("media NOT_READY changes = %v, want 1", got)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range families {
		names[mf.GetName()] = true
	}
	for _, want := range []string{"finesse_notify_agent_state_changes_total",
		"finesse_notify_agent_media_state_changes_total", "finesse_notify_agent_forced_logouts_total"} {
		if !names[want] {
			t.Errorf("%s not registered (have %v)", want, names)
		}
	}
}

// failingPublisher refuses every notification.
type failingPublisher struct{ calls atomic.Int64 }

func (p *failingPublisher) Publish(node string, u finesse.Update) (pubsub.Published, error) {
	p.calls.Add(1)
	return pubsub.Published{}, errors.New("pubsub: node is gone")
}

// TestPublishFailureIsLogged: a notification that cannot be published
// does not undo the change it reports; it is logged.
func TestPublishFailureIsLogged(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	pub := &failingPublisher{}
	r := New(Config{Directory: directory.Default(), Publisher: pub, Logger: zap.New(core)})
	defer r.Close()
	if err := r.SetState("1001", StateRequest{State: StateLogin, Extension: "3001"}); err != nil {
		t.Fatalf("SetState: %v", err)
	}
	if s, _, _ := r.State("1001"); s != StateNotReady || pub.calls.Load() != 2 {
		t.Fatalf("state %s after %d publish attempts", s, pub.calls.Load())
	}
	entries := logs.FilterMessageSnippet("publishing an agent notification failed").All()
	if len(entries) != 2 || entries[0].ContextMap()["node"] != "/finesse/api/User/1001" {
		t.Fatalf("logged %v", logs.All())
	}
}
