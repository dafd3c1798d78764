package server

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// Limits bounds what a Decoder accepts from an untrusted peer.
type Limits struct {
	// MaxBytes is the largest top-level element (stanza, stream header or
	// whole document) in bytes, whitespace before it included.
	MaxBytes int
	// MaxDepth is the deepest nesting of elements inside a top-level one.
	MaxDepth int
}

// EventKind says what a Decoder produced.
type EventKind int

const (
	// EventStreamStart: the stream root opened (stream mode only).
	EventStreamStart EventKind = iota + 1
	// EventElement: a complete top-level element.
	EventElement
	// EventStreamEnd: the stream root closed (stream mode only).
	EventStreamEnd
)

// Event is one thing read from a stream.
type Event struct {
	Kind EventKind
	// Start describes the stream root for EventStreamStart.
	Start StartInfo
	// Element is the top-level element for EventElement. It carries an
	// explicit xmlns so it can be serialised on its own.
	Element *etree.Element
}

// StartInfo is a stream root's start tag with namespaces resolved.
type StartInfo struct {
	Name      xml.Name   // resolved namespace and local name
	Attr      []xml.Attr // non-namespace attributes; Name.Space is a namespace URI or ""
	DefaultNS string     // the default namespace declared on the root
}

// AttrValue returns the value of the unqualified attribute local, or "".
func (s StartInfo) AttrValue(local string) string {
	for _, a := range s.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// LangAttr returns the xml:lang attribute, or "".
func (s StartInfo) LangAttr() string {
	for _, a := range s.Attr {
		if a.Name.Space == NSXML && a.Name.Local == "lang" {
			return a.Value
		}
	}
	return ""
}

var errTooLarge = errors.New("element exceeds the size limit")

// budgetReader counts the bytes the XML decoder consumes and refuses to go
// past limit, so that no single element can make the decoder buffer more
// than the configured maximum. It records the first read error so that a
// closed connection is told apart from a syntax error.
type budgetReader struct {
	r     io.ByteReader
	n     int64
	limit int64
	err   error
}

func (b *budgetReader) ReadByte() (byte, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.n >= b.limit {
		b.err = errTooLarge
		return 0, b.err
	}
	c, err := b.r.ReadByte()
	if err != nil {
		b.err = err
		return 0, err
	}
	b.n++
	return c, nil
}

// Read exists because xml.NewDecoder takes an io.Reader; the decoder only
// ever calls ReadByte on an io.ByteReader.
func (b *budgetReader) Read(p []byte) (int, error) {
	for i := range p {
		c, err := b.ReadByte()
		if err != nil {
			return i, err
		}
		p[i] = c
	}
	return len(p), nil
}

// nsScope is one element's namespace declarations.
type nsScope struct {
	parent   *nsScope
	def      string
	prefixes map[string]string
}

func (s *nsScope) lookup(prefix string) (string, bool) {
	if prefix == "xml" {
		return NSXML, true
	}
	for sc := s; sc != nil; sc = sc.parent {
		if uri, ok := sc.prefixes[prefix]; ok {
			return uri, true
		}
	}
	return "", false
}

// Decoder reads restricted XML (RFC 6120 §11): no DTD, no comments, no
// processing instructions but the XML declaration, no entities but the
// predefined ones, UTF-8 only. In stream mode the root element is a wrapper
// (<stream:stream>) whose children are returned one at a time; in document
// mode the root itself is the one element returned.
type Decoder struct {
	in      *budgetReader
	xd      *xml.Decoder
	limits  Limits
	stream  bool
	started bool // the root start tag has been read
	ended   bool // the root end tag has been read
	root    *nsScope
	rootRaw xml.Name
	sawDecl bool
	sawAny  bool // any token has been read
	inTree  bool // inside a top-level element
}

// NewStreamDecoder reads an XML stream from r: a root start tag, top-level
// elements, and the root end tag. r should be buffered; the decoder reads it
// a byte at a time and never reads ahead, so a new Decoder can take over r
// after a stream restart.
func NewStreamDecoder(r io.ByteReader, limits Limits) *Decoder {
	return newDecoder(r, limits, true)
}

func newDecoder(r io.ByteReader, limits Limits, stream bool) *Decoder {
	if limits.MaxBytes <= 0 {
		limits.MaxBytes = 256 << 10
	}
	if limits.MaxDepth <= 0 {
		limits.MaxDepth = 64
	}
	in := &budgetReader{r: r, limit: int64(limits.MaxBytes)}
	xd := xml.NewDecoder(in)
	xd.Strict = true
	return &Decoder{in: in, xd: xd, limits: limits, stream: stream, root: &nsScope{}}
}

// ParseDocument parses data as one restricted-XML document and returns its
// root element. It is how WebSocket frames and BOSH bodies are read.
func ParseDocument(data []byte, limits Limits) (*etree.Element, error) {
	d := newDecoder(bytes.NewReader(data), limits, false)
	ev, err := d.Next()
	if err != nil {
		return nil, err
	}
	// Nothing but whitespace may follow the root.
	if _, err := d.Next(); err != io.EOF {
		if err == nil {
			err = &StreamError{Condition: CondNotWellFormed, Text: "content after the document element"}
		}
		return nil, err
	}
	return ev.Element, nil
}

// ParseWrapper parses data as one wrapper element whose children are
// stanzas, such as a BOSH <body/>: it returns the wrapper's start tag and
// its child elements. Each child is held to limits as a stanza on a stream
// is, so that a wrapper cannot carry a stanza larger than a stream may; the
// caller bounds the size of data as a whole.
func ParseWrapper(data []byte, limits Limits) (StartInfo, []*etree.Element, error) {
	d := NewStreamDecoder(bytes.NewReader(data), limits)
	var (
		start    StartInfo
		children []*etree.Element
	)
	for {
		ev, err := d.Next()
		if err == io.EOF && d.ended {
			return start, children, nil
		}
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = &StreamError{Condition: CondNotWellFormed, Text: "unexpected end of document"}
			}
			return StartInfo{}, nil, err
		}
		switch ev.Kind {
		case EventStreamStart:
			start = ev.Start
		case EventElement:
			children = append(children, ev.Element)
		}
	}
}

