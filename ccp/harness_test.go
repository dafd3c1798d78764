package ccp

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/finesse/task"
	"github.com/finesse-notify/finesse-notify/pubsub"
	"github.com/finesse-notify/finesse-notify/server/servertest"
)

const testPassword = "password"

// testDirectoryYAML has an agent, a supervisor, an administrator, the
// task and chat MRDs, the default campaign with its feed, a second
// campaign with a feed of its own, and the default script selectors.
const testDirectoryYAML = `
teams: [{id: 1, name: Team A}]
users:
  - {id: "1080", password: password, firstName: Kim, lastName: Kowalski, role: Agent, team: 1, extension: "3080"}
  - {id: "2001", password: password, firstName: Sofia, lastName: Santos, role: Supervisor, team: 1, extension: "3201", supervises: [1]}
  - {id: admin, password: password, firstName: Finesse, lastName: Administrator, role: Administrator}
mediaRoutingDomains:
  - {id: 1, name: Cisco_Voice, description: Voice, voice: true}
  - {id: 5000, name: Cisco_Chat_MRD, description: Chat, maxDialogLimit: 5, interruptible: false}
  - {id: 5001, name: Cisco_Task_MRD, description: Tasks, maxDialogLimit: 3, interruptible: true}
campaigns:
  - {publicId: Cisco_Default_Task_Campaign, name: Cisco_Default_Task_Campaign, description: Campaign for any type of task}
  - {publicId: Email_Campaign, name: Email Campaign, description: "Email & more"}
feeds:
  - {id: 100000, name: Cisco_Default_Task_Feed, description: Feed for Universal Queuing, campaign: Cisco_Default_Task_Campaign, tags: [cisco_uq_tag]}
  - {id: 100100, name: Email_Feed, description: Email tasks, campaign: Email_Campaign, tags: [email_tag, cisco_uq_tag]}
scriptSelectors:
  - {name: CumulusTask, skillGroupId: 5199, queueNumber: "12282837", queueName: CumulusTask, mrd: 5001}
  - {name: ChatTask, skillGroupId: 5200, queueNumber: "5022", queueName: Chat.SG, mrd: 5000}
`

func testDirectory(t testing.TB) *directory.Directory {
	t.Helper()
	d, err := directory.Parse([]byte(testDirectoryYAML))
	if err != nil {
		t.Fatalf("test directory: %v", err)
	}
	return d
}

// fakeRouter stands in for finesse/task's router: it calls the observer
// with its own lock held, as the real one does. Submit queues the task
// (with estimate) unless hold is set; the test reserves, handles and
// discards tasks as an agent's desktop and CCE would.
type fakeRouter struct {
	mu        sync.Mutex
	obs       task.ContactObserver
	hold      bool          // keep submitted tasks unread
	estimate  time.Duration // the wait estimate of a queued task
	submitErr error         // Submit's refusal
	submitted []task.Task
	// state is the router's view: "held", "queued", "reserved", "over".
	state map[string]string
}

func newFakeRouter(obs task.ContactObserver) *fakeRouter {
	return &fakeRouter{obs: obs, estimate: 90 * time.Second, state: make(map[string]string)}
}

func (r *fakeRouter) Submit(t task.Task) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.submitErr != nil {
		return r.submitErr
	}
	r.submitted = append(r.submitted, t)
	if r.hold {
		r.state[t.ContactID] = "held"
		return nil
	}
	r.state[t.ContactID] = "queued"
	r.obs.ContactQueued(t.ContactID, r.estimate)
	return nil
}

func (r *fakeRouter) Cancel(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.state[id] {
	case "queued", "held":
		r.state[id] = "over"
		return nil
	case "":
		return task.ErrUnknownContact
	}
	return task.ErrNotQueued
}

func (r *fakeRouter) queue(id string, estimate time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state[id] = "queued"
	r.obs.ContactQueued(id, estimate)
}

func (r *fakeRouter) reserve(id, taskID, agentID string, mrdID int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state[id] = "reserved"
	r.obs.ContactReserved(id, taskID, agentID, mrdID)
}

