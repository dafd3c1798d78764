package task

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
)

func TestRouterCallKeyDay(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want int
	}{
		{time.Date(2024, 1, 30, 13, 55, 49, 0, time.UTC), 154526}, // the seed's
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), 134774},
		{time.Date(2024, 1, 30, 23, 59, 59, 0, time.FixedZone("EST", -5*3600)), 154527}, // UTC's day
	} {
		if got := routerCallKeyDay(c.t); got != c.want {
			t.Errorf("routerCallKeyDay(%v) = %d, want %d", c.t, got, c.want)
		}
	}
	for id, ok := range map[string]bool{"154526_37051928_1": true, "154526_37051928": false, "1_2_03": false,
		"0_1_1": false, "a_1_1": false, "1_1_1_1": false, "-1_1_1": false, "": false} {
		if _, _, got := parseTaskID(id); got != ok {
			t.Errorf("parseTaskID(%q) = %v, want %v", id, got, ok)
		}
	}
}

// TestFiveTasksForALimitOfThree: five tasks for one agent whose
// maxDialogLimit is 3 give three offers and two queued tasks; closing one
// offers the next.
func TestFiveTasksForALimitOfThree(t *testing.T) {
	f := newFixture(t, "", nil)
	f.ready("1001", taskMRD, 3)
	f.pub.take()
	for i := 1; i <= 5; i++ {
		f.submit(fmt.Sprintf("C%d", i), "CumulusTask")
	}
	wantStrings(t, "contact events", f.obs.take(), []string{
		"queued C1 0s", "reserved C1 154526_1_1 1001 5001",
		"queued C2 0s", "reserved C2 154526_2_1 1001 5001",
		"queued C3 0s", "reserved C3 154526_3_1 1001 5001",
		"queued C4 -1s",
		"queued C5 -1s",
	})
	ps := f.pub.take()
	wantStrings(t, "dialog notifications", summary(dialogEvents(t, ps)), []string{
		"POST 1001 154526_1_1 OFFERED", "POST 1001 154526_2_1 OFFERED", "POST 1001 154526_3_1 OFFERED",
	})
	for _, e := range dialogEvents(t, ps) {
		if e.source != "/finesse/api/User/1001/Media/5001/Dialogs" || e.dialog.MediaType != "Cisco_Task_MRD" ||
			!equal(e.dialog.Actions, []string{"ACCEPT"}) || e.dialog.Address != "1001" {
			t.Errorf("offer %+v", e)
		}
	}
	// The reservation is published before the first offer, and only once.
	wantStrings(t, "media", mediaStates(ps, taskMRD), []string{"RESERVED"})
	if ps[0].node != "/finesse/api/User/1001/Media" {
		t.Errorf("first notification on %s, want the Media node", ps[0].node)
	}

	f.act("1001", "154526_1_1", ActionRequest{Action: ActionAccept})
	f.act("1001", "154526_1_1", ActionRequest{Action: ActionClose, RequestID: "r-close"})
	wantStrings(t, "contact events after the close", f.obs.take(), []string{
		"handled C1", "reserved C4 154526_4_1 1001 5001",
	})
	wantStrings(t, "dialog notifications after the close", summary(dialogEvents(t, f.pub.take())), []string{
		"PUT 1001 154526_1_1 ACCEPTED",
		"DELETE 1001 154526_1_1 CLOSED CD_NORMAL_END_DIALOG",
		"POST 1001 154526_4_1 OFFERED",
	})
	if j, ok := f.router.Journey("C5"); !ok || len(j.Hops) != 1 || j.Hops[0].Kind != HopQueue || !j.Hops[0].End.IsZero() {
		t.Errorf("C5 should still wait: %+v", j)
	}
}

