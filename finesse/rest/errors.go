package rest

import (
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/finesse-notify/finesse-notify/finesse"
	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/server"
)

// The ErrorType values of Finesse's synchronous errors used here
// (FINESSE-REFERENCE §4).
const (
	errAuthorizationFailure = "Authorization Failure"
	errInvalidUser          = "Invalid Authorization User Specified"
	errInvalidInput         = "Invalid Input"
	errParameterMissing     = "Parameter Missing"
	errNotFound             = "Not Found"
	errMethodNotAllowed     = "Method Not Allowed"
	errServiceUnavailable   = "Service Unavailable"
	errNotImplemented       = "Not Implemented"
	errGeneric              = "Generic Error"
	errForbidden            = "Forbidden"
	errInvalidState         = "Invalid State"
)

// outOfServiceMessage is the ErrorMessage of every REST call answered
// while the system is OUT_OF_SERVICE (DG125#7).
const outOfServiceMessage = "SERVER_OUT_OF_SERVICE"

// apiError is one synchronous error answer: the status and the fields of
// <ApiErrors><ApiError>.
type apiError struct {
	status                 int
	errType, message, data string
}

// writeAPIError answers with Finesse's synchronous error body:
//
//	<ApiErrors><ApiError><ErrorType/><ErrorMessage/><ErrorData/></ApiError></ApiErrors>
func writeAPIError(w http.ResponseWriter, e apiError) {
	h := w.Header()
	h.Set("Content-Type", xmlContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	io.WriteString(w, "<ApiErrors><ApiError><ErrorType>"+xmlText(e.errType)+
		"</ErrorType><ErrorMessage>"+xmlText(e.message)+
		"</ErrorMessage><ErrorData>"+xmlText(e.data)+
		"</ErrorData></ApiError></ApiErrors>")
}

// xmlText escapes s as XML character data. What XML 1.0 cannot carry
// (control characters, invalid UTF-8), which a decoded URL path or a
// client's header can hold, becomes U+FFFD, so the document stays
// well-formed.
func xmlText(s string) string {
	clean := utf8.ValidString(s)
	for _, r := range s {
		if !finesse.IsXMLChar(r) {
			clean = false
			break
		}
	}
	if !clean {
		s = strings.Map(func(r rune) rune {
			if finesse.IsXMLChar(r) {
				return r
			}
			return utf8.RuneError
		}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	}
	return server.EscapeText(s)
}

// fromAgent turns the agent model's refusal into the synchronous answer.
// A status outside 4xx/5xx would be a bug in the model; it is answered as
// a 500 rather than passed on as a success.
func fromAgent(e *agent.Error) apiError {
	status := e.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	errType := e.Type
	if errType == "" {
		errType = errGeneric
	}
	return apiError{status: status, errType: errType, message: e.Message, data: e.Data}
}
