package bosh

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/finesse-notify/finesse-notify/server"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Config configures the BOSH handler. Zero fields take the defaults noted.
type Config struct {
	// MaxWait clamps the client's 'wait': the longest a request is held
	// (default 30 s). It must stay below 60 s, the usual HTTP idle limit
	// of proxies and browsers.
	MaxWait time.Duration
	// Inactivity is how long a session may go without any request held
	// before it is ended (default 60 s).
	Inactivity time.Duration
	// MaxHold clamps the client's 'hold': requests held at once (default 2;
	// Strophe.js asks for 1).
	MaxHold int
	// MaxPause is the longest pause a client may ask for (default 120 s).
	MaxPause time.Duration
	// Polling is the shortest polling interval advertised (default 2 s).
	Polling time.Duration
	// MaxBodyBytes bounds a request body (default: the server's stanza
	// limit plus 16 KiB for the wrapper). A larger body ends the session
	// with policy-violation.
	MaxBodyBytes int
	// TerminateGrace is how long a session that ended while no request was
	// held counts as still writing: its terminate waits for the client's
	// next request (up to the inactivity limit), but a server shutdown
	// waits only this long for it (default 2 s; a live client polls again
	// within a fraction of a second).
	TerminateGrace time.Duration
	// AllowOrigin is the CORS Access-Control-Allow-Origin value (default "*").
	AllowOrigin string
	// Logger receives structured logs (default: the server's logger).
	Logger *zap.Logger
	// Registerer receives the metrics (default: none registered).
	Registerer prometheus.Registerer
}

// Defaults.
const (
	DefaultMaxWait    = 30 * time.Second
	DefaultInactivity = 60 * time.Second
	DefaultMaxHold    = 2
	DefaultMaxPause   = 120 * time.Second
	DefaultPolling    = 2 * time.Second
	// DefaultTerminateGrace is Config.TerminateGrace's default.
	DefaultTerminateGrace = 2 * time.Second
	// wrapperAllowance is what MaxBodyBytes adds to the stanza limit by default.
	wrapperAllowance = 16 << 10
)

func (c *Config) setDefaults(srv *server.Server) error {
	if c.MaxWait >= 60*time.Second {
		return fmt.Errorf("bosh: max wait %s must be below 60s", c.MaxWait)
	}
	if c.MaxWait <= 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.Inactivity <= 0 {
		c.Inactivity = DefaultInactivity
	}
	if c.MaxHold <= 0 {
		c.MaxHold = DefaultMaxHold
	}
	if c.MaxPause <= 0 {
		c.MaxPause = DefaultMaxPause
	}
	if c.Polling <= 0 {
		c.Polling = DefaultPolling
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = srv.Limits().MaxBytes + wrapperAllowance
	}
	if c.TerminateGrace <= 0 {
		c.TerminateGrace = DefaultTerminateGrace
	}
	if c.AllowOrigin == "" {
		c.AllowOrigin = "*"
	}
	if c.Logger == nil {
		c.Logger = srv.Logger()
	}
	return nil
}

// Handler serves XEP-0124/XEP-0206 at /http-bind.
type Handler struct {
	srv     *server.Server
	cfg     Config
	log     *zap.Logger
	metrics *metrics
	limits  server.Limits // for each payload of a <body/>: the server's stanza limits

	mu       sync.Mutex
	sessions map[string]*session // by sid
	// failed remembers, for MaxWait, the sids of sessions that ended with
	// an error condition, in the order they ended, so that the client's
	// requests already in flight learn why instead of item-not-found.
	failed      map[string]failedSID
	failedOrder []string // sids of failed, oldest first
	closed      bool

	quit      chan struct{} // closed by Close: every session goroutine ends
	closeOnce sync.Once
	running   sync.WaitGroup // session goroutines
}

// New makes a BOSH handler for srv.
func New(srv *server.Server, cfg Config) (*Handler, error) {
	if srv == nil {
		return nil, errors.New("bosh: no server")
	}
	if err := cfg.setDefaults(srv); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Handler{
		srv:      srv,
		cfg:      cfg,
		log:      cfg.Logger.With(zap.String("transport", "bosh")),
		metrics:  m,
		limits:   srv.Limits(),
		sessions: make(map[string]*session),
		failed:   make(map[string]failedSID),
		quit:     make(chan struct{}),
	}, nil
}

// Close ends the handler: new requests are refused with system-shutdown,
// held requests are answered and every session goroutine stops. Sessions
// still open get a system-shutdown stream error; normally server.Shutdown
// has ended them already.
func (h *Handler) Close() {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closed = true
		h.mu.Unlock()
		close(h.quit)
	})
	h.running.Wait()
}

// ServeHTTP answers one BOSH request. Mount it at /http-bind and /http-bind/.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", h.cfg.AllowOrigin)
	switch r.Method {
	case http.MethodPost:
	case http.MethodOptions:
		// CORS preflight: a page on another origin POSTs text/xml.
		hd := w.Header()
		hd.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		hd.Set("Access-Control-Allow-Headers", "Content-Type")
		hd.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		http.Error(w, "BOSH accepts POST only", http.StatusMethodNotAllowed)
		return
	}
	h.metrics.requests.Inc()

	data, err := io.ReadAll(io.LimitReader(r.Body, int64(h.cfg.MaxBodyBytes)+1))
	if err != nil {
		return // the client went away in the middle of its request
	}
	if len(data) > h.cfg.MaxBodyBytes {
		h.refuse(w, r, &bindingError{cond: CondPolicyViolation, sid: peekSID(data),
			text: "body larger than " + strconv.Itoa(h.cfg.MaxBodyBytes) + " bytes"})
		return
	}
	body, err := parseRequest(data, h.limits)
	if err != nil {
		var be *bindingError
		if !errors.As(err, &be) {
			be = &bindingError{cond: CondBadRequest, text: err.Error()}
		}
		h.refuse(w, r, be)
		return
	}
	if h.isClosed() {
		h.terminate(w, CondSystemShutdown)
		return
	}
	if body.sid == "" {
		h.create(w, r, body)
		return
	}
	s := h.sessionFor(body.sid, r)
	if s == nil {
		h.log.Debug("request for an unknown sid", zap.String("remote", r.RemoteAddr))
		h.terminateGone(w, body.sid)
		return
	}
	s.sess.Touch()
	h.exchange(w, r, s, newCall(body, ""))
}

