// Package finesse is the Finesse model on top of the generic pubsub
// service: which nodes exist (one per REST resource Finesse notifies on,
// plus CCP campaign feeds), who may subscribe to or publish on them, the
// <Update> document and the escaped <notification> that carries it, the
// automatic subscriptions and the finesse@ presence a desktop waits for, and
// the administrator's HTTP publish endpoint.
//
// The pubsub package knows nothing of Finesse; this package plugs into it
// through pubsub.Policy (NewPolicy), pubsub.Resolver (Resolver) and the
// server's Observer hook (Notifier).
package finesse
