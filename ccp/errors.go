package ccp

import (
	"net/http"
	"strconv"
)

// CCP answers a refused request with an error document in the shape
// Cisco documents for its CCBU REST APIs, whose error types are CCP's own
// (com.cisco.ccbu.ccp.API.CcpAPIErrorType):
//
//	<APIErrors><APIError><ErrorType>invalidInput.invalidFieldLength</ErrorType>
//	  <ErrorData>name</ErrorData><ErrorMessage>…</ErrorMessage>
//	  <ErrorDetail><min>1</min><max>100</max></ErrorDetail></APIError></APIErrors>
//
// ErrorType says what is wrong, ErrorData which field (or which id), and
// ErrorDetail carries the bounds of a length or count rule.
const (
	errRequiredField = "invalidInput.requiredInputFieldMissing"
	errFieldLength   = "invalidInput.invalidFieldLength"
	errInvalidChar   = "invalidInput.invalidCharacter"
	errOutOfRange    = "invalidInput.outOfRange"
	errInvalidValue  = "invalidInput.invalidValue"
	errDuplicate     = "invalidInput.duplicateField"
	errXMLSyntax     = "processing.xmlSyntaxError"
	errBodyTooLarge  = "invalidInput.requestTooLarge"
	errUnknownFeed   = "invalidInput.invalidFeed"
	errNotFound      = "notFound"
	errInvalidState  = "invalidState"
	errForbidden     = "authorization.forbidden"
	errMethod        = "methodNotAllowed"
	errUnavailable   = "serviceUnavailable"
	errInternal      = "internalServerError"
)

const xmlContentType = "application/xml"

// apiError is one refusal: the HTTP status and the fields of <APIError>.
type apiError struct {
	status  int
	errType string
	data    string
	message string
	// bounds, when set, is rendered as <ErrorDetail><min/><max/>.
	bounds *bounds
}

// bounds are the limits of a length or count rule.
type bounds struct{ min, max int }

func (e *apiError) Error() string { return e.errType + " " + e.data + ": " + e.message }

// render returns the <APIErrors> document of e.
func (e *apiError) render() []byte {
	var d xmlDoc
	d.open("APIErrors")
	d.open("APIError")
	d.elem("ErrorType", e.errType)
	d.elem("ErrorData", e.data)
	d.elem("ErrorMessage", e.message)
	if e.bounds != nil {
		d.open("ErrorDetail")
		d.elemInt("min", int64(e.bounds.min))
		d.elemInt("max", int64(e.bounds.max))
		d.close("ErrorDetail")
	}
	d.close("APIError")
	d.close("APIErrors")
	return d.b
}

// writeError answers with e's status and error document.
func writeError(w http.ResponseWriter, e *apiError) {
	h := w.Header()
	h.Set("Content-Type", xmlContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	w.Write(e.render())
}

// writeXML answers 200 with an XML document.
func writeXML(w http.ResponseWriter, doc []byte) {
	w.Header().Set("Content-Type", xmlContentType)
	w.WriteHeader(http.StatusOK)
	w.Write(doc)
}

func badRequest(errType, field, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, errType: errType, data: field, message: message}
}

// tooLong refuses a field whose length is outside min..max characters.
func tooLong(field string, min, max int) *apiError {
	e := badRequest(errFieldLength, field, field+" is longer than "+strconv.Itoa(max)+" characters")
	e.bounds = &bounds{min: min, max: max}
	return e
}

func notFound(what, id string) *apiError {
	return &apiError{status: http.StatusNotFound, errType: errNotFound, data: id, message: "No such " + what}
}
