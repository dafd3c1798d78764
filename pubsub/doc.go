// Package pubsub is the XEP-0060 publish-subscribe service at
// pubsub.<domain>: nodes, subscriptions (bare and full JID, with subids),
// owner affiliations, the last items of each node, and the fan-out of
// published items to subscribers' sessions.
//
// It knows nothing of Finesse. Finesse plugs in through a Policy (who may
// subscribe, publish, create, administer) and a Resolver (which nodes exist
// without being created).
//
// The publish path is built for fan-out: an event is rendered once per
// publish, and per recipient only the subscriber's address and the message
// id are spliced in, from buffers shared by the whole publish, so the
// allocations of a publish do not grow with its subscribers. Publishes to
// one node are serialised, so every subscriber sees a node's items in
// publish order; sending never blocks, because each session's queue is
// bounded and a session that lets it overflow is disconnected by the core.
package pubsub
