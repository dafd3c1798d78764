package presence_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/presence"
	"github.com/finesse-notify/finesse-notify/server"
	"github.com/finesse-notify/finesse-notify/server/servertest"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const (
	domain   = "example.com"
	password = "password"
)

// harness is a real server on a loopback TCP listener with a tracker.
type harness struct {
	srv     *server.Server
	tracker *presence.Tracker
	addr    string
	reg     *prometheus.Registry
	logs    *observer.ObservedLogs
	events  *recorder
}

func start(t *testing.T, interval time.Duration, retries int) *harness {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	reg := prometheus.NewRegistry()
	srv, err := server.New(server.Config{
		Domain:     domain,
		Accounts:   servertest.Accounts{"1001": password, "1002": password, "1003": password},
		Logger:     log,
		Registerer: reg,
	})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	tracker := presence.New(srv, presence.Config{PingInterval: interval, PingRetries: retries, Logger: log, Registerer: reg})
	rec := &recorder{tracker: tracker, ch: make(chan recorded, 256)}
	tracker.AddListener(rec)
	addr := servertest.ServeTCP(t, srv)
	// Cleanups run last-in first-out: this one runs before the server
	// shuts down.
	t.Cleanup(func() {
		tracker.Close()
		if rec.overflow.Load() {
			t.Errorf("the test listener's buffer overflowed")
		}
	})
	return &harness{srv: srv, tracker: tracker, addr: addr, reg: reg, logs: logs, events: rec}
}

// recorded is an event as the listener saw it, with what IsAvailable said
// from inside the callback (which also proves a listener may call back).
type recorded struct {
	presence.Event
	isAvailable bool
}

type recorder struct {
	tracker  *presence.Tracker
	ch       chan recorded
	overflow atomic.Bool
}

func (r *recorder) PresenceEvent(ev presence.Event) {
	select {
	case r.ch <- recorded{Event: ev, isAvailable: r.tracker.IsAvailable(ev.JID.Bare())}:
	default:
		r.overflow.Store(true)
	}
}

func (h *harness) nextEvent(t *testing.T) recorded {
	t.Helper()
	select {
	case ev := <-h.events.ch:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no presence event within 5 s")
		return recorded{}
	}
}

func (h *harness) noEvent(t *testing.T) {
	t.Helper()
	select {
	case ev := <-h.events.ch:
		t.Fatalf("unexpected presence event %+v", ev.Event)
	default:
	}
}

// login connects a client and binds resource, without presence.
func (h *harness) login(t *testing.T, user, resource string) *client.Client {
	t.Helper()
	return servertest.Login(t, h.addr, domain, user, password, resource)
}

// online logs in and sends available presence with priority.
func (h *harness) online(t *testing.T, user, resource string, priority int) *client.Client {
	t.Helper()
	c := h.login(t, user, resource)
	if err := c.SendPresence(priority); err != nil {
		t.Fatalf("presence: %v", err)
	}
	return c
}

