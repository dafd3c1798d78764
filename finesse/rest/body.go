package rest

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/internal/xmlbody"
)

// userBody is the body of PUT /finesse/api/User/{id}:
//
//	<User><state>LOGIN</state><extension>3001</extension><reasonCodeId>3</reasonCodeId></User>
//
// Other children Finesse accepts (activeDeviceId, mobile agent settings)
// are ignored.
type userBody struct {
	State        *string `xml:"state"`
	Extension    string  `xml:"extension"`
	ReasonCodeID *string `xml:"reasonCodeId"`
}

// mediaBody is the body of PUT /finesse/api/User/{id}/Media/{mrdId}:
//
//	<Media><state>LOGIN</state><maxDialogLimit>3</maxDialogLimit>
//	  <interruptAction>ACCEPT</interruptAction><dialogLogoutAction>CLOSE</dialogLogoutAction></Media>
type mediaBody struct {
	State              *string `xml:"state"`
	MaxDialogLimit     *string `xml:"maxDialogLimit"`
	InterruptAction    string  `xml:"interruptAction"`
	DialogLogoutAction string  `xml:"dialogLogoutAction"`
	ReasonCodeID       *string `xml:"reasonCodeId"`
}

// readBody reads the request body up to limit bytes. The Content-Type is
// not checked: Finesse's clients send application/xml, curl users often
// forget it, and the body is parsed as XML whatever it claims to be. A longer body is a
// 413; the limit is checked against Content-Length first so that an
// honest client is refused before it sends anything.
// readRequest reads the bounded body and parses it; on failure it has
// answered with the ApiError and reports false.
func readRequest[T any](w http.ResponseWriter, r *http.Request, limit int64, parse func([]byte) (T, *apiError)) (T, bool) {
	var zero T
	body, e := readBody(w, r, limit)
	if e == nil {
		var req T
		if req, e = parse(body); e == nil {
			return req, true
		}
	}
	writeAPIError(w, *e)
	return zero, false
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	body, err := xmlbody.Read(w, r, limit)
	switch {
	case errors.Is(err, xmlbody.ErrTooLarge):
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, errType: errInvalidInput,
			message: "The request body exceeds the limit", data: strconv.FormatInt(limit, 10)}
	case err != nil:
		return nil, &apiError{status: http.StatusBadRequest, errType: errInvalidInput,
			message: "The request body could not be read"}
	}
	return body, nil
}

// malformed is the 400 for a body that is not the expected document.
func malformed(root string, err error) *apiError {
	return &apiError{status: http.StatusBadRequest, errType: errInvalidInput,
		message: "The request body is not a well-formed <" + root + "> document", data: err.Error()}
}

// missingState is Finesse's answer to a state change without a state
// (DEV user—change-agent-state).
var missingState = &apiError{status: http.StatusBadRequest, errType: errParameterMissing,
	message: "State Parameter missing", data: "state"}

// parseUserBody turns a <User> body into the agent request (without the
// actor and request id, which the handler knows).
func parseUserBody(body []byte) (agent.StateRequest, *apiError) {
	var b userBody
	if err := xmlbody.Decode(body, "User", &b); err != nil {
		return agent.StateRequest{}, malformed("User", err)
	}
	state := trimmed(b.State)
	if state == "" {
		return agent.StateRequest{}, missingState
	}
	req := agent.StateRequest{State: agent.State(state), Extension: strings.TrimSpace(b.Extension)}
	id, has, e := reasonCode(b.ReasonCodeID)
	if e != nil {
		return agent.StateRequest{}, e
	}
	req.ReasonCodeID, req.HasReasonCode = id, has
	return req, nil
}

// parseMediaBody turns a <Media> body into the agent request.
func parseMediaBody(body []byte) (agent.MediaRequest, *apiError) {
	var b mediaBody
	if err := xmlbody.Decode(body, "Media", &b); err != nil {
		return agent.MediaRequest{}, malformed("Media", err)
	}
	state := trimmed(b.State)
	if state == "" {
		return agent.MediaRequest{}, missingState
	}
	req := agent.MediaRequest{
		State:              agent.State(state),
		InterruptAction:    strings.TrimSpace(b.InterruptAction),
		DialogLogoutAction: strings.TrimSpace(b.DialogLogoutAction),
	}
	// An absent or empty maxDialogLimit is 0: the model applies the MRD's
	// own limit or refuses, as the state requires.
	if s := trimmed(b.MaxDialogLimit); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return agent.MediaRequest{}, &apiError{status: http.StatusBadRequest, errType: errInvalidInput,
				message: "maxDialogLimit is not a number", data: s}
		}
		req.MaxDialogLimit = n
	}
	id, has, e := reasonCode(b.ReasonCodeID)
	if e != nil {
		return agent.MediaRequest{}, e
	}
	req.ReasonCodeID, req.HasReasonCode = id, has
	return req, nil
}

// reasonCode reads an optional <reasonCodeId>: absent or empty is no
// reason code (desktops send the element empty), anything else must be a
// number. Whether the code exists and fits the state is the model's call.
func reasonCode(v *string) (id int, has bool, e *apiError) {
	s := trimmed(v)
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, false, &apiError{status: http.StatusBadRequest, errType: errInvalidInput,
			message: "reasonCodeId is not a number", data: s}
	}
	return n, true, nil
}

func trimmed(p *string) string {
	if p == nil {
		return ""
	}
	return strings.TrimSpace(*p)
}