// refuse answers a request the connection manager cannot accept. When it
// names a live session, that session ends with the same condition: a
// terminal binding error ends the session for the client too.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, be *bindingError) {
	h.log.Debug("bosh request refused", zap.String("condition", be.cond),
		zap.String("reason", be.text), zap.String("remote", r.RemoteAddr))
	if be.sid != "" {
		if s := h.sessionFor(be.sid, r); s != nil {
			h.exchange(w, r, s, newCall(nil, be.cond))
			return
		}
	}
	h.terminate(w, be.cond)
}

// terminateGone answers a request for a session that is no longer there:
// with the condition it failed with, if it failed lately, else item-not-found.
func (h *Handler) terminateGone(w http.ResponseWriter, sid string) {
	if cond, ok := h.failedCondition(sid); ok {
		h.terminate(w, cond)
		return
	}
	h.terminate(w, CondItemNotFound)
}

// terminate answers with a terminate body outside any session.
func (h *Handler) terminate(w http.ResponseWriter, cond string) {
	h.metrics.terminated(cond)
	writeBody(w, terminateBody(cond, nil))
}

// create starts a session for a session creation request.
func (h *Handler) create(w http.ResponseWriter, r *http.Request, body *requestBody) {
	if body.to != "" && !strings.EqualFold(strings.TrimSuffix(body.to, "."), h.srv.Domain()) {
		h.log.Debug("session request for an unknown domain", zap.String("to", body.to), zap.String("remote", r.RemoteAddr))
		h.terminate(w, CondHostUnknown)
		return
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.terminate(w, CondSystemShutdown)
		return
	}
	h.running.Add(1) // before Close can wait
	h.mu.Unlock()

	s := newSession(h, body, r)
	s.sess = h.srv.NewSession(s)
	h.mu.Lock()
	for s.sid = rand.Text(); h.sessions[s.sid] != nil; s.sid = rand.Text() {
	}
	h.sessions[s.sid] = s
	h.mu.Unlock()
	// The session starts with its creation request in hand, so that no
	// clock of its own (inactivity) can run before it has been answered.
	c := newCall(body, "")
	go s.run(c)
	h.await(w, r, s, c)
}

// sessionFor finds the session sid names. A session created over TLS is
// never touched through plain HTTP: the connection is dropped instead
// (XEP-0124 §15.1), and the session goes on.
func (h *Handler) sessionFor(sid string, r *http.Request) *session {
	h.mu.Lock()
	s := h.sessions[sid]
	h.mu.Unlock()
	if s != nil && s.secure && r.TLS == nil {
		h.log.Info("plain HTTP request for a session created over TLS: connection dropped", zap.String("remote", r.RemoteAddr))
		panic(http.ErrAbortHandler)
	}
	return s
}

type failedSID struct {
	cond    string
	expires time.Time
}

// forget removes an ended session. When it ended with a condition, its
// sid answers later requests with that condition for MaxWait: they were
// sent before the client could see the terminate.
func (h *Handler) forget(sid, cond string) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.sessions, sid)
	for len(h.failedOrder) > 0 && now.After(h.failed[h.failedOrder[0]].expires) {
		delete(h.failed, h.failedOrder[0])
		h.failedOrder = h.failedOrder[1:]
	}
	if cond != "" {
		h.failed[sid] = failedSID{cond: cond, expires: now.Add(h.cfg.MaxWait)}
		h.failedOrder = append(h.failedOrder, sid)
	}
}

// failedCondition is the condition sid's session recently ended with.
func (h *Handler) failedCondition(sid string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.failed[sid]
	if !ok || time.Now().After(f.expires) {
		return "", false
	}
	return f.cond, true
}

func (h *Handler) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// exchange hands c to the session's goroutine and writes its answer.
func (h *Handler) exchange(w http.ResponseWriter, r *http.Request, s *session, c *call) {
	select {
	case s.in <- c:
	case <-s.exited:
		h.terminateGone(w, s.sid) // it ended meanwhile
		return
	}
	h.await(w, r, s, c)
}

// await writes the answer to c, which the session's goroutine has taken.
func (h *Handler) await(w http.ResponseWriter, r *http.Request, s *session, c *call) {
	select {
	case body := <-c.reply:
		writeBody(w, body)
	case <-r.Context().Done():
		// The connection is gone. Let the session answer the request
		// (for its cache) so that it stops counting as held.
		select {
		case s.gone <- c:
		case <-s.exited:
		}
	case <-s.exited:
		select {
		case body := <-c.reply:
			writeBody(w, body)
		default:
			h.terminateGone(w, s.sid)
		}
	}
}

func writeBody(w http.ResponseWriter, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "text/xml; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // a failed write is the client's loss; it may resend the rid
}
