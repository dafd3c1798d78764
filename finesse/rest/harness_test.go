package rest

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/finesse-notify/finesse-notify/finesse"
	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/pubsub"
	"github.com/finesse-notify/finesse-notify/server/servertest"
)

const (
	testDomain   = "finesse.example.com"
	testPassword = "password"
)

// testDirectoryYAML has two teams with an agent pair and a supervisor
// each, an administrator, reason codes of both categories (one offered to
// team 2 only, and the system codes), the voice MRD and a chat MRD.
const testDirectoryYAML = `
teams: [{id: 1, name: Team A}, {id: 2, name: Team B}]
users:
  - {id: "1001", password: password, firstName: Alice, lastName: Adams, role: Agent, team: 1, extension: "3001"}
  - {id: "1002", password: password, firstName: Bob, lastName: Brown, role: Agent, team: 1, extension: "3002"}
  - {id: "1003", password: password, firstName: Carol, lastName: Chen, role: Agent, team: 2, extension: "3003"}
  - {id: "2001", password: password, firstName: Sofia, lastName: Santos, role: Supervisor, team: 1, extension: "3201", supervises: [1]}
  - {id: "2002", password: password, firstName: Tom, lastName: Tran, role: Supervisor, team: 2, extension: "3202", supervises: [2]}
  - {id: Admin, password: password, firstName: Finesse, lastName: Administrator, role: Administrator}
reasonCodes:
  - {id: 1, category: NOT_READY, code: 10, label: Meeting, forAll: true}
  - {id: 2, category: NOT_READY, code: 11, label: Team B only, forAll: false, teams: [2]}
  - {id: 11, category: LOGOUT, code: 20, label: End of Shift, forAll: true}
  - {id: 101, category: LOGOUT, code: 255, label: Connection Lost, forAll: true, systemCode: true}
  - {id: 102, category: LOGOUT, code: 999, label: Supervisor Initiated, forAll: true, systemCode: true}
  - {id: 103, category: NOT_READY, code: 999, label: Supervisor Initiated, forAll: true, systemCode: true}
mediaRoutingDomains:
  - {id: 1, name: Cisco_Voice, description: Voice, voice: true}
  - {id: 2, name: Cisco_Chat_MRD, description: Chat, maxDialogLimit: 5, interruptible: true}
`

// published is one Publish call.
type published struct {
	node   string
	update finesse.Update
}

// recorder is a Publisher that keeps what is published.
type recorder struct {
	mu   sync.Mutex
	list []published
	fail error
}

func (r *recorder) Publish(node string, u finesse.Update) (pubsub.Published, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return pubsub.Published{}, r.fail
	}
	r.list = append(r.list, published{node: node, update: u})
	return pubsub.Published{Node: node, ItemID: "item", Deliveries: 1}, nil
}

// setFail makes every later Publish fail with err.
func (r *recorder) setFail(err error) {
	r.mu.Lock()
	r.fail = err
	r.mu.Unlock()
}

// take returns what was published since the last take.
func (r *recorder) take() []published {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.list
	r.list = nil
	return out
}

// control records the control calls.
type control struct {
	mu        sync.Mutex
	available []bool
	ended     []string
}

func (c *control) SetServiceAvailable(available bool) {
	c.mu.Lock()
	c.available = append(c.available, available)
	c.mu.Unlock()
}

func (c *control) EndSessions(userID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = append(c.ended, userID)
	return 2
}

// harness is the REST API on a real HTTP server, over the real agent
// model, with a recording publisher and a settable clock.
type harness struct {
	t       *testing.T
	api     *API
	agents  *agent.Registry
	dir     *directory.Directory
	pub     *recorder
	clock   *servertest.Clock
	control *control
	reg     *prometheus.Registry
	url     string
	client  *http.Client // trusts the test server's certificate
}

// newHarness starts a harness; adjust may change the config first.
func newHarness(t *testing.T, adjust func(*Config)) *harness {
	t.Helper()
	dir, err := directory.Parse([]byte(testDirectoryYAML))
	if err != nil {
		t.Fatalf("test directory: %v", err)
	}
	h := &harness{
		t:       t,
		dir:     dir,
		pub:     &recorder{},
		clock:   servertest.NewClock(time.Date(2024, 5, 1, 10, 0, 0, 123e6, time.UTC)),
		control: &control{},
		reg:     prometheus.NewRegistry(),
	}
	h.agents = agent.New(agent.Config{Directory: dir, Publisher: h.pub, Now: h.clock.Now})
	t.Cleanup(h.agents.Close)
	cfg := Config{
		Directory:  dir,
		Agents:     h.agents,
		Publisher:  h.pub,
		Control:    h.control,
		Domain:     testDomain,
		Now:        h.clock.Now,
		Registerer: h.reg,
	}
	if adjust != nil {
		adjust(&cfg)
	}
	h.api = New(cfg)
	mux := http.NewServeMux()
	h.api.Register(mux.Handle)
	// Over TLS, as the REST listener serves it (HTTP/1.1 and HTTP/2).
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	h.url = srv.URL
	h.client = srv.Client()
	return h
}

