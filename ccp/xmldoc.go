package ccp

import (
	"strconv"

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
	d.b = finesse.AppendText(d.b, text)
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
