package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// eventNode is one stream of events: a pubsub node (own and shared
// modes, the publish endpoint) or an agent (REST mode). Its counters are
// what its subscribers expect.
type eventNode struct {
	name string // the pubsub node
	user string // the directory id behind it (own, rest)
	seq  uint64 // the last sequence number given out; the scheduler's

	ok    atomic.Uint64 // publishes the server accepted
	ready bool          // REST: the agent is READY; owned by its worker
}

// publisher sends events. publish may block while the publisher is full,
// which slows the schedule down; it must not block on anything else.
type publisher interface {
	publish(ctx context.Context, node int, seq uint64) error
	// pending is the number of publishes not yet answered.
	pending() int
	close()
}

// payloadPadding pads an event to about cfg.PayloadBytes.
func payloadPadding(size int) string {
	if size <= 64 {
		return ""
	}
	return strings.Repeat("x", size-64)
}

// --- XEP-0060, by the administrator's XMPP session ---

// xmppPublisher publishes over the admin session, one stream, so the
// server sees the publishes of each node in order. Answers are matched by
// id; at most window publishes are unanswered at once.
type xmppPublisher struct {
	r       *runner
	s       *session
	pad     string
	window  chan struct{}
	seq     atomic.Uint64
	mu      sync.Mutex
	waiting map[string]xmppPending
	waits   atomic.Int64
}

type xmppPending struct {
	node   int // -1: a create
	create chan error
}

const publishWindow = 10000

func newXMPPPublisher(r *runner, admin *session) *xmppPublisher {
	p := &xmppPublisher{
		r:       r,
		s:       admin,
		pad:     payloadPadding(r.cfg.PayloadBytes),
		window:  make(chan struct{}, publishWindow),
		waiting: make(map[string]xmppPending),
	}
	admin.onResult = p.answer
	return p
}

// answer is called from the admin session's goroutine.
func (p *xmppPublisher) answer(id string, ok bool, el []byte) {
	p.mu.Lock()
	w, found := p.waiting[id]
	delete(p.waiting, id)
	p.mu.Unlock()
	if !found {
		return
	}
	if w.create != nil {
		if ok {
			w.create <- nil
		} else {
			w.create <- fmt.Errorf("%s", stanzaErrorCondition(el))
		}
		return
	}
	<-p.window
	p.waits.Add(-1)
	if ok {
		p.r.nodes[w.node].ok.Add(1)
	} else {
		p.r.publishFailed("publish: " + stanzaErrorCondition(el))
	}
}

// createNodes creates every node, a window at a time; a node that exists
// already (conflict) is fine, as are finesse-notify's implicit nodes.
func (p *xmppPublisher) createNodes(ctx context.Context) error {
	const window = 64
	sem := make(chan struct{}, window)
	errs := make(chan error, len(p.r.nodes))
	var wg sync.WaitGroup
	for i, n := range p.r.nodes {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		id := "c" + strconv.Itoa(i)
		done := make(chan error, 1)
		p.mu.Lock()
		p.waiting[id] = xmppPending{node: -1, create: done}
		p.mu.Unlock()
		err := p.s.w.send([]byte(`<iq xmlns='jabber:client' type='set' id='` + id + `' to='` + escape(p.r.cfg.PubSubJID) +
			`'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='` + escape(n.name) + `'/></pubsub></iq>`))
		if err != nil {
			return fmt.Errorf("create %s: %w", n.name, err)
		}
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			defer func() { <-sem }()
			t := time.NewTimer(30 * time.Second)
			defer t.Stop()
			select {
			case err := <-done:
				if err != nil && err.Error() != "conflict" {
					errs <- fmt.Errorf("create node %s: %w", name, err)
				}
			case <-t.C:
				errs <- fmt.Errorf("create node %s: no answer", name)
			case <-ctx.Done():
			}
		}(n.name)
	}
	wg.Wait()
	close(errs)
	return <-errs // the first, or nil
}

