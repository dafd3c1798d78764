package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/server"
)

const (
	nsHTTPBind = "http://jabber.org/protocol/httpbind"
	nsXBOSH    = "urn:xmpp:xbosh"
)

// BOSHOptions tune a BOSH client. Zero fields take the defaults noted,
// which are what Strophe.js sends.
type BOSHOptions struct {
	// Wait is the 'wait' asked for at session creation (default 60 s).
	Wait time.Duration
	// Lang is the xml:lang of the stream (default "en").
	Lang string
	// Header is added to every request (an Origin, for instance).
	Header http.Header
	// MaxResponseBytes bounds a response body (default 64 MiB).
	MaxResponseBytes int64
}

// BOSH is the client side of XEP-0124/XEP-0206. Like a browser client it
// asks for hold=1 and keeps one request held by the server at all times,
// from a background goroutine; payloads go out in their own requests, at
// most 'requests' outstanding, and what the responses carry comes out of
// Next in rid order.
type BOSH struct {
	url  string
	hc   *http.Client
	opts BOSHOptions

	ctx    context.Context // cancelled by Drop: stops everything in flight
	cancel context.CancelFunc
	kick   chan struct{} // something to send, or a request came back
	wg     sync.WaitGroup

	mu       sync.Mutex
	sid      string
	domain   string
	created  map[string]string // attributes of the session creation response
	nextRid  int64
	requests int // the server's 'requests'
	inflight int
	outbox   []outgoing
	opened   bool
	ending   bool // terminate sent or received: no more polls
	paused   bool // a pause was sent: no polls until Resume

	deliverMu   sync.Mutex
	nextDeliver int64
	early       map[int64]boshResponse // arrived before a lower rid's response

	events   chan event
	finished chan struct{} // closed once the terminal event is queued
	endOnce  sync.Once
	endErr   error
}

// outgoing is one queued payload, or a restart or terminate request
// (which travel alone).
type outgoing struct {
	payload   string
	restart   bool
	terminate bool
	pause     int // seconds, for a pause request (XEP-0124 §10)
}

// boshResponse is a parsed response body, or why there is none.
type boshResponse struct {
	root *etree.Element
	err  error
}

var errDropped = errors.New("bosh: connection dropped by the client")

// DialBOSH prepares a BOSH client for the connection manager at rawURL
// (for example https://localhost:7443/http-bind). Nothing is sent until
// Open. httpClient nil means a client of its own.
func DialBOSH(rawURL string, httpClient *http.Client, opts BOSHOptions) (*BOSH, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("bosh: %q is not an http(s) URL", rawURL)
	}
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	if opts.Wait <= 0 {
		opts.Wait = 60 * time.Second
	}
	if opts.Lang == "" {
		opts.Lang = "en"
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = 64 << 20
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &BOSH{
		url:      rawURL,
		hc:       httpClient,
		opts:     opts,
		ctx:      ctx,
		cancel:   cancel,
		kick:     make(chan struct{}, 1),
		nextRid:  initialRid(),
		requests: 2,
		early:    make(map[int64]boshResponse),
		events:   make(chan event, 1024),
		finished: make(chan struct{}),
	}, nil
}

// initialRid is large and random, and far enough below 2^53 for any session.
func initialRid() int64 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return int64(binary.BigEndian.Uint32(b[:])) + 1<<20
}

func (b *BOSH) Kind() string { return "bosh" }

// SID is the session id ("" before Open).
func (b *BOSH) SID() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sid
}

// CreationAttr returns an attribute of the session creation response.
func (b *BOSH) CreationAttr(name string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.created[name]
}

