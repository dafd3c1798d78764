package pubsub

import (
	"slices"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"github.com/finesse-notify/finesse-notify/server"
)

// HandleStanza serves a stanza addressed to the service.
func (s *Service) HandleStanza(from *server.Session, stanza *etree.Element) {
	switch stanza.Tag {
	case "iq":
		typ := stanza.SelectAttrValue("type", "")
		if typ != "get" && typ != "set" {
			return // results and errors: the service sends no requests
		}
		// The core has checked that a get or set holds exactly one child.
		child := stanza.ChildElements()[0]
		payload, serr := s.handleIQ(from, typ, child)
		if serr != nil {
			from.ReplyError(stanza, serr)
			return
		}
		from.SendBytes(server.IQResult(stanza.SelectAttrValue("id", ""), stanza.SelectAttrValue("to", s.cfg.JID), from.JID().String(), payload))
	case "message":
		if t := stanza.SelectAttrValue("type", ""); t != "error" && t != "headline" {
			from.ReplyError(stanza, server.ErrServiceUnavailable)
		}
	}
	// Presence to the service needs no answer: it has no roster.
}

// request is one pubsub request: who sent it and its elements.
type request struct {
	user server.JID // the requester's bare JID
	full server.JID // and its full JID
	op   *etree.Element
	rest []*etree.Element // the op's siblings (<configure/>, <options/>)
}

func (s *Service) handleIQ(from *server.Session, typ string, child *etree.Element) ([]byte, *server.StanzaError) {
	full := from.JID()
	switch child.NamespaceURI() {
	case server.NSDiscoInfo:
		if typ != "get" {
			return nil, server.ErrBadRequest
		}
		return s.discoInfo(full.Bare(), child.SelectAttrValue("node", ""))
	case server.NSDiscoItems:
		if typ != "get" {
			return nil, server.ErrBadRequest
		}
		return s.discoItems(full.Bare(), child.SelectAttrValue("node", ""))
	case NSPubSub, NSOwner:
		if child.Tag != "pubsub" {
			return nil, server.ErrServiceUnavailable
		}
		els := child.ChildElements()
		if len(els) == 0 {
			return nil, errMalformed
		}
		r := request{user: full.Bare(), full: full, op: els[0], rest: els[1:]}
		if child.NamespaceURI() == NSOwner {
			return s.ownerRequest(typ, r)
		}
		return s.entityRequest(typ, r)
	}
	return nil, server.ErrServiceUnavailable
}

// entityRequest serves the use cases of the pubsub namespace.
// entityOps are the use cases of the pubsub namespace: the IQ type each
// goes in, the sibling element it may carry (empty: a form there is
// unsupported), and its handler.
var entityOps = map[string]struct {
	typ, sibling string
	handle       func(*Service, request) ([]byte, *server.StanzaError)
}{
	"subscribe":     {"set", "options", (*Service).subscribeIQ},
	"unsubscribe":   {"set", "", (*Service).unsubscribeIQ},
	"publish":       {"set", "publish-options", (*Service).publishIQ},
	"create":        {"set", "configure", (*Service).createIQ},
	"subscriptions": {"get", "", (*Service).subscriptionsIQ},
	"affiliations":  {"get", "", (*Service).affiliationsIQ},
	"items":         {"get", "", (*Service).itemsIQ},
}

// unsupportedFeatures names the XEP-0060 feature of each element this
// service recognises but does not implement, in either namespace.
var unsupportedFeatures = map[string]string{
	"retract": "retract-items", "options": "subscription-options", "publish-options": "publish-options",
	"configure": "config-node", "default": "retrieve-default",
	"subscriptions": "manage-subscriptions", "affiliations": "modify-affiliations",
}

// entityRequest serves the use cases of the pubsub namespace.
func (s *Service) entityRequest(typ string, r request) ([]byte, *server.StanzaError) {
	op, known := entityOps[r.op.Tag]
	if !known {
		return nil, unsupported(unsupportedFeatures[r.op.Tag])
	}
	for _, x := range r.rest {
		if x.Tag != op.sibling || len(r.rest) > 1 {
			return nil, errMalformed
		}
		if len(x.ChildElements()) > 0 {
			// A configuration form: this service has no node or
			// subscription options to set.
			return nil, unsupported(unsupportedFeatures[x.Tag])
		}
	}
	if op.typ != typ {
		return nil, &server.StanzaError{Type: server.ErrTypeModify, Condition: "bad-request", Text: "<" + r.op.Tag + "/> goes in an IQ of type " + op.typ}
	}
	return op.handle(s, r)
}

