package pubsub

import (
	"errors"

	"github.com/beevik/etree"

	"github.com/finesse-notify/finesse-notify/server"
)

// Errors returned by the Go API (Publish, Subscribe), wrapped with context.
var (
	ErrNodeNotFound         = errors.New("pubsub: no such node")
	ErrPayloadTooBig        = errors.New("pubsub: payload too big")
	ErrTooManySubscriptions = errors.New("pubsub: too many subscriptions")
)

// pubsubError is a stanza error with a pubsub#errors condition child
// (XEP-0060 §7 and the error cases of each use case).
func pubsubError(typ, cond, pubsubCond, text string) *server.StanzaError {
	e := &server.StanzaError{Type: typ, Condition: cond, Text: text}
	if pubsubCond != "" {
		x := etree.NewElement(pubsubCond)
		x.CreateAttr("xmlns", NSErrors)
		e.Extra = x
	}
	return e
}

// unsupported is feature-not-implemented with <unsupported feature=…/>.
func unsupported(feature string) *server.StanzaError {
	x := etree.NewElement("unsupported")
	x.CreateAttr("xmlns", NSErrors)
	x.CreateAttr("feature", feature)
	return &server.StanzaError{Type: server.ErrTypeCancel, Condition: "feature-not-implemented", Extra: x}
}

// The errors of the use cases, named after their XEP-0060 conditions.
var (
	errNodeIDRequired       = pubsubError(server.ErrTypeModify, "bad-request", "nodeid-required", "the node attribute is required")
	errInstantNodes         = pubsubError(server.ErrTypeModify, "not-acceptable", "nodeid-required", "instant nodes are not supported: name the node")
	errInvalidJID           = pubsubError(server.ErrTypeModify, "bad-request", "invalid-jid", "the jid must be the requester's bare or full JID")
	errNodeNotFound         = &server.StanzaError{Type: server.ErrTypeCancel, Condition: "item-not-found", Text: "no such node"}
	errItemNotFound         = &server.StanzaError{Type: server.ErrTypeCancel, Condition: "item-not-found", Text: "no such item"}
	errForbidden            = &server.StanzaError{Type: server.ErrTypeAuth, Condition: "forbidden"}
	errTooManySubscriptions = pubsubError(server.ErrTypeWait, "policy-violation", "too-many-subscriptions", "the subscriptions of this user are at their limit")
	errNotSubscribed        = pubsubError(server.ErrTypeCancel, "unexpected-request", "not-subscribed", "no such subscription")
	errInvalidSubID         = pubsubError(server.ErrTypeModify, "not-acceptable", "invalid-subid", "no subscription has this subid")
	errItemRequired         = pubsubError(server.ErrTypeModify, "bad-request", "item-required", "publish one item")
	errPayloadRequired      = pubsubError(server.ErrTypeModify, "bad-request", "payload-required", "the item needs one payload element")
	errInvalidPayload       = pubsubError(server.ErrTypeModify, "bad-request", "invalid-payload", "publish one item with one payload element")
	errPayloadTooBig        = pubsubError(server.ErrTypeModify, "not-acceptable", "payload-too-big", "the payload is over the configured limit")
	errNodeExists           = &server.StanzaError{Type: server.ErrTypeCancel, Condition: "conflict", Text: "the node exists"}
	errTooManyNodes         = &server.StanzaError{Type: server.ErrTypeWait, Condition: "resource-constraint", Text: "the service holds its maximum number of created nodes"}
	errMalformed            = &server.StanzaError{Type: server.ErrTypeModify, Condition: "bad-request", Text: "a pubsub request holds exactly one known element"}
)
