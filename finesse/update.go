package finesse

import (
	"strings"
	"unicode/utf8"
)

// Update is Finesse's notification document:
//
//	<Update><data>…</data><event>PUT</event><requestId>…</requestId><source>…</source></Update>
//
// with its children in that (alphabetical) order, as real Finesse sends
// them (FINESSE-REFERENCE §3.2).
type Update struct {
	// Data is the inner XML of <data>, already well-formed; it is copied
	// as is. Empty for a deleted object.
	Data []byte
	// Event is POST, PUT or DELETE; it is rendered in upper case.
	Event string
	// RequestID echoes the REST requestId header; empty for unsolicited
	// events, and rendered as <requestId></requestId> then.
	RequestID string
	// Source is the REST URI of the object that changed.
	Source string
}

const (
	updateOpen   = "<Update><data>"
	dataClose    = "</data><event>"
	eventClose   = "</event><requestId>"
	requestClose = "</requestId><source>"
	updateClose  = "</source></Update>"
)

// Render returns the Update document. Event, RequestID and Source are
// escaped as character data; a character XML cannot carry (a control
// character, invalid UTF-8) becomes U+FFFD, so the result is always
// well-formed when Data is. It allocates once.
func (u Update) Render() []byte {
	event := upperEvent(u.Event)
	n := len(updateOpen) + len(u.Data) + len(dataClose) + textLen(event) + len(eventClose) +
		textLen(u.RequestID) + len(requestClose) + textLen(u.Source) + len(updateClose)
	return u.appendTo(make([]byte, 0, n), event)
}

// upperEvent upper-cases an event name; it allocates nothing when the name
// is already in upper case, as it nearly always is.
func upperEvent(e string) string { return strings.ToUpper(e) }

func (u Update) appendTo(dst []byte, event string) []byte {
	dst = append(dst, updateOpen...)
	dst = append(dst, u.Data...)
	dst = append(dst, dataClose...)
	dst = AppendText(dst, event)
	dst = append(dst, eventClose...)
	dst = AppendText(dst, u.RequestID)
	dst = append(dst, requestClose...)
	dst = AppendText(dst, u.Source)
	return append(dst, updateClose...)
}

// NotificationNamespace is the namespace of Finesse's <notification>
// element (XEP-0060's own).
const NotificationNamespace = "http://jabber.org/protocol/pubsub"

const (
	notificationOpen  = "<notification xmlns='" + NotificationNamespace + "'>"
	notificationClose = "</notification>"
)

// NotificationPayload wraps an Update document in Finesse's
// <notification xmlns='http://jabber.org/protocol/pubsub'>, as escaped
// character data rather than child elements: Cisco's clients read the
// element's text and parse that (FINESSE-REFERENCE §3.1). update must be
// XML text (any well-formed document is); its bytes are escaped one for
// one by EscapeNotificationText, so the text a parser reads back is
// exactly update. It allocates once.
func NotificationPayload(update []byte) []byte {
	n := len(notificationOpen) + escapedLen(update) + len(notificationClose)
	out := make([]byte, 0, n)
	out = append(out, notificationOpen...)
	out = EscapeNotificationText(out, update)
	return append(out, notificationClose...)
}

// EscapeNotificationText appends text to dst escaped the way Finesse
// escapes an Update: & → &amp;, < → &lt;, > → &gt;, CR → &#xD; (so that a
// parser's line-end normalisation does not turn CR LF into LF). Quotes
// and every other byte are copied as they are.
func EscapeNotificationText(dst, text []byte) []byte {
	start := 0
	for i := 0; i < len(text); i++ {
		var esc string
		switch text[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		dst = append(dst, text[start:i]...)
		dst = append(dst, esc...)
		start = i + 1
	}
	return append(dst, text[start:]...)
}

// escapedLen is len(EscapeNotificationText(nil, text)).
func escapedLen(text []byte) int {
	n := len(text)
	for _, c := range text {
		switch c {
		case '&', '\r':
			n += 4
		case '<', '>':
			n += 3
		}
	}
	return n
}

// textLen is len(AppendText(nil, s)).
func textLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf {
			switch c {
			case '&':
				n += 5
			case '<', '>':
				n += 4
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\r':
			n += 5
		case !xmlChar(r, size):
			n += utf8.RuneLen(utf8.RuneError)
		default:
			n += size
		}
		i += size
	}
	return n
}

// xmlChar reports whether r, decoded from size bytes, is an XML 1.0 Char.
// Invalid UTF-8 decodes as U+FFFD of size 1 and is refused.
func xmlChar(r rune, size int) bool {
	if r == utf8.RuneError {
		return size > 1
	}
	return IsXMLChar(r)
}

// IsXMLChar reports whether r is an XML 1.0 Char (§2.2): tab, LF, CR,
// U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF.
func IsXMLChar(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r < 0x20:
		return false
	case r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	}
	return r >= 0x10000 && r <= utf8.MaxRune
}
