package bosh

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/server"
	"github.com/finesse-notify/finesse-notify/server/servertest"
)

func TestNewRefusesWaitOfSixtySeconds(t *testing.T) {
	srv, err := server.New(server.Config{Domain: domain, Accounts: servertest.Accounts{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(srv, Config{MaxWait: 60 * time.Second}); err == nil {
		t.Fatal("New accepted MaxWait=60s")
	}
}

func TestCreationAttributes(t *testing.T) {
	hs := newHarness(t, Config{})

	// Strophe.js asks wait=60 hold=1 ver=1.6; this client also asks for acks.
	resp := hs.post(creation(1000, `wait='60' hold='1' ack='1'`))
	root := parse(t, resp)
	sid, authid := root.SelectAttrValue("sid", ""), root.SelectAttrValue("authid", "")
	if len(sid) < 26 || authid == "" {
		t.Fatalf("sid %q / authid %q too short or missing", sid, authid)
	}
	expect(t, "creation response", resp, `<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh'`+
		` xmlns:stream='http://etherx.jabber.org/streams' sid='`+sid+`' wait='30' inactivity='60' polling='2' requests='2'`+
		` hold='1' maxpause='120' ack='1000' ver='1.6' from='example.com' secure='true' authid='`+authid+`' xmpp:version='1.0'>`+
		`<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>`+
		`<mechanism>PLAIN</mechanism></mechanisms></stream:features></body>`)

	// A short wait is kept, hold is clamped, requests follow hold, ver is
	// the lower one, no ack unless asked.
	root = parse(t, hs.post(creation(5000, `wait='10' hold='5' ver='1.20'`)))
	for attr, want := range map[string]string{"wait": "10", "hold": "2", "requests": "3", "ver": "1.11"} {
		if got := root.SelectAttrValue(attr, ""); got != want {
			t.Errorf("%s=%q, want %q", attr, got, want)
		}
	}
	if root.SelectAttr("ack") != nil {
		t.Errorf("ack attribute without the client asking for acknowledgements")
	}
	if other := root.SelectAttrValue("sid", ""); other == sid {
		t.Errorf("two sessions got the same sid %q", sid)
	}

	// A polling client (hold=0) gets requests=1 and its polls answered at once.
	sid, root = hs.create(7000, `wait='60' hold='0'`)
	if root.SelectAttrValue("hold", "") != "0" || root.SelectAttrValue("requests", "") != "1" {
		t.Fatalf("polling session: hold=%q requests=%q", root.SelectAttrValue("hold", ""), root.SelectAttrValue("requests", ""))
	}
	expect(t, "poll", hs.post(req(sid, 7001, "", "")), emptyResp)
}

func TestCreationWrongDomain(t *testing.T) {
	hs := newHarness(t, Config{})
	resp := hs.post(strings.Replace(creation(1, `wait='60' hold='1'`), "to='example.com'", "to='other.example'", 1))
	expect(t, "wrong to", resp, terminateResp("host-unknown"))
	if n := hs.srv.SessionCount(); n != 0 {
		t.Fatalf("%d sessions after a refused creation", n)
	}
}

func TestSecureFollowsTLS(t *testing.T) {
	hs := newHarness(t, Config{}, requireEncryption)
	tlsServer := httptest.NewTLSServer(hs.h)
	defer tlsServer.Close()

	// Over plain HTTP this server refuses PLAIN, so offers no mechanism.
	_, root := hs.create(1, "")
	if got := len(root.FindElements("features/mechanisms")); got != 0 {
		t.Fatalf("PLAIN offered over plain HTTP with encryption required")
	}

	resp, _ := postTo(t, tlsServer.Client(), tlsServer.URL, creation(100, `wait='60' hold='1'`))
	root = parse(t, resp)
	if !strings.Contains(resp, "<mechanism>PLAIN</mechanism>") || root.SelectAttrValue("secure", "") != "true" {
		t.Fatalf("over TLS: %s", resp)
	}
	sid := root.SelectAttrValue("sid", "")

	// The TLS session's sid over plain HTTP: the connection is dropped and
	// the session goes on.
	if r, err := hs.ts.Client().Post(hs.ts.URL, "text/xml", strings.NewReader(req(sid, 101, "", ""))); err == nil {
		r.Body.Close()
		t.Fatalf("plain request for a TLS session answered with %s", r.Status)
	}
	resp, _ = postTo(t, tlsServer.Client(), tlsServer.URL, req(sid, 101, "", badAuth))
	expect(t, "TLS request after the plain attempt", resp, badAuthResp)
}

func TestRepeatedRidReplayed(t *testing.T) {
	hs := newHarness(t, Config{MaxWait: 20 * time.Millisecond})
	sid, _ := hs.create(100, "")
	first := hs.post(req(sid, 101, "", badAuth))
	expect(t, "failure", first, badAuthResp)
	// The client lost the response and sends the same request again: the
	// cached response comes back, and the payload is not processed twice
	// (a second failure would count toward the failed-auth limit).
	expect(t, "replayed", hs.post(req(sid, 101, "", badAuth)), first)

	// The creation response is cached too, under its rid.
	second := hs.post(req(sid, 102, "", ""))
	expect(t, "poll after wait", second, emptyResp)
	expect(t, "replayed poll", hs.post(req(sid, 102, "", "")), second)

	// The cache keeps `requests` (2) responses: 101 is gone once 103 is
	// answered, and asking for it again ends the session.
	expect(t, "poll 103", hs.post(req(sid, 103, "", "")), emptyResp)
	expect(t, "rid too old", hs.post(req(sid, 101, "", "")), terminateResp("item-not-found"))
	expect(t, "after", hs.post(req(sid, 104, "", "")), terminateResp("item-not-found"))
	if got := metricValue(hs.h.metrics.replays); got != 2 {
		t.Fatalf("replays metric %v, want 2", got)
	}
}

func TestRidBeyondWindow(t *testing.T) {
	hs := newHarness(t, Config{})
	sid, _ := hs.create(100, "") // hold=1: requests=2, so 101 and 102 are in the window
	expect(t, "rid 103", hs.post(req(sid, 103, "", "")), terminateResp("item-not-found"))
	hs.waitSessions(0)
	expect(t, "the sid afterwards", hs.post(req(sid, 101, "", "")), terminateResp("item-not-found"))
}

func TestEarlyRidDeferred(t *testing.T) {
	hs := newHarness(t, Config{MaxWait: 100 * time.Millisecond})
	sid, _ := hs.create(100, "")

	// The restart (102) overtakes the authentication (101) on the network.
	// Processed first, it would end the stream (it is not yet open for a
	// restart); it must wait for 101.
	restartResp := hs.postAsync(restart(sid, 102))
	waitFor(t, "102 deferred", func() bool { return metricValue(hs.h.metrics.deferred) == 1 })
	authResp := hs.postAsync(req(sid, 101, "", plainAuth("alice", "secret")))

	// 101 and 102 are processed in order; their output goes to the
	// lowest-rid held request, 101. 102 is held until wait expires.
	expect(t, "101", hs.await(authResp).body, openPayload+saslSuccess+boundFeatures+`</body>`)
	expect(t, "102", hs.await(restartResp).body, emptyResp)
	if got := metricValue(hs.h.metrics.deferred); got != 0 {
		t.Fatalf("deferred metric %v after the gap filled", got)
	}
}

func TestWaitExpiry(t *testing.T) {
	const wait = 50 * time.Millisecond
	hs := newHarness(t, Config{MaxWait: wait})
	sid, root := hs.create(1, "")
	expect(t, "advertised wait", root.SelectAttrValue("wait", ""), "1") // whole seconds, rounded up
	start := time.Now()
	expect(t, "poll", hs.post(req(sid, 2, "", "")), emptyResp)
	if d := time.Since(start); d < wait {
		t.Fatalf("answered after %s, before wait (%s) expired", d, wait)
	}
}

func TestHoldOverflow(t *testing.T) {
	for _, hold := range []int{1, 2} {
		t.Run(fmt.Sprintf("hold=%d", hold), func(t *testing.T) {
			hs := newHarness(t, Config{MaxWait: 30 * time.Second})
			sid, _ := hs.create(100, fmt.Sprintf("hold='%d'", hold))
			var held []<-chan result
			for i := range hold {
				held = append(held, hs.postAsync(req(sid, int64(101+i), "", "")))
				hs.waitHeld(i + 1)
			}
			// One more than hold: the oldest is answered at once, empty.
			next := hs.postAsync(req(sid, int64(101+hold), "", ""))
			expect(t, "oldest", hs.await(held[0]).body, emptyResp)
			hs.waitHeld(hold)

			// A terminate answers everything still held.
			end := hs.post(req(sid, int64(102+hold), "type='terminate'", ""))
			expect(t, "terminate", end, cleanEnd)
			for _, ch := range append(held[1:], next) {
				expect(t, "held at terminate", hs.await(ch).body, cleanEnd)
			}
			hs.waitHeld(0)
		})
	}
}

func TestAcknowledgements(t *testing.T) {
	hs := newHarness(t, Config{MaxWait: 200 * time.Millisecond})
	sid, root := hs.create(100, "ack='1'")
	expect(t, "creation ack", root.SelectAttrValue("ack", ""), "100")
	first := hs.postAsync(req(sid, 101, "", ""))
	hs.waitHeld(1)
	second := hs.postAsync(req(sid, 102, "", ""))
	// 101 is answered because 102 arrived: the ack reports 102.
	expect(t, "101", hs.await(first).body, `<body xmlns='http://jabber.org/protocol/httpbind' ack='102'/>`)
	hs.waitHeld(1)
	third := hs.postAsync(req(sid, 103, "", badAuth))
	// 103's output goes to the lowest held request, 102, acknowledging 103.
	expect(t, "102", hs.await(second).body, strings.Replace(badAuthResp, "'>", "' ack='103'>", 1))
	// 103 is answered when wait expires; an ack would equal its own rid.
	expect(t, "103", hs.await(third).body, emptyResp)
}

func TestInactivityExpiry(t *testing.T) {
	hs := newHarness(t, Config{MaxWait: 20 * time.Millisecond, Inactivity: 50 * time.Millisecond})
	sid, _ := hs.create(1, "")
	hs.waitSessions(0) // no request held for 50 ms
	expect(t, "after expiry", hs.post(req(sid, 2, "", "")), terminateResp("item-not-found"))
}

func TestHeldRequestCountsAsActivity(t *testing.T) {
	hs := newHarness(t, Config{MaxWait: 500 * time.Millisecond, Inactivity: 200 * time.Millisecond})
	sid, _ := hs.create(1, "")
	// Held for 500 ms, longer than the inactivity limit: still alive,
	// because the inactivity clock starts only when no request is held.
	expect(t, "held poll", hs.post(req(sid, 2, "", "")), emptyResp)
	if n := hs.srv.SessionCount(); n != 1 {
		t.Fatalf("session ended while a request was held")
	}
	expect(t, "next request", hs.post(req(sid, 3, "", badAuth)), badAuthResp)
}

func TestAbandonedRequestStartsInactivity(t *testing.T) {
	hs := newHarness(t, Config{MaxWait: 30 * time.Second, Inactivity: 50 * time.Millisecond})
	sid, _ := hs.create(1, "")
	ctx, cancel := context.WithCancel(context.Background())
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, hs.ts.URL, strings.NewReader(req(sid, 2, "", "")))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := hs.ts.Client().Do(r); err == nil {
			resp.Body.Close()
		}
	}()
	hs.waitHeld(1)
	cancel() // the client vanishes with a request held
	<-done
	// The request is no longer held, so the session ends after the
	// inactivity period instead of after wait (30 s).
	hs.waitSessions(0)
}

func TestPause(t *testing.T) {
	hs := newHarness(t, Config{MaxWait: 30 * time.Second, Inactivity: 50 * time.Millisecond, MaxPause: time.Second})
	sid, root := hs.create(1, "")
	expect(t, "maxpause", root.SelectAttrValue("maxpause", ""), "1")
	held := hs.postAsync(req(sid, 2, "", ""))
	hs.waitHeld(1)
	// Pausing answers every held request and the pause request at once.
	expect(t, "pause", hs.post(req(sid, 3, "pause='1'", "")), emptyResp)
	expect(t, "held at pause", hs.await(held).body, emptyResp)
	hs.waitHeld(0)
	// Three inactivity periods pass: the pause (1 s) keeps the session.
	time.Sleep(150 * time.Millisecond)
	if n := hs.srv.SessionCount(); n != 1 {
		t.Fatalf("session ended during a pause")
	}
	expect(t, "after the pause", hs.post(req(sid, 4, "", badAuth)), badAuthResp)
	// A pause longer than maxpause breaks the session rules.
	expect(t, "pause > maxpause", hs.post(req(sid, 5, "pause='2'", "")), terminateResp("policy-violation"))
	hs.waitSessions(0)
}

func TestTerminate(t *testing.T) {
	hs := newHarness(t, Config{})
	sid, _ := hs.create(1, "")
	expect(t, "terminate", hs.post(req(sid, 2, "type='terminate'", "")), cleanEnd)
	hs.waitSessions(0)
	expect(t, "after terminate", hs.post(req(sid, 3, "", "")), terminateResp("item-not-found"))
}

func TestUnknownSID(t *testing.T) {
	hs := newHarness(t, Config{})
	_, _ = hs.create(1, "")
	expect(t, "unknown sid", hs.post(req("no-such-session", 2, "", "")), terminateResp("item-not-found"))
	if n := hs.srv.SessionCount(); n != 1 {
		t.Fatalf("another session was disturbed: %d sessions", n)
	}
}

func TestCORSAndMethods(t *testing.T) {
	hs := newHarness(t, Config{AllowOrigin: "https://desktop.example.com"})
	r, _ := http.NewRequest(http.MethodOptions, hs.ts.URL, nil)
	r.Header.Set("Origin", "https://desktop.example.com")
	r.Header.Set("Access-Control-Request-Method", "POST")
	r.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := hs.ts.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight status %d", resp.StatusCode)
	}
	for h, want := range map[string]string{
		"Access-Control-Allow-Origin":  "https://desktop.example.com",
		"Access-Control-Allow-Methods": "POST, OPTIONS",
		"Access-Control-Allow-Headers": "Content-Type",
		"Access-Control-Max-Age":       "86400",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}

	_, postResp := postTo(t, hs.ts.Client(), hs.ts.URL, req("x", 1, "", ""))
	expect(t, "POST Allow-Origin", postResp.Header.Get("Access-Control-Allow-Origin"), "https://desktop.example.com")

	get, err := hs.ts.Client().Get(hs.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	if get.StatusCode != http.StatusMethodNotAllowed || get.Header.Get("Allow") != "POST, OPTIONS" {
		t.Fatalf("GET: %s, Allow %q", get.Status, get.Header.Get("Allow"))
	}
}

func TestBadRequests(t *testing.T) {
	hs := newHarness(t, Config{})
	for name, body := range map[string]string{
		"truncated":        `<body rid='1' xmlns='http://jabber.org/protocol/httpbind'`,
		"DTD":              `<?xml version='1.0'?><!DOCTYPE body [<!ENTITY x 'y'>]><body rid='1' xmlns='http://jabber.org/protocol/httpbind'/>`,
		"entity":           `<body rid='1' xmlns='http://jabber.org/protocol/httpbind'><message xmlns='jabber:client'>&x;</message></body>`,
		"comment":          `<body rid='1' xmlns='http://jabber.org/protocol/httpbind'><!-- hi --></body>`,
		"not a body":       `<stream rid='1' xmlns='http://jabber.org/protocol/httpbind'/>`,
		"wrong ns":         `<body rid='1' xmlns='jabber:client'/>`,
		"no rid":           `<body xmlns='http://jabber.org/protocol/httpbind' to='example.com'/>`,
		"rid not a number": `<body rid='x1' xmlns='http://jabber.org/protocol/httpbind'/>`,
		"rid too large":    `<body rid='9007199254740992' xmlns='http://jabber.org/protocol/httpbind'/>`,
		"text in body":     `<body rid='1' xmlns='http://jabber.org/protocol/httpbind'>hello</body>`,
		"bad wait":         `<body rid='1' wait='-1' xmlns='http://jabber.org/protocol/httpbind'/>`,
		"bad ver":          `<body rid='1' ver='one' xmlns='http://jabber.org/protocol/httpbind'/>`,
		"bad type":         `<body rid='1' type='error' xmlns='http://jabber.org/protocol/httpbind'/>`,
		"empty":            ``,
	} {
		expect(t, name, hs.post(body), terminateResp("bad-request"))
	}
	if n := hs.srv.SessionCount(); n != 0 {
		t.Fatalf("%d sessions created by bad requests", n)
	}

	// Bad XML for a live session ends that session, and only that one.
	sid, _ := hs.create(100, "")
	other, _ := hs.create(200, "")
	expect(t, "bad XML in a session", hs.post(req(sid, 101, "", "<iq xmlns='jabber:client'>")), terminateResp("bad-request"))
	hs.waitSessions(1)
	// Requests the client had already sent learn why, not just that the sid is gone.
	expect(t, "the session afterwards", hs.post(req(sid, 102, "", "")), terminateResp("bad-request"))
	expect(t, "the other session", hs.post(req(other, 201, "", badAuth)), badAuthResp)
}

func TestFailedSIDIsForgottenAfterMaxWait(t *testing.T) {
	const maxWait = 50 * time.Millisecond
	hs := newHarness(t, Config{MaxWait: maxWait})
	sid, _ := hs.create(100, "")
	expect(t, "bad XML", hs.post(req(sid, 101, "", "<iq xmlns='jabber:client'>")), terminateResp("bad-request"))
	expect(t, "right after", hs.post(req(sid, 102, "", "")), terminateResp("bad-request"))
	time.Sleep(2 * maxWait) // the configured memory, not a guess at scheduling
	expect(t, "after max wait", hs.post(req(sid, 103, "", "")), terminateResp("item-not-found"))
}

func TestOversizeBody(t *testing.T) {
	hs := newHarness(t, Config{MaxBodyBytes: 2048})
	sid, _ := hs.create(1, "")
	big := `<message xmlns='jabber:client' to='bob@example.com'><body>` + strings.Repeat("x", 4096) + `</body></message>`
	expect(t, "oversize", hs.post(req(sid, 2, "", big)), terminateResp("policy-violation"))
	hs.waitSessions(0)
	expect(t, "oversize without a session", hs.post(req("nobody", 1, "", big)), terminateResp("policy-violation"))
}

func TestLoginPingAndTerminateOverBOSH(t *testing.T) {
	hs := newHarness(t, Config{MaxWait: 30 * time.Second})
	sid, rid := hs.login("Alice", "web", 1000)

	// A payload without a namespace of its own inherits the wrapper's and
	// is taken as jabber:client (XEP-0206 §2).
	ping := `<iq type='get' id='p1' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`
	expect(t, "ping", hs.post(req(sid, rid, "", ping)),
		openPayload+`<iq xmlns='jabber:client' type='result' id='p1' from='example.com' to='alice@example.com/web'/></body>`)
	rid++

	// A message to another BOSH user is delivered on that user's held request.
	bobSid, bobRid := hs.login("bob", "desk", 5000)
	bobHeld := hs.postAsync(req(bobSid, bobRid, "", `<presence xmlns='jabber:client'/>`))
	hs.waitHeld(1)
	msg := `<message xmlns='jabber:client' to='bob@example.com' type='chat' id='m1'><body>hi</body></message>`
	alicePoll := hs.postAsync(req(sid, rid, "", msg))
	expect(t, "bob receives", hs.await(bobHeld).body, openPayload+
		`<message xmlns='jabber:client' to='bob@example.com' type='chat' id='m1' from='alice@example.com/web'><body>hi</body></message></body>`)
	rid++

	// Terminate with a final unavailable presence: the held request and
	// the terminate request both get the terminate body.
	end := hs.post(req(sid, rid, "type='terminate'", `<presence xmlns='jabber:client' type='unavailable'/>`))
	expect(t, "terminate", end, cleanEnd)
	expect(t, "held at terminate", hs.await(alicePoll).body, cleanEnd)
	hs.waitSessions(1)
}

func TestServerCloseArrivesAsTerminate(t *testing.T) {
	hs := newHarness(t, Config{MaxWait: 30 * time.Second})
	const streamErr = `<stream:error xmlns:stream='http://etherx.jabber.org/streams'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>` +
		`<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>replaced</text></stream:error>`
	want := `<body xmlns='http://jabber.org/protocol/httpbind' xmlns:stream='http://etherx.jabber.org/streams' type='terminate'` +
		` condition='remote-stream-error'>` + streamErr + `</body>`
	closeSession := func(resource string) {
		s := hs.srv.SessionFor(server.JID{Local: "alice", Domain: domain, Resource: resource})
		if s == nil {
			t.Fatalf("no session for alice/%s", resource)
		}
		s.Close(&server.StreamError{Condition: server.CondConflict, Text: "replaced"})
	}

	// With a request held: it carries the stream error.
	sid, rid := hs.login("alice", "one", 100)
	held := hs.postAsync(req(sid, rid, "", ""))
	hs.waitHeld(1)
	closeSession("one")
	expect(t, "held request", hs.await(held).body, want)
	expect(t, "afterwards", hs.post(req(sid, rid+1, "", "")), terminateResp("remote-stream-error"))

	// With none held: the next request carries it.
	sid, rid = hs.login("alice", "two", 200)
	closeSession("two")
	expect(t, "next request", hs.post(req(sid, rid, "", "")), want)
	hs.waitSessions(0)
}

func TestHandlerCloseAnswersHeldRequests(t *testing.T) {
	hs := newHarness(t, Config{MaxWait: 30 * time.Second})
	sid, _ := hs.create(1, "")
	held := hs.postAsync(req(sid, 2, "", ""))
	hs.waitHeld(1)
	hs.h.Close()
	got := hs.await(held).body
	if !strings.Contains(got, "condition='remote-stream-error'") || !strings.Contains(got, "<system-shutdown ") {
		t.Fatalf("held request at Close: %s", got)
	}
	expect(t, "after Close", hs.post(creation(10, "wait='60' hold='1'")), terminateResp("system-shutdown"))
}

func TestServerShutdownWaitsForTheTerminate(t *testing.T) {
	hs := newHarness(t, Config{MaxWait: 30 * time.Second})
	heldSid, _ := hs.create(1, "")
	idleSid, _ := hs.create(100, "")
	held := hs.postAsync(req(heldSid, 2, "", ""))
	hs.waitHeld(1)

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdown <- hs.srv.Shutdown(ctx)
	}()
	want := `<body xmlns='http://jabber.org/protocol/httpbind' xmlns:stream='http://etherx.jabber.org/streams' type='terminate'` +
		` condition='remote-stream-error'><stream:error xmlns:stream='http://etherx.jabber.org/streams'><system-shutdown` +
		` xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>` +
		`the server is shutting down</text></stream:error></body>`
	expect(t, "held request", hs.await(held).body, want)

	// The idle session's terminate waits for its next request, and so
	// does the server's shutdown.
	select {
	case err := <-shutdown:
		t.Fatalf("shutdown returned (%v) before the idle session got its terminate", err)
	default:
	}
	expect(t, "idle session's next request", hs.post(req(idleSid, 101, "", "")), want)
	select {
	case err := <-shutdown:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown still waiting after every client got its terminate")
	}
}