// ownerRequest serves the use cases of the pubsub#owner namespace.
func (s *Service) ownerRequest(typ string, r request) ([]byte, *server.StanzaError) {
	op := r.op.Tag
	if op != "delete" && op != "purge" {
		return nil, unsupported(unsupportedFeatures[op])
	}
	if len(r.rest) > 0 {
		return nil, errMalformed
	}
	if typ != "set" {
		return nil, &server.StanzaError{Type: server.ErrTypeModify, Condition: "bad-request", Text: "<" + op + "/> goes in an IQ of type set"}
	}
	name := r.op.SelectAttrValue("node", "")
	if name == "" {
		return nil, errNodeIDRequired
	}
	if !s.exists(name) {
		return nil, errNodeNotFound
	}
	if !s.mayAdminister(r.user, name) {
		return nil, errForbidden
	}
	if op == "delete" {
		s.deleteNode(name)
	} else {
		s.purge(name)
	}
	return nil, nil
}

func (s *Service) mayAdminister(user server.JID, name string) bool {
	if n := s.lookup(name, false); n != nil && n.owner != "" && n.owner == user.String() {
		return true
	}
	return s.cfg.Policy.MayAdminister(user, name)
}

func (s *Service) subscribeIQ(r request) ([]byte, *server.StanzaError) {
	name := r.op.SelectAttrValue("node", "")
	if name == "" {
		return nil, errNodeIDRequired
	}
	jid, err := server.ParseJID(r.op.SelectAttrValue("jid", ""))
	if err != nil || jid.Bare() != r.user {
		return nil, errInvalidJID
	}
	if !s.exists(name) {
		return nil, errNodeNotFound
	}
	if !s.cfg.Policy.MaySubscribe(r.user, name) {
		return nil, errForbidden
	}
	sub, serr := s.subscribe(name, jid)
	switch {
	case isErr(serr, ErrTooManySubscriptions):
		return nil, errTooManySubscriptions
	case serr != nil:
		return nil, errNodeNotFound
	}
	var b strings.Builder
	b.WriteString(`<pubsub xmlns='` + NSPubSub + `'>`)
	writeSubscription(&b, sub)
	b.WriteString(`</pubsub>`)
	return []byte(b.String()), nil
}

func (s *Service) unsubscribeIQ(r request) ([]byte, *server.StanzaError) {
	name := r.op.SelectAttrValue("node", "")
	if name == "" {
		return nil, errNodeIDRequired
	}
	jid, err := server.ParseJID(r.op.SelectAttrValue("jid", ""))
	if err != nil {
		return nil, errInvalidJID
	}
	if jid.Bare() != r.user {
		return nil, errForbidden // XEP-0060 §6.2.3.3: not the requester's subscription
	}
	if !s.exists(name) {
		return nil, errNodeNotFound
	}
	n := s.locked(name)
	if n == nil {
		return nil, errNodeNotFound
	}
	defer n.mu.Unlock()
	sub := n.find(jid.String())
	if sub == nil {
		return nil, errNotSubscribed
	}
	if subid := r.op.SelectAttrValue("subid", ""); subid != "" && subid != sub.subid {
		return nil, errInvalidSubID
	}
	n.remove(sub)
	s.unindex(sub)
	return nil, nil
}

func (s *Service) subscriptionsIQ(r request) ([]byte, *server.StanzaError) {
	filter := r.op.SelectAttrValue("node", "")
	if filter != "" && !s.exists(filter) {
		return nil, errNodeNotFound
	}
	var b strings.Builder
	b.WriteString(`<pubsub xmlns='` + NSPubSub + `'><subscriptions`)
	if filter != "" {
		b.WriteString(` node='` + server.EscapeText(filter) + `'`)
	}
	b.WriteString(`>`)
	s.subsMu.Lock()
	for _, sub := range s.byUser[r.user.String()] {
		if filter == "" || sub.node.name == filter {
			writeSubscription(&b, sub)
		}
	}
	s.subsMu.Unlock()
	b.WriteString(`</subscriptions></pubsub>`)
	return []byte(b.String()), nil
}

