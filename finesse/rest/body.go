package rest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
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
	tooLarge := &apiError{status: http.StatusRequestEntityTooLarge, errType: errInvalidInput,
		message: "The request body exceeds the limit", data: strconv.FormatInt(limit, 10)}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, &apiError{status: http.StatusBadRequest, errType: errInvalidInput,
			message: "The request body could not be read"}
	}
	return body, nil
}

// decodeDocument unmarshals body, which must be one well-formed XML
// document whose root element is root, into v. Comments, processing
// instructions and white space may surround the root element, and a
// UTF-8 byte-order mark may open the body; a DTD may not, nor anything
// after the root element. encoding/xml refuses undeclared entities and
// encodings other than UTF-8 by itself.
func decodeDocument(body []byte, root string, v any) error {
	body = bytes.TrimPrefix(body, utf8BOM)
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	start, err := rootElement(d)
	if err != nil {
		return err
	}
	if start.Name.Local != root {
		return fmt.Errorf("the root element is <%s>, not <%s>", start.Name.Local, root)
	}
	if err := d.DecodeElement(v, &start); err != nil {
		return syntaxError(err)
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return syntaxError(err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return errors.New("text after the root element")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return errors.New("content after the root element")
		}
	}
}

// utf8BOM is the byte-order mark some clients (.NET's among them) put
// before a UTF-8 document.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// rootElement reads up to the root element's start tag.
func rootElement(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return xml.StartElement{}, errors.New("no root element")
		}
		if err != nil {
			return xml.StartElement{}, syntaxError(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return xml.StartElement{}, errors.New("text before the root element")
			}
		case xml.Directive:
			return xml.StartElement{}, errors.New("DTDs are not accepted")
		}
	}
}

func syntaxError(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("line %d: %s", se.Line, se.Msg)
	}
	return err
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
	if err := decodeDocument(body, "User", &b); err != nil {
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
	if err := decodeDocument(body, "Media", &b); err != nil {
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
