package ccp

import (
	"strconv"
	"unicode/utf8"

	"github.com/finesse-notify/finesse-notify/finesse"
)

// xmlDoc builds a small XML document by appending to a byte slice. Element
// names are constants of this package; text is escaped as it goes in.
type xmlDoc struct{ b []byte }

func (d *xmlDoc) open(name string) {
	d.b = append(d.b, '<')
	d.b = append(d.b, name...)
	d.b = append(d.b, '>')
}

func (d *xmlDoc) close(name string) {
	d.b = append(d.b, "</"...)
	d.b = append(d.b, name...)
	d.b = append(d.b, '>')
}

// elem appends <name>text</name>, or <name/> when text is empty.
func (d *xmlDoc) elem(name, text string) {
	if text == "" {
		d.b = append(d.b, '<')
		d.b = append(d.b, name...)
		d.b = append(d.b, "/>"...)
		return
	}
	d.open(name)
	d.b = appendText(d.b, text)
	d.close(name)
}

func (d *xmlDoc) elemInt(name string, n int64) {
	d.open(name)
	d.b = strconv.AppendInt(d.b, n, 10)
	d.close(name)
}

// list appends <outer><inner>v</inner>…</outer>, or <outer/> when empty.
func (d *xmlDoc) list(outer, inner string, values []string) {
	if len(values) == 0 {
		d.elem(outer, "")
		return
	}
	d.open(outer)
	for _, v := range values {
		d.elem(inner, v)
	}
	d.close(outer)
}

// appendText appends s escaped as XML character data: &, < and > as
// entities, CR as &#xD; (so that a parser's line-end normalisation keeps
// it), and U+FFFD for what XML 1.0 cannot carry. Validation keeps such
// characters out of contacts; the replacement only keeps a document
// well-formed whatever reaches it (a decoded URL path, a Host header).
func appendText(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '&':
			dst = append(dst, "&amp;"...)
		case r == '<':
			dst = append(dst, "&lt;"...)
		case r == '>':
			dst = append(dst, "&gt;"...)
		case r == '\r':
			dst = append(dst, "&#xD;"...)
		case r == utf8.RuneError && size == 1, !finesse.IsXMLChar(r):
			dst = utf8.AppendRune(dst, utf8.RuneError)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}
