package task

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
)

// seedDirectoryYAML is the seed's lab: agent 1080, the task MRD 5011
// named Tasks, and the CumulusTask queue.
const seedDirectoryYAML = `
teams: [{id: 1, name: Team A}]
users:
  - {id: "1080", password: p, firstName: Kim, lastName: Kowalski, role: Agent, team: 1, extension: "1080"}
mediaRoutingDomains:
  - {id: 1, name: Cisco_Voice, description: Voice, voice: true}
  - {id: 5011, name: Tasks, description: Task MRD, maxDialogLimit: 3}
scriptSelectors:
  - {name: CumulusTask, skillGroupId: 5199, queueNumber: "12282837", queueName: CumulusTask, mrd: 5011}
`

// TestSeedPayloads: the task's Dialogs/Media Updates are byte for byte
// those of the seed's capture, for the same task, agent, queue and times.
func TestSeedPayloads(t *testing.T) {
	f := newFixture(t, seedDirectoryYAML, func(c *Config) { c.FirstCallID = 37051928 })
	f.ready("1080", 5011, 3)
	f.pub.take()
	f.submit("5AA797871000018D0000004139ED7AD5", "CumulusTask")
	const offered = `<Update><data><dialogs><Dialog><taskId><routerCallKeyDay>154526</routerCallKeyDay><routerCallKeyCallID>37051928</routerCallKeyCallID><routerCallKeySequenceNum>1</routerCallKeySequenceNum></taskId><id>154526_37051928_1</id><mediaProperties><mediaId>5011</mediaId><dialedNumber>CumulusTask</dialedNumber><queueNumber>12282837</queueNumber><queueName>CumulusTask</queueName><callKeyCallId>37051928</callKeyCallId><callKeyPrefix>154526</callKeyPrefix><callKeySequenceNum>1</callKeySequenceNum></mediaProperties><mediaType>Tasks</mediaType><participants><Participant><actions><action>ACCEPT</action></actions><mediaAddress>1080</mediaAddress><mediaAddressType></mediaAddressType><startTime>2024-01-30T13:55:49.426Z</startTime><state>OFFERED</state><stateCause></stateCause><stateChangeTime>2024-01-30T13:55:49.426Z</stateChangeTime></Participant></participants><state>OFFERED</state><uri>/finesse/api/Dialog/154526_37051928_1</uri></Dialog></dialogs></data><event>POST</event><requestId></requestId><source>/finesse/api/User/1080/Media/5011/Dialogs</source></Update>`

	steps := []struct {
		at     string
		action Action
		want   string
	}{
		{"", "", offered},
		{"2024-01-30T13:55:58.953Z", ActionAccept, seedAccepted},
		{"2024-01-30T13:56:53.774Z", ActionStart, seedActive},
		{"2024-01-30T13:58:10.569Z", ActionClose, seedClosed},
	}
	for _, s := range steps {
		if s.action != "" {
			at, _ := time.Parse(timeLayout, s.at)
			f.clock.Set(at)
			f.act("1080", "154526_37051928_1", ActionRequest{Action: s.action})
		}
		var got []string
		for _, p := range f.pub.take() {
			if p.node == "/finesse/api/User/1080/Dialogs/Media" {
				got = append(got, string(p.update.Render()))
			}
		}
		if len(got) != 1 || got[0] != s.want {
			t.Errorf("after %q:\n got  %q\n want %q", s.action, got, s.want)
		}
	}
}

