package task

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/finesse"
	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/presence"
	"github.com/finesse-notify/finesse-notify/pubsub"
	"github.com/finesse-notify/finesse-notify/server"
	"github.com/finesse-notify/finesse-notify/server/servertest"
)

// testDirectoryYAML: four agents of one team and a supervisor, the RONA
// system code, the voice, chat and task MRDs, and a queue on each
// non-voice MRD.
const testDirectoryYAML = `
teams: [{id: 1, name: Team A}]
users:
  - {id: "1001", password: p, firstName: Alice, lastName: Adams, role: Agent, team: 1, extension: "3001"}
  - {id: "1002", password: p, firstName: Bob, lastName: Brown, role: Agent, team: 1, extension: "3002"}
  - {id: "1003", password: p, firstName: Carol, lastName: Chen, role: Agent, team: 1, extension: "3003"}
  - {id: "1004", password: p, firstName: Dan, lastName: Diaz, role: Agent, team: 1, extension: "3004"}
  - {id: "2001", password: p, firstName: Sofia, lastName: Santos, role: Supervisor, team: 1, extension: "3201"}
reasonCodes:
  - {id: 1, category: NOT_READY, code: 10, label: Meeting, forAll: true}
  - {id: 101, category: LOGOUT, code: 255, label: Connection Lost, forAll: true, systemCode: true}
  - {id: 104, category: NOT_READY, code: 32767, label: Call Not Answered (RONA), forAll: true, systemCode: true}
mediaRoutingDomains:
  - {id: 1, name: Cisco_Voice, description: Voice, voice: true}
  - {id: 5000, name: Cisco_Chat_MRD, description: Chat MRD, interruptible: true, maxDialogLimit: 10}
  - {id: 5001, name: Cisco_Task_MRD, description: Task MRD, maxDialogLimit: 5}
scriptSelectors:
  - {name: CumulusTask, skillGroupId: 5199, queueNumber: "12282837", queueName: CumulusTask, mrd: 5001}
  - {name: ChatTask, dialedNumber: "8005551212", skillGroupId: 5200, queueNumber: "5022", queueName: Chat.SG, mrd: 5000}
`

const taskMRD, chatMRD = 5001, 5000

// t0 is the test clock's start: 30 January 2024, router call key day
// 154526 (the seed's).
var t0 = time.Date(2024, 1, 30, 13, 55, 49, 426e6, time.UTC)

// published is one Publish call.
type published struct {
	node   string
	update finesse.Update
}

// recorder is a Publisher that keeps what is published.
type recorder struct {
	mu   sync.Mutex
	list []published
	// wake gets a token after every Publish, for waiters.
	wake chan struct{}
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 1)} }

func (p *recorder) Publish(node string, u finesse.Update) (pubsub.Published, error) {
	u.Data = bytes.Clone(u.Data)
	p.mu.Lock()
	p.list = append(p.list, published{node: node, update: u})
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return pubsub.Published{Node: node, ItemID: "item", Deliveries: 1}, nil
}

// take returns what was published since the last take.
func (p *recorder) take() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.list
	p.list = nil
	return out
}

// waitFor waits until something published satisfies match. The deadline
// only bounds a broken test.
func (p *recorder) waitFor(t *testing.T, what string, match func(published) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		p.mu.Lock()
		for _, x := range p.list {
			if match(x) {
				p.mu.Unlock()
				return
			}
		}
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-deadline:
			t.Fatalf("nothing published %s", what)
		}
	}
}

// observer records the contact events as strings, in order.
type observer struct {
	mu     sync.Mutex
	events []string
}

func (o *observer) add(format string, args ...any) {
	o.mu.Lock()
	o.events = append(o.events, fmt.Sprintf(format, args...))
	o.mu.Unlock()
}

func (o *observer) ContactQueued(id string, wait time.Duration) { o.add("queued %s %v", id, wait) }
func (o *observer) ContactReserved(id, taskID, agentID string, mrdID int) {
	o.add("reserved %s %s %s %d", id, taskID, agentID, mrdID)
}
func (o *observer) ContactHandled(id string)           { o.add("handled %s", id) }
func (o *observer) ContactDiscarded(id, reason string) { o.add("discarded %s %s", id, reason) }

