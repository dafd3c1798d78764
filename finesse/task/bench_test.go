package task

import (
	"strconv"
	"testing"

	"github.com/finesse-notify/finesse-notify/finesse"
	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/pubsub"
)

// benchDirectoryYAML: 2,000 agents (ids 10001 to 12000) and a queue on
// each of the chat and task MRDs.
const benchDirectoryYAML = `
teams: [{id: 1, name: Team A}]
userRanges: [{from: 10001, to: 12000, password: p, role: Agent, team: 1}]
mediaRoutingDomains:
  - {id: 1, name: Cisco_Voice, description: Voice, voice: true}
  - {id: 5000, name: Cisco_Chat_MRD, description: Chat MRD, maxDialogLimit: 10}
  - {id: 5001, name: Cisco_Task_MRD, description: Task MRD, maxDialogLimit: 5}
scriptSelectors:
  - {name: CumulusTask, skillGroupId: 5199, queueNumber: "12282837", queueName: CumulusTask, mrd: 5001}
  - {name: ChatTask, skillGroupId: 5200, queueNumber: "5022", queueName: Chat.SG, mrd: 5000}
`

const (
	benchAgents = 2000
	benchQueued = 10000
)

// discard is a Publisher that drops what it is given (the Update is still
// rendered by the router and the registry).
type discard struct{}

func (discard) Publish(string, finesse.Update) (pubsub.Published, error) {
	return pubsub.Published{}, nil
}

type benchRouter struct {
	r      *Router
	agents *agent.Registry
	users  []directory.User
	next   int
}

func newBenchRouter(b *testing.B) *benchRouter {
	b.Helper()
	dir, err := directory.Parse([]byte(benchDirectoryYAML))
	if err != nil {
		b.Fatal(err)
	}
	agents := agent.New(agent.Config{Directory: dir, Publisher: discard{}})
	b.Cleanup(agents.Close)
	r := New(Config{Directory: dir, Agents: agents, Publisher: discard{}, MaxQueued: 2 * benchQueued})
	b.Cleanup(r.Close)
	return &benchRouter{r: r, agents: agents, users: dir.Users()}
}

func (br *benchRouter) ready(b *testing.B, u directory.User, mrd, limit int) {
	if err := br.agents.SetMedia(u.ID, mrd, agent.MediaRequest{State: agent.StateLogin, MaxDialogLimit: limit}); err != nil {
		b.Fatal(err)
	}
	if err := br.agents.SetMedia(u.ID, mrd, agent.MediaRequest{State: agent.StateReady}); err != nil {
		b.Fatal(err)
	}
}

func (br *benchRouter) submit(b *testing.B, selector string) {
	br.next++
	if err := br.r.Submit(Task{ContactID: "B" + strconv.Itoa(br.next), ScriptSelector: selector}); err != nil {
		b.Fatal(err)
	}
}

// act applies an action that must be accepted.
func (br *benchRouter) act(b *testing.B, u directory.User, id string, a Action) {
	if err := br.r.Act(u, id, ActionRequest{Action: a}); err != nil {
		b.Fatal(err)
	}
}

// openDialog returns the id of the agent's one open dialog in mrd.
func (br *benchRouter) openDialog(u directory.User, mrd int) string {
	br.r.mu.Lock()
	defer br.r.mu.Unlock()
	return br.r.slots[slotKey{user: u.ID, mrd: mrd}].dialogs[0].id
}

// BenchmarkRoute measures a routing decision with 2,000 agents signed in
// and 10,000 tasks waiting, with everything each decision publishes
// (rendered, then dropped):
//
//   - queued: the task MRD's 2,000 agents each hold one task (their
//     limit) and 10,000 tasks wait. An operation is one agent closing its
//     task, the router offering it the head of the queue, the agent
//     accepting it, and a new task joining the tail: the queue stays at
//     10,000.
//   - available: 2,000 agents are READY with room in the chat MRD (while
//     10,000 tasks wait in the task MRD). An operation is a task
//     submitted and offered to the agent available longest, accepted and
//     closed.
func BenchmarkRoute(b *testing.B) {
	b.Run("queued", func(b *testing.B) {
		br := newBenchRouter(b)
		for _, u := range br.users {
			br.ready(b, u, taskMRD, 1)
			br.submit(b, "CumulusTask")
			br.act(b, u, br.openDialog(u, taskMRD), ActionAccept)
		}
		for range benchQueued {
			br.submit(b, "CumulusTask")
		}
		if br.r.queued != benchQueued {
			b.Fatalf("%d queued", br.r.queued)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			u := br.users[i%benchAgents]
			br.act(b, u, br.openDialog(u, taskMRD), ActionClose)
			br.act(b, u, br.openDialog(u, taskMRD), ActionAccept)
			br.submit(b, "CumulusTask")
		}
	})
	b.Run("available", func(b *testing.B) {
		br := newBenchRouter(b)
		for _, u := range br.users {
			br.ready(b, u, chatMRD, 10)
		}
		for range benchQueued {
			br.submit(b, "CumulusTask")
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			br.submit(b, "ChatTask")
			br.r.mu.Lock()
			d := br.r.contacts["B"+strconv.Itoa(br.next)].dialog
			br.r.mu.Unlock()
			u := directory.User{ID: d.slot.userID}
			br.act(b, u, d.id, ActionAccept)
			br.act(b, u, d.id, ActionClose)
		}
	})
}
