package loadtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"time"
)

const (
	nsHTTPBind = "http://jabber.org/protocol/httpbind"
	nsXBOSH    = "urn:xmpp:xbosh"
)

// boshWire is the client side of XEP-0124/XEP-0206, as a browser client
// that does not batch: it asks for hold=1, keeps one request held by the
// server at all times, and sends each payload at once on a second request
// (the server then answers the held one). What the responses carry comes
// out of next in rid order, whatever order the responses arrive in.
//
// Two requests in flight travel on two connections, so the server may
// take them in either order. XEP-0124 §14.2 wants it to process them in rid
// order whatever the order of arrival, but ejabberd (23.01) parks a
// request that arrives before its predecessor and, when the predecessor
// turns out to be an empty request, holds that one and leaves the parked
// payload unprocessed until the held request is answered: by the 'wait'
// timeout, or by something else the server has to say. So the client
// never writes an empty request and a payload one right after the other:
//   - like a browser, which runs its handlers on a response before it
//     sends the next request, an empty request is sent only when nothing
//     is in flight and the reader has taken everything delivered and waits
//     in next: whatever the session answers to what came in (SASL, bind,
//     a ping's result) goes alone on a request of its own, which the
//     server holds when it has nothing to say;
//   - a request sent while its predecessor is unanswered waits until the
//     predecessor has been written and then for boshSpacing after that (or
//     for the predecessor's answer), time enough for the server to have
//     taken it in (a publisher's payload right after an empty request, two
//     payloads in a row).
type boshWire struct {
	hc       *http.Client
	url      string
	domain   string
	wait     time.Duration
	maxBytes int64

	ctx    context.Context // cancelled by close: ends every request
	cancel context.CancelFunc

	mu          sync.Mutex
	sid         string
	rid         int64 // the last rid sent
	inflight    int
	maxInflight int
	outbox      []byte
	restart     bool // a restart request is due (it travels alone)
	terminate   bool // a terminate request is due
	ended       bool // no more requests
	closed      bool
	terminated  chan struct{} // closed when the terminate's response is in
	last        *boshRequest  // the last request started: the next one's predecessor
	// readerIdle: the reader waits in next with nothing to take. queued:
	// elements pushed to in and not yet taken. An empty request goes only
	// when the reader is idle, nothing is queued and nothing is in flight.
	readerIdle bool
	queued     int

	dmu         sync.Mutex
	nextDeliver int64
	early       map[int64]boshResult

	in       chan boshItem
	deadline time.Time // for next; set by the reading goroutine only
}

// boshSpacing is how long after writing a request the client waits before
// writing the next one while the first is unanswered: the time a server
// on the same host, busy, takes to have the first request in hand.
const boshSpacing = 10 * time.Millisecond

// boshRequest is what a request's successor waits for.
type boshRequest struct {
	written  chan struct{} // closed once it has been written, or has failed
	at       time.Time     // when it was written; set before written is closed
	answered chan struct{} // closed once its response is in, or it has failed
}

func newBOSHRequest() *boshRequest {
	return &boshRequest{written: make(chan struct{}), answered: make(chan struct{})}
}

type boshResult struct {
	body []byte
	err  error
}

type boshItem struct {
	el  []byte
	err error
}

// boshTerminated is the end of a BOSH session by the server.
type boshTerminated struct{ condition string }

func (t *boshTerminated) Error() string {
	if t.condition == "" {
		return "bosh session terminated"
	}
	return "bosh session terminated: " + t.condition
}

func newBOSH(hc *http.Client, url, domain string, wait time.Duration, maxBytes int) *boshWire {
	ctx, cancel := context.WithCancel(context.Background())
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &boshWire{
		hc:          hc,
		url:         url,
		domain:      domain,
		wait:        wait,
		maxBytes:    int64(maxBytes) + 64<<10,
		ctx:         ctx,
		cancel:      cancel,
		rid:         int64(binary.BigEndian.Uint32(b[:])) + 1<<20,
		maxInflight: 2,
		early:       make(map[int64]boshResult),
		in:          make(chan boshItem, 64),
		terminated:  make(chan struct{}),
	}
}

