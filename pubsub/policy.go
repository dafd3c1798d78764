package pubsub

import "github.com/finesse-notify/finesse-notify/server"

// Policy decides who may do what. user is always the requester's bare JID.
type Policy interface {
	// MaySubscribe covers subscribing, retrieving items and node disco.
	MaySubscribe(user server.JID, node string) bool
	MayPublish(user server.JID, node string) bool
	MayCreate(user server.JID, node string) bool
	// MayAdminister lets user delete and purge node as an owner would.
	MayAdminister(user server.JID, node string) bool
}

// Resolver reports whether node exists implicitly, without a create.
type Resolver func(node string) bool

// Open lets everyone subscribe, publish and create; only a node's creator
// may delete or purge it.
type Open struct{}

// MaySubscribe allows.
func (Open) MaySubscribe(server.JID, string) bool { return true }

// MayPublish allows.
func (Open) MayPublish(server.JID, string) bool { return true }

// MayCreate allows.
func (Open) MayCreate(server.JID, string) bool { return true }

// MayAdminister refuses: creators administer their nodes by affiliation.
func (Open) MayAdminister(server.JID, string) bool { return false }
