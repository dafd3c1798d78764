package agent

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/pubsub"
)

// Publisher publishes a Finesse Update on a node; *finesse.Notifier is
// one. Publish must not block for long: it is called with a user's lock
// held, so that the user's notifications leave in order.
type Publisher interface {
	Publish(node string, u finesse.Update) (pubsub.Published, error)
}

// Config configures a Registry. Zero fields take the defaults noted.
type Config struct {
	// Directory is the set of users, teams, reason codes and MRDs
	// (required).
	Directory *directory.Directory
	// Publisher receives every notification (required).
	Publisher Publisher
	// Now is the clock of stateChangeTime (default time.Now).
	Now func() time.Time
	// LogoutGrace is how long a user's presence may stay unavailable
	// before the forced logout (default 60 s, as in Finesse).
	LogoutGrace time.Duration
	// Logger receives structured logs (default: none).
	Logger *zap.Logger
	// Registerer receives the metrics (default: none registered).
	Registerer prometheus.Registerer

	// afterFunc starts the grace timers (default time.AfterFunc); tests
	// replace it to fire or stop timers themselves.
	afterFunc func(time.Duration, func()) stopper
}

// DefaultLogoutGrace is Finesse's wait between a desktop's presence going
// unavailable and the forced logout (FINESSE-REFERENCE §5.1).
const DefaultLogoutGrace = 60 * time.Second

// stopper is the part of *time.Timer the registry uses.
type stopper interface{ Stop() bool }

// The sign-in options of a non-voice MRD (FINESSE-REFERENCE §4.3); ACCEPT
// and CLOSE are the defaults.
const (
	InterruptActionAccept      = "ACCEPT"
	InterruptActionIgnore      = "IGNORE"
	DialogLogoutActionClose    = "CLOSE"
	DialogLogoutActionTransfer = "TRANSFER"
)

// maxDialogLimitCap is Finesse's ceiling on maxDialogLimit.
const maxDialogLimitCap = 10

// maxExtensionLen bounds an extension; the directory's are shorter.
const maxExtensionLen = 32

// Registry holds every directory user's agent state. It is safe for
// concurrent use: each user has its own lock, held while a change is
// applied and its notifications are published.
type Registry struct {
	dir       *directory.Directory
	pub       Publisher
	now       func() time.Time
	grace     time.Duration
	log       *zap.Logger
	metrics   *metrics
	afterFunc func(time.Duration, func()) stopper

	// users holds every directory user by lower-case id. The map is never
	// changed once stored: a directory reload stores a new one
	// (DirectoryChanged, under reloadMu). Each entry has its own lock.
	users    atomic.Pointer[map[string]*user]
	reloadMu sync.Mutex
	// mrds are the non-voice MRDs, in directory order; every user's media
	// slice is parallel to it.
	mrds []directory.MediaRoutingDomain

	// listeners hear every state change, under the user's lock
	// (AddListener); watchers hear, with no lock held, that a user's
	// routing in an MRD may have changed (WatchMedia). Both are
	// copy-on-write slices, so that reading them takes no lock.
	listeners atomic.Pointer[[]func(Change)]
	watchers  atomic.Pointer[[]func(MediaEvent)]

	closed atomic.Bool
}

// user is one agent's state. Everything below mu is guarded by it.
type user struct {
	// entry is the user's directory entry: replaced whole by a reload,
	// read with info().
	entry atomic.Pointer[directory.User]

	mu            sync.Mutex
	state         State
	reason        *directory.ReasonCode // with NOT_READY or LOGOUT only
	changed       time.Time
	pending       State // "" when none
	pendingReason *directory.ReasonCode
	extension     string
	media         []*media

	// timer is the running forced-logout timer, nil when none. timerGen
	// grows whenever a timer starts or is cancelled, so that a timer that
	// fires after its cancellation can tell and do nothing.
	timer    stopper
	timerGen uint64
}