// Next returns the next event. At the end of input it returns io.EOF; a
// broken input returns a *StreamError with the RFC 6120 condition; other
// errors are the reader's (a closed connection).
func (d *Decoder) Next() (Event, error) {
	for {
		tok, err := d.xd.RawToken()
		if err != nil {
			return Event{}, d.mapErr(err)
		}
		first := !d.sawAny
		d.sawAny = true
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target == "xml" && first && !d.started {
				d.sawDecl = true
				continue
			}
			return Event{}, &StreamError{Condition: CondRestrictedXML, Text: "processing instructions are not allowed"}
		case xml.Directive:
			return Event{}, &StreamError{Condition: CondRestrictedXML, Text: "DTDs and declarations are not allowed"}
		case xml.Comment:
			return Event{}, &StreamError{Condition: CondRestrictedXML, Text: "comments are not allowed"}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				if d.started && !d.ended && d.stream {
					return Event{}, &StreamError{Condition: CondBadFormat, Text: "text at stream level"}
				}
				return Event{}, &StreamError{Condition: CondNotWellFormed, Text: "text outside the document element"}
			}
			// Whitespace between stanzas is a keepalive; it does not eat
			// into the next stanza's budget.
			d.resetBudget()
		case xml.EndElement:
			if d.stream && d.started && !d.ended && t.Name == d.rootRaw {
				d.ended = true
				return Event{Kind: EventStreamEnd}, nil
			}
			return Event{}, &StreamError{Condition: CondNotWellFormed, Text: "unexpected end tag </" + rawName(t.Name) + ">"}
		case xml.StartElement:
			switch {
			case d.ended:
				return Event{}, &StreamError{Condition: CondNotWellFormed, Text: "content after the document element"}
			case d.stream && !d.started:
				return d.openRoot(t)
			default:
				parent := d.root
				el, err := d.readTree(t, parent)
				if err != nil {
					return Event{}, err
				}
				d.started = true
				if !d.stream {
					d.ended = true
				}
				d.resetBudget()
				return Event{Kind: EventElement, Element: el}, nil
			}
		}
	}
}

func (d *Decoder) resetBudget() { d.in.limit = d.in.n + int64(d.limits.MaxBytes) }

