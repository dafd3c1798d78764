package task

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse"
	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

// DialogState is a non-voice dialog's state (and its participant's).
type DialogState string

// The states of a task dialog (Cisco's "State (Dialog) Parameter
// Values", nonvoice).
const (
	StateOffered    DialogState = "OFFERED"
	StateAccepted   DialogState = "ACCEPTED"
	StateActive     DialogState = "ACTIVE"
	StatePaused     DialogState = "PAUSED"
	StateWrappingUp DialogState = "WRAPPING_UP"
	StateClosed     DialogState = "CLOSED"
)

// Action is a requestedAction of PUT /finesse/api/Dialog/<id>.
type Action string

// The actions on a task dialog.
const (
	ActionAccept         Action = "ACCEPT"
	ActionStart          Action = "START"
	ActionPause          Action = "PAUSE"
	ActionResume         Action = "RESUME"
	ActionWrapUp         Action = "WRAP_UP"
	ActionClose          Action = "CLOSE"
	ActionTransfer       Action = "TRANSFER"
	ActionUpdateCallData Action = "UPDATE_CALL_DATA"
)

// actions lists, per state, the participant's actions, in the order the
// seed's captures show them.
var actions = map[DialogState][]Action{
	StateOffered:    {ActionAccept},
	StateAccepted:   {ActionUpdateCallData, ActionTransfer, ActionStart, ActionClose},
	StateActive:     {ActionPause, ActionUpdateCallData, ActionWrapUp, ActionTransfer, ActionClose},
	StatePaused:     {ActionResume, ActionWrapUp, ActionTransfer, ActionClose},
	StateWrappingUp: {ActionClose},
}

// next is where an action that changes the state leads.
var next = map[Action]DialogState{
	ActionAccept: StateAccepted,
	ActionStart:  StateActive,
	ActionPause:  StatePaused,
	ActionResume: StateActive,
	ActionWrapUp: StateWrappingUp,
}

func holds(s DialogState, a Action) bool {
	for _, x := range actions[s] {
		if x == a {
			return true
		}
	}
	return false
}

// Disposition codes of a closed task dialog (Cisco's "Disposition Code
// Parameter Values for Nonvoice Tasks"). An agent's CLOSE uses the code
// the seed's capture shows, CD_NORMAL_END_DIALOG.
const (
	DispositionNormal              = "CD_NORMAL_END_DIALOG"
	DispositionTransfer            = "CD_TASK_TRANSFER"
	DispositionTransferredOnLogout = "CD_TASK_TRANSFERRED_ON_AGENT_LOGOUT"
	DispositionLoggedOut           = "CD_AGENT_LOGGED_OUT_DURING_DIALOG"
	DispositionRingNoAnswer        = "CD_RING_NO_ANSWER"
)

// dialog is an open task dialog.
type dialog struct {
	id      string // day_callid_seq
	seqNum  int    // its seq
	contact *contact
	slot    *slot
	state   DialogState
	// start is when the task was offered; changed when the state last
	// changed.
	start, changed time.Time
	// session is the agent's sign-in to the MRD the dialog belongs to.
	session uint64
	// timer is the offer timer while OFFERED; timerGen tells a timer
	// that fires after the offer was accepted or withdrawn.
	timer    stopper
	timerGen uint64
}

// ActionRequest is a PUT on /finesse/api/Dialog/<id>.
type ActionRequest struct {
	Action Action
	// TargetMediaAddress, when given, must be the participant's: the
	// agent's id (the dialog's mediaAddress) or extension.
	TargetMediaAddress string
	// ToAddress is TRANSFER's target: a script selector, or the dialed
	// number of one.
	ToAddress string
	// CallVariables are UPDATE_CALL_DATA's, by Finesse name
	// (callVariable1..callVariable10, user.<ecc>).
	CallVariables []Variable
	RequestID     string
}

// The ErrorType values of the dialog refusals that finesse/agent does
// not have (Cisco's "Dialog API Errors").
const (
	ErrorTypeInvalidUser        = "Invalid Authorization User Specified"
	ErrorTypeInvalidDestination = "Invalid Destination"
)

