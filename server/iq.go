package server

import (
	"sort"
	"strings"

	"github.com/beevik/etree"
)

// IQHandler answers an IQ get or set addressed to the domain. child is the
// IQ's one payload element. It returns the result's payload (nil for an
// empty result) or a stanza error.
type IQHandler func(s *Session, iq, child *etree.Element) (payload []byte, err *StanzaError)

// HandleIQ makes h answer domain IQs whose payload is in namespace ns; ns
// is then listed in the domain's disco#info. Call it before serving.
func (srv *Server) HandleIQ(ns string, h IQHandler) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.iqHandlers[ns] = h
}

func (srv *Server) iqHandler(ns string) (IQHandler, bool) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	h, ok := srv.iqHandlers[ns]
	return h, ok
}

func (srv *Server) registerBuiltinIQs() {
	srv.iqHandlers[NSPing] = func(_ *Session, iq, _ *etree.Element) ([]byte, *StanzaError) {
		if iq.SelectAttrValue("type", "") != "get" {
			return nil, ErrBadRequest
		}
		return nil, nil
	}
	srv.iqHandlers[NSSession] = func(_ *Session, iq, _ *etree.Element) ([]byte, *StanzaError) {
		if iq.SelectAttrValue("type", "") != "set" {
			return nil, ErrBadRequest
		}
		return nil, nil // RFC 3921 session establishment: a no-op today
	}
	srv.iqHandlers[NSRoster] = func(_ *Session, iq, _ *etree.Element) ([]byte, *StanzaError) {
		if iq.SelectAttrValue("type", "") != "get" {
			return nil, &StanzaError{Type: ErrTypeCancel, Condition: "not-allowed", Text: "rosters are not kept on this server"}
		}
		return []byte(`<query xmlns='` + NSRoster + `'/>`), nil
	}
	srv.iqHandlers[NSDiscoInfo] = srv.discoInfo
	srv.iqHandlers[NSDiscoItems] = srv.discoItemsIQ
}

func (srv *Server) discoInfo(_ *Session, iq, child *etree.Element) ([]byte, *StanzaError) {
	if iq.SelectAttrValue("type", "") != "get" {
		return nil, ErrBadRequest
	}
	if child.SelectAttrValue("node", "") != "" {
		return nil, ErrItemNotFound
	}
	srv.mu.Lock()
	features := make([]string, 0, len(srv.iqHandlers))
	for ns := range srv.iqHandlers {
		if ns != NSSession {
			features = append(features, ns)
		}
	}
	srv.mu.Unlock()
	sort.Strings(features)
	var b strings.Builder
	b.WriteString(`<query xmlns='` + NSDiscoInfo + `'><identity category='server' type='im' name='finesse-notify'/>`)
	for _, f := range features {
		b.WriteString(`<feature var='` + escapeText(f) + `'/>`)
	}
	b.WriteString(`</query>`)
	return []byte(b.String()), nil
}

func (srv *Server) discoItemsIQ(_ *Session, iq, child *etree.Element) ([]byte, *StanzaError) {
	if iq.SelectAttrValue("type", "") != "get" {
		return nil, ErrBadRequest
	}
	if child.SelectAttrValue("node", "") != "" {
		return nil, ErrItemNotFound
	}
	var b strings.Builder
	b.WriteString(`<query xmlns='` + NSDiscoItems + `'>`)
	for _, c := range srv.discoItems() {
		b.WriteString(`<item jid='` + escapeText(c.domain) + `'`)
		if c.name != "" {
			b.WriteString(` name='` + escapeText(c.name) + `'`)
		}
		b.WriteString(`/>`)
	}
	b.WriteString(`</query>`)
	return []byte(b.String()), nil
}

// accountIQs are the namespaces answered for an IQ to the user's own bare JID.
var accountIQs = map[string]bool{NSRoster: true, NSPing: true, NSSession: true}