// Open creates the session (the first time) or asks for a stream restart.
// The creation request is sent synchronously; its features come from Next.
func (b *BOSH) Open(domain string) error {
	b.mu.Lock()
	if b.opened {
		b.outbox = append(b.outbox, outgoing{restart: true})
		b.mu.Unlock()
		b.poke()
		return nil
	}
	b.opened = true
	b.domain = domain
	rid := b.nextRid
	b.nextRid++
	b.mu.Unlock()

	body := `<body xmlns='` + nsHTTPBind + `' xmlns:xmpp='` + nsXBOSH + `' content='text/xml; charset=utf-8' hold='1' rid='` +
		strconv.FormatInt(rid, 10) + `' to='` + server.EscapeText(domain) + `' ver='1.6' wait='` +
		strconv.Itoa(int(b.opts.Wait/time.Second)) + `' xml:lang='` + server.EscapeText(b.opts.Lang) + `' xmpp:version='1.0'/>`
	resp := b.roundTrip(rid, body)
	if resp.err != nil {
		return resp.err
	}
	b.mu.Lock()
	b.created = make(map[string]string)
	for _, a := range resp.root.Attr {
		b.created[a.FullKey()] = a.Value
	}
	b.sid = b.created["sid"]
	if n, err := strconv.Atoi(b.created["requests"]); err == nil && n > 0 {
		b.requests = n
	}
	b.mu.Unlock()

	b.deliverMu.Lock()
	b.nextDeliver = rid
	b.deliverMu.Unlock()
	b.deliver(rid, resp)
	if b.SID() == "" && !b.isFinished() {
		b.finish(fmt.Errorf("bosh: session creation response without a sid: %s", Render(resp.root)))
		return nil
	}
	b.wg.Add(1)
	go b.pump()
	b.poke()
	return nil
}

// Send queues one payload; it goes out with the next request.
func (b *BOSH) Send(xml string) error {
	b.mu.Lock()
	if !b.opened || b.ending {
		b.mu.Unlock()
		return errors.New("bosh: session not open")
	}
	b.outbox = append(b.outbox, outgoing{payload: xml})
	b.paused = false // any request ends a pause
	b.mu.Unlock()
	b.poke()
	return nil
}

// Next returns the next payload from the server, in rid order. A terminate
// without a condition ends with io.EOF, one with a condition with its
// payloads (a <stream:error/> under remote-stream-error) then *Terminated.
func (b *BOSH) Next(ctx context.Context) (*etree.Element, error) {
	select {
	case e := <-b.events:
		return e.el, e.err
	default:
	}
	select {
	case e := <-b.events:
		return e.el, e.err
	case <-b.finished:
		select {
		case e := <-b.events: // queued before the end
			return e.el, e.err
		default:
			return nil, b.endErr
		}
	case <-ctx.Done():
		return nil, fmt.Errorf("bosh: %w", ctx.Err())
	}
}

// Pause asks the server to keep the session for d without requests
// (XEP-0124 §10) and stops polling until Resume.
func (b *BOSH) Pause(d time.Duration) error {
	secs := int((d + time.Second - 1) / time.Second)
	b.mu.Lock()
	if !b.opened || b.ending {
		b.mu.Unlock()
		return errors.New("bosh: session not open")
	}
	b.outbox = append(b.outbox, outgoing{pause: max(secs, 1)})
	b.mu.Unlock()
	b.poke()
	return nil
}

// Resume ends a pause: polling starts again.
func (b *BOSH) Resume() {
	b.mu.Lock()
	b.paused = false
	b.mu.Unlock()
	b.poke()
}

// Close sends a terminate request and waits (2 s at most) for the session
// to end, then stops.
func (b *BOSH) Close() error {
	b.mu.Lock()
	if !b.opened || b.ending {
		b.mu.Unlock()
		b.Drop()
		return nil
	}
	b.outbox = append(b.outbox, outgoing{terminate: true})
	b.mu.Unlock()
	b.poke()
	var err error
	select {
	case <-b.finished:
	case <-time.After(2 * time.Second):
		err = errors.New("bosh: the server did not end the session")
	}
	b.Drop()
	return err
}

// Drop stops polling and abandons requests in flight without terminating
// the session: the server notices only by the inactivity timeout.
func (b *BOSH) Drop() {
	b.mu.Lock()
	b.ending = true
	b.mu.Unlock()
	b.finish(errDropped)
	b.wg.Wait()
}

func (b *BOSH) poke() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// pump sends requests: queued payloads whenever fewer than 'requests' are
// outstanding, and an empty one whenever none is.
func (b *BOSH) pump() {
	defer b.wg.Done()
	for {
		select {
		case <-b.kick:
		case <-b.ctx.Done():
			return
		}
		for b.sendOne() {
		}
	}
}

