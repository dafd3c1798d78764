package task

import (
	"container/heap"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

// Task is a submitted task as the router needs it.
type Task struct {
	// ContactID is the CCP contact id (32 upper-case hex digits).
	ContactID      string
	ScriptSelector string
	// Variables are in submission order: cv_1..cv_10, user_<ecc>, and
	// others, which the router ignores (they stay CCP extension fields).
	Variables []Variable
}

// Variable is a name and a value.
type Variable struct{ Name, Value string }

// ContactObserver hears a task's contact status changes. The router calls
// it synchronously, with its own lock held, in the order they happen:
// implementations must not block and must not call the Router.
type ContactObserver interface {
	// ContactQueued: the task waits for an agent, also after it is routed
	// again (an offer that timed out, a transfer). estimatedWait is 0
	// when an agent is free now, UnknownWait otherwise.
	ContactQueued(contactID string, estimatedWait time.Duration)
	ContactReserved(contactID, taskID, agentID string, mrdID int)
	ContactHandled(contactID string)
	ContactDiscarded(contactID, reason string)
}

// UnknownWait is the estimated wait of a task that has to wait: the
// router does not estimate it, as CCE answers -1 when it cannot.
const UnknownWait = -time.Second

// The reasons a task is discarded (CCX "Contact States and Reason Codes").
const (
	// ReasonInvalidScriptSelector: no queue has the task's script
	// selector.
	ReasonInvalidScriptSelector = "NOTIFICATION_INVALID_SCRIPT_SELECTOR"
	// ReasonRoutingDisabled: the queues hold MaxQueued tasks already.
	ReasonRoutingDisabled = "NOTIFICATION_MEDIA_ROUTING_DISABLED"
)

// Errors of Submit and Cancel.
var (
	ErrNotQueued        = errors.New("task: the contact is not queued")
	ErrUnknownContact   = errors.New("task: unknown contact")
	ErrDuplicateContact = errors.New("task: the contact was submitted already")
	ErrInvalidTask      = errors.New("task: invalid task")
	ErrClosed           = errors.New("task: the router is closed")
)

// Defaults of Config.
const (
	// DefaultOfferTimeout is how long an offered task waits for ACCEPT
	// before it is routed again and the agent made NOT_READY.
	DefaultOfferTimeout = 30 * time.Second
	DefaultMaxQueued    = 10000
	DefaultMaxHistory   = 10000
	DefaultMaxHops      = 64
)

// Bounds of a task's call variables.
const (
	maxECCVariables  = 64
	maxVariableName  = 64
	maxVariableValue = 4096
)

// Config configures a Router. Zero fields take the defaults noted.
type Config struct {
	// Directory names the script selectors, users and MRDs (required).
	Directory *directory.Directory
	// Agents is the agent model: eligibility, media state (required).
	Agents *agent.Registry
	// Publisher receives the Dialogs/Media notifications (required).
	Publisher agent.Publisher
	// Observer hears the contacts' status changes (default: none).
	Observer ContactObserver
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OfferTimeout (default DefaultOfferTimeout).
	OfferTimeout time.Duration
	// MaxQueued bounds the tasks waiting in every queue together; a task
	// beyond it is discarded (default DefaultMaxQueued).
	MaxQueued int
	// MaxHistory bounds the finished tasks whose journeys are kept
	// (default DefaultMaxHistory); MaxHops the hops kept per journey
	// (default DefaultMaxHops).
	MaxHistory int
	MaxHops    int
	// FirstCallID is the first router call id (default 1).
	FirstCallID int64
	Logger      *zap.Logger
	Registerer  prometheus.Registerer

	// afterFunc starts the offer timers (default time.AfterFunc); tests
	// replace it to fire timers themselves.
	afterFunc func(time.Duration, func()) stopper
}

// stopper is the part of *time.Timer the router uses.
type stopper interface{ Stop() bool }

// Router routes tasks to agents and runs their dialogs. It is safe for
// concurrent use.
type Router struct {
	dir          *directory.Directory
	agents       *agent.Registry
	pub          agent.Publisher
	obs          ContactObserver
	now          func() time.Time
	log          *zap.Logger
	metrics      *metrics
	afterFunc    func(time.Duration, func()) stopper
	offerTimeout time.Duration
	maxQueued    int
	maxHistory   int
	maxHops      int

	mu     sync.Mutex
	closed bool
	queues map[int]*mrdQueue
	slots  map[slotKey]*slot
	// contacts holds every contact the router knows: active ones and the
	// finished ones of the history; byCallKey the same by router call key.
	contacts  map[string]*contact
	byCallKey map[callKey]*contact
	// dialogs are the open dialogs by id.
	dialogs map[string]*dialog
	// history holds the finished contacts, oldest first from historyHead.
	history     []*contact
	historyHead int
	// queued counts the waiting tasks of every queue.
	queued     int
	nextCallID int64
	// availSeq orders agents that became available at the same instant.
	availSeq uint64
}

// contact is a task in the router.
type contact struct {
	id       string
	vars     []Variable // Finesse names: callVariableN, user.<ecc>
	selector directory.ScriptSelector
	key      callKey
	seq      int
	// queue is set while the task waits; prev and next link it in
	// queue.waiting.
	queue      *mrdQueue
	prev, next *contact
	// dialog is set while an agent has the task.
	dialog   *dialog
	hops     []Hop
	finished bool
}

// New makes a Router and registers it with the agent registry, whose
// agents it then follows. It panics without a Directory, Agents or
// Publisher.
func New(cfg Config) *Router {
	if cfg.Directory == nil || cfg.Agents == nil || cfg.Publisher == nil {
		panic("task.New: Config.Directory, Config.Agents and Config.Publisher are required")
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OfferTimeout <= 0 {
		cfg.OfferTimeout = DefaultOfferTimeout
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.MaxHistory <= 0 {
		cfg.MaxHistory = DefaultMaxHistory
	}
	if cfg.MaxHops <= 0 {
		cfg.MaxHops = DefaultMaxHops
	}
	if cfg.FirstCallID <= 0 || cfg.FirstCallID > maxCallID {
		cfg.FirstCallID = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.afterFunc == nil {
		cfg.afterFunc = func(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }
	}
	r := &Router{
		dir:          cfg.Directory,
		agents:       cfg.Agents,
		pub:          cfg.Publisher,
		obs:          cfg.Observer,
		now:          cfg.Now,
		log:          cfg.Logger,
		metrics:      newMetrics(cfg.Registerer),
		afterFunc:    cfg.afterFunc,
		offerTimeout: cfg.OfferTimeout,
		maxQueued:    cfg.MaxQueued,
		maxHistory:   cfg.MaxHistory,
		maxHops:      cfg.MaxHops,
		queues:       make(map[int]*mrdQueue),
		slots:        make(map[slotKey]*slot),
		contacts:     make(map[string]*contact),
		byCallKey:    make(map[callKey]*contact),
		dialogs:      make(map[string]*dialog),
		nextCallID:   cfg.FirstCallID,
	}
	cfg.Agents.WatchMedia(r.mediaChanged)
	// Agents may have signed in before the router existed.
	r.mu.Lock()
	for _, u := range r.dir.Users() {
		for _, m := range r.dir.MediaRoutingDomains() {
			if m.Voice {
				continue
			}
			if rt, ok := r.agents.MediaRouting(u.ID, m.ID); ok && rt.Eligible() {
				r.resync(r.slot(u.ID, m.ID))
			}
		}
	}
	r.mu.Unlock()
	return r
}

// SetObserver replaces the ContactObserver (nil: none), for wiring where
// the observer (the CCP contact store) is made after the router it
// submits to.
func (r *Router) SetObserver(o ContactObserver) {
	if o == nil {
		o = noObserver{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.obs = o
}

type noObserver struct{}

func (noObserver) ContactQueued(string, time.Duration)         {}
func (noObserver) ContactReserved(string, string, string, int) {}
func (noObserver) ContactHandled(string)                       {}
func (noObserver) ContactDiscarded(string, string)             {}

// Close stops the offer timers; the router takes no task afterwards.
func (r *Router) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, d := range r.dialogs {
		if d.timer != nil {
			d.timer.Stop()
			d.timer = nil
		}
	}
}

// Submit routes t to an agent, or queues it. The observer hears the
// outcome: ContactQueued (then ContactReserved when an agent takes it),
// or ContactDiscarded when no queue has its script selector or the queues
// are full. Submit returns an error, and the observer hears nothing, only
// for a task it cannot take: an empty or already known contact id, call
// variables beyond the bounds, a closed router.
func (r *Router) Submit(t Task) error {
	if t.ContactID == "" {
		return fmt.Errorf("%w: no contact id", ErrInvalidTask)
	}
	vars, err := callVariables(t.Variables)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if _, dup := r.contacts[t.ContactID]; dup {
		return fmt.Errorf("%w: %s", ErrDuplicateContact, t.ContactID)
	}
	sel, ok := r.dir.ScriptSelector(t.ScriptSelector)
	if !ok {
		r.metrics.submitted.WithLabelValues("discarded").Inc()
		r.log.Info("task discarded: unknown script selector", zap.String("contact", t.ContactID),
			zap.String("scriptSelector", t.ScriptSelector))
		r.obs.ContactDiscarded(t.ContactID, ReasonInvalidScriptSelector)
		return nil
	}
	if r.full(sel.MRDID) {
		r.metrics.submitted.WithLabelValues("discarded").Inc()
		r.log.Warn("task discarded: the queues are full", zap.String("contact", t.ContactID),
			zap.Int("maxQueued", r.maxQueued))
		r.obs.ContactDiscarded(t.ContactID, ReasonRoutingDisabled)
		return nil
	}
	c := &contact{id: t.ContactID, vars: vars, key: r.newCallKey(), seq: 1}
	r.contacts[c.id] = c
	r.byCallKey[c.key] = c
	r.metrics.submitted.WithLabelValues("queued").Inc()
	r.enqueue(c, sel, false)
	return nil
}

// full reports whether a task for MRD mrdID would have to wait while
// MaxQueued tasks wait already.
func (r *Router) full(mrdID int) bool {
	return r.queued >= r.maxQueued && r.queue(mrdID).ready.Len() == 0
}

// newCallKey takes the next router call id, today.
func (r *Router) newCallKey() callKey {
	k := callKey{day: routerCallKeyDay(r.now()), callID: r.nextCallID}
	r.nextCallID++
	if r.nextCallID > maxCallID {
		r.nextCallID = 1
	}
	return k
}

// Cancel withdraws a waiting task (the application's DELETE while the
// contact is queued). A task an agent has, or that ended, is not
// queued: ErrNotQueued. The observer hears nothing: the caller knows.
func (r *Router) Cancel(contactID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.contacts[contactID]
	switch {
	case !ok:
		return ErrUnknownContact
	case c.queue == nil:
		return ErrNotQueued
	}
	r.unqueue(c)
	endHop(c, r.now())
	r.retire(c)
	return nil
}

// callVariables keeps the variables that become the Dialog's call
// variables, under Finesse's names: cv_N (N 1 to 10) becomes
// callVariableN, user_<ecc> becomes user.<ecc>. Call variables come in
// number order, then the ECC variables in submission order; a name given
// twice keeps its last value.
func callVariables(vs []Variable) ([]Variable, error) {
	var cvs [10]*string
	var out []Variable
	ecc := 0
	for i := range vs {
		v := &vs[i]
		if len(v.Value) > maxVariableValue {
			return nil, fmt.Errorf("%w: variable %.64q is longer than %d bytes", ErrInvalidTask, v.Name, maxVariableValue)
		}
		switch {
		case strings.HasPrefix(v.Name, "cv_"):
			n, err := strconv.Atoi(v.Name[3:])
			if err != nil || n < 1 || n > 10 || strconv.Itoa(n) != v.Name[3:] {
				continue // an extension field of CCP's, not a call variable
			}
			cvs[n-1] = &v.Value
		case strings.HasPrefix(v.Name, "user_") && len(v.Name) > len("user_"):
			name := "user." + v.Name[len("user_"):]
			if len(name) > maxVariableName {
				return nil, fmt.Errorf("%w: ECC variable name %.64q is longer than %d bytes", ErrInvalidTask, v.Name, maxVariableName)
			}
			if j := indexVariable(out, name); j >= 0 {
				out[j].Value = v.Value
				continue
			}
			if ecc++; ecc > maxECCVariables {
				return nil, fmt.Errorf("%w: more than %d ECC variables", ErrInvalidTask, maxECCVariables)
			}
			out = append(out, Variable{Name: name, Value: v.Value})
		}
	}
	all := make([]Variable, 0, 10+len(out))
	for i, v := range cvs {
		if v != nil {
			all = append(all, Variable{Name: "callVariable" + strconv.Itoa(i+1), Value: *v})
		}
	}
	if len(all)+len(out) == 0 {
		return nil, nil
	}
	return append(all, out...), nil
}

func indexVariable(vs []Variable, name string) int {
	for i, v := range vs {
		if v.Name == name {
			return i
		}
	}
	return -1
}

// queue returns MRD mrdID's routing state, made on first use.
func (r *Router) queue(mrdID int) *mrdQueue {
	q := r.queues[mrdID]
	if q == nil {
		q = &mrdQueue{id: mrdID}
		r.queues[mrdID] = q
	}
	return q
}

// slot returns the agent userID's slot in MRD mrdID, made on first use.
func (r *Router) slot(userID string, mrdID int) *slot {
	k := slotKey{user: strings.ToLower(userID), mrd: mrdID}
	s := r.slots[k]
	if s == nil {
		s = &slot{key: k, userID: userID, queue: r.queue(mrdID), index: -1}
		if m, ok := r.dir.MediaRoutingDomain(mrdID); ok {
			s.mediaType = m.Name
		}
		r.slots[k] = s
	}
	return s
}

// enqueue makes c wait in sel's queue, at the back or (a task whose offer
// timed out keeps its turn) at the front, tells the observer, and routes
// what can be routed. Queues at MaxQueued discard it instead.
func (r *Router) enqueue(c *contact, sel directory.ScriptSelector, front bool) {
	q := r.queue(sel.MRDID)
	if r.queued >= r.maxQueued && q.ready.Len() == 0 {
		r.log.Warn("task discarded on requeue: the queues are full", zap.String("contact", c.id))
		r.obs.ContactDiscarded(c.id, ReasonRoutingDisabled)
		r.retire(c)
		return
	}
	c.selector = sel
	r.addHop(c, Hop{Kind: HopQueue, ID: sel.QueueNumber, Name: sel.QueueName, Start: r.now()})
	wait := UnknownWait
	if q.ready.Len() > 0 {
		wait = 0
	}
	r.obs.ContactQueued(c.id, wait)
	c.queue = q
	if front {
		q.waiting.pushFront(c)
	} else {
		q.waiting.pushBack(c)
	}
	r.queued++
	r.metrics.queued.Set(float64(r.queued))
	r.dispatch(q)
}

// unqueue takes a waiting contact out of its queue.
func (r *Router) unqueue(c *contact) {
	c.queue.waiting.remove(c)
	c.queue = nil
	r.queued--
	r.metrics.queued.Set(float64(r.queued))
}

// dispatch offers q's waiting tasks, oldest first, to its eligible
// agents, longest available first, while there are both. An agent the
// registry refuses (it went NOT_READY or signed out a moment ago, its
// event not yet here) leaves the heap.
func (r *Router) dispatch(q *mrdQueue) {
	for !q.waiting.empty() && q.ready.Len() > 0 {
		s := q.ready[0]
		c := q.waiting.head
		if !r.offer(c, s) {
			heap.Remove(&q.ready, s.index)
		}
	}
}

// offer gives c, the head of its queue, to s, the top of the heap, and
// reports whether the agent took it.
func (r *Router) offer(c *contact, s *slot) bool {
	id := taskID(c.key, c.seq)
	load := s.load()
	load.Offered++
	rt, ok := r.agents.UpdateTasks(s.userID, s.queue.id, agent.TaskUpdate{Load: load, Offer: true})
	if !ok {
		return false
	}
	now := r.now()
	r.unqueue(c)
	d := &dialog{id: id, seqNum: c.seq, contact: c, slot: s, state: StateOffered, start: now, changed: now, session: rt.Session}
	s.dialogs = append(s.dialogs, d)
	c.dialog = d
	r.dialogs[id] = d
	endHop(c, now)
	r.addHop(c, Hop{Kind: HopAgent, ID: s.userID, Name: r.agentName(s.userID), Start: now})
	r.publishDialogs(d, "POST", "", "")
	r.startOfferTimer(d)
	// The agent goes to the back of the line, or out of it at its limit.
	r.availSeq++
	s.since, s.seq = now, r.availSeq
	if rt.Eligible() {
		heap.Fix(&s.queue.ready, s.index)
	} else {
		heap.Remove(&s.queue.ready, s.index)
	}
	r.metrics.offers.Inc()
	r.log.Debug("task offered", zap.String("contact", c.id), zap.String("task", id), zap.String("user", s.userID))
	r.obs.ContactReserved(c.id, id, s.userID, s.queue.id)
	return true
}

// agentName is the "First Last" of a journey's agent hop.
func (r *Router) agentName(userID string) string {
	u, ok := r.dir.User(userID)
	if !ok {
		return ""
	}
	return strings.TrimSpace(u.FirstName + " " + u.LastName)
}

// mediaChanged is the registry's watcher: an agent's own request or the
// forced logout may have changed its routing in an MRD.
func (r *Router) mediaChanged(ev agent.MediaEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	s := r.slot(ev.UserID, ev.MRDID)
	if ev.SignedOut {
		r.signedOut(s, ev)
	}
	r.resync(s)
}

// resync makes s's place in the heap match the agent's eligibility, and
// routes waiting tasks to an agent that has just become eligible.
func (r *Router) resync(s *slot) {
	rt, ok := r.agents.MediaRouting(s.userID, s.queue.id)
	eligible := ok && rt.SignedIn && rt.Ready && len(s.dialogs) < rt.MaxDialogLimit
	switch {
	case eligible && s.index < 0:
		r.availSeq++
		s.since, s.seq = r.now(), r.availSeq
		heap.Push(&s.queue.ready, s)
		r.dispatch(s.queue)
	case !eligible && s.index >= 0:
		heap.Remove(&s.queue.ready, s.index)
	}
}

// signedOut applies the agent's dialogLogoutAction to the dialogs of the
// sign-in that ended: TRANSFER routes each again through its queue,
// CLOSE ends it (the contact is handled). An offered dialog, which the
// agent never took, is routed again at the head of its queue either way.
func (r *Router) signedOut(s *slot, ev agent.MediaEvent) {
	disposition := DispositionLoggedOut
	if ev.DialogLogoutAction == agent.DialogLogoutActionTransfer {
		disposition = DispositionTransferredOnLogout
	}
	for _, d := range append([]*dialog(nil), s.dialogs...) {
		if d.session != ev.Session {
			continue // a dialog of a later sign-in
		}
		offered := d.state == StateOffered
		c := r.endDialog(d, disposition, "", false)
		switch {
		case offered:
			c.seq++
			r.enqueue(c, c.selector, true)
		case disposition == DispositionTransferredOnLogout:
			c.seq++
			r.enqueue(c, c.selector, false)
		default:
			r.obs.ContactHandled(c.id)
			r.retire(c)
		}
	}
}
