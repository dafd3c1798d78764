package server

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// JID is an XMPP address (RFC 7622) local@domain/resource. Local and domain
// parts are kept in lower case so that comparisons are simple equality; the
// resource is case-sensitive.
type JID struct {
	Local    string
	Domain   string
	Resource string
}

const maxJIDPart = 1023

var errEmptyJID = errors.New("empty JID")

// ParseJID parses and normalises s. It applies the RFC 7622 length limits and
// forbids the characters the localpart may not hold; full PRECIS profiles are
// not applied, case folding is.
func ParseJID(s string) (JID, error) {
	if s == "" {
		return JID{}, errEmptyJID
	}
	if !utf8.ValidString(s) {
		return JID{}, fmt.Errorf("jid %q: not UTF-8", s)
	}
	var j JID
	rest := s
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		j.Resource = rest[i+1:]
		rest = rest[:i]
		if j.Resource == "" {
			return JID{}, fmt.Errorf("jid %q: empty resource", s)
		}
	}
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		j.Local = strings.ToLower(rest[:i])
		rest = rest[i+1:]
		if j.Local == "" {
			return JID{}, fmt.Errorf("jid %q: empty localpart", s)
		}
	}
	j.Domain = strings.TrimSuffix(strings.ToLower(rest), ".")
	if err := j.validate(); err != nil {
		return JID{}, fmt.Errorf("jid %q: %w", s, err)
	}
	return j, nil
}

func (j JID) validate() error {
	if j.Domain == "" {
		return errors.New("empty domain")
	}
	if len(j.Local) > maxJIDPart || len(j.Domain) > maxJIDPart || len(j.Resource) > maxJIDPart {
		return errors.New("part longer than 1023 bytes")
	}
	for _, r := range j.Local {
		if strings.ContainsRune("\"&'/:<>@", r) || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("localpart holds %q", r)
		}
	}
	for _, r := range j.Domain {
		if strings.ContainsRune("@/", r) || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("domain holds %q", r)
		}
	}
	for _, r := range j.Resource {
		if unicode.IsControl(r) {
			return errors.New("resource holds a control character")
		}
	}
	return nil
}

// IsZero reports whether j is the empty JID.
func (j JID) IsZero() bool { return j.Domain == "" }

// Bare returns j without its resource.
func (j JID) Bare() JID { return JID{Local: j.Local, Domain: j.Domain} }

// IsBare reports whether j has no resource.
func (j JID) IsBare() bool { return j.Resource == "" }

// String renders j as local@domain/resource.
func (j JID) String() string {
	var b strings.Builder
	b.Grow(len(j.Local) + len(j.Domain) + len(j.Resource) + 2)
	if j.Local != "" {
		b.WriteString(j.Local)
		b.WriteByte('@')
	}
	b.WriteString(j.Domain)
	if j.Resource != "" {
		b.WriteByte('/')
		b.WriteString(j.Resource)
	}
	return b.String()
}