// Act applies caller's request to dialog id. Synchronous refusals change
// nothing and publish nothing: 404 Not Found for a dialog that is not
// open; 401 Invalid Authorization User Specified when caller is not its
// participant; 400 Parameter Missing or Invalid Input for a bad request;
// 400 Invalid Destination for a TRANSFER to no known script selector. An
// action the participant does not hold in the dialog's state is accepted
// (nil) and answered by an asynchronous Generic Error notification with
// the requestId, as Finesse does.
func (r *Router) Act(caller directory.User, id string, req ActionRequest) *agent.Error {
	target, vars, err := r.checkRequest(req)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.dialogs[id]
	if d == nil {
		return &agent.Error{Status: http.StatusNotFound, Type: agent.ErrorTypeNotFound, Message: "Dialog not found", Data: id}
	}
	if !strings.EqualFold(d.slot.userID, caller.ID) {
		return &agent.Error{Status: http.StatusUnauthorized, Type: ErrorTypeInvalidUser,
			Message: "The authenticated user is not a participant of this dialog", Data: caller.ID}
	}
	if a := req.TargetMediaAddress; a != "" && a != d.slot.userID && (caller.Extension == "" || a != caller.Extension) {
		return &agent.Error{Status: http.StatusBadRequest, Type: agent.ErrorTypeInvalidInput,
			Message: "targetMediaAddress is not the participant's", Data: a}
	}
	if !holds(d.state, req.Action) {
		r.log.Debug("dialog action not held", zap.String("dialog", id), zap.String("action", string(req.Action)),
			zap.String("state", string(d.state)))
		r.publish(d.slot.userID, finesse.Update{
			Data:      genericError(d.slot.queue.id),
			Event:     "PUT",
			RequestID: req.RequestID,
			Source:    dialogURI(d.id),
		})
		return nil
	}
	switch req.Action {
	case ActionClose:
		c := r.endDialog(d, DispositionNormal, req.RequestID, false)
		r.obs.ContactHandled(c.id)
		r.retire(c)
		r.resync(d.slot)
	case ActionTransfer:
		c := r.endDialog(d, DispositionTransfer, req.RequestID, false)
		r.resync(d.slot)
		c.seq++
		r.enqueue(c, target, false)
	case ActionUpdateCallData:
		d.contact.vars = mergeVariables(d.contact.vars, vars)
		r.publishDialog(d, req.RequestID)
	default:
		if d.state == StateOffered {
			r.stopOfferTimer(d)
		}
		d.state, d.changed = next[req.Action], r.now()
		r.updateTasks(d.slot, req.RequestID, false)
		r.publishDialog(d, req.RequestID)
	}
	return nil
}

// checkRequest validates what can be validated without the dialog: the
// action's name and parameters, TRANSFER's target, UPDATE_CALL_DATA's
// variables.
func (r *Router) checkRequest(req ActionRequest) (directory.ScriptSelector, []Variable, *agent.Error) {
	var none directory.ScriptSelector
	switch req.Action {
	case "":
		return none, nil, &agent.Error{Status: http.StatusBadRequest, Type: agent.ErrorTypeParameterMissing,
			Message: "requestedAction Parameter missing", Data: "requestedAction"}
	case ActionAccept, ActionStart, ActionPause, ActionResume, ActionWrapUp, ActionClose:
		return none, nil, nil
	case ActionTransfer:
		if req.ToAddress == "" {
			return none, nil, &agent.Error{Status: http.StatusBadRequest, Type: agent.ErrorTypeParameterMissing,
				Message: "toAddress Parameter missing", Data: "toAddress"}
		}
		sel, ok := r.findSelector(req.ToAddress)
		if !ok {
			return none, nil, &agent.Error{Status: http.StatusBadRequest, Type: ErrorTypeInvalidDestination,
				Message: "No script selector " + req.ToAddress, Data: req.ToAddress}
		}
		return sel, nil, nil
	case ActionUpdateCallData:
		if len(req.CallVariables) == 0 {
			return none, nil, &agent.Error{Status: http.StatusBadRequest, Type: agent.ErrorTypeParameterMissing,
				Message: "callvariables Parameter missing", Data: "callvariables"}
		}
		for _, v := range req.CallVariables {
			if !validCallVariable(v) {
				return none, nil, &agent.Error{Status: http.StatusBadRequest, Type: agent.ErrorTypeInvalidInput,
					Message: "Invalid call variable", Data: v.Name}
			}
		}
		return none, req.CallVariables, nil
	}
	return none, nil, &agent.Error{Status: http.StatusBadRequest, Type: agent.ErrorTypeInvalidInput,
		Message: "Invalid requestedAction " + string(req.Action), Data: string(req.Action)}
}

// findSelector finds a TRANSFER target by script selector name, then by
// dialed number (Finesse's JavaScript API passes either).
func (r *Router) findSelector(target string) (directory.ScriptSelector, bool) {
	if sel, ok := r.dir.ScriptSelector(target); ok {
		return sel, true
	}
	for _, sel := range r.dir.ScriptSelectors() {
		if sel.DialedNumber == target {
			return sel, true
		}
	}
	return directory.ScriptSelector{}, false
}

