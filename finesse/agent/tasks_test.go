package agent

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// mediaRecords returns the states of the Media notifications of MRD mrd
// among recs.
func mediaRecords(recs []record, mrd int) []string {
	var out []string
	for _, rec := range recs {
		if rec.update.Source == fmt.Sprintf("/finesse/api/User/1001/Media/%d", mrd) {
			out = append(out, field(rec.update.Data, "state")+"/"+rec.update.RequestID)
		}
	}
	return out
}

func TestUpdateTasksDisplay(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateLogin, MaxDialogLimit: 5})
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateReady})
	n := f.pub.len()
	steps := []struct {
		load  TaskLoad
		shows State
	}{
		{TaskLoad{Offered: 1}, StateReserved},
		{TaskLoad{Accepted: 1}, StateReserved}, // no change: nothing published
		{TaskLoad{Accepted: 1, Paused: 1}, StatePaused},
		{TaskLoad{Paused: 1, WrappingUp: 1}, StateWorkReady},
		{TaskLoad{Offered: 1, Paused: 1, WrappingUp: 1, Active: 1}, StateActive},
		{TaskLoad{}, StateReady},
	}
	for i, s := range steps {
		f.clock.Advance(time.Second)
		rt, ok := f.r.UpdateTasks("1001", 5001, TaskUpdate{Load: s.load, RequestID: fmt.Sprintf("r%d", i)})
		if !ok || rt.State != s.shows || rt.Load != s.load {
			t.Errorf("step %d: %+v %v, want %s", i, rt, ok, s.shows)
		}
	}
	got := mediaRecords(f.pub.since(n), 5001)
	want := []string{"RESERVED/r0", "PAUSED/r2", "WORK_READY/r3", "ACTIVE/r4", "READY/r5"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Media notifications %v, want %v", got, want)
	}
	// stateChangeTime moved only with the state.
	doc, _ := f.r.MediaXML("1001", 5001)
	if v := field(doc, "stateChangeTime"); v != "2024-05-01T10:00:06.000Z" {
		t.Errorf("stateChangeTime %s", v)
	}

	// A chosen NOT_READY shows over the tasks, with its reason; READY
	// brings the tasks' state back.
	f.r.UpdateTasks("1001", 5001, TaskUpdate{Load: TaskLoad{Active: 1}})
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateNotReady, ReasonCodeID: 3})
	if s, _ := f.r.MediaState("1001", 5001); s != StateNotReady {
		t.Errorf("NOT_READY with an active task shows %s", s)
	}
	doc, _ = f.r.MediaXML("1001", 5001)
	if field(doc, "reasonCodeId") != "3" {
		t.Errorf("reason code lost: %s", doc)
	}
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateReady})
	if s, _ := f.r.MediaState("1001", 5001); s != StateActive {
		t.Errorf("READY with an active task shows %s", s)
	}
	if _, ok := f.r.UpdateTasks("9999", 5001, TaskUpdate{}); ok {
		t.Error("UpdateTasks of an unknown user applied")
	}
	if _, ok := f.r.UpdateTasks("1001", 1, TaskUpdate{}); ok {
		t.Error("UpdateTasks of the voice MRD applied")
	}
}

func TestUpdateTasksOffer(t *testing.T) {
	f := newFixture(t, nil, nil)
	offer := func(load TaskLoad) bool {
		_, ok := f.r.UpdateTasks("1001", 5001, TaskUpdate{Load: load, Offer: true})
		return ok
	}
	if offer(TaskLoad{Offered: 1}) {
		t.Error("offered to an agent signed out")
	}
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateLogin, MaxDialogLimit: 2})
	if offer(TaskLoad{Offered: 1}) {
		t.Error("offered to a NOT_READY agent")
	}
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateReady})
	n := f.pub.len()
	if !offer(TaskLoad{Offered: 1}) || !offer(TaskLoad{Offered: 2}) {
		t.Fatal("offers within the limit refused")
	}
	if offer(TaskLoad{Offered: 3}) {
		t.Error("offered beyond maxDialogLimit")
	}
	if rt, _ := f.r.MediaRouting("1001", 5001); rt.Load.Offered != 2 || rt.Eligible() {
		t.Errorf("routing at the limit %+v", rt)
	}
	if got := mediaRecords(f.pub.since(n), 5001); fmt.Sprint(got) != "[RESERVED/]" {
		t.Errorf("Media notifications %v", got)
	}

	// NOT_READY is refused while a dialog is offered (DG125#179).
	err := f.r.SetMedia("1001", 5001, MediaRequest{State: StateNotReady})
	if err == nil || err.Type != ErrorTypeInvalidState || err.Data != "state" {
		t.Fatalf("NOT_READY with an offered dialog: %v", err)
	}
	f.r.UpdateTasks("1001", 5001, TaskUpdate{Load: TaskLoad{Accepted: 2}})
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateNotReady})
}