// reserveQuietly reserves the task on the router's side only, as if the
// reservation raced with a cancel.
func (r *fakeRouter) reserveQuietly(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state[id] = "reserved"
}

func (r *fakeRouter) handle(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state[id] = "over"
	r.obs.ContactHandled(id)
}

func (r *fakeRouter) discard(id, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state[id] = "over"
	r.obs.ContactDiscarded(id, reason)
}

func (r *fakeRouter) tasks() []task.Task {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]task.Task(nil), r.submitted...)
}

func (r *fakeRouter) stateOf(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state[id]
}

// published is one PublishRaw call.
type published struct{ node, doc string }

// recorder is a Publisher that keeps what is published.
type recorder struct {
	mu   sync.Mutex
	list []published
}

func (p *recorder) PublishRaw(node string, doc []byte) (pubsub.Published, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, published{node: node, doc: string(doc)})
	return pubsub.Published{Node: node, ItemID: "item", Deliveries: 1}, nil
}

// take returns what was published since the last take.
func (p *recorder) take() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.list
	p.list = nil
	return out
}

// basicAuth is the test's Authenticate: Basic credentials checked
// against the directory, with the 401 and its challenge answered here, as
// finesse/rest's does.
func basicAuth(dir *directory.Directory) func(http.ResponseWriter, *http.Request) (directory.User, bool) {
	return func(w http.ResponseWriter, r *http.Request) (directory.User, bool) {
		name, pass, ok := r.BasicAuth()
		if ok {
			if _, ok = dir.Authenticate(name, pass); ok {
				return dir.User(name)
			}
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="finesse-notify"`)
		w.WriteHeader(http.StatusUnauthorized)
		return directory.User{}, false
	}
}

// harness is the CCP API over TLS on a real HTTP server (HTTP/1.1 and
// HTTP/2, as the REST listener serves it), with a fake router, a
// recording publisher and a settable clock.
type harness struct {
	t        *testing.T
	dir      *directory.Directory
	contacts *Contacts
	router   *fakeRouter
	pub      *recorder
	clock    *servertest.Clock
	reg      *prometheus.Registry
	url      string
	host     string // the URL's host:port, as the answers carry it
	client   *http.Client
}

var testStart = time.Date(2024, 1, 30, 13, 55, 49, 233e6, time.UTC)

// newHarness starts a harness; adjust may change the configs first.
func newHarness(t *testing.T, adjust func(*ContactsConfig, *Config)) *harness {
	t.Helper()
	h := &harness{
		t:     t,
		dir:   testDirectory(t),
		pub:   &recorder{},
		clock: servertest.NewClock(testStart),
		reg:   prometheus.NewRegistry(),
	}
	ccfg := ContactsConfig{Directory: h.dir, Publisher: h.pub, Now: h.clock.Now, Registerer: h.reg}
	cfg := Config{Directory: h.dir, Authenticate: basicAuth(h.dir), Registerer: h.reg}
	if adjust != nil {
		adjust(&ccfg, &cfg)
	}
	h.contacts = NewContacts(ccfg)
	h.router = newFakeRouter(h.contacts)
	cfg.Contacts, cfg.Router = h.contacts, h.router
	mux := http.NewServeMux()
	New(cfg).Register(mux.Handle)
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	h.url = srv.URL
	h.host = strings.TrimPrefix(srv.URL, "https://")
	h.client = srv.Client()
	return h
}

// response is what a client saw.
type response struct {
	status int
	header http.Header
	body   string
}

// req is a request: method, path (with query), body, and credentials (no
// user sends none).
type req struct {
	method, path, body string
	user, pass         string
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
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/xml")
	}
	if r.user != "" {
		pass := r.pass
		if pass == "" {
			pass = testPassword
		}
		hr.SetBasicAuth(r.user, pass)
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

// submit posts a valid task and returns the new contact id.
func (h *harness) submit(body string) string {
	h.t.Helper()
	resp := h.do(req{method: http.MethodPost, path: "/ccp/rest/task/feed/100000", body: body})
	if resp.status != http.StatusCreated {
		h.t.Fatalf("submit: %d %s", resp.status, resp.body)
	}
	loc := resp.header.Get("Location")
	prefix := "https://" + h.host + "/ccp/rest/task/contact/"
	if !strings.HasPrefix(loc, prefix) {
		h.t.Fatalf("Location %q does not start with %q", loc, prefix)
	}
	return strings.TrimPrefix(loc, prefix)
}

// poll GETs the contact's poll URL.
func (h *harness) poll(id string) response {
	h.t.Helper()
	return h.do(req{method: http.MethodGet, path: "/ccp/rest/task/contact/" + id})
}

// expectStatus fails unless resp has status code.
func expectStatus(t *testing.T, resp response, code int) {
	t.Helper()
	if resp.status != code {
		t.Fatalf("status %d, want %d; body %s", resp.status, code, resp.body)
	}
}

// expectBody fails unless resp is 200 with an XML body equal to want.
func expectBody(t *testing.T, resp response, want string) {
	t.Helper()
	expectStatus(t, resp, http.StatusOK)
	if ct := resp.header.Get("Content-Type"); ct != "application/xml" {
		t.Errorf("Content-Type %q", ct)
	}
	if resp.body != want {
		t.Fatalf("body\n got %s\nwant %s", resp.body, want)
	}
}

// apiErrorOf parses an error answer: its type, data and detail bounds.
type apiErrorDoc struct {
	XMLName xml.Name `xml:"APIErrors"`
	Errors  []struct {
		Type    string `xml:"ErrorType"`
		Data    string `xml:"ErrorData"`
		Message string `xml:"ErrorMessage"`
		Detail  *struct {
			Min int `xml:"min"`
			Max int `xml:"max"`
		} `xml:"ErrorDetail"`
	} `xml:"APIError"`
}

// anyData makes expectError accept any ErrorData.
const anyData = "\x00any"

// expectError fails unless resp is an error answer with code, errType and
// errData (anyData: any); it returns the document.
func expectError(t *testing.T, resp response, code int, errType, errData string) apiErrorDoc {
	t.Helper()
	expectStatus(t, resp, code)
	if ct := resp.header.Get("Content-Type"); ct != "application/xml" {
		t.Errorf("Content-Type %q", ct)
	}
	var doc apiErrorDoc
	if err := xml.Unmarshal([]byte(resp.body), &doc); err != nil || len(doc.Errors) != 1 {
		t.Fatalf("not one <APIErrors><APIError>: %v: %s", err, resp.body)
	}
	e := doc.Errors[0]
	if e.Type != errType || (e.Data != errData && errData != anyData) || e.Message == "" {
		t.Fatalf("error %q %q %q, want %q %q and a message", e.Type, e.Data, e.Message, errType, errData)
	}
	return doc
}

// socialContact is a parsed <SocialContact>.
type socialContact struct {
	fields map[string]string // the simple children
	ext    [][2]string       // extensionFields, in order
	tags   []string
	order  []string // the children's names, in order
}

func parseSocialContact(t *testing.T, doc string) socialContact {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromString(doc); err != nil {
		t.Fatalf("SocialContact does not parse: %v: %s", err, doc)
	}
	root := d.Root()
	if root == nil || root.Tag != "SocialContact" {
		t.Fatalf("not a <SocialContact>: %s", doc)
	}
	sc := socialContact{fields: make(map[string]string)}
	for _, el := range root.ChildElements() {
		sc.order = append(sc.order, el.Tag)
		switch el.Tag {
		case "extensionFields":
			for _, f := range el.SelectElements("extensionField") {
				sc.ext = append(sc.ext, [2]string{f.SelectElement("name").Text(), f.SelectElement("value").Text()})
			}
		case "tags":
			for _, tag := range el.SelectElements("tag") {
				sc.tags = append(sc.tags, tag.Text())
			}
		default:
			sc.fields[el.Tag] = el.Text()
		}
	}
	return sc
}

func variable(name, value string) task.Variable { return task.Variable{Name: name, Value: value} }

// newPlainServer serves h over plain HTTP for the test and returns its URL.
func newPlainServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
