package agent

import (
	"strings"
	"testing"
	"time"
)

func TestMediaSignInAndStates(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.mustMedia(t, "1001", 5000, MediaRequest{State: StateLogin, MaxDialogLimit: 3,
		InterruptAction: "IGNORE", DialogLogoutAction: "TRANSFER", RequestID: "m-1"})
	got := f.pub.all()
	if len(got) != 1 {
		t.Fatalf("media LOGIN published %d notifications, want 1: %v", len(got), got)
	}
	want := `<Update><data><Media><uri>/finesse/api/User/1001/Media/5000</uri><description>Chat MRD</description>` +
		`<dialogLogoutAction>TRANSFER</dialogLogoutAction><id>5000</id><interruptAction>IGNORE</interruptAction>` +
		`<interruptible>true</interruptible><maxDialogLimit>3</maxDialogLimit><name>Cisco_Chat_MRD</name>` +
		`<routable>true</routable><state>NOT_READY</state><stateChangeTime>2024-05-01T10:00:00.000Z</stateChangeTime>` +
		`</Media></data><event>PUT</event><requestId>m-1</requestId><source>/finesse/api/User/1001/Media/5000</source></Update>`
	if got[0].node != "/finesse/api/User/1001/Media" || string(got[0].update.Render()) != want {
		t.Fatalf("media notification on %s:\n%s\nwant on /finesse/api/User/1001/Media:\n%s", got[0].node, got[0].update.Render(), want)
	}

	// Signing in again: the error notification, the state kept, the new
	// options taken.
	f.clock.Set(fixedTime.Add(time.Minute))
	f.mustMedia(t, "1001", 5000, MediaRequest{State: StateLogin, MaxDialogLimit: 10, RequestID: "m-2"})
	got = f.pub.since(1)
	wantErr := `<Update><data><apiErrors><apiError><errorData>1</errorData><errorMedia>5000</errorMedia>` +
		`<errorMessage>E_ARM_STAT_AGENT_ALREADY_LOGGED_IN</errorMessage><errorType>Agent already logged into MRD</errorType>` +
		`</apiError></apiErrors></data><event>PUT</event><requestId>m-2</requestId><source>/finesse/api/User/1001/Media/5000</source></Update>`
	if len(got) != 1 || got[0].node != "/finesse/api/User/1001/Media" || string(got[0].update.Render()) != wantErr {
		t.Fatalf("second sign-in published %v\nwant the error:\n%s", got, wantErr)
	}
	doc, _ := f.r.MediaXML("1001", 5000)
	for name, want := range map[string]string{"state": "NOT_READY", "maxDialogLimit": "10", "interruptAction": "ACCEPT",
		"dialogLogoutAction": "CLOSE", "stateChangeTime": "2024-05-01T10:00:00.000Z"} {
		if v := field(doc, name); v != want {
			t.Errorf("after the second sign-in %s = %q, want %q", name, v, want)
		}
	}

	f.mustMedia(t, "1001", 5000, MediaRequest{State: StateReady, RequestID: "m-3"})
	f.mustMedia(t, "1001", 5000, MediaRequest{State: StateNotReady, ReasonCodeID: 3, HasReasonCode: true, RequestID: "m-4"})
	last := f.pub.all()[f.pub.len()-1]
	if !strings.Contains(string(last.update.Data), lunch+`<reasonCodeId>3</reasonCodeId><routable>true</routable><state>NOT_READY</state>`) ||
		last.update.RequestID != "m-4" {
		t.Fatalf("NOT_READY with a reason:\n%s", last.update.Render())
	}
	f.mustMedia(t, "1001", 5000, MediaRequest{State: StateLogout, RequestID: "m-5"})
	last = f.pub.all()[f.pub.len()-1]
	if field(last.update.Data, "state") != "LOGOUT" || field(last.update.Data, "routable") != "false" ||
		field(last.update.Data, "reasonCodeId") != "" {
		t.Fatalf("media LOGOUT:\n%s", last.update.Render())
	}
	if s, _ := f.r.MediaState("1001", 5001); s != StateLogout {
		t.Errorf("MRD 5001 moved to %s", s)
	}
	if s, _ := f.state(t, "1001"); s != StateLogout {
		t.Errorf("the voice state moved to %s", s)
	}
}

func TestMediaSystemStates(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateLogin})
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateReady})
	for _, s := range []State{StateReserved, StateActive, StatePaused, StateActive, StateWorkReady} {
		f.mustMedia(t, "1001", 5001, MediaRequest{State: s, Actor: ActorSystem})
	}
	// READY and NOT_READY outrank the task states.
	f.mustMedia(t, "1001", 5001, MediaRequest{State: StateNotReady})
	if s, ok := f.r.MediaState("1001", 5001); !ok || s != StateNotReady {
		t.Fatalf("media state %s", s)
	}
}