// handleIQ validates an IQ and sends it where it is addressed.
func (s *Session) handleIQ(el *etree.Element) {
	typ := el.SelectAttrValue("type", "")
	if typ == "result" || typ == "error" {
		// Replies to the server's own IQs (keepalive pings) count only as
		// life, which HandleElement has recorded; the rest are routed.
		if s.state == stateBound {
			s.routeReply(el)
		}
		return
	}
	if typ != "get" && typ != "set" {
		s.replyError(el, &StanzaError{Type: ErrTypeModify, Condition: "bad-request", Text: "an IQ's type is get, set, result or error"})
		return
	}
	children := el.ChildElements()
	if el.SelectAttrValue("id", "") == "" || len(children) != 1 {
		s.replyError(el, &StanzaError{Type: ErrTypeModify, Condition: "bad-request", Text: "an IQ get or set has an id and exactly one payload"})
		return
	}
	child := children[0]
	childNS := child.NamespaceURI()
	if s.state == stateAuthenticated {
		switch {
		case typ == "set" && childNS == NSBind && child.Tag == "bind":
			s.bind(el, child)
		default:
			s.Close(&StreamError{Condition: CondNotAuthorized, Text: "bind a resource first"})
		}
		return
	}
	if childNS == NSBind {
		s.replyError(el, &StanzaError{Type: ErrTypeCancel, Condition: "not-allowed", Text: "a resource is already bound"})
		return
	}
	toAttr := el.SelectAttrValue("to", "")
	if toAttr == "" {
		s.answerDomainIQ(el, child, childNS, "")
		return
	}
	to, err := ParseJID(toAttr)
	if err != nil {
		s.replyError(el, ErrJIDMalformed)
		return
	}
	switch {
	case to.Domain == s.srv.domain && to.Local == "" && to.Resource == "":
		s.answerDomainIQ(el, child, childNS, toAttr)
	case to == s.jid.Bare():
		if !accountIQs[childNS] {
			s.replyError(el, ErrServiceUnavailable)
			return
		}
		s.answerDomainIQ(el, child, childNS, toAttr)
	case to.Domain == s.srv.domain:
		target := (*Session)(nil)
		if to.Local != "" && to.Resource != "" {
			target = s.srv.router.lookup(to)
		}
		if target == nil {
			s.replyError(el, ErrServiceUnavailable)
			return
		}
		el.CreateAttr("from", s.jid.String())
		target.SendElement(el)
	default:
		if c, ok := s.srv.component(to.Domain); ok {
			el.CreateAttr("from", s.jid.String())
			c.HandleStanza(s, el)
			return
		}
		s.replyError(el, ErrRemoteServerNotFound)
	}
}

func (s *Session) answerDomainIQ(el, child *etree.Element, ns, from string) {
	h, ok := s.srv.iqHandler(ns)
	if !ok {
		s.replyError(el, ErrServiceUnavailable)
		return
	}
	payload, serr := h(s, el, child)
	if serr != nil {
		s.replyError(el, serr)
		return
	}
	s.SendBytes(iqResult(el.SelectAttrValue("id", ""), from, s.jid.String(), payload))
}

// routeReply delivers an IQ result or error addressed to another local
// resource; anything else is dropped, as RFC 6120 §8.2.3 asks.
func (s *Session) routeReply(el *etree.Element) {
	to, err := ParseJID(el.SelectAttrValue("to", ""))
	if err != nil || to.Domain != s.srv.domain || to.Local == "" || to.Resource == "" {
		if err == nil && to.Domain != s.srv.domain {
			if c, ok := s.srv.component(to.Domain); ok {
				el.CreateAttr("from", s.jid.String())
				c.HandleStanza(s, el)
			}
		}
		return
	}
	if target := s.srv.router.lookup(to); target != nil {
		el.CreateAttr("from", s.jid.String())
		target.SendElement(el)
	}
}

// iqResult renders an IQ result; from and to are omitted when empty.
func iqResult(id, from, to string, payload []byte) []byte {
	var b strings.Builder
	b.Grow(96 + len(payload))
	b.WriteString(`<iq xmlns='` + NSClient + `' type='result' id='`)
	b.WriteString(escapeText(id))
	b.WriteString(`'`)
	if from != "" {
		b.WriteString(` from='` + escapeText(from) + `'`)
	}
	if to != "" {
		b.WriteString(` to='` + escapeText(to) + `'`)
	}
	if len(payload) == 0 {
		b.WriteString(`/>`)
	} else {
		b.WriteString(`>`)
		b.Write(payload)
		b.WriteString(`</iq>`)
	}
	return []byte(b.String())
}

// IQResult renders an IQ result for components.
func IQResult(id, from, to string, payload []byte) []byte { return iqResult(id, from, to, payload) }
