package agent

import "strconv"

// State is an agent state, as Finesse spells it in XML: a voice (user)
// state or a non-voice media state.
type State string

// Voice (user) states. LOGIN is a request, never a state an agent stays
// in: it lands in NOT_READY.
const (
	StateLogin                   State = "LOGIN"
	StateLogout                  State = "LOGOUT"
	StateReady                   State = "READY"
	StateNotReady                State = "NOT_READY"
	StateReserved                State = "RESERVED"
	StateReservedOutbound        State = "RESERVED_OUTBOUND"
	StateReservedOutboundPreview State = "RESERVED_OUTBOUND_PREVIEW"
	StateTalking                 State = "TALKING"
	StateHold                    State = "HOLD"
	StateWork                    State = "WORK"
	StateWorkReady               State = "WORK_READY"
	StateUnknown                 State = "UNKNOWN"
)

// Non-voice media states that the voice machine does not have. A media
// routing domain also uses LOGIN, LOGOUT, READY, NOT_READY, RESERVED and
// WORK_READY.
const (
	StateActive       State = "ACTIVE"
	StatePaused       State = "PAUSED"
	StateInterrupted  State = "INTERRUPTED"
	StateWorkNotReady State = "WORK_NOT_READY"
)

// Actor is who asks for a change: the agent itself, a supervisor of its
// team, an administrator, or the system (call control, timers, the
// forced logout). The zero value is ActorSelf.
type Actor int

// The actors.
const (
	ActorSelf Actor = iota
	ActorSupervisor
	ActorAdministrator
	ActorSystem
)

var actorNames = [...]string{
	ActorSelf:          "self",
	ActorSupervisor:    "supervisor",
	ActorAdministrator: "administrator",
	ActorSystem:        "system",
}

func (a Actor) String() string {
	if a >= 0 && int(a) < len(actorNames) {
		return actorNames[a]
	}
	return "Actor(" + strconv.Itoa(int(a)) + ")"
}

// effect is what a legal request does.
type effect int

const (
	// enter: the agent enters the requested state (LOGIN enters
	// NOT_READY).
	enter effect = iota + 1
	// pend: the state stays; the request becomes the pending state,
	// applied when the system ends the call.
	pend
	// keep: nothing changes (a second LOGIN).
	keep
)

func (e effect) String() string {
	switch e {
	case enter:
		return "enter"
	case pend:
		return "pend"
	case keep:
		return "keep"
	}
	return "none"
}

// rule says that, for its actor, a request for state to from any of
// states from has effect.
type rule struct {
	from   []State
	to     []State
	effect effect
}

// userStates are the voice states an agent can be in (LOGIN is
// transient).
var userStates = []State{
	StateLogout, StateNotReady, StateReady, StateReserved, StateReservedOutbound,
	StateReservedOutboundPreview, StateTalking, StateHold, StateWork, StateWorkReady, StateUnknown,
}

// userRequestable are the states anyone may ask for, for the error
// that tells an unknown state (Invalid Input) from one the actor may not
// set (also Invalid Input) and from an illegal transition (Invalid State).
var userRequestable = append([]State{StateLogin}, userStates...)

// signedIn lists every voice state but LOGOUT.
var signedIn = userStates[1:]

// callStates are the states in which a change asked for by an agent or
// supervisor waits for the call to end.
var callStates = []State{StateTalking, StateHold}

// supervisorRules are the supervisor's and the administrator's: READY and
// NOT_READY out of idle and wrap-up states, LOGOUT from any signed-in
// state (pending during a call). Never LOGIN.
var supervisorRules = []rule{
	{from: []State{StateNotReady, StateWork, StateWorkReady}, to: []State{StateReady}, effect: enter},
	{from: []State{StateReady, StateWork, StateWorkReady}, to: []State{StateNotReady}, effect: enter},
	{from: []State{StateNotReady, StateReady, StateReserved, StateReservedOutbound, StateReservedOutboundPreview,
		StateWork, StateWorkReady, StateUnknown}, to: []State{StateLogout}, effect: enter},
	{from: callStates, to: []State{StateLogout}, effect: pend},
}

