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
	// lastWritten is closed once the last request started has been
	// written: each request waits for its predecessor's, so that the
	// server receives rids in order, as a browser's client sends them
	// (ejabberd answers neither of two requests that arrive out of order).
	lastWritten chan struct{}

	dmu         sync.Mutex
	nextDeliver int64
	early       map[int64]boshResult

	in       chan boshItem
	deadline time.Time // for next; set by the reading goroutine only
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
	data, err := b.post(body, make(chan struct{}))
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
// a restart, the outbox, the terminate, or an empty request to be held.
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
		case b.inflight == 0:
			body = []byte(head + `/>`)
		default:
			return
		}
		b.rid = rid
		b.inflight++
		prev, written := b.lastWritten, make(chan struct{})
		b.lastWritten = written
		go b.exchange(rid, body, isTerminate, prev, written)
	}
}

// exchange sends one request and delivers its response in rid order.
// It is posted once prev (the previous request's) is closed, and closes
// written when its own has been written.
func (b *boshWire) exchange(rid int64, body []byte, isTerminate bool, prev <-chan struct{}, written chan struct{}) {
	if prev != nil {
		select {
		case <-prev:
		case <-b.ctx.Done():
		}
	}
	data, err := b.post(body, written)
	var term *boshTerminated
	if err == nil {
		term, _ = terminateOf(data)
	}
	b.mu.Lock()
	b.inflight--
	if err != nil || term != nil {
		b.ended = true
	} else {
		b.kick() // the next request to be held goes out before this one is read
	}
	b.mu.Unlock()
	if isTerminate {
		close(b.terminated)
		return
	}
	b.deliver(rid, boshResult{body: data, err: err})
}

func (b *boshWire) post(body []byte, written chan struct{}) ([]byte, error) {
	var once sync.Once
	markWritten := func() { once.Do(func() { close(written) }) }
	// However the request ends, the next one may go.
	defer markWritten()
	ctx := httptrace.WithClientTrace(b.ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { markWritten() },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := b.hc.Do(req)
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

func (b *boshWire) push(it boshItem) {
	select {
	case b.in <- it:
	case <-b.ctx.Done():
	}
}

var errClosed = errors.New("closed by the client")

func (b *boshWire) next() ([]byte, error) {
	select {
	case it := <-b.in:
		return it.el, it.err
	default:
	}
	var timeout <-chan time.Time
	if !b.deadline.IsZero() {
		t := time.NewTimer(time.Until(b.deadline))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case it := <-b.in:
		return it.el, it.err
	case <-timeout:
		return nil, errTimeout
	case <-b.ctx.Done():
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