func TestSetMediaRefusals(t *testing.T) {
	cases := []struct {
		name    string
		id      string
		mrd     int
		setup   []MediaRequest
		req     MediaRequest
		status  int
		errType string
		data    string
	}{
		{name: "unknown user", id: "9999", mrd: 5000, req: MediaRequest{State: StateLogin}, status: 404, errType: ErrorTypeNotFound, data: "9999"},
		{name: "unknown MRD", id: "1001", mrd: 7, req: MediaRequest{State: StateLogin}, status: 404, errType: ErrorTypeNotFound, data: "7"},
		{name: "voice MRD", id: "1001", mrd: 1, req: MediaRequest{State: StateLogin}, status: 404, errType: ErrorTypeNotFound, data: "1"},
		{name: "no state", id: "1001", mrd: 5000, req: MediaRequest{}, status: 400, errType: ErrorTypeParameterMissing, data: "state"},
		{name: "unknown state", id: "1001", mrd: 5000, req: MediaRequest{State: "TALKING"}, status: 400, errType: ErrorTypeInvalidInput, data: "state"},
		{name: "task state", id: "1001", mrd: 5000, req: MediaRequest{State: StateActive}, status: 400, errType: ErrorTypeInvalidInput, data: "state"},
		{name: "supervisor", id: "1001", mrd: 5000, req: MediaRequest{State: StateLogin, Actor: ActorSupervisor}, status: 400, errType: ErrorTypeInvalidInput, data: "state"},
		{name: "maxDialogLimit 11", id: "1001", mrd: 5000, req: MediaRequest{State: StateLogin, MaxDialogLimit: 11}, status: 400, errType: ErrorTypeInvalidInput, data: "maxDialogLimit"},
		{name: "maxDialogLimit -1", id: "1001", mrd: 5000, req: MediaRequest{State: StateLogin, MaxDialogLimit: -1}, status: 400, errType: ErrorTypeInvalidInput, data: "maxDialogLimit"},
		{name: "maxDialogLimit over the MRD's", id: "1001", mrd: 5001, req: MediaRequest{State: StateLogin, MaxDialogLimit: 6}, status: 400, errType: ErrorTypeInvalidInput, data: "maxDialogLimit"},
		{name: "bad interruptAction", id: "1001", mrd: 5000, req: MediaRequest{State: StateLogin, InterruptAction: "accept"}, status: 400, errType: ErrorTypeInvalidInput, data: "interruptAction"},
		{name: "bad dialogLogoutAction", id: "1001", mrd: 5000, req: MediaRequest{State: StateLogin, DialogLogoutAction: "DROP"}, status: 400, errType: ErrorTypeInvalidInput, data: "dialogLogoutAction"},
		{name: "bad options on a second sign-in", id: "1001", mrd: 5000, setup: []MediaRequest{{State: StateLogin}},
			req: MediaRequest{State: StateLogin, MaxDialogLimit: 12}, status: 400, errType: ErrorTypeInvalidInput, data: "maxDialogLimit"},
		{name: "READY while signed out", id: "1001", mrd: 5000, req: MediaRequest{State: StateReady}, status: 400, errType: ErrorTypeInvalidState, data: "state"},
		{name: "LOGOUT while signed out", id: "1001", mrd: 5000, req: MediaRequest{State: StateLogout}, status: 400, errType: ErrorTypeInvalidState, data: "state"},
		{name: "READY from READY", id: "1001", mrd: 5000, setup: []MediaRequest{{State: StateLogin}, {State: StateReady}},
			req: MediaRequest{State: StateReady}, status: 400, errType: ErrorTypeInvalidState, data: "state"},
		{name: "reason code with READY", id: "1001", mrd: 5000, setup: []MediaRequest{{State: StateLogin}},
			req: MediaRequest{State: StateReady, ReasonCodeID: 1}, status: 400, errType: ErrorTypeInvalidInput, data: "reasonCodeId"},
		{name: "reason code with LOGOUT", id: "1001", mrd: 5000, setup: []MediaRequest{{State: StateLogin}},
			req: MediaRequest{State: StateLogout, ReasonCodeID: 11}, status: 400, errType: ErrorTypeInvalidInput, data: "reasonCodeId"},
		{name: "LOGOUT code with NOT_READY", id: "1001", mrd: 5000, setup: []MediaRequest{{State: StateLogin}},
			req: MediaRequest{State: StateNotReady, ReasonCodeID: 11}, status: 400, errType: ErrorTypeInvalidInput, data: "reasonCodeId"},
		{name: "system code", id: "1001", mrd: 5000, setup: []MediaRequest{{State: StateLogin}},
			req: MediaRequest{State: StateNotReady, ReasonCodeID: 104}, status: 400, errType: ErrorTypeInvalidInput, data: "reasonCodeId"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil, nil)
			for _, s := range c.setup {
				f.mustMedia(t, c.id, c.mrd, s)
			}
			before, _ := f.r.MediaListXML(c.id)
			n := f.pub.len()
			err := f.r.SetMedia(c.id, c.mrd, c.req)
			if err == nil {
				t.Fatalf("SetMedia(%s, %d, %+v) accepted", c.id, c.mrd, c.req)
			}
			if err.Status != c.status || err.Type != c.errType || err.Data != c.data || err.Message == "" {
				t.Fatalf("got %+v, want status %d type %q data %q and a message", err, c.status, c.errType, c.data)
			}
			if got := f.pub.since(n); len(got) != 0 {
				t.Errorf("a refused request published %v", got)
			}
			if after, _ := f.r.MediaListXML(c.id); string(after) != string(before) {
				t.Errorf("a refused request changed the media:\n%s\nto\n%s", before, after)
			}
		})
	}
}
