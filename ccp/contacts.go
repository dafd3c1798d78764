package ccp

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/finesse/task"
	"github.com/finesse-notify/finesse-notify/pubsub"
)

// Defaults of ContactsConfig.
const (
	DefaultMaxContacts = 10000
	// DefaultRetention keeps a handled or discarded contact for the
	// administrator's Social Contact GET.
	DefaultRetention = time.Hour
	// DefaultPollExpiry is CCP's: a task's poll URL stops working after
	// five minutes without polling (FINESSE-REFERENCE §6).
	DefaultPollExpiry = 5 * time.Minute
)

// Publisher publishes an already rendered document on a pubsub node as
// the text of a Finesse <notification>; *finesse.Notifier is one. It is
// called with the contact store's lock held, so that the changes of a
// contact leave in order: it must not block for long.
type Publisher interface {
	PublishRaw(node string, doc []byte) (pubsub.Published, error)
}

// ContactsConfig configures Contacts. Zero fields take the defaults noted.
type ContactsConfig struct {
	// Directory names the media routing domains of reserved tasks (their
	// mrdIsInterruptible field); nil leaves that field out.
	Directory *directory.Directory
	// Publisher receives every SocialContact; nil publishes nothing.
	Publisher Publisher
	// Now is the clock of every timestamp and expiry (default time.Now).
	Now func() time.Time
	// MaxContacts bounds the contacts kept (default DefaultMaxContacts).
	// When it is reached the oldest handled or discarded contact makes
	// room; with none, submissions are refused.
	MaxContacts int
	// Retention is how long a handled or discarded contact is kept
	// (default DefaultRetention).
	Retention time.Duration
	// PollExpiry is how long a task's poll URL lives without being polled
	// (default DefaultPollExpiry).
	PollExpiry time.Duration
	Logger     *zap.Logger
	Registerer prometheus.Registerer
}

// contactStatus is a contact's status, as CCP names them.
type contactStatus int

// The statuses of a task contact (FINESSE-REFERENCE §6).
const (
	statusUnread contactStatus = iota + 1
	statusQueued
	statusReserved
	statusHandled
	statusDiscarded
)

var statusNames = [...]string{
	statusUnread:    "unread",
	statusQueued:    "queued",
	statusReserved:  "reserved",
	statusHandled:   "handled",
	statusDiscarded: "discarded",
}

// String is the status in lower case, as the SocialContact carries it.
func (s contactStatus) String() string {
	if s > 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "unknown"
}

// final reports whether nothing follows s.
func (s contactStatus) final() bool { return s == statusHandled || s == statusDiscarded }

// Status reasons, in the SocialContact's lower case; the Task poll shows
// them in upper case.
const (
	reasonUnknown          = "unknown"
	reasonExternallyRouted = "externally_routed"
	reasonHandled          = "externally_handled"
	// reasonCancelled: the application cancelled the task with DELETE.
	// CCP documents no reason for it; this is the stand-in's.
	reasonCancelled = "cancelled"
	// reasonRoutingDisabled: the router refused the task outright.
	reasonRoutingDisabled = "notification_media_routing_disabled"
)

// statusUserSystem is the statusUserId of changes no agent made.
const statusUserSystem = "system"

// contact is one task contact. Its fields change only under Contacts.mu.
type contact struct {
	id       string
	campaign string
	// origin is scheme://host of the submission: the base of the refURL
	// in published SocialContacts.
	origin      string
	name, title string
	description string
	selector    string
	tags        []string
	variables   []task.Variable
	published   time.Time

	status     contactStatus
	reason     string
	statusAt   time.Time
	statusUser string

	// What the router reported once it reserved the task.
	taskID, agentID string
	mrdID           int
	interruptible   string // "true", "false", or "" when unknown

	// estimatedWait is the first queueing's estimate: CCE computes it
	// once (FINESSE-REFERENCE §6). hasEstimate says there was one.
	estimatedWait time.Duration
	hasEstimate   bool

	// The poll URL: open until cancelled or left unpolled for PollExpiry.
	pollOpen bool
	lastPoll time.Time
}

// Contacts is the contact store: every task contact, bounded, and the
// router's ContactObserver. Each status change renders the contact's
// SocialContact once and publishes it on its campaign's node while the
// store's lock is held, so a contact's changes leave in order.
//
// Lock order: the router calls the observer methods with its own lock
// held, so Contacts never calls the router while holding its lock.
type Contacts struct {
	cfg     ContactsConfig
	log     *zap.Logger
	metrics *contactMetrics

	mu   sync.Mutex
	byID map[string]*contact
	// finished holds handled and discarded contacts in the order they
	// finished, from head on: the order in which retention expires them
	// and in which a full store evicts them.
	finished []*contact
	head     int
}