// media is the user's state in one non-voice MRD.
type media struct {
	mrd directory.MediaRoutingDomain
	// state is the state the MRD shows: chosen, or the state of the
	// open tasks while the agent chose READY (display).
	state State
	// chosen is what the agent (or the system for it) last chose:
	// READY, NOT_READY or LOGOUT.
	chosen State
	// reason goes with a chosen NOT_READY only.
	reason  *directory.ReasonCode
	changed time.Time
	// load counts the agent's open task dialogs in the MRD, as the task
	// router reports them (UpdateTasks).
	load TaskLoad
	// session counts the sign-ins to the MRD, so that the router can
	// tell the tasks of a sign-in that ended from those of a later one.
	session            uint64
	maxDialogLimit     int
	interruptAction    string
	dialogLogoutAction string
	routable           bool
}

// New makes a registry in which every directory user is signed out of
// voice and of every non-voice MRD, since now.
func New(cfg Config) *Registry {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LogoutGrace <= 0 {
		cfg.LogoutGrace = DefaultLogoutGrace
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.afterFunc == nil {
		cfg.afterFunc = func(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }
	}
	r := &Registry{
		dir:       cfg.Directory,
		pub:       cfg.Publisher,
		now:       cfg.Now,
		grace:     cfg.LogoutGrace,
		log:       cfg.Logger,
		metrics:   newMetrics(cfg.Registerer),
		afterFunc: cfg.afterFunc,
	}
	for _, m := range r.dir.MediaRoutingDomains() {
		if !m.Voice {
			r.mrds = append(r.mrds, m)
		}
	}
	users := make(map[string]*user)
	start := r.now()
	for _, info := range r.dir.Users() {
		users[strings.ToLower(info.ID)] = r.newUser(info, start)
	}
	r.users.Store(&users)
	return r
}

// newUser is a user signed out of voice and of every non-voice MRD since
// start.
func (r *Registry) newUser(info directory.User, start time.Time) *user {
	u := &user{state: StateLogout, changed: start, extension: info.Extension}
	u.entry.Store(&info)
	for _, m := range r.mrds {
		u.media = append(u.media, &media{
			mrd:                m,
			state:              StateLogout,
			chosen:             StateLogout,
			changed:            start,
			maxDialogLimit:     m.MaxDialogLimit,
			interruptAction:    InterruptActionAccept,
			dialogLogoutAction: DialogLogoutActionClose,
		})
	}
	return u
}

// info is the user's directory entry.
func (u *user) info() directory.User { return *u.entry.Load() }

// DirectoryChanged takes a directory reload into account: users new to
// the directory get an agent state (signed out), users no longer in it
// lose theirs (and their forced-logout timer), and the others keep their
// state under their new entry (name, team, role). Media routing domains
// are read at start only. The app calls it after the directory's contents
// were swapped.
func (r *Registry) DirectoryChanged(_, current *directory.Directory) {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	old := *r.users.Load()
	next := make(map[string]*user, len(old))
	start := r.now()
	for _, info := range current.Users() {
		key := strings.ToLower(info.ID)
		u, kept := old[key]
		if !kept {
			next[key] = r.newUser(info, start)
			continue
		}
		u.entry.Store(&info)
		next[key] = u
	}
	r.users.Store(&next)
	for key, u := range old {
		if _, kept := next[key]; !kept {
			u.mu.Lock()
			u.cancelTimer()
			u.mu.Unlock()
		}
	}
}

// Close stops every forced-logout timer; none starts afterwards.
func (r *Registry) Close() {
	r.closed.Store(true)
	for _, u := range *r.users.Load() {
		u.mu.Lock()
		u.cancelTimer()
		u.mu.Unlock()
	}
}

func (r *Registry) user(id string) *user { return (*r.users.Load())[strings.ToLower(id)] }

// State returns the user's voice state and the id of its reason code (0
// when none); ok is false for an unknown user.
func (r *Registry) State(id string) (state State, reasonCodeID int, ok bool) {
	u := r.user(id)
	if u == nil {
		return "", 0, false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.reason != nil {
		reasonCodeID = u.reason.ID
	}
	return u.state, reasonCodeID, true
}

// MediaState returns the user's state in the non-voice MRD mrdID; ok is
// false for an unknown user or MRD.
func (r *Registry) MediaState(id string, mrdID int) (state State, ok bool) {
	u := r.user(id)
	if u == nil {
		return "", false
	}
	m := u.mediaOf(mrdID)
	if m == nil {
		return "", false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return m.state, true
}

func (u *user) mediaOf(mrdID int) *media {
	for _, m := range u.media {
		if m.mrd.ID == mrdID {
			return m
		}
	}
	return nil
}

// StateRequest is a PUT on /finesse/api/User/<id>.
type StateRequest struct {
	State State
	// ReasonCodeID is the reason code object's id; it counts as given
	// when HasReasonCode is set or it is not 0.
	ReasonCodeID  int
	HasReasonCode bool
	// Extension is required with LOGIN.
	Extension string
	// RequestID is copied into every notification the request causes.
	RequestID string
	Actor     Actor
}

// userReasonCategories says which voice states take a reason code.
var userReasonCategories = map[State]directory.Category{
	StateNotReady: directory.CategoryNotReady,
	StateLogout:   directory.CategoryLogout,
}

// mediaReasonCategories says which media states take a reason code.
var mediaReasonCategories = map[State]directory.Category{
	StateNotReady: directory.CategoryNotReady,
}

// SetState validates the request, applies it and publishes the user's
// notifications: the full <user> on /finesse/api/User/<id> and the summary
// <user> on /finesse/api/Team/<teamId>/Users, both with the request's
// requestId. A refused request (unknown user: 404; unknown or unsettable
// state, bad extension or reason code: 400 Invalid Input; LOGIN without
// extension: 400 Parameter Missing; illegal transition: 400 Invalid State)
// changes nothing and publishes nothing.
func (r *Registry) SetState(id string, req StateRequest) *Error {
	u := r.user(id)
	if u == nil {
		return notFound(id, "User "+id+" not found")
	}
	if u.info().Role == directory.RoleAdministrator {
		return invalidInput("state", "User "+u.info().ID+" is an administrator and has no agent state")
	}
	if err := checkRequested(userMachine, req.State, req.Actor); err != nil {
		return err
	}
	if req.State == StateLogin {
		if req.Extension == "" {
			return parameterMissing("extension", "Extension Parameter missing")
		}
		if !validExtension(req.Extension) {
			return invalidInput("extension", "Invalid extension "+req.Extension)
		}
	}
	given := req.HasReasonCode || req.ReasonCodeID != 0
	reason, err := r.requestedReason(u.info(), req.State, req.ReasonCodeID, given, req.Actor, userReasonCategories)
	if err != nil {
		return err
	}

	u.mu.Lock()
	defer u.mu.Unlock()
	eff, v := userMachine.check(req.Actor, u.state, req.State)
	if v != legal {
		return invalidState("state", fmt.Sprintf("Invalid state transition from %s to %s", u.state, req.State))
	}
	switch eff {
	case keep:
		// A second LOGIN: the state stays; the notification confirms it.
	case pend:
		u.pending, u.pendingReason = req.State, reason
	case enter:
		target := req.State
		if target == StateLogin {
			target = StateNotReady
			u.extension = req.Extension
		}
		if req.Actor == ActorSystem && u.pending != "" && endsCall(u.state, target) {
			resolved, used := resolvePending(u.pending, target)
			if used {
				reason = u.pendingReason
			}
			target = resolved
		}
		u.enter(target, reason, r.now())
		r.metrics.stateChanges.WithLabelValues(string(target)).Inc()
		r.emitVoice(u)
	}
	r.publishUser(u, req.RequestID)
	return nil
}

// enter moves the agent into state, with reason when the state takes one.
// A pending state survives only while the agent stays in a call.
func (u *user) enter(state State, reason *directory.ReasonCode, now time.Time) {
	if _, ok := userReasonCategories[state]; !ok {
		reason = nil
	}
	u.state, u.reason, u.changed = state, reason, now
	if state != StateTalking && state != StateHold {
		u.pending, u.pendingReason = "", nil
	}
}

// checkRequested refuses a missing, unknown or (for actor) unsettable
// state, whatever the current state is.
func checkRequested(m *machine, s State, actor Actor) *Error {
	if s == "" {
		return parameterMissing("state", "State Parameter missing")
	}
	if _, v := m.check(actor, "", s); v == unknownState {
		return invalidInput("state", "Invalid state "+string(s))
	} else if v == notSettable {
		return invalidInput("state", fmt.Sprintf("State %s cannot be set by %s", s, actor))
	}
	return nil
}

// requestedReason checks the reason code of a request for state. A
// supervisor or administrator may not give one, and their NOT_READY or
// LOGOUT carries the system code 999 of its category, as Finesse records
// it. A user's code must be offered to its team; the system may use any
// code, system codes included. cats says which states take a code.
func (r *Registry) requestedReason(info directory.User, state State, id int, given bool, actor Actor,
	cats map[State]directory.Category) (*directory.ReasonCode, *Error) {
	cat, takesCode := cats[state]
	if actor == ActorSupervisor || actor == ActorAdministrator {
		if given {
			return nil, invalidInput("reasonCodeId", "A reason code cannot be given when changing another user's state")
		}
		if !takesCode {
			return nil, nil
		}
		if rc, ok := r.dir.ReasonCodeByCode(cat, supervisorReasonCode); ok {
			return &rc, nil
		}
		return nil, nil
	}
	if !given {
		return nil, nil
	}
	if !takesCode {
		return nil, invalidInput("reasonCodeId", "State "+string(state)+" takes no reason code")
	}
	rc, ok := r.dir.ReasonCode(id)
	if !ok {
		return nil, invalidInput("reasonCodeId", "Invalid reason code id "+strconv.Itoa(id))
	}
	if rc.Category != cat {
		return nil, invalidInput("reasonCodeId", fmt.Sprintf("Reason code %d is not a %s reason code", id, cat))
	}
	if actor != ActorSystem && !rc.OfferedTo(info.TeamID) {
		return nil, invalidInput("reasonCodeId", fmt.Sprintf("Reason code %d is not available to user %s", id, info.ID))
	}
	return &rc, nil
}

// System reason codes (looked up by code in the directory).
const (
	// supervisorReasonCode marks a state a supervisor set (UCCE).
	supervisorReasonCode = 999
	// forcedLogoutReasonCode marks Finesse's forced logout.
	forcedLogoutReasonCode = 255
)

// validExtension accepts what the directory accepts: a dialable number,
// digits with an optional leading +, bounded.
func validExtension(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" || len(s) > maxExtensionLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// MediaRequest is a PUT on /finesse/api/User/<id>/Media/<mrdId>.
type MediaRequest struct {
	State State
	// MaxDialogLimit, InterruptAction and DialogLogoutAction are LOGIN's
	// options; zero values take the MRD's limit, ACCEPT and CLOSE.
	MaxDialogLimit     int
	InterruptAction    string
	DialogLogoutAction string
	// ReasonCodeID is a NOT_READY reason code; it counts as given when
	// HasReasonCode is set or it is not 0.
	ReasonCodeID  int
	HasReasonCode bool
	RequestID     string
	// Actor is ActorSelf (the zero value) for REST requests: users act
	// only on their own media. ActorSystem drives the task states.
	Actor Actor
}

// SetMedia validates the request, applies it and publishes <Media> on
// /finesse/api/User/<id>/Media with source /finesse/api/User/<id>/Media/<mrdId>.
// LOGIN lands in NOT_READY and makes the agent routable. Signing in again
// keeps the state, takes the new sign-in options, publishes Finesse's
// E_ARM_STAT_AGENT_ALREADY_LOGGED_IN error notification and returns nil.
// Unknown user or MRD (the voice MRD has no Media object): 404; the other
// refusals as for SetState. A refused request changes nothing and
// publishes nothing.
func (r *Registry) SetMedia(id string, mrdID int, req MediaRequest) *Error {
	u := r.user(id)
	if u == nil {
		return notFound(id, "User "+id+" not found")
	}
	m := u.mediaOf(mrdID)
	if m == nil {
		return notFound(strconv.Itoa(mrdID), "Media "+strconv.Itoa(mrdID)+" not found")
	}
	if err := checkRequested(mediaMachine, req.State, req.Actor); err != nil {
		return err
	}
	var opts signInOptions
	if req.State == StateLogin {
		var err *Error
		if opts, err = checkSignIn(m.mrd, req); err != nil {
			return err
		}
	}
	given := req.HasReasonCode || req.ReasonCodeID != 0
	reason, err := r.requestedReason(u.info(), req.State, req.ReasonCodeID, given, req.Actor, mediaReasonCategories)
	if err != nil {
		return err
	}
	ev, err := r.applyMedia(u, m, req, opts, reason)
	if err != nil {
		return err
	}
	// The watchers (the task router) hear of the change with no lock
	// held, so that they may read the registry back.
	r.notifyWatchers(ev)
	return nil
}

// applyMedia applies a validated media request under the user's lock
// and returns the event the watchers are to hear.
func (r *Registry) applyMedia(u *user, m *media, req MediaRequest, opts signInOptions,
	reason *directory.ReasonCode) (MediaEvent, *Error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	eff, v := mediaMachine.check(req.Actor, m.state, req.State)
	if v != legal {
		return MediaEvent{}, invalidState("state", fmt.Sprintf("Invalid state transition from %s to %s", m.state, req.State))
	}
	if req.Actor == ActorSelf && req.State == StateNotReady && m.load.Offered > 0 {
		// "An agent cannot change to NOT_READY state if the agent has a
		// pending incoming task" (DG125#179).
		return MediaEvent{}, invalidState("state", fmt.Sprintf("Cannot change to NOT_READY in media %d with an offered dialog", m.mrd.ID))
	}
	ev := MediaEvent{UserID: u.info().ID, MRDID: m.mrd.ID}
	switch eff {
	case keep:
		// Finesse refuses the second sign-in but keeps its options, which
		// is how a client restores them after a failover.
		m.setOptions(opts)
		r.publish(finesse.UserMediaNode(u.info().ID), finesse.Update{
			Data:      alreadyLoggedInError(m.mrd.ID),
			Event:     "PUT",
			RequestID: req.RequestID,
			Source:    mediaURI(u.info().ID, m.mrd.ID),
		})
		return ev, nil
	case enter:
		target := req.State
		if target == StateLogin {
			target = StateNotReady
			m.setOptions(opts)
			m.routable = true
			m.session++
		}
		if target == StateLogout {
			ev.SignedOut, ev.Session, ev.DialogLogoutAction = true, m.session, m.dialogLogoutAction
		}
		m.enter(target, reason, r.now())
		r.metrics.mediaStateChanges.WithLabelValues(string(target)).Inc()
		r.emitMedia(u, m)
	}
	r.publishMedia(u, m, req.RequestID)
	return ev, nil
}

// enter moves the agent into state in the MRD. READY, NOT_READY and
// LOGOUT are choices: the MRD then shows the choice, or the state of the
// agent's tasks while it chose READY (display). Any other state is the
// system's and shows as it is.
func (m *media) enter(state State, reason *directory.ReasonCode, now time.Time) {
	if _, ok := mediaReasonCategories[state]; !ok {
		reason = nil
	}
	switch state {
	case StateReady, StateNotReady, StateLogout:
		m.chosen, m.reason = state, reason
		m.state = m.display()
	default:
		m.state = state
	}
	m.changed = now
	if state == StateLogout {
		m.routable = false
	}
}

// display is the state the MRD shows, by the precedence of Cisco's "Agent
// States for Nonvoice Media" (FINESSE-REFERENCE §4.3): LOGOUT, then a
// chosen NOT_READY (whatever the tasks do: the agent asked for it), then,
// for an agent who chose READY, the highest state among its tasks
// (ACTIVE > WORK_READY > PAUSED > RESERVED; an offered or accepted task
// keeps the agent RESERVED, as the CTI server reports until START), and
// READY without tasks.
func (m *media) display() State {
	switch {
	case m.chosen == StateLogout:
		return StateLogout
	case m.chosen == StateNotReady:
		return StateNotReady
	case m.load.Active > 0:
		return StateActive
	case m.load.WrappingUp > 0:
		return StateWorkReady
	case m.load.Paused > 0:
		return StatePaused
	case m.load.Offered+m.load.Accepted > 0:
		return StateReserved
	}
	return StateReady
}

// signInOptions are a media LOGIN's options, validated.
type signInOptions struct {
	maxDialogLimit     int
	interruptAction    string
	dialogLogoutAction string
}

func (m *media) setOptions(o signInOptions) {
	m.maxDialogLimit, m.interruptAction, m.dialogLogoutAction = o.maxDialogLimit, o.interruptAction, o.dialogLogoutAction
}

func checkSignIn(mrd directory.MediaRoutingDomain, req MediaRequest) (signInOptions, *Error) {
	o := signInOptions{
		maxDialogLimit:     req.MaxDialogLimit,
		interruptAction:    req.InterruptAction,
		dialogLogoutAction: req.DialogLogoutAction,
	}
	limit := min(mrd.MaxDialogLimit, maxDialogLimitCap)
	if limit <= 0 {
		limit = maxDialogLimitCap
	}
	switch {
	case o.maxDialogLimit == 0:
		o.maxDialogLimit = limit
	case o.maxDialogLimit < 1 || o.maxDialogLimit > limit:
		return o, invalidInput("maxDialogLimit", fmt.Sprintf("maxDialogLimit must be 1 to %d", limit))
	}
	switch o.interruptAction {
	case "":
		o.interruptAction = InterruptActionAccept
	case InterruptActionAccept, InterruptActionIgnore:
	default:
		return o, invalidInput("interruptAction", "Invalid interruptAction "+o.interruptAction)
	}
	switch o.dialogLogoutAction {
	case "":
		o.dialogLogoutAction = DialogLogoutActionClose
	case DialogLogoutActionClose, DialogLogoutActionTransfer:
	default:
		return o, invalidInput("dialogLogoutAction", "Invalid dialogLogoutAction "+o.dialogLogoutAction)
	}
	return o, nil
}

// publishUser publishes the user's full <user> on its node and its summary
// on its team's node. u.mu is held.
func (r *Registry) publishUser(u *user, requestID string) {
	source := finesse.UserNode(u.info().ID)
	r.publish(source, finesse.Update{
		Data:      r.appendUser(nil, "user", u),
		Event:     "PUT",
		RequestID: requestID,
		Source:    source,
	})
	if _, ok := r.dir.Team(u.info().TeamID); !ok {
		return // an administrator without a team
	}
	r.publish(finesse.TeamUsersNode(u.info().TeamID), finesse.Update{
		Data:      appendTeamUser(nil, "user", u),
		Event:     "PUT",
		RequestID: requestID,
		Source:    source,
	})
}

// publishMedia publishes the user's <Media> of one MRD. u.mu is held.
func (r *Registry) publishMedia(u *user, m *media, requestID string) {
	r.publish(finesse.UserMediaNode(u.info().ID), finesse.Update{
		Data:      appendMedia(nil, u.info().ID, m),
		Event:     "PUT",
		RequestID: requestID,
		Source:    mediaURI(u.info().ID, m.mrd.ID),
	})
}

// publish hands an Update to the Publisher. A failure is logged: the
// change it reports has been made, and the next GET shows it.
func (r *Registry) publish(node string, up finesse.Update) {
	if r.pub == nil {
		return
	}
	if _, err := r.pub.Publish(node, up); err != nil {
		r.log.Warn("publishing an agent notification failed", zap.String("node", node), zap.Error(err))
	}
}