func (d *Decoder) openRoot(t xml.StartElement) (Event, error) {
	sc, name, err := declare(t, d.root)
	if err != nil {
		return Event{}, err
	}
	info := StartInfo{Name: name, DefaultNS: sc.def}
	for _, a := range t.Attr {
		if isNSDecl(a) {
			continue
		}
		an, err := resolveAttr(a.Name, sc)
		if err != nil {
			return Event{}, err
		}
		info.Attr = append(info.Attr, xml.Attr{Name: an, Value: a.Value})
	}
	d.root = sc
	d.rootRaw = t.Name
	d.started = true
	d.resetBudget()
	return Event{Kind: EventStreamStart, Start: info}, nil
}

type openElement struct {
	el    *etree.Element
	scope *nsScope
	raw   xml.Name
	ns    string
}

// readTree reads the element that start opens, with all its content.
func (d *Decoder) readTree(start xml.StartElement, parent *nsScope) (*etree.Element, error) {
	top, err := buildElement(start, parent, "", true)
	if err != nil {
		return nil, err
	}
	stack := []openElement{top}
	d.inTree = true
	defer func() { d.inTree = false }()
	for {
		tok, err := d.xd.RawToken()
		if err != nil {
			return nil, d.mapErr(err)
		}
		cur := &stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= d.limits.MaxDepth {
				return nil, &StreamError{Condition: CondPolicyViolation, Text: fmt.Sprintf("elements nested deeper than %d", d.limits.MaxDepth)}
			}
			child, err := buildElement(t, cur.scope, cur.ns, false)
			if err != nil {
				return nil, err
			}
			cur.el.AddChild(child.el)
			stack = append(stack, child)
		case xml.EndElement:
			if t.Name != cur.raw {
				return nil, &StreamError{Condition: CondNotWellFormed, Text: "element <" + rawName(cur.raw) + "> closed by </" + rawName(t.Name) + ">"}
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return top.el, nil
			}
		case xml.CharData:
			cur.el.CreateText(string(t))
		case xml.Comment:
			return nil, &StreamError{Condition: CondRestrictedXML, Text: "comments are not allowed"}
		case xml.ProcInst:
			return nil, &StreamError{Condition: CondRestrictedXML, Text: "processing instructions are not allowed"}
		case xml.Directive:
			return nil, &StreamError{Condition: CondRestrictedXML, Text: "DTDs and declarations are not allowed"}
		}
	}
}

func isNSDecl(a xml.Attr) bool {
	return a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns")
}

// declare opens a namespace scope for t and resolves t's name in it.
func declare(t xml.StartElement, parent *nsScope) (*nsScope, xml.Name, error) {
	if !isLocalName(t.Name.Local) {
		return nil, xml.Name{}, &StreamError{Condition: CondNotWellFormed, Text: "an element name that is not a namespace-qualified name: " + quotedName(t.Name.Space, t.Name.Local)}
	}
	sc := &nsScope{parent: parent, def: parent.def}
	for _, a := range t.Attr {
		if !isLocalName(a.Name.Local) {
			return nil, xml.Name{}, &StreamError{Condition: CondNotWellFormed, Text: "an attribute name that is not a namespace-qualified name: " + quotedName(a.Name.Space, a.Name.Local)}
		}
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			sc.def = a.Value
		case a.Name.Space == "xmlns":
			if a.Value == "" || a.Name.Local == "xmlns" || (a.Name.Local == "xml") != (a.Value == NSXML) {
				return nil, xml.Name{}, &StreamError{Condition: CondBadNamespacePrefix, Text: "bad declaration of prefix " + a.Name.Local}
			}
			if sc.prefixes == nil {
				sc.prefixes = make(map[string]string, 2)
			}
			sc.prefixes[a.Name.Local] = a.Value
		}
	}
	name := xml.Name{Local: t.Name.Local}
	if t.Name.Space == "" {
		name.Space = sc.def
	} else {
		uri, ok := sc.lookup(t.Name.Space)
		if !ok {
			return nil, xml.Name{}, &StreamError{Condition: CondBadNamespacePrefix, Text: "undeclared prefix " + t.Name.Space}
		}
		name.Space = uri
	}
	return sc, name, nil
}

// isLocalName reports whether a name's local part, as encoding/xml splits
// it at the first colon, can be one: not empty and without a colon
// (Namespaces in XML 1.0 §3, QName). encoding/xml takes "<:>" and "<a:b:c>"
// whole, which no XML processor with namespaces accepts.
func isLocalName(local string) bool { return local != "" && !strings.Contains(local, ":") }

