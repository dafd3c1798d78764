package rest

import (
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/finesse/task"
	"github.com/finesse-notify/finesse-notify/internal/xmlbody"
)

// The task Dialog calls (FINESSE-REFERENCE §4.3): GET and PUT
// /finesse/api/Dialog/{id} and GET /finesse/api/User/{id}/Media/{mrdId}/Dialogs.
// The dialogs themselves, their actions and the notifications belong to
// finesse/task; this file translates HTTP into the router's calls.

func dialogNotFound(id string) apiError {
	return apiError{status: http.StatusNotFound, errType: errNotFound, message: "Dialog not found", data: id}
}

// mayRead reports whether caller may read a dialog of participant: the
// participant, a supervisor of its team, or an administrator, as for the
// participant's own URIs.
func (a *API) mayRead(caller directory.User, participant string) bool {
	target, ok := a.cfg.Directory.User(participant)
	if !ok {
		return isAdministrator(caller)
	}
	return accessTo(caller, target) != accessNone
}

// dialogBody is the body of PUT /finesse/api/Dialog/{id}:
//
//	<Dialog><requestedAction>ACCEPT</requestedAction><targetMediaAddress>1001</targetMediaAddress></Dialog>
//
// TRANSFER names its target, a script selector or its dialed number, in
// <toAddress> (the element voice transfers use); UPDATE_CALL_DATA carries
// <mediaProperties><callvariables><CallVariable><name/><value/></CallVariable>…,
// as voice's does.
type dialogBody struct {
	RequestedAction    *string `xml:"requestedAction"`
	TargetMediaAddress string  `xml:"targetMediaAddress"`
	ToAddress          string  `xml:"toAddress"`
	CallVariables      []struct {
		Name  string `xml:"name"`
		Value string `xml:"value"`
	} `xml:"mediaProperties>callvariables>CallVariable"`
}

// parseDialogBody turns a <Dialog> body into the router's request
// (without the requestId, which the handler knows). Whether the action
// exists and suits the dialog is the router's call.
func parseDialogBody(body []byte) (task.ActionRequest, *apiError) {
	var b dialogBody
	if err := xmlbody.Decode(body, "Dialog", &b); err != nil {
		return task.ActionRequest{}, malformed("Dialog", err)
	}
	action := trimmed(b.RequestedAction)
	if action == "" {
		return task.ActionRequest{}, &apiError{status: http.StatusBadRequest, errType: errParameterMissing,
			message: "RequestedAction Parameter missing", data: "requestedAction"}
	}
	req := task.ActionRequest{
		Action:             task.Action(action),
		TargetMediaAddress: strings.TrimSpace(b.TargetMediaAddress),
		ToAddress:          strings.TrimSpace(b.ToAddress),
	}
	for _, v := range b.CallVariables {
		req.CallVariables = append(req.CallVariables, task.Variable{Name: strings.TrimSpace(v.Name), Value: v.Value})
	}
	return req, nil
}

// PUT /finesse/api/Dialog/{id} with <Dialog><requestedAction>…</requestedAction>…</Dialog>:
// 202, the outcome arriving on the participant's Dialogs/Media node.
// Only the participant may act on its dialog.
func (a *API) putDialog(w http.ResponseWriter, r *http.Request, caller directory.User) {
	id := r.PathValue("id")
	req, ok := readRequest(w, r, a.cfg.MaxBodyBytes, parseDialogBody)
	if !ok {
		return
	}
	req.RequestID = requestID(r)
	a.answerChange(w, "REST dialog action", req.RequestID, a.cfg.Tasks.Act(caller, id, req),
		zap.String("caller", caller.ID), zap.String("dialog", id), zap.String("action", string(req.Action)))
}

// GET /finesse/api/User/{id}/Media/{mrdId}/Dialogs: the user's open task
// dialogs in the MRD (Finesse's nonvoice Dialog list).
func (a *API) getMediaDialogs(w http.ResponseWriter, r *http.Request, caller directory.User) {
	target, _, ok := a.targetUser(w, r, caller, selfSupervisorAdmin)
	if !ok {
		return
	}
	mrd, ok := a.mrdID(w, r)
	if !ok {
		return
	}
	if m, _ := a.cfg.Directory.MediaRoutingDomain(mrd); m.Voice {
		writeAPIError(w, apiError{status: http.StatusNotFound, errType: errNotFound,
			message: "The voice media routing domain has no task dialogs", data: r.PathValue("mrdId")})
		return
	}
	writeXML(w, a.cfg.Tasks.MediaDialogsXML(target.ID, mrd))
}
