package rest

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

// maxStatusReason bounds the statusReason a tester may set.
const maxStatusReason = 256

// adminOnly answers 403 to a caller who is not an administrator, as the
// administrator's publish endpoint next door does.
func adminOnly(w http.ResponseWriter, caller directory.User) bool {
	if isAdministrator(caller) {
		return true
	}
	writeAPIError(w, apiError{status: http.StatusForbidden, errType: errForbidden,
		message: "Only an administrator may use the control endpoints", data: caller.ID})
	return false
}

// noControl is the answer of the endpoints that need the XMPP side when
// the API was made without one.
var noControl = apiError{status: http.StatusNotImplemented, errType: errNotImplemented,
	message: "No XMPP control is configured"}

// POST /finesse-notify/control/system?status=IN_SERVICE|OUT_OF_SERVICE[&reason=…]
//
// Answers 200 with the SystemInfo now in force. While OUT_OF_SERVICE,
// Finesse's REST calls answer 503 SERVER_OUT_OF_SERVICE.
func (a *API) controlSystem(w http.ResponseWriter, r *http.Request, caller directory.User) {
	if !adminOnly(w, caller) {
		return
	}
	q := r.URL.Query()
	status, reason := q.Get("status"), q.Get("reason")
	var inService bool
	switch status {
	case "":
		writeAPIError(w, apiError{status: http.StatusBadRequest, errType: errParameterMissing,
			message: "Status Parameter missing", data: "status"})
		return
	case StatusInService:
		inService = true
	case StatusOutOfService:
	default:
		writeAPIError(w, apiError{status: http.StatusBadRequest, errType: errInvalidInput,
			message: "status must be IN_SERVICE or OUT_OF_SERVICE", data: status})
		return
	}
	if len(reason) > maxStatusReason || !utf8.ValidString(reason) {
		writeAPIError(w, apiError{status: http.StatusBadRequest, errType: errInvalidInput,
			message: "reason must be UTF-8 text of at most " + strconv.Itoa(maxStatusReason) + " bytes"})
		return
	}
	changed, err := a.setStatus(inService, reason, requestID(r))
	if err != nil {
		// The status did change; only its notification failed.
		a.log.Error("SystemInfo notification failed", zap.String("status", status), zap.Error(err))
		writeAPIError(w, apiError{status: http.StatusInternalServerError, errType: errGeneric,
			message: "The status changed, but its SystemInfo notification could not be published",
			data:    err.Error()})
		return
	}
	a.log.Info("system status set", zap.String("by", caller.ID), zap.String("status", status),
		zap.String("reason", reason), zap.Bool("changed", changed))
	writeXML(w, a.systemInfoXML())
}

// POST /finesse-notify/control/finesse-presence?available=true|false
//
// Answers 200 <finessePresence available='…'/>.
func (a *API) controlPresence(w http.ResponseWriter, r *http.Request, caller directory.User) {
	if !adminOnly(w, caller) {
		return
	}
	if a.cfg.Control == nil {
		writeAPIError(w, noControl)
		return
	}
	raw := r.URL.Query().Get("available")
	var available bool
	switch raw {
	case "":
		writeAPIError(w, apiError{status: http.StatusBadRequest, errType: errParameterMissing,
			message: "Available Parameter missing", data: "available"})
		return
	case "true":
		available = true
	case "false":
	default:
		writeAPIError(w, apiError{status: http.StatusBadRequest, errType: errInvalidInput,
			message: "available must be true or false", data: raw})
		return
	}
	a.cfg.Control.SetServiceAvailable(available)
	a.log.Info("finesse presence set", zap.String("by", caller.ID), zap.Bool("available", available))
	w.Header().Set("Content-Type", xmlContentType)
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "<finessePresence available='"+strconv.FormatBool(available)+"'/>")
}

// POST /finesse-notify/control/users/{id}/end-sessions
//
// Answers 200 <sessionsEnded user='…' count='N'/>, 404 for a user the
// directory does not know.
func (a *API) controlEndSessions(w http.ResponseWriter, r *http.Request, caller directory.User) {
	if !adminOnly(w, caller) {
		return
	}
	if a.cfg.Control == nil {
		writeAPIError(w, noControl)
		return
	}
	id := r.PathValue("id")
	user, ok := a.cfg.Directory.User(id)
	if !ok {
		writeAPIError(w, userNotFound(id))
		return
	}
	n := a.cfg.Control.EndSessions(user.ID)
	a.log.Info("XMPP sessions ended", zap.String("by", caller.ID), zap.String("user", user.ID), zap.Int("sessions", n))
	w.Header().Set("Content-Type", xmlContentType)
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "<sessionsEnded user='"+xmlText(user.ID)+"' count='"+strconv.Itoa(n)+"'/>")
}

// ErrNoDirectoryFile is what Config.ReloadDirectory returns when the
// service runs on the embedded directory: there is no file to read again.
var ErrNoDirectoryFile = errors.New("no --directory file: the embedded default directory cannot be reloaded")

// POST /finesse-notify/control/directory/reload
//
// Reads the --directory file again, as SIGHUP does. Answers 200
// <directoryReloaded users='…' teams='…' added='…' removed='…'/>; 409 when
// the server runs on the embedded directory; 400 with the file's problems
// when it is invalid (the directory in use is then unchanged).
func (a *API) controlReload(w http.ResponseWriter, _ *http.Request, caller directory.User) {
	if !adminOnly(w, caller) {
		return
	}
	if a.cfg.ReloadDirectory == nil {
		writeAPIError(w, apiError{status: http.StatusNotImplemented, errType: errNotImplemented,
			message: "No directory reload is configured"})
		return
	}
	change, err := a.cfg.ReloadDirectory()
	switch {
	case errors.Is(err, ErrNoDirectoryFile):
		writeAPIError(w, apiError{status: http.StatusConflict, errType: errInvalidState,
			message: err.Error()})
		return
	case err != nil:
		writeAPIError(w, apiError{status: http.StatusBadRequest, errType: errInvalidInput,
			message: "The directory file is invalid; the directory in use is unchanged", data: err.Error()})
		return
	}
	a.log.Info("directory reloaded by an administrator", zap.String("by", caller.ID))
	w.Header().Set("Content-Type", xmlContentType)
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "<directoryReloaded users='"+strconv.Itoa(change.Users)+"' teams='"+strconv.Itoa(change.Teams)+
		"' added='"+strconv.Itoa(change.Added)+"' removed='"+strconv.Itoa(change.Removed)+"'/>")
}
