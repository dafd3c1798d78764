package iproc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

// Commands.
const (
	cmdGetServiceDescriptor = "getServiceDescriptor"
	cmdPrepareSession       = "prepareSession"
	cmdGetCapabilities      = "getCapabilities"
	cmdCallJourney          = "report.calljourney"
	cmdTeamStatusBegin      = "report.teamstatus.begin"
	cmdTeamStatusEnd        = "report.teamstatus.end"
)

// Events.
const (
	evServiceDescriptor   = "service.descriptor"
	evSessionDestroyed    = "session.destroyed"
	evTeamAdded           = "report.teamstatus.teamadded"
	evTeamChanged         = "report.teamstatus.teamchanged"
	evTeamRemoved         = "report.teamstatus.teamremoved"
	evMemberAdded         = "report.teamstatus.memberadded"
	evMemberRemoved       = "report.teamstatus.memberremoved"
	evMemberStatusChanged = "report.teamstatus.memberstatuschanged"
)

// The resource type of the UCCX report server (the reports).
const uccxReportingResource = "com.openmethods.iserver.processor.reporting.uccx"

// Results.
const (
	resultSuccess = "success"
	resultFailure = "failure"
	resultConfirm = "confirm"
)

// Failure codes: a small stable set, documented in the README.
const (
	codeInvalidJSON        = "invalid_json"
	codeBinaryFrame        = "binary_frame"
	codeFrameTooLarge      = "frame_too_large"
	codeMissingField       = "missing_field"
	codeInvalidField       = "invalid_field"
	codeUnknownCommand     = "unknown_command"
	codeNoSession          = "no_session"
	codeSessionExists      = "session_exists"
	codeInvalidCredentials = "invalid_credentials"
	codeUnknownCall        = "unknown_call"
	codeUnknownAgent       = "unknown_agent"
	codeNotInTeam          = "not_in_team"
	codeForbidden          = "forbidden"
	codeNoStream           = "no_stream"
	codeTooManyStreams     = "too_many_streams"
)

// failure is a response's failure object. Context never carries a stack
// trace here: it names the field, the limit or the position concerned.
type failure struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Context string `json:"context"`
}

func failf(code, context, format string, args ...any) *failure {
	return &failure{Code: code, Message: fmt.Sprintf(format, args...), Context: context}
}

// resource is prepareSession's session resource.
type resource struct {
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

// response is the answer to one request.
type response struct {
	Command  string          `json:"command"`
	Result   string          `json:"result"`
	Resource *resource       `json:"resource,omitempty"`
	Data     any             `json:"data,omitempty"`
	Message  string          `json:"message,omitempty"`
	Failure  *failure        `json:"failure,omitempty"`
	Original json.RawMessage `json:"original,omitempty"`
}

// event is a message the service sends unasked.
type event struct {
	Name string `json:"name"`
	Data any    `json:"data"`
}

// emptyObject is the data of a success that has nothing to say: {}.
var emptyObject = struct{}{}

// request is one parsed request: the command and its data, undecoded.
type request struct {
	Command string
	Data    json.RawMessage
	// Original is the request as received, for the answer's original.
	Original json.RawMessage
}

// parseRequest parses one frame. The failure's original is set when the
// frame is JSON, whatever its shape.
func parseRequest(frame []byte) (request, *response) {
	if !utf8.Valid(frame) {
		// Echoed, it would make a text frame of invalid UTF-8, which a
		// browser answers by failing the connection.
		return request{}, failureResponse("", nil, failf(codeInvalidJSON, "", "the frame is not valid UTF-8"))
	}
	var raw struct {
		Command json.RawMessage `json:"command"`
		Data    json.RawMessage `json:"data"`
	}
	err := json.Unmarshal(frame, &raw)
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return request{}, failureResponse("", nil, failf(codeInvalidJSON, "offset "+strconv.FormatInt(syntax.Offset, 10),
			"the frame is not JSON: %v", err))
	case err != nil:
		if !json.Valid(frame) {
			return request{}, failureResponse("", nil, failf(codeInvalidJSON, "", "the frame is not JSON: %v", err))
		}
		return request{}, failureResponse("", frame, failf(codeInvalidJSON, "",
			`a request is a JSON object: {"command": ..., "data": {...}}`))
	}
	req := request{Data: raw.Data, Original: frame}
	if isNull(raw.Command) {
		return req, failureResponse("", frame, failf(codeMissingField, "command", "the request has no command"))
	}
	if err := json.Unmarshal(raw.Command, &req.Command); err != nil {
		return req, failureResponse("", frame, failf(codeInvalidField, "command", "the command must be a string"))
	}
	return req, nil
}