// TestMediaStateFollowsTasks: the MRD shows the highest state of the
// agent's tasks while it chose READY, and a chosen NOT_READY over them;
// each change publishes Media once, before the Dialog change.
func TestMediaStateFollowsTasks(t *testing.T) {
	f := newFixture(t, "", nil)
	f.ready("1001", taskMRD, 3)
	f.submit("C1", "CumulusTask")
	f.submit("C2", "CumulusTask")
	f.submit("C3", "CumulusTask")
	a, b, c := "154526_1_1", "154526_2_1", "154526_3_1"
	f.pub.take()
	// Walk the precedence ACTIVE > WORK_READY > PAUSED > RESERVED.
	f.act("1001", a, ActionRequest{Action: ActionAccept})
	f.act("1001", b, ActionRequest{Action: ActionAccept})
	wantStrings(t, "accepted: no change", mediaStates(f.pub.take(), taskMRD), nil)
	f.act("1001", a, ActionRequest{Action: ActionStart, RequestID: "r-start"})
	ps := f.pub.take()
	wantStrings(t, "START", mediaStates(ps, taskMRD), []string{"ACTIVE"})
	if ps[0].update.RequestID != "r-start" || !strings.HasSuffix(ps[0].node, "/Media") ||
		!strings.HasSuffix(ps[1].node, "/Dialogs/Media") {
		t.Errorf("START: Media then Dialog with the requestId, got %s (%q) then %s", ps[0].node, ps[0].update.RequestID, ps[1].node)
	}
	f.act("1001", b, ActionRequest{Action: ActionStart})
	f.act("1001", b, ActionRequest{Action: ActionPause})
	f.act("1001", a, ActionRequest{Action: ActionWrapUp})
	wantStrings(t, "a wraps up, b paused", mediaStates(f.pub.take(), taskMRD), []string{"WORK_READY"})
	f.act("1001", a, ActionRequest{Action: ActionClose})
	wantStrings(t, "b paused, c offered", mediaStates(f.pub.take(), taskMRD), []string{"PAUSED"})
	f.act("1001", b, ActionRequest{Action: ActionClose})
	wantStrings(t, "c offered", mediaStates(f.pub.take(), taskMRD), []string{"RESERVED"})

	// NOT_READY is refused while a dialog is offered, and shows over the
	// tasks once asked for; the last task closing leaves the choice.
	if err := f.agents.SetMedia("1001", taskMRD, agent.MediaRequest{State: agent.StateNotReady}); err == nil || err.Type != agent.ErrorTypeInvalidState {
		t.Fatalf("NOT_READY with an offered dialog: %v", err)
	}
	f.act("1001", c, ActionRequest{Action: ActionAccept})
	f.act("1001", c, ActionRequest{Action: ActionStart})
	f.media("1001", taskMRD, agent.MediaRequest{State: agent.StateNotReady, ReasonCodeID: 1})
	if s := f.mediaState("1001", taskMRD); s != agent.StateNotReady {
		t.Errorf("chosen NOT_READY with an active task shows %s", s)
	}
	f.pub.take()
	f.submit("C4", "CumulusTask")
	if got := f.obs.take(); got[len(got)-1] != "queued C4 -1s" {
		t.Errorf("a NOT_READY agent was offered a task: %q", got)
	}
	f.act("1001", c, ActionRequest{Action: ActionClose})
	wantStrings(t, "last task closed", mediaStates(f.pub.take(), taskMRD), nil)
	f.media("1001", taskMRD, agent.MediaRequest{State: agent.StateReady})
	wantStrings(t, "READY again", mediaStates(f.pub.take(), taskMRD), []string{"READY", "RESERVED"})
}

// TestActionsPerState: every action in every state: the ones the
// participant holds apply; the others are accepted and answered by an
// asynchronous Generic Error with the requestId, changing nothing.
func TestActionsPerState(t *testing.T) {
	// paths lead a fresh dialog to each state.
	paths := map[DialogState][]Action{
		StateOffered:    nil,
		StateAccepted:   {ActionAccept},
		StateActive:     {ActionAccept, ActionStart},
		StatePaused:     {ActionAccept, ActionStart, ActionPause},
		StateWrappingUp: {ActionAccept, ActionStart, ActionWrapUp},
	}
	all := []Action{ActionAccept, ActionStart, ActionPause, ActionResume, ActionWrapUp, ActionClose, ActionTransfer, ActionUpdateCallData}
	results := map[Action]string{
		ActionAccept: "PUT ACCEPTED", ActionStart: "PUT ACTIVE", ActionPause: "PUT PAUSED", ActionResume: "PUT ACTIVE",
		ActionWrapUp: "PUT WRAPPING_UP", ActionClose: "DELETE CLOSED", ActionTransfer: "DELETE CLOSED",
	}
	for state, path := range paths {
		for _, action := range all {
			t.Run(fmt.Sprintf("%s/%s", state, action), func(t *testing.T) {
				f := newFixture(t, "", nil)
				f.ready("1001", taskMRD, 1)
				f.submit("C1", "CumulusTask")
				const id = "154526_1_1"
				for _, a := range path {
					f.act("1001", id, ActionRequest{Action: a})
				}
				f.pub.take()
				req := ActionRequest{Action: action, RequestID: "req-1", ToAddress: "ChatTask",
					CallVariables: []Variable{{Name: "callVariable2", Value: "two"}}}
				f.act("1001", id, req)
				evs := dialogEvents(t, f.pub.take())
				if len(evs) != 1 {
					t.Fatalf("%d dialog notifications, want 1", len(evs))
				}
				ev := evs[0]
				if ev.requestID != "req-1" {
					t.Errorf("requestId %q", ev.requestID)
				}
				if !holds(state, action) {
					if ev.errorType != "Generic Error" || ev.errorData != "19" || ev.source != "/finesse/api/Dialog/"+id {
						t.Errorf("illegal action answered %+v", ev)
					}
					doc, _, _ := f.router.DialogXML(id)
					if !strings.Contains(string(doc), "<state>"+string(state)+"</state>") {
						t.Errorf("an illegal action changed the dialog: %s", doc)
					}
					return
				}
				want := results[action]
				if action == ActionUpdateCallData {
					want = "PUT " + string(state)
					if len(ev.dialog.Variables) != 1 || ev.dialog.Variables[0].Value != "two" {
						t.Errorf("call data %+v", ev.dialog.Variables)
					}
				}
				if got := ev.kind + " " + ev.dialog.State; got != want {
					t.Errorf("got %s, want %s", got, want)
				}
				if want := actions[DialogState(ev.dialog.State)]; fmt.Sprint(ev.dialog.Actions) != fmt.Sprint(want) {
					t.Errorf("actions %v, want %v", ev.dialog.Actions, want)
				}
			})
		}
	}
}