// sendOne starts the next request, if one is due.
func (b *BOSH) sendOne() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ending || b.inflight >= b.requests || (len(b.outbox) == 0 && (b.inflight > 0 || b.paused)) {
		return false
	}
	rid := b.nextRid
	attrs := `xmlns='` + nsHTTPBind + `' rid='` + strconv.FormatInt(rid, 10) + `' sid='` + server.EscapeText(b.sid) + `'`
	var body string
	switch {
	case len(b.outbox) > 0 && b.outbox[0].restart:
		b.outbox = b.outbox[1:]
		body = `<body ` + attrs + ` xmlns:xmpp='` + nsXBOSH + `' to='` + server.EscapeText(b.domain) +
			`' xml:lang='` + server.EscapeText(b.opts.Lang) + `' xmpp:restart='true'/>`
	case len(b.outbox) > 0 && b.outbox[0].pause > 0:
		body = `<body ` + attrs + ` pause='` + strconv.Itoa(b.outbox[0].pause) + `'/>`
		b.outbox = b.outbox[1:]
		b.paused = true
	case len(b.outbox) > 0 && b.outbox[0].terminate:
		b.outbox = b.outbox[1:]
		b.ending = true
		body = `<body ` + attrs + ` type='terminate'/>`
	default:
		var payloads strings.Builder
		for len(b.outbox) > 0 && !b.outbox[0].restart && !b.outbox[0].terminate {
			payloads.WriteString(b.outbox[0].payload)
			b.outbox = b.outbox[1:]
		}
		if payloads.Len() == 0 {
			body = `<body ` + attrs + `/>`
		} else {
			body = `<body ` + attrs + `>` + payloads.String() + `</body>`
		}
	}
	b.nextRid++
	b.inflight++
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		resp := b.roundTrip(rid, body)
		b.mu.Lock()
		b.inflight--
		b.mu.Unlock()
		if b.ctx.Err() != nil {
			return // dropped: nobody wants the answer
		}
		b.deliver(rid, resp)
		b.poke()
	}()
	return true
}

// roundTrip POSTs one body and parses the response.
func (b *BOSH) roundTrip(rid int64, body string) boshResponse {
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.Wait+10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url, strings.NewReader(body))
	if err != nil {
		return boshResponse{err: fmt.Errorf("bosh: rid %d: %w", rid, err)}
	}
	for k, vs := range b.opts.Header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := b.hc.Do(req)
	if err != nil {
		return boshResponse{err: fmt.Errorf("bosh: rid %d: %w", rid, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, b.opts.MaxResponseBytes))
	if err != nil {
		return boshResponse{err: fmt.Errorf("bosh: rid %d: reading response: %w", rid, err)}
	}
	if resp.StatusCode != http.StatusOK {
		return boshResponse{err: fmt.Errorf("bosh: rid %d: HTTP %s: %s", rid, resp.Status, bytes.TrimSpace(data))}
	}
	root, err := server.ParseDocument(data, server.Limits{MaxBytes: int(b.opts.MaxResponseBytes), MaxDepth: 1000})
	if err != nil {
		return boshResponse{err: fmt.Errorf("bosh: rid %d: bad response %q: %w", rid, data, err)}
	}
	if root.Tag != "body" || root.NamespaceURI() != nsHTTPBind {
		return boshResponse{err: fmt.Errorf("bosh: rid %d: response is not a BOSH body: %s", rid, data)}
	}
	return boshResponse{root: root}
}

// deliver queues the payloads of responses in rid order, whatever order
// they came back in.
func (b *BOSH) deliver(rid int64, r boshResponse) {
	b.deliverMu.Lock()
	defer b.deliverMu.Unlock()
	if b.isFinished() {
		return
	}
	b.early[rid] = r
	for {
		r, ok := b.early[b.nextDeliver]
		if !ok {
			return
		}
		delete(b.early, b.nextDeliver)
		b.nextDeliver++
		if r.err != nil {
			b.push(event{err: r.err})
			b.finish(r.err)
			return
		}
		for _, el := range r.root.ChildElements() {
			if !b.push(event{el: el}) {
				return
			}
		}
		if r.root.SelectAttrValue("type", "") == "terminate" {
			var end error = io.EOF
			if cond := r.root.SelectAttrValue("condition", ""); cond != "" {
				end = &Terminated{Condition: cond}
			}
			b.push(event{err: end})
			b.finish(end)
			return
		}
	}
}

func (b *BOSH) push(e event) bool {
	select {
	case b.events <- e:
		return true
	case <-b.ctx.Done():
		return false
	}
}

// finish records how the session ended and stops sending.
func (b *BOSH) finish(err error) {
	b.endOnce.Do(func() {
		b.mu.Lock()
		b.ending = true
		b.mu.Unlock()
		b.endErr = err
		close(b.finished)
		b.cancel() // requests still in flight are of no use now
	})
}

func (b *BOSH) isFinished() bool {
	select {
	case <-b.finished:
		return true
	default:
		return false
	}
}