func TestUpdateTasksRONA(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateLogin, MaxDialogLimit: 2})
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateReady})
	f.r.UpdateTasks("1001", 5001, TaskUpdate{Load: TaskLoad{Offered: 1, Active: 1}, Offer: true})
	n := f.pub.len()
	rt, ok := f.r.UpdateTasks("1001", 5001, TaskUpdate{Load: TaskLoad{Active: 1}, NotReady: true})
	if !ok || rt.Ready || rt.State != StateNotReady {
		t.Fatalf("after RONA %+v %v", rt, ok)
	}
	recs := f.pub.since(n)
	if len(recs) != 1 || field(recs[0].update.Data, "reasonCodeId") != "104" || field(recs[0].update.Data, "code") != "32767" {
		t.Fatalf("RONA notification %v", recs)
	}
	// Signed out, a RONA changes nothing.
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateLogout})
	if rt, _ := f.r.UpdateTasks("1001", 5001, TaskUpdate{NotReady: true}); rt.SignedIn || rt.State != StateLogout {
		t.Errorf("RONA after LOGOUT: %+v", rt)
	}
}

// TestWatchMedia: the watchers hear every accepted media request after
// the user's lock is released (so they may read the registry back), with
// what a sign-out ended; refused requests are not heard.
func TestWatchMedia(t *testing.T) {
	f, ft := newFakeTimerFixture(t)
	var mu sync.Mutex
	var heard []string
	f.r.WatchMedia(func(ev MediaEvent) {
		rt, _ := f.r.MediaRouting(ev.UserID, ev.MRDID) // would deadlock under the lock
		mu.Lock()
		heard = append(heard, fmt.Sprintf("%s %d out=%v session=%d %s %s", ev.UserID, ev.MRDID, ev.SignedOut, ev.Session,
			ev.DialogLogoutAction, rt.State))
		mu.Unlock()
	})
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateLogin, DialogLogoutAction: DialogLogoutActionTransfer})
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateReady})
	if err := f.r.SetMedia("1001", 5001, MediaRequest{State: StateReady}); err == nil {
		t.Fatal("READY from READY accepted")
	}
	// A second sign-in takes new options.
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateLogin, MaxDialogLimit: 2, DialogLogoutAction: DialogLogoutActionTransfer})
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateLogout})
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateLogin})
	f.mustMedia(t, "1001", 5000, MediaRequest{State: StateLogin})
	f.r.UpdateTasks("1001", 5001, TaskUpdate{}) // the router's own changes are not heard
	f.r.PresenceEvent(unavailable("1001", false))
	ft.list()[0].fire()
	want := []string{
		"1001 5001 out=false session=0  NOT_READY",
		"1001 5001 out=false session=0  READY",
		"1001 5001 out=false session=0  READY",
		"1001 5001 out=true session=1 TRANSFER LOGOUT",
		"1001 5001 out=false session=0  NOT_READY",
		"1001 5000 out=false session=0  NOT_READY",
		"1001 5000 out=true session=1 CLOSE LOGOUT", // the MRDs in directory order
		"1001 5001 out=true session=2 CLOSE LOGOUT",
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(heard) != fmt.Sprint(want) {
		t.Errorf("heard\n%q\nwant\n%q", heard, want)
	}
}

// TestListener: the listeners hear voice and media changes, in order,
// with the state the MRD shows and the reason code.
func TestListener(t *testing.T) {
	f, ft := newFakeTimerFixture(t)
	var heard []string
	f.r.AddListener(func(c Change) {
		s := fmt.Sprintf("%s/%d/%d %s %s", c.UserID, c.TeamID, c.MRDID, c.State, c.At.Format("15:04:05"))
		if c.ReasonCode != nil {
			s += fmt.Sprintf(" rc=%d", c.ReasonCode.Code)
		}
		heard = append(heard, s)
	})
	f.login(t, "1001")
	f.must(t, "1001", StateRequest{State: StateLogin, Extension: "3001"}) // a second LOGIN changes nothing
	f.clock.Advance(time.Second)
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateLogin})
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateLogin}) // nor here
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateReady})
	f.r.UpdateTasks("1001", 5001, TaskUpdate{Load: TaskLoad{Offered: 1}, Offer: true})
	f.r.UpdateTasks("1001", 5001, TaskUpdate{Load: TaskLoad{Accepted: 1}}) // still RESERVED
	f.r.UpdateTasks("1001", 5001, TaskUpdate{Load: TaskLoad{}, NotReady: true})
	f.must(t, "1001", StateRequest{State: StateNotReady, ReasonCodeID: 1})
	f.r.PresenceEvent(unavailable("1001", false))
	f.clock.Advance(time.Second)
	ft.list()[0].fire()
	want := []string{
		"1001/1/0 NOT_READY 10:00:00",
		"1001/1/5001 NOT_READY 10:00:01",
		"1001/1/5001 READY 10:00:01",
		"1001/1/5001 RESERVED 10:00:01",
		"1001/1/5001 NOT_READY 10:00:01 rc=32767",
		"1001/1/0 NOT_READY 10:00:01 rc=10",
		"1001/1/0 LOGOUT 10:00:02 rc=255",
		"1001/1/5001 LOGOUT 10:00:02",
	}
	if fmt.Sprint(heard) != fmt.Sprint(want) {
		t.Errorf("heard\n%q\nwant\n%q", heard, want)
	}
}
