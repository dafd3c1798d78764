package task

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/finesse-notify/finesse-notify/finesse"
)

// timeLayout is Finesse's ISO-8601 UTC time with milliseconds.
const timeLayout = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// appendDialog appends a task Dialog under root ("Dialog" in a REST
// answer and in a collection's POST or DELETE, "dialog" in the PUT of one
// dialog), with the children in the order of the seed's captures:
// taskId, id, mediaProperties, mediaType, participants, dispositionCode
// (when closed), state, uri. A task's call variables follow the call key
// fields in mediaProperties; without any there is no <callvariables>, as
// in the captures.
func appendDialog(dst []byte, root string, d *dialog, disposition string) []byte {
	c := d.contact
	sel := c.selector
	day := strconv.Itoa(c.key.day)
	callID := strconv.FormatInt(c.key.callID, 10)
	seq := strconv.Itoa(d.seqNum)

	dst = appendOpen(dst, root)
	dst = append(dst, "<taskId>"...)
	dst = appendElem(dst, "routerCallKeyDay", day)
	dst = appendElem(dst, "routerCallKeyCallID", callID)
	dst = appendElem(dst, "routerCallKeySequenceNum", seq)
	dst = append(dst, "</taskId>"...)
	dst = appendElem(dst, "id", d.id)

	dst = append(dst, "<mediaProperties>"...)
	dst = appendElem(dst, "mediaId", strconv.Itoa(d.slot.queue.id))
	dst = appendElem(dst, "dialedNumber", sel.DialedNumber)
	dst = appendElem(dst, "queueNumber", sel.QueueNumber)
	dst = appendElem(dst, "queueName", sel.QueueName)
	dst = appendElem(dst, "callKeyCallId", callID)
	dst = appendElem(dst, "callKeyPrefix", day)
	dst = appendElem(dst, "callKeySequenceNum", seq)
	if len(c.vars) > 0 {
		dst = append(dst, "<callvariables>"...)
		for _, v := range c.vars {
			dst = append(dst, "<CallVariable>"...)
			dst = appendElem(dst, "name", v.Name)
			dst = appendElem(dst, "value", v.Value)
			dst = append(dst, "</CallVariable>"...)
		}
		dst = append(dst, "</callvariables>"...)
	}
	dst = append(dst, "</mediaProperties>"...)
	dst = appendElem(dst, "mediaType", d.mediaType())

	dst = append(dst, "<participants><Participant><actions>"...)
	for _, a := range actions[d.state] {
		dst = appendElem(dst, "action", string(a))
	}
	dst = append(dst, "</actions>"...)
	dst = appendElem(dst, "mediaAddress", d.slot.userID)
	dst = append(dst, "<mediaAddressType></mediaAddressType>"...)
	dst = appendElem(dst, "startTime", formatTime(d.start))
	dst = appendElem(dst, "state", string(d.state))
	dst = append(dst, "<stateCause></stateCause>"...)
	dst = appendElem(dst, "stateChangeTime", formatTime(d.changed))
	dst = append(dst, "</Participant></participants>"...)

	if d.state == StateClosed {
		dst = appendElem(dst, "dispositionCode", disposition)
	}
	dst = appendElem(dst, "state", string(d.state))
	dst = appendElem(dst, "uri", dialogURI(d.id))
	return appendClose(dst, root)
}

// mediaType is the MRD's enterprise name.
func (d *dialog) mediaType() string { return d.slot.mediaType }

func appendOpen(dst []byte, name string) []byte {
	dst = append(dst, '<')
	dst = append(dst, name...)
	return append(dst, '>')
}

func appendClose(dst []byte, name string) []byte {
	dst = append(dst, "</"...)
	dst = append(dst, name...)
	return append(dst, '>')
}

// appendElem appends <name>text</name>, text escaped.
func appendElem(dst []byte, name, text string) []byte {
	dst = appendOpen(dst, name)
	dst = appendText(dst, text)
	return appendClose(dst, name)
}

// appendText appends s as XML character data: &, < and > escaped, CR as
// &#xD; (so that a parser's line-end normalisation keeps it), and U+FFFD
// for what XML 1.0 cannot carry, so that a task's variables, whatever the
// application put in them, never break the document.
func appendText(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '&':
				dst = append(dst, "&amp;"...)
			case c == '<':
				dst = append(dst, "&lt;"...)
			case c == '>':
				dst = append(dst, "&gt;"...)
			case c == '\r':
				dst = append(dst, "&#xD;"...)
			case c < 0x20 && c != '\t' && c != '\n':
				dst = utf8.AppendRune(dst, utf8.RuneError)
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !finesse.IsXMLChar(r) {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}
