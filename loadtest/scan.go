package loadtest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The XML here is scanned, never parsed into a tree: a load run sees tens
// of thousands of stanzas per second, and all it needs from most of them is
// their name, a few attributes of the start tag, and the event token.
// The scanner trusts the server to send well-formed XML and only finds
// where each top-level element ends; it still refuses what it cannot
// delimit (an unterminated comment, a DOCTYPE) rather than guess.

var (
	errMalformed  = errors.New("malformed XML from the server")
	errIncomplete = errors.New("incomplete element")
)

// elementEnd returns the length of the element that starts at b[0] ('<'),
// or errIncomplete when b holds only part of it.
func elementEnd(b []byte) (int, error) {
	depth := 0
	i := 0
	for {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 {
			return 0, errIncomplete
		}
		j += i
		if j+1 >= len(b) {
			return 0, errIncomplete
		}
		switch b[j+1] {
		case '/':
			k := bytes.IndexByte(b[j:], '>')
			if k < 0 {
				return 0, errIncomplete
			}
			depth--
			i = j + k + 1
			if depth == 0 {
				return i, nil
			}
			if depth < 0 {
				return 0, errMalformed
			}
		case '?':
			k := bytes.Index(b[j:], []byte("?>"))
			if k < 0 {
				return 0, errIncomplete
			}
			i = j + k + 2
		case '!':
			n, err := skipMarkup(b[j:])
			if err != nil {
				return 0, err
			}
			i = j + n
		default:
			n, selfClosing, err := startTagEnd(b[j:])
			if err != nil {
				return 0, err
			}
			i = j + n
			if !selfClosing {
				depth++
			} else if depth == 0 {
				return i, nil
			}
		}
	}
}

// skipMarkup returns the length of a comment or CDATA section at b[0].
func skipMarkup(b []byte) (int, error) {
	var end []byte
	switch {
	case bytes.HasPrefix(b, []byte("<!--")):
		end = []byte("-->")
	case bytes.HasPrefix(b, []byte("<![CDATA[")):
		end = []byte("]]>")
	case len(b) < 9:
		return 0, errIncomplete
	default:
		return 0, fmt.Errorf("%w: markup %q", errMalformed, b[:min(len(b), 16)])
	}
	k := bytes.Index(b[2:], end)
	if k < 0 {
		return 0, errIncomplete
	}
	return 2 + k + len(end), nil
}

// startTagEnd returns the length of the start tag at b[0] and whether it
// closes itself. Quoted attribute values may hold '>'.
func startTagEnd(b []byte) (n int, selfClosing bool, err error) {
	i := 1
	for {
		k := bytes.IndexAny(b[i:], `>'"`)
		if k < 0 {
			return 0, false, errIncomplete
		}
		i += k
		if b[i] == '>' {
			return i + 1, b[i-1] == '/', nil
		}
		q := bytes.IndexByte(b[i+1:], b[i])
		if q < 0 {
			return 0, false, errIncomplete
		}
		i += q + 2
	}
}

// tagName is the qualified name of the element or start tag el.
func tagName(el []byte) []byte {
	if len(el) < 2 || el[0] != '<' {
		return nil
	}
	i := 1
	for i < len(el) && !isNameEnd(el[i]) {
		i++
	}
	return el[1:i]
}

func isNameEnd(c byte) bool {
	return c == ' ' || c == '>' || c == '/' || c == '\t' || c == '\n' || c == '\r'
}

// isTag reports whether el's name is name.
func isTag(el []byte, name string) bool { return string(tagName(el)) == name }

// attr returns the value of attribute name in el's start tag, with the
// five predefined entities and character references decoded, and whether
// it is there.
func attr(el []byte, name string) (string, bool) {
	n := len(tagName(el)) + 1
	if n <= 1 {
		return "", false
	}
	i := n
	for i < len(el) {
		for i < len(el) && (el[i] == ' ' || el[i] == '\t' || el[i] == '\n' || el[i] == '\r') {
			i++
		}
		if i >= len(el) || el[i] == '>' || el[i] == '/' {
			return "", false
		}
		eq := bytes.IndexByte(el[i:], '=')
		if eq < 0 {
			return "", false
		}
		key := bytes.TrimSpace(el[i : i+eq])
		j := i + eq + 1
		for j < len(el) && el[j] == ' ' {
			j++
		}
		if j >= len(el) || (el[j] != '\'' && el[j] != '"') {
			return "", false
		}
		end := bytes.IndexByte(el[j+1:], el[j])
		if end < 0 {
			return "", false
		}
		if string(key) == name {
			return unescape(el[j+1 : j+1+end]), true
		}
		i = j + 1 + end + 1
	}
	return "", false
}

