package agent

import (
	"fmt"
	"net/http"
)

// Error is a refused request in Finesse's ApiError terms. Status is the
// HTTP status for a synchronous answer (400, 404, …); Type, Message and
// Data fill ErrorType, ErrorMessage and ErrorData.
type Error struct {
	Status  int
	Type    string
	Message string
	Data    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("agent: %d %s: %s (%s)", e.Status, e.Type, e.Message, e.Data)
}

// Finesse's ErrorType values for the refusals of this package.
const (
	ErrorTypeNotFound         = "Not Found"
	ErrorTypeInvalidInput     = "Invalid Input"
	ErrorTypeInvalidState     = "Invalid State"
	ErrorTypeParameterMissing = "Parameter Missing"
)

func notFound(data, message string) *Error {
	return &Error{Status: http.StatusNotFound, Type: ErrorTypeNotFound, Message: message, Data: data}
}

func invalidInput(data, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: ErrorTypeInvalidInput, Message: message, Data: data}
}

func invalidState(data, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: ErrorTypeInvalidState, Message: message, Data: data}
}

func parameterMissing(data, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: ErrorTypeParameterMissing, Message: message, Data: data}
}
