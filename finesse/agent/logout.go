package agent

import (
	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/presence"
)

var _ presence.Listener = (*Registry)(nil)

// PresenceEvent follows the users' XMPP presence for the forced logout
// (FINESSE-REFERENCE §5.1). When a user's last available resource goes
// away, the LogoutGrace timer starts; an available resource of the user
// cancels it. It never blocks: the logout itself runs on the timer's
// goroutine.
func (r *Registry) PresenceEvent(ev presence.Event) {
	u := r.user(ev.JID.Local)
	if u == nil {
		return // not a directory user (the finesse service, say)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	switch {
	case ev.Kind == presence.Available || ev.UserAvailable:
		if u.cancelTimer() {
			r.log.Debug("forced logout cancelled: the user is back", zap.String("user", u.info().ID),
				zap.Stringer("jid", ev.JID))
		}
	case ev.Kind == presence.Unavailable:
		if u.timer != nil || r.closed.Load() {
			return
		}
		// Whether anything is left to log out is decided when the timer
		// fires: an agent may sign in over REST meanwhile.
		u.timerGen++
		gen := u.timerGen
		u.timer = r.afterFunc(r.grace, func() { r.forceLogout(u, gen) })
	}
}

// cancelTimer stops the user's forced-logout timer, if one runs, and
// reports whether one did. u.mu is held.
func (u *user) cancelTimer() bool {
	if u.timer == nil {
		return false
	}
	u.timer.Stop()
	u.timer = nil
	u.timerGen++ // a timer already firing finds itself stale
	return true
}

// forceLogout is the grace timer's end: the agent goes to LOGOUT with the
// forced-logout reason code, every MRD it is signed in to is signed out,
// and each change is published without a requestId. The watchers hear of
// the MRDs signed out once the user's lock is released.
func (r *Registry) forceLogout(u *user, gen uint64) {
	r.notifyWatchers(r.forceLogoutLocked(u, gen)...)
}

func (r *Registry) forceLogoutLocked(u *user, gen uint64) []MediaEvent {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.timerGen != gen || r.closed.Load() {
		return nil // cancelled, or superseded, after the timer fired
	}
	u.timer = nil

	now := r.now()
	loggedOut := false
	if u.state != StateLogout {
		var reason *directory.ReasonCode
		if rc, ok := r.dir.ReasonCodeByCode(directory.CategoryLogout, forcedLogoutReasonCode); ok {
			reason = &rc
		} else {
			r.log.Warn("the directory has no LOGOUT reason code 255: forced logout without a reason",
				zap.String("user", u.info().ID))
		}
		u.enter(StateLogout, reason, now)
		r.metrics.stateChanges.WithLabelValues(string(StateLogout)).Inc()
		r.emitVoice(u)
		r.publishUser(u, "")
		loggedOut = true
	}
	var events []MediaEvent
	for _, m := range u.media {
		if m.state == StateLogout {
			continue
		}
		events = append(events, MediaEvent{UserID: u.info().ID, MRDID: m.mrd.ID, SignedOut: true,
			Session: m.session, DialogLogoutAction: m.dialogLogoutAction})
		m.enter(StateLogout, nil, now)
		r.metrics.mediaStateChanges.WithLabelValues(string(StateLogout)).Inc()
		r.emitMedia(u, m)
		r.publishMedia(u, m, "")
		loggedOut = true
	}
	if loggedOut {
		r.metrics.forcedLogouts.Inc()
		r.log.Info("agent logged out: presence unavailable for the logout grace",
			zap.String("user", u.info().ID), zap.Duration("grace", r.grace))
	}
	return events
}
