package agent

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/finesse-notify/finesse-notify/presence"
	"github.com/finesse-notify/finesse-notify/server"
)

func jid(local, resource string) server.JID {
	return server.JID{Local: local, Domain: "finesse.example.com", Resource: resource}
}

func unavailable(local string, userAvailable bool) presence.Event {
	return presence.Event{Kind: presence.Unavailable, JID: jid(local, "desktop"),
		Reason: presence.ReasonKeepaliveTimeout, UserAvailable: userAvailable}
}

func available(local string) presence.Event {
	return presence.Event{Kind: presence.Available, JID: jid(local, "desktop"), UserAvailable: true}
}

// isLogoutOf matches the forced logout's User notification of id.
func isLogoutOf(id string) func(record) bool {
	return func(rec record) bool {
		return rec.node == "/finesse/api/User/"+id && field(rec.update.Data, "state") == "LOGOUT"
	}
}

// TestForcedLogoutAfterGrace runs the real timer with a 20 ms grace.
func TestForcedLogoutAfterGrace(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFixture(t, nil, func(c *Config) {
		c.LogoutGrace = 20 * time.Millisecond
		c.Registerer = reg
	})
	f.login(t, "1001")
	f.must(t, "1001", StateRequest{State: StateReady, RequestID: "before"})
	f.mustMedia(t, "1001", 5000, MediaRequest{State: StateLogin})
	f.mustMedia(t, "1001", 5000, MediaRequest{State: StateReady})
	n := f.pub.len()

	f.r.PresenceEvent(available("1001"))
	f.r.PresenceEvent(unavailable("1001", false))
	f.pub.waitFor(t, "forced logout of 1001", isLogoutOf("1001"))
	// The user, team and media notifications are published under the
	// user's lock, one after another: once the lock is free they are all in.
	if s, _, _ := f.r.State("1001"); s != StateLogout {
		t.Fatalf("state %s", s)
	}

	got := f.pub.since(n)
	if len(got) != 3 {
		t.Fatalf("forced logout published %d notifications, want user, team and MRD 5000: %v", len(got), got)
	}
	user, team, media := got[0], got[1], got[2]
	if user.node != "/finesse/api/User/1001" || field(user.update.Data, "code") != "255" ||
		field(user.update.Data, "reasonCodeId") != "101" || field(user.update.Data, "category") != "LOGOUT" ||
		user.update.RequestID != "" || user.update.Event != "PUT" {
		t.Errorf("user notification: %s", user.update.Render())
	}
	if team.node != "/finesse/api/Team/1/Users" || field(team.update.Data, "state") != "LOGOUT" ||
		field(team.update.Data, "code") != "255" || team.update.RequestID != "" {
		t.Errorf("team notification: %s", team.update.Render())
	}
	if media.node != "/finesse/api/User/1001/Media" || media.update.Source != "/finesse/api/User/1001/Media/5000" ||
		field(media.update.Data, "state") != "LOGOUT" || field(media.update.Data, "routable") != "false" || media.update.RequestID != "" {
		t.Errorf("media notification: %s", media.update.Render())
	}
	if s, _ := f.r.MediaState("1001", 5000); s != StateLogout {
		t.Errorf("MRD 5000 is %s", s)
	}
	if got := counterValue(t, f.r.metrics.forcedLogouts); got != 1 {
		t.Errorf("forced logouts = %v", got)
	}
	if got := counterValue(t, f.r.metrics.stateChanges.WithLabelValues("LOGOUT")); got != 1 {
		t.Errorf("LOGOUT changes = %v", got)
	}
}

// TestReconnectWithinGraceCancels uses the real timer: 1001 comes back
// within the grace, 1002 does not. 1002's timer starts after 1001's was
// cancelled and has the same duration, so by the time 1002 is logged out
// 1001's deadline has passed too.
func TestReconnectWithinGraceCancels(t *testing.T) {
	f := newFixture(t, nil, func(c *Config) { c.LogoutGrace = 20 * time.Millisecond })
	f.login(t, "1001")
	f.login(t, "1002")

	f.r.PresenceEvent(unavailable("1001", false))
	f.r.PresenceEvent(available("1001"))
	f.r.PresenceEvent(unavailable("1002", false))
	f.pub.waitFor(t, "forced logout of 1002", isLogoutOf("1002"))

	if s, _, _ := f.r.State("1001"); s != StateNotReady {
		t.Fatalf("1001 reconnected within the grace and is %s", s)
	}
	for _, rec := range f.pub.all() {
		if isLogoutOf("1001")(rec) {
			t.Fatalf("1001 was logged out: %s", rec.update.Render())
		}
	}
}

// fakeTimers replaces time.AfterFunc: the test fires or inspects timers.
type fakeTimers struct {
	mu     sync.Mutex
	timers []*fakeTimer
}

type fakeTimer struct {
	d       time.Duration
	fire    func()
	stopped atomic.Bool
}

func (t *fakeTimer) Stop() bool { return !t.stopped.Swap(true) }

func (ft *fakeTimers) afterFunc(d time.Duration, f func()) stopper {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	t := &fakeTimer{d: d, fire: f}
	ft.timers = append(ft.timers, t)
	return t
}

func (ft *fakeTimers) list() []*fakeTimer {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return append([]*fakeTimer(nil), ft.timers...)
}

func newFakeTimerFixture(t *testing.T) (*fixture, *fakeTimers) {
	ft := &fakeTimers{}
	f := newFixture(t, nil, func(c *Config) { c.afterFunc = ft.afterFunc })
	return f, ft
}