func (o *observer) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.events
	o.events = nil
	return out
}

// fakeTimer is an offer timer the test fires.
type fakeTimer struct {
	d       time.Duration
	f       func()
	stopped atomic.Bool
}

func (t *fakeTimer) Stop() bool { return !t.stopped.Swap(true) }

type fixture struct {
	t      *testing.T
	dir    *directory.Directory
	agents *agent.Registry
	router *Router
	pub    *recorder
	obs    *observer
	clock  *servertest.Clock

	mu     sync.Mutex
	timers []*fakeTimer
}

func newFixture(t *testing.T, yaml string, adjust func(*Config)) *fixture {
	t.Helper()
	if yaml == "" {
		yaml = testDirectoryYAML
	}
	dir, err := directory.Parse([]byte(strings.TrimSpace(yaml)))
	if err != nil {
		t.Fatalf("directory: %v", err)
	}
	f := &fixture{t: t, dir: dir, pub: newRecorder(), obs: &observer{}, clock: servertest.NewClock(t0)}
	f.agents = agent.New(agent.Config{Directory: dir, Publisher: f.pub, Now: f.clock.Now, LogoutGrace: time.Millisecond})
	t.Cleanup(f.agents.Close)
	cfg := Config{Directory: dir, Agents: f.agents, Publisher: f.pub, Observer: f.obs, Now: f.clock.Now,
		afterFunc: func(d time.Duration, fn func()) stopper {
			f.mu.Lock()
			defer f.mu.Unlock()
			tm := &fakeTimer{d: d, f: fn}
			f.timers = append(f.timers, tm)
			return tm
		}}
	if adjust != nil {
		adjust(&cfg)
	}
	f.router = New(cfg)
	t.Cleanup(f.router.Close)
	return f
}

// fireTimers fires every offer timer started and not stopped so far.
func (f *fixture) fireTimers() int {
	f.mu.Lock()
	var due []*fakeTimer
	for _, tm := range f.timers {
		if !tm.stopped.Swap(true) {
			due = append(due, tm)
		}
	}
	f.mu.Unlock()
	for _, tm := range due {
		tm.f()
	}
	return len(due)
}

// media applies an agent's media request, which must succeed.
func (f *fixture) media(id string, mrd int, req agent.MediaRequest) {
	f.t.Helper()
	if err := f.agents.SetMedia(id, mrd, req); err != nil {
		f.t.Fatalf("SetMedia(%s, %d, %+v): %v", id, mrd, req, err)
	}
}

// ready signs id in to mrd with limit and makes it READY.
func (f *fixture) ready(id string, mrd, limit int) {
	f.t.Helper()
	f.media(id, mrd, agent.MediaRequest{State: agent.StateLogin, MaxDialogLimit: limit})
	f.media(id, mrd, agent.MediaRequest{State: agent.StateReady})
}

func (f *fixture) submit(contact, selector string, vars ...Variable) {
	f.t.Helper()
	if err := f.router.Submit(Task{ContactID: contact, ScriptSelector: selector, Variables: vars}); err != nil {
		f.t.Fatalf("Submit(%s): %v", contact, err)
	}
}

// act applies user's action on dialog id, which must be accepted.
func (f *fixture) act(user, id string, req ActionRequest) {
	f.t.Helper()
	u, _ := f.dir.User(user)
	if err := f.router.Act(u, id, req); err != nil {
		f.t.Fatalf("%s %s on %s: %v", user, req.Action, id, err)
	}
}

func (f *fixture) mediaState(id string, mrd int) agent.State {
	f.t.Helper()
	s, ok := f.agents.MediaState(id, mrd)
	if !ok {
		f.t.Fatalf("no media %d for %s", mrd, id)
	}
	return s
}