// TestLongestAvailable: a task goes to the eligible agent available
// longest; an agent just offered a task goes to the back of the line.
func TestLongestAvailable(t *testing.T) {
	f := newFixture(t, "", nil)
	for _, id := range []string{"1002", "1003", "1001"} {
		f.ready(id, taskMRD, 2)
		f.clock.Advance(time.Second)
	}
	// An agent signed in but NOT_READY, and one READY elsewhere, get
	// nothing.
	f.media("1004", taskMRD, agent.MediaRequest{State: agent.StateLogin})
	f.ready("2001", chatMRD, 5)
	f.obs.take()
	for i := 1; i <= 5; i++ {
		f.submit(fmt.Sprintf("C%d", i), "CumulusTask")
		f.clock.Advance(time.Second)
	}
	var got []string
	for _, e := range f.obs.take() {
		if strings.HasPrefix(e, "reserved") {
			got = append(got, strings.Fields(e)[3])
		}
	}
	wantStrings(t, "agents in order", got, []string{"1002", "1003", "1001", "1002", "1003"})

	// 1002 and 1003 are at their limit; 1001 has room. Ending one of
	// 1002's tasks puts it back in line behind 1001.
	f.act("1002", "154526_1_1", ActionRequest{Action: ActionAccept})
	f.act("1002", "154526_1_1", ActionRequest{Action: ActionClose})
	f.clock.Advance(time.Second)
	f.submit("C6", "CumulusTask")
	f.submit("C7", "CumulusTask")
	f.submit("C8", "CumulusTask")
	wantStrings(t, "after the close", f.obs.take(), []string{
		"handled C1",
		"queued C6 0s", "reserved C6 154526_6_1 1001 5001",
		"queued C7 0s", "reserved C7 154526_7_1 1002 5001",
		"queued C8 -1s",
	})
	// A waiting task goes to the agent the moment it becomes READY.
	f.media("1004", taskMRD, agent.MediaRequest{State: agent.StateReady})
	wantStrings(t, "READY", f.obs.take(), []string{"reserved C8 154526_8_1 1004 5001"})
}

// TestOfferTimeout: an offer not accepted in time is withdrawn, the agent
// made NOT_READY with the RONA code, and the task offered again, with
// the next sequence number, at the head of the queue.
func TestOfferTimeout(t *testing.T) {
	f := newFixture(t, "", func(c *Config) { c.OfferTimeout = 20 * time.Second })
	f.ready("1001", taskMRD, 1)
	f.submit("C1", "CumulusTask")
	f.submit("C2", "CumulusTask")
	f.pub.take()
	f.obs.take()
	f.mu.Lock()
	if len(f.timers) != 1 || f.timers[0].d != 20*time.Second {
		t.Fatalf("offer timers %+v", f.timers)
	}
	f.mu.Unlock()

	f.clock.Advance(20 * time.Second)
	if n := f.fireTimers(); n != 1 {
		t.Fatalf("%d timers fired", n)
	}
	ps := f.pub.take()
	wantStrings(t, "dialogs", summary(dialogEvents(t, ps)), []string{"DELETE 1001 154526_1_1 CLOSED CD_RING_NO_ANSWER"})
	wantStrings(t, "media", mediaStates(ps, taskMRD), []string{"NOT_READY"})
	if !strings.Contains(string(ps[0].update.Data), "<code>32767</code>") {
		t.Errorf("NOT_READY without the RONA code: %s", ps[0].update.Data)
	}
	wantStrings(t, "contact", f.obs.take(), []string{"queued C1 -1s"})

	// The requeued task keeps its turn: the next agent gets C1, as
	// 154526_1_2, before C2.
	f.ready("1002", taskMRD, 1)
	wantStrings(t, "contact", f.obs.take(), []string{"reserved C1 154526_1_2 1002 5001"})
	// 1001 is NOT_READY and cannot take C2 until it asks for READY.
	f.media("1001", taskMRD, agent.MediaRequest{State: agent.StateReady})
	wantStrings(t, "contact", f.obs.take(), []string{"reserved C2 154526_2_1 1001 5001"})

	// An accepted offer's timer is stopped; one firing late does nothing.
	f.act("1002", "154526_1_2", ActionRequest{Action: ActionAccept})
	f.pub.take()
	f.mu.Lock()
	late := f.timers[1]
	f.mu.Unlock()
	late.f()
	if got := f.pub.take(); len(got) != 0 {
		t.Errorf("a stale timer published %d notifications", len(got))
	}
	j, _ := f.router.Journey("154526_1_1")
	var kinds []string
	for _, h := range j.Hops {
		kinds = append(kinds, h.Kind+" "+h.ID)
	}
	wantStrings(t, "journey", kinds, []string{"queue 12282837", "agent 1001", "queue 12282837", "agent 1002"})
	if j.TaskID != "154526_1_2" || !j.Hops[1].End.Equal(t0.Add(20*time.Second)) {
		t.Errorf("journey %+v", j)
	}
}

