package loadtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// reorderingBOSH is a BOSH connection manager that behaves like ejabberd
// 23.01 where it matters to the client's order of requests, with a
// network that delivers requests out of order whenever it can:
//
//   - an empty request is taken in only once a later request has arrived
//     (or after reorderWindow), as if its connection were slow;
//   - a request that arrives before its predecessor is parked, and is taken
//     in when the predecessor is answered, not when it arrives: an empty
//     predecessor is held (hold=1), and the parked request waits until the
//     held one is answered (which, with nothing to say, is at 'wait').
//
// Its XMPP side is a script: SASL PLAIN succeeds, a restart gets the bind
// feature, an IQ set gets an empty result, anything else gets nothing.
type reorderingBOSH struct {
	reorderWindow time.Duration

	mu         sync.Mutex
	sid        string
	prevRID    int64
	held       *boshExchange
	parked     map[int64]*boshExchange
	out        []string // what the server has to say, for the next answer
	maxArrived int64
	arrival    chan struct{} // closed and replaced at every arrival
	nParked    int           // requests that arrived before their predecessor
}

type boshExchange struct {
	rid    int64
	body   []byte
	answer chan string
}

func newReorderingBOSH(window time.Duration) *reorderingBOSH {
	return &reorderingBOSH{reorderWindow: window, parked: make(map[int64]*boshExchange), arrival: make(chan struct{})}
}

func (s *reorderingBOSH) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return
	}
	ridText, _ := attr(body, "rid")
	rid, err := strconv.ParseInt(ridText, 10, 64)
	if err != nil {
		http.Error(w, "bad rid", http.StatusBadRequest)
		return
	}
	x := &boshExchange{rid: rid, body: body, answer: make(chan string, 1)}

	s.mu.Lock()
	if s.sid == "" {
		s.sid = "reordering"
		s.prevRID = rid
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = io.WriteString(w, `<body xmlns='`+nsHTTPBind+`' xmlns:xmpp='`+nsXBOSH+`' xmlns:stream='http://etherx.jabber.org/streams' sid='reordering' wait='60' hold='1' requests='2' inactivity='30' ver='1.11' xmpp:version='1.0'>`+
			`<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features></body>`)
		return
	}
	if rid > s.maxArrived {
		s.maxArrived = rid
	}
	close(s.arrival)
	s.arrival = make(chan struct{})
	s.mu.Unlock()

	empty := !strings.Contains(string(body), "xmpp:restart") && !strings.Contains(string(body), "terminate")
	_ = splitChildren(body, func([]byte) { empty = false })
	if empty {
		s.delayUntilOvertaken(rid)
	}

	s.mu.Lock()
	s.takeIn(x)
	s.mu.Unlock()
	select {
	case a := <-x.answer:
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = io.WriteString(w, a)
	case <-r.Context().Done():
	}
}

// delayUntilOvertaken returns once a request with a higher rid than rid
// has arrived, or after the reorder window.
func (s *reorderingBOSH) delayUntilOvertaken(rid int64) {
	timer := time.NewTimer(s.reorderWindow)
	defer timer.Stop()
	for {
		s.mu.Lock()
		overtaken, arrival := s.maxArrived > rid, s.arrival
		s.mu.Unlock()
		if overtaken {
			return
		}
		select {
		case <-arrival:
		case <-timer.C:
			return
		}
	}
}

// takeIn is ejabberd's handling of a request. s.mu is held.
func (s *reorderingBOSH) takeIn(x *boshExchange) {
	if x.rid > s.prevRID+1 {
		s.parked[x.rid] = x
		s.nParked++
		return
	}
	s.prevRID = x.rid
	if s.held != nil {
		// hold=1: the held request is answered when another one comes.
		s.held.answer <- s.emptyBody()
		s.held = nil
	}
	if strings.Contains(string(x.body), "xmpp:restart") {
		s.out = append(s.out, `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`)
	}
	_ = splitChildren(x.body, func(el []byte) {
		switch {
		case isTag(el, "auth"):
			s.out = append(s.out, `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
		case isTag(el, "iq"):
			if t, _ := attr(el, "type"); t == "set" {
				id, _ := attr(el, "id")
				s.out = append(s.out, `<iq xmlns='jabber:client' type='result' id='`+escape(id)+`'/>`)
			}
		}
	})
	if len(s.out) == 0 {
		// Held, and (as ejabberd does) the parked successor waits for
		// this request's answer.
		s.held = x
		return
	}
	s.answer(x)
}

// answer sends what the server has to say on x, and then takes in the
// request parked behind x. s.mu is held.
func (s *reorderingBOSH) answer(x *boshExchange) {
	x.answer <- `<body xmlns='` + nsHTTPBind + `' xmlns:stream='http://etherx.jabber.org/streams'>` + strings.Join(s.out, "") + `</body>`
	s.out = nil
	if next, ok := s.parked[x.rid+1]; ok {
		delete(s.parked, x.rid+1)
		s.takeIn(next)
	}
}

func (s *reorderingBOSH) emptyBody() string { return `<body xmlns='` + nsHTTPBind + `'/>` }

// push is the server's side of the stream saying el: on the held request
// if there is one, else on the next request that comes.
func (s *reorderingBOSH) push(el string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out = append(s.out, el)
	if s.held != nil {
		x := s.held
		s.held = nil
		s.answer(x)
	}
}

func (s *reorderingBOSH) parkedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nParked
}

// TestBOSHLoginWhenRequestsCanArriveOutOfOrder logs in, answers a ping and
// receives a message through a connection manager that takes an empty
// request after any request that follows it closely, and then holds the
// empty one with the payload parked behind it, as ejabberd does. The
// client must never send a payload hard on the heels of an empty request.
func TestBOSHLoginWhenRequestsCanArriveOutOfOrder(t *testing.T) {
	fake := newReorderingBOSH(100 * time.Millisecond)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	hc := newBOSHClient(nil, 1, 60*time.Second)
	defer hc.CloseIdleConnections()
	w := newBOSH(hc, srv.URL, testDomain, 60*time.Second, 64<<10)
	defer w.close(false)
	w.setDeadline(time.Now().Add(3 * time.Second))

	expect := func(step, tag string) []byte {
		t.Helper()
		el, err := w.next()
		if err != nil {
			t.Fatalf("%s: waiting for <%s>: %v (requests that arrived before their predecessor: %d)", step, tag, err, fake.parkedCount())
		}
		if !isTag(el, tag) {
			t.Fatalf("%s: got %s, want <%s>", step, el, tag)
		}
		return el
	}
	send := func(step, el string) {
		t.Helper()
		if err := w.send([]byte(el)); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}

	if err := w.open(); err != nil {
		t.Fatal(err)
	}
	expect("open", "stream:features")
	send("auth", `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGxvYWQAcGFzc3dvcmQ=</auth>`)
	expect("auth", "success")
	if err := w.open(); err != nil {
		t.Fatal(err)
	}
	expect("restart", "stream:features")
	send("bind", `<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`)
	if id, _ := attr(expect("bind", "iq"), "id"); id != "b1" {
		t.Fatalf("bind: answer to %q, want b1", id)
	}

	// The server pings; the answer gets no reply, so the server holds
	// its request, and the message that follows comes on it.
	fake.push(`<iq xmlns='jabber:client' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`)
	expect("ping", "iq")
	send("pong", `<iq xmlns='jabber:client' type='result' id='p1'/>`)
	fake.push(`<message xmlns='jabber:client'><body>after the ping</body></message>`)
	expect("message", "message")

	if n := fake.parkedCount(); n != 0 {
		t.Errorf("%d requests reached the server before their predecessor", n)
	}
}