func (h *harness) metric(t *testing.T, name string) float64 {
	t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		m := f.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func mustJID(t *testing.T, s string) server.JID {
	t.Helper()
	j, err := server.ParseJID(s)
	if err != nil {
		t.Fatalf("parse jid %q: %v", s, err)
	}
	return j
}

func isPing(el *etree.Element) bool {
	if el.Tag != "iq" || el.SelectAttrValue("type", "") != "get" {
		return false
	}
	p := el.SelectElement("ping")
	return p != nil && p.NamespaceURI() == server.NSPing
}

// domainPing checks the session still works: an IQ to the domain is answered.
func domainPing(t *testing.T, c *client.Client) {
	t.Helper()
	id := client.NextID()
	reply, err := c.IQ(id, `<iq xmlns='jabber:client' type='get' id='`+id+`' to='`+domain+`'><ping xmlns='urn:xmpp:ping'/></iq>`)
	if err != nil {
		t.Fatalf("the session is gone: %v", err)
	}
	if reply.SelectAttrValue("type", "") != "result" {
		t.Fatalf("domain ping: %s", client.Render(reply))
	}
	for _, el := range c.Backlog() {
		if client.IsStreamError(el) {
			t.Fatalf("stream error: %s", client.Render(el))
		}
	}
}

// answerPings returns a matcher wrapper that replies to every server ping
// it sees with a result, so that the client stays alive while it waits.
func answerPings(t *testing.T, c *client.Client, match func(*etree.Element) bool) func(*etree.Element) bool {
	return func(el *etree.Element) bool {
		if isPing(el) {
			if err := c.Sendf(`<iq xmlns='jabber:client' type='result' id='%s' to='%s'/>`, el.SelectAttrValue("id", ""), domain); err != nil {
				t.Errorf("answer ping: %v", err)
			}
			return false
		}
		return match(el)
	}
}

func TestPingAfterInterval(t *testing.T) {
	const interval = 80 * time.Millisecond
	h := start(t, interval, 2)
	c := h.login(t, "1001", "desk")
	lastSent := time.Now()
	if err := c.SendPresence(0); err != nil {
		t.Fatal(err)
	}
	ping, err := c.Await("server ping", isPing)
	if err != nil {
		t.Fatal(err)
	}
	if silent := time.Since(lastSent); silent < interval {
		t.Errorf("ping after %v of silence, want at least the interval %v", silent, interval)
	}
	if ns := ping.NamespaceURI(); ns != server.NSClient {
		t.Errorf("ping namespace %q, want %q", ns, server.NSClient)
	}
	if from := ping.SelectAttrValue("from", ""); from != domain {
		t.Errorf("ping from %q, want %q", from, domain)
	}
	if to := ping.SelectAttrValue("to", ""); to != c.JID || to != "1001@"+domain+"/desk" {
		t.Errorf("ping to %q, want the full JID %q", to, c.JID)
	}
	if ping.SelectAttrValue("id", "") == "" {
		t.Errorf("ping without id: %s", client.Render(ping))
	}
	if n := len(ping.ChildElements()); n != 1 {
		t.Errorf("ping has %d children, want 1: %s", n, client.Render(ping))
	}
	if err := c.Sendf(`<iq xmlns='jabber:client' type='result' id='%s' to='%s'/>`, ping.SelectAttrValue("id", ""), domain); err != nil {
		t.Fatal(err)
	}
	domainPing(t, c)
	if got := h.metric(t, "finesse_notify_pings_sent_total"); got < 1 {
		t.Errorf("pings sent = %v, want at least 1", got)
	}
}

type endResult struct {
	pings     int
	cond      string
	silentFor time.Duration
	err       error
}

func TestSilentClientTimesOut(t *testing.T) {
	const (
		interval = 100 * time.Millisecond
		retries  = 2
	)
	h := start(t, interval, retries)

	silent := h.login(t, "1001", "silent")
	lastSent := time.Now()
	if err := silent.SendPresence(1); err != nil {
		t.Fatal(err)
	}
	if ev := h.nextEvent(t); ev.Kind != presence.Available || ev.JID.String() != silent.JID {
		t.Fatalf("first event %+v, want Available for %s", ev.Event, silent.JID)
	}

	// Read the silent client's stream to its end without ever answering.
	ended := make(chan endResult, 1)
	go func() {
		var r endResult
		for {
			el, err := silent.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.err = err
				break
			}
			if isPing(el) {
				r.pings++
			}
			if cond := client.StreamErrorCondition(el); cond != "" {
				r.cond = cond
				r.silentFor = time.Since(lastSent)
			}
		}
		ended <- r
	}()

	watcher := h.online(t, "1001", "watcher", 0)
	if ev := h.nextEvent(t); ev.Kind != presence.Available || ev.JID.String() != watcher.JID {
		t.Fatalf("second event %+v, want Available for %s", ev.Event, watcher.JID)
	}
	gone, err := watcher.Await("unavailable presence of the silent resource", answerPings(t, watcher, func(el *etree.Element) bool {
		return el.Tag == "presence" && el.SelectAttrValue("type", "") == "unavailable"
	}))
	if err != nil {
		t.Fatal(err)
	}
	if from := gone.SelectAttrValue("from", ""); from != silent.JID {
		t.Errorf("unavailable presence from %q, want %q", from, silent.JID)
	}

	r := <-ended
	if r.err != nil {
		t.Fatalf("silent client: %v", r.err)
	}
	if r.cond != server.CondConnectionTimeout {
		t.Errorf("stream error %q, want %q", r.cond, server.CondConnectionTimeout)
	}
	if r.pings != retries {
		t.Errorf("silent client got %d pings before the timeout, want %d", r.pings, retries)
	}
	if min := interval * (retries + 1); r.silentFor < min {
		t.Errorf("timed out after %v of silence, before interval×(retries+1) = %v", r.silentFor, min)
	}

	ev := h.nextEvent(t)
	want := presence.Event{Kind: presence.Unavailable, JID: mustJID(t, silent.JID), Priority: 1, Reason: presence.ReasonKeepaliveTimeout, UserAvailable: true}
	if ev.Event != want {
		t.Errorf("event %+v, want %+v", ev.Event, want)
	}
	bare := mustJID(t, "1001@"+domain)
	if res := h.tracker.Resources(bare); len(res) != 1 || res[0].JID.String() != watcher.JID {
		t.Errorf("resources %+v, want only %s", res, watcher.JID)
	}
	if got := h.metric(t, "finesse_notify_sessions_timed_out_total"); got != 1 {
		t.Errorf("sessions timed out = %v, want 1", got)
	}
	if got := h.metric(t, "finesse_notify_pings_sent_total"); got < retries {
		t.Errorf("pings sent = %v, want at least %d", got, retries)
	}
	if got := h.metric(t, "finesse_notify_available_resources"); got != 1 {
		t.Errorf("available resources = %v, want 1", got)
	}
	logged := h.logs.FilterMessageSnippet("keepalive timeout").FilterField(zap.String("jid", silent.JID)).All()
	if len(logged) != 1 || logged[0].Level != zapcore.InfoLevel {
		t.Errorf("want one Info log of the timeout with the JID, got %+v", logged)
	}
	domainPing(t, watcher)
}