func (p *xmppPublisher) publish(ctx context.Context, node int, seq uint64) error {
	select {
	case p.window <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	n := p.r.nodes[node]
	id := "p" + strconv.FormatUint(p.seq.Add(1), 10)
	p.mu.Lock()
	p.waiting[id] = xmppPending{node: node}
	p.mu.Unlock()
	p.waits.Add(1)
	b := make([]byte, 0, 256+len(n.name)+len(p.pad))
	b = append(b, `<iq xmlns='jabber:client' type='set' id='`...)
	b = append(b, id...)
	b = append(b, `' to='`...)
	b = append(b, escape(p.r.cfg.PubSubJID)...)
	b = append(b, `'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='`...)
	b = append(b, escape(n.name)...)
	b = append(b, `'><item><load xmlns='urn:xmpp:finesse-load:0'>`...)
	b = appendToken(b, n.streamID(node, p.r.cfg.Mode), seq, time.Now().UnixNano())
	b = append(b, p.pad...)
	b = append(b, `</load></item></publish></pubsub></iq>`...)
	if err := p.s.w.send(b); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

func (p *xmppPublisher) pending() int { return int(p.waits.Load()) }
func (p *xmppPublisher) close()       {}

// streamID is the token's stream: the node's number in own-style runs, 0
// when every session shares one node.
func (n *eventNode) streamID(index int, mode Mode) uint64 {
	if sharedStream(mode, n) {
		return 0
	}
	return uint64(index) + 1
}

func sharedStream(mode Mode, n *eventNode) bool {
	return mode == ModeShared || mode == ModeTask || (mode == ModePublish && n.user == "")
}

// --- HTTP: finesse-notify's publish endpoint and the Finesse REST API ---

// httpPublisher sends each event as one HTTP request. Every node is served
// by one worker, so one node's events are sent, and published, in order.
type httpPublisher struct {
	r       *runner
	hc      *http.Client
	jobs    []chan httpJob
	wg      sync.WaitGroup
	waits   atomic.Int64
	pad     string
	request func(ctx context.Context, node int, n *eventNode, token string) (*http.Request, error)
}

type httpJob struct {
	node int
	seq  uint64
}

func newHTTPPublisher(r *runner, workers int, request func(ctx context.Context, node int, n *eventNode, token string) (*http.Request, error)) *httpPublisher {
	p := &httpPublisher{r: r, hc: r.httpClient, pad: payloadPadding(r.cfg.PayloadBytes), request: request}
	for range workers {
		ch := make(chan httpJob, 256)
		p.jobs = append(p.jobs, ch)
		p.wg.Add(1)
		go p.work(ch)
	}
	return p
}

func (p *httpPublisher) work(jobs chan httpJob) {
	defer p.wg.Done()
	for j := range jobs {
		p.do(j)
		p.waits.Add(-1)
	}
}

func (p *httpPublisher) do(j httpJob) {
	n := p.r.nodes[j.node]
	token := formatToken(n.streamID(j.node, p.r.cfg.Mode), j.seq, time.Now().UnixNano())
	req, err := p.request(p.r.ctx, j.node, n, token)
	if err != nil {
		p.r.publishFailed(err.Error())
		return
	}
	status, body, err := doHTTP(p.hc, req)
	switch {
	case err != nil:
		p.r.publishFailed(err.Error())
	case status/100 != 2:
		p.r.publishFailed(fmt.Sprintf("HTTP %d %s", status, firstLine(body)))
	default:
		n.ok.Add(1)
	}
}

func (p *httpPublisher) publish(ctx context.Context, node int, seq uint64) error {
	p.waits.Add(1)
	select {
	case p.jobs[node%len(p.jobs)] <- httpJob{node: node, seq: seq}:
		return nil
	case <-ctx.Done():
		p.waits.Add(-1)
		return ctx.Err()
	}
}

func (p *httpPublisher) pending() int { return int(p.waits.Load()) }

func (p *httpPublisher) close() {
	for _, ch := range p.jobs {
		close(ch)
	}
	p.wg.Wait()
}

// doHTTP sends req and reads at most 64 KiB of the answer.
func doHTTP(hc *http.Client, req *http.Request) (int, []byte, error) {
	return doHTTPLimit(hc, req, 64<<10)
}

func doHTTPLimit(hc *http.Client, req *http.Request, limit int64) (int, []byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return resp.StatusCode, body, fmt.Errorf("%s %s: reading the answer: %w", req.Method, req.URL.Path, err)
	}
	return resp.StatusCode, body, nil
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return string(b[:min(len(b), 160)])
}

// publishEndpointRequest posts an Update carrying the token to
// finesse-notify's publish endpoint.
func (r *runner) publishEndpointRequest(pad string) func(ctx context.Context, node int, n *eventNode, token string) (*http.Request, error) {
	base := strings.TrimSuffix(r.cfg.RESTURL, "/") + "/finesse-notify/publish?node="
	return func(ctx context.Context, _ int, n *eventNode, token string) (*http.Request, error) {
		body := `<Update><data><load>` + token + pad + `</load></data><event>PUT</event><requestId>` + token +
			`</requestId><source>` + escape(n.name) + `</source></Update>`
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+url.QueryEscape(n.name), strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/xml")
		req.SetBasicAuth(r.cfg.AdminUser, r.cfg.AdminPassword)
		return req, nil
	}
}

// restStateRequest makes the agent change state, READY and NOT_READY in
// turn, with the token as its requestId: the Update on the user's node
// carries it back.
func (r *runner) restStateRequest(ctx context.Context, _ int, n *eventNode, token string) (*http.Request, error) {
	state := "READY"
	if n.ready {
		state = "NOT_READY"
	}
	n.ready = !n.ready // the worker owns n.ready
	req, err := r.userRequest(ctx, http.MethodPut, n.user, "/finesse/api/User/"+url.PathEscape(n.user),
		`<User><state>`+state+`</state></User>`)
	if err != nil {
		return nil, err
	}
	req.Header.Set("requestId", token)
	return req, nil
}

// userRequest is a REST request with the user's own credentials.
func (r *runner) userRequest(ctx context.Context, method, user, path, body string) (*http.Request, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(r.cfg.RESTURL, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/xml")
	}
	req.SetBasicAuth(r.cfg.UserPrefix+user, r.cfg.Password)
	return req, nil
}

// prepareAgents signs every agent in (LOGIN with its extension) and
// learns its state, so that its state changes alternate legally.
func (r *runner) prepareAgents(ctx context.Context) error {
	work := make(chan int)
	errs := make(chan error, len(r.nodes))
	var wg sync.WaitGroup
	for range r.cfg.HTTPConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := r.prepareAgent(ctx, r.nodes[i]); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range r.nodes {
		select {
		case work <- i:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

func (r *runner) prepareAgent(ctx context.Context, n *eventNode) error {
	ext := r.cfg.Extension
	if ext == "" {
		ext = n.user
	}
	path := "/finesse/api/User/" + url.PathEscape(n.user)
	req, err := r.userRequest(ctx, http.MethodPut, n.user, path,
		`<User><state>LOGIN</state><extension>`+escape(ext)+`</extension></User>`)
	if err != nil {
		return err
	}
	status, body, err := doHTTP(r.httpClient, req)
	if err != nil || status/100 != 2 {
		return fmt.Errorf("sign in agent %s: HTTP %d %v %s", n.user, status, err, firstLine(body))
	}
	if req, err = r.userRequest(ctx, http.MethodGet, n.user, path, ""); err != nil {
		return err
	}
	status, body, err = doHTTP(r.httpClient, req)
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("read agent %s: HTTP %d %v %s", n.user, status, err, firstLine(body))
	}
	state, _ := childText(body, "state")
	n.ready = state == "READY"
	return nil
}