// quotedName shows a name as it stood in the tag, for an error text.
func quotedName(prefix, local string) string {
	if prefix != "" {
		return strconv.Quote(prefix + ":" + local)
	}
	return strconv.Quote(local)
}

func resolveAttr(n xml.Name, sc *nsScope) (xml.Name, error) {
	if n.Space == "" {
		return n, nil
	}
	uri, ok := sc.lookup(n.Space)
	if !ok {
		return xml.Name{}, &StreamError{Condition: CondBadNamespacePrefix, Text: "undeclared prefix " + n.Space}
	}
	return xml.Name{Space: uri, Local: n.Local}, nil
}

// buildElement turns a start tag into an etree element. Output is
// normalised: elements carry no prefix and an xmlns wherever their namespace
// differs from their parent's (always on a top-level element); an attribute
// in a foreign namespace declares its prefix on its own element.
func buildElement(t xml.StartElement, parent *nsScope, parentNS string, top bool) (openElement, error) {
	sc, name, err := declare(t, parent)
	if err != nil {
		return openElement{}, err
	}
	el := etree.NewElement(name.Local)
	if top || name.Space != parentNS {
		el.CreateAttr("xmlns", name.Space)
	}
	var seen []xml.Name
	for _, a := range t.Attr {
		if isNSDecl(a) {
			continue
		}
		an, err := resolveAttr(a.Name, sc)
		if err != nil {
			return openElement{}, err
		}
		for _, s := range seen {
			if s == an {
				return openElement{}, &StreamError{Condition: CondNotWellFormed, Text: "duplicate attribute " + rawName(a.Name)}
			}
		}
		seen = append(seen, an)
		switch an.Space {
		case "":
			el.CreateAttr(an.Local, a.Value)
		case NSXML:
			el.CreateAttr("xml:"+an.Local, a.Value)
		default:
			el.CreateAttr("xmlns:"+a.Name.Space, an.Space)
			el.CreateAttr(a.Name.Space+":"+an.Local, a.Value)
		}
	}
	return openElement{el: el, scope: sc, raw: t.Name, ns: name.Space}, nil
}

func rawName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

func (d *Decoder) mapErr(err error) error {
	switch in := d.in.err; {
	case in == errTooLarge:
		return &StreamError{Condition: CondPolicyViolation, Text: fmt.Sprintf("stanza larger than %d bytes", d.limits.MaxBytes)}
	case in == io.EOF && !d.stream:
		if d.ended {
			return io.EOF
		}
		return &StreamError{Condition: CondNotWellFormed, Text: "unexpected end of document"}
	case in == io.EOF && d.stream:
		if d.inTree || (d.started && !d.ended) {
			return io.ErrUnexpectedEOF
		}
		return io.EOF
	case in != nil:
		return in
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		if strings.Contains(se.Msg, "entity") {
			return &StreamError{Condition: CondRestrictedXML, Text: "only the predefined entities are allowed"}
		}
		return &StreamError{Condition: CondNotWellFormed, Text: se.Msg}
	}
	if strings.Contains(err.Error(), "CharsetReader") {
		return &StreamError{Condition: CondUnsupportedEncoding, Text: "only UTF-8 is supported"}
	}
	return &StreamError{Condition: CondNotWellFormed, Text: err.Error()}
}

// NewBufferedReader returns the buffered reader a stream decoder expects.
func NewBufferedReader(r io.Reader, size int) *bufio.Reader { return bufio.NewReaderSize(r, size) }

// Serialize writes el as XML with single-quoted attributes.
func Serialize(el *etree.Element) []byte {
	var buf bytes.Buffer
	el.WriteTo(&buf, &writeSettings)
	return buf.Bytes()
}

// writeSettings: attributes in single quotes; text escapes only &, < and >,
// plus CR as &#xD; so that a CR a client sent survives the receiver's
// line-end normalisation (XML 1.0 §2.11), as a Finesse notification's text
// must unescape to exactly the Update that was published.
var writeSettings = etree.WriteSettings{AttrSingleQuote: true, CanonicalText: true}

// NamespaceOf returns el's namespace URI.
func NamespaceOf(el *etree.Element) string { return el.NamespaceURI() }