func writeSubscription(b *strings.Builder, sub *subscription) {
	b.WriteString(`<subscription node='`)
	b.WriteString(sub.node.attr)
	b.WriteString(`' jid='`)
	b.Write(sub.attr)
	b.WriteString(`' subid='`)
	b.WriteString(sub.subid)
	b.WriteString(`' subscription='subscribed'/>`)
}

func (s *Service) affiliationsIQ(r request) ([]byte, *server.StanzaError) {
	filter := r.op.SelectAttrValue("node", "")
	if filter != "" && !s.exists(filter) {
		return nil, errNodeNotFound
	}
	var b strings.Builder
	b.WriteString(`<pubsub xmlns='` + NSPubSub + `'><affiliations`)
	if filter != "" {
		b.WriteString(` node='` + server.EscapeText(filter) + `'`)
	}
	b.WriteString(`>`)
	s.mu.RLock()
	for _, n := range s.owned[r.user.String()] {
		if filter == "" || n.name == filter {
			b.WriteString(`<affiliation node='` + n.attr + `' affiliation='owner'/>`)
		}
	}
	s.mu.RUnlock()
	b.WriteString(`</affiliations></pubsub>`)
	return []byte(b.String()), nil
}

func (s *Service) itemsIQ(r request) ([]byte, *server.StanzaError) {
	name := r.op.SelectAttrValue("node", "")
	if name == "" {
		return nil, errNodeIDRequired
	}
	max := -1
	if v := r.op.SelectAttrValue("max_items", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, &server.StanzaError{Type: server.ErrTypeModify, Condition: "bad-request", Text: "max_items is a positive integer"}
		}
		max = n
	}
	var ids []string
	for _, it := range r.op.ChildElements() {
		if it.Tag != "item" || it.SelectAttrValue("id", "") == "" {
			return nil, &server.StanzaError{Type: server.ErrTypeModify, Condition: "bad-request", Text: "<items/> may hold only <item id='…'/>"}
		}
		ids = append(ids, it.SelectAttrValue("id", ""))
	}
	if !s.exists(name) {
		return nil, errNodeNotFound
	}
	if !s.cfg.Policy.MaySubscribe(r.user, name) && !s.mayAdminister(r.user, name) {
		return nil, errForbidden
	}
	var items []item
	if n := s.lookup(name, false); n != nil {
		n.mu.Lock()
		items = slices.Clone(n.items)
		n.mu.Unlock()
	}
	if ids != nil {
		items = slices.DeleteFunc(items, func(it item) bool { return !slices.Contains(ids, it.id) })
	}
	if max > 0 && len(items) > max {
		items = items[len(items)-max:]
	}
	var b strings.Builder
	b.WriteString(`<pubsub xmlns='` + NSPubSub + `'><items node='` + server.EscapeText(name) + `'>`)
	for _, it := range items {
		b.WriteString(`<item id='` + server.EscapeText(it.id) + `'>`)
		b.Write(it.payload)
		b.WriteString(`</item>`)
	}
	b.WriteString(`</items></pubsub>`)
	return []byte(b.String()), nil
}

func (s *Service) publishIQ(r request) ([]byte, *server.StanzaError) {
	name := r.op.SelectAttrValue("node", "")
	if name == "" {
		return nil, errNodeIDRequired
	}
	items := r.op.ChildElements()
	switch {
	case len(items) == 0:
		return nil, errItemRequired
	case len(items) > 1 || items[0].Tag != "item":
		return nil, errInvalidPayload
	}
	payloads := items[0].ChildElements()
	switch {
	case len(payloads) == 0:
		return nil, errPayloadRequired
	case len(payloads) > 1:
		return nil, errInvalidPayload
	}
	if !s.exists(name) {
		return nil, errNodeNotFound
	}
	if !s.cfg.Policy.MayPublish(r.user, name) {
		return nil, errForbidden
	}
	payload := server.Serialize(detach(payloads[0]))
	res, err := s.Publish(name, items[0].SelectAttrValue("id", ""), payload)
	switch {
	case isErr(err, ErrPayloadTooBig):
		return nil, errPayloadTooBig
	case err != nil:
		return nil, errNodeNotFound
	}
	return []byte(`<pubsub xmlns='` + NSPubSub + `'><publish node='` + server.EscapeText(name) +
		`'><item id='` + server.EscapeText(res.ItemID) + `'/></publish></pubsub>`), nil
}

