package server

import (
	"strings"

	"github.com/beevik/etree"
)

// Stream error conditions (RFC 6120 §4.9.3) used by this server.
const (
	CondBadFormat            = "bad-format"
	CondBadNamespacePrefix   = "bad-namespace-prefix"
	CondConflict             = "conflict"
	CondConnectionTimeout    = "connection-timeout"
	CondHostUnknown          = "host-unknown"
	CondInternalServerError  = "internal-server-error"
	CondInvalidFrom          = "invalid-from"
	CondInvalidNamespace     = "invalid-namespace"
	CondInvalidXML           = "invalid-xml"
	CondNotAuthorized        = "not-authorized"
	CondNotWellFormed        = "not-well-formed"
	CondPolicyViolation      = "policy-violation"
	CondResourceConstraint   = "resource-constraint"
	CondRestrictedXML        = "restricted-xml"
	CondSystemShutdown       = "system-shutdown"
	CondUnsupportedEncoding  = "unsupported-encoding"
	CondUnsupportedStanza    = "unsupported-stanza-type"
	CondUnsupportedVersion   = "unsupported-version"
	CondUndefinedStreamError = "undefined-condition"
)

// StreamError is an RFC 6120 stream error. Sending one ends the stream.
type StreamError struct {
	Condition string
	Text      string
}

func (e *StreamError) Error() string {
	if e.Text == "" {
		return "stream error " + e.Condition
	}
	return "stream error " + e.Condition + ": " + e.Text
}

// Render returns the <stream:error/> element. It declares the stream prefix
// itself so that the same bytes are valid inside a TCP stream, as a WebSocket
// frame and as a child of a BOSH body.
func (e *StreamError) Render() []byte {
	var b strings.Builder
	b.WriteString(`<stream:error xmlns:stream='` + NSStream + `'><`)
	b.WriteString(e.Condition)
	b.WriteString(` xmlns='` + NSStreamErrors + `'/>`)
	if e.Text != "" {
		b.WriteString(`<text xmlns='` + NSStreamErrors + `' xml:lang='en'>`)
		b.WriteString(escapeText(e.Text))
		b.WriteString(`</text>`)
	}
	b.WriteString(`</stream:error>`)
	return []byte(b.String())
}

// Stanza error types (RFC 6120 §8.3.2).
const (
	ErrTypeAuth     = "auth"
	ErrTypeCancel   = "cancel"
	ErrTypeContinue = "continue"
	ErrTypeModify   = "modify"
	ErrTypeWait     = "wait"
)

// StanzaError is an RFC 6120 stanza error. Extra, when set, is an
// application-specific condition element placed after the defined one
// (XEP-0060 puts its pubsub#errors conditions there).
type StanzaError struct {
	Type      string
	Condition string
	Text      string
	Extra     *etree.Element
}

func (e *StanzaError) Error() string {
	if e.Text == "" {
		return "stanza error " + e.Condition
	}
	return "stanza error " + e.Condition + ": " + e.Text
}

// Frequently used stanza errors.
var (
	ErrBadRequest            = &StanzaError{Type: ErrTypeModify, Condition: "bad-request"}
	ErrFeatureNotImplemented = &StanzaError{Type: ErrTypeCancel, Condition: "feature-not-implemented"}
	ErrForbidden             = &StanzaError{Type: ErrTypeAuth, Condition: "forbidden"}
	ErrItemNotFound          = &StanzaError{Type: ErrTypeCancel, Condition: "item-not-found"}
	ErrNotAllowed            = &StanzaError{Type: ErrTypeCancel, Condition: "not-allowed"}
	ErrNotAuthorized         = &StanzaError{Type: ErrTypeAuth, Condition: "not-authorized"}
	ErrRemoteServerNotFound  = &StanzaError{Type: ErrTypeCancel, Condition: "remote-server-not-found"}
	ErrResourceConstraint    = &StanzaError{Type: ErrTypeWait, Condition: "resource-constraint"}
	ErrServiceUnavailable    = &StanzaError{Type: ErrTypeCancel, Condition: "service-unavailable"}
	ErrConflict              = &StanzaError{Type: ErrTypeCancel, Condition: "conflict"}
	ErrJIDMalformed          = &StanzaError{Type: ErrTypeModify, Condition: "jid-malformed"}
	ErrInternalServerError   = &StanzaError{Type: ErrTypeCancel, Condition: "internal-server-error"}
	ErrPolicyViolation       = &StanzaError{Type: ErrTypeModify, Condition: "policy-violation"}
)

// element builds the <error/> child.
func (e *StanzaError) element() *etree.Element {
	el := etree.NewElement("error")
	el.CreateAttr("type", e.Type)
	cond := el.CreateElement(e.Condition)
	cond.CreateAttr("xmlns", NSStanzaErrors)
	if e.Text != "" {
		t := el.CreateElement("text")
		t.CreateAttr("xmlns", NSStanzaErrors)
		t.CreateAttr("xml:lang", "en")
		t.SetText(e.Text)
	}
	if e.Extra != nil {
		el.AddChild(e.Extra.Copy())
	}
	return el
}

// ErrorReply builds the error response to stanza (RFC 6120 §8.3.1): same
// name and id, type='error', addresses swapped. from is the address that
// answers, to the one that gets the error.
func ErrorReply(stanza *etree.Element, e *StanzaError, from, to string) *etree.Element {
	reply := etree.NewElement(stanza.Tag)
	reply.CreateAttr("xmlns", NSClient)
	if from != "" {
		reply.CreateAttr("from", from)
	}
	if to != "" {
		reply.CreateAttr("to", to)
	}
	reply.CreateAttr("type", "error")
	if id := stanza.SelectAttrValue("id", ""); id != "" {
		reply.CreateAttr("id", id)
	}
	reply.AddChild(e.element())
	return reply
}

// escapeText escapes s for use as XML character data or in an attribute
// value delimited by either quote.
func escapeText(s string) string {
	if !strings.ContainsAny(s, `<>&'"`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\'':
			b.WriteString("&apos;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// EscapeText is escapeText for other packages that render XML by hand on hot
// paths (the pubsub fan-out renders an event once and splices addresses).
func EscapeText(s string) string { return escapeText(s) }