// NewContacts makes an empty contact store.
func NewContacts(cfg ContactsConfig) *Contacts {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxContacts <= 0 {
		cfg.MaxContacts = DefaultMaxContacts
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.PollExpiry <= 0 {
		cfg.PollExpiry = DefaultPollExpiry
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Contacts{
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: newContactMetrics(cfg.Registerer),
		byID:    make(map[string]*contact),
	}
}

// errStoreFull refuses a submission when MaxContacts contacts are all
// still open.
var errStoreFull = errors.New("ccp: the contact store is full of open contacts")

// newContact is what a validated submission gives the store.
type newContact struct {
	sub      submission
	campaign string
	feedTags []string
	origin   string
}

// create adds an unread contact and publishes it; it returns the contact
// id.
func (c *Contacts) create(n newContact) (string, error) {
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now)
	if len(c.byID) >= c.cfg.MaxContacts && !c.evictOldestFinished() {
		return "", errStoreFull
	}
	id := c.newID()
	ct := &contact{
		id:          id,
		campaign:    n.campaign,
		origin:      n.origin,
		name:        n.sub.name,
		title:       n.sub.title,
		description: n.sub.description,
		selector:    n.sub.scriptSelector,
		tags:        contactTags(n.sub, n.feedTags),
		variables:   n.sub.variables,
		published:   now,
		status:      statusUnread,
		reason:      reasonUnknown,
		statusAt:    now,
		pollOpen:    true,
		lastPoll:    now,
	}
	c.byID[id] = ct
	c.metrics.contacts.WithLabelValues(statusUnread.String()).Inc()
	c.publish(ct)
	return id, nil
}

// contactTags are the submitted tags, then the feed's (cisco_uq_tag
// triggers CCP's notification to CCE), then discard_on_recovery for a
// task that is not to be requeued when CCP recovers, as the contacts in
// the seed's capture carry them.
func contactTags(s submission, feedTags []string) []string {
	tags := append([]string(nil), s.tags...)
	for _, t := range feedTags {
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	if !s.requeueOnRecovery && !slices.Contains(tags, "discard_on_recovery") {
		tags = append(tags, "discard_on_recovery")
	}
	return tags
}

// newID returns an unused contact id: 32 upper-case hex digits, random,
// as CCP's contact ids look.
func (c *Contacts) newID() string {
	var b [16]byte
	for {
		rand.Read(b[:])
		id := strings.ToUpper(hex.EncodeToString(b[:]))
		if _, taken := c.byID[id]; !taken {
			return id
		}
	}
}

// expire forgets the finished contacts whose retention is over.
func (c *Contacts) expire(now time.Time) {
	for c.head < len(c.finished) && now.Sub(c.finished[c.head].statusAt) >= c.cfg.Retention {
		c.evictOldestFinished()
	}
}

// evictOldestFinished forgets the contact that finished first, if any.
func (c *Contacts) evictOldestFinished() bool {
	if c.head == len(c.finished) {
		return false
	}
	ct := c.finished[c.head]
	c.finished[c.head] = nil
	c.head++
	if c.head > len(c.finished)/2 {
		c.finished = append(c.finished[:0], c.finished[c.head:]...)
		c.head = 0
	}
	delete(c.byID, ct.id)
	c.metrics.contacts.WithLabelValues(ct.status.String()).Dec()
	return true
}

// setStatus moves ct to status and publishes it.
func (c *Contacts) setStatus(ct *contact, status contactStatus, reason, user string) {
	now := c.cfg.Now()
	old := ct.status
	ct.status, ct.reason, ct.statusUser, ct.statusAt = status, reason, user, now
	if old != status {
		c.metrics.contacts.WithLabelValues(old.String()).Dec()
		c.metrics.contacts.WithLabelValues(status.String()).Inc()
	}
	if status.final() {
		c.finished = append(c.finished, ct)
	}
	c.log.Debug("contact status changed", zap.String("contact", ct.id), zap.Stringer("from", old),
		zap.Stringer("to", status), zap.String("reason", reason))
	c.publish(ct)
}

// publish renders ct's SocialContact once and publishes it on its
// campaign's node. A failure is logged: the change is made, and the
// Social Contact GET shows it.
func (c *Contacts) publish(ct *contact) {
	if c.cfg.Publisher == nil {
		return
	}
	node := finesse.CampaignNode(ct.campaign)
	if _, err := c.cfg.Publisher.PublishRaw(node, ct.socialContact(ct.origin)); err != nil {
		c.log.Warn("SocialContact not published", zap.String("contact", ct.id), zap.String("node", node),
			zap.Stringer("status", ct.status), zap.Error(err))
	}
}

// lookup returns the contact with id, nil when there is none. Callers
// hold c.mu.
func (c *Contacts) lookup(id string) *contact {
	ct := c.byID[id]
	if ct == nil {
		c.log.Debug("status change for an unknown contact", zap.String("contact", id))
	}
	return ct
}

// ContactQueued records that the router queued the task (again, after a
// requeue): queued, externally_routed.
func (c *Contacts) ContactQueued(contactID string, estimatedWait time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := c.lookup(contactID)
	if ct == nil || ct.status.final() || ct.status == statusQueued {
		return
	}
	if !ct.hasEstimate {
		ct.estimatedWait, ct.hasEstimate = estimatedWait, true
	}
	c.setStatus(ct, statusQueued, reasonExternallyRouted, statusUserSystem)
}

// ContactReserved records that the router reserved an agent for the task:
// reserved, externally_routed, statusUserId the agent; the contact now
// carries the task id and the MRD.
func (c *Contacts) ContactReserved(contactID, taskID, agentID string, mrdID int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := c.lookup(contactID)
	if ct == nil || ct.status.final() {
		return
	}
	if ct.status == statusReserved && ct.taskID == taskID && ct.agentID == agentID && ct.mrdID == mrdID {
		return // nothing changed
	}
	ct.taskID, ct.agentID, ct.mrdID = taskID, agentID, mrdID
	ct.interruptible = ""
	if c.cfg.Directory != nil {
		if m, ok := c.cfg.Directory.MediaRoutingDomain(mrdID); ok {
			ct.interruptible = boolText(m.Interruptible)
		}
	}
	c.setStatus(ct, statusReserved, reasonExternallyRouted, agentID)
}

// ContactHandled records that the agent completed the task: handled,
// externally_handled.
func (c *Contacts) ContactHandled(contactID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := c.lookup(contactID)
	if ct == nil || ct.status.final() {
		return
	}
	user := ct.agentID
	if user == "" {
		user = statusUserSystem
	}
	c.setStatus(ct, statusHandled, reasonHandled, user)
}

// ContactDiscarded records that the router dropped the task, with its
// reason (NOTIFICATION_INVALID_SCRIPT_SELECTOR…), shown in lower case.
func (c *Contacts) ContactDiscarded(contactID, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := c.lookup(contactID)
	if ct == nil || ct.status.final() {
		return
	}
	c.setStatus(ct, statusDiscarded, strings.ToLower(reason), statusUserSystem)
}

// submitRefused discards a contact the router refused to take.
func (c *Contacts) submitRefused(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ct := c.byID[id]; ct != nil && ct.status == statusUnread {
		c.setStatus(ct, statusDiscarded, reasonRoutingDisabled, statusUserSystem)
	}
}

// pollable returns the contact whose poll URL id names, refreshing its
// last poll, or the 404 when there is none: unknown, cancelled, or
// unpolled for PollExpiry. Callers hold c.mu.
func (c *Contacts) pollable(id string, now time.Time) (*contact, *apiError) {
	ct := c.byID[id]
	if ct != nil && ct.pollOpen && now.Sub(ct.lastPoll) >= c.cfg.PollExpiry {
		ct.pollOpen = false // expired for good
	}
	if ct == nil || !ct.pollOpen {
		return nil, notFound("task contact", id)
	}
	ct.lastPoll = now
	return ct, nil
}

// poll returns the Task poll document of contact id.
func (c *Contacts) poll(id string) ([]byte, *apiError) {
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	ct, e := c.pollable(id, now)
	if e != nil {
		return nil, e
	}
	return ct.taskStatus(), nil
}

// checkCancel says whether contact id may be cancelled now: its poll URL
// is alive and it is unread or queued. The router has the last word.
func (c *Contacts) checkCancel(id string) *apiError {
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	ct, e := c.pollable(id, now)
	if e != nil {
		return e
	}
	if ct.status != statusUnread && ct.status != statusQueued {
		return notCancellable(id, ct.status)
	}
	return nil
}

// notCancellable is the 400 of a DELETE after the task left the queue.
func notCancellable(id string, s contactStatus) *apiError {
	what := "The task is " + s.String()
	if s == statusUnread || s == statusQueued {
		what = "The task has left its queue" // the router's word, ahead of the contact's
	}
	return &apiError{status: http.StatusBadRequest, errType: errInvalidState, data: id,
		message: what + ": only an unread or queued task can be cancelled"}
}

// cancelled records a successful cancel: the contact is discarded (unless
// the router has already ended it) and its poll URL closed.
func (c *Contacts) cancelled(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := c.byID[id]
	if ct == nil {
		return
	}
	ct.pollOpen = false
	if !ct.status.final() {
		c.setStatus(ct, statusDiscarded, reasonCancelled, statusUserSystem)
	}
}

// socialContact returns contact id's SocialContact with refURL under
// origin.
func (c *Contacts) socialContact(id, origin string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(c.cfg.Now())
	ct := c.byID[id]
	if ct == nil {
		return nil, false
	}
	return ct.socialContact(origin), true
}

// status returns contact id's status, for tests and logs.
func (c *Contacts) status(id string) (contactStatus, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := c.byID[id]
	if ct == nil {
		return 0, false
	}
	return ct.status, true
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
