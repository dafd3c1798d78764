package iproc

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

// wait bounds every wait for the service: a safety net against a hang,
// never an assertion of speed.
const wait = 5 * time.Second

// testDirectory is the directory of most tests: team 1 with two agents and
// a supervisor of teams 1 and 2, team 2 with one agent, an administrator.
const testDirectory = `
teams: [{id: 1, name: Team A}, {id: 2, name: Team B}]
users:
  - {id: "1001", password: pw1001, firstName: Ann, lastName: Archer, role: Agent, team: 1}
  - {id: "1002", password: pw1002, firstName: Bob, lastName: Baker, role: Agent, team: 1}
  - {id: "2001", password: pw2001, firstName: Sue, lastName: Boss, role: Supervisor, team: 1, supervises: [1, 2]}
  - {id: "1003", password: pw1003, firstName: Cat, lastName: Cole, role: Agent, team: 2}
  - {id: admin, password: pwadmin, role: Administrator}
reasonCodes:
  - {id: 1, category: NOT_READY, code: 7, label: Lunch, forAll: true}
  - {id: 2, category: LOGOUT, code: 255, label: Forced, forAll: true, systemCode: true}
`

func parseDirectory(t *testing.T, yaml string) *directory.Directory {
	t.Helper()
	d, err := directory.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("test directory: %v", err)
	}
	return d
}

// fakeAgents is the agent registry of the tests. Like the real one, it
// calls its subscribers with its lock held, so that a service reading
// states while holding its own lock would deadlock here.
type fakeAgents struct {
	mu     sync.Mutex
	states map[string]fakeState
	subs   []func(StateChange)
}

type fakeState struct {
	state  agent.State
	reason *directory.ReasonCode
}

func newFakeAgents() *fakeAgents { return &fakeAgents{states: make(map[string]fakeState)} }

func (f *fakeAgents) State(id string) (agent.State, *directory.ReasonCode, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.states[strings.ToLower(id)]
	return st.state, st.reason, ok
}

func (f *fakeAgents) Subscribe(fn func(StateChange)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = append(f.subs, fn)
}

// set changes a user's state and tells the subscribers, in order.
func (f *fakeAgents) set(id string, state agent.State, reason *directory.ReasonCode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[strings.ToLower(id)] = fakeState{state, reason}
	for _, fn := range f.subs {
		fn(StateChange{UserID: id, State: state, Reason: reason, At: time.Unix(0, 0)})
	}
}

// fakeJourneys is a routing history.
type fakeJourneys map[string][]JourneyStep

func (f fakeJourneys) CallJourney(id string) ([]JourneyStep, bool) {
	steps, ok := f[id]
	return steps, ok
}

var testDescriptor = Descriptor{
	Vendor: "finesse-notify", Version: "1.0.0", CTIVendor: "Cisco", CTIVersion: "12.6", InstanceDomain: "test.example",
}

// fixture is a service behind a real HTTP server.
type fixture struct {
	svc    *Service
	srv    *httptest.Server
	agents *fakeAgents
	reg    *prometheus.Registry
	dir    *directory.Directory
}

func newFixture(t *testing.T, opts ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{agents: newFakeAgents(), reg: prometheus.NewRegistry(), dir: parseDirectory(t, testDirectory)}
	cfg := Config{
		Directory:    f.dir,
		Agents:       f.agents,
		Journeys:     fakeJourneys{},
		Descriptor:   testDescriptor,
		Registerer:   f.reg,
		PingInterval: -1,
		WriteTimeout: wait,
		Now:          func() time.Time { return time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC) },
	}
	for _, o := range opts {
		o(&cfg)
	}
	f.svc = New(cfg)
	f.srv = httptest.NewServer(f.svc)
	t.Cleanup(func() {
		f.svc.Close()
		f.srv.Close()
	})
	return f
}

func (f *fixture) url() string {
	return "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/interaction-processor"
}

// client is a WebSocket client of the service.
type client struct {
	t *testing.T
	c *websocket.Conn
}

// dial connects and reads the service.descriptor event that opens every
// connection.
func (f *fixture) dial(t *testing.T) *client {
	t.Helper()
	c := f.dialRaw(t)
	ev := c.read()
	if ev["name"] != evServiceDescriptor {
		t.Fatalf("first message = %v, want the service.descriptor event", ev)
	}
	return c
}

// dialRaw connects without reading anything.
func (f *fixture) dialRaw(t *testing.T) *client {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: wait}
	conn, resp, err := d.Dial(f.url(), nil)
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, c: conn}
}

