package iproc

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
)

// fakeWS is a WebSocket whose peer is the test: frames sent to in are
// read by the service, and every message the service writes waits until
// the test takes it from out, so the test decides when the client reads.
type fakeWS struct {
	in     chan []byte
	out    chan []byte
	closed chan struct{}
	once   sync.Once

	mu          sync.Mutex
	closeCode   int
	closeReason string
}

func newFakeWS() *fakeWS {
	return &fakeWS{in: make(chan []byte), out: make(chan []byte), closed: make(chan struct{})}
}

func (w *fakeWS) NextFrame() (bool, io.Reader, error) {
	select {
	case f := <-w.in:
		return false, bytes.NewReader(f), nil
	case <-w.closed:
		return false, nil, net.ErrClosed
	}
}

func (w *fakeWS) WriteText(_ time.Time, parts ...[]byte) error {
	msg := bytes.Join(parts, nil)
	select {
	case w.out <- msg:
		return nil
	case <-w.closed:
		return net.ErrClosed
	}
}

func (w *fakeWS) WritePing(time.Time) error { return nil }

func (w *fakeWS) WriteClose(code int, reason string, _ time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closeCode != 0 {
		return errors.New("close already sent")
	}
	w.closeCode, w.closeReason = code, reason
	return nil
}

func (w *fakeWS) SetReadLimit(int64)              {}
func (w *fakeWS) SetReadDeadline(time.Time) error { return nil }
func (w *fakeWS) SetPongHandler(func())           {}

func (w *fakeWS) Close() error {
	w.once.Do(func() { close(w.closed) })
	return nil
}

// read takes the service's next message.
func (w *fakeWS) read(t *testing.T) string {
	t.Helper()
	select {
	case m := <-w.out:
		return string(m)
	case <-time.After(wait):
		t.Fatal("no message from the service")
		return ""
	}
}

// A client that does not read is disconnected once its queue is full,
// with a close frame, a log entry and a metric; the others are not held
// up.
func TestSlowConsumerDisconnected(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	f := newFixture(t, func(c *Config) {
		c.SendQueue = 4
		c.Logger = zap.New(core)
	})
	ws := newFakeWS()
	gorilla := f.svc.upgrade
	f.svc.upgrade = func(w http.ResponseWriter, r *http.Request) (wsConn, error) {
		if r.Header.Get("X-Fake") != "" {
			return ws, nil
		}
		return gorilla(w, r)
	}
	fast := f.dial(t)
	fast.login("1002")
	fast.begin("1002")

	served := make(chan struct{})
	go func() {
		r := upgradeRequest()
		r.Header.Set("X-Fake", "1")
		f.svc.ServeHTTP(httptest.NewRecorder(), r)
		close(served)
	}()
	if m := ws.read(t); m[:len(`{"name":"service.descriptor"`)] != `{"name":"service.descriptor"` {
		t.Fatalf("first message %s", m)
	}
	ws.in <- []byte(`{"command":"prepareSession","data":{"agent":{"id":"1001","password":"pw1001"}}}`)
	ws.read(t)
	ws.in <- []byte(`{"command":"report.teamstatus.begin","data":{"agentId":"1001"}}`)
	ws.read(t) // success
	ws.read(t) // teamadded

	// The slow client reads nothing more: at most SendQueue messages wait
	// for it (one taken by its writer, blocked), and the next change
	// closes it.
	// The fast client reads each change as it comes.
	for i := range 6 {
		f.agents.set("1001", []agent.State{agent.StateReady, agent.StateNotReady}[i%2], nil)
		if ev := fast.read(); ev["name"] != evMemberStatusChanged {
			t.Fatalf("fast client: %v", ev)
		}
	}
	waitFor(t, ws.closed)
	waitFor(t, served)
	ws.mu.Lock()
	code, reason := ws.closeCode, ws.closeReason
	ws.mu.Unlock()
	if code != closePolicy || reason != "send queue overflow" {
		t.Errorf("close %d %q, want 1008 send queue overflow", code, reason)
	}
	if got := metricValue(t, f.reg, "finesse_notify_iproc_send_queue_overflows_total"); got != 1 {
		t.Errorf("overflows = %v, want 1", got)
	}
	entries := logs.FilterMessageSnippet("send queue overflow").All()
	if len(entries) != 1 || entries[0].ContextMap()["send_queue"] != int64(4) || entries[0].ContextMap()["conn"] == nil {
		t.Errorf("log entries %v, want one with the connection and the bound", entries)
	}

	fast.sync()
	if got := metricValue(t, f.reg, "finesse_notify_iproc_team_status_streams"); got != 1 {
		t.Errorf("streams = %v, want the fast client's alone", got)
	}
}

// Events kept for a stream on hold (its member list being read) are
// bounded by the send queue too.
func TestHeldEventsBounded(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.SendQueue = 2 })
	ws := newFakeWS()
	c := newConn(f.svc, ws, "192.0.2.1:1")
	st := &stream{conn: c, key: "1001", agentJSON: []byte(`"1001"`), teamID: 1, hold: true}
	ev := teamEvent{evMemberStatusChanged, []byte(`,"team":{}}}`)}
	f.svc.mu.Lock()
	f.svc.addStreamLocked(st)
	for range 3 {
		f.svc.deliverLocked(st, ev)
	}
	f.svc.mu.Unlock()
	waitFor(t, ws.closed)
	if !c.isClosing() || st.pending != nil {
		t.Errorf("closing %v, pending %d: want the connection closing and nothing kept", c.isClosing(), len(st.pending))
	}
	if got := metricValue(t, f.reg, "finesse_notify_iproc_send_queue_overflows_total"); got != 1 {
		t.Errorf("overflows = %v, want 1", got)
	}
}