// TestActRefusals: synchronous refusals change and publish nothing.
func TestActRefusals(t *testing.T) {
	f := newFixture(t, "", nil)
	f.ready("1001", taskMRD, 1)
	f.submit("C1", "CumulusTask")
	const id = "154526_1_1"
	f.act("1001", id, ActionRequest{Action: ActionAccept})
	f.pub.take()
	cases := []struct {
		name, user, id string
		req            ActionRequest
		status         int
		errType, data  string
	}{
		{"someone else's dialog", "1002", id, ActionRequest{Action: ActionClose}, 401, ErrorTypeInvalidUser, "1002"},
		{"a supervisor", "2001", id, ActionRequest{Action: ActionClose}, 401, ErrorTypeInvalidUser, "2001"},
		{"unknown dialog", "1001", "154526_9_1", ActionRequest{Action: ActionClose}, 404, agent.ErrorTypeNotFound, "154526_9_1"},
		{"no action", "1001", id, ActionRequest{}, 400, agent.ErrorTypeParameterMissing, "requestedAction"},
		{"unknown action", "1001", id, ActionRequest{Action: "HOLD"}, 400, agent.ErrorTypeInvalidInput, "HOLD"},
		{"transfer without target", "1001", id, ActionRequest{Action: ActionTransfer}, 400, agent.ErrorTypeParameterMissing, "toAddress"},
		{"transfer to nowhere", "1001", id, ActionRequest{Action: ActionTransfer, ToAddress: "Nowhere"}, 400, ErrorTypeInvalidDestination, "Nowhere"},
		{"no call variables", "1001", id, ActionRequest{Action: ActionUpdateCallData}, 400, agent.ErrorTypeParameterMissing, "callvariables"},
		{"bad call variable", "1001", id, ActionRequest{Action: ActionUpdateCallData,
			CallVariables: []Variable{{Name: "callVariable11"}}}, 400, agent.ErrorTypeInvalidInput, "callVariable11"},
		{"other participant", "1001", id, ActionRequest{Action: ActionClose, TargetMediaAddress: "1002"}, 400, agent.ErrorTypeInvalidInput, "1002"},
	}
	for _, c := range cases {
		u, _ := f.dir.User(c.user)
		err := f.router.Act(u, c.id, c.req)
		if err == nil || err.Status != c.status || err.Type != c.errType || err.Data != c.data || err.Message == "" {
			t.Errorf("%s: got %+v, want %d %s %s", c.name, err, c.status, c.errType, c.data)
		}
	}
	if got := f.pub.take(); len(got) != 0 {
		t.Errorf("refused actions published %d notifications", len(got))
	}
	if doc, owner, ok := f.router.DialogXML(id); !ok || owner != "1001" || !strings.Contains(string(doc), "<state>ACCEPTED</state>") {
		t.Errorf("the dialog changed: %s", doc)
	}
	// The participant's own address and extension are accepted.
	f.act("1001", id, ActionRequest{Action: ActionStart, TargetMediaAddress: "3001"})
	f.act("1001", id, ActionRequest{Action: ActionPause, TargetMediaAddress: "1001"})
	f.act("1001", id, ActionRequest{Action: ActionResume, TargetMediaAddress: ""})
}