// open creates the session (synchronously: the creation response brings
// the sid) or asks for a stream restart.
func (b *boshWire) open() error {
	b.mu.Lock()
	if b.sid != "" {
		b.restart = true
		b.kick()
		b.mu.Unlock()
		return nil
	}
	b.rid++
	rid := b.rid
	b.mu.Unlock()

	body := []byte(`<body content='text/xml; charset=utf-8' hold='1' rid='` + strconv.FormatInt(rid, 10) +
		`' to='` + escape(b.domain) + `' ver='1.6' wait='` + strconv.Itoa(int(b.wait/time.Second)) +
		`' xml:lang='en' xmpp:version='1.0' xmlns='` + nsHTTPBind + `' xmlns:xmpp='` + nsXBOSH + `'/>`)
	data, err := b.post(body, newBOSHRequest())
	if err != nil {
		return fmt.Errorf("bosh session creation: %w", err)
	}
	if t, ok := terminateOf(data); ok {
		return t
	}
	sid, _ := attr(data, "sid")
	if sid == "" {
		return fmt.Errorf("bosh session creation: no sid in %q", data[:min(len(data), 200)])
	}
	b.mu.Lock()
	b.sid = sid
	if n, err := strconv.Atoi(attrOr(data, "requests", "2")); err == nil && n >= 1 {
		b.maxInflight = min(n, 2)
	}
	b.mu.Unlock()
	b.dmu.Lock()
	b.nextDeliver = rid + 1
	b.dmu.Unlock()
	if err := b.handle(data); err != nil {
		return err
	}
	b.mu.Lock()
	b.kick()
	b.mu.Unlock()
	return nil
}

func attrOr(el []byte, name, dflt string) string {
	if v, ok := attr(el, name); ok {
		return v
	}
	return dflt
}

// terminateOf reports a terminate body.
func terminateOf(body []byte) (*boshTerminated, bool) {
	if t, _ := attr(body, "type"); t == "terminate" {
		cond, _ := attr(body, "condition")
		return &boshTerminated{condition: cond}, true
	}
	return nil, false
}

// kick sends what is due while fewer than maxInflight requests are out:
// a restart, the outbox, the terminate, or (when nothing is in flight and
// the reader waits with nothing to take) an empty request to be held.
// b.mu is held.
func (b *boshWire) kick() {
	for !b.ended && b.inflight < b.maxInflight {
		var body []byte
		rid := b.rid + 1
		head := `<body rid='` + strconv.FormatInt(rid, 10) + `' sid='` + escape(b.sid) + `' xmlns='` + nsHTTPBind + `'`
		isTerminate := false
		switch {
		case b.restart:
			body = []byte(head + ` to='` + escape(b.domain) + `' xml:lang='en' xmpp:restart='true' xmlns:xmpp='` + nsXBOSH + `'/>`)
			b.restart = false
		case b.terminate:
			body = append([]byte(head+` type='terminate'>`), b.outbox...)
			body = append(body, `<presence xmlns='jabber:client' type='unavailable'/></body>`...)
			b.outbox = nil
			b.ended, isTerminate = true, true
		case len(b.outbox) > 0:
			body = append([]byte(head+`>`), b.outbox...)
			body = append(body, "</body>"...)
			b.outbox = nil
		case b.inflight == 0 && b.readerIdle && b.queued == 0:
			body = []byte(head + `/>`)
		default:
			return
		}
		b.rid = rid
		b.inflight++
		prev, req := b.last, newBOSHRequest()
		b.last = req
		go b.exchange(rid, body, isTerminate, prev, req)
	}
}

// exchange sends one request, req, once its predecessor prev has been
// written (and, when prev is unanswered, boshSpacing after that), and
// delivers its response in rid order.
func (b *boshWire) exchange(rid int64, body []byte, isTerminate bool, prev, req *boshRequest) {
	if prev != nil {
		b.waitFor(prev)
	}
	data, err := b.post(body, req)
	close(req.answered)
	var term *boshTerminated
	if err == nil {
		term, _ = terminateOf(data)
	}
	if isTerminate {
		b.mu.Lock()
		b.inflight--
		b.ended = true
		b.mu.Unlock()
		close(b.terminated)
		return
	}
	// What the response carries is queued for the reader before the
	// request counts as answered, so that kick sees it and sends no empty
	// request before the reader has taken it.
	b.deliver(rid, boshResult{body: data, err: err})
	b.mu.Lock()
	b.inflight--
	if err != nil || term != nil {
		b.ended = true
	} else {
		b.kick()
	}
	b.mu.Unlock()
}