// dialogDoc is what a test reads of a Dialog.
type dialogDoc struct {
	ID          string   `xml:"id"`
	State       string   `xml:"state"`
	MediaType   string   `xml:"mediaType"`
	Disposition string   `xml:"dispositionCode"`
	MediaID     string   `xml:"mediaProperties>mediaId"`
	Queue       string   `xml:"mediaProperties>queueName"`
	Actions     []string `xml:"participants>Participant>actions>action"`
	Address     string   `xml:"participants>Participant>mediaAddress"`
	Variables   []struct {
		Name  string `xml:"name"`
		Value string `xml:"value"`
	} `xml:"mediaProperties>callvariables>CallVariable"`
}

// event is a Dialogs/Media notification, parsed.
type event struct {
	user      string // whose node
	kind      string // POST, PUT, DELETE
	source    string
	requestID string
	dialog    dialogDoc
	errorData string // of an apiErrors notification
	errorType string
}

// dialogEvents parses the Dialogs/Media notifications among ps, in order,
// and fails on anything that is not one.
func dialogEvents(t *testing.T, ps []published) []event {
	t.Helper()
	var out []event
	for _, p := range ps {
		if !strings.HasSuffix(p.node, "/Dialogs/Media") {
			continue
		}
		ev := event{user: strings.TrimSuffix(strings.TrimPrefix(p.node, "/finesse/api/User/"), "/Dialogs/Media"),
			kind: p.update.Event, source: p.update.Source, requestID: p.update.RequestID}
		data := p.update.Data
		switch {
		case bytes.HasPrefix(data, []byte("<dialogs><Dialog>")):
			var doc struct {
				Dialogs []dialogDoc `xml:"Dialog"`
			}
			if err := xml.Unmarshal(data, &doc); err != nil || len(doc.Dialogs) != 1 {
				t.Fatalf("bad <dialogs>: %v\n%s", err, data)
			}
			ev.dialog = doc.Dialogs[0]
		case bytes.HasPrefix(data, []byte("<dialog>")):
			if err := xml.Unmarshal(data, &ev.dialog); err != nil {
				t.Fatalf("bad <dialog>: %v\n%s", err, data)
			}
		case bytes.HasPrefix(data, []byte("<apiErrors>")):
			var doc struct {
				Data string `xml:"apiError>errorData"`
				Type string `xml:"apiError>errorType"`
			}
			if err := xml.Unmarshal(data, &doc); err != nil {
				t.Fatalf("bad <apiErrors>: %v\n%s", err, data)
			}
			ev.errorData, ev.errorType = doc.Data, doc.Type
		default:
			t.Fatalf("unexpected Dialogs/Media data: %s", data)
		}
		out = append(out, ev)
	}
	return out
}

// mediaEvents returns the states of the Media notifications among ps for
// MRD mrd, in order.
func mediaStates(ps []published, mrd int) []string {
	var out []string
	for _, p := range ps {
		if strings.HasSuffix(p.node, "/Media") && strings.HasSuffix(p.update.Source, fmt.Sprintf("/Media/%d", mrd)) {
			var m struct {
				State string `xml:"state"`
			}
			if xml.Unmarshal(p.update.Data, &m) == nil {
				out = append(out, m.State)
			}
		}
	}
	return out
}

// summary renders events compactly: "POST 1001 154526_1_1 OFFERED".
func summary(evs []event) []string {
	var out []string
	for _, e := range evs {
		s := e.kind + " " + e.user + " " + e.dialog.ID + " " + e.dialog.State
		if e.dialog.Disposition != "" {
			s += " " + e.dialog.Disposition
		}
		if e.errorType != "" {
			s = e.kind + " " + e.user + " error " + e.errorType
		}
		out = append(out, s)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func wantStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// forceLogout makes id's last resource go away; the registry's logout
// grace (1 ms in the fixture) then logs it out on its timer's goroutine.
func forceLogout(t *testing.T, agents *agent.Registry, id string) {
	t.Helper()
	agents.PresenceEvent(presence.Event{Kind: presence.Unavailable,
		JID: server.JID{Local: strings.ToLower(id), Domain: "finesse.example.com", Resource: "desktop"}})
}