// TestTransfer: TRANSFER closes the dialog and routes the task again
// through the target queue, by script selector or dialed number, with
// the call data it had.
func TestTransfer(t *testing.T) {
	f := newFixture(t, "", nil)
	f.ready("1001", taskMRD, 1)
	f.ready("1002", chatMRD, 2)
	f.submit("C1", "CumulusTask", Variable{"cv_1", "Scott"}, Variable{"user_app", "crm"})
	const id = "154526_1_1"
	f.act("1001", id, ActionRequest{Action: ActionAccept})
	f.act("1001", id, ActionRequest{Action: ActionUpdateCallData, CallVariables: []Variable{{"callVariable3", "3"}}})
	f.pub.take()
	f.obs.take()
	f.act("1001", id, ActionRequest{Action: ActionTransfer, ToAddress: "8005551212", RequestID: "r-t"})
	evs := dialogEvents(t, f.pub.take())
	wantStrings(t, "dialogs", summary(evs), []string{
		"DELETE 1001 154526_1_1 CLOSED CD_TASK_TRANSFER",
		"POST 1002 154526_1_2 OFFERED",
	})
	if evs[0].requestID != "r-t" || evs[1].requestID != "" {
		t.Errorf("requestIds %q %q", evs[0].requestID, evs[1].requestID)
	}
	d := evs[1].dialog
	if d.MediaType != "Cisco_Chat_MRD" || d.MediaID != "5000" || d.Queue != "Chat.SG" {
		t.Errorf("transferred dialog %+v", d)
	}
	var vars []string
	for _, v := range d.Variables {
		vars = append(vars, v.Name+"="+v.Value)
	}
	wantStrings(t, "call data", vars, []string{"callVariable1=Scott", "callVariable3=3", "user.app=crm"})
	wantStrings(t, "contact", f.obs.take(), []string{"queued C1 0s", "reserved C1 154526_1_2 1002 5000"})
	if s := f.mediaState("1001", taskMRD); s != agent.StateReady {
		t.Errorf("the transferring agent is %s", s)
	}
}

func TestCallVariables(t *testing.T) {
	got, err := callVariables([]Variable{
		{"user_b", "B"}, {"cv_10", "ten"}, {"scriptSelector", "x"}, {"cv_2", "two"}, {"user_a", "A"},
		{"cv_02", "no"}, {"cv_11", "no"}, {"user_", "no"}, {"cv_2", "TWO"}, {"user_b", "B2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Variable{{"callVariable2", "TWO"}, {"callVariable10", "ten"}, {"user.b", "B2"}, {"user.a", "A"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("callVariables = %v, want %v", got, want)
	}
	merged := mergeVariables(want, []Variable{{"callVariable1", "one"}, {"callVariable5", "five"}, {"user.a", "A2"}, {"user.c", "C"}})
	want = []Variable{{"callVariable1", "one"}, {"callVariable2", "TWO"}, {"callVariable5", "five"}, {"callVariable10", "ten"},
		{"user.b", "B2"}, {"user.a", "A2"}, {"user.c", "C"}}
	if fmt.Sprint(merged) != fmt.Sprint(want) {
		t.Errorf("mergeVariables = %v, want %v", merged, want)
	}
}

// TestDialogDocuments: the GET renderings, and call variables that need
// escaping stay well-formed.
func TestDialogDocuments(t *testing.T) {
	f := newFixture(t, "", nil)
	f.ready("1001", taskMRD, 2)
	f.ready("1001", chatMRD, 2)
	f.submit("C1", "CumulusTask", Variable{"cv_1", "<a href='x'>&\x01\r"})
	f.submit("C2", "ChatTask")
	doc, owner, ok := f.router.DialogXML("154526_1_1")
	if !ok || owner != "1001" || !strings.HasPrefix(string(doc), "<Dialog><taskId>") {
		t.Fatalf("DialogXML: %s %s %v", doc, owner, ok)
	}
	var d dialogDoc
	if err := xml.Unmarshal(doc, &d); err != nil || d.Variables[0].Value != "<a href='x'>&\uFFFD\r" {
		t.Errorf("escaped variable: %v %+v", err, d.Variables)
	}
	if got := string(f.router.MediaDialogsXML("1001", chatMRD)); !strings.HasPrefix(got, "<Dialogs><Dialog>") ||
		strings.Count(got, "<Dialog>") != 1 || !strings.Contains(got, "<id>154526_2_1</id>") {
		t.Errorf("MediaDialogsXML: %s", got)
	}
	if got := dialogIDs(string(f.router.UserDialogsXML("1001"))); fmt.Sprint(got) != "[154526_2_1 154526_1_1]" {
		t.Errorf("UserDialogsXML ids %v (chat MRD first, in directory order)", got)
	}
	for _, got := range [][]byte{f.router.MediaDialogsXML("1002", taskMRD), f.router.UserDialogsXML("1002"), f.router.MediaDialogsXML("nobody", 7)} {
		if string(got) != "<Dialogs/>" {
			t.Errorf("no dialogs: %s", got)
		}
	}
}