// userRules is the Unified CCE voice state machine (FINESSE-REFERENCE
// §4.1; Cisco's developer guide, "User—Change Agent State").
var userRules = map[Actor][]rule{
	ActorSelf: {
		{from: []State{StateLogout}, to: []State{StateLogin}, effect: enter},
		{from: signedIn, to: []State{StateLogin}, effect: keep},
		{from: []State{StateNotReady}, to: []State{StateReady, StateNotReady, StateLogout}, effect: enter},
		{from: []State{StateReady}, to: []State{StateNotReady}, effect: enter},
		{from: []State{StateReservedOutbound}, to: []State{StateReady, StateNotReady}, effect: enter},
		{from: []State{StateReservedOutboundPreview}, to: []State{StateNotReady}, effect: pend},
		{from: callStates, to: []State{StateReady, StateNotReady}, effect: pend},
		{from: []State{StateWork, StateWorkReady}, to: []State{StateReady, StateNotReady}, effect: enter},
	},
	ActorSupervisor:    supervisorRules,
	ActorAdministrator: supervisorRules,
	ActorSystem: {
		{from: []State{StateNotReady}, to: []State{StateTalking}, effect: enter},
		{from: []State{StateReady}, to: []State{StateReserved, StateReservedOutbound, StateReservedOutboundPreview, StateNotReady}, effect: enter},
		{from: []State{StateReserved, StateReservedOutbound, StateReservedOutboundPreview}, to: []State{StateTalking, StateReady, StateNotReady}, effect: enter},
		{from: []State{StateTalking}, to: []State{StateHold, StateReady, StateNotReady, StateWork, StateWorkReady}, effect: enter},
		{from: []State{StateHold}, to: []State{StateTalking, StateReady, StateNotReady, StateWork, StateWorkReady}, effect: enter},
		{from: []State{StateWork}, to: []State{StateNotReady}, effect: enter},
		{from: []State{StateWorkReady}, to: []State{StateReady}, effect: enter},
		{from: []State{StateUnknown}, to: []State{StateNotReady, StateReady}, effect: enter},
		{from: signedIn, to: []State{StateLogout}, effect: enter},
		{from: without(userStates, StateUnknown), to: []State{StateUnknown}, effect: enter},
	},
}

// mediaStates are the states an agent can be in within a non-voice MRD.
var mediaStates = []State{
	StateLogout, StateNotReady, StateReady, StateReserved, StateActive, StatePaused,
	StateInterrupted, StateWorkReady, StateWorkNotReady,
}

var mediaRequestable = append([]State{StateLogin}, mediaStates...)

var mediaSignedIn = mediaStates[1:]

// mediaRules is the non-voice media state machine (FINESSE-REFERENCE §4.3;
// "Agent States for Nonvoice Media"). READY and NOT_READY outrank the task
// states, so an agent may ask for either whatever its tasks are doing.
// Supervisors and administrators have no rule: users act only on their
// own media.
var mediaRules = map[Actor][]rule{
	ActorSelf: {
		{from: []State{StateLogout}, to: []State{StateLogin}, effect: enter},
		{from: mediaSignedIn, to: []State{StateLogin}, effect: keep},
		{from: mediaSignedIn, to: []State{StateNotReady, StateLogout}, effect: enter},
		{from: without(mediaSignedIn, StateReady), to: []State{StateReady}, effect: enter},
	},
	ActorSystem: {
		{from: []State{StateReady}, to: []State{StateReserved, StateInterrupted, StateNotReady}, effect: enter},
		{from: []State{StateNotReady}, to: []State{StateInterrupted}, effect: enter},
		{from: []State{StateReserved}, to: []State{StateActive, StateReady, StateNotReady, StateInterrupted}, effect: enter},
		{from: []State{StateActive}, to: []State{StatePaused, StateWorkReady, StateReady, StateNotReady, StateInterrupted}, effect: enter},
		{from: []State{StatePaused}, to: []State{StateActive, StateWorkReady, StateReady, StateNotReady, StateInterrupted}, effect: enter},
		{from: []State{StateWorkReady}, to: []State{StateActive, StateReady, StateNotReady, StateInterrupted}, effect: enter},
		{from: []State{StateInterrupted}, to: []State{StateReady, StateNotReady, StateReserved, StateActive, StatePaused, StateWorkReady}, effect: enter},
		{from: []State{StateWorkNotReady}, to: []State{StateReady, StateNotReady}, effect: enter},
		{from: without(mediaSignedIn, StateWorkNotReady), to: []State{StateWorkNotReady}, effect: enter},
		{from: mediaSignedIn, to: []State{StateLogout}, effect: enter},
	},
}