// TestAnsweredPingsKeepSession answers every server ping in the forms real
// clients use, well past the time a silent client would have died.
func TestAnsweredPingsKeepSession(t *testing.T) {
	const (
		interval = 50 * time.Millisecond
		retries  = 2
	)
	replies := map[string]string{
		"result to the domain": `<iq xmlns='jabber:client' type='result' id='%s' to='` + domain + `'/>`,
		"result without to":    `<iq xmlns='jabber:client' type='result' id='%s'/>`,
		"error without to":     `<iq xmlns='jabber:client' type='error' id='%s'/>`,
		"strophe error": `<iq xmlns='jabber:client' type='error' id='%s'><error type='cancel'>` +
			`<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`,
	}
	for name, reply := range replies {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := start(t, interval, retries)
			c := h.online(t, "1001", "answering", 0)
			began := time.Now()
			if ev := h.nextEvent(t); ev.Kind != presence.Available {
				t.Fatalf("event %+v, want Available", ev.Event)
			}
			// Each ping comes after a full interval of silence, so
			// answering retries+3 of them takes longer than
			// interval×(retries+2).
			for i := 0; i < retries+3; i++ {
				ping, err := c.Await(fmt.Sprintf("ping %d", i+1), isPing)
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Sendf(reply, ping.SelectAttrValue("id", "")); err != nil {
					t.Fatal(err)
				}
			}
			if alive := time.Since(began); alive <= interval*(retries+2) {
				t.Fatalf("only %v elapsed; the test must outlive interval×(retries+2)", alive)
			}
			domainPing(t, c)
			if !h.tracker.IsAvailable(mustJID(t, c.JID)) {
				t.Errorf("IsAvailable = false for a client that answers pings")
			}
			h.noEvent(t)
			if got := h.metric(t, "finesse_notify_sessions_timed_out_total"); got != 0 {
				t.Errorf("sessions timed out = %v, want 0", got)
			}
		})
	}
}