// response is what a client saw.
type response struct {
	status int
	header http.Header
	body   string
}

// req describes a request: who (user, password; no user sends no
// credentials), what, and extra headers.
type req struct {
	method, path string
	user, pass   string
	body         string
	header       map[string]string
}

func (h *harness) do(r req) response {
	h.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, h.url+r.path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if r.user != "" {
		pass := r.pass
		if pass == "" {
			pass = testPassword
		}
		hr.SetBasicAuth(r.user, pass)
	}
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/xml")
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := h.client.Do(hr)
	if err != nil {
		h.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: reading the body: %v", r.method, r.path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// get is a GET as user with the right password.
func (h *harness) get(user, path string) response {
	h.t.Helper()
	return h.do(req{method: http.MethodGet, path: path, user: user})
}

// put is a PUT of body as user with the right password.
func (h *harness) put(user, path, body string) response {
	h.t.Helper()
	return h.do(req{method: http.MethodPut, path: path, user: user, body: body})
}

// apiErrorsDoc is the <ApiErrors> body.
type apiErrorsDoc struct {
	XMLName xml.Name `xml:"ApiErrors"`
	Errors  []struct {
		Type    string `xml:"ErrorType"`
		Message string `xml:"ErrorMessage"`
		Data    string `xml:"ErrorData"`
	} `xml:"ApiError"`
}

// wantAPIError checks a synchronous error answer: the status, the XML
// content type, and one ApiError of errType (and, when not empty, of
// message and data).
func wantAPIError(t *testing.T, r response, status int, errType, message, data string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/xml" {
		t.Errorf("Content-Type %q, want application/xml", ct)
	}
	var doc apiErrorsDoc
	if err := xml.Unmarshal([]byte(r.body), &doc); err != nil || len(doc.Errors) != 1 {
		t.Fatalf("body %q is not one ApiError: %v", r.body, err)
	}
	e := doc.Errors[0]
	if e.Type != errType {
		t.Errorf("ErrorType %q, want %q (body %s)", e.Type, errType, r.body)
	}
	if message != "" && e.Message != message {
		t.Errorf("ErrorMessage %q, want %q", e.Message, message)
	}
	if data != "" && e.Data != data {
		t.Errorf("ErrorData %q, want %q", e.Data, data)
	}
}

// wantState checks the user's voice state in the model.
func (h *harness) wantState(id string, want agent.State) {
	h.t.Helper()
	got, _, ok := h.agents.State(id)
	if !ok || got != want {
		h.t.Errorf("%s is in %q (%v), want %q", id, got, ok, want)
	}
}

// wantNothingPublished checks that nothing was published since the last
// take.
func (h *harness) wantNothingPublished() {
	h.t.Helper()
	if got := h.pub.take(); len(got) != 0 {
		h.t.Errorf("published %d notifications, want none: first on %s: %s", len(got), got[0].node, got[0].update.Render())
	}
}

// login signs id in to voice with its extension and forgets the
// notifications.
func (h *harness) login(id, extension string) {
	h.t.Helper()
	r := h.put(id, "/finesse/api/User/"+id, "<User><state>LOGIN</state><extension>"+extension+"</extension></User>")
	if r.status != http.StatusAccepted {
		h.t.Fatalf("LOGIN %s: %d %s", id, r.status, r.body)
	}
	h.pub.take()
}

// counter returns the value of the counter name whose labels include
// labels, 0 when there is none.
func (h *harness) counter(name string, labels map[string]string) float64 {
	h.t.Helper()
	for _, m := range h.metricFamily(name) {
		if hasLabels(m, labels) {
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// metricFamily returns the metrics of family name.
func (h *harness) metricFamily(name string) []*dto.Metric {
	h.t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()
		}
	}
	return nil
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	found := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			found++
		}
	}
	return found == len(want)
}
