package agent

import (
	"fmt"
	"strings"
	"testing"
)

// The expected machines, written out flat: one line per current state,
// "FROM: TO/effect TO/effect …". Every (from, to) pair not listed must be
// refused, as notSettable when the actor may never ask for to, as
// illegalTransition otherwise. The tables are written independently of
// userRules and mediaRules, from the developer guide's transition lists.

const wantSelf = `
LOGOUT: LOGIN/enter
NOT_READY: LOGIN/keep READY/enter NOT_READY/enter LOGOUT/enter
READY: LOGIN/keep NOT_READY/enter
RESERVED: LOGIN/keep
RESERVED_OUTBOUND: LOGIN/keep READY/enter NOT_READY/enter
RESERVED_OUTBOUND_PREVIEW: LOGIN/keep NOT_READY/pend
TALKING: LOGIN/keep READY/pend NOT_READY/pend
HOLD: LOGIN/keep READY/pend NOT_READY/pend
WORK: LOGIN/keep READY/enter NOT_READY/enter
WORK_READY: LOGIN/keep READY/enter NOT_READY/enter
UNKNOWN: LOGIN/keep
`

const wantSupervisor = `
LOGOUT:
NOT_READY: READY/enter LOGOUT/enter
READY: NOT_READY/enter LOGOUT/enter
RESERVED: LOGOUT/enter
RESERVED_OUTBOUND: LOGOUT/enter
RESERVED_OUTBOUND_PREVIEW: LOGOUT/enter
TALKING: LOGOUT/pend
HOLD: LOGOUT/pend
WORK: READY/enter NOT_READY/enter LOGOUT/enter
WORK_READY: READY/enter NOT_READY/enter LOGOUT/enter
UNKNOWN: LOGOUT/enter
`

const wantSystem = `
LOGOUT: UNKNOWN/enter
NOT_READY: TALKING/enter LOGOUT/enter UNKNOWN/enter
READY: RESERVED/enter RESERVED_OUTBOUND/enter RESERVED_OUTBOUND_PREVIEW/enter NOT_READY/enter LOGOUT/enter UNKNOWN/enter
RESERVED: TALKING/enter READY/enter NOT_READY/enter LOGOUT/enter UNKNOWN/enter
RESERVED_OUTBOUND: TALKING/enter READY/enter NOT_READY/enter LOGOUT/enter UNKNOWN/enter
RESERVED_OUTBOUND_PREVIEW: TALKING/enter READY/enter NOT_READY/enter LOGOUT/enter UNKNOWN/enter
TALKING: HOLD/enter READY/enter NOT_READY/enter WORK/enter WORK_READY/enter LOGOUT/enter UNKNOWN/enter
HOLD: TALKING/enter READY/enter NOT_READY/enter WORK/enter WORK_READY/enter LOGOUT/enter UNKNOWN/enter
WORK: NOT_READY/enter LOGOUT/enter UNKNOWN/enter
WORK_READY: READY/enter LOGOUT/enter UNKNOWN/enter
UNKNOWN: NOT_READY/enter READY/enter LOGOUT/enter
`

const wantMediaSelf = `
LOGOUT: LOGIN/enter
NOT_READY: LOGIN/keep READY/enter NOT_READY/enter LOGOUT/enter
READY: LOGIN/keep NOT_READY/enter LOGOUT/enter
RESERVED: LOGIN/keep READY/enter NOT_READY/enter LOGOUT/enter
ACTIVE: LOGIN/keep READY/enter NOT_READY/enter LOGOUT/enter
PAUSED: LOGIN/keep READY/enter NOT_READY/enter LOGOUT/enter
INTERRUPTED: LOGIN/keep READY/enter NOT_READY/enter LOGOUT/enter
WORK_READY: LOGIN/keep READY/enter NOT_READY/enter LOGOUT/enter
WORK_NOT_READY: LOGIN/keep READY/enter NOT_READY/enter LOGOUT/enter
`

const wantMediaSystem = `
LOGOUT:
NOT_READY: INTERRUPTED/enter WORK_NOT_READY/enter LOGOUT/enter
READY: RESERVED/enter INTERRUPTED/enter NOT_READY/enter WORK_NOT_READY/enter LOGOUT/enter
RESERVED: ACTIVE/enter READY/enter NOT_READY/enter INTERRUPTED/enter WORK_NOT_READY/enter LOGOUT/enter
ACTIVE: PAUSED/enter WORK_READY/enter READY/enter NOT_READY/enter INTERRUPTED/enter WORK_NOT_READY/enter LOGOUT/enter
PAUSED: ACTIVE/enter WORK_READY/enter READY/enter NOT_READY/enter INTERRUPTED/enter WORK_NOT_READY/enter LOGOUT/enter
INTERRUPTED: READY/enter NOT_READY/enter RESERVED/enter ACTIVE/enter PAUSED/enter WORK_READY/enter WORK_NOT_READY/enter LOGOUT/enter
WORK_READY: ACTIVE/enter READY/enter NOT_READY/enter INTERRUPTED/enter WORK_NOT_READY/enter LOGOUT/enter
WORK_NOT_READY: READY/enter NOT_READY/enter LOGOUT/enter
`

