package rest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

// Who may use a user's URIs. Finesse's rule is the user itself, a
// supervisor of its team, or an administrator (DG125#7), with two
// narrower cases it documents: only the user or an administrator reads
// the user's reason codes (DG125#52), and only the user acts on its own
// Media (DG125#167).
var (
	selfSupervisorAdmin = []access{accessSelf, accessSupervisor, accessAdministrator}
	selfAdmin           = []access{accessSelf, accessAdministrator}
	selfOnly            = []access{accessSelf}
)

// targetUser resolves the {id} of a User URI and checks that caller may
// use it with one of allowed. Otherwise it answers: 401 Invalid
// Authorization User Specified, or 404 to an administrator for an id the
// directory does not know (others get the 401, so that they cannot probe
// for ids).
func (a *API) targetUser(w http.ResponseWriter, r *http.Request, caller directory.User, allowed []access) (directory.User, access, bool) {
	id := r.PathValue("id")
	target, known := a.cfg.Directory.User(id)
	if !known {
		if isAdministrator(caller) {
			writeAPIError(w, userNotFound(id))
		} else {
			writeAPIError(w, invalidUser(id))
		}
		return directory.User{}, accessNone, false
	}
	acc := accessTo(caller, target)
	if !slices.Contains(allowed, acc) {
		writeAPIError(w, invalidUser(id))
		return directory.User{}, accessNone, false
	}
	return target, acc, true
}

func userNotFound(id string) apiError {
	return apiError{status: http.StatusNotFound, errType: errNotFound, message: "User not found", data: id}
}

// GET /finesse/api/User/{id}
func (a *API) getUser(w http.ResponseWriter, r *http.Request, caller directory.User) {
	target, _, ok := a.targetUser(w, r, caller, selfSupervisorAdmin)
	if !ok {
		return
	}
	doc, ok := a.cfg.Agents.UserXML(target.ID)
	if !ok {
		writeAPIError(w, userNotFound(target.ID))
		return
	}
	writeXML(w, doc)
}

// actors maps how the caller relates to the user to who the model sees
// acting: supervisors get their restricted set of changes and the system
// reason code 999.
var actors = map[access]agent.Actor{
	accessSelf:          agent.ActorSelf,
	accessSupervisor:    agent.ActorSupervisor,
	accessAdministrator: agent.ActorAdministrator,
}

// PUT /finesse/api/User/{id} with <User><state>…</state>…</User>
func (a *API) putUser(w http.ResponseWriter, r *http.Request, caller directory.User) {
	target, acc, ok := a.targetUser(w, r, caller, selfSupervisorAdmin)
	if !ok {
		return
	}
	req, ok := readRequest(w, r, a.cfg.MaxBodyBytes, parseUserBody)
	if !ok {
		return
	}
	req.RequestID = requestID(r)
	req.Actor = actors[acc]
	a.answerChange(w, "REST user state", req.RequestID, a.cfg.Agents.SetState(target.ID, req),
		zap.String("caller", caller.ID), zap.String("user", target.ID), zap.String("state", string(req.State)))
}

// GET /finesse/api/User/{id}/ReasonCodes?category=NOT_READY|LOGOUT
func (a *API) getReasonCodes(w http.ResponseWriter, r *http.Request, caller directory.User) {
	target, _, ok := a.targetUser(w, r, caller, selfAdmin)
	if !ok {
		return
	}
	raw := r.URL.Query().Get("category")
	var category directory.Category
	switch strings.ToUpper(raw) {
	case "":
		writeAPIError(w, apiError{status: http.StatusBadRequest, errType: errParameterMissing,
			message: "Category Parameter missing", data: "category"})
		return
	case string(directory.CategoryNotReady):
		category = directory.CategoryNotReady
	case string(directory.CategoryLogout):
		category = directory.CategoryLogout
	default:
		writeAPIError(w, apiError{status: http.StatusBadRequest, errType: errInvalidInput,
			message: "category must be NOT_READY or LOGOUT", data: raw})
		return
	}
	doc, ok := a.cfg.Agents.ReasonCodesXML(target.ID, category)
	if !ok {
		writeAPIError(w, userNotFound(target.ID))
		return
	}
	writeXML(w, doc)
}

// GET /finesse/api/User/{id}/Media
func (a *API) getMediaList(w http.ResponseWriter, r *http.Request, caller directory.User) {
	target, _, ok := a.targetUser(w, r, caller, selfSupervisorAdmin)
	if !ok {
		return
	}
	doc, ok := a.cfg.Agents.MediaListXML(target.ID)
	if !ok {
		writeAPIError(w, userNotFound(target.ID))
		return
	}
	writeXML(w, doc)
}