func TestSubmitRefusalsAndDiscards(t *testing.T) {
	f := newFixture(t, "", func(c *Config) { c.MaxQueued = 2 })
	f.submit("C1", "NoSuchQueue")
	wantStrings(t, "unknown selector", f.obs.take(), []string{"discarded C1 NOTIFICATION_INVALID_SCRIPT_SELECTOR"})
	f.submit("C1", "CumulusTask") // a discarded id is not kept
	f.submit("C2", "CumulusTask")
	f.submit("C3", "CumulusTask")
	wantStrings(t, "full", f.obs.take(), []string{"queued C1 -1s", "queued C2 -1s", "discarded C3 NOTIFICATION_MEDIA_ROUTING_DISABLED"})
	// A task another agent could take now is not refused.
	f.ready("1001", chatMRD, 1)
	f.submit("C4", "ChatTask")
	wantStrings(t, "routed while full", f.obs.take(), []string{"queued C4 0s", "reserved C4 154526_3_1 1001 5000"})

	for _, c := range []struct {
		task Task
		want error
	}{
		{Task{ScriptSelector: "CumulusTask"}, ErrInvalidTask},
		{Task{ContactID: "C1", ScriptSelector: "CumulusTask"}, ErrDuplicateContact},
		{Task{ContactID: "C9", Variables: []Variable{{Name: "cv_1", Value: strings.Repeat("x", maxVariableValue+1)}}}, ErrInvalidTask},
		{Task{ContactID: "C9", Variables: []Variable{{Name: "user_" + strings.Repeat("x", maxVariableName), Value: "v"}}}, ErrInvalidTask},
	} {
		if err := f.router.Submit(c.task); !errors.Is(err, c.want) {
			t.Errorf("Submit(%+v) = %v, want %v", c.task.ContactID, err, c.want)
		}
	}
	var many []Variable
	for i := 0; i <= maxECCVariables; i++ {
		many = append(many, Variable{Name: fmt.Sprintf("user_v%d", i)})
	}
	if err := f.router.Submit(Task{ContactID: "C9", ScriptSelector: "CumulusTask", Variables: many}); !errors.Is(err, ErrInvalidTask) {
		t.Errorf("%d ECC variables: %v", len(many), err)
	}
	if got := f.obs.take(); len(got) != 0 {
		t.Errorf("refused submissions told the observer %q", got)
	}
	f.router.Close()
	if err := f.router.Submit(Task{ContactID: "C10", ScriptSelector: "CumulusTask"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: %v", err)
	}
}

func TestCancel(t *testing.T) {
	f := newFixture(t, "", nil)
	f.submit("C1", "CumulusTask")
	f.submit("C2", "CumulusTask")
	if err := f.router.Cancel("C1"); err != nil {
		t.Fatalf("Cancel(C1): %v", err)
	}
	for id, want := range map[string]error{"C1": ErrNotQueued, "C9": ErrUnknownContact} {
		if err := f.router.Cancel(id); !errors.Is(err, want) {
			t.Errorf("Cancel(%s) = %v, want %v", id, err, want)
		}
	}
	f.obs.take()
	f.ready("1001", taskMRD, 2)
	wantStrings(t, "after READY", f.obs.take(), []string{"reserved C2 154526_2_1 1001 5001"})
	if err := f.router.Cancel("C2"); !errors.Is(err, ErrNotQueued) {
		t.Errorf("Cancel of a reserved task: %v", err)
	}
	if j, ok := f.router.Journey("C1"); !ok || len(j.Hops) != 1 || j.Hops[0].End.IsZero() {
		t.Errorf("cancelled journey %+v %v", j, ok)
	}
}

// TestJourney: a task's history by contact id and by each of its task
// ids; finished ones are kept up to MaxHistory.
func TestJourney(t *testing.T) {
	f := newFixture(t, "", func(c *Config) { c.MaxHistory = 2 })
	f.ready("1001", taskMRD, 1)
	f.ready("1002", chatMRD, 1)
	f.submit("C1", "CumulusTask")
	f.clock.Advance(time.Second)
	f.act("1001", "154526_1_1", ActionRequest{Action: ActionAccept})
	f.act("1001", "154526_1_1", ActionRequest{Action: ActionTransfer, ToAddress: "ChatTask"})
	f.clock.Advance(time.Second)
	f.act("1002", "154526_1_2", ActionRequest{Action: ActionAccept})
	f.act("1002", "154526_1_2", ActionRequest{Action: ActionClose})

	want := Journey{TaskID: "154526_1_2", ContactID: "C1", Hops: []Hop{
		{Kind: HopQueue, ID: "12282837", Name: "CumulusTask", Start: t0, End: t0},
		{Kind: HopAgent, ID: "1001", Name: "Alice Adams", Start: t0, End: t0.Add(time.Second)},
		{Kind: HopQueue, ID: "5022", Name: "Chat.SG", Start: t0.Add(time.Second), End: t0.Add(time.Second)},
		{Kind: HopAgent, ID: "1002", Name: "Bob Brown", Start: t0.Add(time.Second), End: t0.Add(2 * time.Second)},
	}}
	for _, id := range []string{"C1", "154526_1_1", "154526_1_2"} {
		j, ok := f.router.Journey(id)
		if !ok || fmt.Sprint(j) != fmt.Sprint(want) {
			t.Errorf("Journey(%s) = %+v, %v\nwant %+v", id, j, ok, want)
		}
	}
	for _, id := range []string{"154526_1_3", "154526_2_1", "C2", "x"} {
		if _, ok := f.router.Journey(id); ok {
			t.Errorf("Journey(%s) found", id)
		}
	}
	// Two more finished tasks push C1 out of the history.
	f.submit("C2", "NoSuchQueue")
	f.submit("C2", "CumulusTask")
	f.submit("C3", "CumulusTask")
	f.router.Cancel("C3")
	if _, ok := f.router.Journey("C1"); !ok {
		t.Error("C1 forgotten too early")
	}
	f.act("1001", "154526_2_1", ActionRequest{Action: ActionAccept})
	f.act("1001", "154526_2_1", ActionRequest{Action: ActionClose})
	if _, ok := f.router.Journey("C1"); ok {
		t.Error("C1 kept beyond MaxHistory")
	}
	if _, ok := f.router.Journey("154526_1_1"); ok {
		t.Error("C1's task id kept beyond MaxHistory")
	}
	for _, id := range []string{"C2", "C3"} {
		if _, ok := f.router.Journey(id); !ok {
			t.Errorf("%s forgotten", id)
		}
	}
}

// TestSignOutWithOpenTasks: LOGOUT applies dialogLogoutAction to the
// open dialogs; an offered one is routed again at the head of its queue.
func TestSignOutWithOpenTasks(t *testing.T) {
	for _, action := range []string{agent.DialogLogoutActionClose, agent.DialogLogoutActionTransfer} {
		t.Run(action, func(t *testing.T) {
			f := newFixture(t, "", nil)
			f.media("1001", taskMRD, agent.MediaRequest{State: agent.StateLogin, MaxDialogLimit: 2, DialogLogoutAction: action})
			f.media("1001", taskMRD, agent.MediaRequest{State: agent.StateReady})
			f.submit("C1", "CumulusTask")
			f.submit("C2", "CumulusTask")
			f.submit("C3", "CumulusTask")
			f.act("1001", "154526_1_1", ActionRequest{Action: ActionAccept})
			f.act("1001", "154526_1_1", ActionRequest{Action: ActionStart})
			f.pub.take()
			f.obs.take()

			f.media("1001", taskMRD, agent.MediaRequest{State: agent.StateLogout, RequestID: "r-out"})
			disposition := DispositionLoggedOut
			wantContact := []string{"handled C1", "queued C2 -1s"}
			if action == agent.DialogLogoutActionTransfer {
				disposition = DispositionTransferredOnLogout
				wantContact = []string{"queued C1 -1s", "queued C2 -1s"}
			}
			ps := f.pub.take()
			wantStrings(t, "dialogs", summary(dialogEvents(t, ps)), []string{
				"DELETE 1001 154526_1_1 CLOSED " + disposition,
				"DELETE 1001 154526_2_1 CLOSED " + disposition,
			})
			wantStrings(t, "media", mediaStates(ps, taskMRD), []string{"LOGOUT"})
			wantStrings(t, "contacts", f.obs.take(), wantContact)

			// C2, offered and never taken, comes before C3.
			f.ready("1002", taskMRD, 1)
			got := f.obs.take()
			if len(got) != 1 || !strings.HasPrefix(got[0], "reserved C2 154526_2_2 1002") {
				t.Errorf("after 1002 READY: %q", got)
			}
			if rt, _ := f.agents.MediaRouting("1001", taskMRD); rt.Load.Total() != 0 {
				t.Errorf("1001's load after LOGOUT: %+v", rt.Load)
			}
		})
	}
}

// TestForcedLogoutWithOpenTasks: the forced logout signs the agent out of
// the MRD, and its dialogs are closed as for a LOGOUT.
func TestForcedLogoutWithOpenTasks(t *testing.T) {
	f := newFixture(t, "", nil)
	f.ready("1001", taskMRD, 1)
	f.submit("C1", "CumulusTask")
	f.act("1001", "154526_1_1", ActionRequest{Action: ActionAccept})
	f.pub.take()
	forceLogout(t, f.agents, "1001")
	f.pub.waitFor(t, "the DELETE of the forced logout", func(p published) bool {
		return p.update.Event == "DELETE" && strings.Contains(string(p.update.Data), DispositionLoggedOut)
	})
	if s := f.mediaState("1001", taskMRD); s != agent.StateLogout {
		t.Errorf("media state %s", s)
	}
	if _, _, ok := f.router.DialogXML("154526_1_1"); ok {
		t.Error("the dialog is still open")
	}
}

// TestConcurrentUse runs submissions, agents' actions and media changes
// at once, for the race detector and to show no deadlock between the
// router's lock and the users'.
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t, "", nil)
	agents := []string{"1001", "1002", "1003", "1004"}
	for _, id := range agents {
		f.ready(id, taskMRD, 3)
	}
	done := make(chan struct{})
	for g, id := range agents {
		go func() {
			defer func() { done <- struct{}{} }()
			u, _ := f.dir.User(id)
			for i := 0; i < 30; i++ {
				f.router.Submit(Task{ContactID: fmt.Sprintf("G%d-%d", g, i), ScriptSelector: "CumulusTask"})
				doc := f.router.MediaDialogsXML(id, taskMRD)
				for _, did := range dialogIDs(string(doc)) {
					f.router.Act(u, did, ActionRequest{Action: ActionAccept})
					f.router.Act(u, did, ActionRequest{Action: ActionClose})
				}
				if i%10 == 0 {
					f.agents.SetMedia(id, taskMRD, agent.MediaRequest{State: agent.StateReady})
					f.fireTimers()
				}
			}
		}()
	}
	for range agents {
		<-done
	}
}

// dialogIDs extracts the <id>s of a <Dialogs> document.
func dialogIDs(doc string) []string {
	var ids []string
	for {
		i := strings.Index(doc, "</taskId><id>")
		if i < 0 {
			return ids
		}
		doc = doc[i+len("</taskId><id>"):]
		ids = append(ids, doc[:strings.Index(doc, "<")])
	}
}

func TestSetObserver(t *testing.T) {
	f := newFixture(t, "", nil)
	late := &observer{}
	f.router.SetObserver(late)
	f.submit("C1", "CumulusTask")
	f.router.SetObserver(nil)
	f.submit("C2", "CumulusTask")
	wantStrings(t, "first observer", f.obs.take(), nil)
	wantStrings(t, "late observer", late.take(), []string{"queued C1 -1s"})
}