// validCallVariable accepts callVariable1..callVariable10 and
// user.<ecc>, within the bounds of a submitted task's.
func validCallVariable(v Variable) bool {
	if len(v.Value) > maxVariableValue {
		return false
	}
	if n, ok := strings.CutPrefix(v.Name, "callVariable"); ok {
		i, err := strconv.Atoi(n)
		return err == nil && i >= 1 && i <= 10 && strconv.Itoa(i) == n
	}
	return strings.HasPrefix(v.Name, "user.") && len(v.Name) > len("user.") && len(v.Name) <= maxVariableName
}

// mergeVariables sets vars into have: a name it has takes the new value,
// a new call variable takes its place in number order, a new ECC
// variable goes last. The ECC variables stay within maxECCVariables; the
// ones beyond are dropped.
func mergeVariables(have, vars []Variable) []Variable {
	out := append([]Variable(nil), have...)
	for _, v := range vars {
		if j := indexVariable(out, v.Name); j >= 0 {
			out[j].Value = v.Value
			continue
		}
		if n, ok := strings.CutPrefix(v.Name, "callVariable"); ok {
			num, _ := strconv.Atoi(n)
			at := 0
			for at < len(out) && strings.HasPrefix(out[at].Name, "callVariable") &&
				cvNumber(out[at].Name) < num {
				at++
			}
			out = append(out[:at], append([]Variable{v}, out[at:]...)...)
			continue
		}
		if eccCount(out) < maxECCVariables {
			out = append(out, v)
		}
	}
	return out
}

func cvNumber(name string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(name, "callVariable"))
	return n
}

func eccCount(vs []Variable) int {
	n := 0
	for _, v := range vs {
		if strings.HasPrefix(v.Name, "user.") {
			n++
		}
	}
	return n
}

// endDialog closes d: the agent's load drops (and, for a timed-out offer,
// the agent goes NOT_READY), the DELETE is published with disposition,
// and the agent hop of the journey ends. It returns the contact, which
// the caller retires or routes again.
func (r *Router) endDialog(d *dialog, disposition, requestID string, notReady bool) *contact {
	r.stopOfferTimer(d)
	now := r.now()
	d.slot.removeDialog(d)
	delete(r.dialogs, d.id)
	d.state, d.changed = StateClosed, now
	r.updateTasks(d.slot, requestID, notReady)
	r.publishDialogs(d, "DELETE", disposition, requestID)
	c := d.contact
	c.dialog = nil
	endHop(c, now)
	r.metrics.closed.WithLabelValues(disposition).Inc()
	return c
}

// updateTasks reports s's open dialogs to the agent registry, which
// publishes the Media change they cause.
func (r *Router) updateTasks(s *slot, requestID string, notReady bool) {
	r.agents.UpdateTasks(s.userID, s.queue.id, agent.TaskUpdate{Load: s.load(), NotReady: notReady, RequestID: requestID})
}

// startOfferTimer starts d's offer timeout.
func (r *Router) startOfferTimer(d *dialog) {
	d.timerGen++
	gen := d.timerGen
	d.timer = r.afterFunc(r.offerTimeout, func() { r.offerTimedOut(d, gen) })
}

func (r *Router) stopOfferTimer(d *dialog) {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.timerGen++ // a timer already firing finds itself stale
}

// offerTimedOut withdraws an offer the agent did not accept in time
// (RONA): the dialog closes with CD_RING_NO_ANSWER, the agent goes
// NOT_READY in the MRD with the RONA reason code, and the task goes back
// to the head of its queue.
func (r *Router) offerTimedOut(d *dialog, gen uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || d.timerGen != gen || r.dialogs[d.id] != d || d.state != StateOffered {
		return
	}
	d.timer = nil
	r.metrics.offerTimeouts.Inc()
	r.log.Info("task offer timed out: routed again, agent made NOT_READY", zap.String("dialog", d.id),
		zap.String("user", d.slot.userID), zap.Duration("timeout", r.offerTimeout))
	c := r.endDialog(d, DispositionRingNoAnswer, "", true)
	r.resync(d.slot)
	c.seq++
	r.enqueue(c, c.selector, true)
}