func TestWhitespaceKeepsSession(t *testing.T) {
	const (
		interval = 100 * time.Millisecond
		retries  = 1
	)
	h := start(t, interval, retries)
	c := h.online(t, "1001", "quiet", 0)
	if ev := h.nextEvent(t); ev.Kind != presence.Available {
		t.Fatalf("event %+v, want Available", ev.Event)
	}
	// Whitespace only (never a ping reply), for longer than a silent
	// client would live.
	tick := time.NewTicker(interval / 4)
	defer tick.Stop()
	until := time.After(interval * (retries + 3))
	for done := false; !done; {
		select {
		case <-tick.C:
			if err := c.Send(" "); err != nil {
				t.Fatalf("whitespace: %v", err)
			}
		case <-until:
			done = true
		}
	}
	domainPing(t, c)
	h.noEvent(t)
	if !h.tracker.IsAvailable(mustJID(t, c.JID)) {
		t.Errorf("IsAvailable = false for a client that sends whitespace")
	}
}

func TestListenerEvents(t *testing.T) {
	h := start(t, time.Minute, 2)
	bare := mustJID(t, "1001@"+domain)

	a := h.online(t, "1001", "a", 5)
	ev := h.nextEvent(t)
	want := presence.Event{Kind: presence.Available, JID: mustJID(t, a.JID), Priority: 5, UserAvailable: true}
	if ev.Event != want || !ev.isAvailable {
		t.Fatalf("event %+v (IsAvailable %v), want %+v", ev.Event, ev.isAvailable, want)
	}
	if !h.tracker.IsAvailable(bare) {
		t.Errorf("IsAvailable = false after available presence")
	}

	// A new priority is announced again; the same priority is not.
	if err := a.SendPresence(7); err != nil {
		t.Fatal(err)
	}
	want.Priority = 7
	if ev := h.nextEvent(t); ev.Event != want {
		t.Fatalf("event %+v, want %+v", ev.Event, want)
	}
	if err := a.Send(`<presence xmlns='jabber:client'><show>away</show><priority>7</priority></presence>`); err != nil {
		t.Fatal(err)
	}
	domainPing(t, a) // the presence has been handled once the IQ is answered
	h.noEvent(t)

	b := h.online(t, "1001", "b", 1)
	if ev := h.nextEvent(t); ev.Kind != presence.Available || ev.JID.String() != b.JID || ev.Priority != 1 || !ev.UserAvailable {
		t.Fatalf("event %+v, want Available for %s priority 1", ev.Event, b.JID)
	}
	res := h.tracker.Resources(bare)
	if len(res) != 2 || res[0].JID.String() != a.JID || res[0].Priority != 7 || res[1].JID.String() != b.JID || res[1].Priority != 1 {
		t.Fatalf("resources %+v, want %s (7) then %s (1)", res, a.JID, b.JID)
	}
	if res[0].Since.IsZero() || res[1].Since.Before(res[0].Since) {
		t.Errorf("Since values %v, %v", res[0].Since, res[1].Since)
	}
	if got := h.metric(t, "finesse_notify_available_resources"); got != 2 {
		t.Errorf("available resources = %v, want 2", got)
	}

	// Unavailable presence.
	if err := a.Send(`<presence xmlns='jabber:client' type='unavailable'/>`); err != nil {
		t.Fatal(err)
	}
	want = presence.Event{Kind: presence.Unavailable, JID: mustJID(t, a.JID), Priority: 7, Reason: presence.ReasonPresenceUnavailable, UserAvailable: true}
	if ev := h.nextEvent(t); ev.Event != want {
		t.Fatalf("event %+v, want %+v", ev.Event, want)
	}
	if res := h.tracker.Resources(bare); len(res) != 1 || res[0].JID.String() != b.JID {
		t.Fatalf("resources %+v, want only %s", res, b.JID)
	}

	// Available again, then the socket is cut.
	if err := a.SendPresence(2); err != nil {
		t.Fatal(err)
	}
	if ev := h.nextEvent(t); ev.Kind != presence.Available || ev.JID.String() != a.JID || ev.Priority != 2 {
		t.Fatalf("event %+v, want Available for %s priority 2", ev.Event, a.JID)
	}
	a.Wire.Drop()
	ev = h.nextEvent(t)
	if ev.Kind != presence.Unavailable || ev.JID.String() != a.JID || !ev.UserAvailable ||
		!strings.HasPrefix(ev.Reason, presence.ReasonSessionEnded+"connection lost") {
		t.Fatalf("event %+v, want Unavailable for %s after the connection was lost", ev.Event, a.JID)
	}

	// A session that never was available ends without an event.
	quiet := h.login(t, "1001", "never-available")
	if err := quiet.Wire.Close(); err != nil {
		t.Fatal(err)
	}

	// The last resource closes its stream.
	if err := b.Wire.Close(); err != nil {
		t.Fatal(err)
	}
	ev = h.nextEvent(t)
	want = presence.Event{Kind: presence.Unavailable, JID: mustJID(t, b.JID), Priority: 1, Reason: presence.ReasonSessionEnded + "closed by client", UserAvailable: false}
	if ev.Event != want || ev.isAvailable {
		t.Fatalf("event %+v (IsAvailable %v), want %+v", ev.Event, ev.isAvailable, want)
	}
	h.noEvent(t)
	if h.tracker.IsAvailable(bare) || len(h.tracker.Resources(bare)) != 0 {
		t.Errorf("user still available: %+v", h.tracker.Resources(bare))
	}
	if got := h.metric(t, "finesse_notify_available_resources"); got != 0 {
		t.Errorf("available resources = %v, want 0", got)
	}
}

