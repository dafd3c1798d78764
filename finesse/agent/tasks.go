package agent

import (
	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

// The registry's side of task routing. The router (finesse/task) owns
// the tasks; the registry owns the agent: whether it is signed in to an
// MRD, what it chose there (READY or NOT_READY) and its maxDialogLimit.
// The router reports each agent's open tasks (UpdateTasks), from which
// the state the MRD shows follows (display); the registry tells the
// router, through WatchMedia, when an agent's own request or the forced
// logout may have changed whether it can take tasks.
//
// Lock order: the router takes its lock before a user's; the registry
// calls the watchers only after releasing the user's lock.

// TaskLoad counts a user's open task dialogs in one MRD by dialog state.
type TaskLoad struct {
	Offered, Accepted, Active, Paused, WrappingUp int
}

// Total is the number of open dialogs.
func (l TaskLoad) Total() int {
	return l.Offered + l.Accepted + l.Active + l.Paused + l.WrappingUp
}

// TaskUpdate is the router's change to a user's tasks in one MRD.
type TaskUpdate struct {
	// Load is the user's open dialogs in the MRD after the change.
	Load TaskLoad
	// Offer marks an update that adds an offered dialog. It applies only
	// if the agent is signed in to the MRD, chose READY there, and Load
	// stays within its maxDialogLimit, checked under the user's lock.
	Offer bool
	// NotReady makes the agent NOT_READY in the MRD with the directory's
	// RONA reason code (NOT_READY code 32767), as an offer that timed
	// out does (FINESSE-REFERENCE §4.3).
	NotReady bool
	// RequestID goes into the Media notification the update causes.
	RequestID string
}

// MediaRouting is what the router needs of an agent in one MRD.
type MediaRouting struct {
	// SignedIn: the agent is signed in to the MRD.
	SignedIn bool
	// Ready: the agent chose READY there (whatever its tasks show).
	Ready              bool
	MaxDialogLimit     int
	DialogLogoutAction string
	// Session counts the agent's sign-ins to the MRD.
	Session uint64
	// State is what the MRD shows.
	State State
	Load  TaskLoad
}

// Eligible reports whether the agent may be offered one more task.
func (m MediaRouting) Eligible() bool {
	return m.SignedIn && m.Ready && m.Load.Total() < m.MaxDialogLimit
}

// MediaEvent tells a watcher that an agent's routing in an MRD may have
// changed: it signed in or out, chose READY or NOT_READY, or signed in
// again with new options.
type MediaEvent struct {
	UserID string // as the directory writes it
	MRDID  int
	// SignedOut: the agent left the MRD (LOGOUT, or the forced logout).
	// Session is the sign-in that ended, DialogLogoutAction its option
	// (CLOSE or TRANSFER) for the tasks still open.
	SignedOut          bool
	Session            uint64
	DialogLogoutAction string
}

// WatchMedia registers w, called after every accepted media request and
// after the forced logout, with no lock of the registry held, on the
// goroutine that made the change. w may call the Registry. Register
// watchers before the registry is in use.
func (r *Registry) WatchMedia(w func(MediaEvent)) {
	for {
		old := r.watchers.Load()
		var next []func(MediaEvent)
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, w)
		if r.watchers.CompareAndSwap(old, &next) {
			return
		}
	}
}

// notifyWatchers hands events to the watchers. No user lock may be held.
func (r *Registry) notifyWatchers(events ...MediaEvent) {
	ws := r.watchers.Load()
	if ws == nil {
		return
	}
	for _, ev := range events {
		for _, w := range *ws {
			w(ev)
		}
	}
}

// MediaRouting returns the agent's routing in the non-voice MRD mrdID;
// ok is false for an unknown user or MRD.
func (r *Registry) MediaRouting(id string, mrdID int) (MediaRouting, bool) {
	u := r.user(id)
	if u == nil {
		return MediaRouting{}, false
	}
	m := u.mediaOf(mrdID)
	if m == nil {
		return MediaRouting{}, false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return m.routing(), true
}

func (m *media) routing() MediaRouting {
	return MediaRouting{
		SignedIn:           m.chosen != StateLogout,
		Ready:              m.chosen == StateReady,
		MaxDialogLimit:     m.maxDialogLimit,
		DialogLogoutAction: m.dialogLogoutAction,
		Session:            m.session,
		State:              m.state,
		Load:               m.load,
	}
}

// UpdateTasks records the user's open tasks in the MRD and, when the
// state the MRD shows changes, publishes <Media> with up.RequestID and
// tells the listeners. It returns the agent's routing after the update
// and whether the update applied: an offer the agent cannot take
// (signed out, NOT_READY, at its limit) changes nothing, nor does an
// unknown user or MRD.
func (r *Registry) UpdateTasks(id string, mrdID int, up TaskUpdate) (MediaRouting, bool) {
	u := r.user(id)
	if u == nil {
		return MediaRouting{}, false
	}
	m := u.mediaOf(mrdID)
	if m == nil {
		return MediaRouting{}, false
	}
	var rona *directory.ReasonCode
	if up.NotReady {
		if rc, ok := r.dir.ReasonCodeByCode(directory.CategoryNotReady, ronaReasonCode); ok {
			rona = &rc
		} else {
			r.log.Warn("the directory has no NOT_READY reason code 32767: RONA without a reason",
				zap.String("user", u.info().ID), zap.Int("mrd", mrdID))
		}
	}

	u.mu.Lock()
	defer u.mu.Unlock()
	if up.Offer {
		if rt := m.routing(); !rt.SignedIn || !rt.Ready || up.Load.Total() > rt.MaxDialogLimit {
			return rt, false
		}
	}
	before, beforeReason := m.state, m.reason
	m.load = up.Load
	if up.NotReady && m.chosen != StateLogout {
		m.chosen, m.reason = StateNotReady, rona
	}
	m.state = m.display()
	if m.state != before || m.reason != beforeReason {
		m.changed = r.now()
		r.metrics.mediaStateChanges.WithLabelValues(string(m.state)).Inc()
		r.emitMedia(u, m)
		r.publishMedia(u, m, up.RequestID)
	}
	return m.routing(), true
}

// ronaReasonCode is the UCCE system NOT_READY code of an agent who did
// not answer an offer (Redirection On No Answer).
const ronaReasonCode = 32767