// detach copies el out of its stanza with its namespace declared on it,
// so that it stands alone as an item's payload. The decoder writes no
// prefixes, so the default namespace is the only one to carry over.
func detach(el *etree.Element) *etree.Element {
	c := el.Copy()
	if c.SelectAttr("xmlns") == nil {
		c.CreateAttr("xmlns", el.NamespaceURI())
	}
	return c
}

func (s *Service) createIQ(r request) ([]byte, *server.StanzaError) {
	name := r.op.SelectAttrValue("node", "")
	switch {
	case name == "":
		return nil, errInstantNodes
	case len(name) > s.cfg.MaxNodeNameBytes:
		return nil, &server.StanzaError{Type: server.ErrTypeModify, Condition: "not-acceptable", Text: "the node name is longer than " + strconv.Itoa(s.cfg.MaxNodeNameBytes) + " bytes"}
	case s.exists(name):
		return nil, errNodeExists
	case !s.cfg.Policy.MayCreate(r.user, name):
		return nil, errForbidden
	}
	if serr := s.create(name, r.user.String()); serr != nil {
		return nil, serr
	}
	return nil, nil
}

func (s *Service) discoInfo(user server.JID, name string) ([]byte, *server.StanzaError) {
	var b strings.Builder
	b.WriteString(`<query xmlns='` + server.NSDiscoInfo + `'`)
	if name == "" {
		b.WriteString(`><identity category='pubsub' type='service' name='` + server.EscapeText(s.cfg.Name) + `'/>`)
		for _, f := range serviceFeatures {
			b.WriteString(`<feature var='` + f + `'/>`)
		}
		b.WriteString(`</query>`)
		return []byte(b.String()), nil
	}
	if !s.exists(name) {
		return nil, errNodeNotFound
	}
	if !s.cfg.Policy.MaySubscribe(user, name) && !s.mayAdminister(user, name) {
		return nil, errForbidden
	}
	b.WriteString(` node='` + server.EscapeText(name) + `'><identity category='pubsub' type='leaf'/>`)
	b.WriteString(`<feature var='` + server.NSDiscoInfo + `'/><feature var='` + NSPubSub + `'/></query>`)
	return []byte(b.String()), nil
}

// serviceFeatures are the XEP-0060 features this service implements.
var serviceFeatures = []string{
	server.NSDiscoInfo,
	server.NSDiscoItems,
	NSPubSub,
	NSPubSub + "#create-nodes",
	NSPubSub + "#delete-nodes",
	NSPubSub + "#item-ids",
	NSPubSub + "#persistent-items",
	NSPubSub + "#publish",
	NSPubSub + "#purge-nodes",
	NSPubSub + "#retrieve-affiliations",
	NSPubSub + "#retrieve-items",
	NSPubSub + "#retrieve-subscriptions",
	NSPubSub + "#subscribe",
}

// discoItems lists the nodes in use that user may see, by name, up to the
// configured bound. Nodes are leaves, so a node has no items to list.
func (s *Service) discoItems(user server.JID, name string) ([]byte, *server.StanzaError) {
	var b strings.Builder
	b.WriteString(`<query xmlns='` + server.NSDiscoItems + `'`)
	if name != "" {
		if !s.exists(name) {
			return nil, errNodeNotFound
		}
		b.WriteString(` node='` + server.EscapeText(name) + `'/>`)
		return []byte(b.String()), nil
	}
	b.WriteString(`>`)
	s.mu.RLock()
	names := make([]string, 0, len(s.nodes))
	for n := range s.nodes {
		names = append(names, n)
	}
	s.mu.RUnlock()
	slices.Sort(names)
	listed := 0
	for _, n := range names {
		if listed == s.cfg.MaxDiscoItems {
			break
		}
		if s.cfg.Policy.MaySubscribe(user, n) || s.mayAdminister(user, n) {
			b.WriteString(`<item jid='` + server.EscapeText(s.cfg.JID) + `' node='` + server.EscapeText(n) + `'/>`)
			listed++
		}
	}
	b.WriteString(`</query>`)
	return []byte(b.String()), nil
}