func without(states []State, drop State) []State {
	out := make([]State, 0, len(states))
	for _, s := range states {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

// machine is a compiled rule table: per actor, per (from, to), the effect.
type machine struct {
	requestable map[State]bool
	rules       map[Actor]map[[2]State]effect
	// settable holds, per actor, the states it may ask for at all.
	settable map[Actor]map[State]bool
}

func compile(requestable []State, rules map[Actor][]rule) *machine {
	m := &machine{
		requestable: make(map[State]bool),
		rules:       make(map[Actor]map[[2]State]effect),
		settable:    make(map[Actor]map[State]bool),
	}
	for _, s := range requestable {
		m.requestable[s] = true
	}
	for actor, rs := range rules {
		table := make(map[[2]State]effect)
		settable := make(map[State]bool)
		for _, r := range rs {
			for _, to := range r.to {
				settable[to] = true
				for _, from := range r.from {
					if _, dup := table[[2]State{from, to}]; dup {
						panic("agent: two rules for " + actor.String() + " " + string(from) + "→" + string(to))
					}
					table[[2]State{from, to}] = r.effect
				}
			}
		}
		m.rules[actor] = table
		m.settable[actor] = settable
	}
	return m
}

// The compiled machines are built once and only read afterwards.
var (
	userMachine  = compile(userRequestable, userRules)
	mediaMachine = compile(mediaRequestable, mediaRules)
)

// check is the machine's verdict on actor asking for to from from.
type verdict int

const (
	legal verdict = iota
	unknownState
	notSettable
	illegalTransition
)

func (m *machine) check(actor Actor, from, to State) (effect, verdict) {
	switch {
	case !m.requestable[to]:
		return 0, unknownState
	case !m.settable[actor][to]:
		return 0, notSettable
	}
	e, ok := m.rules[actor][[2]State{from, to}]
	if !ok {
		return 0, illegalTransition
	}
	return e, legal
}

// resolvePending decides where the system's move out of a call lands
// when the agent (or a supervisor) asked for a change during the call:
// a pending LOGOUT wins; a pending NOT_READY turns READY into NOT_READY
// and WORK_READY into WORK; a pending READY turns NOT_READY into READY
// and WORK into WORK_READY. It reports whether the pending request was
// used (its reason code then goes with it).
func resolvePending(pending, target State) (State, bool) {
	switch pending {
	case StateLogout:
		return StateLogout, true
	case StateNotReady:
		switch target {
		case StateReady, StateNotReady:
			return StateNotReady, true
		case StateWorkReady, StateWork:
			return StateWork, false
		}
	case StateReady:
		switch target {
		case StateReady, StateNotReady:
			return StateReady, true
		case StateWork, StateWorkReady:
			return StateWorkReady, false
		}
	}
	return target, false
}

// endsCall reports whether the system moving from from to to ends the
// agent's call (so that a pending state is due).
func endsCall(from, to State) bool {
	inCall := func(s State) bool {
		switch s {
		case StateTalking, StateHold, StateReserved, StateReservedOutbound, StateReservedOutboundPreview:
			return true
		}
		return false
	}
	return inCall(from) && !inCall(to)
}
