package bosh

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/server"
)

// Namespaces of the BOSH wrapper.
const (
	NSHTTPBind = "http://jabber.org/protocol/httpbind"
	NSXBOSH    = "urn:xmpp:xbosh"
)

// XEP-0124 terminal binding conditions used here.
const (
	CondBadRequest        = "bad-request"
	CondHostUnknown       = "host-unknown"
	CondItemNotFound      = "item-not-found"
	CondPolicyViolation   = "policy-violation"
	CondRemoteStreamError = "remote-stream-error"
	CondSystemShutdown    = "system-shutdown"
)

// maxRid is the largest rid a client may use (XEP-0124 §14.1: 2^53-1).
const maxRid = 1<<53 - 1

// version is a BOSH protocol version, "major.minor" with integer parts.
type version struct{ major, minor int }

// serverVersion is the highest BOSH version this connection manager speaks.
var serverVersion = version{1, 11}

func (v version) less(o version) bool {
	return v.major < o.major || (v.major == o.major && v.minor < o.minor)
}

func (v version) String() string { return strconv.Itoa(v.major) + "." + strconv.Itoa(v.minor) }

// requestBody is one client <body/> wrapper, validated.
type requestBody struct {
	sid       string
	rid       int64
	terminate bool
	restart   bool  // xmpp:restart='true'
	pause     int64 // seconds; 0 when absent
	ack       int64 // the client's response acknowledgement; 0 when absent
	hasAck    bool

	// Stream attributes: on the creation request and on restarts.
	to      string
	lang    string
	xmppVer string // xmpp:version; "" when absent

	// Session creation attributes (meaningful only without a sid).
	wait     int64 // seconds; -1 when absent
	hold     int64 // -1 when absent
	ver      version
	hasVer   bool
	wantsAck bool // ack='1' on the creation request

	// children are the payloads, detached from the wrapper, in order.
	children []*etree.Element
}

// bindingError is a request the connection manager refuses with a
// terminal binding condition. sid names the session it came for, if that
// could be read, so that the session can be ended too.
type bindingError struct {
	cond string
	sid  string
	text string
}

func (e *bindingError) Error() string { return "bosh " + e.cond + ": " + e.text }

// parseRequest parses and validates a client's <body/>. The wrapper as a
// whole is bounded by the handler (MaxBodyBytes); each payload is held to
// the server's stanza limits, as on any other transport. Any failure is a
// *bindingError.
func parseRequest(data []byte, stanzaLimits server.Limits) (*requestBody, error) {
	root, children, err := server.ParseWrapper(data, stanzaLimits)
	if err != nil {
		cond := CondBadRequest
		var se *server.StreamError
		if errors.As(err, &se) && se.Condition == server.CondPolicyViolation {
			cond = CondPolicyViolation // a payload too deep or too large
		}
		return nil, &bindingError{cond: cond, sid: peekSID(data), text: err.Error()}
	}
	sid := root.AttrValue("sid")
	fail := func(format string, args ...any) (*requestBody, error) {
		return nil, &bindingError{cond: CondBadRequest, sid: sid, text: fmt.Sprintf(format, args...)}
	}
	if root.Name.Local != "body" || root.Name.Space != NSHTTPBind {
		return fail("the root element must be <body/> in %s", NSHTTPBind)
	}
	b := &requestBody{sid: sid, wait: -1, hold: -1, children: children}
	if b.rid, err = parseInt(root, "rid", 1, maxRid); err != nil {
		return fail("%v", err)
	}
	if b.rid == 0 {
		return fail("the rid attribute is required")
	}
	switch t := root.AttrValue("type"); t {
	case "":
	case "terminate":
		b.terminate = true
	default:
		return fail("unknown type %q", t)
	}
	b.to = root.AttrValue("to")
	b.lang = root.LangAttr()
	if b.pause, err = parseInt(root, "pause", 1, 1<<31); err != nil {
		return fail("%v", err)
	}
	if _, ok := attr(root, "ack"); ok {
		if b.ack, err = parseInt(root, "ack", 1, maxRid); err != nil {
			return fail("%v", err)
		}
		b.hasAck = true
	}
	for _, a := range root.Attr {
		if a.Name.Space != NSXBOSH {
			continue
		}
		switch a.Name.Local {
		case "restart":
			switch a.Value {
			case "true", "1":
				b.restart = true
			case "false", "0":
			default:
				return fail("xmpp:restart must be a boolean")
			}
		case "version":
			b.xmppVer = a.Value
		}
	}
	if sid == "" {
		if err := b.parseCreation(root); err != nil {
			return fail("%v", err)
		}
	}
	for _, c := range b.children {
		qualifyPayload(c)
	}
	return b, nil
}

// parseCreation reads the attributes of a session creation request.
func (b *requestBody) parseCreation(root server.StartInfo) error {
	var err error
	if _, ok := attr(root, "wait"); ok {
		if b.wait, err = parseInt(root, "wait", 0, 1<<31); err != nil {
			return err
		}
	}
	if _, ok := attr(root, "hold"); ok {
		if b.hold, err = parseInt(root, "hold", 0, 1<<31); err != nil {
			return err
		}
	}
	if v := root.AttrValue("ver"); v != "" {
		if b.ver, err = parseVersion(v); err != nil {
			return err
		}
		b.hasVer = true
	}
	_, b.wantsAck = attr(root, "ack")
	if b.xmppVer == "" {
		b.xmppVer = "1.0" // the XEP-0206 schema default
	}
	return nil
}

