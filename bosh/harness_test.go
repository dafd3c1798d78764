package bosh

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/server"
	"github.com/finesse-notify/finesse-notify/server/servertest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

const (
	domain = "example.com"
	// Literal response bodies.
	emptyResp   = `<body xmlns='http://jabber.org/protocol/httpbind'/>`
	cleanEnd    = `<body xmlns='http://jabber.org/protocol/httpbind' type='terminate'/>`
	openPayload = `<body xmlns='http://jabber.org/protocol/httpbind' xmlns:stream='http://etherx.jabber.org/streams'>`
	saslSuccess = `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`
	// An undecodable PLAIN message: the server answers a SASL failure
	// without ending the stream, a cheap way to see a request processed.
	badAuth       = `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>!!!</auth>`
	badAuthResp   = openPayload + `<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><incorrect-encoding/></failure></body>`
	boundFeatures = `<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>` +
		`<session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>`
)

func terminateResp(cond string) string {
	return `<body xmlns='http://jabber.org/protocol/httpbind' type='terminate' condition='` + cond + `'/>`
}

// harness is a real server.Server behind a real HTTP server running the
// BOSH handler.
type harness struct {
	t   *testing.T
	srv *server.Server
	h   *Handler
	ts  *httptest.Server
}

type harnessOption func(*server.Config)

func requireEncryption(c *server.Config) { c.RequireEncryption = true }

func newHarness(t *testing.T, cfg Config, opts ...harnessOption) *harness {
	t.Helper()
	scfg := server.Config{Domain: domain, Accounts: servertest.Accounts{"alice": "secret", "bob": "secret"}}
	for _, o := range opts {
		o(&scfg)
	}
	srv, err := server.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	// Cleanups run last first: stop the handler (which ends its sessions
	// at once, even those with no request to carry the terminate), the
	// server, then the HTTP server (which waits for requests in flight).
	t.Cleanup(ts.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	})
	t.Cleanup(h.Close)
	return &harness{t: t, srv: srv, h: h, ts: ts}
}

// post sends body to url and returns the response body.
func postTo(t *testing.T, client *http.Client, url, body string) (string, *http.Response) {
	t.Helper()
	resp, err := client.Post(url, "text/xml; charset=utf-8", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %q", resp.StatusCode, data)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/xml; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	if o := resp.Header.Get("Access-Control-Allow-Origin"); o == "" {
		t.Fatalf("no Access-Control-Allow-Origin on a POST response")
	}
	return string(data), resp
}

func (hs *harness) post(body string) string {
	hs.t.Helper()
	s, _ := postTo(hs.t, hs.ts.Client(), hs.ts.URL, body)
	return s
}

type result struct {
	body string
	at   time.Time
}

// postAsync sends body in the background; the result arrives on the channel.
func (hs *harness) postAsync(body string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		resp, err := hs.ts.Client().Post(hs.ts.URL, "text/xml; charset=utf-8", strings.NewReader(body))
		if err != nil {
			ch <- result{body: "error: " + err.Error(), at: time.Now()}
			return
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		ch <- result{body: string(data), at: time.Now()}
	}()
	return ch
}

func (hs *harness) await(ch <-chan result) result {
	hs.t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		hs.t.Fatal("no response within 10s")
		return result{}
	}
}

// creation is a Strophe.js-like session creation request: wait=60,
// hold=1 and ver=1.6 unless extra sets them.
func creation(rid int64, extra string) string {
	for attr, dflt := range map[string]string{"wait": "60", "hold": "1", "ver": "1.6"} {
		if !strings.Contains(extra, attr+"=") {
			extra += " " + attr + "='" + dflt + "'"
		}
	}
	return fmt.Sprintf(`<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' content='text/xml; charset=utf-8'`+
		` rid='%d' to='example.com' xml:lang='en' xmpp:version='1.0'%s/>`, rid, extra)
}

// create opens a session (wait=60 hold=1 unless extra says otherwise) and
// returns its sid and the creation response.
func (hs *harness) create(rid int64, extra string) (string, *etree.Element) {
	hs.t.Helper()
	resp := hs.post(creation(rid, extra))
	root := parse(hs.t, resp)
	sid := root.SelectAttrValue("sid", "")
	if sid == "" {
		hs.t.Fatalf("no sid in %s", resp)
	}
	return sid, root
}

// req renders a request body for sid with payloads inside.
func req(sid string, rid int64, attrs, payloads string) string {
	if payloads == "" {
		return fmt.Sprintf(`<body xmlns='http://jabber.org/protocol/httpbind' sid='%s' rid='%d' %s/>`, sid, rid, attrs)
	}
	return fmt.Sprintf(`<body xmlns='http://jabber.org/protocol/httpbind' sid='%s' rid='%d' %s>%s</body>`, sid, rid, attrs, payloads)
}

func restart(sid string, rid int64) string {
	return req(sid, rid, `xmlns:xmpp='urn:xmpp:xbosh' to='example.com' xml:lang='en' xmpp:restart='true'`, "")
}

func plainAuth(user, password string) string {
	return `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` +
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+password)) + `</auth>`
}

func parse(t *testing.T, s string) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(s); err != nil || doc.Root() == nil {
		t.Fatalf("response is not XML (%v): %q", err, s)
	}
	return doc.Root()
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (hs *harness) waitHeld(n int) {
	hs.t.Helper()
	waitFor(hs.t, fmt.Sprintf("%d held requests", n), func() bool { return metricValue(hs.h.metrics.held) == float64(n) })
}

func (hs *harness) waitSessions(n int) {
	hs.t.Helper()
	waitFor(hs.t, fmt.Sprintf("%d sessions", n), func() bool { return hs.srv.SessionCount() == n })
}

func expect(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s:\n got  %s\n want %s", what, got, want)
	}
}

// login runs creation, SASL PLAIN, restart and bind with raw requests and
// returns the sid and the next rid.
func (hs *harness) login(user, resource string, rid int64) (string, int64) {
	hs.t.Helper()
	sid, _ := hs.create(rid, "")
	rid++
	expect(hs.t, "auth", hs.post(req(sid, rid, "", plainAuth(user, "secret"))), openPayload+saslSuccess+`</body>`)
	rid++
	expect(hs.t, "restart", hs.post(restart(sid, rid)), openPayload+boundFeatures+`</body>`)
	rid++
	bind := `<iq type='set' id='b1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>` + resource + `</resource></bind></iq>`
	expect(hs.t, "bind", hs.post(req(sid, rid, "", bind)), openPayload+
		`<iq xmlns='jabber:client' type='result' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>`+
		strings.ToLower(user)+`@example.com/`+resource+`</jid></bind></iq></body>`)
	return sid, rid + 1
}

// metricValue reads a gauge or counter.
func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}