// mrdID resolves the {mrdId} of a Media URI against the directory,
// answering 404 for anything that is not one of its MRDs.
func (a *API) mrdID(w http.ResponseWriter, r *http.Request) (int, bool) {
	raw := r.PathValue("mrdId")
	id, ok := parseID(raw)
	if ok {
		_, ok = a.cfg.Directory.MediaRoutingDomain(id)
	}
	if !ok {
		writeAPIError(w, apiError{status: http.StatusNotFound, errType: errNotFound,
			message: "Media routing domain not found", data: raw})
		return 0, false
	}
	return id, true
}

// GET /finesse/api/User/{id}/Media/{mrdId}
func (a *API) getMedia(w http.ResponseWriter, r *http.Request, caller directory.User) {
	target, _, ok := a.targetUser(w, r, caller, selfSupervisorAdmin)
	if !ok {
		return
	}
	mrd, ok := a.mrdID(w, r)
	if !ok {
		return
	}
	doc, ok := a.cfg.Agents.MediaXML(target.ID, mrd)
	if !ok {
		writeAPIError(w, apiError{status: http.StatusNotFound, errType: errNotFound,
			message: "Media not found", data: strconv.Itoa(mrd)})
		return
	}
	writeXML(w, doc)
}

// PUT /finesse/api/User/{id}/Media/{mrdId} with <Media><state>…</state>…</Media>
func (a *API) putMedia(w http.ResponseWriter, r *http.Request, caller directory.User) {
	target, _, ok := a.targetUser(w, r, caller, selfOnly)
	if !ok {
		return
	}
	mrd, ok := a.mrdID(w, r)
	if !ok {
		return
	}
	req, ok := readRequest(w, r, a.cfg.MaxBodyBytes, parseMediaBody)
	if !ok {
		return
	}
	req.RequestID = requestID(r)
	a.answerChange(w, "REST media state", req.RequestID, a.cfg.Agents.SetMedia(target.ID, mrd, req),
		zap.String("user", target.ID), zap.Int("mrd", mrd), zap.String("state", string(req.State)))
}

// GET /finesse/api/User/{id}/Dialogs: the voice dialogs (none), or with
// ?nonVoice=true the task dialogs too (the list the JavaScript library's
// includeNonVoice asks for).
func (a *API) getDialogs(w http.ResponseWriter, r *http.Request, caller directory.User) {
	target, _, ok := a.targetUser(w, r, caller, selfSupervisorAdmin)
	if !ok {
		return
	}
	if a.cfg.Tasks != nil && strings.EqualFold(r.URL.Query().Get("nonVoice"), "true") {
		writeXML(w, a.cfg.Tasks.UserDialogsXML(target.ID))
		return
	}
	doc, ok := a.cfg.Agents.DialogsXML(target.ID)
	if !ok {
		writeAPIError(w, userNotFound(target.ID))
		return
	}
	writeXML(w, doc)
}

// GET /finesse/api/Team/{id}: for the team's supervisors and
// administrators. Others get 401, whether the team exists or not.
func (a *API) getTeam(w http.ResponseWriter, r *http.Request, caller directory.User) {
	raw := r.PathValue("id")
	id, valid := parseID(raw)
	if !isAdministrator(caller) && (!valid || !caller.Supervises(id)) {
		writeAPIError(w, apiError{status: http.StatusUnauthorized, errType: errInvalidUser,
			message: "The authenticated user does not supervise this team", data: raw})
		return
	}
	var doc []byte
	if valid {
		doc, valid = a.cfg.Agents.TeamXML(id)
	}
	if !valid {
		writeAPIError(w, apiError{status: http.StatusNotFound, errType: errNotFound, message: "Team not found", data: raw})
		return
	}
	writeXML(w, doc)
}

// GET /finesse/api/Dialog/{id}: an open task dialog, for its
// participant, a supervisor of the participant's team, or an
// administrator (DG125#80's 404 for any other id).
func (a *API) getDialog(w http.ResponseWriter, r *http.Request, caller directory.User) {
	id := r.PathValue("id")
	if a.cfg.Tasks == nil {
		writeAPIError(w, dialogNotFound(id))
		return
	}
	doc, participant, ok := a.cfg.Tasks.DialogXML(id)
	if !ok {
		writeAPIError(w, dialogNotFound(id))
		return
	}
	if !a.mayRead(caller, participant) {
		writeAPIError(w, apiError{status: http.StatusUnauthorized, errType: errInvalidUser,
			message: "The authenticated user may not read this dialog", data: caller.ID})
		return
	}
	writeXML(w, doc)
}

// parseID reads a positive decimal id written without sign or leading
// zeros, so that one object has one URI.
func parseID(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || strconv.Itoa(n) != s {
		return 0, false
	}
	return n, true
}