// publishDialog publishes d's change: a PUT of <dialog> with the dialog's
// URI as source.
func (r *Router) publishDialog(d *dialog, requestID string) {
	r.publish(d.slot.userID, finesse.Update{
		Data:      appendDialog(make([]byte, 0, dialogSizeHint), "dialog", d, ""),
		Event:     "PUT",
		RequestID: requestID,
		Source:    dialogURI(d.id),
	})
}

// publishDialogs publishes d's addition (POST) or removal (DELETE, with a
// disposition) to the user's collection of the MRD's dialogs:
// <dialogs><Dialog>…</Dialog></dialogs>.
func (r *Router) publishDialogs(d *dialog, event, disposition, requestID string) {
	b := append(make([]byte, 0, dialogSizeHint), "<dialogs>"...)
	b = appendDialog(b, "Dialog", d, disposition)
	b = append(b, "</dialogs>"...)
	r.publish(d.slot.userID, finesse.Update{
		Data:      b,
		Event:     event,
		RequestID: requestID,
		Source:    mediaDialogsURI(d.slot.userID, d.slot.queue.id),
	})
}

// publish hands an Update for user's Dialogs/Media node to the
// Publisher. A failure is logged: the change has been made, and a GET
// shows it.
func (r *Router) publish(userID string, u finesse.Update) {
	node := finesse.UserDialogsMediaNode(userID)
	if _, err := r.pub.Publish(node, u); err != nil {
		r.log.Warn("publishing a task dialog notification failed", zap.String("node", node), zap.Error(err))
	}
}

// dialogSizeHint is a rendered dialog's usual size (the seed's are about
// 1,100 bytes), so that rendering one allocates once.
const dialogSizeHint = 1536

func dialogURI(id string) string { return "/finesse/api/Dialog/" + id }

func mediaDialogsURI(userID string, mrdID int) string {
	return finesse.UserMediaNode(userID) + "/" + strconv.Itoa(mrdID) + "/Dialogs"
}

// Finesse's asynchronous error for an action the participant does not
// hold (DG125#109: "Attempt to PUT a Dialog object using an action that
// is not allowed … Generic Error"). The code and constant are the CTI
// server's answer to a task message out of sequence.
const (
	genericErrorType    = "Generic Error"
	genericErrorData    = "19"
	genericErrorMessage = "E_ARM_STAT_INVALID_MESSAGE_SEQUENCE"
)

// genericError is the <apiErrors> data of that error, in the shape of
// Finesse's Media and Dialogs/Media asynchronous errors.
func genericError(mrdID int) []byte {
	return finesse.MediaAPIError(mrdID, genericErrorData, genericErrorMessage, genericErrorType)
}

// DialogXML renders GET /finesse/api/Dialog/<id>: <Dialog>…</Dialog>, and
// returns the participant's user id, for the caller's authorisation. ok
// is false for a dialog that is not open.
func (r *Router) DialogXML(id string) (doc []byte, participant string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.dialogs[id]
	if d == nil {
		return nil, "", false
	}
	return appendDialog(nil, "Dialog", d, ""), d.slot.userID, true
}

// MediaDialogsXML renders GET /finesse/api/User/<id>/Media/<mrdId>/Dialogs:
// the user's open task dialogs in the MRD, <Dialogs><Dialog>…</Dialog>…</Dialogs>
// in offer order (<Dialogs/> when none).
func (r *Router) MediaDialogsXML(userID string, mrdID int) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ds []*dialog
	if s := r.slots[slotKey{user: strings.ToLower(userID), mrd: mrdID}]; s != nil {
		ds = s.dialogs
	}
	return appendDialogList(nil, ds)
}

// UserDialogsXML renders the user's open task dialogs of every MRD, in
// directory order of the MRDs and offer order within each:
// <Dialogs>…</Dialogs> (<Dialogs/> when none).
func (r *Router) UserDialogsXML(userID string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ds []*dialog
	for _, m := range r.dir.MediaRoutingDomains() {
		if s := r.slots[slotKey{user: strings.ToLower(userID), mrd: m.ID}]; s != nil {
			ds = append(ds, s.dialogs...)
		}
	}
	return appendDialogList(nil, ds)
}

func appendDialogList(dst []byte, ds []*dialog) []byte {
	if len(ds) == 0 {
		return append(dst, "<Dialogs/>"...)
	}
	dst = append(dst, "<Dialogs>"...)
	for _, d := range ds {
		dst = appendDialog(dst, "Dialog", d, "")
	}
	return append(dst, "</Dialogs>"...)
}

// String names a dialog in logs and test failures.
func (d *dialog) String() string { return fmt.Sprintf("%s(%s, %s)", d.id, d.slot.userID, d.state) }