// childText returns the text of the first element named name inside el
// (a simple element: text only), decoded.
func childText(el []byte, name string) (string, bool) {
	open := []byte("<" + name)
	i := 0
	for {
		k := bytes.Index(el[i:], open)
		if k < 0 {
			return "", false
		}
		i += k
		if j := i + len(open); j < len(el) && isNameEnd(el[j]) {
			n, selfClosing, err := startTagEnd(el[i:])
			if err != nil {
				return "", false
			}
			if selfClosing {
				return "", true
			}
			start := i + n
			end := bytes.IndexByte(el[start:], '<')
			if end < 0 {
				return "", false
			}
			return unescape(el[start : start+end]), true
		}
		i++
	}
}

// contains reports whether el holds s anywhere.
func contains(el []byte, s string) bool { return bytes.Contains(el, []byte(s)) }

var unescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&quot;", `"`, "&apos;", "'", "&amp;", "&")

func unescape(b []byte) string {
	if bytes.IndexByte(b, '&') < 0 {
		return string(b)
	}
	s := string(b)
	if strings.Contains(s, "&#") {
		s = decodeCharRefs(s)
	}
	return unescaper.Replace(s)
}

// decodeCharRefs decodes &#N; and &#xN; references.
func decodeCharRefs(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "&#")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := strings.IndexByte(s[i:], ';')
		if end < 0 {
			b.WriteString(s)
			return b.String()
		}
		ref := s[i+2 : i+end]
		base := 10
		if strings.HasPrefix(ref, "x") {
			ref, base = ref[1:], 16
		}
		r, err := strconv.ParseUint(ref, base, 32)
		b.WriteString(s[:i])
		if err != nil {
			b.WriteString(s[i : i+end+1])
		} else {
			b.WriteRune(rune(r))
		}
		s = s[i+end+1:]
	}
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

// escape makes s safe in text and in either kind of quoted attribute.
func escape(s string) string { return escaper.Replace(s) }

// streamReader splits an XMPP stream (TCP) into the children of
// <stream:stream>. The stream header is remembered, not returned; the
// closing </stream:stream> ends the stream (errStreamEnd).
type streamReader struct {
	read     func([]byte) (int, error)
	buf      []byte
	start    int // unconsumed data is buf[start:end]
	end      int
	maxBytes int
	header   bool // the server's stream header has arrived
}

var errStreamEnd = errors.New("the server closed the stream")

func newStreamReader(read func([]byte) (int, error), initial, maxBytes int) *streamReader {
	return &streamReader{read: read, buf: make([]byte, initial), maxBytes: maxBytes}
}

// reset forgets everything read: a stream restart (after STARTTLS or
// SASL) starts a new document.
func (r *streamReader) reset(read func([]byte) (int, error)) {
	if read != nil {
		r.read = read
	}
	r.start, r.end, r.header = 0, 0, false
}

// next returns the next child of the stream, valid until the next call.
func (r *streamReader) next() ([]byte, error) {
	for {
		data := r.buf[r.start:r.end]
		// Whitespace between stanzas is a keepalive.
		skip := 0
		for skip < len(data) && (data[skip] == ' ' || data[skip] == '\n' || data[skip] == '\r' || data[skip] == '\t') {
			skip++
		}
		r.start += skip
		data = data[skip:]
		if len(data) > 0 {
			if data[0] != '<' {
				return nil, fmt.Errorf("%w: text %q at the stream level", errMalformed, data[:min(len(data), 32)])
			}
			n, el, err := r.item(data)
			if err == nil {
				r.start += n
				if el != nil {
					return el, nil
				}
				continue
			}
			if !errors.Is(err, errIncomplete) {
				return nil, err
			}
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

// item consumes one item at the stream level: it returns the bytes to
// consume and the element, if the item is one.
func (r *streamReader) item(data []byte) (int, []byte, error) {
	switch {
	case len(data) < 2:
		return 0, nil, errIncomplete
	case data[1] == '?': // the XML declaration: skipped
		k := bytes.Index(data, []byte("?>"))
		if k < 0 {
			return 0, nil, errIncomplete
		}
		return k + 2, nil, nil
	case data[1] == '!': // a comment: skipped
		n, err := skipMarkup(data)
		return n, nil, err
	case bytes.HasPrefix(data, []byte("</stream:stream")):
		return 0, nil, errStreamEnd
	case bytes.HasPrefix(data, []byte("<stream:stream")) && !r.header:
		n, _, err := startTagEnd(data)
		if err != nil {
			return 0, nil, err
		}
		r.header = true
		return n, nil, nil
	}
	n, err := elementEnd(data)
	if err != nil {
		return 0, nil, err
	}
	return n, data[:n], nil
}

// fill reads more, compacting or growing the buffer as needed.
func (r *streamReader) fill() error {
	if r.start > 0 && r.start == r.end {
		r.start, r.end = 0, 0
	}
	if r.end == len(r.buf) {
		if r.start > 0 {
			copy(r.buf, r.buf[r.start:r.end])
			r.end -= r.start
			r.start = 0
		} else {
			if len(r.buf) >= r.maxBytes {
				return fmt.Errorf("a stanza over %d bytes", r.maxBytes)
			}
			grown := make([]byte, min(2*len(r.buf), r.maxBytes))
			copy(grown, r.buf[:r.end])
			r.buf = grown
		}
	}
	n, err := r.read(r.buf[r.end:])
	r.end += n
	if n > 0 {
		return nil
	}
	return err
}

// splitChildren calls f with each child element of the element el (a
// BOSH <body/>), in order.
func splitChildren(el []byte, f func([]byte)) error {
	n, selfClosing, err := startTagEnd(el)
	if err != nil {
		return err
	}
	if selfClosing {
		return nil
	}
	inner := el[n:]
	closeTag := bytes.LastIndex(inner, []byte("</"))
	if closeTag < 0 {
		return errMalformed
	}
	inner = inner[:closeTag]
	for {
		i := bytes.IndexByte(inner, '<')
		if i < 0 {
			return nil
		}
		inner = inner[i:]
		if len(inner) > 1 && inner[1] == '!' {
			k, err := skipMarkup(inner)
			if err != nil {
				return err
			}
			inner = inner[k:]
			continue
		}
		k, err := elementEnd(inner)
		if err != nil {
			return fmt.Errorf("%w in a BOSH body", err)
		}
		f(inner[:k])
		inner = inner[k:]
	}
}

// The event token. Its characters are letters, digits and dots, which no
// XML escaping touches, so it is found the same in a payload, an escaped
// Update and a requestId.
const tokenPrefix = "flq."

var tokenPrefixBytes = []byte(tokenPrefix)

// appendToken appends flq.<stream>.<seq>.<ts> to b.
func appendToken(b []byte, stream, seq uint64, ts int64) []byte {
	b = append(b, tokenPrefix...)
	b = strconv.AppendUint(b, stream, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, '.')
	return strconv.AppendInt(b, ts, 10)
}

func formatToken(stream, seq uint64, ts int64) string {
	return string(appendToken(make([]byte, 0, 48), stream, seq, ts))
}

// findToken finds the first event token in el.
func findToken(el []byte) (stream, seq uint64, ts int64, ok bool) {
	i := bytes.Index(el, tokenPrefixBytes)
	if i < 0 {
		return 0, 0, 0, false
	}
	b := el[i+len(tokenPrefix):]
	var n [3]uint64
	for f := range 3 {
		j := 0
		var v uint64
		for j < len(b) && b[j] >= '0' && b[j] <= '9' && j < 20 {
			v = v*10 + uint64(b[j]-'0')
			j++
		}
		if j == 0 {
			return 0, 0, 0, false
		}
		n[f] = v
		b = b[j:]
		if f < 2 {
			if len(b) == 0 || b[0] != '.' {
				return 0, 0, 0, false
			}
			b = b[1:]
		}
	}
	return n[0], n[1], int64(n[2]), true
}
