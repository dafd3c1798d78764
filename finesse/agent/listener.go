package agent

import (
	"time"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

// Change is one state change of a user: of voice (MRDID 0) or of one
// non-voice MRD, where State is the state the MRD shows.
type Change struct {
	UserID string
	TeamID int
	MRDID  int
	State  State
	// ReasonCode goes with NOT_READY and LOGOUT; nil otherwise. It is
	// shared: listeners must not change it.
	ReasonCode *directory.ReasonCode
	At         time.Time
}

// AddListener registers l. l is called with the user's lock held, in the
// order of that user's changes; it must not block and must not call the
// Registry. Register listeners before the registry is in use: a change
// made while l is being added may or may not reach it.
func (r *Registry) AddListener(l func(Change)) {
	for {
		old := r.listeners.Load()
		var next []func(Change)
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, l)
		if r.listeners.CompareAndSwap(old, &next) {
			return
		}
	}
}

// emitVoice tells the listeners of the user's voice state. u.mu is held.
func (r *Registry) emitVoice(u *user) {
	ls := r.listeners.Load()
	if ls == nil {
		return
	}
	c := Change{UserID: u.info().ID, TeamID: u.info().TeamID, State: u.state, ReasonCode: u.reason, At: u.changed}
	for _, l := range *ls {
		l(c)
	}
}

// emitMedia tells the listeners of the state the MRD shows. u.mu is held.
func (r *Registry) emitMedia(u *user, m *media) {
	ls := r.listeners.Load()
	if ls == nil {
		return
	}
	c := Change{UserID: u.info().ID, TeamID: u.info().TeamID, MRDID: m.mrd.ID, State: m.state, At: m.changed}
	if m.state == StateNotReady {
		c.ReasonCode = m.reason
	}
	for _, l := range *ls {
		l(c)
	}
}