func TestForcedLogoutTimers(t *testing.T) {
	t.Run("default grace is 60 s", func(t *testing.T) {
		f, ft := newFakeTimerFixture(t)
		f.r.PresenceEvent(unavailable("1001", false))
		if ts := ft.list(); len(ts) != 1 || ts[0].d != DefaultLogoutGrace || DefaultLogoutGrace != time.Minute {
			t.Fatalf("timers %v", ts)
		}
	})
	t.Run("another resource still available", func(t *testing.T) {
		f, ft := newFakeTimerFixture(t)
		f.login(t, "1001")
		f.r.PresenceEvent(unavailable("1001", true))
		if ts := ft.list(); len(ts) != 0 {
			t.Fatalf("a timer started while the user is still available: %d", len(ts))
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		f, ft := newFakeTimerFixture(t)
		f.r.PresenceEvent(unavailable("finesse", false))
		f.r.PresenceEvent(available("nobody"))
		if ts := ft.list(); len(ts) != 0 {
			t.Fatalf("a timer started for a user not in the directory")
		}
	})
	t.Run("reconnect cancels, and a late fire does nothing", func(t *testing.T) {
		f, ft := newFakeTimerFixture(t)
		f.login(t, "1001")
		n := f.pub.len()
		f.r.PresenceEvent(unavailable("1001", false))
		f.r.PresenceEvent(available("1001"))
		ts := ft.list()
		if len(ts) != 1 || !ts[0].stopped.Load() {
			t.Fatalf("timer not stopped by the reconnect")
		}
		ts[0].fire() // the timer had already fired when Stop came
		if s, _, _ := f.r.State("1001"); s != StateNotReady || f.pub.len() != n {
			t.Fatalf("a cancelled timer logged the agent out: %s, %v", s, f.pub.since(n))
		}
	})
	t.Run("one timer per absence", func(t *testing.T) {
		f, ft := newFakeTimerFixture(t)
		f.login(t, "1001")
		f.r.PresenceEvent(unavailable("1001", false))
		f.r.PresenceEvent(unavailable("1001", false))
		if ts := ft.list(); len(ts) != 1 {
			t.Fatalf("%d timers", len(ts))
		}
		f.r.PresenceEvent(available("1001"))
		f.r.PresenceEvent(unavailable("1001", false))
		ts := ft.list()
		if len(ts) != 2 || !ts[0].stopped.Load() || ts[1].stopped.Load() {
			t.Fatalf("timers after a second absence: %d", len(ts))
		}
		ts[0].fire() // stale
		if s, _, _ := f.r.State("1001"); s != StateNotReady {
			t.Fatalf("the first absence's timer acted: %s", s)
		}
		ts[1].fire()
		if s, rc, _ := f.r.State("1001"); s != StateLogout || rc != 101 {
			t.Fatalf("after the second absence: %s %d", s, rc)
		}
	})
	t.Run("a signed-out user with an MRD loses the MRD only", func(t *testing.T) {
		f, ft := newFakeTimerFixture(t)
		f.mustMedia(t, "1001", 5001, MediaRequest{State: StateLogin})
		n := f.pub.len()
		f.r.PresenceEvent(unavailable("1001", false))
		ft.list()[0].fire()
		got := f.pub.since(n)
		if len(got) != 1 || got[0].update.Source != "/finesse/api/User/1001/Media/5001" || field(got[0].update.Data, "state") != "LOGOUT" {
			t.Fatalf("published %v", got)
		}
		if got := counterValue(t, f.r.metrics.forcedLogouts); got != 1 {
			t.Errorf("forced logouts = %v", got)
		}
	})
	t.Run("nothing to log out", func(t *testing.T) {
		f, ft := newFakeTimerFixture(t)
		f.r.PresenceEvent(unavailable("1001", false))
		ft.list()[0].fire()
		if f.pub.len() != 0 || counterValue(t, f.r.metrics.forcedLogouts) != 0 {
			t.Fatalf("a signed-out agent was logged out: %v", f.pub.all())
		}
	})
	t.Run("agent signed in over REST during the grace", func(t *testing.T) {
		f, ft := newFakeTimerFixture(t)
		f.r.PresenceEvent(unavailable("1001", false))
		f.login(t, "1001")
		ft.list()[0].fire()
		if s, _, _ := f.r.State("1001"); s != StateLogout {
			t.Fatalf("state %s", s)
		}
	})
	t.Run("Close stops the timers", func(t *testing.T) {
		f, ft := newFakeTimerFixture(t)
		f.login(t, "1001")
		f.r.PresenceEvent(unavailable("1001", false))
		f.r.Close()
		ts := ft.list()
		if len(ts) != 1 || !ts[0].stopped.Load() {
			t.Fatal("Close left the timer running")
		}
		ts[0].fire()
		f.r.PresenceEvent(unavailable("1002", false))
		if s, _, _ := f.r.State("1001"); s != StateNotReady || len(ft.list()) != 1 {
			t.Fatalf("after Close: %s, %d timers", s, len(ft.list()))
		}
	})
	t.Run("no LOGOUT 255 in the directory", func(t *testing.T) {
		ft := &fakeTimers{}
		f := newFixture(t, parseDir(t, teamDirectory), func(c *Config) { c.afterFunc = ft.afterFunc })
		f.login(t, "1001")
		f.r.PresenceEvent(unavailable("1001", false))
		ft.list()[0].fire()
		if s, rc, _ := f.r.State("1001"); s != StateLogout || rc != 0 {
			t.Fatalf("state %s %d", s, rc)
		}
	})
}