// TestEventOrderPerUser has many resources of one user come and go at
// once and checks that replaying the events in delivery order gives the
// UserAvailable each event claims.
func TestEventOrderPerUser(t *testing.T) {
	const n = 8
	h := start(t, time.Minute, 2)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := client.DialTCP(h.addr, nil)
			if err != nil {
				errs <- err
				return
			}
			defer w.Drop()
			c := client.New(w, domain)
			if err := c.Login("1002", password, fmt.Sprintf("r%d", i)); err != nil {
				errs <- err
				return
			}
			if err := c.SendPresence(i); err != nil {
				errs <- err
				return
			}
			// Once an IQ is answered the presence has been handled, so
			// cutting the socket cannot lose it.
			id := client.NextID()
			if _, err := c.IQ(id, `<iq xmlns='jabber:client' type='get' id='`+id+`'><ping xmlns='urn:xmpp:ping'/></iq>`); err != nil {
				errs <- err
				return
			}
			if i%2 == 0 {
				w.Drop()
			} else if err := w.Close(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	online := map[string]bool{}
	seen := map[string][]presence.EventKind{}
	for range 2 * n {
		ev := h.nextEvent(t)
		jid := ev.JID.String()
		seen[jid] = append(seen[jid], ev.Kind)
		online[jid] = ev.Kind == presence.Available
		count := 0
		for _, on := range online {
			if on {
				count++
			}
		}
		if ev.UserAvailable != (count > 0) {
			t.Errorf("event %+v says UserAvailable=%v, but %d resources are available at that point", ev.Event, ev.UserAvailable, count)
		}
	}
	for jid, kinds := range seen {
		if len(kinds) != 2 || kinds[0] != presence.Available || kinds[1] != presence.Unavailable {
			t.Errorf("%s: events %v, want [available unavailable]", jid, kinds)
		}
	}
	if len(seen) != n {
		t.Errorf("events for %d resources, want %d", len(seen), n)
	}
	if h.tracker.IsAvailable(mustJID(t, "1002@"+domain)) {
		t.Errorf("user still available after every resource left")
	}
}

func TestCloseStopsKeepalive(t *testing.T) {
	const interval = 30 * time.Millisecond
	h := start(t, interval, 1)
	h.tracker.Close()
	c := h.online(t, "1003", "unwatched", 3)
	if ev := h.nextEvent(t); ev.Kind != presence.Available || ev.Priority != 3 {
		t.Fatalf("event %+v, want Available priority 3: presence is still tracked after Close", ev.Event)
	}
	// Absence can only be observed by waiting: several times the life of a
	// silent watched client.
	<-time.After(interval * 5)
	domainPing(t, c)
	for _, el := range c.Backlog() {
		if isPing(el) {
			t.Errorf("ping after Close: %s", client.Render(el))
		}
	}
	if got := h.metric(t, "finesse_notify_pings_sent_total"); got != 0 {
		t.Errorf("pings sent = %v, want 0", got)
	}
}