// attr returns the wrapper's unqualified attribute name, and whether it is there.
func attr(root server.StartInfo, name string) (string, bool) {
	for _, a := range root.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// qualifyPayload puts a payload that inherited the wrapper's namespace (or
// none) in jabber:client, as XEP-0206 §2 asks of connection managers;
// its descendants inherit it.
func qualifyPayload(el *etree.Element) {
	if ns, _ := plainAttr(el, "xmlns"); ns == NSHTTPBind || ns == "" {
		el.CreateAttr("xmlns", server.NSClient)
	}
}

// plainAttr returns the value of el's unprefixed attribute name. (etree's
// SelectAttr would also match the name under any prefix.)
func plainAttr(el *etree.Element, name string) (string, bool) {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == name {
			return a.Value, true
		}
	}
	return "", false
}

// parseInt reads an optional decimal attribute in [lo, hi]; absent is 0.
func parseInt(root server.StartInfo, name string, lo, hi int64) (int64, error) {
	v, ok := attr(root, name)
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("attribute %s=%q is not an integer from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

func parseVersion(s string) (version, error) {
	maj, min, ok := strings.Cut(s, ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if !ok || err1 != nil || err2 != nil || a < 0 || b < 0 {
		return version{}, fmt.Errorf("ver=%q is not major.minor", s)
	}
	return version{a, b}, nil
}

// peekSID reads the sid attribute of a <body/> start tag at the beginning
// of data, which may be malformed or truncated after the start tag. It
// returns "" when there is no such tag.
func peekSID(data []byte) string {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	for range 3 { // an XML declaration and whitespace may come first
		tok, err := d.RawToken()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != "body" {
				return ""
			}
			for _, a := range t.Attr {
				if a.Name.Space == "" && a.Name.Local == "sid" {
					return a.Value
				}
			}
			return ""
		case xml.ProcInst, xml.CharData:
		default:
			return ""
		}
	}
	return ""
}

// Response rendering. Attribute values come from the server (numbers,
// the domain, random ids) except where escaped.

const (
	openBody         = `<body xmlns='` + NSHTTPBind + `'`
	streamPrefixDecl = ` xmlns:stream='` + server.NSStream + `'`
)

// emptyBody is a response with no payloads. ack is the 'ack' attribute to
// set, or 0 for none.
func emptyBody(ack int64) []byte {
	var b bytes.Buffer
	b.WriteString(openBody)
	writeAck(&b, ack)
	b.WriteString(`/>`)
	return b.Bytes()
}

// payloadBody wraps packets (each already carrying its namespace).
func payloadBody(packets []server.Packet, ack int64) []byte {
	if len(packets) == 0 {
		return emptyBody(ack)
	}
	var b bytes.Buffer
	b.Grow(packetsLen(packets) + 128)
	b.WriteString(openBody + streamPrefixDecl)
	writeAck(&b, ack)
	b.WriteString(`>`)
	writePackets(&b, packets)
	b.WriteString(`</body>`)
	return b.Bytes()
}

// terminateBody ends the session for the client: cond is the XEP-0124
// condition ("" for a clean end); packets are the last payloads, which
// include the <stream:error/> under remote-stream-error.
func terminateBody(cond string, packets []server.Packet) []byte {
	var b bytes.Buffer
	b.Grow(packetsLen(packets) + 128)
	b.WriteString(openBody)
	if len(packets) > 0 {
		b.WriteString(streamPrefixDecl)
	}
	b.WriteString(` type='terminate'`)
	if cond != "" {
		b.WriteString(` condition='` + cond + `'`)
	}
	if len(packets) == 0 {
		b.WriteString(`/>`)
		return b.Bytes()
	}
	b.WriteString(`>`)
	writePackets(&b, packets)
	b.WriteString(`</body>`)
	return b.Bytes()
}

// creationParams are the attributes of a session creation response.
type creationParams struct {
	sid        string
	wait       int64 // seconds
	inactivity int64
	polling    int64
	requests   int
	hold       int
	maxpause   int64
	ack        int64 // 0: acknowledgements are off
	ver        version
	from       string
	authid     string
}

// creationBody is the session creation response (XEP-0124 §7.2, XEP-0206
// §3) with the stream features inline.
func creationBody(p creationParams, packets []server.Packet) []byte {
	var b bytes.Buffer
	b.Grow(packetsLen(packets) + 512)
	b.WriteString(openBody + ` xmlns:xmpp='` + NSXBOSH + `'` + streamPrefixDecl)
	fmt.Fprintf(&b, ` sid='%s' wait='%d' inactivity='%d' polling='%d' requests='%d' hold='%d' maxpause='%d'`,
		server.EscapeText(p.sid), p.wait, p.inactivity, p.polling, p.requests, p.hold, p.maxpause)
	writeAck(&b, p.ack)
	fmt.Fprintf(&b, ` ver='%s' from='%s' secure='true' authid='%s' xmpp:version='1.0'>`,
		p.ver, server.EscapeText(p.from), server.EscapeText(p.authid))
	writePackets(&b, packets)
	b.WriteString(`</body>`)
	return b.Bytes()
}

func writeAck(b *bytes.Buffer, ack int64) {
	if ack > 0 {
		b.WriteString(` ack='` + strconv.FormatInt(ack, 10) + `'`)
	}
}

func writePackets(b *bytes.Buffer, packets []server.Packet) {
	for _, p := range packets {
		_, _ = p.WriteTo(b) // a bytes.Buffer does not fail
	}
}

func packetsLen(packets []server.Packet) int {
	n := 0
	for _, p := range packets {
		n += p.Len()
	}
	return n
}