// isNull reports whether a raw value is absent or null.
func isNull(v json.RawMessage) bool {
	return len(v) == 0 || bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// decodeData decodes a request's data into v, a pointer to a struct whose
// pointer fields are checked for presence afterwards. A missing data
// object is a missing_field failure, a value of the wrong type an
// invalid_field failure naming it.
func decodeData(data json.RawMessage, v any) *failure {
	if isNull(data) {
		return failf(codeMissingField, "data", "the request has no data object")
	}
	if err := json.Unmarshal(data, v); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			field := "data"
			if typ.Field != "" {
				field += "." + typ.Field
			}
			return failf(codeInvalidField, field, "%s must be a JSON %s, not %s", field, jsonKind(typ.Type.Kind().String()), typ.Value)
		}
		return failf(codeInvalidField, "data", "the data cannot be read: %v", err)
	}
	return nil
}

// jsonKind names a Go kind as JSON does.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	}
	return "number"
}

// requireString checks that a decoded string field is present and not
// empty.
func requireString(field string, v *string) *failure {
	if v == nil || *v == "" {
		return failf(codeMissingField, field, "%s is required", field)
	}
	return nil
}

func successResponse(command string, data any) *response {
	if data == nil {
		data = emptyObject
	}
	return &response{Command: command, Result: resultSuccess, Data: data}
}

func failureResponse(command string, original json.RawMessage, f *failure) *response {
	return &response{Command: command, Result: resultFailure, Failure: f, Original: original}
}

// encode renders v as JSON, leaving <, > and & as they are: the output is
// read by programs, not embedded in HTML.
func encode(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Every value encoded here is built of strings, numbers, booleans
		// and raw messages already checked as valid JSON.
		panic(fmt.Sprintf("iproc: encoding %T: %v", v, err))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// member is a team member in a report event.
type member struct {
	MemberID   string `json:"memberId"`
	MemberType string `json:"memberType"`
	MemberName string `json:"memberName"`
	Status     string `json:"status"`
	Reason     string `json:"reason"`
}

// removedMember is a member in memberremoved: only its id.
type removedMember struct {
	MemberID string `json:"memberId"`
}

// team is a report event's team.
type team struct {
	TeamID   string `json:"teamId"`
	TeamName string `json:"teamName"`
	Members  any    `json:"members,omitempty"`
}

func teamOf(t directory.Team, members any) team {
	return team{TeamID: strconv.Itoa(t.ID), TeamName: t.Name, Members: members}
}

// isMember reports whether u belongs in its team's report: agents and
// supervisors of a team. Administrators have no agent state.
func isMember(u directory.User) bool {
	return u.TeamID != 0 && u.Role != directory.RoleAdministrator
}

// memberType is the report's member type of a user. The directory has no
// team leads.
func memberType(u directory.User) string {
	if u.Role == directory.RoleSupervisor {
		return "Supervisor"
	}
	return "Agent"
}

// memberName is the user's name, "First Last", or the login name or id
// when the directory gives none.
func memberName(u directory.User) string {
	switch {
	case u.FirstName != "" && u.LastName != "":
		return u.FirstName + " " + u.LastName
	case u.FirstName != "" || u.LastName != "":
		return u.FirstName + u.LastName
	case u.LoginName != "":
		return u.LoginName
	}
	return u.ID
}

// Report statuses. ready, not_ready and ACW are the specification's;
// talking and reserved extend it for the states it does not name.
const (
	statusReady    = "ready"
	statusNotReady = "not_ready"
	statusACW      = "ACW"
	statusTalking  = "talking"
	statusReserved = "reserved"
)

// reportStatus maps a Finesse voice state to a report status. A state not
// known (UNKNOWN, or a user the agent registry does not have) is
// not_ready: the agent takes no calls.
func reportStatus(s agent.State) string {
	switch s {
	case agent.StateReady:
		return statusReady
	case agent.StateWork, agent.StateWorkReady:
		return statusACW
	case agent.StateTalking, agent.StateHold:
		return statusTalking
	case agent.StateReserved, agent.StateReservedOutbound, agent.StateReservedOutboundPreview:
		return statusReserved
	}
	return statusNotReady
}

// reportReason is the report's reason: the reason code's number, "" when
// there is none.
func reportReason(rc *directory.ReasonCode) string {
	if rc == nil {
		return ""
	}
	return strconv.Itoa(rc.Code)
}

// formatDuration is a journey step's duration as HH:MM:SS, whole seconds
// (hours go past 24).
func formatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}