// sendRaw sends one text frame.
func (c *client) sendRaw(s string) {
	c.t.Helper()
	if err := c.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// readRaw reads one message.
func (c *client) readRaw() string {
	c.t.Helper()
	if err := c.c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		c.t.Fatal(err)
	}
	typ, data, err := c.c.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage {
		c.t.Fatalf("message of type %d, want text", typ)
	}
	return string(data)
}

// read reads one message as a JSON object.
func (c *client) read() map[string]any {
	c.t.Helper()
	return c.parse(c.readRaw())
}

// parse parses a message as a JSON object.
func (c *client) parse(raw string) map[string]any {
	c.t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		c.t.Fatalf("message %s is not a JSON object: %v", raw, err)
	}
	return m
}

// call sends a request and reads the next message, its response.
func (c *client) call(request string) map[string]any {
	c.t.Helper()
	c.sendRaw(request)
	return c.read()
}

// login prepares a session for id, whose password is "pw"+id.
func (c *client) login(id string) string {
	c.t.Helper()
	r := c.call(`{"command":"prepareSession","data":{"model":"uccx","override":false,"agent":{"id":"` + id + `","password":"pw` + id + `"}}}`)
	if r["result"] != resultSuccess {
		c.t.Fatalf("prepareSession for %s: %v", id, r)
	}
	return path(r, "resource.id").(string)
}

// begin starts a team status stream and returns the teamadded event.
func (c *client) begin(agentID string) map[string]any {
	c.t.Helper()
	r := c.call(`{"command":"report.teamstatus.begin","data":{"agentId":"` + agentID + `"}}`)
	if r["result"] != resultSuccess {
		c.t.Fatalf("begin for %s: %v", agentID, r)
	}
	ev := c.read()
	if ev["name"] != evTeamAdded {
		c.t.Fatalf("after begin: %v, want teamadded", ev)
	}
	return ev
}

// sync sends getServiceDescriptor and checks that the next message is its
// answer: nothing else was queued before it.
func (c *client) sync() {
	c.t.Helper()
	r := c.call(`{"command":"getServiceDescriptor"}`)
	if r["command"] != cmdGetServiceDescriptor || r["result"] != resultSuccess {
		c.t.Fatalf("got %v, want only getServiceDescriptor's answer", r)
	}
}

// expectClose reads until the close frame and returns it.
func (c *client) expectClose() *websocket.CloseError {
	c.t.Helper()
	if err := c.c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		c.t.Fatal(err)
	}
	for {
		_, data, err := c.c.ReadMessage()
		if err == nil {
			c.t.Fatalf("message %s, want the close frame", data)
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("read: %v, want a close frame", err)
		}
		return ce
	}
}

// path follows a dotted path of object keys.
func path(m map[string]any, p string) any {
	var v any = m
	for _, k := range strings.Split(p, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[k]
	}
	return v
}

// checkFailure checks a failure response's command, code and original.
func checkFailure(t *testing.T, r map[string]any, command, code string, original string) {
	t.Helper()
	if r["result"] != resultFailure || r["command"] != command || path(r, "failure.code") != code {
		t.Errorf("response %v, want a %s failure %s", r, command, code)
		return
	}
	if msg, _ := path(r, "failure.message").(string); msg == "" {
		t.Errorf("failure %v has no message", r)
	}
	if _, ok := path(r, "failure.context").(string); !ok {
		t.Errorf("failure %v has no context string", r)
	}
	got, has := r["original"]
	switch {
	case original == "" && has:
		t.Errorf("failure %v has an original, want none", r)
	case original != "":
		var want any
		if err := json.Unmarshal([]byte(original), &want); err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(got, want) {
			t.Errorf("original = %v, want %s", got, original)
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// metricValue reads a counter or gauge from the registry, 0 when absent.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		if fam.GetName() != name {
			continue
		}
	metrics:
		for _, m := range fam.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue metrics
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// upgradeRequest is a WebSocket handshake request for ServeHTTP called
// directly.
func upgradeRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/interaction-processor", nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "Upgrade")
	return r
}

// onlyConn returns the service's one connection.
func (f *fixture) onlyConn(t *testing.T) *conn {
	t.Helper()
	f.svc.mu.Lock()
	defer f.svc.mu.Unlock()
	if len(f.svc.conns) != 1 {
		t.Fatalf("%d connections, want 1", len(f.svc.conns))
	}
	for c := range f.svc.conns {
		return c
	}
	return nil
}

// waitClosed waits for ch to be closed.
func waitFor(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatal("timed out")
	}
}