// parseWant reads an expected table into (from, to) → effect and the set
// of states the actor may ask for.
func parseWant(t *testing.T, table string) (map[[2]State]effect, map[State]bool) {
	t.Helper()
	legalPairs := make(map[[2]State]effect)
	settable := make(map[State]bool)
	for _, line := range strings.Split(strings.TrimSpace(table), "\n") {
		from, rest, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("bad table line %q", line)
		}
		for _, item := range strings.Fields(rest) {
			to, e, ok := strings.Cut(item, "/")
			if !ok {
				t.Fatalf("bad table item %q", item)
			}
			var eff effect
			switch e {
			case "enter":
				eff = enter
			case "pend":
				eff = pend
			case "keep":
				eff = keep
			default:
				t.Fatalf("bad effect %q", e)
			}
			legalPairs[[2]State{State(from), State(to)}] = eff
			settable[State(to)] = true
		}
	}
	return legalPairs, settable
}

func TestStateMachines(t *testing.T) {
	cases := []struct {
		name      string
		m         *machine
		actor     Actor
		want      string
		from, req []State
	}{
		{"user/self", userMachine, ActorSelf, wantSelf, userStates, userRequestable},
		{"user/supervisor", userMachine, ActorSupervisor, wantSupervisor, userStates, userRequestable},
		{"user/administrator", userMachine, ActorAdministrator, wantSupervisor, userStates, userRequestable},
		{"user/system", userMachine, ActorSystem, wantSystem, userStates, userRequestable},
		{"media/self", mediaMachine, ActorSelf, wantMediaSelf, mediaStates, mediaRequestable},
		{"media/supervisor", mediaMachine, ActorSupervisor, "LOGOUT:", mediaStates, mediaRequestable},
		{"media/administrator", mediaMachine, ActorAdministrator, "LOGOUT:", mediaStates, mediaRequestable},
		{"media/system", mediaMachine, ActorSystem, wantMediaSystem, mediaStates, mediaRequestable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			legalPairs, settable := parseWant(t, c.want)
			seen := 0
			for _, from := range c.from {
				for _, to := range c.req {
					t.Run(fmt.Sprintf("%s→%s", from, to), func(t *testing.T) {
						e, v := c.m.check(c.actor, from, to)
						wantE, isLegal := legalPairs[[2]State{from, to}]
						switch {
						case isLegal:
							seen++
							if v != legal || e != wantE {
								t.Fatalf("got %s (verdict %d), want legal %s", e, v, wantE)
							}
						case !settable[to]:
							if v != notSettable {
								t.Fatalf("got verdict %d (%s), want notSettable", v, e)
							}
						default:
							if v != illegalTransition {
								t.Fatalf("got verdict %d (%s), want illegalTransition", v, e)
							}
						}
					})
				}
			}
			if seen != len(legalPairs) {
				t.Fatalf("the expected table names %d legal pairs, the states cover %d: a typo in it", len(legalPairs), seen)
			}
		})
	}
}

func TestStateMachinesRefuseUnknownStates(t *testing.T) {
	for _, s := range []State{"", "ready", "BUSY", "LOGIN ", "WORK_NOT_READY"} {
		for _, actor := range []Actor{ActorSelf, ActorSupervisor, ActorAdministrator, ActorSystem} {
			if _, v := userMachine.check(actor, StateNotReady, s); v != unknownState {
				t.Errorf("user %s asks %q: verdict %d, want unknownState", actor, s, v)
			}
		}
	}
	for _, s := range []State{"", "not_ready", "TALKING", "HOLD", "WORK"} {
		if _, v := mediaMachine.check(ActorSelf, StateNotReady, s); v != unknownState {
			t.Errorf("media asks %q: verdict %d, want unknownState", s, v)
		}
	}
}

func TestResolvePending(t *testing.T) {
	cases := []struct {
		pending, target, want State
		used                  bool
	}{
		{StateNotReady, StateReady, StateNotReady, true},
		{StateNotReady, StateNotReady, StateNotReady, true},
		{StateNotReady, StateWorkReady, StateWork, false},
		{StateNotReady, StateWork, StateWork, false},
		{StateReady, StateNotReady, StateReady, true},
		{StateReady, StateReady, StateReady, true},
		{StateReady, StateWork, StateWorkReady, false},
		{StateReady, StateWorkReady, StateWorkReady, false},
		{StateLogout, StateReady, StateLogout, true},
		{StateLogout, StateWork, StateLogout, true},
	}
	for _, c := range cases {
		got, used := resolvePending(c.pending, c.target)
		if got != c.want || used != c.used {
			t.Errorf("resolvePending(%s, %s) = %s, %v; want %s, %v", c.pending, c.target, got, used, c.want, c.used)
		}
	}
}

func TestActorString(t *testing.T) {
	for a, want := range map[Actor]string{ActorSelf: "self", ActorSupervisor: "supervisor",
		ActorAdministrator: "administrator", ActorSystem: "system", Actor(9): "Actor(9)"} {
		if got := a.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(a), got, want)
		}
	}
}
