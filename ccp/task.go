package ccp

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/finesse/task"
	"github.com/finesse-notify/finesse-notify/internal/xmlbody"
)

// submitBody serves POST <family>/feed/{feedId} with a <Task> body.
func (a *API) submitBody(family string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.submit(w, r, family, func() (rawTask, *apiError, string) {
			body, e := a.readBody(w, r)
			if e != nil {
				return rawTask{}, e, resultTooLarge
			}
			raw, e := parseTaskBody(body)
			return raw, e, resultInvalid
		})
	}
}

// submitQuery serves the GET form of submission: the Task's fields as URL
// parameters.
func (a *API) submitQuery(family string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.submit(w, r, family, func() (rawTask, *apiError, string) {
			if int64(len(r.URL.RawQuery)) > a.cfg.MaxBodyBytes {
				return rawTask{}, &apiError{status: http.StatusRequestURITooLong, errType: errBodyTooLarge,
					data: strconv.FormatInt(a.cfg.MaxBodyBytes, 10), message: "The URL parameters exceed the limit"}, resultTooLarge
			}
			raw, e := parseTaskQuery(r.URL.RawQuery)
			return raw, e, resultInvalid
		})
	}
}

// submit makes a contact of a task request to feed {feedId} and hands the
// task to the router: 201 with the contact's poll URL in Location, or the
// request's error document. The contact is published unread before the
// router sees the task, so that its queued or reserved follows it.
func (a *API) submit(w http.ResponseWriter, r *http.Request, family string, read func() (rawTask, *apiError, string)) {
	feed, ok := a.feed(r.PathValue("feedId"))
	if !ok {
		a.refuse(w, resultUnknownFeed, badRequest(errUnknownFeed, r.PathValue("feedId"), "No such task feed"))
		return
	}
	raw, e, result := read()
	if e != nil {
		a.refuse(w, result, e)
		return
	}
	sub, e := validate(raw, a.cfg.MaxVariables)
	if e != nil {
		a.refuse(w, resultInvalid, e)
		return
	}
	base := origin(r)
	id, err := a.cfg.Contacts.create(newContact{sub: sub, campaign: feed.Campaign, feedTags: feed.Tags, origin: base})
	if err != nil {
		a.log.Warn("task refused", zap.Int("feed", feed.ID), zap.Error(err))
		a.refuse(w, resultUnavailable, &apiError{status: http.StatusServiceUnavailable, errType: errUnavailable,
			message: "Too many open task contacts; try again later"})
		return
	}
	t := task.Task{ContactID: id, ScriptSelector: sub.scriptSelector, Variables: sub.variables}
	if err := a.cfg.Router.Submit(t); err != nil {
		// The contact was published unread: it is published discarded.
		a.cfg.Contacts.submitRefused(id)
		a.log.Warn("router refused a task", zap.String("contact", id), zap.Error(err))
		if errors.Is(err, task.ErrInvalidTask) {
			// Validation keeps to the router's bounds; this is the
			// backstop should they part.
			a.refuse(w, resultInvalid, badRequest(errInvalidValue, id, "The task was refused: "+err.Error()))
			return
		}
		a.refuse(w, resultUnavailable, &apiError{status: http.StatusServiceUnavailable, errType: errUnavailable,
			data: id, message: "The task could not be routed: " + err.Error()})
		return
	}
	a.metrics.submissions.WithLabelValues(resultCreated).Inc()
	a.log.Debug("task submitted", zap.String("contact", id), zap.Int("feed", feed.ID),
		zap.String("scriptSelector", sub.scriptSelector))
	w.Header().Set("Location", base+family+"/contact/"+id)
	w.WriteHeader(http.StatusCreated)
}

// refuse counts a refused submission and answers it.
func (a *API) refuse(w http.ResponseWriter, result string, e *apiError) {
	a.metrics.submissions.WithLabelValues(result).Inc()
	writeError(w, e)
}

// feed returns the feed a path's {feedId} names: a decimal number without
// leading zeros, so that each feed has one URL.
func (a *API) feed(s string) (directory.Feed, bool) {
	if s == "" || s[0] == '0' || len(s) > 9 || strings.TrimLeft(s, "0123456789") != "" {
		return directory.Feed{}, false
	}
	id, err := strconv.Atoi(s)
	if err != nil {
		return directory.Feed{}, false
	}
	return a.cfg.Directory.Feed(id)
}

// readBody reads the request body up to MaxBodyBytes; a longer one is a
// 413, refused on its Content-Length before it is sent when it is honest.
func (a *API) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *apiError) {
	limit := a.cfg.MaxBodyBytes
	body, err := xmlbody.Read(w, r, limit)
	switch {
	case errors.Is(err, xmlbody.ErrTooLarge):
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, errType: errBodyTooLarge,
			data: strconv.FormatInt(limit, 10), message: "The request body exceeds the limit"}
	case err != nil:
		return nil, badRequest(errXMLSyntax, "Task", "The request body could not be read")
	}
	return body, nil
}

// contactID is the {id} of a contact URL; ids are hex, matched in upper
// case.
func contactID(r *http.Request) string { return strings.ToUpper(r.PathValue("id")) }

// pollTask serves GET <family>/contact/{id}: the task's status.
func (a *API) pollTask(w http.ResponseWriter, r *http.Request) {
	doc, e := a.cfg.Contacts.poll(contactID(r))
	if e != nil {
		writeError(w, e)
		return
	}
	writeXML(w, doc)
}

// cancelTask serves DELETE <family>/contact/{id}: it cancels a task that
// is unread or queued (200, and the poll URL stops working), refuses one
// an agent has or that is over (400), and knows no other (404). The
// router decides: a task it has just handed to an agent is no longer
// cancellable, whatever the contact said a moment before.
func (a *API) cancelTask(w http.ResponseWriter, r *http.Request) {
	id := contactID(r)
	if e := a.cfg.Contacts.checkCancel(id); e != nil {
		writeError(w, e)
		return
	}
	// Not under the store's lock: the router calls the store back with
	// its own lock held.
	err := a.cfg.Router.Cancel(id)
	switch {
	case err == nil, errors.Is(err, task.ErrUnknownContact):
		// A contact the router never had (it refused it, or never saw it)
		// is cancelled on this side alone.
		a.cfg.Contacts.cancelled(id)
		a.log.Debug("task cancelled", zap.String("contact", id))
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, task.ErrNotQueued):
		status, _ := a.cfg.Contacts.status(id)
		writeError(w, notCancellable(id, status))
	default:
		a.log.Error("router failed to cancel a task", zap.String("contact", id), zap.Error(err))
		writeError(w, &apiError{status: http.StatusInternalServerError, errType: errInternal, data: id,
			message: "The task could not be cancelled"})
	}
}