// waitFor returns once prev has been written and then answered or
// written boshSpacing ago (or the wire is closed).
func (b *boshWire) waitFor(prev *boshRequest) {
	select {
	case <-prev.written:
	case <-b.ctx.Done():
		return
	}
	d := boshSpacing - time.Since(prev.at)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-prev.answered:
	case <-t.C:
	case <-b.ctx.Done():
	}
}

func (b *boshWire) post(body []byte, req *boshRequest) ([]byte, error) {
	var once sync.Once
	markWritten := func() {
		once.Do(func() {
			req.at = time.Now()
			close(req.written)
		})
	}
	// However the request ends, the next one may go.
	defer markWritten()
	ctx := httptrace.WithClientTrace(b.ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { markWritten() },
	})
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := b.hc.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("bosh request: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, b.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("bosh response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bosh: HTTP %d: %q", resp.StatusCode, data[:min(len(data), 200)])
	}
	if int64(len(data)) > b.maxBytes {
		return nil, fmt.Errorf("bosh: a response over %d bytes", b.maxBytes)
	}
	return data, nil
}

// deliver hands a response's stanzas to next once every lower rid's have.
func (b *boshWire) deliver(rid int64, r boshResult) {
	b.dmu.Lock()
	defer b.dmu.Unlock()
	if rid != b.nextDeliver {
		b.early[rid] = r
		return
	}
	for {
		if r.err != nil {
			b.push(boshItem{err: r.err})
		} else if err := b.handle(r.body); err != nil {
			b.push(boshItem{err: err})
		}
		b.nextDeliver++
		var ok bool
		if r, ok = b.early[b.nextDeliver]; !ok {
			return
		}
		delete(b.early, b.nextDeliver)
	}
}

// handle pushes the children of a response body; a terminate body is
// the end of the stream.
func (b *boshWire) handle(body []byte) error {
	if !isTag(body, "body") {
		return fmt.Errorf("bosh: response is not a <body/>: %q", body[:min(len(body), 100)])
	}
	err := splitChildren(body, func(el []byte) { b.push(boshItem{el: el}) })
	if err != nil {
		return err
	}
	if t, ok := terminateOf(body); ok {
		return t
	}
	return nil
}

// push queues an item for next; the count of queued items goes up first.
func (b *boshWire) push(it boshItem) {
	b.mu.Lock()
	b.queued++
	b.mu.Unlock()
	select {
	case b.in <- it:
	case <-b.ctx.Done():
	}
}

// took records that next has taken an item (or stopped waiting).
func (b *boshWire) took(item bool) {
	b.mu.Lock()
	if item {
		b.queued--
	}
	b.readerIdle = false
	b.mu.Unlock()
}

var errClosed = errors.New("closed by the client")

func (b *boshWire) next() ([]byte, error) {
	select {
	case it := <-b.in:
		b.took(true)
		return it.el, it.err
	default:
	}
	// The reader is idle: whatever it had to answer has been sent, and
	// the request to be held can go.
	b.mu.Lock()
	if b.queued == 0 {
		b.readerIdle = true
		b.kick()
	}
	b.mu.Unlock()
	var timeout <-chan time.Time
	if !b.deadline.IsZero() {
		t := time.NewTimer(time.Until(b.deadline))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case it := <-b.in:
		b.took(true)
		return it.el, it.err
	case <-timeout:
		b.took(false)
		return nil, errTimeout
	case <-b.ctx.Done():
		b.took(false)
		return nil, errClosed
	}
}

func (b *boshWire) send(p []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return errors.New("bosh session ended")
	}
	b.outbox = append(b.outbox, p...)
	b.kick()
	return nil
}

func (b *boshWire) setDeadline(t time.Time) { b.deadline = t }

// close sends the terminate request when goodbye and the session is up,
// waits a little for its answer, and cancels whatever is in flight.
func (b *boshWire) close(goodbye bool) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	wait := false
	if goodbye && !b.ended && b.sid != "" {
		// The terminate goes now, or as soon as one of the two requests
		// in flight comes back (the server answers the held one at once
		// when the other arrives).
		b.terminate = true
		b.kick()
		wait = true
	}
	b.mu.Unlock()
	if wait {
		t := time.NewTimer(goodbyeTimeout)
		select {
		case <-b.terminated:
		case <-t.C:
		}
		t.Stop()
	}
	b.cancel()
}
