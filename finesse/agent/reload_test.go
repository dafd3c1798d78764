package agent

import (
	"strings"
	"testing"
)

func TestDirectoryChanged(t *testing.T) {
	const before = `
teams: [{id: 1, name: Day}, {id: 2, name: Night}]
users:
  - {id: a1, password: p, firstName: Ann, role: Agent, team: 1, extension: "11"}
  - {id: a2, password: p, role: Agent, team: 1, extension: "12"}
`
	const after = `
teams: [{id: 1, name: Day}, {id: 2, name: Night}]
users:
  - {id: a1, password: p, firstName: Anne, role: Agent, team: 2, extension: "11"}
  - {id: a3, password: p, role: Agent, team: 1, extension: "13"}
`
	dir := parseDir(t, before)
	f := newFixture(t, dir, nil)
	f.login(t, "a1")
	f.must(t, "a1", StateRequest{State: StateReady})

	previous := dir.Swap(parseDir(t, after))
	f.r.DirectoryChanged(previous, dir)

	if state, _, ok := f.r.State("a1"); !ok || state != StateReady {
		t.Errorf("a kept user's state = %s, %v; want READY kept", state, ok)
	}
	doc, _ := f.r.UserXML("a1")
	if !strings.Contains(string(doc), "<firstName>Anne</firstName>") || !strings.Contains(string(doc), "<teamId>2</teamId>") {
		t.Errorf("a kept user's User does not show its new entry: %s", doc)
	}
	if _, _, ok := f.r.State("a2"); ok {
		t.Error("a removed user still has an agent state")
	}
	if err := f.r.SetState("a2", StateRequest{State: StateLogin, Extension: "12"}); err == nil || err.Status != 404 {
		t.Errorf("SetState on a removed user: %v, want 404", err)
	}
	if state, _, ok := f.r.State("a3"); !ok || state != StateLogout {
		t.Errorf("an added user = %s, %v; want LOGOUT", state, ok)
	}
	f.must(t, "a3", StateRequest{State: StateLogin, Extension: "13"})
	if state, _, _ := f.r.State("a3"); state != StateNotReady {
		t.Errorf("an added user after LOGIN = %s, want NOT_READY", state)
	}
}
