package app

import (
	"runtime/debug"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/iproc"
)

// InteractionProcessorPath is where the Interaction Processor service
// takes WebSocket connections, on the REST listener.
const InteractionProcessorPath = "/interaction-processor"

// The service descriptor's CTI: the Finesse release whose behaviour the
// server follows (FINESSE-REFERENCE.md's sources are 12.5 and 12.6).
const (
	ctiVendor  = "Cisco"
	ctiVersion = "12.6(1)"
)

// Version is the module version the binary was built from ("devel" for a
// build from a working tree).
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// iprocAgents shows the agent registry to the Interaction Processor: voice
// states with their reason codes, and the registry's ordered changes.
type iprocAgents struct {
	agents *agent.Registry
	dir    *directory.Directory
}

func (a iprocAgents) State(userID string) (agent.State, *directory.ReasonCode, bool) {
	state, reasonID, ok := a.agents.State(userID)
	if !ok {
		return "", nil, false
	}
	if reasonID == 0 {
		return state, nil, true
	}
	rc, found := a.dir.ReasonCode(reasonID)
	if !found {
		return state, nil, true
	}
	return state, &rc, true
}

// Subscribe passes on the voice changes; the registry's ordering promise
// (per user, under the user's lock) carries over.
func (a iprocAgents) Subscribe(f func(iproc.StateChange)) {
	a.agents.AddListener(func(c agent.Change) {
		if c.MRDID != 0 {
			return
		}
		f(iproc.StateChange{UserID: c.UserID, TeamID: c.TeamID, State: c.State, Reason: c.ReasonCode, At: c.At})
	})
}
