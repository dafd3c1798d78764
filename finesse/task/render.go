package task

import (
	"strconv"
	"time"

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

	dst = finesse.AppendOpen(dst, root)
	dst = append(dst, "<taskId>"...)
	dst = finesse.AppendElem(dst, "routerCallKeyDay", day)
	dst = finesse.AppendElem(dst, "routerCallKeyCallID", callID)
	dst = finesse.AppendElem(dst, "routerCallKeySequenceNum", seq)
	dst = append(dst, "</taskId>"...)
	dst = finesse.AppendElem(dst, "id", d.id)

	dst = append(dst, "<mediaProperties>"...)
	dst = finesse.AppendElem(dst, "mediaId", strconv.Itoa(d.slot.queue.id))
	dst = finesse.AppendElem(dst, "dialedNumber", sel.DialedNumber)
	dst = finesse.AppendElem(dst, "queueNumber", sel.QueueNumber)
	dst = finesse.AppendElem(dst, "queueName", sel.QueueName)
	dst = finesse.AppendElem(dst, "callKeyCallId", callID)
	dst = finesse.AppendElem(dst, "callKeyPrefix", day)
	dst = finesse.AppendElem(dst, "callKeySequenceNum", seq)
	if len(c.vars) > 0 {
		dst = append(dst, "<callvariables>"...)
		for _, v := range c.vars {
			dst = append(dst, "<CallVariable>"...)
			dst = finesse.AppendElem(dst, "name", v.Name)
			dst = finesse.AppendElem(dst, "value", v.Value)
			dst = append(dst, "</CallVariable>"...)
		}
		dst = append(dst, "</callvariables>"...)
	}
	dst = append(dst, "</mediaProperties>"...)
	dst = finesse.AppendElem(dst, "mediaType", d.mediaType())

	dst = append(dst, "<participants><Participant><actions>"...)
	for _, a := range actions[d.state] {
		dst = finesse.AppendElem(dst, "action", string(a))
	}
	dst = append(dst, "</actions>"...)
	dst = finesse.AppendElem(dst, "mediaAddress", d.slot.userID)
	dst = append(dst, "<mediaAddressType></mediaAddressType>"...)
	dst = finesse.AppendElem(dst, "startTime", formatTime(d.start))
	dst = finesse.AppendElem(dst, "state", string(d.state))
	dst = append(dst, "<stateCause></stateCause>"...)
	dst = finesse.AppendElem(dst, "stateChangeTime", formatTime(d.changed))
	dst = append(dst, "</Participant></participants>"...)

	if d.state == StateClosed {
		dst = finesse.AppendElem(dst, "dispositionCode", disposition)
	}
	dst = finesse.AppendElem(dst, "state", string(d.state))
	dst = finesse.AppendElem(dst, "uri", dialogURI(d.id))
	return finesse.AppendClose(dst, root)
}

// mediaType is the MRD's enterprise name.
func (d *dialog) mediaType() string { return d.slot.mediaType }
